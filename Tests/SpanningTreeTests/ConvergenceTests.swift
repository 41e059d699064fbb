// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Networks of bridges wired in memory, time advanced by the test: convergence, proposal/
// agreement, failover, STP compatibility and topology change.

import Testing
import BridgeCore
@testable import SpanningTree

@Suite struct ConvergenceTests {
    /// A (bridge 0, lowest address: root), B (1), C (2); A.0–B.0, B.1–C.0, A.1–C.1.
    func triangle() throws -> (Network, ab: Int, bc: Int, ac: Int) {
        let net = Network()
        for _ in 0..<3 { try net.addBridge() }
        let ab = try net.connect(ep(0, 0), ep(1, 0))
        let bc = try net.connect(ep(1, 1), ep(2, 0))
        let ac = try net.connect(ep(0, 1), ep(2, 1))
        return (net, ab, bc, ac)
    }

    let trianglePorts = [ep(0, 0), ep(0, 1), ep(1, 0), ep(1, 1), ep(2, 0), ep(2, 1)]

    @Test func triangleConvergesToOneAlternatePortAndTheLowestRoot() throws {
        let (net, _, _, _) = try triangle()
        // Proposal/agreement: converged before any timer ran.
        let discarding = trianglePorts.filter { net.state($0) != .forwarding }
        #expect(discarding == [ep(2, 0)])
        #expect(net.role(ep(2, 0)) == .alternate)
        #expect(net.role(ep(0, 0)) == .designated && net.role(ep(0, 1)) == .designated)
        #expect(net.role(ep(1, 0)) == .root && net.role(ep(2, 1)) == .root && net.role(ep(1, 1)) == .designated)
        for b in 0..<3 { #expect(net.status(b).designatedRoot == net.status(0).bridgeId) }
        #expect(net.status(0).isRoot && net.status(0).rootPort == nil)
        #expect(net.status(2).rootPort == 1 && net.status(2).rootPathCost == 20_000)
        // And it stays so: a minute of hellos changes nothing.
        let changes = net.states
        net.run(seconds: 60)
        #expect(trianglePorts.filter { net.state($0) != .forwarding } == [ep(2, 0)])
        #expect(net.states == changes)
        // The engine's view agrees with the reported changes, and no state ever closed the loop.
        for e in trianglePorts { #expect(net.states[e] == net.state(e)) }
        #expect(net.loopsSeen == 0)
    }

    @Test func noLoopDuringFailoverAndRestore() throws {
        let (net, ab, bc, ac) = try triangle()
        for link in [ac, ab, bc, ac] {
            try net.cut(link)
            net.run(seconds: 3)
            try net.restore(link)
            net.run(seconds: 3)
        }
        #expect(net.loopsSeen == 0)
        #expect(trianglePorts.filter { net.state($0) != .forwarding } == [ep(2, 0)])
    }

    @Test func loopedBackLinkIsBlockedBeforeItForwards() throws {
        // Today's loop test in memory: one veth pair with both ends on the same bridge.
        let net = Network()
        try net.addBridge()
        try net.addPort(ep(0, 2)) { $0.adminEdge = true }          // a host port
        net.absorb(0, try net.bridges[0].setLink(2, up: true, now: net.now))
        try net.connect(ep(0, 0), ep(0, 1))
        net.run(seconds: 60)
        #expect(net.role(ep(0, 1)) == .backup && net.state(ep(0, 1)) == .discarding)
        #expect(net.role(ep(0, 0)) == .designated && net.state(ep(0, 0)) == .forwarding)
        #expect(!net.history.contains { $0.0 == ep(0, 1) && $0.1 != .discarding }, "never learned or forwarded")
        #expect(net.loopsSeen == 0)
        #expect(net.state(ep(0, 2)) == .forwarding)
    }

    @Test func unknownRoleRSTIsReadAsConfiguration() throws {
        let b = try SpanningTreeBridge(address: MACAddress(rawValue: 0x0200_0000_0900), now: Timestamp(milliseconds: 0))
        try b.addPort(0, address: MACAddress(rawValue: 0x0200_0000_0901), now: Timestamp(milliseconds: 0))
        try b.setLink(0, up: true, now: Timestamp(milliseconds: 0))
        let root = BridgeIdentifier(priority: 4096, address: MACAddress(rawValue: 0x0200_0000_0100))
        var flags = BPDUFlags.proposal
        flags.role = .unknown
        let bpdu = BPDU(kind: .rst, flags: flags, priority: PriorityVector(rootBridge: root, rootPathCost: 0, designatedBridge: root, designatedPort: PortIdentifier(rawValue: 0x8001)),
                        times: BPDUTimes(seconds: TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15)))
        let out = b.receive(frame: bpdu.frame(source: MACAddress(rawValue: 0x0200_0000_0101)), port: 0, now: Timestamp(milliseconds: 0))
        #expect(b.role(ofPort: 0) == .root)                       // its information was used, as Designated
        #expect(!out.events.contains(.protocolMigrated(port: 0, stpCompatible: true)))
        #expect(b.status().ports[0].stpCompatible == false)       // still an RST BPDU for migration
    }

    @Test func manyPortsStayCheap() throws {
        // 1,024 ports, all up, no neighbours: every port designated, edge after Migrate Time, forwarding.
        let t0 = Timestamp(milliseconds: 0)
        let b = try SpanningTreeBridge(address: MACAddress(rawValue: 0x0200_0000_0900), now: t0)
        for i in 0..<SpanningTreeBridge.maximumPorts {
            try b.addPort(i, address: MACAddress(rawValue: 0x0200_0001_0000 + UInt64(i)), now: t0)
            try b.setLink(i, up: true, now: t0)
        }
        var now = t0
        for _ in 0..<5 { now = now.adding(milliseconds: 1000); b.tick(now: now) }
        let s = b.status()
        #expect(s.ports.count == 1024)
        #expect(s.ports.allSatisfy { $0.role == .designated && $0.state == .forwarding && $0.operEdge })
        // A superior BPDU on the last port: one root port, the rest stay forwarding (edge ports need no sync).
        let root = BridgeIdentifier(priority: 4096, address: MACAddress(rawValue: 0x0200_0000_0100))
        let bpdu = BPDU(kind: .rst, flags: [.proposal], priority: PriorityVector(rootBridge: root, rootPathCost: 0, designatedBridge: root, designatedPort: PortIdentifier(rawValue: 0x8001)),
                        times: BPDUTimes(seconds: TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15)))
        var f = bpdu.flags; f.role = .designated
        let frame = BPDU(kind: .rst, flags: f, priority: bpdu.priority, times: bpdu.times).frame(source: MACAddress(rawValue: 0x0200_0000_0101))
        b.receive(frame: frame, port: 1023, now: now)
        #expect(b.role(ofPort: 1023) == .root && b.state(ofPort: 1023) == .forwarding)
        #expect(b.status().ports.filter { $0.state == .forwarding }.count == 1024)
    }

