// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

@testable import BridgeCore
import Foundation
import Synchronization
import Testing

@Suite struct MulticastGroupTests {
    @Test func parsingAndText() {
        #expect(MulticastGroup(parsing: "239.1.1.1") == MulticastGroup(ipv4: 0xEF01_0101))
        #expect(MulticastGroup(parsing: "ff0e::1:1") == MulticastGroup(ipv6High: 0xFF0E_0000_0000_0000, low: 0x0001_0001))
        for text in ["239.1.1.1", "ff0e::1:1", "ff02::1", "ff05::1:3", "2001:db8::", "::", "ff02:0:0:0:1::1", "1:2:3:4:5:6:7:8"] {
            #expect(MulticastGroup(parsing: text)?.description == (text == "ff02:0:0:0:1::1" ? "ff02::1:0:0:1" : text))
        }
        for bad in ["239.1.1", "256.1.1.1", "ff0e::1::1", "1:2:3:4:5:6:7:8:9", "fffff::", "x"] {
            #expect(MulticastGroup(parsing: bad) == nil, "\(bad)")
        }
        #expect(MulticastGroup(parsing: "224.0.0.251")!.isLinkLocal)
        #expect(!MulticastGroup(parsing: "239.1.1.1")!.isLinkLocal)
        #expect(MulticastGroup(parsing: "ff02::fb")!.isLinkLocal)
        #expect(!MulticastGroup(parsing: "ff0e::1:1")!.isLinkLocal)
        #expect(MulticastGroup(parsing: "239.129.1.1")!.ethernetAddress == MACAddress(rawValue: 0x0100_5E01_0101), "23 bits: 32 groups per MAC")
        #expect(MulticastGroup(parsing: "ff0e::1:1")!.ethernetAddress == MACAddress(rawValue: 0x3333_0001_0001))
    }

    @Test func portSet() {
        var s = MulticastPortSet([0, 63, 64, 1023, 1024, -1])
        #expect(s.ports == [0, 63, 64, 1023])
        s.remove(63)
        #expect(s.contains(64) && !s.contains(63) && s.count == 3)
        #expect(MulticastPortSet().isEmpty)
    }
}

@Suite struct MulticastClassifierTests {
    func kind(_ f: [UInt8]) -> MulticastFrameClass {
        f.withUnsafeBytes { MulticastClassifier.classify(frame: $0) }
    }

    @Test func classifiesAsTheKernelSortsFrames() {
        #expect(kind(Packets.igmpv2Report("239.1.1.1")).kind == .report)
        #expect(kind(Packets.igmpv3Report([(2, "239.1.1.1", [])])).kind == .report)
        #expect(kind(Packets.igmpLeave("239.1.1.1")).kind == .control)
        #expect(kind(Packets.igmpQuery(src: "198.18.0.1")).kind == .control)
        #expect(kind(Packets.mldv1Report("ff0e::1:1")).kind == .report)
        #expect(kind(Packets.mldv2Report([(4, "ff0e::1:1", [])])).kind == .report)
        #expect(kind(Packets.mldDone("ff0e::1:1")).kind == .control)
        #expect(kind(Packets.mldQuery(src: "fe80::1")).kind == .control)
        let udp: [UInt8] = [0x13, 0x88, 0x13, 0x88, 0, 12, 0, 0, 1, 2, 3, 4]
        let data = kind(Packets.ipv4Frame(src: "198.18.0.1", dst: "239.1.1.1", proto: 17, payload: udp))
        #expect(data.kind == .routable && data.group == MulticastGroup(parsing: "239.1.1.1"))
        #expect(kind(Packets.ipv4Frame(src: "198.18.0.1", dst: "224.0.0.251", proto: 17, payload: udp)).kind == .linkLocal)
        #expect(kind(Packets.ipv4Frame(src: "198.18.0.1", dst: "224.0.0.13", proto: 103, payload: [0x20, 0, 0, 0])).kind == .control, "PIM hello")
        let data6 = kind(Packets.ipv6Frame(src: "fe80::1", dst: "ff0e::1:1", icmp: [128, 0, 0, 0, 0, 0, 0, 0], hopByHop: false))
        #expect(data6.kind == .routable && data6.group == MulticastGroup(parsing: "ff0e::1:1"))
        #expect(kind(Packets.ipv6Frame(src: "fe80::1", dst: "ff02::fb", icmp: [128, 0, 0, 0, 0, 0, 0, 0], hopByHop: false)).kind == .linkLocal)
        // Non-IP multicast, IP to a unicast address, runts: flooded.
        var arp = Packets.ethernet(dst: MACAddress(rawValue: 0x0100_5E00_0001), type: 0x0806) + [UInt8](repeating: 0, count: 28)
        #expect(kind(arp).kind == .other)
        arp = Packets.ethernet(dst: MACAddress(rawValue: 0x0100_5E00_0001), type: 0x0800) + [0x45, 0]
        #expect(kind(arp).kind == .other)
        #expect(kind(Packets.ipv4Frame(src: "198.18.0.1", dst: "198.18.0.2", proto: 17, payload: udp)).kind == .other)
        // Tagged frames classify the same.
        var tagged = Packets.igmpv2Report("239.1.1.1")
        tagged.insert(contentsOf: [0x81, 0x00, 0x00, 0x07], at: 12)
        #expect(kind(tagged).kind == .report)
    }

