// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Capture files: what is written reads back byte for byte with its timestamps, in both
// precisions, from pcap and from a pcapng built by hand; bad files (truncated, corrupt,
// another link type, an unwritable path) are thrown errors with a clear message; rotation
// keeps K files under the size; filters compile or say why not.

import BridgeCore
import Foundation
import Testing
@testable import PcapIO

@Suite("Capture files")
struct PcapFileTests {
    @Test("write then read: bytes, wire lengths and timestamps", arguments: [TimestampPrecision.microsecond, .nanosecond])
    func roundTrip(precision: TimestampPrecision) throws {
        let dir = TempDir()
        let records = Frames.trace()
        try Frames.writePcap(records, to: dir.file("t.pcap"), precision: precision)
        let back = try PcapReader(path: dir.file("t.pcap")).readAll()
        #expect(back.map(\.bytes) == records.map(\.bytes))
        #expect(back.map(\.wireLength) == records.map(\.wireLength))
        let expected = records.map { r in
            precision == .nanosecond ? r.timestamp
                : CaptureTimestamp(seconds: r.timestamp.seconds, nanoseconds: r.timestamp.nanoseconds / 1000 * 1000)
        }
        #expect(back.map(\.timestamp) == expected)
    }

    @Test("a frame over the snap length is cut and keeps its wire length")
    func snapLength() throws {
        let dir = TempDir()
        let w = try PcapWriter(path: dir.file("s.pcap"), snapLength: 64)
        let frame = Frames.make(dst: Frames.a, src: Frames.b, payload: 200)
        try w.write(frame, timestamp: CaptureTimestamp(seconds: 1, nanoseconds: 0))
        try w.close()
        let back = try PcapReader(path: dir.file("s.pcap")).readAll()
        #expect(back.count == 1 && back[0].bytes == Array(frame.prefix(64)) && back[0].wireLength == frame.count)
    }

    @Test("pcapng input (written by hand) reads like pcap")
    func pcapng() throws {
        let dir = TempDir()
        let records = Frames.trace().map {
            CapturedRecord(bytes: $0.bytes, timestamp: CaptureTimestamp(seconds: $0.timestamp.seconds,
                                                                        nanoseconds: $0.timestamp.nanoseconds / 1000 * 1000))
        }
        let path = dir.write(Frames.pcapng(records), to: "t.pcapng")
        let back = try PcapReader(path: path).readAll()
        #expect(back == records)
    }

