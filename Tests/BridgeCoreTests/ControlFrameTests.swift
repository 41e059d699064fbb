// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The engine's side of the control plane: spanning-tree port states (discarding, learning,
// forwarding) gating learning and forwarding, BPDUs punted only with a spanning tree, and the
// ControlFrameQueue that carries punted frames to the control-plane thread.

import Synchronization
import Testing
@testable import BridgeCore

@Suite struct SpanningTreeGateTests {
    let a = station(0xA), b = station(0xB), c = station(0xC)
    let stpGroup = mac("01:80:c2:00:00:00")

    func config(_ gates: [SpanningTreeGate], stp: Bool = true) -> BridgeConfiguration {
        var cfg = BridgeConfiguration(ports: ports(gates.count) { i, p in p.spanningTree = gates[i] })
        cfg.spanningTree = stp
        return cfg
    }

    @Test func discardingPortsNeitherLearnNorForwardNorReceiveFloods() {
        let e = makeEngine(config([.forwarding, .forwarding, .discarding]))
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 0).action == .flood(PortSet([1])), "no flood to a discarding port")
        #expect(decide(e, frame(dst: .broadcast, src: c), port: 2).action == .drop(.stpDiscarding))
        #expect(e.table.lookup(c) == nil, "a discarding port learns nothing")
        // Known unicast toward a discarding port is blocked, as to a disabled one.
        try? e.table.addStatic(b, vlan: 0, port: 2)
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .drop(.egressBlocked))
        #expect(e.counters.snapshot(port: 2).dropped(.stpDiscarding) == 1)
    }

    @Test func learningPortsLearnButForwardNothing() {
        let e = makeEngine(config([.forwarding, .learning, .forwarding]))
        #expect(decide(e, frame(dst: .broadcast, src: b), port: 1).action == .drop(.stpLearning))
        #expect(e.table.lookup(b) == 1, "a learning port learns")
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 0).action == .flood(PortSet([2])), "no flood to a learning port")
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .drop(.egressBlocked))
    }

    @Test func forwardingPortsAreUnaffected() {
        let e = makeEngine(config([.forwarding, .forwarding, .forwarding]))
        let plain = makeEngine(BridgeConfiguration(ports: ports(3)))
        for (dst, port) in [(MACAddress.broadcast, 0), (b, 0), (a, 1), (b, 0)] {
            let f = frame(dst: dst, src: port == 0 ? a : b)
            #expect(decide(e, f, port: port) == decide(plain, f, port: port))
        }
    }

    @Test func bpdusArePuntedOnlyWithASpanningTreeAndNeverForwarded() {
        let bpdu = frame(dst: stpGroup, src: a, etherType: 0x0026)
        for gate in [SpanningTreeGate.discarding, .learning, .forwarding] {
            let e = makeEngine(config([gate, .forwarding]))
            let v = bpdu.withUnsafeBytes { e.decide(ReceivedFrame(bytes: $0, port: 0), now: Timestamp(milliseconds: 1)) }
            #expect(v.dropReason == .linkLocal && v.punt == .spanningTree, "a \(gate) port hands BPDUs to the tree")
        }
        let off = makeEngine(config([.forwarding, .forwarding], stp: false))
        let v = bpdu.withUnsafeBytes { off.decide(ReceivedFrame(bytes: $0, port: 0), now: Timestamp(milliseconds: 1)) }
        #expect(v.dropReason == .linkLocal && v.punt == PuntKind.none, "without a tree BPDUs are dropped, as before")
        // Other link-local groups are never punted to the tree.
        let lldp = frame(dst: mac("01:80:c2:00:00:0e"), src: a)
        let e = makeEngine(config([.forwarding, .forwarding]))
        let w = lldp.withUnsafeBytes { e.decide(ReceivedFrame(bytes: $0, port: 0), now: Timestamp(milliseconds: 1)) }
        #expect(w.punt == PuntKind.none)
    }

    @Test func thePassCopiesPuntedFramesAndCountsAFullQueue() throws {
        let cfg = config([.forwarding, .discarding])
        let mp = [MemoryPort(name: "p0"), MemoryPort(name: "p1")]
        let woken = Atomic<Int>(0)
        let q = ControlFrameQueue(capacity: 2) { woken.add(1, ordering: .relaxed) }
        let f = ForwardingPass(engine: makeEngine(cfg), ports: mp, controlFrames: q)
        let bpdu = frame(dst: stpGroup, src: b, etherType: 0x0026)
        for _ in 0..<3 { try mp[1].inject(bpdu) }
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 1))
        #expect(mp[0].sent.isEmpty, "a BPDU is never forwarded")
        let c1 = f.engine.counters.snapshot(port: 1)
        #expect(c1.punted == 2 && c1.puntDropped == 1, "two fit the queue, the third is counted: \(c1)")
        #expect(woken.load(ordering: .relaxed) == 1, "one wake-up for the burst")
        var got: [(Int, [UInt8])] = []
        q.drain { bytes, port, _, kind in
            #expect(kind == .spanningTree)
            got.append((port, Array(bytes)))
        }
        #expect(got.count == 2 && got.allSatisfy { $0.0 == 1 && $0.1 == bpdu })
        try mp[1].inject(bpdu)
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 2))
        #expect(woken.load(ordering: .relaxed) == 2, "the next frame after a drain wakes the consumer again")
    }
}

@Suite struct ControlFrameQueueTests {
    @Test func refusesFramesLongerThanASlot() {
        let q = ControlFrameQueue(capacity: 4)
        let big = [UInt8](repeating: 1, count: ControlFrameQueue.slotSize + 1)
        #expect(!big.withUnsafeBytes { q.offer($0, port: 0, vlan: 0, kind: .multicast) })
        #expect(q.count == 0)
    }

    @Test func aProducerAndAConsumerOnTwoThreadsLoseAndReorderNothing() async {
        let q = ControlFrameQueue(capacity: 8)
        let total = 20_000
        let producer = Task.detached {
            var sent = 0
            var n: UInt32 = 0
            while sent < total {
                let ok = withUnsafeBytes(of: n) { q.offer($0, port: Int(n % 7), vlan: UInt16(n % 4095), kind: .multicast) }
                if ok {
                    sent += 1
                    n += 1
                } else {
                    await Task.yield()
                }
            }
        }
        var expected: UInt32 = 0
        var bad = 0
        while expected < total {
            q.drain { bytes, port, vlan, _ in
                let v = bytes.loadUnaligned(as: UInt32.self)
                if v != expected || port != Int(v % 7) || vlan != UInt16(v % 4095) { bad += 1 }
                expected += 1
            }
            await Task.yield()
        }
        await producer.value
        #expect(bad == 0 && expected == UInt32(total))
    }
}