    @Test func everyPrefixClassifiesWithoutTrapping() {
        for f in [Packets.igmpv2Report("239.1.1.1"), Packets.mldv2Report([(4, "ff0e::1:1", [])]), Packets.mldQuery(src: "fe80::1")] {
            for n in 0...f.count {
                let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 1)
                defer { exact.deallocate() }
                if n > 0 { exact.copyBytes(from: f[0..<n]) }
                _ = MulticastClassifier.classify(frame: UnsafeRawBufferPointer(exact))
            }
        }
    }
}

@Suite struct MulticastGroupTableTests {
    func g(_ i: Int) -> MulticastGroup { MulticastGroup(ipv4: 0xEF00_0000 | UInt32(i)) }

    @Test func setLookupRemove() throws {
        let t = MulticastGroupTable(maxGroups: 16)
        var words = [UInt64](repeating: 0xDEAD, count: 16)
        let locks = t.writerLockAcquisitions
        #expect(!words.withUnsafeMutableBufferPointer { t.members(vlan: 1, group: g(1), into: $0.baseAddress!, wordCount: 16) })
        #expect(t.writerLockAcquisitions == locks, "a lookup takes no lock")
        #expect(words[0] == 0xDEAD, "a miss writes nothing")
        try t.setMembers(vlan: 1, group: g(1), MulticastPortSet([2, 700]))
        #expect(t.members(vlan: 1, group: g(1)) == MulticastPortSet([2, 700]))
        #expect(t.members(vlan: 2, group: g(1)) == nil, "the key includes the VLAN")
        #expect(t.members(vlan: 1, group: MulticastGroup(ipv6High: 0, low: g(1).low)) == nil, "and the family")
        // One word for a 64-port engine: only that word is written.
        words = [UInt64](repeating: 0xDEAD, count: 16)
        #expect(words.withUnsafeMutableBufferPointer { t.members(vlan: 1, group: g(1), into: $0.baseAddress!, wordCount: 1) })
        #expect(words[0] == 4 && words[1] == 0xDEAD)
        try t.setMembers(vlan: 1, group: g(1), MulticastPortSet([3]))
        #expect(t.members(vlan: 1, group: g(1)) == MulticastPortSet([3]))
        try t.setMembers(vlan: 1, group: g(1), MulticastPortSet())
        #expect(t.members(vlan: 1, group: g(1)) == nil)
        #expect(t.statistics.groups == 0 && t.statistics.inserted == 1 && t.statistics.removed == 1)
    }

    @Test func fullTableRefusesAndCounts() throws {
        let t = MulticastGroupTable(maxGroups: 8)
        for i in 0..<8 { try t.setMembers(vlan: 0, group: g(i), MulticastPortSet([i])) }
        #expect(throws: MulticastTableError.full(limit: 8)) { try t.setMembers(vlan: 0, group: g(99), MulticastPortSet([1])) }
        try t.setMembers(vlan: 0, group: g(3), MulticastPortSet([5]))  // an update needs no room
        #expect(t.statistics.refusedFull == 1 && t.statistics.groups == 8)
        #expect(t.entries().count == 8)
    }

