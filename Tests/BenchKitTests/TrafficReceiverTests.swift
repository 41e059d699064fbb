// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Receiver accounting on crafted sequences: loss from gaps (and at the tail, given what was
// sent), reordering as RFC 4737 defines it, duplicates (also of late frames), the sliding
// window's edge, flows counted independently, and frames that are not ours kept apart.

import BenchKit
import BridgeCore
import Testing

@Suite("Traffic receiver")
struct TrafficReceiverTests {
    let feed = FrameFeeder()

    func receiver(window: Int = 65_536) -> TrafficReceiver {
        TrafficReceiver(flowCount: feed.flows.count, run: feed.run, reorderWindow: window)
    }

    @Test("in order: nothing lost, reordered or duplicated")
    func inOrder() {
        let r = receiver()
        feed.deliver(Array(0..<100), to: r)
        let f = r.report().flows[0]
        #expect(f.received == 100 && f.unique == 100 && f.expected == 100)
        #expect(f.lost == 0 && f.reordered == 0 && f.duplicated == 0)
    }

    @Test("gaps are lost; the tail counts only when the sent count is known")
    func gaps() {
        let r = receiver()
        feed.deliver([0, 1, 2, 5, 6, 9], to: r)
        let seen = r.report().flows[0]
        #expect(seen.expected == 10 && seen.lost == 4 && seen.reordered == 0)
        let sent = r.report(sentPerFlow: [12, 0, 0, 0]).flows[0]
        #expect(sent.expected == 12 && sent.lost == 6)
        #expect(sent.lossRatio == 0.5)
    }

    @Test("a frame arriving after a higher one is reordered, not lost")
    func reordered() {
        let r = receiver()
        feed.deliver([0, 2, 1, 3, 6, 4, 5, 7], to: r)
        let f = r.report().flows[0]
        #expect(f.reordered == 3 && f.lost == 0 && f.duplicated == 0 && f.unique == 8)
    }

    @Test("duplicates, of in-order and of late frames")
    func duplicates() {
        let r = receiver()
        feed.deliver([0, 1, 1, 2, 0, 4, 3, 3, 4], to: r)
        let f = r.report().flows[0]
        #expect(f.received == 9 && f.duplicated == 4 && f.unique == 5)
        #expect(f.reordered == 1)  // 3 after 4; its copy is a duplicate, not a second reorder
        #expect(f.lost == 0)
    }

    @Test("the window: older than it is too late to tell; inside it duplicates are caught")
    func window() {
        let r = receiver(window: 64)
        feed.deliver([0, 200], to: r)  // jumps past the window: the bitmap starts afresh
        feed.deliver([1], to: r)  // 199 behind: too late
        feed.deliver([150, 150, 137], to: r)  // within 64 of 200: a reorder, then its duplicate
        // 236 is 64 behind the next expected (300): the window's oldest slot, still remembered.
        feed.deliver(Array(201..<300) + [299, 236], to: r)
        let f = r.report().flows[0]
        #expect(f.tooLate == 1)
        #expect(f.duplicated == 3)
        #expect(f.reordered == 3)  // 1 (too late), 150, 137
        #expect(f.unique == 104)
        #expect(f.lost == 300 - 104)
    }

    @Test("flows are independent; other runs, other frames and unknown flows stay apart")
    func flowsAndStrangers() {
        let r = receiver()
        feed.deliver([0, 1, 2], flow: 0, to: r)
        feed.deliver([0, 2], flow: 3, to: r)
        feed.frame(flow: 1, sequence: 0, run: 6).withUnsafeBytes { r.consume(frame: $0, receivedAt: 0) }
        TestFrame.learningFrame(for: feed.flows[0]).withUnsafeBytes { r.consume(frame: $0, receivedAt: 0) }
        TestFrame.encode(size: feed.size, flow: feed.flows[0], header: TestFrameHeader(run: feed.run, flow: 9, sequence: 0, sendTime: 0))
            .withUnsafeBytes { r.consume(frame: $0, receivedAt: 0) }
        let rep = r.report(sentPerFlow: [3, 1, 0, 4])
        #expect(rep.flows.map(\.unique) == [3, 0, 0, 2])
        #expect(rep.flows.map(\.lost) == [0, 1, 0, 2])
        #expect(rep.total.unique == 5 && rep.total.lost == 3 && rep.total.expected == 8)
        #expect(rep.stale == 1 && rep.foreign == 1 && rep.unknownFlow == 1)
        r.reset(run: 6)
        feed.frame(flow: 1, sequence: 0, run: 6).withUnsafeBytes { r.consume(frame: $0, receivedAt: 0) }
        #expect(r.report().total.unique == 1 && r.report().stale == 0)
    }

    @Test("one-way latency: receive time minus send time; duplicates are not sampled")
    func latency() throws {
        let r = receiver()
        for s: UInt64 in 0..<100 {
            feed.frame(flow: 0, sequence: s, sendTime: 1_000_000 + s).withUnsafeBytes {
                r.consume(frame: $0, receivedAt: 1_000_000 + s + 20_000 + s * 10)
            }
        }
        feed.frame(flow: 0, sequence: 5, sendTime: 0).withUnsafeBytes { r.consume(frame: $0, receivedAt: 9_999_999) }
        feed.frame(flow: 0, sequence: 100, sendTime: 500).withUnsafeBytes { r.consume(frame: $0, receivedAt: 400) }
        let rep = r.report()
        let s = try #require(rep.latency.summary)
        #expect(s.count == 101 && s.minimum == 0 && s.maximum == 20_990)
        #expect(rep.clockAnomalies == 1)
        #expect(abs(Double(s.p50) - 20_490) <= 20_490 / 128)
    }

    @Test("a batch of ReceivedFrames is consumed like single frames")
    func batch() {
        let r = receiver()
        let frames = (0..<8).map { feed.frame(flow: $0 % 4, sequence: UInt64($0 / 4)) }
        let port = MemoryPort(name: "rx")
        for f in frames { try! port.inject(f) }
        var buffer = [ReceivedFrame](repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0), count: 16)
        let n = buffer.withUnsafeMutableBufferPointer { port.receive(into: $0, port: 0) }
        buffer.withUnsafeBufferPointer { r.consume(UnsafeBufferPointer(rebasing: $0[0..<n]), receivedAt: 5_000) }
        port.releaseReceived()
        #expect(r.report().flows.map(\.unique) == [2, 2, 2, 2])
    }
}
