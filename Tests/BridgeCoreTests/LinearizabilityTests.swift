// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Issue 18: the lock-free MAC table is linearizable. Many short random histories of concurrent
// learn / move / lookup / delete / age on a small table (a few keys whose home slots are at most
// two apart, so probe chains collide; three ports, so moves are frequent; room for fewer learned
// entries than keys, so learns evict), each checked against a sequential map model by an
// exhaustive search over the orderings the real-time order allows (Wing & Gong, with Lowe's
// memoisation). Run under ThreadSanitizer by scripts/test.sh.
//
// The model is the table's contract, stated plainly: a key is absent, learned on a port, or
// static on a port. Where the contract leaves a choice (which entry an eviction takes; an ageing
// sweep is not one atomic step but removes stale entries one at a time within its interval),
// the search tries every choice.
import Foundation
import Synchronization
import Testing
@testable import BridgeCore

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LinearizabilityTests {
    static let ports = 3
    static let maxLearned = 2

    /// `count` unicast MACs whose home slots in a table of `capacity` slots lie in [h, h + 2].
    static func collidingKeys(count: Int, capacity: Int) -> [MACAddress] {
        let mask = UInt64(capacity - 1)
        func home(_ m: MACAddress) -> UInt64 { MACTable.permute(MACTable.key(m, 0)) & mask }
        let first = MACAddress(rawValue: 0x0200_0000_1000)
        let h = home(first)
        var keys = [first]
        var n: UInt64 = 0x1001
        while keys.count < count {
            let m = MACAddress(rawValue: 0x0200_0000_0000 | n)
            if (home(m) &- h) & mask <= 2 { keys.append(m) }
            n += 1
        }
        return keys
    }

    // MARK: - Histories

    enum Call: Equatable {
        case learn(key: Int, port: Int)
        case lookup(key: Int)
        case remove(key: Int)
        case age
    }

    enum Result: Equatable {
        case learned(LearnOutcome)
        case port(Int?)
        case removed(Bool)
        case aged(Int)
    }

    struct Operation {
        var thread: Int
        var call: Call
        var result: Result
        var start: UInt64
        var end: UInt64
    }

    // MARK: - The model

    /// Per key, 4 bits: 0 absent, 1 + port learned, 8 + port static.
    struct Model: Hashable {
        var bits: UInt32 = 0
        func value(_ k: Int) -> UInt32 { (bits >> (4 * UInt32(k))) & 0xF }
        mutating func set(_ k: Int, _ v: UInt32) { bits = bits & ~(0xF << (4 * UInt32(k))) | v << (4 * UInt32(k)) }
        func port(_ k: Int) -> Int? {
            let v = value(k)
            return v == 0 ? nil : Int(v & 7) - (v & 8 == 0 ? 1 : 0)
        }
        func isStatic(_ k: Int) -> Bool { value(k) & 8 != 0 }
        func learnedKeys(_ keys: Int) -> [Int] { (0..<keys).filter { value($0) != 0 && !isStatic($0) } }
    }

    /// One linearizable step of an operation; an operation is one step or more (an eviction and
    /// an insert; an ageing sweep's removals), all within the operation's interval.
    enum Step {
        case learn(key: Int, port: Int, outcome: LearnOutcome)
        case evictOne  // any learned entry goes
        case evictAtMostOne
        case lookup(key: Int, port: Int?)
        case remove(key: Int, existed: Bool)
        case ageOne  // any learned entry goes (every learned entry is stale in these histories)
    }

    /// The states `step` can lead to from `m` (none: the step is impossible there).
    static func apply(_ step: Step, to m: Model, keys: Int) -> [Model] {
        switch step {
        case .lookup(let k, let p):
            return m.port(k) == p ? [m] : []
        case .remove(let k, let existed):
            guard (m.value(k) != 0) == existed else { return [] }
            var n = m
            n.set(k, 0)
            return [n]
        case .evictOne, .ageOne:
            return m.learnedKeys(keys).map { k in
                var n = m
                n.set(k, 0)
                return n
            }
        case .evictAtMostOne:
            return [m] + apply(.evictOne, to: m, keys: keys)
        case .learn(let k, let p, let outcome):
            let learnedCount = m.learnedKeys(keys).count
            var n = m
            switch outcome {
            case .refreshed:
                return m.port(k) == p ? [m] : []
            case .staticConflict:
                return m.isStatic(k) && m.port(k) != p ? [m] : []
            case .moved:
                guard m.value(k) != 0, !m.isStatic(k), m.port(k) != p else { return [] }
                n.set(k, 1 + UInt32(p))
                return [n]
            case .learned, .learnedAfterEviction:
                guard m.value(k) == 0, learnedCount < maxLearned else { return [] }
                n.set(k, 1 + UInt32(p))
                return [n]
            case .refused:
                return [m]  // no room, or lost its attempts to concurrent inserts
            }
        }
    }

    struct Pending {
        var step: Step
        var start: UInt64
        var end: UInt64
    }

    static func steps(of ops: [Operation]) -> [Pending] {
        var out: [Pending] = []
        for op in ops {
            func add(_ s: Step) { out.append(Pending(step: s, start: op.start, end: op.end)) }
            switch (op.call, op.result) {
            case (.learn(let k, let p), .learned(let o)):
                add(.learn(key: k, port: p, outcome: o))
                // A learn evicts at most one entry; it may have evicted and then lost its insert to
                // another thread's insert of the same station (then it refreshes, moves or is refused).
                if o == .learnedAfterEviction { add(.evictOne) } else if o != .learned { add(.evictAtMostOne) }
            case (.lookup(let k), .port(let p)): add(.lookup(key: k, port: p))
            case (.remove(let k), .removed(let e)): add(.remove(key: k, existed: e))
            case (.age, .aged(let n)): for _ in 0..<n { add(.ageOne) }
            default: preconditionFailure("a result that does not fit its call")
            }
        }
        return out
    }

    /// Whether some order of the steps, consistent with real time, is legal for the model.
    static func isLinearizable(_ ops: [Operation], initial: Model, keys: Int) -> Bool {
        let steps = steps(of: ops)
        precondition(steps.count <= 64)
        let all: UInt64 = steps.count == 64 ? .max : (1 << steps.count) - 1
        struct Node: Hashable { var done: UInt64; var model: Model }
        var seen = Set<Node>()
        func search(_ done: UInt64, _ m: Model) -> Bool {
            if done == all { return true }
            guard seen.insert(Node(done: done, model: m)).inserted else { return false }
            // A step may go next if it started before every other pending step ended.
            var firstEnd = UInt64.max
            for (i, s) in steps.enumerated() where done & (1 << i) == 0 { firstEnd = min(firstEnd, s.end) }
            for (i, s) in steps.enumerated() where done & (1 << i) == 0 && s.start < firstEnd {
                for next in apply(s.step, to: m, keys: keys) where search(done | 1 << i, next) { return true }
            }
            return false
        }
        return search(0, initial)
    }

    // MARK: - Running histories

    /// Threads that run one history's operations each round, started together by a barrier
    /// (spinning on atomics, with a deadline: no sleeps).
    final class Crew: @unchecked Sendable {
        let threads: Int
        let round = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let clock = Atomic<UInt64>(0)
        let quit = Atomic<Bool>(false)
        // Written by the main thread between rounds, read by the crew after the barrier.
        var table: MACTable!
        var keys: [MACAddress] = []
        var sweepStart = 0
        var programs: [[Call]] = []
        /// One record per thread, each written only by its thread during a round.
        final class Record: @unchecked Sendable { var operations: [Operation] = [] }
        let records: [Record]
        let group = DispatchGroup()

        init(threads: Int) {
            self.threads = threads
            records = (0..<threads).map { _ in Record() }
            for t in 0..<threads {
                group.enter()
                Thread { [self] in
                    var done = 0
                    while true {
                        while round.load(ordering: .acquiring) == done && !quit.load(ordering: .acquiring) { sched_yield() }
                        if quit.load(ordering: .acquiring) { break }
                        done += 1
                        run(thread: t)
                        finished.add(1, ordering: .releasing)
                    }
                    group.leave()
                }.start()
            }
        }

        func run(thread t: Int) {
            var out: [Operation] = []
            out.reserveCapacity(programs[t].count)
            for call in programs[t] {
                let start = clock.add(1, ordering: .sequentiallyConsistent).newValue
                let result: Result
                switch call {
                case .learn(let k, let p): result = .learned(table.learn(keys[k], port: p, now: Timestamp(milliseconds: 0)))
                case .lookup(let k): result = .port(table.lookup(keys[k]))
                case .remove(let k): result = .removed(table.remove(keys[k]))
                case .age:
                    // A sweep over the keys' neighbourhood (it trims tombstones there as well).
                    table.sweepCursor = sweepStart
                    result = .aged(table.age(now: Timestamp(milliseconds: 10), budget: 16))
                }
                let end = clock.add(1, ordering: .sequentiallyConsistent).newValue
                out.append(Operation(thread: t, call: call, result: result, start: start, end: end))
            }
            records[t].operations = out
        }

        /// Runs one round; false if the crew missed the (generous) deadline.
        func runRound() -> Bool {
            finished.store(0, ordering: .relaxed)
            round.add(1, ordering: .releasing)
            let deadline = ContinuousClock.now + .seconds(30)
            while finished.load(ordering: .acquiring) < threads {
                if ContinuousClock.now > deadline { return false }
                sched_yield()
            }
            return true
        }

        func stop() {
            quit.store(true, ordering: .releasing)
            _ = group.wait(timeout: .now() + 30)
        }
    }

    /// Two forwarding threads learn and look up; a control thread removes and ages.
    static func randomPrograms(keys: Int, opsPerThread: Int, using rng: inout some RandomNumberGenerator) -> [[Call]] {
        var programs: [[Call]] = []
        for _ in 0..<2 {
            programs.append((0..<opsPerThread).map { _ in
                let k = Int.random(in: 0..<keys, using: &rng)
                return Int.random(in: 0..<4, using: &rng) == 0
                    ? .lookup(key: k) : .learn(key: k, port: Int.random(in: 0..<ports, using: &rng))
            })
        }
        if Bool.random(using: &rng) {
            // The second forwarding thread sees the same stations as the first, on its own ports:
            // both insert the same new station at once (the race duplicates come from).
            programs[1] = programs[0].map { call in
                if case .learn(let k, _) = call { return .learn(key: k, port: Int.random(in: 0..<ports, using: &rng)) }
                return call
            }
        }
        programs.append((0..<max(1, opsPerThread / 2)).map { _ in
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: return .age
            case 1: return .lookup(key: Int.random(in: 0..<keys, using: &rng))
            default: return .remove(key: Int.random(in: 0..<keys, using: &rng))
            }
        })
        return programs
    }

    /// Runs `histories` random histories; returns the first that is not linearizable, if any,
    /// and how many of the histories had operations overlapping on the same key.
    static func check(histories: Int, seed: UInt64) -> (failure: [Operation]?, countsWrong: String?) {
        var rng = ModelTests.Rng(state: seed)  // the model test's reproducible generator
        let crew = Crew(threads: 3)
        defer { crew.stop() }
        let keyCount = 4
        let configuration = MACTable.Configuration(maxLearned: maxLearned, maxStatic: 4, ageingTime: .milliseconds(1))
        let keys = collidingKeys(count: keyCount, capacity: MACTable(configuration: configuration).capacity)
        // One table for all histories (a fresh one costs more than a history): emptied of the
        // keys between histories, tombstones and all, by a sweep of the neighbourhood.
        let table = MACTable(configuration: configuration)
        let home = Int(MACTable.permute(MACTable.key(keys[0], 0)) & UInt64(table.capacity - 1))
        crew.sweepStart = (home - 4) & (table.capacity - 1)
        for _ in 0..<histories {
            for k in keys { table.remove(k) }
            table.sweepCursor = crew.sweepStart
            table.age(now: Timestamp(milliseconds: 10), budget: 16)
            if table.statistics.learnedEntries != 0 || table.statistics.staticEntries != 0 {
                return (nil, "not empty after removing every key: \(table.statistics)")
            }
            // Key 3 starts static on port 0 (learns of it conflict until it is removed); key 0
            // starts learned on port 1.
            try! table.addStatic(keys[3], port: 0)
            _ = table.learn(keys[0], port: 1, now: Timestamp(milliseconds: 0))
            var initial = Model()
            initial.set(3, 8)
            initial.set(0, 2)
            crew.table = table
            crew.keys = keys
            crew.programs = randomPrograms(keys: keyCount, opsPerThread: 5, using: &rng)
            guard crew.runRound() else { return (nil, "the crew missed its deadline") }
            let ops = crew.records.flatMap { $0.operations }
            if !isLinearizable(ops, initial: initial, keys: keyCount) { return (ops, nil) }
            // Quiet again: the counters are exact.
            let entries = table.entries(now: Timestamp(milliseconds: 0))
            let s = table.statistics
            let perPort = (0..<MACTable.portLimit).reduce(0) { $0 + table.learnedEntries(port: $1) }
            let learned = entries.filter { !$0.isStatic }.count
            if s.learnedEntries != learned || perPort != learned || s.staticEntries != entries.count - learned {
                return (nil, "counters: learned \(s.learnedEntries), per port \(perPort), listed \(learned) learned of \(entries.count)")
            }
        }
        return (nil, nil)
    }

    @Test func learnMoveLookupDeleteAgeAreLinearizable() {
        let seed = UInt64.random(in: 1...UInt64.max)
        let (failure, countsWrong) = Self.check(histories: 1_000, seed: seed)
        #expect(countsWrong == nil, "seed \(seed): \(countsWrong ?? "")")
        if let failure {
            let lines = failure.sorted { $0.start < $1.start }.map { "t\($0.thread) [\($0.start), \($0.end)] \($0.call) -> \($0.result)" }
            Issue.record("seed \(seed): not linearizable:\n\(lines.joined(separator: "\n"))")
        }
    }

    @Test func checkerRejectsAnImpossibleHistory() {
        // The checker itself can fail: a lookup that sees a port nobody learned, and a move seen
        // before the learn it needs.
        let op = { (t: Int, c: Call, r: Result, s: UInt64, e: UInt64) in Operation(thread: t, call: c, result: r, start: s, end: e) }
        #expect(!Self.isLinearizable([op(0, .learn(key: 1, port: 2), .learned(.learned), 1, 2), op(1, .lookup(key: 1), .port(1), 3, 4)], initial: Model(), keys: 2))
        #expect(!Self.isLinearizable([op(0, .learn(key: 1, port: 2), .learned(.moved), 1, 2), op(1, .learn(key: 1, port: 1), .learned(.learned), 3, 4)], initial: Model(), keys: 2))
        // Overlapping, the same two are fine in one order.
        #expect(Self.isLinearizable([op(0, .learn(key: 1, port: 2), .learned(.moved), 1, 4), op(1, .learn(key: 1, port: 1), .learned(.learned), 2, 3)], initial: Model(), keys: 2))
    }
}

