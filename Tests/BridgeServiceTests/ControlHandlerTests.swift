// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The control handler without sockets or root: a fake bridge (a real MACTable, a port list,
// a mirror switch that records what the workers would be told) and the rules of each command.

import BridgeControl
import BridgeCore
import Foundation
import PcapIO
import Synchronization
import Testing

@testable import BridgeService

final class RecordingMirrorSwitch: MirrorSwitch {
    let calls = Mutex<[(index: Int, ingress: Bool, egress: Bool)]>([])
    func setMirror(index: Int, ingress: PcapMirror?, egress: PcapMirror?) {
        calls.withLock { $0.append((index, ingress != nil, egress != nil)) }
    }
}

final class FakeControlledBridge: ControlledBridge {
    let name = "fake0"
    let table = MACTable(configuration: .init(maxLearned: 64, maxStatic: 16))
    let configuration: BridgeConfiguration
    let switcher = RecordingMirrorSwitch()
    let captures: CaptureRegistry
    let mirrored: Set<Int>

    init(vlanFiltering: Bool = false, mirrored: Set<Int> = []) {
        var ports = [PortConfiguration(name: "p1"), PortConfiguration(name: "p2")]
        ports[1].vlans = VLANSet([1, 10, 20])
        configuration = BridgeConfiguration(ports: ports, vlanFiltering: vlanFiltering)
        captures = CaptureRegistry(switcher: switcher)
        self.mirrored = mirrored
    }

    func hasStaticMirror(port index: Int) -> Bool { mirrored.contains(index) }
    let changes = Mutex<[String]>([])
    func attachPort(_ port: PortConfiguration, backend: PortBackend?) throws(BridgeError) -> Int {
        changes.withLock { $0.append("attach \(port.name) \(port.flags.contains(.hairpin) ? "hairpin" : "")") }
        return 2
    }
    func detachPort(_ name: String) throws(BridgeError) {
        guard configuration.ports.contains(where: { $0.name == name }) else { throw .invalid("no port named '\(name)'") }
        changes.withLock { $0.append("detach \(name)") }
    }
    let reconfigured = Mutex<BridgeConfiguration?>(nil)
    func reconfigure(_ change: (inout BridgeConfiguration) throws(BridgeError) -> Void) throws(BridgeError) {
        var c = reconfigured.withLock { $0 } ?? configuration
        try change(&c)
        do { try c.validate() } catch { throw .invalid(error.description) }
        reconfigured.withLock { $0 = c }
    }
    func reload(check: Bool) throws(BridgeError) -> ReloadReport { throw .invalid("not started with --config") }
    func linkRows() -> [LinkRow] { [] }
    func statistics() -> StatsReport {
        StatsReport(bridge: name, uptimeSeconds: 1, vlanFiltering: configuration.vlanFiltering, ports: [],
                    fdb: FDBStatsSection(table.statistics, maxLearned: 64))
    }
}

@Suite("control handler (no sockets)")
struct ControlHandlerTests {
    let now = Timestamp(milliseconds: 1_000)

    func changed(_ r: ControlResponse) -> Int? {
        if case .changed(let n)? = r.result { return n }
        return nil
    }

    @Test("fdb add puts a static entry on the named port; fdb show lists it under the port's name")
    func fdbAddShow() throws {
        let b = FakeControlledBridge()
        let h = ControlHandler(bridge: b)
        let r = h.handle(.fdbAdd(mac: "02:00:00:00:00:01", dev: "p2", vlan: nil), now: now)
        #expect(r.ok && changed(r) == 1, "\(r)")
        #expect(b.table.lookup(try MACAddress(parsing: "02:00:00:00:00:01")) == 1)
        guard case .fdb(let rows)? = h.handle(.fdbShow, now: now).result else { Issue.record("no fdb rows"); return }
        #expect(rows.count == 1 && rows[0].dev == "p2" && rows[0].isStatic)
    }

