// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MemoryPort: an in-memory port (SwiftNIO's EmbeddedChannel for a bridge). Tests and
// benchmarks inject frames and read what the bridge sent, with no kernel involved. Received
// frames live in a fixed arena of slots, so receiving allocates nothing; recording sent
// frames (on by default, for tests) allocates, and benchmarks turn it off.
//
// It checks the `Port` receive contract for its callers: released slots are filled with
// `poison` (0xFF: a broadcast from a broadcast source, which the engine drops as an invalid
// source), so a caller that reads a view after `releaseReceived()` sees garbage in a test
// instead of the right bytes by luck. Benchmarks turn that off with `recordsTransmitted: false`
// (they replay released frames with `rewind`).

/// A port backed by memory.
public final class MemoryPort: Port {
    public let name: String
    public let slotSize: Int
    public let slotCount: Int
    private let arena: UnsafeMutableRawPointer
    private var lengths: [Int]
    /// Queue of filled slots: [head, head + queued) modulo slotCount.
    private var head = 0
    private var queued = 0
    /// Slots handed out by `receive` and not yet released.
    private var lent = 0
    /// Record a copy of every sent frame in `sent`.
    public var recordsTransmitted: Bool
    /// Poison released slots (see the file comment). Fixed at init.
    public let checksContract: Bool
    /// Frames sent by the bridge on this port, after their egress encoding.
    public private(set) var sent: [[UInt8]] = []
    /// Frames sent in all, recorded or not.
    public private(set) var transmittedCount = 0
    /// Refuse (return fewer sent) after this many frames: a port that is "full".
    public var transmitLimit = Int.max
    /// Skip frames longer than this on the wire (counted as not sent) and send the rest of the
    /// batch, as an AF_PACKET or libpcap port skips a frame over its MTU.
    public var maxWireLength = Int.max
    private let scratch: UnsafeMutableRawBufferPointer

    /// What released slots are filled with (see `checksContract`).
    public static let poison: UInt8 = 0xFF

    /// `checksContract` defaults to `recordsTransmitted`: test ports check, benchmark ports
    /// (which replay released frames) do not.
    public init(name: String, slotCount: Int = 1024, slotSize: Int = 2048, recordsTransmitted: Bool = true,
                checksContract: Bool? = nil) {
        precondition(slotCount > 0 && slotSize >= 64)
        self.name = name
        self.slotCount = slotCount
        self.slotSize = slotSize
        self.recordsTransmitted = recordsTransmitted
        self.checksContract = checksContract ?? recordsTransmitted
        arena = .allocate(byteCount: slotCount * slotSize, alignment: 64)
        lengths = Array(repeating: 0, count: slotCount)
        scratch = .allocate(byteCount: slotSize + 4, alignment: 16)
    }

    deinit {
        arena.deallocate()
        scratch.deallocate()
    }

    /// Errors of `inject`.
    public enum InjectError: Error, Equatable {
        case full
        case tooLarge(Int)
    }

    /// Queues a frame for the bridge to receive (copied).
    public func inject(_ frame: [UInt8]) throws(InjectError) {
        guard frame.count <= slotSize else { throw .tooLarge(frame.count) }
        guard queued + lent < slotCount else { throw .full }
        let slot = (head + lent + queued) % slotCount
        frame.withUnsafeBytes { (arena + slot * slotSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        lengths[slot] = frame.count
        queued += 1
    }

    /// Frames waiting to be received.
    public var pendingCount: Int { queued }

    public func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        let n = Swift.min(frames.count, queued)
        for i in 0..<n {
            let slot = (head + lent) % slotCount
            frames[i] = ReceivedFrame(
                bytes: UnsafeRawBufferPointer(start: arena + slot * slotSize, count: lengths[slot]), port: port)
            lent += 1
            queued -= 1
        }
        return n
    }

    public func releaseReceived() {
        if checksContract {
            for k in 0..<lent {
                let slot = (head + k) % slotCount
                (arena + slot * slotSize).initializeMemory(as: UInt8.self, repeating: Self.poison, count: slotSize)
            }
        }
        head = (head + lent) % slotCount
        lent = 0
    }

    /// Re-queues the frames just released (head moves back): replaying the same frames again
    /// without copying, for benchmarks. Only without `checksContract` (released slots are
    /// poisoned otherwise).
    public func rewind(_ count: Int) {
        precondition(!checksContract, "rewind replays released slots: create the port with checksContract: false")
        precondition(lent == 0 && count + queued <= slotCount)
        head = (head - count % slotCount + slotCount) % slotCount
        queued += count
    }

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int { transmitReporting(frames).frames }

    public func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult {
        // Locals in the loop (not stored properties): the benchmarks run this per frame.
        let room = Swift.max(transmitLimit - transmittedCount, 0)
        let limit = maxWireLength
        let records = recordsTransmitted
        var sentFrames = 0
        var bytes = 0
        for f in frames {
            guard sentFrames < room else { break }
            let wire = f.wireLength
            if wire > limit { continue }
            if records && wire <= scratch.count {
                let len = f.write(into: scratch)
                sent.append(Array(UnsafeRawBufferPointer(rebasing: scratch[0..<len])))
            }
            sentFrames += 1
            bytes += wire
        }
        transmittedCount += sentFrames
        return TransmitResult(frames: sentFrames, bytes: bytes)
    }

    /// Forgets recorded frames.
    public func clearSent() { sent.removeAll() }
}
