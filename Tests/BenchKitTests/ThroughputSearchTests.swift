// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Throughput search against simulated bridges of known capacity: NDR lands within the
// resolution below the capacity, PDR within the resolution below capacity / (1 − tolerance),
// a bridge faster than the maximum is found in one trial, one slower than the minimum is
// reported as such, and the trial budget is respected.

import BenchKit
import Testing

@Suite("Throughput search")
struct ThroughputSearchTests {
    static let capacities: [Double] = [12_345, 150_000, 777_777, 1_234_567]

    @Test("finds the capacity within an absolute resolution", arguments: capacities)
    func absolute(capacity: Double) throws {
        let bridge = SimulatedBridge(capacity: capacity)
        let search = ThroughputSearch(minimumRate: 1_000, maximumRate: 2_000_000, resolution: .framesPerSecond(1_000))
        let found = search.run { bridge.trial(rate: $0, seconds: 10) }
        #expect(found.converged)
        let ndr = try #require(found.ndr.rate)
        #expect(ndr <= capacity + 0.1 && capacity - ndr <= 1_000, "NDR \(ndr) for capacity \(capacity)")
        #expect(try #require(found.ndr.lowestFailingRate) - ndr <= 1_000)
        let pdrTarget = capacity / (1 - 0.005)
        let pdr = try #require(found.pdr.rate)
        #expect(pdr <= pdrTarget + 0.1 && pdrTarget - pdr <= 1_000, "PDR \(pdr), expected \(pdrTarget)")
        #expect(found.trials.count <= 20)
        #expect(found.trials.first?.rate == 2_000_000)
        #expect(found.ndr.result?.lossRatio == 0)
        #expect(try #require(found.pdr.result).lossRatio <= 0.005)
    }

    @Test("finds the capacity within a relative resolution", arguments: capacities)
    func relative(capacity: Double) throws {
        let bridge = SimulatedBridge(capacity: capacity)
        let search = ThroughputSearch(minimumRate: 1_000, maximumRate: 2_000_000, resolution: .relative(0.005))
        let found = search.run { bridge.trial(rate: $0, seconds: 10) }
        #expect(found.converged)
        let ndr = try #require(found.ndr.rate)
        #expect(ndr <= capacity + 0.1 && (capacity - ndr) / capacity <= 0.005)
        print("BenchKit search: capacity \(Int(capacity)) -> NDR \(Int(ndr)), PDR \(Int(found.pdr.rate ?? 0)) in \(found.trials.count) trials")
    }

    @Test("a bridge faster than the maximum rate: one trial")
    func fasterThanMaximum() {
        let bridge = SimulatedBridge(capacity: 5_000_000)
        let found = ThroughputSearch(minimumRate: 1_000, maximumRate: 2_000_000, resolution: .framesPerSecond(1_000))
            .run { bridge.trial(rate: $0, seconds: 1) }
        #expect(found.trials.count == 1 && found.converged)
        #expect(found.ndr.rate == 2_000_000 && found.pdr.rate == 2_000_000 && found.ndr.lowestFailingRate == nil)
    }

    @Test("a bridge slower than the minimum rate: no throughput, said plainly")
    func slowerThanMinimum() {
        let bridge = SimulatedBridge(capacity: 500)
        let found = ThroughputSearch(minimumRate: 1_000, maximumRate: 2_000_000, resolution: .framesPerSecond(1_000))
            .run { bridge.trial(rate: $0, seconds: 1) }
        #expect(found.converged)
        #expect(found.ndr.rate == nil && found.pdr.rate == nil)
        #expect(found.ndr.lowestFailingRate == 1_000)
        #expect(found.trials.contains { $0.rate == 1_000 })
    }

    @Test("the trial budget bounds the search")
    func budget() throws {
        let bridge = SimulatedBridge(capacity: 300_000)
        let found = ThroughputSearch(minimumRate: 1_000, maximumRate: 2_000_000, resolution: .framesPerSecond(1),
                                     maximumTrials: 4)
            .run { bridge.trial(rate: $0, seconds: 1) }
        #expect(found.trials.count == 4 && !found.converged)
        // What was found is still a measured pass.
        let ndr = try #require(found.ndr.rate)
        #expect(ndr <= 300_000)
    }

    @Test("errors from a trial end the search")
    func throwing() {
        struct Stop: Error {}
        var calls = 0
        #expect(throws: Stop.self) {
            _ = try ThroughputSearch(minimumRate: 1, maximumRate: 100, resolution: .framesPerSecond(1)).run { _ in
                calls += 1
                if calls == 2 { throw Stop() }
                return TrialResult(offered: 100, delivered: 50)
            }
        }
        #expect(calls == 2)
    }

    @Test("loss ratio")
    func lossRatio() {
        #expect(TrialResult(offered: 200, delivered: 150).lossRatio == 0.25)
        #expect(TrialResult(offered: 0, delivered: 0).lossRatio == 0)
        #expect(TrialResult(offered: 10, delivered: 12).lossRatio == 0)
    }
}