    @Test func lowerPriorityWinsOverLowerAddress() throws {
        let net = Network()
        try net.addBridge()
        try net.addBridge { $0.priority = 4096 }
        try net.connect(ep(0, 0), ep(1, 0))
        #expect(net.status(0).designatedRoot == net.status(1).bridgeId)
        #expect(net.role(ep(0, 0)) == .root)
    }

    @Test func proposalAgreementForwardsANewPointToPointLinkAtOnce() throws {
        let net = Network()
        try net.addBridge(); try net.addBridge()
        try net.addPort(ep(0, 0)); try net.addPort(ep(1, 0))
        let link = try net.connect(ep(0, 0), ep(1, 0))
        _ = link
        // No tick has run: the designated port forwarded on B's agreement, not after 2 × 15 s.
        #expect(net.state(ep(0, 0)) == .forwarding && net.role(ep(0, 0)) == .designated)
        #expect(net.state(ep(1, 0)) == .forwarding && net.role(ep(1, 0)) == .root)
        let proposals = net.sent[ep(0, 0), default: []].filter { $0.flags.contains(.proposal) }
        let agreements = net.sent[ep(1, 0), default: []].filter { $0.flags.contains(.agreement) }
        #expect(!proposals.isEmpty && !agreements.isEmpty)
    }

