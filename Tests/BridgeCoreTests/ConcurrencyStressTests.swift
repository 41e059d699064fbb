// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Readers and writers hammer one table from several threads. The invariant: a lookup returns
// nil or a port that was really learned for that MAC; never another entry's port (a "torn"
// entry). Run under ThreadSanitizer by .ci/run.
import Foundation
import Synchronization
import Testing
@testable import BridgeCore

@Suite struct ConcurrencyStressTests {
    /// MAC i is only ever learned on ports i % 16 or i % 16 + 16; statics of other MACs use 40...47.
    static func allowedPorts(_ i: UInt64) -> (Int, Int) { (Int(i % 16), Int(i % 16) + 16) }
    static func address(_ i: UInt64) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0000 | i << 4) }

    @Test func readersNeverSeeTornEntries() throws {
        let table = MACTable(configuration: .init(maxLearned: 4_096, maxStatic: 256, ageingTime: .milliseconds(50)))
        let macs: UInt64 = 12_000  // more than fit: evictions and re-learning churn the slots
        let clock = Atomic<UInt64>(1)
        let stop = Atomic<Bool>(false)
        let lookups = Atomic<UInt64>(0)
        let hits = Atomic<UInt64>(0)
        let torn = Atomic<UInt64>(0)
        let duration: Duration = .seconds(1)
        let group = DispatchGroup()

        func spawn(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            let t = Thread {
                body()
                group.leave()
            }
            t.start()
        }

        for worker in 0..<4 {
            spawn {
                var rng = SystemRandomNumberGenerator()
                var n: UInt64 = 0, h: UInt64 = 0, bad: UInt64 = 0
                while !stop.load(ordering: .relaxed) {
                    let i = UInt64.random(in: 0..<macs, using: &rng)
                    let (p1, p2) = Self.allowedPorts(i)
                    if (n + UInt64(worker)) % 2 == 0 {
                        _ = table.learn(Self.address(i), vlan: UInt16(i % 3), port: Bool.random(using: &rng) ? p1 : p2,
                                        now: Timestamp(milliseconds: clock.load(ordering: .relaxed)))
                    }
                    if let p = table.lookup(Self.address(i), vlan: UInt16(i % 3)) {
                        h += 1
                        if p != p1 && p != p2 { bad += 1 }
                    }
                    n += 1
                    if n % 1_024 == 0 { lookups.wrappingAdd(1_024, ordering: .relaxed) }  // progress the main thread waits for
                }
                lookups.wrappingAdd(n % 1_024, ordering: .relaxed)
                hits.wrappingAdd(h, ordering: .relaxed)
                torn.wrappingAdd(bad, ordering: .relaxed)
            }
        }
        // The janitor: advances the fake clock, ages in slices, flushes ports, adds and removes statics.
        spawn {
            var rng = SystemRandomNumberGenerator()
            var round: UInt64 = 0
            while !stop.load(ordering: .relaxed) {
                let now = clock.add(7, ordering: .relaxed).newValue
                table.age(now: Timestamp(milliseconds: now), budget: 2_048)
                if round % 10 == 0 { table.flush(port: Int.random(in: 0..<32, using: &rng)) }
                let s = UInt64.random(in: macs..<(macs + 200), using: &rng)
                if round % 2 == 0 {
                    try? table.addStatic(Self.address(s), port: 40 + Int(s % 8))
                } else {
                    table.remove(Self.address(s))
                }
                round += 1
            }
        }
        // Static-entry readers check their own invariant too.
        spawn {
            var n: UInt64 = 0, bad: UInt64 = 0
            while !stop.load(ordering: .relaxed) {
                let s = macs + n % 200
                if let p = table.lookup(Self.address(s)), p != 40 + Int(s % 8) { bad += 1 }
                n += 1
            }
            torn.wrappingAdd(bad, ordering: .relaxed)
        }

        let start = ContinuousClock.now
        // At least `duration`, and until the readers have done enough work to mean something (a
        // ThreadSanitizer build on a busy machine is slow): progress, not time alone.
        while ContinuousClock.now - start < duration
            || (lookups.load(ordering: .relaxed) < 20_000 && ContinuousClock.now - start < .seconds(60))
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop.store(true, ordering: .relaxed)
        #expect(group.wait(timeout: .now() + 30) == .success, "threads must stop")

        #expect(torn.load(ordering: .relaxed) == 0, "a lookup returned a port never learned for its MAC")
        #expect(lookups.load(ordering: .relaxed) > 10_000, "the readers really ran")
        #expect(hits.load(ordering: .relaxed) > 0, "some lookups hit")
        let s = table.statistics
        #expect(s.learnedEntries <= 4_096, "the learned bound holds under contention")
        #expect(s.staticEntries <= 256)
        // After the storm the table is still consistent: every listed entry is found where listed.
        let entries = table.entries(now: Timestamp(milliseconds: clock.load(ordering: .relaxed)))
        #expect(entries.count == s.learnedEntries + s.staticEntries)
        // The per-port counts (`link show`) sum to the learned total: no move or delete lost one.
        let perPort = (0..<MACTable.portLimit).reduce(0) { $0 + table.learnedEntries(port: $1) }
        #expect(perPort == s.learnedEntries, "per-port learned counts sum to \(perPort), the table holds \(s.learnedEntries)")
        #expect(entries.filter { !$0.isStatic }.count == s.learnedEntries)
        for e in entries { #expect(table.lookup(e.mac, vlan: e.vlan) == e.port) }
    }
}
