// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// TrafficGenerator: sends test frames into a `Port` (an AFPacketPort on a lab interface, or an
// in-memory sink in tests) in batches, at a fixed rate or as fast as the port takes them.
//
// Pacing is a token bucket on CLOCK_MONOTONIC: tokens accrue at the target rate, a batch is
// sent when a batch's worth is there, and the thread sleeps (absolute deadline) in between.
// The batch size follows the rate — about `batchInterval` worth of frames, 1 at 10,000/s with
// the default 100 µs, up to `maxBatch` — so low rates are smooth and high rates amortise the
// per-batch syscall. Late wake-ups (timer slack, a busy core) are caught up from the bucket, so
// the long-run rate holds; credit beyond `catchUp` is discarded rather than sent as a burst,
// and then the offered rate honestly falls short of the target (the report says by how much).
//
// Flows are interleaved round-robin: frame k overall is flow k % F with sequence k / F. Frames
// the port refuses (`transmit` returns fewer) consumed their tokens and count as send
// failures; their sequence numbers are reused by the next batch, so the receiver's sequence
// gaps are exactly the frames lost after a successful send.
//
// Memory: `maxBatch` frame slots (template and fill written once at creation) and the
// EgressFrame array are allocated up front. Per frame the hot loop copies a 26-byte template
// and stores two words; it never allocates. One clock read per batch stamps all its frames
// (they reach the kernel in one sendmmsg call).
//
// Threading: `run` on one thread; `stop()` from any thread.

import BridgeCore
import Synchronization
import PacketIO

/// How fast a generator sends.
public enum SendRate: Sendable, Equatable, CustomStringConvertible {
    /// A fixed rate in frames per second (paced).
    case fixed(framesPerSecond: Double)
    /// As fast as the port accepts frames.
    case maximum

    public var description: String {
        switch self {
        case .fixed(let r): return "\(r) frames/s"
        case .maximum: return "max"
        }
    }
}

/// What to send and for how long.
public struct GeneratorConfiguration: Sendable, Equatable {
    public var frameSize: FrameSize
    public var flows: [FlowSpec]
    /// Stamped into every frame; a receiver counts frames of other runs as stale.
    public var run: UInt32
    public var rate: SendRate
    /// Stop after this many frames were sent (nil: no count bound).
    public var frameLimit: UInt64?
    /// Stop after this long, in nanoseconds (always bounded).
    public var durationNanoseconds: UInt64
    /// Largest batch handed to `transmit`.
    public var maxBatch: Int = 64
    /// Paced mode: aim for one batch per this many nanoseconds (sets the batch size).
    public var batchIntervalNanoseconds: UInt64 = 100_000
    /// Paced mode: at most this much lateness (ns) is caught up by sending faster.
    public var catchUpNanoseconds: UInt64 = 5_000_000

    public init(
        frameSize: FrameSize, flows: [FlowSpec], run: UInt32, rate: SendRate,
        frameLimit: UInt64? = nil, durationNanoseconds: UInt64
    ) {
        self.frameSize = frameSize
        self.flows = flows
        self.run = run
        self.rate = rate
        self.frameLimit = frameLimit
        self.durationNanoseconds = durationNanoseconds
    }
}

/// What a generator did.
public struct GeneratorReport: Sendable, Equatable {
    /// Frames handed to the port (tried), including those it refused.
    public var offered: UInt64 = 0
    /// Frames the port accepted.
    public var sent: UInt64 = 0
    /// Frames the port refused (`offered - sent`).
    public var sendFailures: UInt64 { offered - sent }
    /// Calls to `transmit`.
    public var batches: UInt64 = 0
    /// From the start of `run` to the end of the last `transmit`, in nanoseconds.
    public var elapsedNanoseconds: UInt64 = 0
    /// Frames accepted per flow (flow i's sequence numbers 0..<sentPerFlow[i] were sent).
    public var sentPerFlow: [UInt64] = []
    /// The configured rate.
    public var target: SendRate = .maximum

    public init() {}

    /// Frames offered per second of the run.
    public var offeredRate: Double { elapsedNanoseconds == 0 ? 0 : Double(offered) * 1e9 / Double(elapsedNanoseconds) }
    /// Frames sent per second of the run.
    public var sentRate: Double { elapsedNanoseconds == 0 ? 0 : Double(sent) * 1e9 / Double(elapsedNanoseconds) }
}

/// A paced, batched test-frame sender. Reusable: each `run` starts sequences at 0.
public final class TrafficGenerator: @unchecked Sendable {
    // @unchecked: the buffers belong to the thread inside `run`; only the atomic flag is shared.
    public let configuration: GeneratorConfiguration
    private let slots: UnsafeMutableRawPointer
    private let slotStride: Int
    private let templates: UnsafeMutableRawPointer
    private let egress: UnsafeMutableBufferPointer<EgressFrame>
    private let stopRequested = Atomic<Bool>(false)

