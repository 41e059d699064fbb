// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MulticastGroupTable: the multicast database (MDB) the forwarding threads read per frame,
// (VLAN, IP group) -> member ports, plus per-VLAN router ports and the per-VLAN "snooping
// active" state (a querier exists, so membership is known). The snooper (module
// MulticastSnooping) is its only writer; it decides memberships and timers and stores results.
//
// What the table promises (read this before the code):
// - Lookups take no lock and never allocate: one hash, one linear probe sequence over a dense
//   key array (32 bytes a slot), then a copy of at most 16 member words into memory the caller
//   owns. A reader never sees a torn entry: every slot has a sequence word (a seqlock, as
//   Linux's seqcount): the writer makes it odd, writes the key and member words, makes it even;
//   a reader that saw it odd or changed retries. A reader that finds no entry also checks the
//   table's move generation (see below) and retries if entries moved meanwhile, so an entry
//   that stays in the table is never missed. Retries are bounded (`maxReadAttempts`); a
//   reader that loses them all (only while the writer rewrites that very entry continuously)
//   gets every port: a frame over-delivered once rather than lost.
// - Writers (the snooper's thread; `mdb` control requests) serialise on one mutex no reader
//   takes. All key and member words are atomics (relaxed) ordered by the sequence words'
//   acquire/release and fences, so ThreadSanitizer sees no race.
// - Memory is allocated once, at init, from `maxGroups` (default 4,096, the kernel's
//   `mcast_hash_max`), and never grows: at most `maxGroups` entries, in 2 × maxGroups slots
//   (rounded up to a power of two: load at most 1/2, so probe chains stay short). An insert
//   into a full table is refused and counted (`refusedFull`); the group's traffic is then
//   handled as unregistered, as the kernel does when `hash_max` is reached.
// - Deletion shifts later entries of the chain back (no tombstones, so a report flood that
//   churns groups cannot lengthen chains). A shift bumps the move generation to odd first and
//   to even after, which is what lets a miss be trusted.
// - Member and router sets are 16 words (1,024 ports). Router ports live per VLAN behind a
//   sequence word of their own, with the per-VLAN flags word beside them.
//
// The key: VLAN (12 bits), family and the 128-bit group (IPv4 in the low 32 bits), never the
// group's Ethernet MAC (32 IPv4 groups share one MAC).

import Synchronization

/// Why the table refused a change.
public enum MulticastTableError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `maxGroups` entries exist already.
    case full(limit: Int)
    case invalidVLAN(UInt16)

    public var description: String {
        switch self {
        case .full(let l): return "the multicast database is full (\(l) groups)"
        case .invalidVLAN(let v): return "VLAN \(v) is out of range (0-4094)"
        }
    }
}

/// Counters of the table's life.
public struct MulticastTableStatistics: Equatable, Sendable, Codable {
    public var groups: Int = 0
    public var inserted: UInt64 = 0
    public var removed: UInt64 = 0
    public var refusedFull: UInt64 = 0
    public init() {}
}

/// One row of the table, for listings.
public struct MulticastTableEntry: Equatable, Sendable {
    public var vlan: UInt16
    public var group: MulticastGroup
    public var members: MulticastPortSet
}

/// The lock-free multicast database. See the file comment for its contract.
public final class MulticastGroupTable: @unchecked Sendable {
    /// Default bound on groups: the kernel bridge's `mcast_hash_max`.
    public static let defaultMaxGroups = 4_096
    /// Words of a member or router set (1,024 ports).
    public static let wordsPerSet = MulticastPortSet.wordCount
    /// VLAN IDs the per-VLAN arrays cover (0 ... 4094; 4095 is reserved).
    public static let vlanCount = 4_095
    /// Reads of one lookup before it gives up and answers "every port".
    @usableFromInline static let maxReadAttempts = 64

    // Key words of a slot: sequence, meta (occupied | IPv6 | VLAN), group high, group low.
    @usableFromInline static let keyStride = 4
    @usableFromInline static let occupiedBit: UInt64 = 1 << 63
    @usableFromInline static let ipv6Bit: UInt64 = 1 << 62
    // Per VLAN: sequence, flags, 16 router words.
    @usableFromInline static let vlanStride = 2 + wordsPerSet
    /// Flag bits of a VLAN: snooping active (a querier exists) for IPv4 / IPv6.
    @usableFromInline static let activeIPv4: UInt64 = 1
    @usableFromInline static let activeIPv6: UInt64 = 2

