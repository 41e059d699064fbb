// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapMirror: frames copied off the forwarding path into a capture file without ever making
// forwarding wait for the disk. The forwarding thread calls `offer`, which runs the optional
// BPF filter, copies the frame into a slot of a ring allocated at init and returns at once;
// when the ring is full the frame is dropped and counted (a slow disk loses mirrored frames,
// never forwarded ones). A writer thread of its own empties the ring into a PcapWriter
// (rotation included) and flushes whenever it catches up, so a file being written is
// readable a moment later.
//
// Producers: any number of threads may offer (one bridge port's mirror is shared by every
// forwarding worker); they serialise on a spin lock held only for one frame's copy, never
// across I/O. `offer` allocates nothing and makes no system call.
//
// Frames longer than `slotSize` are cut to it in the file (the record keeps the wire length,
// as tcpdump does with -s), and counted as truncated.

import BridgeCore
import CPcap
import Foundation
import Synchronization

/// Counters of a mirror (each read atomically; together, a snapshot of a moving target).
public struct MirrorStatistics: Equatable, Sendable, CustomStringConvertible {
    /// Frames handed to `offer`.
    public var offered: UInt64 = 0
    /// Frames the filter rejected.
    public var filteredOut: UInt64 = 0
    /// Frames queued for the file.
    public var queued: UInt64 = 0
    /// Frames dropped because the ring was full (the disk did not keep up).
    public var droppedFull: UInt64 = 0
    /// Frames dropped after the writer failed (see `PcapMirror.writeError`).
    public var droppedWriteError: UInt64 = 0
    /// Queued frames cut to the slot size.
    public var truncated: UInt64 = 0
    /// Frames in the file.
    public var written: UInt64 = 0

    public var description: String {
        "offered \(offered) filtered \(filteredOut) queued \(queued) written \(written) "
            + "dropped(full) \(droppedFull) dropped(write-error) \(droppedWriteError) truncated \(truncated)"
    }
}