    @Test("refusals change nothing: unknown port, malformed MAC, VLAN without filtering, VLAN out of range")
    func refusals() {
        let b = FakeControlledBridge()
        let h = ControlHandler(bridge: b)
        let unknown = h.handle(.fdbAdd(mac: "02:00:00:00:00:01", dev: "nope", vlan: nil), now: now)
        #expect(!unknown.ok && unknown.error?.contains("no port named 'nope'") == true)
        let bad = h.handle(.fdbAdd(mac: "02:00:00:00:00", dev: "p1", vlan: nil), now: now)
        #expect(!bad.ok)
        let vlan = h.handle(.fdbAdd(mac: "02:00:00:00:00:01", dev: "p1", vlan: 10), now: now)
        #expect(!vlan.ok && vlan.error?.contains("VLAN filtering is off") == true, "\(vlan)")
        let filtering = ControlHandler(bridge: FakeControlledBridge(vlanFiltering: true))
        let range = filtering.handle(.fdbAdd(mac: "02:00:00:00:00:01", dev: "p1", vlan: 4095), now: now)
        #expect(!range.ok && range.error?.contains("out of range") == true)
        #expect(b.table.statistics.staticEntries == 0)
        #expect(!h.handle(.fdbFlush(dev: "nope"), now: now).ok)
        #expect(!h.handle(.captureStatus(id: 1), now: now).ok)
    }

    @Test("with VLAN filtering, fdb add without vlan adds one entry per VLAN of the port (bridge(8))")
    func fdbAddEveryVLAN() throws {
        let b = FakeControlledBridge(vlanFiltering: true)
        let h = ControlHandler(bridge: b)
        let r = h.handle(.fdbAdd(mac: "02:00:00:00:00:01", dev: "p2", vlan: nil), now: now)
        #expect(changed(r) == 3, "\(r)")
        let mac = try MACAddress(parsing: "02:00:00:00:00:01")
        #expect([1, 10, 20].allSatisfy { b.table.lookup(mac, vlan: $0) == 1 })
        // del with another port named: bridge(8) requires the entry to be on that device.
        #expect(changed(h.handle(.fdbDel(mac: "02:00:00:00:00:01", dev: "p1", vlan: 10), now: now)) == 0)
        #expect(changed(h.handle(.fdbDel(mac: "02:00:00:00:00:01", dev: "p2", vlan: 10), now: now)) == 1)
        #expect(b.table.lookup(mac, vlan: 10) == nil && b.table.lookup(mac, vlan: 20) == 1)
    }

    @Test("fdb flush of one port removes only its learned entries")
    func flush() throws {
        let b = FakeControlledBridge()
        let h = ControlHandler(bridge: b)
        _ = b.table.learn(try MACAddress(parsing: "02:00:00:00:00:0a"), port: 0, now: now)
        _ = b.table.learn(try MACAddress(parsing: "02:00:00:00:00:0b"), port: 1, now: now)
        #expect(changed(h.handle(.fdbFlush(dev: "p1"), now: now)) == 1)
        #expect(b.table.lookup(try MACAddress(parsing: "02:00:00:00:00:0b")) == 1)
    }

    @Test("captures: one per port, refused on a --mirror port, switched on and off in the workers")
    func captures() throws {
        let b = FakeControlledBridge(mirrored: [1])
        let h = ControlHandler(bridge: b)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swbh-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let onMirrored = h.handle(.captureStart(CaptureSpec(port: "p2", file: "\(dir)/x.pcap")), now: now)
        #expect(!onMirrored.ok && onMirrored.error?.contains("--mirror") == true)
        let badDirection = h.handle(.captureStart(CaptureSpec(port: "p1", file: "\(dir)/a.pcap", direction: "sideways")), now: now)
        #expect(!badDirection.ok)
        let started = h.handle(.captureStart(CaptureSpec(port: "p1", file: "\(dir)/a.pcap", direction: "in")), now: now)
        guard case .capture(let status)? = started.result else { Issue.record("\(started)"); return }
        #expect(status.port == "p1" && !status.complete)
        let second = h.handle(.captureStart(CaptureSpec(port: "p1", file: "\(dir)/b.pcap")), now: now)
        #expect(!second.ok && second.error?.contains("already being captured") == true)
        #expect(h.handle(.captureStatus(id: status.id), now: now).ok)
        let stopped = h.handle(.captureStop(id: status.id), now: now)
        guard case .capture(let final)? = stopped.result else { Issue.record("\(stopped)"); return }
        #expect(final.complete)
        let calls = b.switcher.calls.withLock { $0 }
        #expect(calls.count == 2)
        #expect(calls.first.map { $0.index == 0 && $0.ingress && !$0.egress } == true, "direction in: ingress only")
        #expect(calls.last.map { $0.index == 0 && !$0.ingress && !$0.egress } == true, "stop switches it off")
        #expect(!h.handle(.captureStop(id: status.id), now: now).ok, "a stopped capture is gone")
    }