    /// The bound on entries.
    public let maxGroups: Int
    /// Number of slots (a power of two, at least 2 × maxGroups).
    public let capacity: Int
    @usableFromInline let indexMask: Int
    @usableFromInline let keys: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let members: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let vlans: UnsafeMutablePointer<Atomic<UInt64>>
    /// Odd while the writer shifts entries (a deletion); see the file comment.
    @usableFromInline let moveGeneration = Atomic<UInt64>(0)

    /// Writers' lock. Readers never take it.
    let lock = WriterLock()
    private let groupCount = Atomic<Int>(0)
    private let inserted = Atomic<UInt64>(0)
    private let removed = Atomic<UInt64>(0)
    private let refused = Atomic<UInt64>(0)

    /// A table of at most `maxGroups` (1 ... 1,048,576) entries.
    public init(maxGroups: Int = MulticastGroupTable.defaultMaxGroups) {
        precondition(maxGroups >= 1 && maxGroups <= 1 << 20, "maxGroups must be 1 ... 1048576")
        self.maxGroups = maxGroups
        var c = 64
        while c < maxGroups * 2 { c <<= 1 }
        capacity = c
        indexMask = c - 1
        keys = .allocate(capacity: c * Self.keyStride)
        for i in 0..<(c * Self.keyStride) { (keys + i).initialize(to: Atomic(0)) }
        members = .allocate(capacity: c * Self.wordsPerSet)
        for i in 0..<(c * Self.wordsPerSet) { (members + i).initialize(to: Atomic(0)) }
        vlans = .allocate(capacity: Self.vlanCount * Self.vlanStride)
        for i in 0..<(Self.vlanCount * Self.vlanStride) { (vlans + i).initialize(to: Atomic(0)) }
    }

    deinit {
        keys.deinitialize(count: capacity * Self.keyStride)
        keys.deallocate()
        members.deinitialize(count: capacity * Self.wordsPerSet)
        members.deallocate()
        vlans.deinitialize(count: Self.vlanCount * Self.vlanStride)
        vlans.deallocate()
    }

    // MARK: - Keys

    @inlinable @inline(__always)
    static func meta(_ vlan: UInt16, _ group: MulticastGroup) -> UInt64 {
        occupiedBit | (group.isIPv6 ? ipv6Bit : 0) | UInt64(vlan & 0xFFF)
    }

    @inlinable @inline(__always)
    func home(_ meta: UInt64, _ group: MulticastGroup) -> Int {
        var x = group.high &* 0x9E37_79B9_7F4A_7C15
        x ^= group.low &* 0xBF58_476D_1CE4_E5B9
        x ^= meta &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        x = x &* 0xD6E8_FEB8_6659_FD93
        x ^= x >> 32
        return Int(truncatingIfNeeded: x) & indexMask
    }

    // MARK: - Lookups (lock-free, no allocation)

    /// Copies the member ports of (`vlan`, `group`) into `words[0 ..< wordCount]` (at most 16
    /// words are written; callers with fewer ports pass fewer words). Returns false, writing
    /// nothing, when the group is not registered. Lock-free; see the file comment.
    @inlinable
    public func members(vlan: UInt16, group: MulticastGroup, into words: UnsafeMutablePointer<UInt64>, wordCount: Int) -> Bool {
        let n = min(max(wordCount, 0), Self.wordsPerSet)
        let meta = Self.meta(vlan, group)
        let start = home(meta, group)
        var attempt = 0
        attempts: while attempt < Self.maxReadAttempts {
            attempt &+= 1
            // The move generation matters only for a miss: a hit is validated by its slot's
            // sequence word alone, so a writer paused mid-shift never delays a hit.
            let generation = moveGeneration.load(ordering: .acquiring)
            var i = start
            var probed = 0
            while probed <= indexMask {
                probed &+= 1
                let k = keys + i &* Self.keyStride
                let s1 = k[0].load(ordering: .acquiring)
                if s1 & 1 != 0 { continue attempts }
                let m = k[1].load(ordering: .relaxed)
                if m == 0 { break }
                if m == meta && k[2].load(ordering: .relaxed) == group.high && k[3].load(ordering: .relaxed) == group.low {
                    let src = members + i &* Self.wordsPerSet
                    for w in 0..<n { words[w] = src[w].load(ordering: .relaxed) }
                    atomicMemoryFence(ordering: .acquiring)
                    if k[0].load(ordering: .relaxed) != s1 { continue attempts }
                    return true
                }
                i = (i &+ 1) & indexMask
            }
            // The end of the chain: a miss, if no entry moved while we probed.
            atomicMemoryFence(ordering: .acquiring)
            if generation & 1 != 0 || moveGeneration.load(ordering: .relaxed) != generation { continue attempts }
            return false
        }
        // Every attempt met a writer: answer "every port" (over-delivery, never a lost frame).
        for w in 0..<n { words[w] = ~0 }
        return true
    }

