// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Foundation
import Synchronization
import Testing
@testable import BridgeCore

@Suite struct MACTableTests {
    let t0 = Timestamp(milliseconds: 10_000)

    @Test func permutationIsInvertible() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let k = rng.next() & MACTable.keyMask
            #expect(MACTable.unpermute(MACTable.permute(k)) == k)
        }
        #expect(MACTable.unpermute(MACTable.permute(0)) == 0)
        #expect(MACTable.unpermute(MACTable.permute(MACTable.keyMask)) == MACTable.keyMask)
    }

    @Test func learnLookupRefreshMove() {
        let t = MACTable()
        #expect(t.lookup(station(1)) == nil)
        #expect(t.learn(station(1), port: 3, now: t0) == .learned)
        #expect(t.lookup(station(1)) == 3)
        #expect(t.lookup(station(1), vlan: 5) == nil, "the key includes the VLAN")
        #expect(t.learn(station(1), port: 3, now: t0.adding(milliseconds: 5)) == .refreshed)
        #expect(t.learn(station(1), port: 7, now: t0) == .moved)
        #expect(t.lookup(station(1)) == 7)
        let s = t.statistics
        #expect(s.learnedEntries == 1 && s.learned == 1 && s.moved == 1)
        #expect(t.learnedEntries(port: 7) == 1 && t.learnedEntries(port: 3) == 0)
    }

    @Test func sameMACInTwoVLANsIsTwoEntries() {
        let t = MACTable()
        _ = t.learn(station(1), vlan: 10, port: 1, now: t0)
        _ = t.learn(station(1), vlan: 20, port: 2, now: t0)
        #expect(t.lookup(station(1), vlan: 10) == 1 && t.lookup(station(1), vlan: 20) == 2)
        #expect(t.statistics.learnedEntries == 2)
        let e = t.entries(now: t0)
        #expect(e.map(\.vlan) == [10, 20] && e.allSatisfy { $0.mac == station(1) })
    }

    @Test func ageingRemovesIdleEntriesOnly() {
        let t = MACTable(configuration: .init(ageingTime: .seconds(2)))
        _ = t.learn(station(1), port: 1, now: t0)
        _ = t.learn(station(2), port: 2, now: t0)
        try! t.addStatic(station(3), port: 2)
        #expect(t.age(now: t0.adding(milliseconds: 1_500), budget: t.capacity) == 0)
        _ = t.learn(station(2), port: 2, now: t0.adding(milliseconds: 1_500))  // station 2 speaks again
        #expect(t.age(now: t0.adding(milliseconds: 2_000), budget: t.capacity) == 1)
        #expect(t.lookup(station(1)) == nil && t.lookup(station(2)) == 2)
        #expect(t.age(now: t0.adding(milliseconds: 3_600), budget: t.capacity) == 1)
        #expect(t.lookup(station(2)) == nil)
        #expect(t.lookup(station(3)) == 2, "static entries never age")
        #expect(t.statistics.aged == 2)
    }

    @Test func ageingZeroMeansNever() {
        let t = MACTable(configuration: .init(ageingTime: .zero))
        _ = t.learn(station(1), port: 1, now: t0)
        #expect(t.age(now: Timestamp(milliseconds: .max), budget: t.capacity) == 0)
        #expect(t.lookup(station(1)) == 1)
    }

    @Test func ageingWorkIsBoundedPerSweep() {
        let t = MACTable(configuration: .init(ageingTime: .seconds(1)))
        for i in 0..<1000 { _ = t.learn(station(i + 1), port: 0, now: t0) }
        var removed = 0
        var sweeps = 0
        while removed < 1000 && sweeps < 10_000 {
            removed += t.age(now: t0.adding(milliseconds: 5_000), budget: 64)
            sweeps += 1
        }
        #expect(removed == 1000)
        #expect(sweeps >= t.capacity / 64, "each sweep visits at most its budget of slots")
    }

    @Test func staticEntriesNeverMoveAndDoNotCount() throws {
        let t = MACTable(configuration: .init(maxLearned: 2, maxStatic: 2))
        try t.addStatic(station(1), port: 1)
        #expect(t.learn(station(1), port: 2, now: t0) == .staticConflict)
        #expect(t.lookup(station(1)) == 1)
        #expect(t.statistics.staticConflicts == 1)
        _ = t.learn(station(2), port: 2, now: t0)
        _ = t.learn(station(3), port: 2, now: t0)
        #expect(t.statistics.learnedEntries == 2 && t.statistics.staticEntries == 1)
        try t.addStatic(station(2), port: 4)  // a learned entry becomes static
        #expect(t.lookup(station(2)) == 4)
        #expect(t.statistics.learnedEntries == 1 && t.statistics.staticEntries == 2)
        #expect(throws: FDBError.staticTableFull(limit: 2)) { try t.addStatic(station(9), port: 1) }
        #expect(throws: FDBError.invalidAddress(.broadcast)) { try t.addStatic(.broadcast, port: 1) }
        #expect(throws: FDBError.invalidAddress(.zero)) { try t.addStatic(.zero, port: 1) }
        #expect(throws: FDBError.invalidVLAN(4095)) { try t.addStatic(station(5), vlan: 4095, port: 1) }
        #expect(throws: FDBError.invalidPort(1024)) { try t.addStatic(station(5), port: 1024) }
        let e = t.entries(now: t0)
        #expect(e.filter(\.isStatic).map(\.mac).sorted() == [station(1), station(2)])
        #expect(t.remove(station(1)) && !t.remove(station(1)))
        #expect(t.statistics.staticEntries == 1)
    }

    @Test func flushPerPortAndAll() throws {
        let t = MACTable()
        for i in 0..<300 { _ = t.learn(station(i + 1), port: i % 3, now: t0) }
        try t.addStatic(station(1000), port: 1)
        #expect(t.flush(port: 1) == 100)
        #expect(t.lookup(station(1000)) == 1, "a port flush keeps static entries")
        #expect((0..<300).allSatisfy { i in t.lookup(station(i + 1)) == (i % 3 == 1 ? nil : i % 3) })
        #expect(t.flush(port: 1, includingStatic: true) == 1)
        #expect(t.flush() == 200)
        #expect(t.statistics.learnedEntries == 0 && t.statistics.staticEntries == 0)
        #expect(t.entries(now: t0).isEmpty)
    }

    @Test func boundedAndEvictsFromTheFullestPort() {
        let t = MACTable(configuration: .init(maxLearned: 100))
        // Five stations on port 1 learned first; then an attacker on port 2 floods sources.
        for i in 1...5 { _ = t.learn(station(i), port: 1, now: t0) }
        var evicting = 0
        for i in 0..<10_000 {
            let r = t.learn(MACAddress(rawValue: 0x0600_0000_0000 | UInt64(i)), port: 2, now: t0.adding(milliseconds: UInt64(i)))
            if r == .learnedAfterEviction { evicting += 1 }
        }
        let s = t.statistics
        #expect(s.learnedEntries == 100)
        #expect(evicting == 10_000 - 95)
        #expect(s.evicted == UInt64(evicting))
        #expect((1...5).allSatisfy { t.lookup(station($0)) == 1 }, "the attacker only churns its own port's entries")
        // A new station on port 1 evicts the attacker, not its neighbours.
        #expect(t.learn(station(6), port: 1, now: t0) == .learnedAfterEviction)
        #expect((1...6).allSatisfy { t.lookup(station($0)) == 1 })
        // Evicted entries are the least recently seen of a sample: the newest attacker source survives.
        #expect(t.lookup(MACAddress(rawValue: 0x0600_0000_0000 | 9_999)) == 2)
    }

    @Test func snapshotReportsIdleTime() {
        let t = MACTable()
        _ = t.learn(mac("aa:bb:cc:dd:ee:01"), vlan: 0, port: 4, now: t0)
        let e = t.entries(now: t0.adding(milliseconds: 2_500))
        #expect(e == [FDBEntry(mac: mac("aa:bb:cc:dd:ee:01"), vlan: 0, port: 4, isStatic: false, idleMilliseconds: 2_500)])
    }

    @Test func capacityIsFixedUpFront() {
        let small = MACTable(configuration: .init(maxLearned: 1000, maxStatic: 0))
        #expect(small.capacity == 1 << 18, "at least 2^18 slots: the remainder fits its 42 bits")
        let big = MACTable(configuration: .init(maxLearned: 1 << 20, maxStatic: 4096))
        #expect(big.capacity >= (1 << 20) * 3 / 2 && big.capacity.nonzeroBitCount == 1)
        for i in 0..<2000 { _ = small.learn(station(i + 1), port: 0, now: t0) }
        #expect(small.statistics.learnedEntries == 1000)
    }

    @Test func manyEntriesSurviveDeletesInTheirClusters() {
        // Backward-shift deletion must keep every remaining entry reachable.
        let t = MACTable(configuration: .init(maxLearned: 10_000, maxStatic: 0))
        var rng = SystemRandomNumberGenerator()
        var model: [UInt64: Int] = [:]
        for step in 0..<50_000 {
            let m = (UInt64.random(in: 1...3_000, using: &rng)) << 1  // even first octet bit: unicast
            let key = MACAddress(rawValue: m)
            if step % 3 == 0 {
                _ = t.remove(key)
                model[m] = nil
            } else {
                let p = Int.random(in: 0..<8, using: &rng)
                _ = t.learn(key, port: p, now: t0)
                model[m] = p
            }
        }
        for (m, p) in model { #expect(t.lookup(MACAddress(rawValue: m)) == p) }
        #expect(t.statistics.learnedEntries == model.count)
        #expect(t.entries(now: t0).count == model.count)
    }
}

