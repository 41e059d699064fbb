// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// StormBudget: the storm-control budget of a bridge, one bucket per port and flood class
// (broadcast, multicast, unknown unicast), shared by every forwarding thread's engine.
//
// Why shared and outside the engine: with `--threads N` each thread has its own engine, and a
// port's frames are spread over the threads by PACKET_FANOUT; buckets per engine let a port
// flood N times its rate. And `apply` (a port fault, a re-attach) builds a new compiled
// configuration: buckets inside it would start full again each time. The bridge creates one
// StormBudget and hands it to every engine; reconfiguration never touches it.
//
// Each bucket is one 64-bit atomic holding its theoretical arrival time in nanoseconds
// (GCRA, the ATM cell-rate algorithm: a token bucket with one word of state). A frame at time
// t passes when max(tat, t) + interval - t <= tolerance, and then tat becomes
// max(tat, t) + interval: one load and one compare-exchange, lock-free, no counter to refill.
// The interval is 1/rate; the tolerance (the burst) is 100 ms of the rate, at least one frame,
// as the buckets had before. Frames of ports without storm control never get here (one AND
// on the compiled port mask).

import Synchronization

/// The storm-control buckets of one bridge, shared by its forwarding engines (lock-free).
public final class StormBudget: @unchecked Sendable {
    /// Buckets per port: broadcast, multicast, unknown unicast.
    public static let classes = 3
    /// How much of the rate may pass at once after a quiet period.
    public static let burstNanoseconds: UInt64 = 100_000_000

    /// Per bucket, its theoretical arrival time (ns). Only accessed atomically: that is what
    /// makes sharing it between threads sound.
    @usableFromInline let tat: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let count: Int

    /// Buckets for `ports` ports, all full.
    public init(ports: Int = PortSet.capacity) {
        count = ports * Self.classes
        tat = .allocate(capacity: count)
        for i in 0..<count { (tat + i).initialize(to: Atomic(0)) }
    }

    deinit {
        tat.deinitialize(count: count)
        tat.deallocate()
    }

    /// Takes one frame from bucket `i` at `now` (ms) for a rate of `rate` frames/s (> 0);
    /// false: over the rate, drop the frame.
    @inlinable
    func take(_ i: Int, rate: UInt32, now milliseconds: UInt64) -> Bool {
        let interval = 1_000_000_000 / UInt64(rate)
        let tolerance = Swift.max(Self.burstNanoseconds, interval)
        let now = milliseconds &* 1_000_000
        let cell = tat + i
        var current = cell.pointee.load(ordering: .relaxed)
        while true {
            let next = Swift.max(current, now) &+ interval
            if next &- now > tolerance { return false }
            let (exchanged, original) = cell.pointee.compareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return true }
            current = original  // another thread took a frame meanwhile: decide again
        }
    }

    /// Takes one frame of `class` (0 broadcast, 1 multicast, 2 unknown unicast) on `port`;
    /// for tests and tools (engines call `take` directly).
    public func take(port: Int, class kind: Int, rate: UInt32, now: Timestamp) -> Bool {
        precondition(port >= 0 && kind >= 0 && kind < Self.classes && port * Self.classes + kind < count && rate > 0)
        return take(port * Self.classes + kind, rate: rate, now: now.milliseconds)
    }
}