    /// ORs the router ports of `vlan` into `words[0 ..< wordCount]`. Lock-free.
    @inlinable
    public func formUnionWithRouterPorts(vlan: UInt16, into words: UnsafeMutablePointer<UInt64>, wordCount: Int) {
        guard Int(vlan) < Self.vlanCount else { return }
        let n = min(max(wordCount, 0), Self.wordsPerSet)
        let v = vlans + Int(vlan) &* Self.vlanStride
        var attempt = 0
        while attempt < Self.maxReadAttempts {
            attempt &+= 1
            let s1 = v[0].load(ordering: .acquiring)
            if s1 & 1 != 0 { continue }
            var stable = true
            // Read into registers first: a torn read must not reach the caller's words.
            var acc: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            if n <= 4 {
                if n > 0 { acc.0 = v[2].load(ordering: .relaxed) }
                if n > 1 { acc.1 = v[3].load(ordering: .relaxed) }
                if n > 2 { acc.2 = v[4].load(ordering: .relaxed) }
                if n > 3 { acc.3 = v[5].load(ordering: .relaxed) }
                atomicMemoryFence(ordering: .acquiring)
                stable = v[0].load(ordering: .relaxed) == s1
                if stable {
                    if n > 0 { words[0] |= acc.0 }
                    if n > 1 { words[1] |= acc.1 }
                    if n > 2 { words[2] |= acc.2 }
                    if n > 3 { words[3] |= acc.3 }
                    return
                }
                continue
            }
            // Wide sets: check the sequence first, then OR; a torn read can only add router
            // bits of a moment ago (over-delivery), and a changed sequence retries.
            for w in 0..<n { words[w] |= v[2 &+ w].load(ordering: .relaxed) }
            atomicMemoryFence(ordering: .acquiring)
            if v[0].load(ordering: .relaxed) == s1 { return }
        }
        for w in 0..<n { words[w] = ~0 }
    }

    /// True when membership is known in `vlan` for the family: snooping is on and a querier
    /// exists (the kernel's br_multicast_querier_exists). False: flood all multicast.
    @inlinable
    public func isSnoopingActive(vlan: UInt16, ipv6: Bool) -> Bool {
        guard Int(vlan) < Self.vlanCount else { return false }
        let flags = vlans[Int(vlan) &* Self.vlanStride &+ 1].load(ordering: .relaxed)
        return flags & (ipv6 ? Self.activeIPv6 : Self.activeIPv4) != 0
    }

    /// The member ports of one entry, or nil (control path: allocates the set).
    public func members(vlan: UInt16, group: MulticastGroup) -> MulticastPortSet? {
        var buffer = [UInt64](repeating: 0, count: Self.wordsPerSet)
        let found = buffer.withUnsafeMutableBufferPointer {
            members(vlan: vlan, group: group, into: $0.baseAddress!, wordCount: Self.wordsPerSet)
        }
        return found ? MulticastPortSet(words: buffer) : nil
    }

    /// The router ports of `vlan` (control path).
    public func routerPorts(vlan: UInt16) -> MulticastPortSet {
        var buffer = [UInt64](repeating: 0, count: Self.wordsPerSet)
        buffer.withUnsafeMutableBufferPointer {
            formUnionWithRouterPorts(vlan: vlan, into: $0.baseAddress!, wordCount: Self.wordsPerSet)
        }
        return MulticastPortSet(words: buffer)
    }