    @Test func sharedLinkWaitsForTheTimers() throws {
        // Without point-to-point there is no agreement (17.21.9): the designated port waits for
        // fdWhile, which INIT_PORT set to Max Age (20 s), then learns for forwardDelay, which is
        // Hello Time (2 s) while the port speaks RSTP (17.20.6).
        let net = Network()
        try net.addBridge(); try net.addBridge()
        try net.connect(ep(0, 0), ep(1, 0), pointToPoint: false)
        #expect(net.state(ep(0, 0)) == .discarding)
        let learning = net.time(until: 60) { net.state(ep(0, 0)) == .learning }
        let forwarding = net.time(until: 60) { net.state(ep(0, 0)) == .forwarding }
        #expect(learning != nil && (19.5...20.5).contains(learning!))
        #expect(forwarding != nil && (1.5...2.5).contains(forwarding!))
        #expect(net.loopsSeen == 0)
    }

    @Test func cuttingTheRootLinkMakesTheAlternateRootPortAtOnce() throws {
        let (net, _, _, ac) = try triangle()
        let before = net.status(2).topologyChangeCount
        try net.cut(ac)
        // Within the same input (0 s simulated): the alternate became root port and forwards.
        #expect(net.role(ep(2, 0)) == .root && net.state(ep(2, 0)) == .forwarding)
        #expect(net.role(ep(2, 1)) == .disabled && net.state(ep(2, 1)) == .discarding)
        #expect(net.state(ep(1, 1)) == .forwarding && net.state(ep(0, 0)) == .forwarding)
        #expect(net.status(2).rootPathCost == 40_000)
        #expect(net.status(2).topologyChangeCount > before)
        // Restoring the link: C.1 is root port again, C.0 alternate, no lasting loop.
        let flushesBefore = net.flushes.count
        try net.restore(ac)
        let t = net.time(until: 1) { net.role(ep(2, 1)) == .root && net.state(ep(2, 1)) == .forwarding && net.state(ep(2, 0)) == .discarding }
        #expect(t != nil)
        #expect(net.flushes.count > flushesBefore)
        net.run(seconds: 30)
        #expect(trianglePorts.filter { net.state($0) != .forwarding } == [ep(2, 0)])
    }

    @Test("cutting the root link of the bridge that is designated toward the alternate port converges without timers")
    func cuttingTheDesignatedSidesRootLink() throws {
        let (net, ab, _, _) = try triangle()
        net.run(seconds: 10)  // past auto edge, migrate time and the start's topology changes
        #expect(net.role(ep(1, 1)) == .designated && net.role(ep(2, 0)) == .alternate)
        try net.cut(ab)
        // b1 lost its root: it claims root on 1.1; b2's alternate hears that worse news from the
        // same designated port, takes it, becomes designated and proposes; b1 agrees.
        let t = net.time(until: 10) {
            net.role(ep(1, 1)) == .root && net.state(ep(1, 1)) == .forwarding && net.role(ep(2, 0)) == .designated
                && net.state(ep(2, 0)) == .forwarding
        }
        #expect(t == 0, "converged after \(t.map { "\($0) s" } ?? "more than 10 s") of simulated time")
    }

    /// Next to a legacy STP root whose topology changes keep arriving, with a 2 s hello the
    /// transmit hold drains (a hello of 1 s spends each second's token on the hello itself, so
    /// every extra BPDU raises txCount for good and, once at TxHoldCount, news waits for the
    /// next tick: 17.26/17.22, as in the lab's runs with --hello-time 1).
    @Test("next to a legacy STP root, losing the root port converges between two RSTP bridges without timers",
          arguments: [(UInt16(2), 0.0), (UInt16(1), 2.0)])
    func legacyRootCutConvergesBetweenRSTPBridges(hello: UInt16, expected: Double) throws {
        let net = Network()
        let fast: (inout SpanningTreeBridgeConfiguration) -> Void = { $0.helloTime = hello; $0.forwardDelay = 4; $0.maxAge = 6 }
        try net.addBridge { $0.helloTime = 1; $0.forwardDelay = 4; $0.maxAge = 6; $0.protocolVersion = .stp; $0.priority = 4096 }  // R: the kernel's STP, root
        try net.addBridge(fast)  // A
        try net.addBridge(fast)  // B
        net.legacy = [0]
        let ra = try net.connect(ep(0, 0), ep(1, 1))
        _ = try net.connect(ep(0, 1), ep(2, 1))
        _ = try net.connect(ep(1, 0), ep(2, 0))
        net.run(seconds: 30)
        #expect(net.role(ep(1, 0)) == .designated && net.role(ep(2, 0)) == .alternate)
        #expect(net.port(ep(1, 1))?.stpCompatible == true)
        try net.cut(ra)
        let t = net.time(until: 10) {
            net.role(ep(1, 0)) == .root && net.state(ep(1, 0)) == .forwarding && net.role(ep(2, 0)) == .designated
                && net.state(ep(2, 0)) == .forwarding
        }
        #expect(t == expected, "converged after \(t.map { "\($0) s" } ?? "more than 10 s") of simulated time")
    }

