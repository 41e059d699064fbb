// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// RFC2889Search: the pure parts of the RFC 2889 trials and of RFC 2544's back-to-back test,
// kept apart from sockets so they can be tested with numbers and encoded frames alone.
//
// - `CountSearch`: the largest count n in 1...bound for which a monotone trial passes (an
//   address cache holds n MACs; a burst of n frames arrives whole): doubling from a start
//   value until the first failure (or the bound), then bisection, within a trial budget.
// - `FrameTally`: what one capture point saw of one run's test frames: distinct flows (a
//   bitset, so 65,536 flows cost 8 KiB), total frames, first and last arrival.
// - `AddressBlock`: the MAC addresses of one trial, fresh per trial, so no trial profits from
//   an earlier one's table entries.
// - `FloodStop`: "flooding to a newly learned MAC stops after", from the learning frame's send
//   time and the last flooded frame's arrival.

import BridgeCore

/// Largest passing count by doubling, then bisection (RFC 2889 address caching capacity,
/// RFC 2544 back-to-back frames).
public struct CountSearch: Sendable {
    public var start: Int
    public var bound: Int
    public var maximumTrials: Int
    /// Stop when (smallest fail − largest pass) ≤ this fraction of the largest pass (and ≥ 1).
    public var resolution: Double

    public init(start: Int, bound: Int, maximumTrials: Int, resolution: Double = 0.05) {
        precondition(start >= 1 && bound >= 1 && maximumTrials >= 1 && resolution >= 0)
        self.start = Swift.min(start, bound)
        self.bound = bound
        self.maximumTrials = maximumTrials
        self.resolution = resolution
    }

    public struct Result: Sendable, Equatable {
        /// The largest count measured to pass (nil: even the smallest tried failed).
        public var largestPass: Int?
        /// The smallest count measured to fail (nil: the bound passed).
        public var smallestFail: Int?
        /// Every trial: count and whether it passed.
        public var trials: [Int: Bool]
        public var trialCount: Int
        /// The search's bound.
        public var bound: Int
        /// The bound itself passed: the true figure may be higher.
        public var reachedBound: Bool { smallestFail == nil && largestPass == bound }
    }

    public func run(_ trial: (Int) throws -> Bool) rethrows -> Result {
        var pass: Int? = nil
        var fail: Int? = nil
        var log: [Int: Bool] = [:]
        var n = start
        var count = 0
        while count < maximumTrials {
            let ok = try trial(n)
            count += 1
            log[n] = ok
            if ok {
                pass = Swift.max(pass ?? 0, n)
                if n >= bound { break }
            } else {
                fail = Swift.min(fail ?? .max, n)
                if n <= 1 { break }
            }
            let lo = pass ?? 0
            if let hi = fail {
                if hi - lo <= Swift.max(1, Int(resolution * Double(lo))) { break }
                n = (lo + hi) / 2
                if n <= lo { break }
            } else {
                n = Swift.min(n * 2, bound)
            }
        }
        return Result(largestPass: pass, smallestFail: fail, trials: log, trialCount: count, bound: bound)
    }
}

/// One capture point's view of one run's test frames.
public final class FrameTally: @unchecked Sendable {
    // @unchecked: one capture thread writes; read after it stopped.
    public let run: UInt32
    public let flowCount: Int
    private var seen: [UInt64]
    public private(set) var distinctFlows = 0
    /// Test frames of this run, duplicates included.
    public private(set) var frames: UInt64 = 0
    /// Frames of other runs or not test frames.
    public private(set) var other: UInt64 = 0
    /// CLOCK_MONOTONIC ns of the first and last frame of this run (0: none).
    public private(set) var firstArrival: UInt64 = 0
    public private(set) var lastArrival: UInt64 = 0
    /// The send time stamped in the last frame of this run that arrived.
    public private(set) var lastSendTime: UInt64 = 0