    // MARK: - Writers (one at a time, under `lock`)

    /// Sets the members of (`vlan`, `group`): inserts, updates, or (an empty set) removes the
    /// entry. Throws `.full` when a new entry does not fit.
    public func setMembers(vlan: UInt16, group: MulticastGroup, _ set: MulticastPortSet) throws(MulticastTableError) {
        guard Int(vlan) < Self.vlanCount else { throw .invalidVLAN(vlan) }
        if set.isEmpty {
            remove(vlan: vlan, group: group)
            return
        }
        let result: MulticastTableError? = lock.withLock {
            let meta = Self.meta(vlan, group)
            var i = home(meta, group)
            while true {
                let k = keys + i * Self.keyStride
                let m = k[1].load(ordering: .relaxed)
                if m == meta && k[2].load(ordering: .relaxed) == group.high && k[3].load(ordering: .relaxed) == group.low {
                    writeSlot(i, meta: meta, group: group, set.words)
                    return nil
                }
                if m == 0 {
                    guard groupCount.load(ordering: .relaxed) < maxGroups else {
                        refused.wrappingAdd(1, ordering: .relaxed)
                        return .full(limit: maxGroups)
                    }
                    writeSlot(i, meta: meta, group: group, set.words)
                    groupCount.wrappingAdd(1, ordering: .relaxed)
                    inserted.wrappingAdd(1, ordering: .relaxed)
                    return nil
                }
                i = (i + 1) & indexMask
            }
        }
        if let result { throw result }
    }

    /// Removes (`vlan`, `group`); returns whether it was there.
    @discardableResult
    public func remove(vlan: UInt16, group: MulticastGroup) -> Bool {
        lock.withLock {
            let meta = Self.meta(vlan, group)
            var i = home(meta, group)
            while true {
                let k = keys + i * Self.keyStride
                let m = k[1].load(ordering: .relaxed)
                if m == 0 { return false }
                if m == meta && k[2].load(ordering: .relaxed) == group.high && k[3].load(ordering: .relaxed) == group.low {
                    deleteSlot(i)
                    return true
                }
                i = (i + 1) & indexMask
            }
        }
    }

    /// Removes every entry (snooping turned off, a flush).
    public func removeAll() {
        lock.withLock {
            for i in 0..<capacity where keys[i * Self.keyStride + 1].load(ordering: .relaxed) != 0 {
                // Clearing all at once needs no shift: every chain empties.
                writeSlot(i, meta: 0, group: MulticastGroup(ipv4: 0), nil)
                groupCount.wrappingSubtract(1, ordering: .relaxed)
                removed.wrappingAdd(1, ordering: .relaxed)
            }
        }
    }

    /// Sets the router ports of `vlan`.
    public func setRouterPorts(vlan: UInt16, _ set: MulticastPortSet) {
        guard Int(vlan) < Self.vlanCount else { return }
        lock.withLock {
            let v = vlans + Int(vlan) * Self.vlanStride
            let s = v[0].load(ordering: .relaxed)
            v[0].store(s &+ 1, ordering: .relaxed)
            atomicMemoryFence(ordering: .releasing)
            for w in 0..<Self.wordsPerSet { v[2 + w].store(set.words[w], ordering: .relaxed) }
            v[0].store(s &+ 2, ordering: .releasing)
        }
    }

    /// Sets whether membership is known in `vlan` for a family (see `isSnoopingActive`).
    public func setSnoopingActive(vlan: UInt16, ipv6: Bool, _ active: Bool) {
        guard Int(vlan) < Self.vlanCount else { return }
        lock.withLock {
            let f = vlans + (Int(vlan) * Self.vlanStride + 1)
            let bit = ipv6 ? Self.activeIPv6 : Self.activeIPv4
            let old = f.pointee.load(ordering: .relaxed)
            f.pointee.store(active ? old | bit : old & ~bit, ordering: .relaxed)
        }
    }