extension MACTableTests {
    /// Bug 2 of "Sound foundations": a host spoofing a static entry's MAC must not take the
    /// writer lock on every frame (every worker and `fdb show` would serialise behind it).
    @Test func spoofedStaticMACTakesNoLock() throws {
        let t = MACTable()
        try t.addStatic(station(1), port: 1)
        let before = t.lock.acquisitions.load(ordering: .relaxed)
        for i in 0..<100 {
            #expect(t.learn(station(1), port: 2 + i % 3, now: t0) == .staticConflict)
        }
        #expect(t.lock.acquisitions.load(ordering: .relaxed) == before, "a static conflict took the writer lock")
        #expect(t.statistics.staticConflicts == 100, "every conflict is counted")
        #expect(t.lookup(station(1)) == 1, "the static entry did not move")
    }
}

extension MACTableTests {
    /// Issue 18: learning never takes the control path's lock, so no learn waits for `fdb show`,
    /// ageing, a flush or `fdb add/del`. Deterministic (replaces a wall-clock bound on a learn
    /// during a listing; the timing is a benchmark now): another thread holds the lock for the
    /// whole run, and new stations, moves, evictions and conflicts are learned meanwhile.
    @Test func learningNeverTakesTheControlLock() throws {
        let t = MACTable(configuration: .init(maxLearned: 64))
        try t.addStatic(station(9_999), port: 5)
        let holding = Atomic<Bool>(false), release = Atomic<Bool>(false), released = Atomic<Bool>(false)
        Thread {
            t.lock.withLock {
                holding.store(true, ordering: .releasing)
                let deadline = ContinuousClock.now + .seconds(60)
                while !release.load(ordering: .acquiring) && ContinuousClock.now < deadline { sched_yield() }
            }
            released.store(true, ordering: .releasing)
        }.start()
        while !holding.load(ordering: .acquiring) { sched_yield() }
        let locks = t.controlLockAcquisitions
        var outcomes: [LearnOutcome: Int] = [:]
        for i in 0..<200 { outcomes[t.learn(station(i + 1), port: i % 3, now: t0), default: 0] += 1 }  // fills, then evicts
        let present = (1...200).filter { t.lookup(station($0)) != nil }
        for i in present { outcomes[t.learn(station(i), port: 4, now: t0), default: 0] += 1 }  // moves
        outcomes[t.learn(station(9_999), port: 1, now: t0), default: 0] += 1
        _ = t.entries(now: t0)  // a listing takes no lock either
        let stats = t.statistics
        let lockWasReleased = released.load(ordering: .acquiring)
        release.store(true, ordering: .releasing)
        #expect(!lockWasReleased, "the lock was held throughout")
        #expect(t.controlLockAcquisitions == locks)
        #expect(outcomes[.learned] == 64 && outcomes[.learnedAfterEviction] == 136)
        #expect(present.count == 64 && outcomes[.moved] == 64 && outcomes[.staticConflict] == 1)
        #expect(stats.learnedEntries == 64 && t.learnedEntries(port: 4) == 64)
        while !released.load(ordering: .acquiring) { sched_yield() }
    }
}
