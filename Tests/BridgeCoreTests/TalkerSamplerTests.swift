// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// TalkerSampler: one frame in `every` across batches, estimates from the samples, a wrapped
// ring, runts skipped, and a reader racing the writer never sees a torn record. Time is the
// test's own (timestamps passed in), never the wall clock.

import BridgeCore
import Synchronization
import Testing

/// Frames from given source MACs, with memory the test owns.
private final class Frames {
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private(set) var frames: [ReceivedFrame] = []

    func add(source: MACAddress, port: Int, length: Int = 64) {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        for k in 0..<6 where length >= 12 { b[6 + k] = UInt8(truncatingIfNeeded: source.rawValue >> (8 * (5 - k))) }
        buffers.append(b)
        frames.append(ReceivedFrame(bytes: UnsafeRawBufferPointer(b), port: port))
    }

    deinit { for b in buffers { b.deallocate() } }
}

@Suite struct TalkerSamplerTests {
    let a = MACAddress(rawValue: 0x02_00_00_00_00_0A)
    let b = MACAddress(rawValue: 0x02_00_00_00_00_0B)

    @Test func samplesOneFrameInEveryAcrossBatches() {
        let s = TalkerSampler(every: 10, capacity: 1024)
        let f = Frames()
        for _ in 0..<3 { f.add(source: a, port: 1) }
        // 100 batches of 3 frames: 300 frames, one sample in 10.
        f.frames.withUnsafeBufferPointer { batch in
            for i in 0..<100 { s.record(batch, now: Timestamp(milliseconds: 1_000 + UInt64(i))) }
        }
        let (samples, wrapped) = s.samples()
        #expect(samples.count >= 20 && samples.count <= 40, "\(samples.count) samples of 300 frames")
        #expect(!wrapped)
        #expect(samples.allSatisfy { $0.mac == a && $0.port == 1 && $0.length == 64 })
    }

    @Test func estimatesRatesAndOrdersTalkers() {
        let s = TalkerSampler(every: 4, capacity: 4096)
        let f = Frames()
        // Per batch: 9 frames from a on port 0, 1 frame (128 B) from b on port 2, interleaved.
        for i in 0..<10 { if i == 5 { f.add(source: b, port: 2, length: 128) } else { f.add(source: a, port: 0) } }
        // 4,000 batches over 4 s: a sends 9,000 frames/s, b 1,000 frames/s.
        f.frames.withUnsafeBufferPointer { batch in
            for i in 0..<4_000 { s.record(batch, now: Timestamp(milliseconds: 10_000 + UInt64(i))) }
        }
        let top = TalkerSampler.topTalkers([s], now: Timestamp(milliseconds: 14_000), windowMilliseconds: 4_000, limit: 5)
        #expect(top.count == 2)
        #expect(top.first?.mac == a && top.first?.port == 0)
        #expect(top.last?.mac == b && top.last?.port == 2)
        let fa = top.first?.framesPerSecond ?? 0, fb = top.last?.framesPerSecond ?? 0
        #expect(abs(fa - 9_000) < 900, "a: \(fa) frames/s")
        #expect(abs(fb - 1_000) < 300, "b: \(fb) frames/s")
        #expect(abs((top.last?.bytesPerSecond ?? 0) - fb * 128) < 1)
        // Nothing in a window after the traffic ended.
        #expect(TalkerSampler.topTalkers([s], now: Timestamp(milliseconds: 30_000), windowMilliseconds: 1_000).isEmpty)
    }

    @Test func aWrappedRingEstimatesOverTheTimeItHolds() {
        let s = TalkerSampler(every: 1, capacity: 256)
        let f = Frames()
        for _ in 0..<10 { f.add(source: a, port: 3) }
        // 10 frames per ms for 1 s: 10,000 frames/s; the ring holds the last 25.6 ms.
        f.frames.withUnsafeBufferPointer { batch in
            for i in 0..<1_000 { s.record(batch, now: Timestamp(milliseconds: 5_000 + UInt64(i))) }
        }
        let (samples, wrapped) = s.samples()
        #expect(wrapped)
        #expect(samples.count <= 256 && samples.count >= 255)
        let top = TalkerSampler.topTalkers([s], now: Timestamp(milliseconds: 5_999), windowMilliseconds: 5_000)
        // The span is floored at 100 ms: 256 samples / 0.1 s. The estimate is right in order
        // of magnitude and never infinite.
        #expect(top.count == 1)
        #expect((top.first?.framesPerSecond ?? 0) > 1_000 && (top.first?.framesPerSecond ?? 0) < 20_000)
    }

    @Test func runtsAreNotSampled() {
        let s = TalkerSampler(every: 1, capacity: 16)
        let f = Frames()
        f.add(source: a, port: 0, length: 11)
        f.add(source: a, port: 0, length: 0)
        f.frames.withUnsafeBufferPointer { s.record($0, now: Timestamp(milliseconds: 1)) }
        #expect(s.samples().samples.isEmpty)
    }

    @Test func aReaderRacingTheWriterSeesOnlyWholeRecords() async {
        let s = TalkerSampler(every: 1, capacity: 64)
        let f = Frames()
        // Each frame's port and MAC agree (port k sends from MAC k): a torn record would not.
        for k in 1...8 { f.add(source: MACAddress(rawValue: UInt64(k)), port: k, length: 60 + k) }
        final class Race: @unchecked Sendable {
            let frames: [ReceivedFrame]
            let sampler: TalkerSampler
            let done = Atomic<Bool>(false)
            init(_ f: [ReceivedFrame], _ s: TalkerSampler) { frames = f; sampler = s }
        }
        let race = Race(f.frames, s)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                race.frames.withUnsafeBufferPointer { batch in
                    for i in 0..<200_000 { race.sampler.record(batch, now: Timestamp(milliseconds: UInt64(i))) }
                }
                race.done.store(true, ordering: .releasing)
            }
            group.addTask {
                var checked = 0
                repeat {
                    for r in race.sampler.samples().samples {
                        #expect(r.mac.rawValue == UInt64(r.port) && r.length == 60 + r.port)
                        checked += 1
                    }
                } while !race.done.load(ordering: .acquiring) || checked == 0
            }
        }
    }
}