    public init(configuration: GeneratorConfiguration) {
        precondition(!configuration.flows.isEmpty, "a generator needs at least one flow")
        precondition(configuration.flows.count <= Int(UInt32.max))
        precondition(configuration.maxBatch > 0 && configuration.batchIntervalNanoseconds > 0)
        if case .fixed(let r) = configuration.rate { precondition(r > 0 && r.isFinite, "rate \(r) must be positive") }
        self.configuration = configuration
        let length = configuration.frameSize.socketLength
        slotStride = (length + 63) & ~63
        slots = .allocate(byteCount: slotStride * configuration.maxBatch, alignment: 64)
        let flowCount = configuration.flows.count
        templates = .allocate(byteCount: TestFrame.templateLength * flowCount, alignment: 8)
        for (i, flow) in configuration.flows.enumerated() {
            TestFrame.writeTemplate(
                into: UnsafeMutableRawBufferPointer(
                    start: templates + i * TestFrame.templateLength, count: TestFrame.templateLength),
                flow: flow, flowID: UInt32(i), run: configuration.run)
        }
        egress = .allocate(capacity: configuration.maxBatch)
        for s in 0..<configuration.maxBatch {
            let slot = UnsafeMutableRawBufferPointer(start: slots + s * slotStride, count: length)
            TestFrame.writeFill(into: slot)
            egress[s] = EgressFrame(bytes: UnsafeRawBufferPointer(slot), encoding: .asIs)
        }
    }

    deinit {
        slots.deallocate()
        templates.deallocate()
        egress.deallocate()
    }

    /// Frames per batch in paced mode at `rate`: one `batchInterval`'s worth, at least 1.
    public static func batchSize(rate: Double, intervalNanoseconds: UInt64, maxBatch: Int) -> Int {
        let n = (rate * Double(intervalNanoseconds) / 1e9).rounded(.up)
        return Int(Swift.min(Swift.max(n, 1), Double(maxBatch)))
    }

    /// Ends a `run` in progress (from another thread) after its current batch.
    public func stop() { stopRequested.store(true, ordering: .relaxed) }

    /// Sends until the duration or frame limit is reached or `stop()` is called.
    public func run(into port: any Port) -> GeneratorReport {
        stopRequested.store(false, ordering: .relaxed)
        let c = configuration
        let flowCount = UInt64(c.flows.count)
        let limit = c.frameLimit ?? .max
        var report = GeneratorReport()
        report.target = c.rate

        // Pacing state (paced mode only).
        var rate = 0.0
        var batchTarget = c.maxBatch
        var depth = 0.0
        if case .fixed(let r) = c.rate {
            rate = r
            batchTarget = TrafficGenerator.batchSize(
                rate: r, intervalNanoseconds: c.batchIntervalNanoseconds, maxBatch: c.maxBatch)
            depth = Swift.max(Double(batchTarget), r * Double(c.catchUpNanoseconds) / 1e9)
        }
        let paced = rate > 0
        let nanosPerFrame = paced ? 1e9 / rate : 0

        let start = MonotonicClock.now()
        let end = start &+ c.durationNanoseconds
        var tokens = Double(batchTarget)  // the first batch leaves at once
        var lastRefill = start
        var sent: UInt64 = 0  // frames accepted: the next frame is flow sent % F, sequence sent / F
        var now = start
        var finished = start

        while now < end && sent < limit && !stopRequested.load(ordering: .relaxed) {
            var want = Int(Swift.min(UInt64(c.maxBatch), limit - sent))
            if paced {
                tokens = Swift.min(depth, tokens + Double(now - lastRefill) / nanosPerFrame)
                lastRefill = now
                let ready = Int(tokens)
                if ready < Swift.min(batchTarget, want) {
                    // Sleep until a batch's worth has accrued (never past the end).
                    let wait = UInt64((Double(Swift.min(batchTarget, want)) - tokens) * nanosPerFrame)
                    MonotonicClock.sleep(until: Swift.min(now &+ Swift.max(wait, 1), end))
                    now = MonotonicClock.now()
                    continue
                }
                want = Swift.min(want, ready)
            }

            // Fill `want` slots: template copy plus sequence and time (no allocation).
            var flow = sent % flowCount
            var sequence = sent / flowCount
            for s in 0..<want {
                let frame = slots + s * slotStride
                frame.copyMemory(
                    from: templates + Int(flow) * TestFrame.templateLength, byteCount: TestFrame.templateLength)
                TestFrame.stamp(frame, sequence: sequence, sendTime: now)
                flow += 1
                if flow == flowCount {
                    flow = 0
                    sequence += 1
                }
            }
            let accepted = port.transmit(UnsafeBufferPointer(rebasing: egress[0..<want]))
            report.batches += 1
            report.offered += UInt64(want)
            sent += UInt64(Swift.min(Swift.max(accepted, 0), want))
            if paced { tokens -= Double(want) }
            now = MonotonicClock.now()
            finished = now
        }

        report.sent = sent
        report.elapsedNanoseconds = finished - start
        report.sentPerFlow = (0..<flowCount).map { f in sent / flowCount + (f < sent % flowCount ? 1 : 0) }
        return report
    }
}
