// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// TrafficReceiver: counts the test frames that came back, per flow, and their one-way latency.
//
// Accounting per flow (RFC 4737's definitions, sequence numbers from 0):
// - received: every test frame of the flow and run, duplicates included;
// - duplicated: a sequence number seen before;
// - reordered: a new sequence number lower than one already seen (it arrived late);
// - lost: what never arrived, computed at the end as expected − distinct received, where
//   expected is what the generator reports it sent for the flow or, without that, the highest
//   sequence seen + 1 (which cannot see loss at the tail).
// "Seen before" is remembered in a sliding bitmap over the last `reorderWindow` sequence numbers
// per flow. A frame older than the window counts as reordered and in `tooLate` (whether it was
// a duplicate cannot be told); at the default 65,536 that takes a bridge holding a frame back
// behind 65,536 newer ones of the same flow.
//
// Frames that are not test frames (ARP, the bridge's own traffic) count as `foreign`; test
// frames of another run (left over from a previous trial) as `stale`; a flow id out of range as
// `unknownFlow`. None of them touch the per-flow figures.
//
// Latency is receive time − send time, both CLOCK_MONOTONIC on this machine. The receive time
// is whatever the caller passes per batch (a clock read when the batch came out of the ring),
// so it includes the ring hand-over and batching delay, as a host's application would see it.
// Duplicates are not sampled.
//
// Memory: per-flow counters and bitmaps are allocated at creation; `consume` never allocates.
// Threading: one thread consumes; read `report` after it stopped (or from that thread).

import BridgeCore
import Synchronization

/// The figures of one flow (or of all flows summed).
public struct FlowStatistics: Sendable, Equatable, Codable {
    public var received: UInt64 = 0
    public var duplicated: UInt64 = 0
    public var reordered: UInt64 = 0
    /// Reordered frames older than the window (duplicate or not is unknown).
    public var tooLate: UInt64 = 0
    /// Frames expected (sent, or highest sequence + 1).
    public var expected: UInt64 = 0
    /// Expected frames that never arrived.
    public var lost: UInt64 = 0

    public init() {}

    /// Distinct frames received.
    public var unique: UInt64 { received - duplicated }
    /// Lost / expected (0 when nothing was expected).
    public var lossRatio: Double { expected == 0 ? 0 : Double(lost) / Double(expected) }

    static func + (a: FlowStatistics, b: FlowStatistics) -> FlowStatistics {
        var s = FlowStatistics()
        s.received = a.received + b.received
        s.duplicated = a.duplicated + b.duplicated
        s.reordered = a.reordered + b.reordered
        s.tooLate = a.tooLate + b.tooLate
        s.expected = a.expected + b.expected
        s.lost = a.lost + b.lost
        return s
    }
}

/// What a receiver counted.
public struct ReceiverReport: Sendable, Equatable {
    public var flows: [FlowStatistics]
    /// All flows summed.
    public var total: FlowStatistics
    /// Frames that were not test frames.
    public var foreign: UInt64
    /// Test frames of another run.
    public var stale: UInt64
    /// Test frames of this run whose flow id is out of range.
    public var unknownFlow: UInt64
    /// Samples whose receive time preceded their send time (clamped to 0; should stay 0).
    public var clockAnomalies: UInt64
    /// The latency samples.
    public var latency: LatencyHistogram
}

/// Per-flow sequence state: the next expected sequence and the window of seen ones.
struct SequenceState {
    /// Highest sequence seen + 1 (0: none yet).
    var next: UInt64 = 0
    var counters = FlowStatistics()
}

/// Counts test frames per flow; see the file comment for the definitions.
public final class TrafficReceiver: @unchecked Sendable {
    // @unchecked: owned by the consuming thread; the AF_PACKET loop's stop flag is atomic.
    public let flowCount: Int
    public private(set) var run: UInt32
    /// Sequence numbers remembered per flow for duplicate detection (a power of two).
    public let reorderWindow: Int
    private let states: UnsafeMutablePointer<SequenceState>
    /// `flowCount` bitmaps of `reorderWindow` bits each.
    private let bitmaps: UnsafeMutablePointer<UInt64>
    private let wordsPerFlow: Int
    private var foreign: UInt64 = 0
    private var stale: UInt64 = 0
    private var unknownFlow: UInt64 = 0
    private var clockAnomalies: UInt64 = 0
    private var latency = LatencyHistogram()
    /// Set by `requestStop` for the AF_PACKET loop: stop at this monotonic time.
    let stopDeadline = Atomic<UInt64>(.max)

