// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MACTable: the forwarding database (FDB), key (VLAN, MAC) -> port.
//
// What the table promises (read this before the code):
// - Lookups take no lock, never wait and never retry: a lookup is a run of single 64-bit
//   atomic loads. Each slot word holds the whole entry (which key, which port, static or not),
//   so a reader can never pair one entry's key with another entry's port ("torn" entries are
//   impossible by construction). Lookups are linearizable: an entry never moves between slots,
//   and a key is in at most one live slot at a time.
// - Learning is lock-free and takes no lock at all: a forwarding thread inserts, moves,
//   refreshes and evicts with compare-and-swap on slot words. No forwarding thread ever waits
//   for another thread to finish a table operation. Every learn finishes within a bounded
//   number of its own steps (at most `maxAttempts` attempts, each a probe of at most 256 slots,
//   and at most one eviction): it is wait-free, at the price that a learn which loses every
//   attempt to concurrent inserts of the same key (or to a tombstone being trimmed in its probe
//   chain) gives up and is counted as refused; the station is learned on its next frame.
//   Refreshing a known station on its known port is one relaxed store of its last-seen time,
//   skipped when the time has not changed.
// - Control-path operations (ageing, flushes, `fdb add/del`) serialise on one mutex among
//   themselves, which no forwarding thread ever takes; listings and statistics take no lock.
// - Memory is allocated once, at init, from the configured bounds, and never grows.
// - At most `maxLearned` learned entries (default 65,536). When full, the table evicts from the
//   port that holds the most learned entries (as Open vSwitch does): of up to 8 sampled entries
//   of that port, the least recently seen goes. A port flooding random source MACs therefore
//   only churns its own entries; stations on other ports keep theirs. A learn evicts at most one
//   entry (it evicts before it inserts: if another thread inserts the same station meanwhile,
//   that eviction was not needed); a learn that still finds no room is refused and counted.
// - Static entries (at most `maxStatic`, not counted against `maxLearned`) never age and never
//   move; a station seen with a static entry's key on another port is counted as a conflict
//   (an atomic add, no lock: a host spoofing a static MAC must not serialise the workers).
// - Ageing: an entry not seen for `ageingTime` is removed by `age(now:budget:)`, which visits a
//   bounded number of slots per call (a sweep cursor walks the table). Zero means never. An
//   entry refreshed in the very instant the sweep removes it is removed (relearned on its next
//   frame: one flood), as before: refreshes stay plain stores.
// - Counters are exact once the table is quiet: the learned total equals the live learned
//   slots and the sum of the per-port counts. While learns are in flight the total includes
//   their reservations (a learn reserves its place against `maxLearned` before it inserts).
//
// Layout: open addressing with linear probing over 2^n slots (n >= 18, load at most 2/3). The
// 60-bit key (VLAN << 48 | MAC) is mixed by an invertible permutation p; the low n bits of p
// are the home slot and the high 60-n bits (the "remainder", at most 42 bits) are stored,
// together with the displacement from home, the port, the static flag and two state bits: 64
// bits in all. Last-seen times live in a separate array, so per-frame refreshes do not dirty
// the cache lines lookups read.
//
// The slot protocol. A slot is EMPTY (the word 0), LIVE (an entry), PENDING (an insert not yet
// checked for duplicates: invisible to lookups), DEAD (a tombstone: invisible, reusable) or TRIM
// (a tombstone the control path is turning back into EMPTY). EMPTY ends every probe chain, so
// the invariant is: no EMPTY between a live entry's home and its slot.
// - Insert (learner or `fdb add`): announce the home's region (an atomic counter per 256 slots),
//   probe from home to the first EMPTY; a LIVE entry of the key means refresh, move (one CAS of
//   its word: a move never changes slots) or conflict; otherwise CAS the first DEAD or EMPTY
//   slot to PENDING, then probe the chain again: another PENDING or LIVE word of the same key
//   means a concurrent insert, and this one retracts (its PENDING becomes DEAD) and retries;
//   else publish (PENDING -> LIVE, a store: only its owner changes a PENDING word). Two
//   concurrent inserts of one key cannot both publish: each probes after its own CAS, so the
//   later of the two probes sees the other's word.
// - Delete (ageing, flush, `fdb del`, eviction): CAS LIVE -> DEAD. Nothing moves: no backward
//   shift, so a reader or learner never misses an entry that stays.
// - Trim (control path only, so one trimmer at a time): a DEAD slot followed by an EMPTY one
//   is CASed to TRIM; if no insert is announced in a region whose chains can reach it, it is
//   CASed to EMPTY, and the trim walks back over the DEAD slots before it. An insert that
//   announced itself after the trimmer looked meets the TRIM word in its probe and CASes it
//   back to DEAD, which fails the trimmer's last CAS. So no chain in use gains an EMPTY.
// The ageing sweep trims as it goes (also when ageing is off), so tombstones a MAC flood leaves
// behind are reclaimed within one sweep of the table.

