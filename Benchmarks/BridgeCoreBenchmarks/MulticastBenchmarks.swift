// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The per-frame multicast path the engine will run (docs/ARCHITECTURE.md, "Multicast snooping"):
// classify a multicast frame, and for group data read the VLAN's snooping state, the group's
// members and the router ports into preallocated words. Must report 0 mallocs and take no lock.
import Benchmark
import BridgeCore

/// 256 frames in one buffer, a full 4,096-group table, and the engine's destination words.
final class MulticastFixture: @unchecked Sendable {
    let table = MulticastGroupTable()
    let storage: UnsafeMutableRawPointer
    let frames: [UnsafeRawBufferPointer]
    let words = UnsafeMutablePointer<UInt64>.allocate(capacity: MulticastGroupTable.wordsPerSet)

    init(mixed: Bool) {
        for i in 0..<MulticastGroupTable.defaultMaxGroups {
            try! table.setMembers(vlan: 1, group: MulticastGroup(ipv4: 0xEF00_0000 | UInt32(i)), MulticastPortSet([i % 8, 8 + i % 3]))
        }
        table.setRouterPorts(vlan: 1, MulticastPortSet([7]))
        table.setSnoopingActive(vlan: 1, ipv6: false, true)
        storage = .allocate(byteCount: 256 * 128, alignment: 64)
        var views: [UnsafeRawBufferPointer] = []
        var rng = SplitMix(seed: 11)
        for i in 0..<256 {
            let group = UInt32(0xEF00_0000) | UInt32(rng.next() % 4_096)
            var dst = group, proto: UInt8 = 17, etype: UInt16 = 0x0800
            if mixed {
                switch i % 4 {
                case 1: dst = 0xE000_00FB  // mDNS: link-local
                case 2: proto = 2  // IGMP: to the snooper
                case 3: etype = 0x88B5  // not IP
                default: break
                }
            }
            var f = MulticastGroup(ipv4: dst).ethernetAddress.octets + station(i).octets + [UInt8(etype >> 8), UInt8(etype & 0xFF)]
            f += [0x45, 0, 0, 46, 0, 0, 0, 0, 1, proto, 0, 0, 198, 18, 0, 1]
            f += (0..<4).map { UInt8(truncatingIfNeeded: dst >> (24 - 8 * $0)) }
            f += [0x16, 0, 0, 0, 0, 0, 0, 0] + Array(repeating: 0, count: 18)
            let at = storage + i * 128
            f.withUnsafeBytes { at.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            views.append(UnsafeRawBufferPointer(start: at, count: f.count))
        }
        frames = views
    }

    /// One frame as the engine would handle it: the delivery words (1 word: a 64-port bridge).
    @inline(__always)
    func deliver(_ frame: UnsafeRawBufferPointer) -> UInt64 {
        guard case .success(let h) = FrameHeader.parsed(frame) else { return 0 }
        let c = MulticastClassifier.classify(etherType: h.etherType, payload: UnsafeRawBufferPointer(rebasing: frame[h.payloadOffset...]))
        switch c.kind {
        case .routable:
            guard table.isSnoopingActive(vlan: 1, ipv6: c.group.isIPv6) else { return ~0 }
            words[0] = 0
            _ = table.members(vlan: 1, group: c.group, into: words, wordCount: 1)
            table.formUnionWithRouterPorts(vlan: 1, into: words, wordCount: 1)
            return words[0]
        case .report:
            return 1 << 7
        case .control, .linkLocal, .other:
            return ~0
        }
    }
}

func multicastBenchmarks() {
    let data = MulticastFixture(mixed: false)
    Benchmark("Multicast classify + MDB lookup, 256 group-data frames (4,096 groups)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let locks = data.table.writerLockAcquisitions
        for _ in benchmark.scaledIterations {
            var acc: UInt64 = 0
            for f in data.frames { acc ^= data.deliver(f) }
            blackHole(acc)
        }
        precondition(data.table.writerLockAcquisitions == locks, "a lookup took the table's lock")
    }
    let mixed = MulticastFixture(mixed: true)
    Benchmark("Multicast classify, 256 mixed frames (group data, link-local, IGMP, non-IP)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            var acc: UInt64 = 0
            for f in mixed.frames { acc ^= mixed.deliver(f) }
            blackHole(acc)
        }
    }
}

// MARK: - What snooping costs frames that are not multicast

/// `knownUnicastFixture` (1,000 stations, 4 ports) with snooping configured or not. With it,
/// the engine holds a full 4,096-group MDB whose snooping is active (a querier present): the
/// worst case for a unicast frame, which must still pay only the destination's group-bit test.
func knownUnicastFixture(snooping: Bool) -> BatchFixture {
    let known = 1_000, ports = 4
    let table = MACTable(configuration: .init(maxLearned: 1024))
    for i in 0..<known { _ = table.learn(station(i), port: i % ports, now: Timestamp(milliseconds: 1_000)) }
    var config = BridgeConfiguration(ports: (0..<ports).map { PortConfiguration(name: "p\($0)") })
    config.multicastSnooping = snooping
    var mdb: MulticastGroupTable? = nil
    if snooping {
        let t = MulticastGroupTable()
        for i in 0..<MulticastGroupTable.defaultMaxGroups {
            try! t.setMembers(vlan: 0, group: MulticastGroup(ipv4: 0xEF00_0000 | UInt32(i)), MulticastPortSet([i % ports]))
        }
        t.setSnoopingActive(vlan: 0, ipv6: false, true)
        t.setSnoopingActive(vlan: 0, ipv6: true, true)
        mdb = t
    }
    let engine = try! ForwardingEngine(table: table, configuration: config, multicastTable: mdb)
    var rng = SplitMix(seed: 42)  // the same frames as "Engine batch of 256, known unicast, 1,000 MACs"
    var raw: [([UInt8], Int)] = []
    while raw.count < 256 {
        let s = Int(rng.next() % UInt64(known)), d = Int(rng.next() % UInt64(known))
        if s % ports == d % ports { continue }
        raw.append((frameBytes(dst: station(d), src: station(s)), s % ports))
    }
    return BatchFixture(engine: engine, frames: raw)
}

func snoopingOverheadBenchmarks() {
    let off = knownUnicastFixture(snooping: false)
    Benchmark("Engine batch of 256, known unicast, snooping off", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { off.run() }
    }
    let on = knownUnicastFixture(snooping: true)
    Benchmark("Engine batch of 256, known unicast, snooping on (4,096 groups, querier present)",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { on.run() }
    }
}
