// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// TalkerSampler: which stations send the most, answered cheaply off the hot path ("which host is
// flooding?", `swbridge top`, the `talkers` control request).
//
// The contract:
// - One sampler per forwarding thread, written only by that thread: once per batch,
//   `record(_:now:)` takes one received frame in `every` (on average, at randomised gaps, counted
//   across batches) and writes
//   its source MAC, ingress port, length and the batch's time into a fixed ring of `capacity`
//   records. A batch with no frame due costs one compare and a subtraction; a sample costs two
//   relaxed atomic stores and a release store of the head. Nothing is allocated, no lock taken.
// - Readers (the control thread) copy the ring without stopping the writer, seqlock style: the
//   head before and after the copy tells which records may have been overwritten meanwhile, and
//   those are thrown away. A record is two words, so one that raced the writer could be torn;
//   that is exactly the set thrown away.
// - Estimates, not counts: a station's frames/s is its samples × `every` over the time the
//   samples span (the window, or less when the ring wrapped sooner). A station sending less
//   than about `every` frames per window may not show at all: the sampler finds heavy
//   talkers, `stats` counts everything.

import Synchronization

/// A fixed ring of sampled (source MAC, port, length, time) records; one writer thread.
public final class TalkerSampler: @unchecked Sendable {
    /// One frame in `every` is sampled.
    public let every: Int
    /// Records in the ring (a power of two).
    public let capacity: Int
    @usableFromInline let mask: UInt64
    /// Two words per record: `mac << 16 | port` and `milliseconds << 20 | length`.
    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>
    /// Records written so far (the next record's index); released after each record.
    @usableFromInline let head = Atomic<UInt64>(0)
    /// Frames still to skip before the next sample (writer only).
    @usableFromInline var countdown: Int
    /// xorshift state for the gaps between samples (writer only): gaps uniform in
    /// 1...2·every−1, so traffic with a period (flows taking turns in every batch) cannot
    /// alias with the sampling and hide or inflate one station.
    @usableFromInline var random: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// A sampler of one frame in `every` into `capacity` records (rounded up to a power of two).
    public init(every: Int = 64, capacity: Int = 4096) {
        precondition(every >= 1 && capacity >= 2, "a sampler needs every >= 1 and capacity >= 2")
        var c = 2
        while c < capacity { c <<= 1 }
        self.every = every
        self.capacity = c
        mask = UInt64(c - 1)
        countdown = every - 1
        words = .allocate(capacity: 2 * c)
        for i in 0..<2 * c { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: 2 * capacity)
        words.deallocate()
    }

    /// Samples the batch `frames` received at `now`. The owning forwarding thread only.
    @inlinable
    public func record(_ frames: UnsafeBufferPointer<ReceivedFrame>, now: Timestamp) {
        var i = countdown
        let n = frames.count
        if i >= n {
            countdown = i - n
            return
        }
        var h = head.load(ordering: .relaxed)
        while i < n {
            let f = frames[i]
            // A runt has no source address to sample (the engine counts and drops it).
            if f.bytes.count >= 12, let base = f.bytes.baseAddress {
                var mac: UInt64 = 0
                for k in 6..<12 { mac = mac << 8 | UInt64(base.load(fromByteOffset: k, as: UInt8.self)) }
                let slot = words + Int(truncatingIfNeeded: (h & mask) << 1)
                slot.pointee.store(mac << 16 | UInt64(truncatingIfNeeded: UInt16(clamping: f.port)), ordering: .relaxed)
                (slot + 1).pointee.store(
                    now.milliseconds << 20 | UInt64(truncatingIfNeeded: Swift.min(f.bytes.count, 0xF_FFFF)), ordering: .relaxed)
                h &+= 1
                head.store(h, ordering: .releasing)
            }
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            i += every == 1 ? 1 : 1 + Int(truncatingIfNeeded: random % UInt64(2 * every - 1))
        }
        countdown = i - n
    }

    /// One sampled frame.
    public struct Sample: Equatable, Sendable {
        public var mac: MACAddress
        public var port: Int
        public var length: Int
        public var time: Timestamp
    }

    /// The records that are certainly whole, oldest first, and whether older ones were overwritten.
    public func samples() -> (samples: [Sample], wrapped: Bool) {
        let before = head.load(ordering: .acquiring)
        let first = before > UInt64(capacity) ? before - UInt64(capacity) : 0
        var raw: [(UInt64, UInt64, UInt64)] = []
        raw.reserveCapacity(Int(before - first))
        var j = first
        while j < before {
            let slot = words + Int(truncatingIfNeeded: (j & mask) << 1)
            raw.append((j, slot.pointee.load(ordering: .relaxed), (slot + 1).pointee.load(ordering: .relaxed)))
            j += 1
        }
        atomicMemoryFence(ordering: .acquiring)
        let after = head.load(ordering: .relaxed)
        // Record j's slot is rewritten while the writer writes record j + capacity (head ==
        // j + capacity then): only records above after - capacity are untouched.
        let safe = after >= UInt64(capacity) ? after - UInt64(capacity) + 1 : 0
        let kept = raw.filter { $0.0 >= safe }.map { _, a, b in
            Sample(mac: MACAddress(rawValue: a >> 16), port: Int(a & 0xFFFF), length: Int(b & 0xF_FFFF),
                   time: Timestamp(milliseconds: b >> 20))
        }
        return (kept, first > 0 || safe > 0)
    }

    /// A station's estimated share of traffic.
    public struct Talker: Equatable, Sendable {
        public var mac: MACAddress
        public var port: Int
        public var framesPerSecond: Double
        public var bytesPerSecond: Double
    }

    /// The busiest source stations over the last `window` (or what the rings still hold of it),
    /// from every worker's sampler: at most `limit`, busiest first.
    public static func topTalkers(_ samplers: [TalkerSampler], now: Timestamp, windowMilliseconds window: UInt64 = 5_000,
                                  limit: Int = 10) -> [Talker] {
        struct Key: Hashable { var mac: MACAddress; var port: Int }
        var frames: [Key: Double] = [:]
        var bytes: [Key: Double] = [:]
        let since = now.milliseconds > window ? now.milliseconds - window : 0
        for s in samplers {
            let (all, wrapped) = s.samples()
            let recent = all.filter { $0.time.milliseconds >= since && $0.time <= now }
            guard let oldest = recent.first?.time.milliseconds else { continue }
            // The ring wrapped inside the window: the samples span less time than asked.
            let spanMs = wrapped && oldest > since ? now.milliseconds - oldest : window
            let seconds = Double(Swift.max(spanMs, 100)) / 1000
            let weight = Double(s.every) / seconds
            for r in recent {
                let k = Key(mac: r.mac, port: r.port)
                frames[k, default: 0] += weight
                bytes[k, default: 0] += weight * Double(r.length)
            }
        }
        return frames.map { Talker(mac: $0.key.mac, port: $0.key.port, framesPerSecond: $0.value, bytesPerSecond: bytes[$0.key] ?? 0) }
            .sorted { $0.framesPerSecond != $1.framesPerSecond ? $0.framesPerSecond > $1.framesPerSecond : $0.mac.rawValue < $1.mac.rawValue }
            .prefix(Swift.max(limit, 0)).map { $0 }
    }
}
