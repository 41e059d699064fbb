// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// SimulatedBridge: a bridge of known capacity, for testing the measurement itself. It forwards
// up to `capacity` frames per second and drops the rest, with an optional fixed latency — the
// behaviour RFC 2544's search assumes, so a search against it must find `capacity`.
//
// Two ways to use it:
// - `trial(rate:seconds:)` is the model in closed form (delivered = min(offered, capacity ×
//   time)), instantaneous, for testing ThroughputSearch over many capacities;
// - as a `Port`, it is the generator's sink: frames within capacity (a token bucket on
//   CLOCK_MONOTONIC that holds `queueFrames`, a queue absorbing the generator's batches) go to
//   the attached TrafficReceiver at once, stamped as received `latency` later; the others are
//   dropped and counted. That runs generator, pacing, stamping and receiver accounting end to
//   end without a kernel.
// Not a model of a real bridge's queueing: latency never grows with load.

import BridgeCore
import PacketIO

/// A bridge that forwards at most `capacity` frames/s.
public final class SimulatedBridge: Port {
    public let name: String
    /// Frames per second it forwards.
    public let capacity: Double
    /// Added to every delivered frame's receive time (ns).
    public let latencyNanoseconds: UInt64
    /// Burst it absorbs above capacity (frames).
    public let queueFrames: Int
    /// Where delivered frames go (the Port path).
    public var receiver: TrafficReceiver?
    /// Frames taken in and forwarded (Port path).
    public private(set) var forwarded: UInt64 = 0
    /// Frames taken in and dropped for lack of capacity (Port path).
    public private(set) var dropped: UInt64 = 0
    private var tokens: Double
    private var lastRefill: UInt64 = 0

    public init(capacity: Double, latencyNanoseconds: UInt64 = 0, queueFrames: Int = 256, name: String = "simulated") {
        precondition(capacity > 0 && queueFrames > 0)
        self.name = name
        self.capacity = capacity
        self.latencyNanoseconds = latencyNanoseconds
        self.queueFrames = queueFrames
        tokens = Double(queueFrames)
    }

    /// The closed-form trial: `rate` frames/s offered for `seconds`.
    public func trial(rate: Double, seconds: Double) -> TrialResult {
        let offered = UInt64((rate * seconds).rounded())
        let carried = UInt64((capacity * seconds).rounded())
        return TrialResult(offered: offered, delivered: Swift.min(offered, carried), offeredRate: rate)
    }

    // MARK: Port: the generator's side of the bridge.

    public func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int { 0 }
    public func releaseReceived() {}

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int {
        let now = MonotonicClock.now()
        if lastRefill == 0 { lastRefill = now }
        tokens = Swift.min(Double(queueFrames), tokens + Double(now - lastRefill) * capacity / 1e9)
        lastRefill = now
        for f in frames {
            if tokens >= 1 {
                tokens -= 1
                forwarded &+= 1
                receiver?.consume(frame: f.bytes, receivedAt: now &+ latencyNanoseconds)
            } else {
                dropped &+= 1
            }
        }
        // A bridge takes every frame it is given; the drops happen inside it.
        return frames.count
    }
}
