// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ForwardingPass: one pass of the forwarding path over a set of ports: gather a batch from the
// ready ports, decide it with the engine, queue every frame on its egress ports, send each
// port's queue with one call, then give the received memory back. The loop that waits for
// readiness (poll, busy-poll, a test) sits outside; this is the part it repeats.
//
// Everything is allocated at init: per-port TX queues of `maxBatch` entries, so a flood of a
// full batch to every port never allocates.

/// Runs batches through a `ForwardingEngine` between `Port`s.
public final class ForwardingPass {
    public let engine: ForwardingEngine
    /// Ports by index; nil while a port is detached (its interface vanished).
    public private(set) var ports: [(any Port)?]
    @usableFromInline let frames: UnsafeMutableBufferPointer<ReceivedFrame>
    @usableFromInline let verdicts: UnsafeMutableBufferPointer<Verdict>
    @usableFromInline let txQueues: UnsafeMutablePointer<EgressFrame>
    @usableFromInline let txCounts: UnsafeMutablePointer<Int>
    /// Ports that received frames in the current pass.
    @usableFromInline var received: UInt64 = 0
    /// Ports that are not nil.
    public private(set) var attached = PortMask.empty
    /// Samples source stations for `talkers` (TalkerSampler.swift): one call per batch.
    public let talkers = TalkerSampler()

    public init(engine: ForwardingEngine, ports: [(any Port)?]) {
        precondition(ports.count <= PortMask.capacity, "too many ports")
        self.engine = engine
        self.ports = ports
        attached = PortMask(ports.indices.filter { ports[$0] != nil })
        let n = engine.maxBatch
        frames = .allocate(capacity: n)
        frames.initialize(repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0))
        verdicts = .allocate(capacity: n)
        verdicts.initialize(repeating: Verdict())
        txQueues = .allocate(capacity: n * PortMask.capacity)
        txQueues.initialize(
            repeating: EgressFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), encoding: .asIs),
            count: n * PortMask.capacity)
        txCounts = .allocate(capacity: PortMask.capacity)
        txCounts.initialize(repeating: 0, count: PortMask.capacity)
    }

    deinit {
        frames.deallocate()
        verdicts.deallocate()
        txQueues.deallocate()
        txCounts.deallocate()
    }

    /// Attaches (or, with nil, detaches) the port at `index`. Between passes only.
    public func setPort(_ index: Int, _ port: (any Port)?) {
        precondition(index >= 0 && index < PortMask.capacity)
        while ports.count <= index { ports.append(nil) }
        ports[index] = port
        if port == nil { attached.remove(index) } else { attached.insert(index) }
    }

    /// One pass over the ports in `ready`: returns how many frames were received.
    @discardableResult
    public func runOnce(ready requested: PortMask, now: Timestamp) -> Int {
        let max = engine.maxBatch
        let ready = requested & attached
        let readyCount = ready.count
        guard readyCount > 0 else { return 0 }
        // Share the batch among the ready ports so one busy port cannot starve the others.
        let quota = Swift.max(max / readyCount, 1)
        var n = 0
        received = 0
        for p in ready {
            guard n < max, let port = ports[p] else { continue }
            let room = UnsafeMutableBufferPointer(rebasing: frames[n..<Swift.min(n + quota, max)])
            let got = port.receive(into: room, port: p)
            if got > 0 { received |= 1 << UInt64(p) }
            n += got
        }
        guard n > 0 else { return 0 }
        forward(count: n, now: now)
        for p in PortMask(rawValue: received) { ports[p]?.releaseReceived() }
        return n
    }

    /// Decides `frames[0..<count]` and sends them.
    @usableFromInline
    func forward(count n: Int, now: Timestamp) {
        // The batch never exceeds maxBatch and the buffers are sized for it: cannot throw.
        try! engine.process(UnsafeBufferPointer(rebasing: frames[0..<n]), into: verdicts, now: now)
        talkers.record(UnsafeBufferPointer(rebasing: frames[0..<n]), now: now)
        let stride = engine.maxBatch
        var used: UInt64 = 0
        for i in 0..<n {
            let v = verdicts[i]
            if v.egress.isEmpty { continue }
            let f = frames[i]
            for p in v.egress {
                let slot = txQueues + (p * stride + txCounts[p])
                slot.pointee = EgressFrame(bytes: f.bytes, encoding: v.encoding(forPort: p), offload: f.offload)
                txCounts[p] += 1
            }
            used |= v.egress.rawValue
        }
        let counters = engine.counters
        for p in PortMask(rawValue: used) {
            let count = txCounts[p]
            txCounts[p] = 0
            let queue = UnsafeBufferPointer(start: txQueues + p * stride, count: count)
            guard p < ports.count, let port = ports[p] else {
                counters.countTransmitDropped(port: p, frames: count)
                continue
            }
            // The port says which frames went: one it skipped mid-batch has no bytes on the wire.
            let sent = port.transmitReporting(queue)
            counters.countTransmitted(port: p, frames: sent.frames, bytes: sent.bytes)
            if sent.frames < count { counters.countTransmitDropped(port: p, frames: count - sent.frames) }
        }
    }
}