import Synchronization

/// Errors from the control-path operations of the MAC table.
public enum FDBError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidAddress(MACAddress)
    case invalidVLAN(UInt16)
    case invalidPort(Int)
    case staticTableFull(limit: Int)
    case noRoom

    public var description: String {
        switch self {
        case .invalidAddress(let m): return "\(m) cannot be an FDB entry: multicast, broadcast and zero addresses are not stations"
        case .invalidVLAN(let v): return "VLAN \(v) is out of range (0-4094)"
        case .invalidPort(let p): return "port index \(p) is out of range"
        case .staticTableFull(let l): return "the static FDB is full (\(l) entries)"
        case .noRoom: return "no free slot near the entry's home slot"
        }
    }
}

/// What `learn` did with a source address.
public enum LearnOutcome: UInt8, Sendable {
    /// Known on this port: last-seen time refreshed.
    case refreshed
    /// New entry.
    case learned
    /// New entry, after evicting another (the table was full).
    case learnedAfterEviction
    /// Known on another port: moved here.
    case moved
    /// A static entry owns this key on another port: nothing changed.
    case staticConflict
    /// The table had no room: not learned.
    case refused
}

/// One row of `fdb show`.
public struct FDBEntry: Equatable, Sendable {
    public var mac: MACAddress
    public var vlan: UInt16
    public var port: Int
    public var isStatic: Bool
    /// Milliseconds since the entry was last seen (0 for static entries).
    public var idleMilliseconds: UInt64
}

/// Counters of the table's life; all monotonic except the two sizes.
public struct FDBStatistics: Equatable, Sendable {
    public var learnedEntries: Int = 0
    public var staticEntries: Int = 0
    public var learned: UInt64 = 0
    public var moved: UInt64 = 0
    public var aged: UInt64 = 0
    public var evicted: UInt64 = 0
    public var refused: UInt64 = 0
    public var staticConflicts: UInt64 = 0
    public var flushed: UInt64 = 0
}

/// The lock-free MAC learning table. See the file comment for its contract and protocol.
public final class MACTable: @unchecked Sendable {
    /// Sizes and timers, fixed at creation.
    public struct Configuration: Sendable, Equatable {
        /// Bound on learned entries (1 ... 4,194,304).
        public var maxLearned: Int = 65_536
        /// Bound on static entries.
        public var maxStatic: Int = 4_096
        /// Idle time after which a learned entry is removed; zero: never.
        public var ageingTime: Duration = .seconds(300)

        public init(maxLearned: Int = 65_536, maxStatic: Int = 4_096, ageingTime: Duration = .seconds(300)) {
            self.maxLearned = maxLearned
            self.maxStatic = maxStatic
            self.ageingTime = ageingTime
        }
    }

    /// Port numbers the table can store (the slot word has 10 bits for it: the kernel
    /// bridge's 1,024 ports).
    public static let portLimit = 1024
    /// How far an entry may sit from its home slot.
    @usableFromInline static let maxDisplacement: UInt64 = 255
    /// Entries sampled from the fullest port when evicting.
    static let evictionSample = 8
    /// Slots an eviction scans past its first sample before it settles for fewer.
    static let evictionScanLimit = 2_048
    /// Attempts of one insert before it gives up (the bound that makes a learn wait-free).
    static let maxAttempts = 8
    /// Slots per announcement region: 256, the reach of a probe chain.
    static let regionShift = 8

    // Slot word layout: occupied | static | displacement (8) | port (10) | pending | dead | remainder (42).
    @usableFromInline static let occupiedBit: UInt64 = 1 << 63
    @usableFromInline static let staticBit: UInt64 = 1 << 62
    @usableFromInline static let displacementShift: UInt64 = 54
    @usableFromInline static let portShift: UInt64 = 44
    @usableFromInline static let portMask: UInt64 = 0x3FF
    @usableFromInline static let pendingBit: UInt64 = 1 << 43
    @usableFromInline static let deadBit: UInt64 = 1 << 42
    @usableFromInline static let remainderMask: UInt64 = (1 << 42) - 1
    @usableFromInline static let keyMask: UInt64 = (1 << 60) - 1
    @usableFromInline static let stateMask: UInt64 = pendingBit | deadBit
    /// The bits that name an entry's key: occupied, displacement and remainder.
    @usableFromInline static let keyFields: UInt64 = occupiedBit | 0xFF << displacementShift | remainderMask
    /// A LIVE word of a key has these bits equal to `keyBits(d, remainder)`.
    @usableFromInline static let matchMask: UInt64 = keyFields | stateMask

