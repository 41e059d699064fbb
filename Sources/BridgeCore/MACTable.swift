// MACTable: the forwarding database (FDB), key (VLAN, MAC) -> port.
//
// What the table promises (read this before the code):
// - Lookups take no lock, never wait and never retry: a lookup is a run of single 64-bit
//   atomic loads. Each slot word holds the whole entry (which key, which port, static or not),
//   so a reader can never pair one entry's key with another entry's port ("torn" entries are
//   impossible by construction). A lookup that races with a delete may miss an entry that is
//   being moved; the frame is then flooded once, which is always safe for a bridge.
// - Writers (learning a new station, moves, ageing, flushes, static entries) serialise on one
//   mutex. Refreshing a known station on its known port is lock-free: one relaxed store of its
//   last-seen time, skipped when the time has not changed.
// - Memory is allocated once, at init, from the configured bounds, and never grows.
// - At most `maxLearned` learned entries (default 65,536). When full, the table evicts from the
//   port that holds the most learned entries (as Open vSwitch does): of up to 8 sampled entries
//   of that port, the least recently seen goes. A port flooding random source MACs therefore
//   only churns its own entries; stations on other ports keep theirs. A learn that still finds
//   no room is refused and counted.
// - Static entries (at most `maxStatic`, not counted against `maxLearned`) never age and never
//   move; a station seen with a static entry's key on another port is counted as a conflict
//   (an atomic add, no lock: a host spoofing a static MAC must not serialise the workers).
// - Ageing: an entry not seen for `ageingTime` is removed by `age(now:budget:)`, which visits a
//   bounded number of slots per call (a sweep cursor walks the table). Zero means never.
//
// Layout: open addressing with linear probing over 2^n slots (load factor at most 2/3) and
// deletion by backward shift, so there are no tombstones and probe chains stay short. The
// 60-bit key (VLAN << 48 | MAC) is mixed by an invertible permutation p; the low n bits of p
// are the home slot and the high 60-n bits (the "remainder") are stored, together with the
// displacement from home, the port and the static flag: 64 bits in all. Last-seen times live
// in a separate array, so per-frame refreshes do not dirty the cache lines lookups read.

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

