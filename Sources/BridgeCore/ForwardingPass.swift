// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ForwardingPass: one pass of the forwarding path over a set of ports: gather a batch from the
// ready ports, decide it with the engine, queue every frame on its egress ports, send each
// port's queue with one call, then give the received memory back. The loop that waits for
// readiness (epoll, busy-poll, a test) sits outside; this is the part it repeats.
//
// Memory follows the ports attached, not the 1,024 a bridge may have: a port's TX queue
// (`maxBatch` entries, so a flood of a full batch to every port never allocates) is allocated
// when the port is first attached, off the forwarding path, and kept for a re-attach. The
// ports a pass touches are kept as lists, so its cost follows the ports with frames.

/// Runs batches through a `ForwardingEngine` between `Port`s.
public final class ForwardingPass {
    public let engine: ForwardingEngine
    /// Ports by index; nil while a port is detached (its interface vanished).
    public private(set) var ports: [(any Port)?]
    @usableFromInline let frames: UnsafeMutableBufferPointer<ReceivedFrame>
    @usableFromInline let verdicts: UnsafeMutableBufferPointer<Verdict>
    /// Per port index: its TX queue (nil until the port is first attached).
    @usableFromInline let txQueues: UnsafeMutablePointer<UnsafeMutablePointer<EgressFrame>?>
    @usableFromInline let txCounts: UnsafeMutablePointer<Int>
    /// Ports with frames queued in the current pass, in the order they got their first.
    @usableFromInline let txUsed: UnsafeMutablePointer<Int32>
    /// Ports that received frames in the current pass.
    @usableFromInline let receivedPorts: UnsafeMutablePointer<Int32>
    /// The attached ports in ascending order (what busy polling reads), and a scratch list.
    @usableFromInline let attachedList: UnsafeMutablePointer<Int32>
    @usableFromInline var attachedCount = 0
    @usableFromInline let scratchList: UnsafeMutablePointer<Int32>
    /// Where the next pass starts in its ready list, so that with more ready ports than a
    /// batch has room for, every port gets its turn.
    @usableFromInline var rotation = 0
    /// Ports that are not nil.
    public private(set) var attached = PortSet.empty
    /// Samples source stations for `talkers` (TalkerSampler.swift): one call per batch.
    public let talkers = TalkerSampler()
    /// Where control frames (`Verdict.punt`) are copied for the control plane; nil: nowhere
    /// (counted as `puntDropped`).
    public let controlFrames: ControlFrameQueue?