    public let configuration: Configuration
    /// Number of slots (a power of two).
    public let capacity: Int
    @usableFromInline let indexMask: UInt64
    @usableFromInline let homeBits: UInt64
    @usableFromInline let slots: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let lastSeen: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let ageingMilliseconds: UInt64

    /// The control path's lock (ageing, flush, static entries, `fdb del`). Learners never take it.
    @usableFromInline let lock = WriterLock()
    // Guarded by `lock` (internal: a test starts a sweep where its entries are):
    var sweepCursor = 0
    // Atomics, written by learners and the control path alike.
    private let learnedPerPort: UnsafeMutablePointer<Atomic<Int>>
    /// One more than the highest port that ever held a learned entry: the eviction's search for
    /// the fullest port looks at these only (3 on a 3-port bridge, not 1,024). Only grows.
    private let portsInUse = Atomic<Int>(0)
    private let learnedCount = Atomic<Int>(0)  // live learned entries + reservations in flight
    private let staticCount = Atomic<Int>(0)  // changed under `lock` only
    private let evictCursor = Atomic<Int>(0)  // a hint: races only change which entries are sampled
    private let regions: Int
    private let announcements: UnsafeMutablePointer<Atomic<Int>>  // inserts under way, per region
    private let counters: UnsafeMutablePointer<Atomic<UInt64>>
    private enum Counter: Int, CaseIterable { case learned, moved, aged, evicted, refused, staticConflicts, flushed }

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.maxLearned >= 1 && configuration.maxLearned <= 1 << 22, "maxLearned must be 1 ... 4194304")
        precondition(configuration.maxStatic >= 0 && configuration.maxStatic <= 1 << 20, "maxStatic must be 0 ... 1048576")
        precondition(configuration.ageingTime >= .zero, "ageing time must not be negative")
        self.configuration = configuration
        let entries = configuration.maxLearned + configuration.maxStatic
        var bits = 18  // at least 2^18 slots: the remainder then fits its 42 bits
        while (1 << bits) * 2 < entries * 3 { bits += 1 }
        capacity = 1 << bits
        homeBits = UInt64(bits)
        indexMask = UInt64(capacity - 1)
        slots = .allocate(capacity: capacity)
        lastSeen = .allocate(capacity: capacity)
        for i in 0..<capacity {
            (slots + i).initialize(to: Atomic(0))
            (lastSeen + i).initialize(to: Atomic(0))
        }
        regions = capacity >> Self.regionShift
        announcements = .allocate(capacity: regions)
        for i in 0..<regions { (announcements + i).initialize(to: Atomic(0)) }
        counters = .allocate(capacity: Counter.allCases.count)
        for i in 0..<Counter.allCases.count { (counters + i).initialize(to: Atomic(0)) }
        learnedPerPort = .allocate(capacity: Self.portLimit)
        for i in 0..<Self.portLimit { (learnedPerPort + i).initialize(to: Atomic(0)) }
        let (s, a) = configuration.ageingTime.components
        ageingMilliseconds = UInt64(s) * 1000 + UInt64(a / 1_000_000_000_000_000)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
        lastSeen.deinitialize(count: capacity)
        lastSeen.deallocate()
        announcements.deinitialize(count: regions)
        announcements.deallocate()
        counters.deinitialize(count: Counter.allCases.count)
        counters.deallocate()
        learnedPerPort.deinitialize(count: Self.portLimit)
        learnedPerPort.deallocate()
    }

    // MARK: - Key mixing

    @usableFromInline static let mul1: UInt64 = 0x0BF5_8476_D1CE_4E5B  // odd
    @usableFromInline static let mul2: UInt64 = 0x094D_049B_B133_111B  // odd

    /// The 60-bit key of an entry.
    @inlinable @inline(__always)
    static func key(_ mac: MACAddress, _ vlan: UInt16) -> UInt64 {
        UInt64(vlan & 0xFFF) << 48 | mac.rawValue
    }

    /// A bijection on 60-bit values: multiply by odd constants and xor-shift, all mod 2^60.
    @inlinable @inline(__always)
    static func permute(_ key: UInt64) -> UInt64 {
        var x = (key &* mul1) & keyMask
        x ^= x >> 29
        x = (x &* mul2) & keyMask
        x ^= x >> 32
        return x
    }

    /// The inverse of `permute`, for listing entries.
    static func unpermute(_ p: UInt64) -> UInt64 {
        var x = p ^ (p >> 32)  // 2*32 >= 60: one step inverts
        x = (x &* inverse(mul2)) & keyMask
        var y = x
        for _ in 0..<3 { y = x ^ (y >> 29) }  // invert x ^= x >> 29 by iteration
        return (y &* inverse(mul1)) & keyMask
    }

    private static func inverse(_ a: UInt64) -> UInt64 {
        var inv = a  // Newton: correct to 3 bits, doubling each step
        for _ in 0..<6 { inv = inv &* (2 &- a &* inv) }
        return inv
    }

    /// The key bits of a word for an entry at displacement `d` with `remainder`.
    @inlinable @inline(__always)
    static func keyBits(_ d: UInt64, _ remainder: UInt64) -> UInt64 {
        occupiedBit | d << displacementShift | remainder
    }

    @inlinable @inline(__always)
    static func port(of w: UInt64) -> Int { Int((w >> portShift) & portMask) }

    @usableFromInline
    static func withPort(_ w: UInt64, _ port: Int) -> UInt64 {
        (w & ~(portMask << portShift)) | UInt64(port) << portShift
    }

    /// A LIVE learned or static word.
    @inline(__always)
    static func isLive(_ w: UInt64) -> Bool { w & (occupiedBit | stateMask) == occupiedBit }

    // MARK: - Lookup (lock-free)

    /// The slot holding `key`'s LIVE entry and the word read there, or (-1, 0). Lock-free and
    /// linearizable (see the file comment).
    @inlinable @inline(__always)
    func findSlot(key: UInt64) -> (slot: Int, word: UInt64) {
        let p = Self.permute(key)
        var expected = Self.keyBits(0, p >> homeBits)
        var i = p & indexMask
        var d: UInt64 = 0
        while true {
            let w = slots[Int(i)].load(ordering: .acquiring)
            if w & Self.occupiedBit == 0 { return (-1, 0) }
            if w & Self.matchMask == expected { return (Int(i), w) }
            d &+= 1
            if d > Self.maxDisplacement { return (-1, 0) }
            expected &+= 1 << Self.displacementShift
            i = (i &+ 1) & indexMask
        }
    }

    /// The port `mac` was learned (or statically set) on in `vlan`, or nil.
    @inlinable
    public func lookup(_ mac: MACAddress, vlan: UInt16 = 0) -> Int? {
        let port = lookupPort(key: Self.key(mac, vlan))
        return port < 0 ? nil : port
    }

    /// Like `lookup`, -1 for a miss: the engine's form, with no optional to unwrap.
    @inlinable @inline(__always)
    func lookupPort(key: UInt64) -> Int {
        let (s, w) = findSlot(key: key)
        return s < 0 ? -1 : Self.port(of: w)
    }

    // MARK: - Learning (lock-free)

    /// Learns (or refreshes) `mac` in `vlan` on `port` at `now`. The caller has checked that
    /// `mac` is a valid source (not multicast, not zero): those are never learned. Takes no
    /// lock and finishes in a bounded number of steps whatever other threads do.
    @inlinable
    public func learn(_ mac: MACAddress, vlan: UInt16 = 0, port: Int, now: Timestamp) -> LearnOutcome {
        precondition(port >= 0 && port < Self.portLimit, "port index out of range")
        let key = Self.key(mac, vlan)
        let (s, w) = findSlot(key: key)
        if s >= 0, Self.port(of: w) == port {
            // The common case: a known station on its known port. No RMW. (Should the slot
            // change hands meanwhile, another entry gets a fresher time: harmless.)
            if w & Self.staticBit == 0, lastSeen[s].load(ordering: .relaxed) != now.milliseconds {
                lastSeen[s].store(now.milliseconds, ordering: .relaxed)
            }
            return .refreshed
        }
        return learnSlow(key: key, port: port, now: now)
    }

    @usableFromInline
    func learnSlow(key: UInt64, port: Int, now: Timestamp) -> LearnOutcome {
        precondition(MACAddress(rawValue: key).isValidSource, "multicast and zero sources are never learned")
        // A host spoofing a static entry's MAC: count it with an atomic add, before announcing.
        let (s0, w0) = findSlot(key: key)
        if s0 >= 0, w0 & Self.staticBit != 0, Self.port(of: w0) != port {
            bump(.staticConflicts)
            return .staticConflict
        }
        let p = Self.permute(key)
        let region = announce(home: Int(p & indexMask))
        defer { withdraw(region) }
        var evicted = false, evictionTried = false, reserved = false
        defer { if reserved { learnedCount.wrappingSubtract(1, ordering: .sequentiallyConsistent) } }
        for _ in 0..<Self.maxAttempts {
            switch probeForInsert(p) {
            case .found(let s, let w):
                let old = Self.port(of: w)
                if old == port {
                    if w & Self.staticBit == 0 { lastSeen[s].store(now.milliseconds, ordering: .relaxed) }
                    return .refreshed
                }
                if w & Self.staticBit != 0 {
                    bump(.staticConflicts)
                    return .staticConflict
                }
                // A move is one CAS of the word: the entry stays in its slot. Time first, so the
                // sweep that sees the new port also sees a fresh time.
                lastSeen[s].store(now.milliseconds, ordering: .relaxed)
                if slots[s].compareExchange(expected: w, desired: Self.withPort(w, port), ordering: .sequentiallyConsistent).exchanged {
                    learnedPerPort[old].wrappingSubtract(1, ordering: .relaxed)
                    learnedPerPort[port].wrappingAdd(1, ordering: .relaxed)
                    notePortInUse(port)
                    bump(.moved)
                    return .moved
                }
            case .full:
                bump(.refused)
                return .refused
            case .free(let slot, let expected, let d):
                if !reserved {
                    guard reserveLearned(p: p, evicted: &evicted, evictionTried: &evictionTried) else {
                        bump(.refused)
                        return .refused
                    }
                    reserved = true
                    // The victim was taken from this key's own chain when it could be: probe
                    // again to reuse its slot, so a flood leaves no tombstones behind.
                    if evicted { continue }
                }
                if claim(p: p, slot: slot, expected: expected, displacement: d, port: port, isStatic: false, now: now.milliseconds) {
                    reserved = false  // the reservation is the entry now
                    learnedPerPort[port].wrappingAdd(1, ordering: .relaxed)
                    notePortInUse(port)
                    bump(.learned)
                    return evicted ? .learnedAfterEviction : .learned
                }
            }
        }
        bump(.refused)
        return .refused
    }

    /// What an insert's probe found.
    enum Probe {
        /// The key's LIVE entry.
        case found(slot: Int, word: UInt64)
        /// No LIVE entry: the first DEAD or EMPTY slot of the chain, the word seen there and its displacement.
        case free(slot: Int, word: UInt64, displacement: UInt64)
        /// No LIVE entry and no free slot within reach.
        case full
    }

    /// An insert's probe from home to the first EMPTY slot. TRIM words met on the way go back to
    /// DEAD: a trim marked before this insert announced itself must not empty a slot of its chain.
    private func probeForInsert(_ p: UInt64) -> Probe {
        let remainder = p >> homeBits
        var i = Int(p & indexMask)
        var free = -1, freeWord: UInt64 = 0, freeD: UInt64 = 0
        for d in 0...Self.maxDisplacement {
            var w = slots[i].load(ordering: .sequentiallyConsistent)
            if w & Self.stateMask == Self.stateMask { w = abortTrim(slot: i, word: w) }
            if w & Self.occupiedBit == 0 {
                return free >= 0 ? .free(slot: free, word: freeWord, displacement: freeD) : .free(slot: i, word: w, displacement: d)
            }
            if w & Self.matchMask == Self.keyBits(d, remainder) { return .found(slot: i, word: w) }
            if free < 0, w & Self.stateMask == Self.deadBit {
                free = i
                freeWord = w
                freeD = d
            }
            i = (i + 1) & Int(indexMask)
        }
        return free >= 0 ? .free(slot: free, word: freeWord, displacement: freeD) : .full
    }

    /// TRIM -> DEAD; returns the word now in the slot.
    private func abortTrim(slot i: Int, word w: UInt64) -> UInt64 {
        let (done, current) = slots[i].compareExchange(expected: w, desired: w & ~Self.pendingBit, ordering: .sequentiallyConsistent)
        return done ? w & ~Self.pendingBit : current
    }

    /// CAS the free `slot` to PENDING, check the chain for a concurrent insert of the same key,
    /// then publish (LIVE) or retract (DEAD). Returns whether the entry was published. The
    /// caller has announced the key's home region.
    private func claim(p: UInt64, slot: Int, expected: UInt64, displacement d: UInt64, port: Int, isStatic: Bool, now: UInt64) -> Bool {
        let remainder = p >> homeBits
        let live = Self.keyBits(d, remainder) | UInt64(port) << Self.portShift | (isStatic ? Self.staticBit : 0)
        // Time first: whoever sees the entry also sees a fresh time.
        lastSeen[slot].store(now, ordering: .relaxed)
        guard slots[slot].compareExchange(expected: expected, desired: live | Self.pendingBit, ordering: .sequentiallyConsistent).exchanged else {
            return false
        }
        // Only the owner changes a PENDING word (deleters and trims act on LIVE and DEAD words
        // only), so publishing and retracting are plain stores.
        guard chainIsClear(p: p, mine: slot) else {
            slots[slot].store(live | Self.deadBit, ordering: .sequentiallyConsistent)
            return false
        }
        slots[slot].store(live, ordering: .sequentiallyConsistent)
        return true
    }

    /// After claiming `mine`: true when no other PENDING or LIVE word of the key is in the chain
    /// and no EMPTY slot lies between home and `mine`.
    private func chainIsClear(p: UInt64, mine: Int) -> Bool {
        let remainder = p >> homeBits
        var i = Int(p & indexMask)
        var passedMine = false
        for d in 0...Self.maxDisplacement {
            if i == mine {
                passedMine = true
            } else {
                var w = slots[i].load(ordering: .sequentiallyConsistent)
                if w & Self.stateMask == Self.stateMask { w = abortTrim(slot: i, word: w) }
                if w & Self.occupiedBit == 0 { return passedMine }  // before mine: a hole (cannot happen while announced)
                if w & Self.keyFields == Self.keyBits(d, remainder), w & Self.deadBit == 0 { return false }
            }
            i = (i + 1) & Int(indexMask)
        }
        return true
    }

    /// Reserves one place against `maxLearned`, evicting at most once per learn.
    private func reserveLearned(p: UInt64, evicted: inout Bool, evictionTried: inout Bool) -> Bool {
        var c = learnedCount.load(ordering: .sequentiallyConsistent)
        for _ in 0..<Self.maxAttempts {
            if c < configuration.maxLearned {
                let (done, current) = learnedCount.compareExchange(expected: c, desired: c + 1, ordering: .sequentiallyConsistent)
                if done { return true }
                c = current
                continue
            }
            if evictionTried { return false }
            evictionTried = true
            if evictFromFullestPort(chainOf: p) { evicted = true }
            c = learnedCount.load(ordering: .sequentiallyConsistent)
        }
        return false
    }

    /// Announces an insert under way in the region of `home`; the trimmer leaves the region's
    /// chains alone until it is withdrawn.
    private func announce(home: Int) -> Int {
        let region = home >> Self.regionShift
        announcements[region].wrappingAdd(1, ordering: .sequentiallyConsistent)
        return region
    }

    private func withdraw(_ region: Int) {
        announcements[region].wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// Raises `portsInUse` to cover `port` (one relaxed load when it already does).
    @inline(__always)
    private func notePortInUse(_ port: Int) {
        var seen = portsInUse.load(ordering: .relaxed)
        while port >= seen {
            let (done, now) = portsInUse.compareExchange(expected: seen, desired: port + 1, ordering: .relaxed)
            if done { return }
            seen = now
        }
    }

    /// The eviction policy of the file comment: CAS the victim LIVE -> DEAD. Lock-free. The
    /// sample comes from the probe chain of the key about to be inserted (`p`) when that chain
    /// holds entries of the fullest port (under a MAC flood it nearly always does): the insert
    /// then reuses the victim's slot, so evictions do not pile up tombstones that lengthen
    /// probes until the sweep trims them. Otherwise from a cursor that walks the table.
    private func evictFromFullestPort(chainOf p: UInt64) -> Bool {
        var victimPort = -1
        var most = 0
        for p in 0..<portsInUse.load(ordering: .relaxed) {
            let n = learnedPerPort[p].load(ordering: .relaxed)
            if n > most {
                most = n
                victimPort = p
            }
        }
        if victimPort < 0 { return false }
        var best = -1
        var bestWord: UInt64 = 0
        var bestSeen = UInt64.max
        var found = 0
        var j = Int(p & indexMask)
        /// Samples slot `k` (word `w`) as a victim; true when the sample is full.
        func sample(_ k: Int, _ w: UInt64) -> Bool {
            guard Self.isLive(w), w & Self.staticBit == 0, Self.port(of: w) == victimPort else { return false }
            let seen = lastSeen[k].load(ordering: .relaxed)
            if seen < bestSeen {
                bestSeen = seen
                best = k
                bestWord = w
            }
            found += 1
            return found == Self.evictionSample
        }
        for _ in 0...Self.maxDisplacement {
            let w = slots[j].load(ordering: .acquiring)
            if w & Self.occupiedBit == 0 { break }
            if sample(j, w) { break }
            j = (j + 1) & Int(indexMask)
        }
        if best >= 0 {
            guard killLearned(slot: best, word: bestWord) else { return false }
            bump(.evicted)
            return true
        }
        var i = evictCursor.load(ordering: .relaxed) & Int(indexMask)
        for scanned in 0..<capacity {
            // A port with few entries in a large table: do not walk the whole table for samples.
            if found > 0 && scanned >= Self.evictionScanLimit { break }
            if sample(i, slots[i].load(ordering: .acquiring)) { break }
            i = (i + 1) & Int(indexMask)
        }
        // After a full sample, go on from where it stopped; after a cut-short one, from just
        // after the victim, where the port's next entries are likely to be.
        evictCursor.store(found == Self.evictionSample ? i : best + 1, ordering: .relaxed)
        guard best >= 0, killLearned(slot: best, word: bestWord) else { return false }
        bump(.evicted)
        return true
    }

    /// CAS a LIVE learned word to DEAD and count it. False if the word changed meanwhile.
    private func killLearned(slot: Int, word w: UInt64) -> Bool {
        guard slots[slot].compareExchange(expected: w, desired: w | Self.deadBit, ordering: .sequentiallyConsistent).exchanged else {
            return false
        }
        learnedPerPort[Self.port(of: w)].wrappingSubtract(1, ordering: .relaxed)
        learnedCount.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return true
    }

    // MARK: - Trimming tombstones (control path, under `lock`)

    /// Turns the DEAD slots that end a cluster back into EMPTY ones, walking back from `start`.
    /// Caller holds the lock (one trimmer at a time).
    private func trimLocked(from start: Int) {
        var i = start
        for _ in 0...Self.maxDisplacement {
            let w = slots[i].load(ordering: .sequentiallyConsistent)
            guard w & (Self.occupiedBit | Self.stateMask) == Self.occupiedBit | Self.deadBit else { return }
            let next = (i + 1) & Int(indexMask)
            guard slots[next].load(ordering: .sequentiallyConsistent) == 0 else { return }
            let trim = w | Self.pendingBit
            guard slots[i].compareExchange(expected: w, desired: trim, ordering: .sequentiallyConsistent).exchanged else { return }
            // Chains that can reach slot i start in [i - 255, i]: two regions at most.
            let busy = announcements[i >> Self.regionShift].load(ordering: .sequentiallyConsistent) != 0
                || announcements[((i - Int(Self.maxDisplacement)) & Int(indexMask)) >> Self.regionShift].load(ordering: .sequentiallyConsistent) != 0
                || slots[next].load(ordering: .sequentiallyConsistent) != 0
            if busy {
                _ = slots[i].compareExchange(expected: trim, desired: w, ordering: .sequentiallyConsistent)  // back to DEAD
                return
            }
            guard slots[i].compareExchange(expected: trim, desired: 0, ordering: .sequentiallyConsistent).exchanged else { return }
            i = (i - 1) & Int(indexMask)
        }
    }

    /// Deletes the LIVE word `w` in `slot` (learned or static) and trims behind it. Caller holds
    /// the lock. False if the word changed meanwhile (a learner moved it).
    private func deleteLocked(slot: Int, word w: UInt64) -> Bool {
        if w & Self.staticBit != 0 {
            guard slots[slot].compareExchange(expected: w, desired: w | Self.deadBit, ordering: .sequentiallyConsistent).exchanged else {
                return false
            }
            staticCount.wrappingSubtract(1, ordering: .relaxed)
        } else {
            guard killLearned(slot: slot, word: w) else { return false }
        }
        trimLocked(from: slot)
        return true
    }

    // MARK: - Static entries and deletion (control path)

    /// Adds (or replaces) a static entry. An existing learned entry for the key becomes static.
    public func addStatic(_ mac: MACAddress, vlan: UInt16 = 0, port: Int) throws(FDBError) {
        guard mac.isValidSource else { throw .invalidAddress(mac) }
        guard vlan < 4095 else { throw .invalidVLAN(vlan) }
        guard port >= 0 && port < Self.portLimit else { throw .invalidPort(port) }
        let p = Self.permute(Self.key(mac, vlan))
        let result: FDBError? = lock.withLock {
            let region = announce(home: Int(p & indexMask))
            defer { withdraw(region) }
            let full = FDBError.staticTableFull(limit: configuration.maxStatic)
            for _ in 0..<Self.maxAttempts * 4 {
                switch probeForInsert(p) {
                case .found(let s, let w):
                    let replacement = Self.withPort(w, port) | Self.staticBit
                    if w & Self.staticBit != 0 {
                        if slots[s].compareExchange(expected: w, desired: replacement, ordering: .sequentiallyConsistent).exchanged { return nil }
                        continue
                    }
                    guard staticCount.load(ordering: .relaxed) < configuration.maxStatic else { return full }
                    if slots[s].compareExchange(expected: w, desired: replacement, ordering: .sequentiallyConsistent).exchanged {
                        learnedPerPort[Self.port(of: w)].wrappingSubtract(1, ordering: .relaxed)
                        learnedCount.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                        staticCount.wrappingAdd(1, ordering: .relaxed)
                        return nil
                    }
                case .full:
                    return .noRoom
                case .free(let slot, let expected, let d):
                    guard staticCount.load(ordering: .relaxed) < configuration.maxStatic else { return full }
                    if claim(p: p, slot: slot, expected: expected, displacement: d, port: port, isStatic: true, now: 0) {
                        staticCount.wrappingAdd(1, ordering: .relaxed)
                        return nil
                    }
                }
            }
            return .noRoom  // lost every attempt to learners inserting the same key
        }
        if let result { throw result }
    }

    /// Removes the entry for `mac` in `vlan`, static or learned. Returns whether one existed.
    @discardableResult
    public func remove(_ mac: MACAddress, vlan: UInt16 = 0) -> Bool {
        let key = Self.key(mac, vlan)
        return lock.withLock {
            while true {
                let (s, w) = findSlot(key: key)
                guard s >= 0 else { return false }
                if deleteLocked(slot: s, word: w) { return true }  // else a learner moved it: again
            }
        }
    }

    /// Removes the entries of `port` (only learned ones unless `includingStatic`); all ports
    /// when `port` is nil. Returns how many went.
    @discardableResult
    public func flush(port: Int? = nil, includingStatic: Bool = false) -> Int {
        lock.withLock {
            var removed = 0
            for i in 0..<capacity {
                while true {
                    let w = slots[i].load(ordering: .sequentiallyConsistent)
                    guard Self.isLive(w), includingStatic || w & Self.staticBit == 0, port == nil || Self.port(of: w) == port else {
                        if w & Self.stateMask == Self.deadBit { trimLocked(from: i) }
                        break
                    }
                    if deleteLocked(slot: i, word: w) {
                        removed += 1
                        break
                    }
                }
            }
            add(.flushed, UInt64(removed))
            return removed
        }
    }

    // MARK: - Ageing

    /// Visits up to `budget` slots from the sweep cursor, removes learned entries idle for the
    /// ageing time and trims tombstones (also when ageing is off). Returns how many entries were
    /// removed. Bounded work per call: call it often.
    @discardableResult
    public func age(now: Timestamp, budget: Int = 16_384) -> Int {
        lock.withLock {
            var removed = 0
            var i = sweepCursor
            for _ in 0..<max(0, budget) {
                let w = slots[i].load(ordering: .sequentiallyConsistent)
                if ageingMilliseconds > 0, Self.isLive(w), w & Self.staticBit == 0 {
                    let seen = lastSeen[i].load(ordering: .relaxed)
                    if now.milliseconds >= seen && now.milliseconds - seen >= ageingMilliseconds, deleteLocked(slot: i, word: w) {
                        removed += 1
                    }
                } else if w & (Self.occupiedBit | Self.stateMask) == Self.occupiedBit | Self.deadBit {
                    trimLocked(from: i)
                }
                i = (i + 1) & Int(indexMask)
            }
            sweepCursor = i
            add(.aged, UInt64(removed))
            return removed
        }
    }

    // MARK: - Inspection (no lock)

    /// Every entry, for `fdb show`. Takes no lock: each slot is one atomic load, so the listing
    /// never holds up learning. Entries that change during the listing may show either state.
    public func entries(now: Timestamp) -> [FDBEntry] {
        var out: [FDBEntry] = []
        out.reserveCapacity(statistics.learnedEntries + statistics.staticEntries)
        for i in 0..<capacity {
            let w = slots[i].load(ordering: .acquiring)
            guard Self.isLive(w) else { continue }
            let seen = lastSeen[i].load(ordering: .relaxed)
            let d = (w >> Self.displacementShift) & 0xFF
            let home = (UInt64(i) &- d) & indexMask
            let key = Self.unpermute((w & Self.remainderMask) << homeBits | home)
            let isStatic = w & Self.staticBit != 0
            out.append(
                FDBEntry(
                    mac: MACAddress(rawValue: key & 0xFFFF_FFFF_FFFF), vlan: UInt16(key >> 48),
                    port: Self.port(of: w), isStatic: isStatic,
                    idleMilliseconds: isStatic || now.milliseconds < seen ? 0 : now.milliseconds - seen))
        }
        out.sort { ($0.vlan, $0.mac) < ($1.vlan, $1.mac) }
        // A station deleted and learned again in a later slot while the listing ran: list it once.
        var unique = 0
        for e in out where unique == 0 || (out[unique - 1].vlan, out[unique - 1].mac) != (e.vlan, e.mac) {
            out[unique] = e
            unique += 1
        }
        out.removeLast(out.count - unique)
        return out
    }

    /// Sizes and counters (no lock).
    public var statistics: FDBStatistics {
        FDBStatistics(
            learnedEntries: learnedCount.load(ordering: .relaxed), staticEntries: staticCount.load(ordering: .relaxed),
            learned: value(.learned), moved: value(.moved), aged: value(.aged), evicted: value(.evicted),
            refused: value(.refused), staticConflicts: value(.staticConflicts), flushed: value(.flushed))
    }

    /// Learned entries per port (for `link show`).
    public func learnedEntries(port: Int) -> Int {
        learnedPerPort[port].load(ordering: .relaxed)
    }

    /// How many times a control-path operation took the table's lock. Diagnostics for tests and
    /// benchmarks: a forwarding thread's learn must leave it unchanged.
    public var controlLockAcquisitions: UInt64 { lock.acquisitions.load(ordering: .relaxed) }

    private func bump(_ c: Counter) { counters[c.rawValue].wrappingAdd(1, ordering: .relaxed) }
    private func add(_ c: Counter, _ n: UInt64) { if n > 0 { counters[c.rawValue].wrappingAdd(n, ordering: .relaxed) } }
    private func value(_ c: Counter) -> UInt64 { counters[c.rawValue].load(ordering: .relaxed) }
}
