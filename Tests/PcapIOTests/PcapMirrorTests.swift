// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The mirror's contract: what is offered reaches the file with its timestamp (VLAN edits of
// the egress encoding applied), the filter runs before queuing, and a full ring drops and
// counts instead of blocking the caller (a stalled writer stands in for a slow disk).

import BridgeCore
import Foundation
import Testing
@testable import PcapIO

@Suite("Mirror queue")
struct PcapMirrorTests {
    @Test("offered frames reach the file in order with their timestamps")
    func writes() throws {
        let dir = TempDir()
        var config = PcapMirror.Configuration()
        config.precision = .nanosecond
        let mirror = try PcapMirror(path: dir.file("m.pcap"), configuration: config)
        let records = Frames.trace()
        for r in records { #expect(r.bytes.withUnsafeBytes { mirror.offer($0, timestamp: r.timestamp) }) }
        mirror.close()
        #expect(try PcapReader(path: dir.file("m.pcap")).readAll() == records)
        let s = mirror.statistics
        #expect(s.offered == UInt64(records.count) && s.written == UInt64(records.count) && s.droppedFull == 0)
    }

    @Test("egress frames are written as sent: a tag inserted, stripped, replaced")
    func egressEncoding() throws {
        let dir = TempDir()
        let mirror = try PcapMirror(path: dir.file("e.pcap"))
        let plain = Frames.make(dst: Frames.a, src: Frames.b, payload: 50)
        let tagged = Frames.make(dst: Frames.a, src: Frames.b, tags: [(0x8100, 0x0064)], payload: 50)
        let ts = CaptureTimestamp(seconds: 5, nanoseconds: 0)
        plain.withUnsafeBytes { mirror.offer(EgressFrame(bytes: $0, encoding: .insertTag(0x8100_0064)), timestamp: ts) }
        tagged.withUnsafeBytes { mirror.offer(EgressFrame(bytes: $0, encoding: .stripOuterTag), timestamp: ts) }
        tagged.withUnsafeBytes { mirror.offer(EgressFrame(bytes: $0, encoding: .replaceOuterTag(0x8100_00C8)), timestamp: ts) }
        mirror.close()
        let back = try PcapReader(path: dir.file("e.pcap")).readAll().map(\.bytes)
        let retagged = Frames.make(dst: Frames.a, src: Frames.b, tags: [(0x8100, 0x00C8)], payload: 50)
        #expect(back == [tagged, plain, retagged])
    }

    @Test("the BPF filter runs before queuing")
    func filtered() throws {
        let dir = TempDir()
        var config = PcapMirror.Configuration()
        config.filter = "vlan 100"
        let mirror = try PcapMirror(path: dir.file("f.pcap"), configuration: config)
        let records = Frames.trace()
        var accepted = 0
        for r in records where r.bytes.withUnsafeBytes({ mirror.offer($0, timestamp: r.timestamp) }) { accepted += 1 }
        mirror.close()
        let back = try PcapReader(path: dir.file("f.pcap")).readAll()
        #expect(accepted == 1 && back.count == 1 && back[0].bytes == records[5].bytes)
        #expect(mirror.statistics.filteredOut == UInt64(records.count - 1))
        var bad = PcapMirror.Configuration()
        bad.filter = "vlan and and"
        #expect(throws: PcapError.self) { _ = try PcapMirror(path: dir.file("g.pcap"), configuration: bad) }
    }

    @Test("a full ring drops and counts; offer never blocks")
    func dropsWhenFull() throws {
        let dir = TempDir()
        var config = PcapMirror.Configuration()
        config.slotCount = 8
        let mirror = try PcapMirror(path: dir.file("d.pcap"), configuration: config)
        mirror.setWriterPaused(true)
        let frame = Frames.make(dst: Frames.a, src: Frames.b, payload: 1000)
        let clock = ContinuousClock()
        var accepted = 0
        let elapsed = clock.measure {
            frame.withUnsafeBytes { bytes in
                for i in 0..<100_000 where mirror.offer(bytes, timestamp: CaptureTimestamp(seconds: Int64(i), nanoseconds: 0)) {
                    accepted += 1
                }
            }
        }
        // A paused writer takes nothing: exactly the ring's worth is queued, the rest dropped.
        #expect(accepted == 8)
        let s = mirror.statistics
        #expect(s.droppedFull == 100_000 - 8 && s.queued == 8 && s.written == 0)
        // 100k offers without a system call or a wait: far under a second on a quiet box
        // (a blocking offer would never return here: the writer is paused).
        TimingBounds.expect(elapsed < .seconds(2), "100,000 offers to a full ring took \(elapsed) (bound 2 s)")
        mirror.setWriterPaused(false)
        mirror.close()
        let back = try PcapReader(path: dir.file("d.pcap")).readAll()
        #expect(back.count == 8 && back.map(\.timestamp.seconds) == Array(0..<8))
    }

    @Test("frames longer than a slot are cut in the file and keep their wire length")
    func longFrames() throws {
        let dir = TempDir()
        var config = PcapMirror.Configuration()
        config.slotSize = 128
        let mirror = try PcapMirror(path: dir.file("l.pcap"), configuration: config)
        let big = Frames.make(dst: Frames.a, src: Frames.b, payload: 1400)
        big.withUnsafeBytes { _ = mirror.offer($0, timestamp: CaptureTimestamp(seconds: 1, nanoseconds: 0)) }
        big.withUnsafeBytes { _ = mirror.offer(EgressFrame(bytes: $0, encoding: .insertTag(0x8100_0005)), timestamp: CaptureTimestamp(seconds: 2, nanoseconds: 0)) }
        mirror.close()
        let back = try PcapReader(path: dir.file("l.pcap")).readAll()
        #expect(back.count == 2)
        #expect(back[0].bytes == Array(big.prefix(128)) && back[0].wireLength == big.count)
        let tagged = Frames.make(dst: Frames.a, src: Frames.b, tags: [(0x8100, 5)], payload: 1400)
        #expect(back[1].bytes == Array(tagged.prefix(128)) && back[1].wireLength == tagged.count)
        #expect(mirror.statistics.truncated == 2)
    }

    @Test("a frame limit stops the capture after N frames")
    func frameLimit() throws {
        let dir = TempDir()
        var config = PcapMirror.Configuration()
        config.frameLimit = 3
        let mirror = try PcapMirror(path: dir.file("n.pcap"), configuration: config)
        for r in Frames.trace() { r.bytes.withUnsafeBytes { _ = mirror.offer($0, timestamp: r.timestamp) } }
        // The writer thread completes it: poll with a deadline for a loaded machine.
        let deadline = ContinuousClock.now + .seconds(60)
        while !mirror.isComplete && ContinuousClock.now < deadline { usleep(5000) }
        #expect(mirror.isComplete)
        mirror.close()
        #expect(try PcapReader(path: dir.file("n.pcap")).readAll().count == 3)
    }

    @Test("rotation through the mirror keeps K files")
    func mirrorRotation() throws {
        let dir = TempDir()
        var config = PcapMirror.Configuration()
        config.rotation = Rotation(maxBytes: 2000, keep: 2)
        let mirror = try PcapMirror(path: dir.file("r.pcap"), configuration: config)
        let frame = Frames.make(dst: Frames.a, src: Frames.b, payload: 200)
        for i in 0..<100 {
            frame.withUnsafeBytes { _ = mirror.offer($0, timestamp: CaptureTimestamp(seconds: Int64(i), nanoseconds: 0)) }
            if i % 10 == 0 { usleep(1000) }
        }
        mirror.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["r.pcap", "r.pcap.1"])
        for n in names {
            let size = try FileManager.default.attributesOfItem(atPath: dir.file(n))[.size] as! Int
            #expect(size <= 2000)
        }
    }
}