    public init(engine: ForwardingEngine, ports: [(any Port)?], controlFrames: ControlFrameQueue? = nil) {
        self.controlFrames = controlFrames
        precondition(ports.count <= PortSet.capacity, "too many ports")
        self.engine = engine
        self.ports = []
        let n = engine.maxBatch
        let cap = PortSet.capacity
        frames = .allocate(capacity: n)
        frames.initialize(repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0))
        verdicts = .allocate(capacity: n)
        verdicts.initialize(repeating: Verdict())
        txQueues = .allocate(capacity: cap)
        txQueues.initialize(repeating: nil, count: cap)
        txCounts = .allocate(capacity: cap)
        txCounts.initialize(repeating: 0, count: cap)
        txUsed = .allocate(capacity: cap)
        txUsed.initialize(repeating: 0, count: cap)
        receivedPorts = .allocate(capacity: cap)
        receivedPorts.initialize(repeating: 0, count: cap)
        attachedList = .allocate(capacity: cap)
        attachedList.initialize(repeating: 0, count: cap)
        scratchList = .allocate(capacity: cap)
        scratchList.initialize(repeating: 0, count: cap)
        for (i, p) in ports.enumerated() { setPort(i, p) }
    }

    deinit {
        for i in 0..<PortSet.capacity { txQueues[i]?.deallocate() }
        frames.deallocate()
        verdicts.deallocate()
        txQueues.deallocate()
        txCounts.deallocate()
        txUsed.deallocate()
        receivedPorts.deallocate()
        attachedList.deallocate()
        scratchList.deallocate()
    }

    /// Attaches (or, with nil, detaches) the port at `index`. Between passes only.
    public func setPort(_ index: Int, _ port: (any Port)?) {
        precondition(index >= 0 && index < PortSet.capacity)
        while ports.count <= index { ports.append(nil) }
        ports[index] = port
        if port == nil {
            attached.remove(index)
        } else {
            attached.insert(index)
            if txQueues[index] == nil {
                let q = UnsafeMutablePointer<EgressFrame>.allocate(capacity: engine.maxBatch)
                q.initialize(repeating: EgressFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), encoding: .asIs),
                             count: engine.maxBatch)
                txQueues[index] = q
            }
        }
        attachedCount = 0
        for p in attached {
            attachedList[attachedCount] = Int32(p)
            attachedCount += 1
        }
    }

    /// One pass over every attached port (busy polling, spinning): returns the frames received.
    @discardableResult
    public func runOnceOverAll(now: Timestamp) -> Int {
        run(UnsafeBufferPointer(start: attachedList, count: attachedCount), now: now)
    }

    /// One pass over the ports listed in `ready` (detached ones are skipped): returns how
    /// many frames were received.
    @discardableResult
    public func runOnce(ready: UnsafeBufferPointer<Int32>, now: Timestamp) -> Int {
        run(ready, now: now)
    }

    /// One pass over the ports in `ready` (tests and tools; the bridge passes lists).
    @discardableResult
    public func runOnce(ready requested: PortSet, now: Timestamp) -> Int {
        var n = 0
        for p in requested & attached {
            scratchList[n] = Int32(p)
            n += 1
        }
        return run(UnsafeBufferPointer(start: scratchList, count: n), now: now)
    }

    @usableFromInline
    func run(_ ready: UnsafeBufferPointer<Int32>, now: Timestamp) -> Int {
        let max = engine.maxBatch
        let readyCount = ready.count
        guard readyCount > 0 else { return 0 }
        // Share the batch among the ready ports so one busy port cannot starve the others, and
        // start where the last pass stopped when they outnumber the batch's room.
        let quota = Swift.max(max / readyCount, 1)
        var n = 0
        var receivedCount = 0
        let start = rotation < readyCount ? rotation : 0
        var visited = 0
        while visited < readyCount && n < max {
            var k = start + visited
            if k >= readyCount { k -= readyCount }
            visited += 1
            let p = Int(ready[k])
            guard p >= 0 && p < ports.count, let port = ports[p] else { continue }
            let room = UnsafeMutableBufferPointer(rebasing: frames[n..<Swift.min(n + quota, max)])
            let got = port.receive(into: room, port: p)
            if got > 0 {
                receivedPorts[receivedCount] = Int32(p)
                receivedCount += 1
            }
            n += got
        }
        rotation = visited < readyCount ? (start + visited) % readyCount : 0
        guard n > 0 else { return 0 }
        forward(count: n, now: now)
        for k in 0..<receivedCount { ports[Int(receivedPorts[k])]?.releaseReceived() }
        return n
    }

    /// Queues frame `f` on port `p` with `encoding`; a port without a queue (never attached)
    /// counts the frame as a transmit drop.
    @inlinable @inline(__always)
    func enqueue(_ f: ReceivedFrame, port p: Int, _ encoding: EgressEncoding, _ usedCount: inout Int) {
        guard let q = txQueues[p] else {
            engine.counters.countTransmitDropped(port: p, frames: 1)
            return
        }
        let c = txCounts[p]
        if c == 0 {
            txUsed[usedCount] = Int32(p)
            usedCount += 1
        }
        q[c] = EgressFrame(bytes: f.bytes, encoding: encoding, offload: f.offload)
        txCounts[p] = c + 1
    }

    /// Copies a control frame for the control plane, counted either way.
    @usableFromInline
    func punt(_ f: ReceivedFrame, _ v: Verdict) {
        let accepted = controlFrames?.offer(f.bytes, port: f.port, vlan: v.vlan, kind: v.punt) ?? false
        engine.counters.countPunted(port: f.port, accepted: accepted)
    }

    /// Decides `frames[0..<count]` and sends them.
    @usableFromInline
    func forward(count n: Int, now: Timestamp) {
        // The batch never exceeds maxBatch and the buffers are sized for it: cannot throw.
        try! engine.process(UnsafeBufferPointer(rebasing: frames[0..<n]), into: verdicts, now: now)
        talkers.record(UnsafeBufferPointer(rebasing: frames[0..<n]), now: now)
        let c = engine.compiled
        var usedCount = 0
        for i in 0..<n {
            let v = verdicts[i]
            // One test per frame: control frames are rare.
            if v.punt != .none { punt(frames[i], v) }
            if v.dropReason != nil { continue }
            let f = frames[i]
            if v.unicastPort >= 0 {
                enqueue(f, port: Int(v.unicastPort), v.encoding(leavesUntagged: v.leavesUntagged), &usedCount)
                continue
            }
            // A flood: its egress set word by word (one word up to 64 ports).
            let row = Int(v.vlanRow)
            let ingress = Int(v.ingress)
            let snooped = v.flood == .snooped ? engine.snoopWords + Int(v.snoopSlot) * PortSet.wordCount : nil
            for w in 0..<c.wordCount {
                var bits = snooped?[w] ?? c.floodWord(v.flood, row: row, ingress: ingress, w)
                if bits == 0 { continue }
                let untagged = c.vlanFiltering ? c.untaggedWord(row: row, w) : 0
                while bits != 0 {
                    let b = bits.trailingZeroBitCount
                    bits &= bits &- 1
                    enqueue(f, port: w << 6 | b, v.encoding(leavesUntagged: untagged >> UInt64(b) & 1 != 0), &usedCount)
                }
            }
        }
        let counters = engine.counters
        let stride = ports.count
        for k in 0..<usedCount {
            let p = Int(txUsed[k])
            let count = txCounts[p]
            txCounts[p] = 0
            guard p < stride, let port = ports[p], let q = txQueues[p] else {
                counters.countTransmitDropped(port: p, frames: count)
                continue
            }
            // The port says which frames went: one it skipped mid-batch has no bytes on the wire.
            let sent = port.transmitReporting(UnsafeBufferPointer(start: q, count: count))
            counters.countTransmitted(port: p, frames: sent.frames, bytes: sent.bytes)
            if sent.frames < count { counters.countTransmitDropped(port: p, frames: count - sent.frames) }
        }
    }
}