    @Test func topologyChangeFlushesTheOtherPorts() throws {
        let (net, _, _, ac) = try triangle()
        net.run(seconds: 10)
        net.flushes.removeAll()
        try net.cut(ac)
        // C detects the change on its new root port and flushes its other ports; B hears TC on
        // B.1 and flushes B.0; A hears TC on A.0 and flushes A.1 (down, but flushed all the same).
        #expect(net.flushes.contains(ep(2, 1)))
        #expect(net.flushes.contains(ep(1, 0)))
        #expect(net.flushes.contains(ep(0, 1)))
        #expect(net.events.contains { $0.bridge == 2 && $0.event == .topologyChange(port: 0) })
        #expect(net.sent[ep(2, 0), default: []].contains { $0.flags.contains(.topologyChange) })
        // TC lasts Hello Time + 1 s on RSTP ports, then stops.
        #expect(net.status(2).topologyChange)
        net.run(seconds: 4)
        #expect(!net.status(0).topologyChange && !net.status(1).topologyChange && !net.status(2).topologyChange)
    }

    @Test func legacySTPNeighbourMakesThePortMigrateAndUseForwardDelay() throws {
        let net = Network()
        try net.addBridge()                                  // A: RSTP, will be root
        try net.addBridge { $0.protocolVersion = .stp }      // B: forced to 802.1D-1998 STP
        net.legacy = [1]                                     // ...and deaf to RST BPDUs, like a real one
        try net.connect(ep(0, 0), ep(1, 0))
        #expect(net.state(ep(0, 0)) == .discarding)
        // B's Configuration BPDUs (it thinks it is root) make A's port switch to STP after Migrate Time.
        let migrated = net.time(until: 10) { net.port(ep(0, 0))?.stpCompatible == true }
        #expect(migrated != nil && migrated! >= 3)
        #expect(net.events.contains { $0.bridge == 0 && $0.event == .protocolMigrated(port: 0, stpCompatible: true) })
        // A now sends Configuration BPDUs; B takes A as root.
        net.run(seconds: 2)
        #expect(net.sent[ep(0, 0), default: []].last?.kind == .configuration)
        #expect(net.status(1).designatedRoot == net.status(0).bridgeId)
        // No agreement from an STP bridge: A's designated port goes through learning on timers.
        var learningAt: Timestamp?, forwardingAt: Timestamp?
        for _ in 0..<600 where forwardingAt == nil {
            net.step()
            if learningAt == nil && net.state(ep(0, 0)) == .learning { learningAt = net.now }
            if net.state(ep(0, 0)) == .forwarding { forwardingAt = net.now }
        }
        let learned = try #require(learningAt), forwarded = try #require(forwardingAt)
        #expect(forwarded.milliseconds - learned.milliseconds >= 15_000, "a full Forward Delay in learning")
        #expect(net.state(ep(1, 0)) == .forwarding)
        net.run(seconds: 10)
        // STP-compatible TC: B's root port sends TCN when it starts forwarding, A acknowledges.
        #expect(net.sent[ep(1, 0), default: []].contains { $0.kind == .topologyChangeNotification })
        #expect(net.sent[ep(0, 0), default: []].contains { $0.flags.contains(.topologyChangeAck) })
        // mcheck tries RSTP again; the legacy neighbour drives the port back to STP.
        net.absorb(0, try net.bridges[0].migrationCheck(0, now: net.now))
        #expect(net.port(ep(0, 0))?.stpCompatible == false)
        net.run(seconds: 6)
        #expect(net.port(ep(0, 0))?.stpCompatible == true)
    }

    @Test func forcedSTPBridgesConvergeOnTimersOnly() throws {
        let net = Network()
        for _ in 0..<2 { try net.addBridge { $0.protocolVersion = .stp } }
        try net.connect(ep(0, 0), ep(1, 0))
        net.run(seconds: 14)
        #expect(net.state(ep(1, 0)) == .discarding)
        let t = net.time(until: 40) { net.state(ep(0, 0)) == .forwarding && net.state(ep(1, 0)) == .forwarding }
        #expect(t != nil)
        #expect(net.sent.values.joined().allSatisfy { $0.kind != .rst })
    }

