// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Latency histogram: exact min/avg/max, percentiles on known samples within the bucket
// resolution (exact below 128 ns, within 0.8% above), and buckets that tile every value.

import BenchKit
import Testing

@Suite("Latency histogram")
struct LatencyHistogramTests {
    @Test("1..1000 µs: min, avg, max exact; p50 and p99 within 0.8%")
    func uniform() throws {
        var h = LatencyHistogram()
        for k in (1...1000).shuffled() { h.record(UInt64(k) * 1_000) }
        let s = try #require(h.summary)
        #expect(s.count == 1000 && s.minimum == 1_000 && s.maximum == 1_000_000)
        #expect(s.average == 500_500)
        #expect(abs(Double(s.p50) - 500_000) <= 500_000 / 128)
        #expect(abs(Double(s.p99) - 990_000) <= 990_000 / 128)
        #expect(h.percentile(100) == 1_000_000 && h.percentile(0) == 1_000)
    }

    @Test("small values are exact")
    func exactSmall() {
        var h = LatencyHistogram()
        for v: UInt64 in [5, 5, 5, 7, 0, 127] { h.record(v) }
        #expect(h.percentile(50) == 5)  // rank 3 of 6
        #expect(h.percentile(99) == 127)
        #expect(h.minimum == 0)
        #expect(LatencyHistogram().summary == nil)
    }

    @Test("a percentile is within 1/128 of the sample it stands for, across the range")
    func resolution() {
        for shift in stride(from: 0, to: 63, by: 3) {
            for v in [UInt64(1) << shift, (UInt64(1) << shift) + 12_345, (UInt64(1) << (shift + 1)) - 1] {
                var h = LatencyHistogram()
                h.record(1)  // widen min/max so clamping does not hide the bucket's midpoint
                h.record(v)
                h.record(.max)
                let p = h.percentile(50)!
                #expect(abs(Double(p) - Double(v)) <= Double(v) / 128, "\(v) reported as \(p)")
            }
        }
    }

    @Test("merge adds counts; reset forgets")
    func mergeReset() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        for v: UInt64 in 1...50 { a.record(v) }
        for v: UInt64 in 51...100 { b.record(v) }
        a.merge(b)
        #expect(a.count == 100 && a.minimum == 1 && a.maximum == 100 && a.percentile(50) == 50)
        a.reset()
        #expect(a.count == 0 && a.summary == nil)
    }
}