/// The lock-free-read MAC learning table. See the file comment for its contract.
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

    /// Port numbers the table can store (the slot word has 8 bits for it).
    public static let portLimit = 256
    /// How far an entry may sit from its home slot.
    @usableFromInline static let maxDisplacement: UInt64 = 255
    /// Entries sampled from the fullest port when evicting.
    static let evictionSample = 8

    // Slot word layout.
    @usableFromInline static let occupiedBit: UInt64 = 1 << 63
    @usableFromInline static let staticBit: UInt64 = 1 << 62
    @usableFromInline static let displacementShift: UInt64 = 54
    @usableFromInline static let portShift: UInt64 = 46
    @usableFromInline static let remainderMask: UInt64 = (1 << 46) - 1
    @usableFromInline static let keyMask: UInt64 = (1 << 60) - 1

    public let configuration: Configuration
    /// Number of slots (a power of two).
    public let capacity: Int
    @usableFromInline let indexMask: UInt64
    @usableFromInline let homeBits: UInt64
    @usableFromInline let slots: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let lastSeen: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let ageingMilliseconds: UInt64

    @usableFromInline let lock = WriterLock()
    // Guarded by `lock`:
    private var learnedPerPort: [Int]
    private var learnedCount = 0
    private var staticCount = 0
    private var sweepCursor = 0
    private var evictCursor = 0
    // Written under `lock` (or, for conflicts, with an atomic add); read by anyone.
    private let counters: UnsafeMutablePointer<Atomic<UInt64>>
    private enum Counter: Int, CaseIterable { case learned, moved, aged, evicted, refused, staticConflicts, flushed }

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.maxLearned >= 1 && configuration.maxLearned <= 1 << 22, "maxLearned must be 1 ... 4194304")
        precondition(configuration.maxStatic >= 0 && configuration.maxStatic <= 1 << 20, "maxStatic must be 0 ... 1048576")
        precondition(configuration.ageingTime >= .zero, "ageing time must not be negative")
        self.configuration = configuration
        let entries = configuration.maxLearned + configuration.maxStatic
        var bits = 14  // at least 2^14 slots: the remainder then fits its 46 bits
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
        counters = .allocate(capacity: Counter.allCases.count)
        for i in 0..<Counter.allCases.count { (counters + i).initialize(to: Atomic(0)) }
        learnedPerPort = Array(repeating: 0, count: Self.portLimit)
        let (s, a) = configuration.ageingTime.components
        ageingMilliseconds = UInt64(s) * 1000 + UInt64(a / 1_000_000_000_000_000)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
        lastSeen.deinitialize(count: capacity)
        lastSeen.deallocate()
        counters.deinitialize(count: Counter.allCases.count)
        counters.deallocate()
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

    // MARK: - Lookup (lock-free)

    /// The slot holding `key` and the word read there, or (-1, 0). Lock-free; see the file
    /// comment for what a race can do.
    @inlinable @inline(__always)
    func findSlot(key: UInt64) -> (slot: Int, word: UInt64) {
        let p = Self.permute(key)
        let remainder = p >> homeBits
        var i = p & indexMask
        var d: UInt64 = 0
        while true {
            let w = slots[Int(i)].load(ordering: .acquiring)
            if w & Self.occupiedBit == 0 { return (-1, 0) }
            if w & Self.remainderMask == remainder && (w >> Self.displacementShift) & 0xFF == d {
                return (Int(i), w)
            }
            d &+= 1
            if d > Self.maxDisplacement { return (-1, 0) }
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
        return s < 0 ? -1 : Int((w >> Self.portShift) & 0xFF)
    }

    // MARK: - Learning

    /// Learns (or refreshes) `mac` in `vlan` on `port` at `now`. The caller has checked that
    /// `mac` is a valid source (not multicast, not zero): those are never learned.
    @inlinable
    public func learn(_ mac: MACAddress, vlan: UInt16 = 0, port: Int, now: Timestamp) -> LearnOutcome {
        precondition(port >= 0 && port < Self.portLimit, "port index out of range")
        let key = Self.key(mac, vlan)
        let (s, w) = findSlot(key: key)
        if s >= 0 {
            if Int((w >> Self.portShift) & 0xFF) == port {
                // The common case: a known station on its known port. No lock, no RMW. (Should
                // the slot change hands meanwhile, another entry gets a fresher time: harmless.)
                if w & Self.staticBit == 0, lastSeen[s].load(ordering: .relaxed) != now.milliseconds {
                    lastSeen[s].store(now.milliseconds, ordering: .relaxed)
                }
                return .refreshed
            }
        }
        return learnSlow(key: key, port: port, now: now)
    }

    @usableFromInline
    func learnSlow(key: UInt64, port: Int, now: Timestamp) -> LearnOutcome {
        precondition(MACAddress(rawValue: key).isValidSource, "multicast and zero sources are never learned")
        // A host spoofing a static entry's MAC: count it with an atomic add and take no lock.
        // Static entries change only under the lock, but a conflict seen here was real when
        // read, which is all the counter promises.
        let (s0, w0) = findSlot(key: key)
        if s0 >= 0, w0 & Self.staticBit != 0, Int((w0 >> Self.portShift) & 0xFF) != port {
            bump(.staticConflicts)
            return .staticConflict
        }
        return lock.withLock {
            let (s, w) = findSlot(key: key)
            if s >= 0 {
                let old = Int((w >> Self.portShift) & 0xFF)
                if old == port {
                    if w & Self.staticBit == 0 { lastSeen[s].store(now.milliseconds, ordering: .relaxed) }
                    return .refreshed
                }
                if w & Self.staticBit != 0 {
                    bump(.staticConflicts)
                    return .staticConflict
                }
                lastSeen[s].store(now.milliseconds, ordering: .relaxed)
                slots[s].store(Self.withPort(w, port), ordering: .releasing)
                learnedPerPort[old] -= 1
                learnedPerPort[port] += 1
                bump(.moved)
                return .moved
            }
            var evicted = false
            if learnedCount >= configuration.maxLearned {
                guard evictFromFullestPort() else {
                    bump(.refused)
                    return .refused
                }
                evicted = true
            }
            guard insertLocked(key: key, port: port, isStatic: false, now: now) else {
                bump(.refused)
                return .refused
            }
            learnedCount += 1
            learnedPerPort[port] += 1
            bump(.learned)
            return evicted ? .learnedAfterEviction : .learned
        }
    }

    @usableFromInline
    static func withPort(_ w: UInt64, _ port: Int) -> UInt64 {
        (w & ~(UInt64(0xFF) << portShift)) | UInt64(port) << portShift
    }

    /// Writes a new entry into the first free slot of its probe chain. Caller holds the lock.
    private func insertLocked(key: UInt64, port: Int, isStatic: Bool, now: Timestamp) -> Bool {
        let p = Self.permute(key)
        let remainder = p >> homeBits
        var i = Int(p & indexMask)
        for d in 0...Self.maxDisplacement {
            if slots[i].load(ordering: .relaxed) & Self.occupiedBit == 0 {
                // Time first, then publish the word: a reader or the ager that sees the entry
                // also sees a fresh time.
                lastSeen[i].store(now.milliseconds, ordering: .relaxed)
                var w = Self.occupiedBit | d << Self.displacementShift | UInt64(port) << Self.portShift | remainder
                if isStatic { w |= Self.staticBit }
                slots[i].store(w, ordering: .releasing)
                return true
            }
            i = (i + 1) & Int(indexMask)
        }
        return false
    }

    /// Removes the entry in slot `hole` and shifts later entries of the cluster back
    /// (Knuth's algorithm R), so no tombstones are needed. Caller holds the lock and has
    /// already adjusted the entry counts.
    private func removeSlotLocked(_ start: Int) {
        var hole = start
        var j = (start + 1) & Int(indexMask)
        while true {
            let w = slots[j].load(ordering: .relaxed)
            if w & Self.occupiedBit == 0 { break }
            let d = Int((w >> Self.displacementShift) & 0xFF)
            let distance = (j - hole) & Int(indexMask)
            if distance <= d {
                // The entry's home is at or before the hole: it may move back into it.
                let moved = (w & ~(UInt64(0xFF) << Self.displacementShift)) | UInt64(d - distance) << Self.displacementShift
                lastSeen[hole].store(lastSeen[j].load(ordering: .relaxed), ordering: .relaxed)
                slots[hole].store(moved, ordering: .releasing)
                hole = j
            }
            j = (j + 1) & Int(indexMask)
        }
        slots[hole].store(0, ordering: .releasing)
    }

    /// Removes the entry in `slot`, keeping the counts right. Caller holds the lock.
    private func deleteLocked(slot: Int) {
        let w = slots[slot].load(ordering: .relaxed)
        if w & Self.staticBit != 0 {
            staticCount -= 1
        } else {
            learnedCount -= 1
            learnedPerPort[Int((w >> Self.portShift) & 0xFF)] -= 1
        }
        removeSlotLocked(slot)
    }

    /// The eviction policy of the file comment. Caller holds the lock.
    private func evictFromFullestPort() -> Bool {
        var victimPort = -1
        var most = 0
        for p in 0..<Self.portLimit where learnedPerPort[p] > most {
            most = learnedPerPort[p]
            victimPort = p
        }
        if victimPort < 0 { return false }
        var best = -1
        var bestSeen = UInt64.max
        var found = 0
        var i = evictCursor
        for _ in 0..<capacity {
            let w = slots[i].load(ordering: .relaxed)
            if w & Self.occupiedBit != 0, w & Self.staticBit == 0,
                Int((w >> Self.portShift) & 0xFF) == victimPort
            {
                let seen = lastSeen[i].load(ordering: .relaxed)
                if seen < bestSeen {
                    bestSeen = seen
                    best = i
                }
                found += 1
                if found == Self.evictionSample { break }
            }
            i = (i + 1) & Int(indexMask)
        }
        evictCursor = i
        guard best >= 0 else { return false }
        deleteLocked(slot: best)
        bump(.evicted)
        return true
    }

    // MARK: - Static entries and deletion

    /// Adds (or replaces) a static entry. An existing learned entry for the key becomes static.
    public func addStatic(_ mac: MACAddress, vlan: UInt16 = 0, port: Int) throws(FDBError) {
        guard mac.isValidSource else { throw .invalidAddress(mac) }
        guard vlan < 4095 else { throw .invalidVLAN(vlan) }
        guard port >= 0 && port < Self.portLimit else { throw .invalidPort(port) }
        let key = Self.key(mac, vlan)
        let result: FDBError? = lock.withLock {
            let (s, w) = findSlot(key: key)
            if s >= 0 {
                if w & Self.staticBit == 0 {
                    guard staticCount < configuration.maxStatic else { return .staticTableFull(limit: configuration.maxStatic) }
                    learnedCount -= 1
                    learnedPerPort[Int((w >> Self.portShift) & 0xFF)] -= 1
                    staticCount += 1
                }
                slots[s].store(Self.withPort(w, port) | Self.staticBit, ordering: .releasing)
                return nil
            }
            guard staticCount < configuration.maxStatic else { return .staticTableFull(limit: configuration.maxStatic) }
            guard insertLocked(key: key, port: port, isStatic: true, now: Timestamp(milliseconds: 0)) else { return .noRoom }
            staticCount += 1
            return nil
        }
        if let result { throw result }
    }

    /// Removes the entry for `mac` in `vlan`, static or learned. Returns whether one existed.
    @discardableResult
    public func remove(_ mac: MACAddress, vlan: UInt16 = 0) -> Bool {
        let key = Self.key(mac, vlan)
        return lock.withLock {
            let s = findSlot(key: key).slot
            guard s >= 0 else { return false }
            deleteLocked(slot: s)
            return true
        }
    }

    /// Removes the entries of `port` (only learned ones unless `includingStatic`); all ports
    /// when `port` is nil. Returns how many went.
    @discardableResult
    public func flush(port: Int? = nil, includingStatic: Bool = false) -> Int {
        lock.withLock {
            var removed = 0
            var i = 0
            while i < capacity {
                let w = slots[i].load(ordering: .relaxed)
                if w & Self.occupiedBit != 0,
                    includingStatic || w & Self.staticBit == 0,
                    port == nil || Int((w >> Self.portShift) & 0xFF) == port
                {
                    deleteLocked(slot: i)
                    removed += 1
                    continue  // another entry may have shifted into slot i
                }
                i += 1
            }
            add(.flushed, UInt64(removed))
            return removed
        }
    }

    // MARK: - Ageing

    /// Visits up to `budget` slots from the sweep cursor and removes learned entries idle for
    /// the ageing time. Returns how many were removed. Bounded work per call: call it often.
    @discardableResult
    public func age(now: Timestamp, budget: Int = 16_384) -> Int {
        guard ageingMilliseconds > 0 else { return 0 }
        return lock.withLock {
            var removed = 0
            var visited = 0
            var i = sweepCursor
            while visited < budget {
                let w = slots[i].load(ordering: .relaxed)
                if w & Self.occupiedBit != 0, w & Self.staticBit == 0 {
                    let seen = lastSeen[i].load(ordering: .relaxed)
                    if now.milliseconds >= seen && now.milliseconds - seen >= ageingMilliseconds {
                        deleteLocked(slot: i)
                        removed += 1
                        visited += 1
                        continue  // re-check slot i: a later entry may have shifted into it
                    }
                }
                visited += 1
                i = (i + 1) & Int(indexMask)
            }
            sweepCursor = i
            add(.aged, UInt64(removed))
            return removed
        }
    }

    // MARK: - Inspection

    /// Every entry, for `fdb show`. The writer lock is held only to copy the occupied slots
    /// (a consistent picture: no entry twice or missing mid-move); decoding and sorting happen
    /// after it is released, so a listing of a full table does not hold up learning.
    public func entries(now: Timestamp) -> [FDBEntry] {
        var raw: [(slot: Int, word: UInt64, seen: UInt64)] = []
        lock.withLock {
            raw.reserveCapacity(learnedCount + staticCount)
            for i in 0..<capacity {
                let w = slots[i].load(ordering: .relaxed)
                if w & Self.occupiedBit != 0 { raw.append((i, w, lastSeen[i].load(ordering: .relaxed))) }
            }
        }
        var out: [FDBEntry] = []
        out.reserveCapacity(raw.count)
        for (i, w, seen) in raw {
            let d = (w >> Self.displacementShift) & 0xFF
            let home = (UInt64(i) &- d) & indexMask
            let key = Self.unpermute((w & Self.remainderMask) << homeBits | home)
            let isStatic = w & Self.staticBit != 0
            out.append(
                FDBEntry(
                    mac: MACAddress(rawValue: key), vlan: UInt16(key >> 48),
                    port: Int((w >> Self.portShift) & 0xFF), isStatic: isStatic,
                    idleMilliseconds: isStatic || now.milliseconds < seen ? 0 : now.milliseconds - seen))
        }
        out.sort { ($0.vlan, $0.mac) < ($1.vlan, $1.mac) }
        return out
    }

    /// Sizes and counters.
    public var statistics: FDBStatistics {
        let (l, s) = lock.withLock { (learnedCount, staticCount) }
        return FDBStatistics(
            learnedEntries: l, staticEntries: s,
            learned: value(.learned), moved: value(.moved), aged: value(.aged), evicted: value(.evicted),
            refused: value(.refused), staticConflicts: value(.staticConflicts), flushed: value(.flushed))
    }

    /// Learned entries per port (for `link show`).
    public func learnedEntries(port: Int) -> Int {
        lock.withLock { learnedPerPort[port] }
    }

    /// How many times a control-path operation took the table's lock. Diagnostics for tests and
    /// benchmarks: a forwarding thread's learn must leave it unchanged.
    public var controlLockAcquisitions: UInt64 { lock.acquisitions.load(ordering: .relaxed) }

    private func bump(_ c: Counter) { counters[c.rawValue].wrappingAdd(1, ordering: .relaxed) }
    private func add(_ c: Counter, _ n: UInt64) { if n > 0 { counters[c.rawValue].wrappingAdd(n, ordering: .relaxed) } }
    private func value(_ c: Counter) -> UInt64 { counters[c.rawValue].load(ordering: .relaxed) }
}
