// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Test support: frames and capture files built by hand (so each test knows every byte), and
// a throwaway directory per test.

import BridgeCore
import Foundation
import LabKit
@testable import PcapIO
import Testing

enum Frames {
    /// An Ethernet frame: dst, src, optional tags (TPID, TCI), EtherType, `payload` bytes.
    static func make(dst: UInt64, src: UInt64, tags: [(UInt16, UInt16)] = [], etherType: UInt16 = 0x88B5,
                     payload: Int = 46, seed: UInt8 = 0) -> [UInt8] {
        var f: [UInt8] = []
        for shift in stride(from: 40, through: 0, by: -8) { f.append(UInt8(truncatingIfNeeded: dst >> UInt64(shift))) }
        for shift in stride(from: 40, through: 0, by: -8) { f.append(UInt8(truncatingIfNeeded: src >> UInt64(shift))) }
        for (tpid, tci) in tags { f += be16(tpid) + be16(tci) }
        f += be16(etherType)
        f += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &+ Int(seed)) }
        return f
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32($0 * 8)) } }

    static let a: UInt64 = 0x02_00_00_00_00_0A
    static let b: UInt64 = 0x02_00_00_00_00_0B
    static let c: UInt64 = 0x02_00_00_00_00_0C
    static let broadcast: UInt64 = 0xFF_FF_FF_FF_FF_FF

    /// A small trace: stations announce themselves (broadcast), talk unicast, plus one to an
    /// unknown station, one runt and one from a multicast source.
    static func trace() -> [CapturedRecord] {
        var frames: [[UInt8]] = [
            make(dst: broadcast, src: a, etherType: 0x0806, payload: 28, seed: 1),
            make(dst: broadcast, src: b, etherType: 0x0806, payload: 28, seed: 2),
            make(dst: a, src: b, payload: 100, seed: 3),
            make(dst: b, src: a, payload: 200, seed: 4),
            make(dst: 0x02_00_00_00_00_99, src: c, payload: 60, seed: 5),
            make(dst: c, src: a, tags: [(0x8100, 0x0064)], payload: 50, seed: 6),
            make(dst: a, src: 0x01_00_5E_00_00_01, payload: 46, seed: 7),
        ]
        frames.append(Array(make(dst: a, src: b).prefix(10)))
        return frames.enumerated().map { i, f in
            CapturedRecord(bytes: f, timestamp: CaptureTimestamp(seconds: 1_700_000_000 + Int64(i), nanoseconds: UInt32(i) * 123_456_789 % 1_000_000_000))
        }
    }

    static func writePcap(_ records: [CapturedRecord], to path: String, precision: TimestampPrecision = .nanosecond) throws {
        let w = try PcapWriter(path: path, precision: precision)
        for r in records { try w.write(r.bytes, timestamp: r.timestamp) }
        try w.close()
    }

    /// A pcapng file by hand: section header, one Ethernet interface (microsecond resolution,
    /// the default), one enhanced packet block per frame. Little-endian.
    static func pcapng(_ records: [CapturedRecord], linkType: UInt16 = 1) -> [UInt8] {
        var out: [UInt8] = []
        // Section Header Block: type, length, byte-order magic, version 1.0, section length -1.
        out += le32(0x0A0D_0D0A) + le32(28) + le32(0x1A2B_3C4D) + le16(1) + le16(0)
        out += [UInt8](repeating: 0xFF, count: 8) + le32(28)
        // Interface Description Block: link type, reserved, snap length.
        out += le32(1) + le32(20) + le16(linkType) + le16(0) + le32(262_144) + le32(20)
        for r in records {
            let padded = (r.bytes.count + 3) & ~3
            let length = UInt32(32 + padded)
            let micros = UInt64(r.timestamp.seconds) * 1_000_000 + UInt64(r.timestamp.nanoseconds / 1000)
            out += le32(6) + le32(length) + le32(0) + le32(UInt32(micros >> 32)) + le32(UInt32(micros & 0xFFFF_FFFF))
            out += le32(UInt32(r.bytes.count)) + le32(UInt32(r.wireLength))
            out += r.bytes + [UInt8](repeating: 0, count: padded - r.bytes.count) + le32(length)
        }
        return out
    }

    /// A classic pcap header (microseconds) with any link type, and no records.
    static func pcapHeader(linkType: UInt32) -> [UInt8] {
        le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65_535) + le32(linkType)
    }
}

/// A fresh directory under /tmp, removed by `remove()`.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "pcapio-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ bytes: [UInt8], to name: String) -> String {
        FileManager.default.createFile(atPath: file(name), contents: Data(bytes))
        return file(name)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// tcpdump's path, or nil when it is not installed.
func tcpdumpPath() -> String? {
    for p in ["/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/bin/tcpdump"] where FileManager.default.isExecutableFile(atPath: p) {
        return p
    }
    return nil
}

/// Runs a command and returns (status, stdout + stderr). Through LabKit's posix_spawn runner:
/// Foundation's Process.run crashes intermittently on Linux with Swift 6.3.1.
func runCommand(_ path: String, _ args: [String]) throws -> (Int32, String) {
    let r = try Lab.execute([path] + args, timeout: .seconds(60))
    return (r.status, r.standardOutput + r.standardError)
}

/// Wall-clock bounds are figures of a quiet machine: asserted only in scripts/test.sh's serial
/// pass (SWBRIDGE_TIMING_BOUNDS=1); elsewhere (plain `swift test`, in parallel) printed.
enum TimingBounds {
    static var enforced: Bool { ProcessInfo.processInfo.environment["SWBRIDGE_TIMING_BOUNDS"] == "1" }

    /// Expects `condition` when bounds are enforced; prints `figure` either way.
    static func expect(_ condition: Bool, _ figure: String, sourceLocation: SourceLocation = #_sourceLocation) {
        print("[timing] \(figure)\(enforced ? "" : " (bound not enforced in a parallel run)")")
        if enforced { #expect(condition, "\(figure)", sourceLocation: sourceLocation) }
    }
}
