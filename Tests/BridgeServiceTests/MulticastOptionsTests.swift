// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Multicast snooping's settings as the command line, port specs, the configuration file and
// the control protocol spell them, and `mdb show` through the control handler.

import BridgeControl
import BridgeCore
import Foundation
import MulticastSnooping
import Synchronization
import Testing

@testable import BridgeService

/// A fake bridge with snooping: records `mcast_router` / `mcast_fast_leave` changes.
final class FakeSnoopingBridge: ControlledBridge {
    let name = "fake0"
    let table = MACTable(configuration: .init(maxLearned: 64, maxStatic: 16))
    let configuration = BridgeConfiguration(ports: [PortConfiguration(name: "p1"), PortConfiguration(name: "p2")])
    let captures = CaptureRegistry(switcher: RecordingMirrorSwitch())
    let flags = Mutex<[String: MulticastPortFlags]>([:])
    let attached = Mutex<[String]>([])
    func hasStaticMirror(port index: Int) -> Bool { false }
    func attachPort(_ port: PortConfiguration, backend: PortBackend?) throws(BridgeError) -> Int {
        attached.withLock { $0.append(port.name) }
        return 2
    }
    func detachPort(_ name: String) throws(BridgeError) {}
    func reconfigure(_ change: (inout BridgeConfiguration) throws(BridgeError) -> Void) throws(BridgeError) {
        var c = configuration
        try change(&c)
    }
    func reload(check: Bool) throws(BridgeError) -> ReloadReport { throw .invalid("no") }
    func linkRows() -> [LinkRow] { [] }
    func statistics() -> StatsReport {
        StatsReport(bridge: name, uptimeSeconds: 1, vlanFiltering: false, ports: [], fdb: FDBStatsSection(table.statistics, maxLearned: 64))
    }
    func multicastStatus() -> MDBStatus? {
        MDBStatus(bridge: name, snooping: true, querier: true,
                  entries: [.init(port: "p2", portIndex: 1, group: "239.1.1.1", vlan: 0, state: "temp", timerSeconds: 200)])
    }
    func setMulticastPort(name: String, router: Int?, fastLeave: Bool?) throws(BridgeError) {
        flags.withLock { f in
            var x = f[name] ?? .init()
            if let router { x.router = MulticastRouterMode(rawValue: router) ?? .learned }
            if let fastLeave { x.fastLeave = fastLeave }
            f[name] = x
        }
    }
}

@Suite("multicast options")
struct MulticastOptionsTests {
    @Test("Defaults: snooping on, querier off, the kernel's timers; off gives no configuration")
    func defaults() throws {
        let c = try #require(try MulticastOptionValues().configuration())
        #expect(c == MulticastSnoopingConfiguration())
        var off = MulticastOptionValues()
        off.snooping = "off"
        #expect(try off.configuration() == nil)
    }

    @Test("Options map to the RFC timer names; out of range is refused with the option's name")
    func options() throws {
        var v = MulticastOptionValues()
        v.querier = true
        v.queryInterval = 2
        v.queryResponseInterval = 1
        v.lastMemberInterval = 0.3
        v.lastMemberCount = 3
        v.igmpVersion = 3
        v.mldVersion = 2
        v.maxGroups = 256
        v.querierIPv4 = "198.18.0.254"
        v.querierIPv6 = "fe80::1"
        let c = try #require(try v.configuration())
        #expect(c.querier && c.queryInterval == .seconds(2) && c.queryResponseInterval == .seconds(1))
        #expect(c.lastMemberInterval == .milliseconds(300) && c.lastMemberCount == 3)
        #expect(c.igmpVersion == 3 && c.mldVersion == 2 && c.maxGroups == 256)
        #expect(c.membershipInterval == .seconds(5))
        #expect(c.querierIPv4 == IPAddress(parsing: "198.18.0.254") && c.querierIPv6 == IPAddress(parsing: "fe80::1"))

        var bad = MulticastOptionValues()
        bad.igmpVersion = 4
        #expect(throws: MulticastOptionError.self) { try bad.configuration() }
        bad = MulticastOptionValues()
        bad.querierIPv6 = "2001:db8::1"
        #expect { try bad.configuration() } throws: { "\($0)".contains("--mcast-querier-ipv6") }
        bad = MulticastOptionValues()
        bad.snooping = "maybe"
        #expect { try bad.configuration() } throws: { "\($0)".contains("--mcast-snooping") }
        bad = MulticastOptionValues()
        bad.queryResponseInterval = 200  // not less than the query interval (125 s)
        #expect(throws: MulticastOptionError.self) { try bad.configuration() }
    }

    @Test("The MLD querier's default source is the EUI-64 link-local address of the bridge MAC")
    func eui64() throws {
        let mac = try MACAddress(parsing: "36:b1:02:67:d2:1d")
        #expect(MulticastSnoopingConfiguration.linkLocal(eui64Of: mac) == IPAddress(parsing: "fe80::34b1:2ff:fe67:d21d"))
        let c = MulticastSnoopingConfiguration().forBridge(address: mac, vlans: [])
        #expect(c.bridgeMAC == mac && c.querierIPv6?.isIPv6LinkLocal == true && c.querierVLANs == [0])
        #expect(MulticastSnoopingConfiguration().forBridge(address: mac, vlans: [20, 10]).querierVLANs == [10, 20])
    }