    @Test("a truncated file: the whole records read, then a corrupt error")
    func truncated() throws {
        let dir = TempDir()
        let records = Frames.trace()
        try Frames.writePcap(records, to: dir.file("full.pcap"))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("full.pcap"))))
        bytes.removeLast(5)
        let path = dir.write(bytes, to: "cut.pcap")
        let reader = try PcapReader(path: path)
        for _ in 0..<(records.count - 1) { #expect(try reader.next() != nil) }
        #expect {
            _ = try reader.next()
        } throws: { error in
            guard case PcapError.corrupt(let p, let m) = error else { return false }
            return p == path && m.contains("truncated")
        }
        // A header cut short and a file of noise are refused at open.
        let header = dir.write(Array(bytes.prefix(10)), to: "header.pcap")
        #expect(throws: PcapError.self) { _ = try PcapReader(path: header) }
        let noise = dir.write((0..<100).map { UInt8(($0 * 37) & 0xFF) }, to: "noise.pcap")
        #expect(throws: PcapError.self) { _ = try PcapReader(path: noise) }
        let empty = dir.write([], to: "empty.pcap")
        #expect(throws: PcapError.self) { _ = try PcapReader(path: empty) }
        #expect(throws: PcapError.self) { _ = try PcapReader(path: dir.file("missing.pcap")) }
    }

    @Test("a record header claiming an impossible length is an error, not a crash")
    func corruptRecord() throws {
        var bytes = Frames.pcapHeader(linkType: 1)
        // ts, caplen = 0x7fffffff, len = 60: far beyond any snap length.
        bytes += Frames.le32(1) + Frames.le32(0) + Frames.le32(0x7FFF_FFFF) + Frames.le32(60) + [UInt8](repeating: 0, count: 60)
        let dir = TempDir()
        let reader = try PcapReader(path: dir.write(bytes, to: "bad.pcap"))
        #expect(throws: PcapError.self) { _ = try reader.next() }
    }

    @Test("non-Ethernet link types are refused by name", arguments: [(UInt32(101), "RAW"), (113, "LINUX_SLL"), (105, "IEEE802_11")])
    func linkType(type: UInt32, name: String) throws {
        let dir = TempDir()
        let path = dir.write(Frames.pcapHeader(linkType: type), to: "l.pcap")
        #expect {
            _ = try PcapReader(path: path)
        } throws: { error in
            guard case PcapError.unsupportedLinkType(let p, _, let n) = error else { return false }
            return p == path && n == name && "\(error)".contains("only Ethernet")
        }
        // pcapng too.
        let ng = dir.write(Frames.pcapng([], linkType: UInt16(type)), to: "l.pcapng")
        #expect(throws: PcapError.self) { _ = try PcapReader(path: ng) }
    }

    @Test("an unwritable path is a thrown error")
    func unwritable() throws {
        #expect {
            _ = try PcapWriter(path: "/nonexistent-swbridge-dir/x.pcap")
        } throws: { error in
            guard case PcapError.cannotCreate(let p, let m) = error else { return false }
            return p == "/nonexistent-swbridge-dir/x.pcap" && m.contains("No such file")
        }
        #expect(throws: PcapError.self) { _ = try PcapMirror(path: "/nonexistent-swbridge-dir/m.pcap") }
    }

    @Test("rotation keeps K files, each under the size, newest in PATH")
    func rotation() throws {
        let dir = TempDir()
        let path = dir.file("r.pcap")
        let w = try PcapWriter(path: path, rotation: Rotation(maxBytes: 1000, keep: 3))
        let frame = Frames.make(dst: Frames.a, src: Frames.b, payload: 86)  // 100 bytes, 116 per record
        for i in 0..<100 {
            var f = frame
            f[20] = UInt8(i)
            try w.write(f, timestamp: CaptureTimestamp(seconds: Int64(i), nanoseconds: 0))
        }
        try w.close()
        #expect(w.filesStarted > 3)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["r.pcap", "r.pcap.1", "r.pcap.2"])
        var seen: [Int] = []
        for p in [path + ".2", path + ".1", path] {
            let size = try FileManager.default.attributesOfItem(atPath: p)[.size] as! Int
            #expect(size <= 1000, "\(p): \(size) bytes")
            seen += try PcapReader(path: p).readAll().map { Int($0.bytes[20]) }
        }
        // Oldest to newest, the kept files hold the last frames in order, ending with frame 99.
        #expect(seen == Array((100 - seen.count)..<100))
        // 8 records of 116 bytes fit after the 24-byte header; 100 = 12 x 8 + 4.
        #expect(seen.count == 8 + 8 + 4)
        #expect(throws: PcapError.self) { _ = try PcapWriter(path: dir.file("x"), rotation: Rotation(maxBytes: 1000, keep: 0)) }
    }

    @Test("BPF: expressions compile and match; a bad one says why")
    func filter() throws {
        let f = try PcapFilter("ether src 02:00:00:00:00:0a")
        #expect(f.matches(Frames.make(dst: Frames.b, src: Frames.a)))
        #expect(!f.matches(Frames.make(dst: Frames.a, src: Frames.b)))
        let vlan = try PcapFilter("vlan 100")
        #expect(vlan.matches(Frames.make(dst: Frames.b, src: Frames.a, tags: [(0x8100, 100)])))
        #expect(!vlan.matches(Frames.make(dst: Frames.b, src: Frames.a)))
        #expect(try PcapFilter("").matches(Frames.make(dst: Frames.b, src: Frames.a)))
        #expect {
            _ = try PcapFilter("ether src nonsense and (")
        } throws: { error in
            guard case PcapError.invalidFilter(let e, let m) = error else { return false }
            return e == "ether src nonsense and (" && !m.isEmpty && error.localizedDescription.count > 0
        }
    }

    @Test("files are what tcpdump reads", .enabled(if: tcpdumpPath() != nil, "tcpdump is not installed; skipped"))
    func tcpdumpReads() throws {
        let dir = TempDir()
        try Frames.writePcap(Frames.trace(), to: dir.file("t.pcap"), precision: .nanosecond)
        let (status, out) = try runCommand(tcpdumpPath()!, ["-r", dir.file("t.pcap"), "-nn", "-e"])
        #expect(status == 0, "\(out)")
        #expect(out.contains("02:00:00:00:00:0b > 02:00:00:00:00:0a"), "\(out)")
        #expect(out.contains("vlan 100"), "\(out)")
    }
}