    @Test("link add/set/del and vlan add/del reach the bridge as whole changes; bad words are refused")
    func liveChanges() throws {
        let b = FakeControlledBridge(vlanFiltering: true)
        let h = ControlHandler(bridge: b)
        #expect(h.handle(.linkAdd(dev: "p3", settings: PortSettings(hairpin: true)), now: now).ok)
        #expect(b.changes.withLock { $0 } == ["attach p3 hairpin"])
        #expect(!h.handle(.linkAdd(dev: "p4", settings: PortSettings(state: "sleeping")), now: now).ok)
        #expect(!h.handle(.linkAdd(dev: "p4", settings: PortSettings(backend: "dpdk")), now: now).ok)
        #expect(!h.handle(.linkDel(dev: "nope"), now: now).ok)
        #expect(h.handle(.linkSet(dev: "p1", settings: PortSettings(learning: false, state: "disabled")), now: now).ok)
        let set = try #require(b.reconfigured.withLock { $0 })
        #expect(!set.ports[0].flags.contains(.learning) && set.ports[0].state == .disabled)
        #expect(!h.handle(.linkSet(dev: "p1", settings: PortSettings(backend: "pcap")), now: now).ok)

        // p1 (access, VLAN 1) moves to VLAN 20: del 1, add 20 pvid untagged.
        #expect(h.handle(.vlanDel(VLANChange(dev: "p1", first: 1)), now: now).ok)
        #expect(h.handle(.vlanAdd(VLANChange(dev: "p1", first: 20, pvid: true, untagged: true)), now: now).ok)
        let moved = try #require(b.reconfigured.withLock { $0 }).ports[0]
        #expect(moved.vlans == VLANSet([20]) && moved.pvid == 20 && moved.untaggedVLANs == VLANSet([20]))
        #expect(h.handle(.vlanAdd(VLANChange(dev: "p1", first: 30, last: 32)), now: now).ok)
        #expect(!h.handle(.vlanAdd(VLANChange(dev: "p1", first: 30, last: 32, pvid: true)), now: now).ok, "pvid of a range")
        #expect(!h.handle(.vlanAdd(VLANChange(dev: "p1", first: 0)), now: now).ok)
        #expect(!h.handle(.vlanAdd(VLANChange(dev: "p1", first: 10, last: 5)), now: now).ok)
        guard case .vlans(let rows)? = h.handle(.vlanShow(dev: "p2"), now: now).result else { Issue.record("no rows"); return }
        #expect(rows == [VLANRow(dev: "p2", vlans: [1, 10, 20], pvid: 1, untagged: [1])])
        #expect(h.handle(.bridgeSet(BridgeSettings(vlanFiltering: false)), now: now).ok)
        #expect(b.reconfigured.withLock { $0 }?.vlanFiltering == false)
        #expect(!h.handle(.reload(check: true), now: now).ok)
    }

    @Test("a server made with serving: false takes the name at once but answers only after startServing()")
    func servingGate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swbg-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try ControlServer(bridge: "gate0", runDirectory: dir, serving: false) { _ in .success(nil) }
        defer { server.stop() }
        // The name is taken: a second server is refused before the first serves.
        #expect(throws: ControlError.self) { _ = try ControlServer(bridge: "gate0", runDirectory: dir) { _ in .success(nil) } }
        // Not answering yet: a client times out (its connection waits in the backlog).
        #expect(throws: ControlError.self) {
            _ = try ControlClient.send(.stats, bridge: "gate0", runDirectory: dir, timeout: .milliseconds(300))
        }
        try server.startServing()
        #expect(try ControlClient.send(.stats, bridge: "gate0", runDirectory: dir, timeout: .seconds(30)).ok)
    }
}
