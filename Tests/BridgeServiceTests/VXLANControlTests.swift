// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// VXLAN on the control side without root: the new requests on the wire, the handler's
// namespace check and its `dst` in `fdb show`, the `too-big` egress drops in `stats`, and the
// configuration file's `vxlan` section.

import BridgeControl
@testable import BridgeCore
import Foundation
import PacketIO
import Synchronization
import Testing

@testable import BridgeService

/// A fake bridge with one VXLAN port (slot 1) whose device knows one remote station.
final class FakeVXLANBridge: ControlledBridge {
    let name = "fake0"
    let table = MACTable(configuration: .init(maxLearned: 64, maxStatic: 16))
    let configuration = BridgeConfiguration(ports: [PortConfiguration(name: "p1"), PortConfiguration(name: "vx0")])
    let captures = CaptureRegistry(switcher: RecordingMirrorSwitch())
    let changes = Mutex<[String]>([])
    static let remote = try! MACAddress(parsing: "02:00:00:00:00:09")

    func hasStaticMirror(port index: Int) -> Bool { false }
    func attachPort(_ port: PortConfiguration, backend: PortBackend?) throws(BridgeError) -> Int { 2 }
    func detachPort(_ name: String) throws(BridgeError) {}
    func reconfigure(_ change: (inout BridgeConfiguration) throws(BridgeError) -> Void) throws(BridgeError) {}
    func reload(check: Bool) throws(BridgeError) -> ReloadReport { throw .invalid("no") }
    func linkRows() -> [LinkRow] { [] }
    func statistics() -> StatsReport {
        StatsReport(bridge: name, uptimeSeconds: 1, vlanFiltering: false, ports: [], fdb: FDBStatsSection(table.statistics, maxLearned: 64))
    }
    func vxlanDestinations() -> [Int: [MACAddress: String]] { [1: [Self.remote: "198.19.0.2"]] }
    func namespaceIdentity() -> String { "4:1234" }
    func attachVXLAN(_ port: PortConfiguration) throws(BridgeError) {
        changes.withLock { $0.append("attach \(port.name) learning \(port.flags.contains(.learning))") }
    }
    func detachVXLAN(_ name: String) throws(BridgeError) { changes.withLock { $0.append("detach \(name)") } }
}

@Suite("VXLAN control (no root)")
struct VXLANControlTests {
    let now = Timestamp(milliseconds: 1_000)

    @Test("vxlan-attach and vxlan-detach survive the wire, appended after the older commands")
    func wire() throws {
        for request in [
            ControlRequest.vxlanAttach(dev: "vx0", namespace: "4:1234", settings: PortSettings(learning: false)),
            .vxlanDetach(dev: "vx0", namespace: "4:1234"),
        ] {
            var line = try ControlProtocol.requestLine(request)
            #expect(line.removeLast() == UInt8(ascii: "\n"))
            #expect(try ControlProtocol.decodeRequest(line) == request)
        }
        #expect(ControlRequest.vxlanAttach(dev: "a", namespace: "", settings: .init()).command == "vxlan-attach")
    }

    @Test("the handler attaches and detaches only from the bridge's namespace")
    func namespaceCheck() {
        let b = FakeVXLANBridge()
        let h = ControlHandler(bridge: b)
        let elsewhere = h.handle(.vxlanAttach(dev: "vx1", namespace: "4:999", settings: .init()), now: now)
        #expect(!elsewhere.ok && elsewhere.error?.contains("network namespace") == true, "\(elsewhere)")
        #expect(h.handle(.vxlanAttach(dev: "vx1", namespace: "4:1234", settings: .init(learning: false)), now: now).ok)
        #expect(!h.handle(.vxlanDetach(dev: "vx1", namespace: ""), now: now).ok)
        #expect(h.handle(.vxlanDetach(dev: "vx1", namespace: "4:1234"), now: now).ok)
        #expect(b.changes.withLock { $0 } == ["attach vx1 learning false", "detach vx1"])
        let pcap = h.handle(.vxlanAttach(dev: "vx1", namespace: "4:1234", settings: .init(backend: "pcap")), now: now)
        #expect(!pcap.ok)
    }

