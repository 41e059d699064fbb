// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Testing
@testable import BridgeCore

@Suite struct ForwarderTests {
    let a = station(0xA), b = station(0xB), c = station(0xC)

    func bridge(_ n: Int, _ config: (inout BridgeConfiguration) -> Void = { _ in }) -> (ForwardingPass, [MemoryPort]) {
        var cfg = BridgeConfiguration(ports: ports(n))
        config(&cfg)
        let mp = (0..<n).map { MemoryPort(name: "p\($0)") }
        let f = ForwardingPass(engine: makeEngine(cfg), ports: mp)
        return (f, mp)
    }

    @Test func walkThrough() throws {
        // The classic scenario in memory: a talks to b; c sees the first (unknown) frame only.
        let (f, p) = bridge(3)
        let ab = frame(dst: b, src: a)
        try p[0].inject(ab)
        #expect(f.runOnce(ready: .all, now: Timestamp(milliseconds: 1)) == 1)
        #expect(p[1].sent == [ab] && p[2].sent == [ab] && p[0].sent.isEmpty)
        try p[1].inject(frame(dst: a, src: b))
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 2))
        #expect(p[0].sent.count == 1 && p[2].sent.count == 1)
        try p[0].inject(ab)
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 3))
        #expect(p[1].sent.count == 2 && p[2].sent.count == 1, "known now: c no longer sees a->b")
        let s0 = f.engine.counters.snapshot(port: 0)
        #expect(s0.rxFrames == 2 && s0.flooded == 1 && s0.forwarded == 1)
        #expect(f.engine.counters.snapshot(port: 1).txFrames == 2)
    }

    @Test("1,024 ports: a broadcast reaches each other port once, unicast goes between the first and the last, isolation and VLANs hold across words")
    func thousandPorts() throws {
        let n = PortSet.capacity
        let (f, p) = bridge(n) { c in
            c.vlanFiltering = true
            for i in [70, 700] { c.ports[i].flags.insert(.isolated) }
            for i in [71, 1000] {  // VLAN 20 only
                c.ports[i].pvid = 20
                c.ports[i].vlans = VLANSet([20])
                c.ports[i].untaggedVLANs = VLANSet([20])
            }
        }
        let first = station(1), last = station(2)
        try p[0].inject(frame(dst: .broadcast, src: first))
        #expect(f.runOnce(ready: PortSet(port: 0), now: Timestamp(milliseconds: 1)) == 1)
        for i in 1..<n { #expect(p[i].sent.count == (i == 71 || i == 1000 ? 0 : 1), "port \(i)") }
        #expect(p[0].sent.isEmpty)
        // The last port answers: known unicast to port 0 only; then 0 -> 1023 is known too.
        try p[n - 1].inject(frame(dst: first, src: last))
        f.runOnce(ready: PortSet(port: n - 1), now: Timestamp(milliseconds: 2))
        #expect(p[0].sent.count == 1)
        try p[0].inject(frame(dst: last, src: first))
        f.runOnce(ready: PortSet(port: 0), now: Timestamp(milliseconds: 3))
        #expect(p[n - 1].sent.count == 2 && p[1].sent.count == 1, "known now: only the last port")
        // An isolated port (70) floods to everyone but the other isolated one (700).
        try p[70].inject(frame(dst: .broadcast, src: station(3)))
        f.runOnce(ready: PortSet(port: 70), now: Timestamp(milliseconds: 4))
        #expect(p[700].sent.count == 1 && p[699].sent.count == 2 && p[0].sent.count == 2)
        // VLAN 20 spans words 1 and 15: a broadcast from 71 reaches 1000 only.
        try p[71].inject(frame(dst: .broadcast, src: station(4)))
        f.runOnce(ready: PortSet(port: 71), now: Timestamp(milliseconds: 5))
        #expect(p[1000].sent.count == 1 && p[999].sent.count == 2)
        let d = decide(f.engine, frame(dst: .broadcast, src: station(4)), port: 71, now: 6)
        #expect(d.action == .flood(PortSet([1000])) && d.untagged == PortSet([1000]))
    }

    @Test("with more ready ports than a batch has room for, every port gets its turn")
    func readyPortsTakeTurns() throws {
        let (f, p) = bridge(600)
        for i in 0..<600 { try p[i].inject(frame(dst: station(0xFFFF), src: station(i + 1))) }
        var total = 0
        for k in 0..<10 where total < 600 { total += f.runOnce(ready: .all, now: Timestamp(milliseconds: UInt64(k + 1))) }
        #expect(total == 600, "every port's frame was read within a few passes")
        #expect((0..<600).allSatisfy { p[$0].pendingCount == 0 })
    }

    @Test func vlanEncodingsAppliedOnTheWire() throws {
        let (f, p) = bridge(2) { c in
            c.vlanFiltering = true
            c.ports[0].pvid = 10
            c.ports[0].vlans = VLANSet([10])
            c.ports[0].untaggedVLANs = VLANSet([10])
            c.ports[1].pvid = nil
            c.ports[1].vlans = VLANSet([10])
            c.ports[1].untaggedVLANs = VLANSet()
        }
        let untagged = frame(dst: .broadcast, src: a)
        try p[0].inject(untagged)
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 1))
        #expect(p[1].sent == [frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 10)])])
        try p[1].inject(frame(dst: a, src: b, tags: [VLANTag(vid: 10, pcp: 2)]))
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 2))
        #expect(p[0].sent == [frame(dst: a, src: b)], "tag stripped on the access port")
    }

    @Test func fullBatchesAndFairShares() throws {
        let (f, p) = bridge(3)
        for i in 0..<300 { try p[0].inject(frame(dst: .broadcast, src: station(1000 + i))) }
        for i in 0..<10 { try p[1].inject(frame(dst: .broadcast, src: station(2000 + i))) }
        let first = f.runOnce(ready: .all, now: Timestamp(milliseconds: 1))
        #expect(first == 256 / 3 + 10, "each ready port gets a share of the batch")
        #expect(p[1].pendingCount == 0)
        var total = first
        while p[0].pendingCount > 0 { total += f.runOnce(ready: .all, now: Timestamp(milliseconds: 2)) }
        #expect(total == 310 && p[2].sent.count == 310)
    }

    @Test func transmitShortfallIsCountedAndDetachedPortsDropQuietly() throws {
        let (f, p) = bridge(3)
        p[1].transmitLimit = 2
        for i in 0..<5 { try p[0].inject(frame(dst: .broadcast, src: station(i + 1))) }
        f.setPort(2, nil)
        f.runOnce(ready: .all, now: Timestamp(milliseconds: 1))
        let c1 = f.engine.counters.snapshot(port: 1), c2 = f.engine.counters.snapshot(port: 2)
        #expect(c1.txFrames == 2 && c1.txDropped == 3 && c1.txBytes == 120)
        #expect(c2.txFrames == 0 && c2.txDropped == 5)
    }

    @Test func memoryPortRefusesOversizeAndOverflow() throws {
        let p = MemoryPort(name: "m", slotCount: 2, slotSize: 64)
        #expect(throws: MemoryPort.InjectError.tooLarge(65)) { try p.inject(Array(repeating: 0, count: 65)) }
        try p.inject(frame(dst: a, src: b, payload: 10))
        try p.inject(frame(dst: a, src: b, payload: 10))
        #expect(throws: MemoryPort.InjectError.full) { try p.inject(frame(dst: a, src: b, payload: 10)) }
    }
}
