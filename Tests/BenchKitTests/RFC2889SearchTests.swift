// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import BridgeCore
import Testing
@testable import BenchKit

@Suite struct CountSearchTests {
    @Test func findsTheCapacityOfASimulatedTable() {
        for capacity in [1, 7, 100, 1_000, 2_048, 5_000, 40_000] {
            var tried: [Int] = []
            let r = CountSearch(start: 1_024, bound: 65_536, maximumTrials: 30, resolution: 0).run { k in
                tried.append(k)
                return k <= capacity
            }
            #expect(r.largestPass == capacity, "capacity \(capacity): \(tried)")
            #expect(r.smallestFail == capacity + 1)
            #expect(!r.reachedBound && r.trialCount == tried.count)
        }
    }

    @Test func stopsAtTheBoundWhenEverythingPasses() {
        var tried: [Int] = []
        let r = CountSearch(start: 1_024, bound: 4_096, maximumTrials: 10).run { tried.append($0); return true }
        #expect(tried == [1_024, 2_048, 4_096])
        #expect(r.reachedBound && r.largestPass == 4_096 && r.smallestFail == nil)
    }

    @Test func respectsTheTrialBudgetAndResolution() {
        let budget = CountSearch(start: 1, bound: 1 << 20, maximumTrials: 5).run { $0 <= 300_000 }
        #expect(budget.trialCount == 5 && budget.largestPass == 16)
        let coarse = CountSearch(start: 1_024, bound: 65_536, maximumTrials: 50, resolution: 0.1).run { $0 <= 10_000 }
        let lo = coarse.largestPass ?? 0, hi = coarse.smallestFail ?? 0
        #expect(lo <= 10_000 && hi > 10_000 && Double(hi - lo) <= 0.1 * Double(lo) + 1)
    }

    @Test func everythingFailingEndsAtOne() {
        let r = CountSearch(start: 1_024, bound: 65_536, maximumTrials: 30).run { _ in false }
        #expect(r.largestPass == nil && r.smallestFail == 1)
    }
}

@Suite struct FrameTallyTests {
    func frame(run: UInt32, flow: UInt32, sendTime: UInt64 = 0) -> [UInt8] {
        let f = FlowSpec(source: AddressBlock.station(), destination: MACAddress(rawValue: 0x0A00_0000_0000 | UInt64(flow)))
        return TestFrame.encode(size: FrameSize(wireLength: 64), flow: f,
                                header: TestFrameHeader(run: run, flow: flow, sequence: 0, sendTime: sendTime))
    }

    @Test func countsDistinctFlowsOfItsRunOnly() {
        let t = FrameTally(run: 7, flowCount: 65_536)
        for (i, (run, flow)) in [(7, 0), (7, 65_535), (7, 0), (8, 1), (7, 70_000), (7, 64)].enumerated() {
            frame(run: UInt32(run), flow: UInt32(flow), sendTime: UInt64(i)).withUnsafeBytes {
                t.consume(frame: $0, receivedAt: 100 + UInt64(i))
            }
        }
        [UInt8](repeating: 0, count: 60).withUnsafeBytes { t.consume(frame: $0, receivedAt: 200) }
        #expect(t.distinctFlows == 3 && t.frames == 4 && t.other == 3)
        #expect(t.saw(flow: 0) && t.saw(flow: 65_535) && t.saw(flow: 64) && !t.saw(flow: 1) && !t.saw(flow: 70_000))
        #expect(t.firstArrival == 100 && t.lastArrival == 105 && t.lastSendTime == 5)
    }
}

@Suite struct AddressBlockTests {
    @Test func addressesAreLocalUnicastAndDistinctPerTrial() {
        let a = AddressBlock(tag: 1, count: 65_536), b = AddressBlock(tag: 2, count: 3)
        #expect(a.address(0).description.lowercased() == "0a:00:00:01:00:00")
        #expect(a.address(65_535).description.lowercased() == "0a:00:00:01:ff:ff")
        let first = a.address(0).rawValue >> 40
        #expect(first & 1 == 0 && first & 2 == 2, "unicast, locally administered")
        #expect(Set((0..<3).map(a.address)).isDisjoint(with: (0..<3).map(b.address)))
        #expect(!(0..<3).map(b.address).contains(AddressBlock.station()))
        #expect(AddressBlock(tag: 0x1FF_FFFF, count: 1).tag == 0xFF_FFFF)
        let learning = b.learningFlows(to: AddressBlock.station()), test = b.testFlows(from: AddressBlock.station())
        #expect(learning.map(\.source) == test.map(\.destination) && learning.count == 3)
    }
}

@Suite struct FloodStopTests {
    @Test func measuresFromTheLearningFrameToTheLastFlood() {
        let f = FloodStop(learnedAt: 1_000_000_000, lastFlooded: 1_250_000_000, streamEnd: 2_000_000_000)
        #expect(f.milliseconds == 250 && !f.didNotStop)
        let none = FloodStop(learnedAt: 1_000_000_000, lastFlooded: 999_000_000, streamEnd: 2_000_000_000)
        #expect(none.milliseconds == 0 && !none.didNotStop)
        let never = FloodStop(learnedAt: 1_000_000_000, lastFlooded: 1_995_000_000, streamEnd: 2_000_000_000)
        #expect(never.didNotStop && never.milliseconds == 995)
    }
}
