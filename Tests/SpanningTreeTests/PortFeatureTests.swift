// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Edge ports, the guards, the transmit hold count, malformed BPDUs, information ageing and the
// standard's numbers.

import Foundation
import Testing
import BridgeCore
@testable import SpanningTree

@Suite struct PortFeatureTests {
    let t0 = Timestamp(milliseconds: 5_000)
    let mac = MACAddress(rawValue: 0x0200_0000_0900)
    func portMAC(_ i: Int) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0901 + UInt64(i)) }

    /// A BPDU from a better bridge (priority 4096) as a frame.
    func superior(kind: BPDU.Kind = .rst, flags: BPDUFlags = [], messageAge: UInt16 = 0, maxAge: UInt16 = 20,
                  root: UInt64 = 0x0200_0000_0100, cost: UInt32 = 0, port: UInt16 = 1) -> [UInt8] {
        let id = BridgeIdentifier(priority: 4096, address: MACAddress(rawValue: root))
        var f = flags
        if kind == .rst && f.role == .unknown { f.role = .designated }
        return BPDU(kind: kind, flags: f,
                    priority: PriorityVector(rootBridge: id, rootPathCost: cost, designatedBridge: id, designatedPort: PortIdentifier(priority: 128, number: port)),
                    times: BPDUTimes(seconds: TimerValues(messageAge: messageAge, maxAge: maxAge, helloTime: 2, forwardDelay: 15)))
            .frame(source: MACAddress(rawValue: root + 1))
    }

    func bridge(ports: Int, _ configure: (inout SpanningTreeBridgeConfiguration) -> Void = { _ in },
                port: (Int, inout SpanningTreePortConfiguration) -> Void = { _, _ in }) throws -> SpanningTreeBridge {
        var c = SpanningTreeBridgeConfiguration()
        configure(&c)
        let b = try SpanningTreeBridge(address: mac, configuration: c, now: t0)
        for i in 0..<ports {
            var pc = SpanningTreePortConfiguration()
            port(i, &pc)
            try b.addPort(i, address: portMAC(i), configuration: pc, now: t0)
            try b.setLink(i, up: true, now: t0)
        }
        return b
    }

    @Test func standardDefaultsAndPathCosts() throws {
        let c = SpanningTreeBridgeConfiguration()
        #expect(c.priority == 32768 && c.helloTime == 2 && c.maxAge == 20 && c.forwardDelay == 15 && c.transmitHoldCount == 6)
        #expect(c.protocolVersion == .rstp && SpanningTreeBridgeConfiguration.migrateTime == 3)
        let p = SpanningTreePortConfiguration()
        #expect(p.priority == 128 && p.pathCost == .automatic && p.autoEdge && !p.adminEdge && p.pointToPoint == .auto)
        // 802.1D-2004 Table 17-3.
        let table: [(UInt64, UInt32)] = [(10, 2_000_000), (100, 200_000), (1000, 20_000), (10_000, 2_000),
                                         (100_000, 200), (1_000_000, 20), (10_000_000, 2), (100_000_000, 1)]
        for (speed, cost) in table { #expect(PathCost.recommended(megabitsPerSecond: speed) == cost) }
        #expect(PathCost.recommended(megabitsPerSecond: nil) == 20_000)
        #expect(PathCost.recommended(megabitsPerSecond: .max) == 1)
        // A fresh bridge: root of its own tree, bridge id 8.000.<address>.
        let b = try bridge(ports: 1) { _ in }
        #expect(b.status().bridgeId.description == "8.000.02:00:00:00:09:00")
        #expect(b.status().isRoot && b.status().maxAge == 20 && b.status().forwardDelay == 15)
    }

    @Test func configurationRangesAreChecked() {
        var c = SpanningTreeBridgeConfiguration()
        c.priority = 4097
        #expect(throws: SpanningTreeConfigurationError.bridgePriority(4097)) { try c.validate() }
        c = .init(); c.maxAge = 40; c.forwardDelay = 15  // 2 × (15 − 1) = 28 < 40
        #expect(throws: SpanningTreeConfigurationError.timesInconsistent(helloTime: 2, maxAge: 40, forwardDelay: 15)) { try c.validate() }
        c = .init(); c.transmitHoldCount = 0
        #expect(throws: SpanningTreeConfigurationError.transmitHoldCount(0)) { try c.validate() }
        var p = SpanningTreePortConfiguration(); p.priority = 130
        #expect(throws: SpanningTreeConfigurationError.portPriority(130)) { try p.validate() }
        p = .init(); p.pathCost = .fixed(0)
        #expect(throws: SpanningTreeConfigurationError.pathCost(0)) { try p.validate() }
    }

    @Test func adminEdgePortForwardsAtOnceAndAutoEdgeLosesEdgeOnBPDU() throws {
        let b = try bridge(ports: 2) { _ in } port: { i, c in c.adminEdge = i == 0 }
        #expect(b.state(ofPort: 0) == .forwarding)                  // no timer, no agreement
        #expect(b.state(ofPort: 1) == .discarding)
        // Port 1 (auto edge) hears nothing: edge after the edge delay (Migrate Time on p2p), then forwards.
        var now = t0
        for _ in 0..<5 { now = now.adding(milliseconds: 1000); b.tick(now: now) }
        #expect(b.status().ports[1].operEdge && b.state(ofPort: 1) == .forwarding)
        // An edge port stays forwarding, without TC, when a BPDU arrives, but is no edge port any more.
        let out = b.receive(frame: superior(), port: 1, now: now)
        #expect(out.events.contains(.edgeChanged(port: 1, operEdge: false)))
        #expect(!b.status().ports[1].operEdge)
        #expect(b.role(ofPort: 1) == .root)
        let out0 = b.receive(frame: superior(cost: 1, port: 2), port: 0, now: now)
        #expect(out0.events.contains(.edgeChanged(port: 0, operEdge: false)))
    }

    @Test func bpduGuardDisablesTheEdgePort() throws {
        let b = try bridge(ports: 2) { _ in } port: { i, c in c.adminEdge = true; c.bpduGuard = i == 0 }
        #expect(b.state(ofPort: 0) == .forwarding)
        let out = b.receive(frame: superior(), port: 0, now: t0)
        #expect(out.events.contains(.bpduGuardDisabled(port: 0)))
        #expect(out.stateChanges.contains(PortStateChange(port: 0, state: .discarding)))
        #expect(b.role(ofPort: 0) == .disabled)
        let s = try #require(b.status().ports.first)
        #expect(s.bpduGuardTripped && !s.enabled && SpanningTreeStatus.linkStateWord(s) == "disabled")
        #expect(b.status().isRoot, "the guarded BPDU was not used")
        // Further BPDUs are dropped as received on a disabled port.
        b.receive(frame: superior(), port: 0, now: t0)
        #expect(b.status().ports[0].dropped["port disabled"] == 1)
        // The link going down and up re-enables it.
        try b.setLink(0, up: false, now: t0)
        try b.setLink(0, up: true, now: t0)
        #expect(b.state(ofPort: 0) == .forwarding && !b.status().ports[0].bpduGuardTripped)
    }

    @Test func rootGuardKeepsThePortAlternateWhileSuperiorInfoIsHeard() throws {
        let b = try bridge(ports: 2) { _ in } port: { i, c in c.rootGuard = i == 0 }
        let out = b.receive(frame: superior(), port: 0, now: t0)
        #expect(out.events.contains(.rootGuardBlocking(port: 0)))
        #expect(b.role(ofPort: 0) == .alternate && b.state(ofPort: 0) == .discarding)
        #expect(b.status().isRoot, "the superior root was not accepted")
        #expect(b.status().ports[0].rootGuardBlocking)
        // The same BPDU on an unguarded port makes it root port.
        b.receive(frame: superior(), port: 1, now: t0)
        #expect(b.role(ofPort: 1) == .root)
        // Superior information ages out (3 × hello): the guard releases, the port is designated again.
        try b.setLink(1, up: false, now: t0)
        var now = t0
        var released = false
        for _ in 0..<8 { now = now.adding(milliseconds: 1000); released = b.tick(now: now).events.contains(.rootGuardReleased(port: 0)) || released }
        #expect(released && b.role(ofPort: 0) == .designated)
    }

    @Test func txHoldCountLimitsBPDUsPerSecond() throws {
        let b = try bridge(ports: 2) { $0.transmitHoldCount = 2 }
        var now = t0.adding(milliseconds: 1000)
        b.tick(now: now); b.tick(now: now.adding(milliseconds: 1000)); now = now.adding(milliseconds: 2000); b.tick(now: now)
        // The root's neighbour keeps changing its cost (17.6: news from the same designated
        // bridge and port always replaces): every change is news for port 1 (designated).
        var sent = 0
        for i in 0..<20 {
            let out = b.receive(frame: superior(cost: UInt32(i % 2) * 10), port: 0, now: now)
            sent += out.transmissions.filter { $0.port == 1 }.count
        }
        #expect(sent == 2, "TxHoldCount 2: two BPDUs, then silence until the next tick")
        // Each tick lets one more through.
        now = now.adding(milliseconds: 1000)
        let next = b.tick(now: now)
        #expect(next.transmissions.filter { $0.port == 1 }.count == 1)
    }

    @Test func malformedBPDUsAreCountedAndIgnored() throws {
        let b = try bridge(ports: 1)
        let good = superior()
        var bad: [[UInt8]] = []
        bad.append(Array(good.prefix(20)))                           // truncated (and its length field lies)
        var f = good; f[18] = 1; bad.append(f)                        // protocol identifier 1
        f = good; f[19] = 1; bad.append(f)                            // RST type with version 1
        f = good; f[20] = 0x55; bad.append(f)                         // unknown type
        bad.append(superior(kind: .configuration, messageAge: 20))   // Configuration with message age = max age
        f = good; f[46] = 0xFF; bad.append(f)                         // max age 255 s
        f = good; f[50] = 0; f[51] = 0; bad.append(f)                 // forward delay 0
        f = good; f[48] = 0x40; bad.append(f)                         // hello time 64 s
        f = good; f[14] = 0xAA; bad.append(f)                         // not STP's LLC
        f = good; f[12] = 0x88; f[13] = 0xCC; bad.append(f)           // an EtherType frame
        for frame in bad {
            let out = b.receive(frame: frame, port: 0, now: t0)
            #expect(out.isEmpty)
        }
        let s = b.status()
        #expect(s.isRoot && s.ports[0].bpdusIn == 0)
        #expect(s.ports[0].dropped.values.reduce(0, +) == UInt64(bad.count))
        #expect(s.ports[0].dropped["timers out of range"] == 3)
        #expect(s.ports[0].dropped["message age not below max age"] == 1)
        // A BPDU for a port the tree does not know is counted, not trapped on.
        b.receive(frame: good, port: 77, now: t0)
        b.receive(frame: good, port: -1, now: t0)
        b.receive(frame: good, port: 5000, now: t0)
        #expect(b.status().unknownPortBPDUs == 3)
        // A Configuration BPDU carrying our own bridge and port id (a reflected BPDU) is ignored.
        let own = BPDU(kind: .configuration, priority: PriorityVector(rootBridge: s.bridgeId, rootPathCost: 0, designatedBridge: s.bridgeId, designatedPort: s.ports[0].portId),
                       times: BPDUTimes(seconds: TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15)))
        b.receive(frame: own.frame(source: portMAC(0)), port: 0, now: t0)
        #expect(b.status().ports[0].dropped["own BPDU looped back"] == 1)
    }

    @Test func tcnFloodIsRateLimited() throws {
        let b = try bridge(ports: 3)
        var now = t0
        for _ in 0..<5 { now = now.adding(milliseconds: 1000); b.tick(now: now) }
        var flushes = 0
        for _ in 0..<100 {
            let out = b.receive(frame: BPDU.topologyChangeNotification.frame(source: MACAddress(rawValue: 0x0200_0000_7701)), port: 0, now: now)
            flushes += out.flushes.count
        }
        let s = b.status().ports[0]
        #expect(s.bpdusIn == 6 && s.dropped["TCN flood (rate limited)"] == 94)
        #expect(flushes <= 2 * 6)
        #expect(b.status().topologyChangeCount >= 1)
    }

    @Test func messageAgeReachingMaxAgeDiscardsTheInformation() throws {
        let b = try bridge(ports: 1)
        // RST info with Message Age 20 of Max Age 20: recorded, then aged out at once.
        b.receive(frame: superior(messageAge: 20), port: 0, now: t0)
        #expect(b.status().isRoot && b.role(ofPort: 0) == .designated)
        // Message Age 19: accepted; the port becomes root port for 3 × hello, then the info ages.
        b.receive(frame: superior(messageAge: 19), port: 0, now: t0)
        #expect(!b.status().isRoot && b.role(ofPort: 0) == .root)
        #expect(b.status().maxAge == 20)
        var now = t0
        for _ in 0..<5 { now = now.adding(milliseconds: 1000); b.tick(now: now) }
        #expect(b.role(ofPort: 0) == .root)
        for _ in 0..<2 { now = now.adding(milliseconds: 1000); b.tick(now: now) }
        #expect(b.status().isRoot && b.role(ofPort: 0) == .designated)
    }

    @Test func tickFollowsTheCallersClock() throws {
        let b = try bridge(ports: 1)
        var now = t0
        var sent = 0
        // Hello Time 2 s: a designated port sends once per 2 s, whatever the tick rate.
        for _ in 0..<200 { now = now.adding(milliseconds: 100); sent += b.tick(now: now).transmissions.count }
        #expect(sent == 10)
        // A clock that jumps forward an hour does not replay an hour of ticks (at most 255 s),
        // and ticks go on from the new time.
        now = now.adding(milliseconds: 3_600_000)
        #expect(b.tick(now: now).transmissions.count <= 128)
        sent = 0
        for _ in 0..<40 { now = now.adding(milliseconds: 100); sent += b.tick(now: now).transmissions.count }
        #expect(sent == 2)
    }

    @Test func statusFormatsLikeMstpctl() throws {
        let b = try bridge(ports: 2) { _ in } port: { i, c in c.adminEdge = i == 1 }
        b.receive(frame: superior(), port: 0, now: t0)
        let s = b.status()
        let text = s.formatted(bridgeName: "br0")
        #expect(text.contains("br0 bridge id 8.000.02:00:00:00:09:00"))
        #expect(text.contains("designated root") && text.contains("1.000.02:00:00:00:01:00"))
        #expect(text.contains("root port") && text.contains("0 (8.001)"))
        #expect(text.contains("1 port id 8.002  designated  forwarding"))
        #expect(text.contains("BPDUs in"))
        let json = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(SpanningTreeStatus.self, from: json) == s)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["rootPathCost"] as? Int == 20_000)
        // Identifiers read as mstpctl prints them, and parse back.
        #expect(object["bridgeId"] as? String == "8.000.02:00:00:00:09:00")
        #expect(object["designatedRoot"] as? String == "1.000.02:00:00:00:01:00")
        #expect(object["rootPortId"] as? String == "8.001")
        for bad in ["8.000", "x.000.02:00:00:00:00:01", "8.0000.02:00:00:00:00:01", "8.000.02:00:00"] {
            #expect(BridgeIdentifier(parsing: bad) == nil, "\(bad)")
        }
        #expect(PortIdentifier(parsing: "8.1") == nil && PortIdentifier(parsing: "f.fff") == PortIdentifier(priority: 0xF0, number: 0xFFF))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(BridgeIdentifier.self, from: Data("\"junk\"".utf8)) }
    }
}
