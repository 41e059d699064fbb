// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import BridgeCore
import Testing
@testable import BridgeService

@Suite struct PortSpecTests {
    @Test func plainNameGetsLinuxDefaults() throws {
        let p = try PortSpec.parse("veth0")
        #expect(p == PortConfiguration(name: "veth0"))
        #expect(p.flags == .defaults && p.pvid == 1 && p.state == .forwarding)
    }

    @Test func optionsAndFlags() throws {
        let p = try PortSpec.parse("trunk0:pvid=10:vlans=10,20-22:untagged=10:hairpin:no-learning:isolated:no-bcast_flood:no-mcast-flood")
        #expect(p.name == "trunk0" && p.pvid == 10)
        #expect(p.vlans == VLANSet([10, 20, 21, 22]) && p.untaggedVLANs == VLANSet([10]))
        #expect(p.flags == [.flood, .hairpin, .isolated])
        #expect(try PortSpec.parse("x:no-pvid").pvid == nil)
        #expect(try PortSpec.parse("x:disabled").state == .disabled)
    }

    @Test func badSpecsAreClearErrors() {
        #expect(throws: ConfigurationError.invalidPortSpec("", "interface name must be 1-15 characters without '/' or spaces")) {
            try PortSpec.parse("")
        }
        #expect(throws: ConfigurationError.invalidPortSpec("averyveryverylongname", "interface name must be 1-15 characters without '/' or spaces")) {
            try PortSpec.parse("averyveryverylongname")
        }
        #expect(throws: ConfigurationError.unknownFlag("bogus")) { try PortSpec.parse("x:bogus") }
        #expect(throws: ConfigurationError.invalidPortSpec("x:mtu=9000", "unknown option 'mtu'")) { try PortSpec.parse("x:mtu=9000") }
        #expect(throws: ConfigurationError.invalidPVID(port: "x", 0)) { try PortSpec.parse("x:pvid=0") }
        #expect(throws: ConfigurationError.invalidPVID(port: "x", 0)) { try PortSpec.parse("x:pvid=abc") }
        #expect(throws: ConfigurationError.invalidVLANList("1-5000")) { try PortSpec.parse("x:vlans=1-5000") }
        let message = ConfigurationError.unknownFlag("bogus").description
        #expect(message.contains("bogus") && message.contains("hairpin"))
    }
}

@Suite struct PortSpecStormTests {
    @Test func stormLimits() throws {
        let p = try PortSpec.parse("x:bcast_limit=1000:mcast_limit=500:unknown_limit=200")
        #expect(p.stormControl == StormControl(broadcast: 1000, multicast: 500, unknownUnicast: 200))
        #expect(throws: ConfigurationError.invalidPortSpec("x:bcast_limit=0", "bcast_limit takes a rate in frames/s (1 or more)")) {
            try PortSpec.parse("x:bcast_limit=0")
        }
    }
}

@Suite struct PortSpecBackendTests {
    @Test func backendOption() throws {
        #expect(try PortSpec.parseWithBackend("x:backend=pcap").1 == .pcap)
        #expect(try PortSpec.parseWithBackend("x").1 == nil)
        #expect(throws: ConfigurationError.invalidPortSpec("x:backend=dpdk", "backend must be af_packet or pcap")) {
            try PortSpec.parseWithBackend("x:backend=dpdk")
        }
    }
}