    /// Random inserts and deletes in a small table (long chains, many wrap-arounds) against a
    /// dictionary: backward-shift deletion never loses an entry.
    @Test func matchesADictionaryModel() throws {
        let t = MulticastGroupTable(maxGroups: 32)  // 64 slots, load up to 1/2
        var model: [MulticastGroup: MulticastPortSet] = [:]
        var rng = SystemRandomNumberGenerator()
        for step in 0..<20_000 {
            let group = g(Int(rng.next() % 48))
            if rng.next() % 3 == 0 || model.count >= 32 {
                t.remove(vlan: 7, group: group)
                model[group] = nil
            } else {
                let set = MulticastPortSet([Int(rng.next() % 1024)])
                try t.setMembers(vlan: 7, group: group, set)
                model[group] = set
            }
            if step % 97 == 0 {
                for i in 0..<48 { #expect(t.members(vlan: 7, group: g(i)) == model[g(i)]) }
            }
        }
        #expect(t.statistics.groups == model.count)
        #expect(Set(t.entries().map(\.group)) == Set(model.keys))
    }

    /// The concurrency test's writer pattern, sequentially: the stable keys are never lost.
    @Test func fullTableChurnKeepsStableKeys() throws {
        let t = MulticastGroupTable(maxGroups: 64)
        let stable = 24, churn = 40
        for k in 0..<stable { try t.setMembers(vlan: 1, group: g(k), MulticastPortSet([k])) }
        var lost = 0
        for round in 0..<30_000 {
            let k = stable + round % churn
            if round % 3 == 2 { t.remove(vlan: 1, group: g(k)) } else { try? t.setMembers(vlan: 1, group: g(k), MulticastPortSet([k])) }
            for s in 0..<stable where t.members(vlan: 1, group: g(s)) == nil { lost += 1 }
            try? t.setMembers(vlan: 1, group: g(round % stable), MulticastPortSet([round % stable]))
        }
        #expect(lost == 0)
        #expect(t.entries().count == t.statistics.groups)
    }

    /// A miss counts only if no entry moved during the probe: with a deletion's shift under way
    /// (the move generation odd, as when the writer is paused mid-shift) a lookup that finds
    /// nothing answers "every port" instead of "not registered"; once the shift is over it misses.
    @Test func aMissDuringAShiftIsNotTrusted() throws {
        let t = MulticastGroupTable(maxGroups: 16)
        try t.setMembers(vlan: 1, group: g(1), MulticastPortSet([3]))
        var words = [UInt64](repeating: 0, count: 2)
        t.moveGeneration.store(1, ordering: .relaxed)
        #expect(words.withUnsafeMutableBufferPointer { t.members(vlan: 1, group: g(2), into: $0.baseAddress!, wordCount: 2) })
        #expect(words == [~0, ~0])
        #expect(t.members(vlan: 1, group: g(1)) == MulticastPortSet([3]), "hits need no generation check")
        t.moveGeneration.store(2, ordering: .relaxed)
        #expect(!words.withUnsafeMutableBufferPointer { t.members(vlan: 1, group: g(2), into: $0.baseAddress!, wordCount: 2) })
    }

    @Test func routerPortsAndActiveFlags() {
        let t = MulticastGroupTable()
        #expect(!t.isSnoopingActive(vlan: 5, ipv6: false))
        t.setSnoopingActive(vlan: 5, ipv6: false, true)
        #expect(t.isSnoopingActive(vlan: 5, ipv6: false) && !t.isSnoopingActive(vlan: 5, ipv6: true) && !t.isSnoopingActive(vlan: 4, ipv6: false))
        #expect(!t.isSnoopingActive(vlan: 4095, ipv6: false) && !t.isSnoopingActive(vlan: 9999, ipv6: false))
        t.setRouterPorts(vlan: 5, MulticastPortSet([1, 900]))
        #expect(t.routerPorts(vlan: 5) == MulticastPortSet([1, 900]))
        var words: [UInt64] = [1 << 4, 0]
        words.withUnsafeMutableBufferPointer { t.formUnionWithRouterPorts(vlan: 5, into: $0.baseAddress!, wordCount: 2) }
        #expect(words == [1 << 4 | 1 << 1, 0])
    }

    /// Readers on several threads while one writer deletes and re-inserts entries of one
    /// probe cluster (every key has the same home slot, so each deletion shifts every entry
    /// behind it): a reader never sees a torn entry (every entry's 16 words carry the same stamp
    /// of its own key and version) and never misses a key that was present during its whole
    /// lookup (a per-key epoch, odd while the key is out, tells which lookups must hit).
    /// Run under ThreadSanitizer too.
    @Test(.timeLimit(.minutes(2))) func readersNeverSeeTornEntriesOrMissPresentOnes() throws {
        let t = MulticastGroupTable(maxGroups: 64)  // 128 slots
        let keyCount = 24
        // Keys whose home slot is the same: one cluster of 24.
        let target = t.home(MulticastGroupTable.meta(1, g(0)), g(0))
        var ids: [Int] = []
        var i = 0
        while ids.count < keyCount {
            if t.home(MulticastGroupTable.meta(1, g(i)), g(i)) == target { ids.append(i) }
            i += 1
        }
        let keys = ids
        @Sendable func stamp(_ slot: Int, _ version: UInt64) -> MulticastPortSet {
            // slot + 1: no stamp is all zeros (an empty set would remove the entry).
            MulticastPortSet(words: Array(repeating: UInt64(slot + 1) << 48 | (version & 0xFFFF_FFFF_FFFF), count: 16))
        }
        let epochs = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: keyCount)
        defer { epochs.deallocate() }
        for k in 0..<keyCount {
            (epochs + k).initialize(to: Atomic(0))
            try t.setMembers(vlan: 1, group: g(keys[k]), stamp(k, 0))
        }
        let epochBase = UInt(bitPattern: epochs)
        let stop = Atomic<Bool>(false)
        let torn = Atomic<Int>(0), missed = Atomic<Int>(0), reads = Atomic<Int>(0), hits = Atomic<Int>(0), everyPort = Atomic<Int>(0)
        let group = DispatchGroup()
        func spawn(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            Thread { body(); group.leave() }.start()
        }
        for r in 0..<3 {
            spawn {
                let epochs = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: epochBase)!
                var words = [UInt64](repeating: 0, count: 16)
                var i = r, n = 0, h = 0
                repeat {
                    let k = i % keyCount
                    i &+= 7
                    let e1 = epochs[k].load(ordering: .acquiring)
                    let found = words.withUnsafeMutableBufferPointer {
                        t.members(vlan: 1, group: MulticastGroup(ipv4: 0xEF00_0000 | UInt32(keys[k])), into: $0.baseAddress!, wordCount: 16)
                    }
                    let e2 = epochs[k].load(ordering: .acquiring)
                    n += 1
                    if found && words.allSatisfy({ $0 == ~0 }) {
                        everyPort.add(1, ordering: .relaxed)  // the documented answer under writer contention
                    } else if found {
                        h += 1
                        if words.contains(where: { $0 != words[0] }) || words[0] >> 48 != UInt64(k + 1) { torn.add(1, ordering: .relaxed) }
                    } else if e1 & 1 == 0 && e1 == e2 {
                        missed.add(1, ordering: .relaxed)
                    }
                } while !stop.load(ordering: .acquiring)
                reads.add(n, ordering: .relaxed)
                hits.add(h, ordering: .relaxed)
            }
        }
        spawn {
            let epochs = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: epochBase)!
            var version: UInt64 = 1
            for round in 0..<20_000 {
                // The oldest insert sits nearest the cluster's front: deleting it shifts the rest.
                let k = round % keyCount
                let key = MulticastGroup(ipv4: 0xEF00_0000 | UInt32(keys[k]))
                epochs[k].add(1, ordering: .releasing)  // odd: out
                t.remove(vlan: 1, group: key)
                try? t.setMembers(vlan: 1, group: key, stamp(k, version))
                epochs[k].add(1, ordering: .releasing)  // even: in
                let u = (round * 5 + 3) % keyCount
                try? t.setMembers(vlan: 1, group: MulticastGroup(ipv4: 0xEF00_0000 | UInt32(keys[u])), stamp(u, version))
                version &+= 1
            }
            stop.store(true, ordering: .releasing)
        }
        group.wait()
        #expect(torn.load(ordering: .relaxed) == 0)
        #expect(missed.load(ordering: .relaxed) == 0)
        #expect(hits.load(ordering: .relaxed) > 0)
        // This writer rewrites the very cluster the readers probe, without pause: ~6% of reads
        // meet it mid-change here, ~10% under ThreadSanitizer. A quarter would mean readers
        // mostly fail to get through.
        #expect(everyPort.load(ordering: .relaxed) * 4 < reads.load(ordering: .relaxed), "contention answers stay a minority")
        #expect(t.statistics.groups == keyCount)
        print("MDB concurrency: \(reads.load(ordering: .relaxed)) reads, \(hits.load(ordering: .relaxed)) hits, \(everyPort.load(ordering: .relaxed)) every-port answers")
    }
}