    @Test("fdb show marks a station behind the VXLAN port with its remote VTEP, text and JSON")
    func fdbDestination() throws {
        let b = FakeVXLANBridge()
        _ = b.table.learn(FakeVXLANBridge.remote, vlan: 0, port: 1, now: now)
        _ = b.table.learn(try MACAddress(parsing: "02:00:00:00:00:01"), vlan: 0, port: 0, now: now)
        guard case .fdb(let rows)? = ControlHandler(bridge: b).handle(.fdbShow, now: now).result else {
            Issue.record("no fdb rows")
            return
        }
        #expect(rows.first { $0.dev == "vx0" }?.dst == "198.19.0.2")
        #expect(rows.first { $0.dev == "p1" }?.dst == nil)
        let text = ControlFormatting.fdbShow(rows, bridge: "br0")
        #expect(text.contains("02:00:00:00:00:09 dev vx0 dst 198.19.0.2 master br0\n"), "\(text)")
        #expect(text.contains("02:00:00:00:00:01 dev p1 master br0\n"))
        let json = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        #expect(json.contains("\"dst\":\"198.19.0.2\""))
    }

    @Test("stats lists too-big egress drops with their description; a report without them reads as before")
    func tooBigInStats() throws {
        var row = PortStatsRow(name: "vx0", counters: PortCounters())
        row.txDrops = [TransmitDropReason.tooBig: 3]
        let report = StatsReport(bridge: "br0", uptimeSeconds: 1, vlanFiltering: false, ports: [row],
                                 fdb: FDBStatsSection(FDBStatistics(), maxLearned: 1))
        let text = ControlFormatting.stats(report)
        #expect(text.contains("vx0   too-big      3  frame larger than the egress port's MTU"), "\(text)")
        let decoded = try JSONDecoder().decode(StatsReport.self, from: try JSONEncoder().encode(report))
        #expect(decoded.ports[0].txDrops?["too-big"] == 3)
        let old = #"{"name":"p1","rxFrames":0,"rxBytes":0,"forwarded":0,"flooded":0,"txFrames":0,"txBytes":0,"txDropped":0,"drops":{}}"#
        #expect(try JSONDecoder().decode(PortStatsRow.self, from: Data(old.utf8)).txDrops == nil)
    }

    @Test("the MTU is derived from the interface holding the local address (here lo: 65,536 - 50); an explicit one is kept")
    func derivedMTU() throws {
        let loopback = try #require(VXLANAddress(parsing: "127.0.0.1"))
        let lo = try Interface.mtu(of: "lo")
        var p = VXLANParameters(name: "vx0", vni: 1, local: loopback)
        p.remotes = [try #require(VXLANAddress(parsing: "198.19.0.2"))]
        #expect(try p.resolved().mtu == lo - 50)
        p.mtu = 1400
        #expect(try p.resolved().mtu == 1400)
        p.mtu = nil
        p.underlay = "no-such-if0"
        #expect(throws: BridgeError.self) { try p.resolved() }
    }

    @Test("the configuration file's vxlan section: devices, remotes as a list or words, each also a port; errors name the key")
    func configFile() throws {
        let f = try ConfigFile.parse("""
            ports:
              - name: veth1
              - name: vx1
                learning: false
            vxlan:
              - {name: vx0, vni: 42, local: 198.19.0.1, remote: [198.19.0.2, 198.19.0.3], dstport: 4790, mtu: 1400}
              - {name: vx1, vni: 43, local: 198.19.0.1, remote: "198.19.0.2 198.19.0.4"}
            """)
        #expect(f.vxlan.count == 2)
        #expect(f.vxlan[0].vni == 42 && f.vxlan[0].port == 4790 && f.vxlan[0].mtu == 1400)
        #expect(f.vxlan[0].remotes.map(\.description) == ["198.19.0.2", "198.19.0.3"])
        #expect(f.vxlan[1].remotes.map(\.description) == ["198.19.0.2", "198.19.0.4"])
        #expect(f.ports.map(\.port.name) == ["veth1", "vx1", "vx0"])
        #expect(f.ports[1].port.flags.contains(.learning) == false)
        let bad: [(String, String)] = [
            ("vxlan:\n  - {name: vx0, vni: 16777216, local: 198.19.0.1}", "vxlan[0].vni"),
            ("vxlan:\n  - {name: vx0, vni: 1, local: nowhere}", "vxlan[0].local"),
            ("vxlan:\n  - {name: vx0, vni: 1}", "vxlan[0]"),
            ("vxlan:\n  - {name: vx0, vni: 1, local: 198.19.0.1, group: 198.19.0.9, dev: eth0}", "vxlan[0]"),
            ("vxlan:\n  - {name: vx0, vni: 1, local: 198.19.0.1, colour: red}", "vxlan[0].colour"),
            ("vxlan:\n  - {name: vx0, vni: 1, local: 198.19.0.1}\n  - {name: vx0, vni: 2, local: 198.19.0.1}", "vxlan[1].name"),
        ]
        for (text, key) in bad {
            #expect(throws: ConfigFileError.self) { try ConfigFile.parse(text) }
            do { _ = try ConfigFile.parse(text) } catch { #expect(error.key == key, "\(text): \(error)") }
        }
    }
}
