// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// SpinPolicy: when a forwarding thread keeps reading its rings after traffic instead of
// sleeping in poll.
//
// Why: on a VM a sleep and the scheduler wake-up that ends it cost more than forwarding the
// frame that caused it, so at high rates a thread that sleeps after every batch spends its
// time being woken. Spinning until `spin` passes without a frame removes those wake-ups
// (TCP 1 stream 0.85x -> 1.0x the kernel bridge's with 300 µs in one run, 64-byte frames
// delivered at max rate 1.27x -> 1.47x, CPU per frame 1.41x -> 1.16x; docs/PROFILE.md). But
// below ~10,000 wake-ups a second a wake-up is cheaper than spinning after it (3,000-10,000
// frames/s in 1 ms bursts: 11-23% of a core spinning against 4-9% sleeping), and sparse
// request-response traffic (a ping every 10 ms, its reply 50 µs after the request) gains
// nothing. So spinning starts only after `streakToArm` wake-ups in a row each found frames
// within `armNanoseconds` of the frames before; idle CPU stays zero. 50 µs, not 100: at
// 10,000 frames/s (100 µs apart) a 100 µs rule armed now and then, and the spinning thread then
// held a vCPU the generator and receiver needed: one-way latency p99 1.1-1.8 ms against
// 110-207 µs without (`swbridge bench`, same runs, docs/PROFILE.md).
//
// Arming can still happen by chance (a generator's jitter puts a few frames close together),
// and a spin then lasted as long as frames came within `spin` of each other: at 10,000
// frames/s, for good. So a spin also has to pay while it runs: every `windowNanoseconds` it
// checks the share of the time it spent forwarding, and below `minimumBusyShare` (1 in 5) it
// stops and the streak starts over. At full load (64-byte floods, TCP) the thread forwards
// most of the time; at 10,000 64-byte frames/s about 3% of it.

struct SpinPolicy {
    /// How long a spin goes on after the last frame (0: never spin).
    let spinNanoseconds: UInt64
    /// A wake-up that finds frames within this long of the previous frames continues a streak.
    static let armNanoseconds: UInt64 = 50_000
    /// Wake-ups in a row that arm the spin.
    static let streakToArm = 4
    /// A spin hands back to the poll loop after this long at most (socket errors, statistics
    /// and the mailbox are looked after there).
    static let sliceNanoseconds: UInt64 = 10_000_000

    /// How often a running spin checks that it pays, and the share of forwarding it needs.
    static let windowNanoseconds: UInt64 = 1_000_000
    static let minimumBusyShare: UInt64 = 5  // 1 in 5

    /// When the last frame was seen (monotonic ns).
    private(set) var lastTraffic: UInt64 = 0
    /// Wake-ups in a row that found continuous traffic.
    private(set) var streak = 0

    init(spinMicroseconds: Int) {
        spinNanoseconds = UInt64(max(spinMicroseconds, 0)) * 1000
    }

    /// A wake-up found frames at `now`: whether to spin after them.
    mutating func trafficAfterWakeUp(at now: UInt64) -> Bool {
        guard spinNanoseconds > 0 else { return false }
        streak = lastTraffic != 0 && now &- lastTraffic <= Self.armNanoseconds ? streak + 1 : 0
        lastTraffic = now
        return streak >= Self.streakToArm
    }

    /// A spin found frames at `now`.
    mutating func trafficWhileSpinning(at now: UInt64) { lastTraffic = now }

    /// A spin window of `elapsed` ns ended, `busy` of them forwarding: whether to go on. If
    /// not, the streak starts over, so only continuous traffic arms the next spin.
    mutating func spinWindowEnded(busy: UInt64, elapsed: UInt64) -> Bool {
        if busy &* Self.minimumBusyShare >= elapsed { return true }
        streak = 0
        return false
    }

    /// Whether a spin that began at `start` and last saw a frame at `quietSince` ends at `now`.
    func spinIsOver(start: UInt64, quietSince: UInt64, now: UInt64) -> Bool {
        now &- quietSince >= spinNanoseconds || now &- start >= Self.sliceNanoseconds
    }
}
