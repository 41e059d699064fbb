// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// An in-memory network of spanning tree bridges for tests: links join two ports, every BPDU a
// bridge transmits is delivered to the port at the other end (FIFO, until none is left), and
// time is the test's: `run(seconds:)` advances a simulated clock in 100 ms steps, ticking
// every bridge. No sockets, no real time.

import Testing
import BridgeCore
@testable import SpanningTree

struct Endpoint: Hashable, CustomStringConvertible {
    var bridge: Int
    var port: Int
    var description: String { "b\(bridge).p\(port)" }
}

final class Network {
    var now = Timestamp(milliseconds: 1_000_000)
    var bridges: [SpanningTreeBridge] = []
    var links: [(a: Endpoint, b: Endpoint, up: Bool)] = []
    /// Drops RST BPDUs to these bridges, as an 802.1D-1998 bridge does not know type 0x02.
    var legacy: Set<Int> = []
    var states: [Endpoint: SpanningTreePortState] = [:]
    var flushes: [Endpoint] = []
    var events: [(bridge: Int, event: SpanningTreeEvent)] = []
    var sent: [Endpoint: [BPDU]] = [:]
    var deliveries = 0
    /// Every state change as it was reported, in order.
    var history: [(Endpoint, SpanningTreePortState)] = []
    /// Inputs after which the forwarding links formed a cycle (a loop frames could circle).
    var loopsSeen = 0
    private var queue: [(to: Endpoint, frame: [UInt8])] = []

    /// A bridge with address 02:00:00:00:NN:00 (NN = its number + 1).
    @discardableResult
    func addBridge(_ configure: (inout SpanningTreeBridgeConfiguration) -> Void = { _ in }) throws -> Int {
        var c = SpanningTreeBridgeConfiguration()
        configure(&c)
        let n = bridges.count
        bridges.append(try SpanningTreeBridge(address: Self.address(bridge: n), configuration: c, now: now))
        return n
    }

    static func address(bridge: Int, port: Int? = nil) -> MACAddress {
        MACAddress(rawValue: 0x0200_0000_0000 | UInt64(bridge + 1) << 8 | UInt64(port.map { $0 + 1 } ?? 0))
    }

    func addPort(_ e: Endpoint, _ configure: (inout SpanningTreePortConfiguration) -> Void = { _ in }) throws {
        var c = SpanningTreePortConfiguration()
        configure(&c)
        absorb(e.bridge, try bridges[e.bridge].addPort(e.port, address: Self.address(bridge: e.bridge, port: e.port), configuration: c, now: now))
    }

    /// Joins two ports (adding them if needed) and brings both links up.
    @discardableResult
    func connect(_ a: Endpoint, _ b: Endpoint, pointToPoint: Bool = true) throws -> Int {
        for e in [a, b] where !bridges[e.bridge].portIndices.contains(e.port) { try addPort(e) }
        links.append((a, b, true))
        absorb(a.bridge, try bridges[a.bridge].setLink(a.port, up: true, pointToPoint: pointToPoint, megabitsPerSecond: 1000, now: now))
        absorb(b.bridge, try bridges[b.bridge].setLink(b.port, up: true, pointToPoint: pointToPoint, megabitsPerSecond: 1000, now: now))
        deliver()
        return links.count - 1
    }

    /// Takes a link down (both ends see it at once, as veth peers do).
    func cut(_ link: Int) throws {
        links[link].up = false
        for e in [links[link].a, links[link].b] {
            absorb(e.bridge, try bridges[e.bridge].setLink(e.port, up: false, now: now))
        }
        deliver()
    }

    func restore(_ link: Int) throws {
        links[link].up = true
        for e in [links[link].a, links[link].b] {
            absorb(e.bridge, try bridges[e.bridge].setLink(e.port, up: true, pointToPoint: true, megabitsPerSecond: 1000, now: now))
        }
        deliver()
    }

    func peer(of e: Endpoint) -> Endpoint? {
        for l in links where l.up {
            if l.a == e { return l.b }
            if l.b == e { return l.a }
        }
        return nil
    }

    func absorb(_ bridge: Int, _ out: SpanningTreeOutput) {
        for change in out.stateChanges {
            states[Endpoint(bridge: bridge, port: change.port)] = change.state
            history.append((Endpoint(bridge: bridge, port: change.port), change.state))
        }
        if !out.stateChanges.isEmpty && hasForwardingLoop() { loopsSeen += 1 }
        for port in out.flushes { flushes.append(Endpoint(bridge: bridge, port: port)) }
        for event in out.events { events.append((bridge, event)) }
        for tx in out.transmissions {
            let from = Endpoint(bridge: bridge, port: tx.port)
            if let bpdu = try? BPDU.parse(frame: tx.frame) { sent[from, default: []].append(bpdu) }
            guard let to = peer(of: from) else { continue }
            if legacy.contains(to.bridge), tx.frame.count > 17, tx.frame[17 + 3] == BPDU.Kind.rst.rawValue { continue }
            queue.append((to, tx.frame))
        }
    }

    /// Delivers queued BPDUs until none is left (bounded: a BPDU storm fails the test).
    func deliver() {
        var budget = 100_000
        while !queue.isEmpty && budget > 0 {
            let (to, frame) = queue.removeFirst()
            budget -= 1
            deliveries += 1
            // A frame in flight when its link went down is lost.
            guard peer(of: to) != nil else { continue }
            absorb(to.bridge, bridges[to.bridge].receive(frame: frame, port: to.port, now: now))
        }
        #expect(budget > 0, "BPDUs kept flowing: no convergence")
    }

    /// Advances simulated time in 100 ms steps, ticking every bridge and delivering.
    func run(seconds: Double) {
        let steps = Int(seconds * 10)
        for _ in 0..<steps { step() }
    }

    func step() {
        now = now.adding(milliseconds: 100)
        for (i, b) in bridges.enumerated() { absorb(i, b.tick(now: now)) }
        deliver()
    }

    /// Steps until `condition` holds; returns the simulated seconds it took (nil: not within `limit` s).
    func time(until limit: Double, _ condition: () -> Bool) -> Double? {
        let start = now
        while !condition() {
            if Double(now.milliseconds - start.milliseconds) / 1000 >= limit { return nil }
            step()
        }
        return Double(now.milliseconds - start.milliseconds) / 1000
    }

    /// True if the links whose two ends both forward contain a cycle (union-find over bridges;
    /// a link from a bridge to itself is a cycle on its own).
    func hasForwardingLoop() -> Bool {
        var parent = Array(0..<bridges.count)
        func find(_ x: Int) -> Int { var x = x; while parent[x] != x { x = parent[x] }; return x }
        for l in links where l.up && state(l.a) == .forwarding && state(l.b) == .forwarding {
            let (ra, rb) = (find(l.a.bridge), find(l.b.bridge))
            if ra == rb { return true }
            parent[ra] = rb
        }
        return false
    }

    func state(_ e: Endpoint) -> SpanningTreePortState { bridges[e.bridge].state(ofPort: e.port) }
    func role(_ e: Endpoint) -> PortRole? { bridges[e.bridge].role(ofPort: e.port) }
    func status(_ b: Int) -> SpanningTreeStatus { bridges[b].status() }
    func port(_ e: Endpoint) -> SpanningTreeStatus.Port? { status(e.bridge).ports.first { $0.index == e.port } }
}

func ep(_ bridge: Int, _ port: Int) -> Endpoint { Endpoint(bridge: bridge, port: port) }