    /// Every entry, sorted by VLAN and group (control path; takes the writers' lock so a
    /// listing is one consistent state).
    public func entries() -> [MulticastTableEntry] {
        lock.withLock {
            var out: [MulticastTableEntry] = []
            for i in 0..<capacity {
                let k = keys + i * Self.keyStride
                let m = k[1].load(ordering: .relaxed)
                guard m != 0 else { continue }
                let hi = k[2].load(ordering: .relaxed), lo = k[3].load(ordering: .relaxed)
                let group = m & Self.ipv6Bit != 0 ? MulticastGroup(ipv6High: hi, low: lo) : MulticastGroup(ipv4: UInt32(truncatingIfNeeded: lo))
                let words = (0..<Self.wordsPerSet).map { members[i * Self.wordsPerSet + $0].load(ordering: .relaxed) }
                out.append(MulticastTableEntry(vlan: UInt16(m & 0xFFF), group: group, members: MulticastPortSet(words: words)))
            }
            return out.sorted { ($0.vlan, $0.group) < ($1.vlan, $1.group) }
        }
    }

    /// The counters (no lock).
    public var statistics: MulticastTableStatistics {
        var s = MulticastTableStatistics()
        s.groups = groupCount.load(ordering: .relaxed)
        s.inserted = inserted.load(ordering: .relaxed)
        s.removed = removed.load(ordering: .relaxed)
        s.refusedFull = refused.load(ordering: .relaxed)
        return s
    }

    /// Times the writers' lock was taken (tests prove lookups take none).
    public var writerLockAcquisitions: UInt64 { lock.acquisitions.load(ordering: .relaxed) }

    // MARK: - Slot writes (under `lock`)

    /// Writes a whole slot as one seqlock section. `words` nil: zero members.
    private func writeSlot(_ i: Int, meta: UInt64, group: MulticastGroup, _ words: [UInt64]?) {
        let k = keys + i * Self.keyStride
        let s = k[0].load(ordering: .relaxed)
        k[0].store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        k[1].store(meta, ordering: .relaxed)
        k[2].store(group.high, ordering: .relaxed)
        k[3].store(group.low, ordering: .relaxed)
        let dst = members + i * Self.wordsPerSet
        for w in 0..<Self.wordsPerSet { dst[w].store(words?[w] ?? 0, ordering: .relaxed) }
        k[0].store(s &+ 2, ordering: .releasing)
    }

    /// Copies slot `from` into slot `to` (one seqlock section on `to`).
    private func copySlot(from: Int, to: Int) {
        let f = keys + from * Self.keyStride
        let t = keys + to * Self.keyStride
        let s = t[0].load(ordering: .relaxed)
        t[0].store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        for w in 1..<Self.keyStride { t[w].store(f[w].load(ordering: .relaxed), ordering: .relaxed) }
        let fm = members + from * Self.wordsPerSet, tm = members + to * Self.wordsPerSet
        for w in 0..<Self.wordsPerSet { tm[w].store(fm[w].load(ordering: .relaxed), ordering: .relaxed) }
        t[0].store(s &+ 2, ordering: .releasing)
    }

    /// Deletes slot `i` by backward shift (Knuth's algorithm R for linear probing), inside an
    /// odd move generation so concurrent misses retry.
    private func deleteSlot(_ start: Int) {
        let g = moveGeneration.load(ordering: .relaxed)
        moveGeneration.store(g &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        var hole = start
        var j = start
        while true {
            j = (j + 1) & indexMask
            let k = keys + j * Self.keyStride
            let m = k[1].load(ordering: .relaxed)
            if m == 0 { break }
            let group = m & Self.ipv6Bit != 0
                ? MulticastGroup(ipv6High: k[2].load(ordering: .relaxed), low: k[3].load(ordering: .relaxed))
                : MulticastGroup(ipv4: UInt32(truncatingIfNeeded: k[3].load(ordering: .relaxed)))
            let h = home(m, group)
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let homeInRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if homeInRange { continue }
            copySlot(from: j, to: hole)
            hole = j
        }
        writeSlot(hole, meta: 0, group: MulticastGroup(ipv4: 0), nil)
        moveGeneration.store(g &+ 2, ordering: .releasing)
        groupCount.wrappingSubtract(1, ordering: .relaxed)
        removed.wrappingAdd(1, ordering: .relaxed)
    }
}