/// A bounded, non-blocking queue of frames and the thread that writes them to pcap.
public final class PcapMirror: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Frames the ring holds before `offer` drops.
        public var slotCount = 4096
        /// Bytes kept of each frame (16 bytes over a 1500 MTU frame with two tags by default).
        public var slotSize = 1536
        public var precision: TimestampPrecision = .microsecond
        public var rotation: Rotation? = nil
        /// tcpdump syntax; nil or empty: every frame.
        public var filter: String? = nil
        /// Stop accepting after this many queued frames (`capture --count N`).
        public var frameLimit: UInt64? = nil
        public init() {}
    }

    public let path: String
    public let configuration: Configuration
    private let filter: PcapFilter?
    private let writer: PcapWriter

    // The ring: per-slot bytes and record metadata, all allocated once.
    private let arena: UnsafeMutableRawPointer
    private let captured: UnsafeMutablePointer<Int32>
    private let wireLengths: UnsafeMutablePointer<Int32>
    private let stamps: UnsafeMutablePointer<CaptureTimestamp>
    /// Monotonic positions: the consumer owns `head`, producers (under `producerLock`) `tail`.
    private let head = Atomic<Int>(0)
    private let tail = Atomic<Int>(0)
    private let producerLock = Atomic<Bool>(false)

    private let offered = Atomic<UInt64>(0)
    private let filteredOut = Atomic<UInt64>(0)
    private let droppedFull = Atomic<UInt64>(0)
    private let droppedWriteError = Atomic<UInt64>(0)
    private let truncated = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)
    private let failed = Atomic<Bool>(false)
    private let paused = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let errorBox = Mutex<PcapError?>(nil)
    private let finished = DispatchSemaphore(value: 0)
    private var closed = false

    /// Creates the file and compiles the filter on the calling thread (so a bad request fails
    /// here, before anything is attached), then starts the writer thread.
    public init(path: String, configuration: Configuration = Configuration()) throws(PcapError) {
        guard configuration.slotCount >= 1 else { throw .invalidConfiguration("mirror needs at least 1 slot") }
        guard configuration.slotSize >= 64 && configuration.slotSize <= 262_144 else {
            throw .invalidConfiguration("mirror slot size must be 64...262144 bytes")
        }
        if let f = configuration.filter, !f.isEmpty { filter = try PcapFilter(f) } else { filter = nil }
        self.path = path
        self.configuration = configuration
        writer = try PcapWriter(path: path, precision: configuration.precision, rotation: configuration.rotation)
        let n = configuration.slotCount
        arena = .allocate(byteCount: n * configuration.slotSize, alignment: 64)
        captured = .allocate(capacity: n)
        captured.initialize(repeating: 0, count: n)
        wireLengths = .allocate(capacity: n)
        wireLengths.initialize(repeating: 0, count: n)
        stamps = .allocate(capacity: n)
        stamps.initialize(repeating: CaptureTimestamp(seconds: 0, nanoseconds: 0), count: n)
        let thread = Thread { [self] in
            self.drainLoop()
            self.finished.signal()
        }
        thread.name = "pcap mirror"
        thread.start()
    }

    deinit {
        close()
        arena.deallocate()
        captured.deallocate()
        wireLengths.deallocate()
        stamps.deallocate()
    }

    // MARK: Producer side (the forwarding threads)

    /// Queues a copy of `bytes` (a frame as it is on the wire) stamped `timestamp`. Returns
    /// false when the frame was not queued: filtered out, over the frame limit, or dropped
    /// because the ring is full (counted). Never blocks on I/O; allocates nothing.
    @discardableResult
    public func offer(_ bytes: UnsafeRawBufferPointer, timestamp: CaptureTimestamp) -> Bool {
        offered.add(1, ordering: .relaxed)
        if let filter, !filter.matches(bytes) {
            filteredOut.add(1, ordering: .relaxed)
            return false
        }
        guard let slot = claimSlot() else { return false }
        let n = min(bytes.count, configuration.slotSize)
        if let src = bytes.baseAddress { slot.pointer.copyMemory(from: src, byteCount: n) }
        return publish(slot, captured: n, wire: bytes.count, timestamp: timestamp)
    }

    /// Queues `frame` as its egress port sends it (its VLAN edit applied), for the "out"
    /// direction of a mirror. The filter sees the encoded frame.
    @discardableResult
    public func offer(_ frame: EgressFrame, timestamp: CaptureTimestamp) -> Bool {
        offered.add(1, ordering: .relaxed)
        guard let slot = claimSlot() else { return false }
        let wire = frame.wireLength
        // A frame too long for its slot is cut: header edits all lie within the first 22
        // bytes (slots are at least 64), so the cut copy still starts like the frame sent.
        let n = frame.write(into: UnsafeMutableRawBufferPointer(start: slot.pointer, count: configuration.slotSize))
        if let filter, !filter.matches(UnsafeRawBufferPointer(start: slot.pointer, count: n), wireLength: wire) {
            filteredOut.add(1, ordering: .relaxed)
            producerLock.store(false, ordering: .releasing)
            return false
        }
        return publish(slot, captured: n, wire: wire, timestamp: timestamp)
    }

    private struct Slot {
        var index: Int
        var position: Int
        var pointer: UnsafeMutableRawPointer
    }

    /// Takes the producer lock and a free slot; nil (lock released, drop counted) when full.
    @inline(__always)
    private func claimSlot() -> Slot? {
        if let limit = configuration.frameLimit, tail.load(ordering: .relaxed) >= limit { return nil }
        if failed.load(ordering: .relaxed) {
            droppedWriteError.add(1, ordering: .relaxed)
            return nil
        }
        // Held for one copy only; contention means another worker is mid-copy.
        while producerLock.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged == false {}
        let t = tail.load(ordering: .relaxed)
        if let limit = configuration.frameLimit, t >= limit {
            producerLock.store(false, ordering: .releasing)
            return nil
        }
        guard t - head.load(ordering: .acquiring) < configuration.slotCount else {
            producerLock.store(false, ordering: .releasing)
            droppedFull.add(1, ordering: .relaxed)
            return nil
        }
        let i = t % configuration.slotCount
        return Slot(index: i, position: t, pointer: arena + i * configuration.slotSize)
    }

    @inline(__always)
    private func publish(_ slot: Slot, captured n: Int, wire: Int, timestamp: CaptureTimestamp) -> Bool {
        captured[slot.index] = Int32(n)
        wireLengths[slot.index] = Int32(wire)
        stamps[slot.index] = timestamp
        if n < wire { truncated.add(1, ordering: .relaxed) }
        // Release: the writer that sees the new tail sees the slot's bytes.
        tail.store(slot.position + 1, ordering: .releasing)
        producerLock.store(false, ordering: .releasing)
        return true
    }

    // MARK: Consumer side (the writer thread)

    private func drainLoop() {
        var dirty = false
        while true {
            let h = head.load(ordering: .relaxed)
            let t = tail.load(ordering: .acquiring)
            if h == t || paused.load(ordering: .relaxed) {
                if dirty && !failed.load(ordering: .relaxed) {
                    do { try writer.flush() } catch { fail(error) }
                    dirty = false
                }
                if h == t && stopping.load(ordering: .acquiring) { break }
                // Idle: a short sleep keeps `offer` free of any wake-up system call.
                usleep(1000)
                continue
            }
            for p in h..<t {
                let i = p % configuration.slotCount
                if !failed.load(ordering: .relaxed) {
                    let bytes = UnsafeRawBufferPointer(start: arena + i * configuration.slotSize, count: Int(captured[i]))
                    do {
                        try writer.write(bytes, wireLength: Int(wireLengths[i]), timestamp: stamps[i])
                        written.add(1, ordering: .relaxed)
                        dirty = true
                    } catch {
                        fail(error)
                    }
                }
                if failed.load(ordering: .relaxed) { droppedWriteError.add(1, ordering: .relaxed) }
                // Release: producers that see the new head may overwrite the slot.
                head.store(p + 1, ordering: .releasing)
            }
        }
        do { try writer.close() } catch { if !failed.load(ordering: .relaxed) { fail(error) } }
    }

    private func fail(_ error: PcapError) {
        errorBox.withLock { if $0 == nil { $0 = error } }
        failed.store(true, ordering: .releasing)
    }

    // MARK: Control

    /// The first write error, if the writer failed (the mirror then drops everything).
    public var writeError: PcapError? { errorBox.withLock { $0 } }

    /// True once `frameLimit` frames are queued and written (`capture --count N` is done).
    public var isComplete: Bool {
        guard let limit = configuration.frameLimit else { return false }
        return written.load(ordering: .relaxed) + droppedWriteError.load(ordering: .relaxed) >= limit
    }

    /// Stops the writer thread from taking frames (a stalled disk, for tests); `false` resumes.
    public func setWriterPaused(_ value: Bool) { paused.store(value, ordering: .relaxed) }

    public var statistics: MirrorStatistics {
        var s = MirrorStatistics()
        s.offered = offered.load(ordering: .relaxed)
        s.filteredOut = filteredOut.load(ordering: .relaxed)
        s.queued = UInt64(tail.load(ordering: .relaxed))
        s.droppedFull = droppedFull.load(ordering: .relaxed)
        s.droppedWriteError = droppedWriteError.load(ordering: .relaxed)
        s.truncated = truncated.load(ordering: .relaxed)
        s.written = written.load(ordering: .relaxed)
        return s
    }

    /// Writes what is queued, closes the file and stops the thread. Call it after the last
    /// `offer` (detach the mirror first). Idempotent. Required: the writer thread holds the
    /// mirror until then, so dropping the last reference alone does not stop it.
    public func close() {
        guard !closed else { return }
        closed = true
        paused.store(false, ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        finished.wait()
    }
}
