// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Time as the bridge sees it: monotonic milliseconds handed in by the caller. The core never
// reads a clock itself, so tests drive ageing with a fake clock and stay deterministic.

/// A point on the caller's monotonic clock, in milliseconds.
public struct Timestamp: Comparable, Hashable, Sendable {
    public var milliseconds: UInt64
    @inlinable public init(milliseconds: UInt64) { self.milliseconds = milliseconds }
    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }
    /// `self + seconds`, for tests and timers.
    public func adding(milliseconds ms: UInt64) -> Timestamp { Timestamp(milliseconds: milliseconds &+ ms) }
}
