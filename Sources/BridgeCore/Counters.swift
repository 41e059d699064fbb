// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Per-port counters without shared atomic contention: each forwarding thread owns one
// CounterBlock and is its only writer (a relaxed load and store: a plain `mov` on x86, no
// locked instruction); readers sum the blocks of all threads when `stats` asks.

import Synchronization

/// What one port counts.
public struct PortCounters: Equatable, Sendable {
    /// Frames received on the port.
    public var rxFrames: UInt64 = 0
    public var rxBytes: UInt64 = 0
    /// Frames received here and forwarded to one known port.
    public var forwarded: UInt64 = 0
    /// Frames received here and flooded.
    public var flooded: UInt64 = 0
    /// Frames sent out of the port (counted by the transport).
    public var txFrames: UInt64 = 0
    public var txBytes: UInt64 = 0
    /// Frames the transport could not send (queue full, errors) after its retries.
    public var txDropped: UInt64 = 0
    /// Multicast frames received here and sent by snooping (to a group's members and the
    /// router ports) rather than flooded.
    public var snooped: UInt64 = 0
    /// Control frames received here (BPDUs, IGMP/MLD) handed to the bridge's control plane.
    public var punted: UInt64 = 0
    /// Control frames received here that the control plane's queue had no room for.
    public var puntDropped: UInt64 = 0
    /// Frames received here and dropped, by reason (indexed by `DropReason.rawValue`).
    public var dropped: [UInt64] = Array(repeating: 0, count: DropReason.allCases.count)

    public init() {}

    /// All drops, whatever the reason.
    public var droppedTotal: UInt64 { dropped.reduce(0, +) }
    public func dropped(_ reason: DropReason) -> UInt64 { dropped[Int(reason.rawValue)] }

    public static func += (a: inout PortCounters, b: PortCounters) {
        a.rxFrames += b.rxFrames
        a.rxBytes += b.rxBytes
        a.forwarded += b.forwarded
        a.flooded += b.flooded
        a.txFrames += b.txFrames
        a.txBytes += b.txBytes
        a.txDropped += b.txDropped
        a.snooped += b.snooped
        a.punted += b.punted
        a.puntDropped += b.puntDropped
        for i in a.dropped.indices { a.dropped[i] += b.dropped[i] }
    }
}

/// Single-writer counters for `ports` ports, plus one row for frames whose port is unknown.
public final class CounterBlock: @unchecked Sendable {
    @usableFromInline enum Field: Int {
        case rxFrames, rxBytes, forwarded, flooded, txFrames, txBytes, txDropped, snooped, punted, puntDropped
        case firstDrop
    }
    @usableFromInline static let stride = Field.firstDrop.rawValue + DropReason.allCases.count

    /// Rows: one per port, and the last for frames with an out-of-range port index.
    public let rows: Int
    @usableFromInline let cells: UnsafeMutablePointer<Atomic<UInt64>>

    public init(ports: Int = PortSet.capacity) {
        rows = ports + 1
        cells = .allocate(capacity: rows * Self.stride)
        for i in 0..<rows * Self.stride { (cells + i).initialize(to: Atomic(0)) }
    }

    deinit {
        cells.deinitialize(count: rows * Self.stride)
        cells.deallocate()
    }

    /// Adds `n` to a cell. Only the owning thread may call it.
    @inlinable @inline(__always)
    func add(_ row: Int, _ field: Int, _ n: UInt64) {
        let c = cells + (row * Self.stride + field)
        c.pointee.store(c.pointee.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    @inlinable @inline(__always)
    func add(_ row: Int, _ field: Field, _ n: UInt64) { add(row, field.rawValue, n) }

    /// Counts a received frame on `port` (the transport's or engine's thread only).
    @inlinable public func countReceived(port: Int, bytes: Int) {
        add(port, .rxFrames, 1)
        add(port, .rxBytes, UInt64(bytes))
    }

    /// Counts frames sent on `port` (the owning thread only).
    @inlinable public func countTransmitted(port: Int, frames: Int, bytes: Int) {
        add(port, .txFrames, UInt64(frames))
        add(port, .txBytes, UInt64(bytes))
    }

    /// Counts frames the transport gave up on (the owning thread only).
    @inlinable public func countTransmitDropped(port: Int, frames: Int) {
        add(port, .txDropped, UInt64(frames))
    }

    /// A consistent-enough copy of one row (each cell is read atomically).
    public func snapshot(port row: Int) -> PortCounters {
        func v(_ f: Int) -> UInt64 { cells[row * Self.stride + f].load(ordering: .relaxed) }
        var c = PortCounters()
        c.rxFrames = v(Field.rxFrames.rawValue)
        c.rxBytes = v(Field.rxBytes.rawValue)
        c.forwarded = v(Field.forwarded.rawValue)
        c.flooded = v(Field.flooded.rawValue)
        c.txFrames = v(Field.txFrames.rawValue)
        c.txBytes = v(Field.txBytes.rawValue)
        c.txDropped = v(Field.txDropped.rawValue)
        c.snooped = v(Field.snooped.rawValue)
        c.punted = v(Field.punted.rawValue)
        c.puntDropped = v(Field.puntDropped.rawValue)
        for r in DropReason.allCases { c.dropped[Int(r.rawValue)] = v(Field.firstDrop.rawValue + Int(r.rawValue)) }
        return c
    }

    /// Counts a control frame of `port` handed to the control plane, or refused for want of room.
    @inlinable public func countPunted(port: Int, accepted: Bool) {
        add(port, accepted ? .punted : .puntDropped, 1)
    }

    /// The row of frames whose ingress port index was out of range.
    public var unknownPortRow: Int { rows - 1 }
}