    public init(flowCount: Int, run: UInt32, reorderWindow: Int = 65_536) {
        precondition(flowCount > 0, "a receiver needs at least one flow")
        precondition(reorderWindow >= 64 && reorderWindow & (reorderWindow - 1) == 0,
                     "reorder window must be a power of two, at least 64")
        self.flowCount = flowCount
        self.run = run
        self.reorderWindow = reorderWindow
        wordsPerFlow = reorderWindow / 64
        states = .allocate(capacity: flowCount)
        states.initialize(repeating: SequenceState(), count: flowCount)
        bitmaps = .allocate(capacity: flowCount * wordsPerFlow)
        bitmaps.initialize(repeating: 0, count: flowCount * wordsPerFlow)
    }

    deinit {
        states.deinitialize(count: flowCount)
        states.deallocate()
        bitmaps.deallocate()
    }

    /// Clears every count for a new trial with run id `run`.
    public func reset(run: UInt32) {
        self.run = run
        states.update(repeating: SequenceState(), count: flowCount)
        bitmaps.update(repeating: 0, count: flowCount * wordsPerFlow)
        foreign = 0
        stale = 0
        unknownFlow = 0
        clockAnomalies = 0
        latency.reset()
        stopDeadline.store(.max, ordering: .relaxed)
    }

    /// Accounts a batch of received frames, all received at `receivedAt` (CLOCK_MONOTONIC ns).
    public func consume(_ frames: UnsafeBufferPointer<ReceivedFrame>, receivedAt: UInt64) {
        for f in frames { consume(frame: f.bytes, receivedAt: receivedAt) }
    }

    /// Accounts one received frame.
    public func consume(frame: UnsafeRawBufferPointer, receivedAt: UInt64) {
        guard let h = TestFrame.decode(frame) else {
            foreign &+= 1
            return
        }
        guard h.run == run else {
            stale &+= 1
            return
        }
        guard h.flow < UInt32(flowCount) else {
            unknownFlow &+= 1
            return
        }
        let flow = Int(h.flow)
        if account(flow: flow, sequence: h.sequence) {
            if receivedAt >= h.sendTime {
                latency.record(receivedAt - h.sendTime)
            } else {
                clockAnomalies &+= 1
                latency.record(0)
            }
        }
    }

    /// Updates flow `flow` for `sequence`; false for a duplicate (not sampled for latency).
    private func account(flow: Int, sequence s: UInt64) -> Bool {
        let st = states + flow
        let words = bitmaps + flow * wordsPerFlow
        let mask = UInt64(reorderWindow - 1)
        st.pointee.counters.received &+= 1
        let next = st.pointee.next
        if s >= next {
            // New highest: forget the bits the window slides past (those of next...s), then mark s.
            let advance = s - next + 1
            if advance >= UInt64(reorderWindow) {
                words.update(repeating: 0, count: wordsPerFlow)
            } else {
                var q = next
                while q <= s {
                    let bit = q & mask
                    if bit & 63 == 0 && s - q >= 63 {
                        words[Int(bit >> 6)] = 0  // a whole word at once
                        q += 64
                    } else {
                        words[Int(bit >> 6)] &= ~(1 << (bit & 63))
                        q += 1
                    }
                }
            }
            let bit = s & mask
            words[Int(bit >> 6)] |= 1 << (bit & 63)
            st.pointee.next = s + 1
            return true
        }
        // Lower than one already seen: late (reordered) or a duplicate.
        if next - s > UInt64(reorderWindow) {
            st.pointee.counters.reordered &+= 1
            st.pointee.counters.tooLate &+= 1
            return true
        }
        let bit = s & mask
        let word = Int(bit >> 6)
        let m: UInt64 = 1 << (bit & 63)
        if words[word] & m != 0 {
            st.pointee.counters.duplicated &+= 1
            return false
        }
        words[word] |= m
        st.pointee.counters.reordered &+= 1
        return true
    }

    /// The counts so far. With `sentPerFlow` (the generator's report) loss includes frames
    /// lost at the tail; without, expected is the highest sequence seen + 1.
    public func report(sentPerFlow: [UInt64]? = nil) -> ReceiverReport {
        precondition(sentPerFlow == nil || sentPerFlow!.count == flowCount, "one sent count per flow")
        var flows: [FlowStatistics] = []
        flows.reserveCapacity(flowCount)
        for i in 0..<flowCount {
            var c = states[i].counters
            c.expected = sentPerFlow?[i] ?? states[i].next
            c.lost = c.expected > c.unique ? c.expected - c.unique : 0
            flows.append(c)
        }
        return ReceiverReport(
            flows: flows, total: flows.reduce(FlowStatistics(), +), foreign: foreign, stale: stale,
            unknownFlow: unknownFlow, clockAnomalies: clockAnomalies, latency: latency)
    }
}
