// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The configuration file: the issue's example parses to the ports and entries it describes;
// every kind of error names its line and key; the reload difference lists exactly what changed.

import BridgeCore
import Testing

@testable import BridgeService

@Suite("configuration file")
struct ConfigFileTests {
    static let example = """
        name: br0
        ageing: 300
        vlan_filtering: true
        ports:
          - name: veth1
            pvid: 10
            untagged: "10"
          - name: trunk0
            vlans: "10,20"
            hairpin: false
        static_fdb:
          - {mac: "02:00:00:00:00:01", dev: veth1, vlan: 10}
        """

    @Test("the example: ports, VLANs, flags and static entries")
    func example() throws {
        let f = try ConfigFile.parse(Self.example)
        #expect(f.name == "br0" && f.ageingSeconds == 300 && f.vlanFiltering == true)
        #expect(f.ports.map(\.port.name) == ["veth1", "trunk0"])
        let access = f.ports[0].port
        #expect(access.pvid == 10 && access.vlans == VLANSet([10]) && access.untaggedVLANs == VLANSet([10]))
        let trunk = f.ports[1].port
        #expect(trunk.pvid == nil && trunk.vlans == VLANSet([10, 20]) && trunk.untaggedVLANs.isEmpty)
        #expect(!trunk.flags.contains(.hairpin) && trunk.flags.contains(.learning))
        #expect(f.staticFDB == [ConfiguredStaticEntry(mac: try MACAddress(parsing: "02:00:00:00:00:01"), dev: "veth1", vlan: 10)])
        let o = f.applied(to: BridgeOptions())
        #expect(o.name == "br0" && o.bridge.vlanFiltering && o.table.ageingTime == .seconds(300))
        #expect(o.backends["veth1"] == .afPacket)
    }

    @Test("a port with no VLAN keys is in VLAN 1, PVID 1, untagged (Linux's default)")
    func defaults() throws {
        let f = try ConfigFile.parse("ports:\n  - name: a\n  - name: b\n    learning: off\n")
        #expect(f.ports[0].port == PortConfiguration(name: "a"))
        #expect(!f.ports[1].port.flags.contains(.learning))
    }

    @Test("errors name the line and key", arguments: [
        ("ports:\n  - name: a\n    pvid: 5000\n", 3, "ports[0].pvid"),
        ("name: br0\nagein: 3\n", 2, "agein"),
        ("ports:\n  - name: a\n    colour: red\n", 3, "ports[0].colour"),
        ("ports:\n  - name: a\n  - name: a\n", 3, "ports[1].name"),
        ("vlan_filtering: maybe\n", 1, "vlan_filtering"),
        ("ports:\n  - pvid: 3\n", 2, "ports[0]"),
        ("static_fdb:\n  - {mac: \"zz\", dev: a}\nports:\n  - name: a\n", 2, "static_fdb[0].mac"),
        ("ports: [\n", 2, ""),
    ])
    func errors(text: String, line: Int, key: String) {
        do {
            _ = try ConfigFile.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.key == key, "\(error)")
        }
    }

    @Test("a static entry on a port the file does not have, or with a VLAN but no filtering, is refused")
    func staticRefusals() {
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse("static_fdb:\n  - {mac: \"02:00:00:00:00:01\", dev: x}\n") }
        #expect(throws: ConfigFileError.self) {
            try ConfigFile.parse("ports:\n  - name: a\nstatic_fdb:\n  - {mac: \"02:00:00:00:00:01\", dev: a, vlan: 3}\n")
        }
    }

    @Test("the reload difference: one pvid changed, one port removed, one entry added, nothing else")
    func diff() throws {
        let before = try ConfigFile.parse(Self.example)
        let running = before.applied(to: BridgeOptions())
        let after = try ConfigFile.parse("""
            name: br0
            ageing: 300
            vlan_filtering: true
            ports:
              - name: veth1
                pvid: 20
                untagged: "20"
            static_fdb:
              - {mac: "02:00:00:00:00:01", dev: veth1, vlan: 10}
              - {mac: "02:00:00:00:00:02", dev: veth1, vlan: 20}
            """)
        let d = ConfigDiff(running: running, ports: before.ports, statics: before.staticFDB, file: after)
        #expect(d.portsRemoved == ["trunk0"])
        #expect(d.portsAdded.isEmpty && d.needsRestart.isEmpty && d.vlanFiltering == nil)
        #expect(d.portsChanged.map(\.name) == ["veth1"])
        #expect(d.staticAdded.count == 1 && d.staticRemoved.isEmpty)
        #expect(d.lines == [
            "- port trunk0", "~ port veth1: pvid 10 -> 20, vlans 10 -> 20, untagged 10 -> 20",
            "+ fdb 02:00:00:00:00:02 dev veth1 vlan 20",
        ])
        let same = ConfigDiff(running: running, ports: before.ports, statics: before.staticFDB, file: before)
        #expect(same.isEmpty)
        var renamed = before
        renamed.name = "br1"
        #expect(ConfigDiff(running: running, ports: before.ports, statics: before.staticFDB, file: renamed).needsRestart == ["name"])
        var slower = before
        slower.ageingSeconds = 600
        #expect(ConfigDiff(running: running, ports: before.ports, statics: before.staticFDB, file: slower).needsRestart == ["ageing"])
    }
}
