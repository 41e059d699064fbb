// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Random meshes of bridges (seeded, so every failure replays): after links are cut and
// restored at random, the tree must settle into what 802.1D promises: in each connected part,
// one root (the lowest bridge id), and the links forwarding at both ends form a spanning tree
// of that part (connected, no cycle); every non-root bridge has exactly one root port.
//
// No forwarding loop may appear while it converges either, except after a change that cuts
// bridges off from their root: then stale root information circulates until its Message Age
// reaches Max Age (RSTP's known count-to-infinity, 802.1D-2004 has no cure for it), and a
// transient loop is possible; it must be gone when the part settles.

import Testing
import BridgeCore
@testable import SpanningTree

/// SplitMix64: a small deterministic generator for test scenarios.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RandomTopologyTests {
    @Test(arguments: 1...40)
    func randomMeshSettlesIntoASpanningTree(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        let net = Network()
        let bridgeCount = Int.random(in: 3...6, using: &rng)
        for _ in 0..<bridgeCount {
            let priority = UInt16(Int.random(in: 0...15, using: &rng) * 4096)
            let stp = Int.random(in: 0..<8, using: &rng) == 0
            try net.addBridge { $0.priority = priority; if stp { $0.protocolVersion = .stp } }
        }
        var nextPort = [Int](repeating: 0, count: bridgeCount)
        let linkCount = Int.random(in: bridgeCount...(bridgeCount * 2), using: &rng)
        for _ in 0..<linkCount {
            let a = Int.random(in: 0..<bridgeCount, using: &rng)
            var b = Int.random(in: 0..<bridgeCount, using: &rng)
            if b == a && Int.random(in: 0..<3, using: &rng) != 0 { b = (a + 1) % bridgeCount }  // a few self-loops
            let pa = nextPort[a]; nextPort[a] += 1
            let pb = nextPort[b]; nextPort[b] += 1
            try net.connect(ep(a, pa), ep(b, pb))
        }
        net.run(seconds: 60)
        try check(net, "after start")
        #expect(net.loopsSeen == 0, "a forwarding loop while the mesh first converged")
        for round in 0..<6 {
            let link = Int.random(in: 0..<net.links.count, using: &rng)
            let rootsBefore = (0..<bridgeCount).map { net.status($0).designatedRoot }
            let loopsBefore = net.loopsSeen
            if net.links[link].up { try net.cut(link) } else { try net.restore(link) }
            let cutOff = (0..<bridgeCount).contains { b in
                guard let root = (0..<bridgeCount).first(where: { net.status($0).bridgeId == rootsBefore[b] }) else { return false }
                return !connected(net, b, root)
            }
            net.run(seconds: 60)
            try check(net, "after change \(round) (link \(link))")
            if !cutOff { #expect(net.loopsSeen == loopsBefore, "a forwarding loop after change \(round), no bridge cut off from its root") }
            // Settled: no loop now, whatever happened on the way.
            #expect(!net.hasForwardingLoop())
        }
    }

    func connected(_ net: Network, _ a: Int, _ b: Int) -> Bool {
        var seen: Set<Int> = [a], stack = [a]
        while let x = stack.popLast() {
            if x == b { return true }
            for l in net.links where l.up {
                for (u, v) in [(l.a.bridge, l.b.bridge), (l.b.bridge, l.a.bridge)] where u == x && !seen.contains(v) {
                    seen.insert(v); stack.append(v)
                }
            }
        }
        return false
    }

    func check(_ net: Network, _ when: String) throws {
        let n = net.bridges.count
        // Connected parts over the links that are up.
        var part = Array(0..<n)
        func find(_ x: Int) -> Int { var x = x; while part[x] != x { x = part[x] }; return x }
        for l in net.links where l.up { part[find(l.a.bridge)] = find(l.b.bridge) }
        var members: [Int: [Int]] = [:]
        for b in 0..<n { members[find(b), default: []].append(b) }
        for (_, bridges) in members {
            let lowest = bridges.map { net.status($0).bridgeId }.min()
            for b in bridges {
                let s = net.status(b)
                #expect(s.designatedRoot == lowest, "\(when): bridge \(b) has root \(s.designatedRoot), lowest is \(String(describing: lowest))")
                let rootPorts = s.ports.filter { $0.role == .root }.count
                #expect(rootPorts == (s.isRoot ? 0 : 1), "\(when): bridge \(b) has \(rootPorts) root ports")
                for p in s.ports where [.alternate, .backup, .disabled].contains(p.role) {
                    #expect(p.state == .discarding, "\(when): b\(b).p\(p.index) is \(p.role) but \(p.state)")
                }
            }
            // The forwarding links of this part: a spanning tree (|bridges| − 1 links, no cycle).
            var tree = Array(0..<n)
            func root(_ x: Int) -> Int { var x = x; while tree[x] != x { x = tree[x] }; return x }
            var edges = 0
            for l in net.links where l.up && bridges.contains(l.a.bridge)
                && net.state(l.a) == .forwarding && net.state(l.b) == .forwarding {
                let (ra, rb) = (root(l.a.bridge), root(l.b.bridge))
                #expect(ra != rb, "\(when): forwarding loop through \(l.a)–\(l.b)")
                tree[ra] = rb
                edges += 1
            }
            #expect(edges == bridges.count - 1, "\(when): \(edges) forwarding links for \(bridges.count) bridges")
        }
        #expect(!net.events.contains { $0.event == .iterationLimit }, "\(when): the state machines did not settle")
    }
}
