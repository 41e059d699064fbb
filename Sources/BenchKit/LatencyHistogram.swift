// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// LatencyHistogram: one-way latency samples in nanoseconds, in fixed log-linear buckets (the
// HdrHistogram layout with 64 sub-buckets per power of two). Values below 128 ns are exact;
// above, a bucket spans 1/64 of its power of two, so a reported percentile is the bucket's
// midpoint and within 1/128 (0.8%) of the true sample. Min, max and the sum are exact. The
// bucket array (3,776 counters, 30 KiB) is allocated once at creation: recording is an index
// computation and an increment, never an allocation, whatever the range of the values.

/// A histogram of nanosecond samples with ~0.8% resolution.
public struct LatencyHistogram: Sendable, Equatable {
    /// Sub-buckets per power of two (as bits): 64.
    static let subBits = 6
    /// Buckets for every UInt64 value.
    public static let bucketCount = 128 + 57 * 64

    private var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var minimum: UInt64 = .max
    public private(set) var maximum: UInt64 = 0
    /// Sum of samples (wraps only after ~584 years of summed latency).
    public private(set) var sum: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    }

    /// The bucket holding `value`.
    static func bucket(of value: UInt64) -> Int {
        if value < 128 { return Int(value) }
        let shift = (63 - value.leadingZeroBitCount) - subBits  // value >> shift is in 64...127
        return 128 + (shift - 1) * 64 + Int(value >> UInt64(shift)) - 64
    }

    /// The smallest value in bucket `index`, and the bucket's width.
    static func range(of index: Int) -> (lower: UInt64, width: UInt64) {
        if index < 128 { return (UInt64(index), 1) }
        let shift = (index - 128) / 64 + 1
        let mantissa = UInt64((index - 128) % 64 + 64)
        return (mantissa << UInt64(shift), 1 << UInt64(shift))
    }

    /// Adds one sample.
    public mutating func record(_ nanoseconds: UInt64) {
        counts[LatencyHistogram.bucket(of: nanoseconds)] &+= 1
        count &+= 1
        sum &+= nanoseconds
        if nanoseconds < minimum { minimum = nanoseconds }
        if nanoseconds > maximum { maximum = nanoseconds }
    }

    /// Adds every sample of `other` (for several receivers of one trial).
    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        count &+= other.count
        sum &+= other.sum
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
    }

    /// Forgets all samples (keeps the buckets' memory).
    public mutating func reset() {
        for i in counts.indices { counts[i] = 0 }
        count = 0
        sum = 0
        minimum = .max
        maximum = 0
    }

    /// The nearest-rank percentile (`percent` in 0...100): the smallest value such that at
    /// least `percent`% of samples are at most it, as its bucket's midpoint clamped to the
    /// exact min and max. Nil without samples.
    public func percentile(_ percent: Double) -> UInt64? {
        precondition((0...100).contains(percent), "percentile \(percent) outside 0...100")
        guard count > 0 else { return nil }
        let rank = Swift.max(1, UInt64((percent / 100 * Double(count)).rounded(.up)))
        // The first and last ranks are the exact extremes, not a bucket's midpoint.
        if rank == 1 { return minimum }
        if rank >= count { return maximum }
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank {
                let (lower, width) = LatencyHistogram.range(of: i)
                return Swift.min(Swift.max(lower + (width - 1) / 2, minimum), maximum)
            }
        }
        return maximum
    }

    /// Min, average, p50, p99 and max; nil without samples.
    public var summary: LatencySummary? {
        guard count > 0 else { return nil }
        return LatencySummary(
            count: count, minimum: minimum, average: Double(sum) / Double(count),
            p50: percentile(50)!, p99: percentile(99)!, maximum: maximum)
    }
}

/// The figures a report prints for latency, in nanoseconds.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var count: UInt64
    public var minimum: UInt64
    public var average: Double
    public var p50: UInt64
    public var p99: UInt64
    public var maximum: UInt64

    public init(count: UInt64, minimum: UInt64, average: Double, p50: UInt64, p99: UInt64, maximum: UInt64) {
        self.count = count
        self.minimum = minimum
        self.average = average
        self.p50 = p50
        self.p99 = p99
        self.maximum = maximum
    }
}
