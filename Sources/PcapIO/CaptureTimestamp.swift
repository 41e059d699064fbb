// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CaptureTimestamp: wall-clock time of a captured frame, to the nanosecond, as pcap stores it
// (seconds since the Unix epoch plus a fraction). Files are written with microsecond or
// nanosecond precision; reading always asks libpcap for nanoseconds, so nothing is lost.

#if canImport(Glibc)
import Glibc
#endif

/// When a frame was seen: seconds since 1970 and nanoseconds within the second.
public struct CaptureTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    /// 0..<1_000_000_000.
    public var nanoseconds: UInt32

    @inlinable public init(seconds: Int64, nanoseconds: UInt32) {
        precondition(nanoseconds < 1_000_000_000, "nanoseconds out of range")
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The wall clock now (CLOCK_REALTIME), as capture tools stamp frames.
    public static func now() -> CaptureTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return CaptureTimestamp(seconds: Int64(ts.tv_sec), nanoseconds: UInt32(ts.tv_nsec))
    }

    /// Milliseconds since the epoch: the engine's clock in a replay (learning and ageing follow
    /// the capture's own time, so a replay is deterministic).
    @inlinable public var milliseconds: UInt64 { UInt64(max(seconds, 0)) * 1000 + UInt64(nanoseconds / 1_000_000) }

    @inlinable public static func < (a: CaptureTimestamp, b: CaptureTimestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    public var description: String {
        let frac = String(nanoseconds)
        return "\(seconds)." + String(repeating: "0", count: 9 - frac.count) + frac
    }
}