    @Test func configurationChangesTakeEffect() throws {
        // Two bridges joined twice: B's port 0 is root port, port 1 alternate.
        let net = Network()
        try net.addBridge(); try net.addBridge()
        try net.connect(ep(0, 0), ep(1, 0))
        try net.connect(ep(0, 1), ep(1, 1))
        #expect(net.role(ep(1, 0)) == .root && net.role(ep(1, 1)) == .alternate)
        // A higher path cost on the root port moves the root port to the other link.
        var cost = SpanningTreePortConfiguration()
        cost.pathCost = .fixed(200_000)
        net.absorb(1, try net.bridges[1].setPortConfiguration(0, cost, now: net.now))
        net.deliver()
        #expect(net.role(ep(1, 1)) == .root && net.role(ep(1, 0)) == .alternate)
        #expect(net.state(ep(1, 1)) == .forwarding && net.state(ep(1, 0)) == .discarding)
        // A lower bridge priority makes B the root: A's ports turn root and alternate.
        var c = SpanningTreeBridgeConfiguration()
        c.priority = 4096
        net.absorb(1, try net.bridges[1].setConfiguration(c, now: net.now))
        net.deliver()
        #expect(net.status(1).isRoot && net.status(0).designatedRoot == net.status(1).bridgeId)
        #expect(net.role(ep(1, 0)) == .designated && net.role(ep(1, 1)) == .designated)
        // (Path cost counts where a port receives: B's 200,000 is B's own; A takes the lower port id.)
        #expect(net.role(ep(0, 0)) == .root && net.role(ep(0, 1)) == .alternate)
        #expect(net.events.contains { $0.bridge == 0 && $0.event == .newRoot(net.status(1).bridgeId) })
        // Forcing STP restarts the ports: Configuration BPDUs only, and A's ports follow to STP.
        c.protocolVersion = .stp
        net.absorb(1, try net.bridges[1].setConfiguration(c, now: net.now))
        net.sent.removeAll()
        net.run(seconds: 8)
        #expect(net.sent[ep(1, 0), default: []].allSatisfy { $0.kind == .configuration })
        #expect(net.port(ep(0, 0))?.stpCompatible == true)
        #expect(net.loopsSeen == 0)
        // Out-of-range values are refused and change nothing.
        c.forwardDelay = 3
        #expect(throws: SpanningTreeConfigurationError.forwardDelay(3)) { try net.bridges[1].setConfiguration(c, now: net.now) }
        #expect(net.bridges[1].configuration.forwardDelay == 15)
    }

    @Test func thousandAndTwentyFourPortIndices() throws {
        let b = try SpanningTreeBridge(address: MACAddress(rawValue: 0x0200_0000_0100), now: Timestamp(milliseconds: 0))
        let t = Timestamp(milliseconds: 0)
        try b.addPort(1023, address: MACAddress(rawValue: 0x0200_0000_0101), now: t)
        #expect(b.status().ports.first?.portId == PortIdentifier(priority: 128, number: 1024))
        #expect(throws: SpanningTreeConfigurationError.portIndex(1024)) {
            try b.addPort(1024, address: MACAddress(rawValue: 0x0200_0000_0102), now: t)
        }
        #expect(throws: SpanningTreeConfigurationError.portExists(1023)) {
            try b.addPort(1023, address: MACAddress(rawValue: 0x0200_0000_0102), now: t)
        }
        // Ports come and go: a removed root port reroots at once.
        let net = Network()
        try net.addBridge(); try net.addBridge()
        try net.connect(ep(0, 0), ep(1, 5))
        try net.connect(ep(0, 1), ep(1, 700))
        #expect(net.role(ep(1, 5)) == .root && net.role(ep(1, 700)) == .alternate)
        net.absorb(1, try net.bridges[1].removePort(5, now: net.now))
        net.links.removeFirst()
        net.deliver()
        #expect(net.role(ep(1, 700)) == .root && net.state(ep(1, 700)) == .forwarding)
        #expect(net.bridges[1].portIndices == [700])
    }
}