    @Test("--port words: mcast_router=N, mcast_fast_leave, no-mcast_fast_leave")
    func portWords() throws {
        #expect(try PortSpec.multicastFlags("veth1") == nil)
        #expect(try PortSpec.multicastFlags("veth1:mcast_router=2:mcast_fast_leave") == MulticastPortFlags(router: .permanent, fastLeave: true))
        #expect(try PortSpec.multicastFlags("veth1:hairpin:mcast-router=0") == MulticastPortFlags(router: .disabled))
        #expect(try PortSpec.multicastFlags("veth1:no-mcast_fast_leave") == MulticastPortFlags())
        #expect(throws: ConfigurationError.self) { try PortSpec.multicastFlags("veth1:mcast_router=3") }
        // The rest of the spec still parses; the words are not unknown options there.
        let (p, _) = try PortSpec.parseWithBackend("veth1:mcast_router=2:hairpin")
        #expect(p.name == "veth1" && p.flags.contains(.hairpin))
        #expect(throws: ConfigurationError.self) { try PortSpec.parseWithBackend("veth1:mcast_router=x") }
    }

    @Test("Config file: mcast_* bridge keys and port keys")
    func configFile() throws {
        let f = try ConfigFile.parse("""
            name: br0
            mcast_querier: true
            mcast_query_interval: 2
            mcast_query_response_interval: 1
            mcast_igmp_version: 3
            mcast_max_groups: 512
            ports:
              - name: veth1
                mcast_router: 2
              - name: veth2
                mcast_fast_leave: on
            """)
        #expect(f.multicast.querier == true && f.multicast.queryInterval == 2 && f.multicast.igmpVersion == 3)
        #expect(f.ports[0].multicast == MulticastPortFlags(router: .permanent))
        #expect(f.ports[1].multicast == MulticastPortFlags(fastLeave: true))
        let o = f.applied(to: BridgeOptions())
        #expect(o.multicastPorts["veth1"]?.router == .permanent && o.multicastPorts["veth2"]?.fastLeave == true)
        let c = try #require(try MulticastOptionValues().overridden(by: f.multicast).configuration())
        #expect(c.querier && c.maxGroups == 512)
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse("ports:\n  - name: v1\n    mcast_router: 7\n") }
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse("mcast_igmp_version: 4\n") }
    }

    @Test("Reload: port flags change live, bridge-wide mcast_* settings need a restart")
    func reloadDiff() throws {
        var running = BridgeOptions()
        running.multicastSnooping = MulticastSnoopingConfiguration()
        let ports = [ConfiguredPort(port: PortConfiguration(name: "v1"))]
        let f = try ConfigFile.parse("ports:\n  - name: v1\n    mcast_router: 2\n")
        let d = ConfigDiff(running: running, ports: ports, statics: [], file: f)
        #expect(d.multicastPortsChanged == [.init(name: "v1", old: .init(), flags: .init(router: .permanent))])
        #expect(d.needsRestart.isEmpty && !d.isEmpty)
        #expect(d.lines == ["~ port v1: mcast_router 1 -> 2"])
        let same = ConfigDiff(running: running, ports: [ConfiguredPort(port: PortConfiguration(name: "v1"), multicast: .init(router: .permanent))],
                              statics: [], file: f)
        #expect(same.isEmpty)
        let querier = try ConfigFile.parse("mcast_querier: true\nports:\n  - name: v1\n")
        #expect(ConfigDiff(running: running, ports: ports, statics: [], file: querier).needsRestart == ["mcast_*"])
    }

    @Test("Control protocol: mdb-show round-trips; link set mcast words reach the bridge")
    func control() throws {
        let request = ControlRequest.mdbShow
        let data = try JSONEncoder().encode(request)
        #expect(try JSONDecoder().decode(ControlRequest.self, from: data) == request)

        let b = FakeSnoopingBridge()
        let h = ControlHandler(bridge: b)
        let r = h.handle(.mdbShow, now: Timestamp(milliseconds: 1))
        guard case .mdb(let status)? = r.result else { Issue.record("no mdb result: \(r)"); return }
        let encoded = try JSONEncoder().encode(ControlResult.mdb(status))
        #expect(try JSONDecoder().decode(ControlResult.self, from: encoded) == .mdb(status))
        #expect(ControlFormatting.mdbShow(status) == "dev fake0 port p2 grp 239.1.1.1 temp\n")

        var s = PortSettings()
        s.mcastRouter = 2
        s.mcastFastLeave = true
        #expect(!s.isEmpty)
        #expect(h.handle(.linkSet(dev: "p1", settings: s), now: Timestamp(milliseconds: 1)).ok)
        #expect(b.flags.withLock { $0["p1"] } == MulticastPortFlags(router: .permanent, fastLeave: true))
        s.mcastRouter = 9
        #expect(!h.handle(.linkSet(dev: "p1", settings: s), now: Timestamp(milliseconds: 1)).ok)
        // A bridge without snooping says so.
        let plain = ControlHandler(bridge: FakeControlledBridge())
        guard case .mdb(let off)? = plain.handle(.mdbShow, now: Timestamp(milliseconds: 1)).result else { Issue.record("no answer"); return }
        #expect(!off.snooping)
        #expect(ControlFormatting.mdbShow(off).contains("snooping is off"))
    }
}
