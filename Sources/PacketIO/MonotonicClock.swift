// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MonotonicClock: CLOCK_MONOTONIC in nanoseconds, the one clock of the bridge and of its
// benchmarks. The forwarding threads' ageing times and spin decisions use it; so do a
// benchmark's send timestamps, receive times, pacing and trial durations, so one-way latency
// between a generator and a receiver on the same machine is a plain subtraction (no NTP, no skew).

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC, in nanoseconds.
public enum MonotonicClock {
    /// Now, in nanoseconds since an arbitrary point (boot). A vDSO call: no syscall, no allocation.
    @inlinable
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Sleeps until `deadline` (absolute, so a late wake-up never accumulates drift). Returns at
    /// once when the deadline has passed. The kernel's timer slack (50 µs for ordinary threads)
    /// makes wake-ups late, never early; pacing absorbs that with its token bucket.
    public static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}