    public init(run: UInt32, flowCount: Int) {
        precondition(flowCount > 0)
        self.run = run
        self.flowCount = flowCount
        seen = [UInt64](repeating: 0, count: (flowCount + 63) / 64)
    }

    public func consume(_ frames: UnsafeBufferPointer<ReceivedFrame>, receivedAt: UInt64) {
        for f in frames { consume(frame: f.bytes, receivedAt: receivedAt) }
    }

    public func consume(frame: UnsafeRawBufferPointer, receivedAt: UInt64) {
        guard let h = TestFrame.decode(frame), h.run == run, h.flow < UInt32(flowCount) else {
            other &+= 1
            return
        }
        frames &+= 1
        if firstArrival == 0 { firstArrival = receivedAt }
        lastArrival = Swift.max(lastArrival, receivedAt)
        lastSendTime = Swift.max(lastSendTime, h.sendTime)
        let i = Int(h.flow)
        let bit: UInt64 = 1 << UInt64(i & 63)
        if seen[i >> 6] & bit == 0 {
            seen[i >> 6] |= bit
            distinctFlows += 1
        }
    }

    /// Whether a frame of flow `i` arrived.
    public func saw(flow i: Int) -> Bool { i >= 0 && i < flowCount && seen[i >> 6] & (1 << UInt64(i & 63)) != 0 }
}

/// The MAC addresses of one RFC 2889 trial: 0A:tt:tt:tt:ii:ii (locally administered,
/// unicast), `tag` (24 bits) fresh per trial, index i in 0..<65,536.
public struct AddressBlock: Sendable, Equatable {
    public static let maximumCount = 1 << 16
    public let tag: UInt32
    public let count: Int

    public init(tag: UInt32, count: Int) {
        precondition(count >= 1 && count <= Self.maximumCount, "1...65536 addresses")
        self.tag = tag & 0xFF_FFFF
        self.count = count
    }

    public func address(_ i: Int) -> MACAddress {
        precondition(i >= 0 && i < count)
        return MACAddress(rawValue: 0x0A00_0000_0000 | UInt64(tag) << 16 | UInt64(i))
    }

    /// The station the test frames come from and the learning frames go to (its own tag
    /// 0xFFFFFF, never a trial's), index `i` for several.
    public static func station(_ i: Int = 0) -> MACAddress { MACAddress(rawValue: 0x0AFF_FFFF_0000 | UInt64(i & 0xFFFF)) }

    /// Learning flows: from each address to `station`.
    public func learningFlows(to station: MACAddress) -> [FlowSpec] {
        (0..<count).map { FlowSpec(source: address($0), destination: station) }
    }

    /// Test flows: from `station` to each address.
    public func testFlows(from station: MACAddress) -> [FlowSpec] {
        (0..<count).map { FlowSpec(source: station, destination: address($0)) }
    }
}

/// "Flooding to a newly learned MAC stops after": the time from the learning frame (the first
/// frame from the new MAC) to the last frame to it that was still flooded to a third host.
public struct FloodStop: Sendable, Equatable {
    /// Milliseconds; 0 when nothing was flooded after the learning frame left.
    public var milliseconds: Double
    /// Flooding went on until the end of the observation window: the true figure is larger.
    public var didNotStop: Bool

    /// `learnedAt`: the learning frame's send time; `lastFlooded`: the time of the last flooded
    /// frame (its send stamp or its arrival; 0: none); `streamEnd`: when the stream to the MAC stopped; a flood seen within
    /// `margin` of the end counts as not stopped. All CLOCK_MONOTONIC ns.
    public init(learnedAt: UInt64, lastFlooded: UInt64, streamEnd: UInt64, margin: UInt64 = 20_000_000) {
        if lastFlooded <= learnedAt {
            milliseconds = 0
            didNotStop = false
        } else {
            milliseconds = Double(lastFlooded - learnedAt) / 1e6
            didNotStop = lastFlooded &+ margin >= streamEnd
        }
    }
}
