// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// HardeningSupport: what the hardening tests measure and drive beyond SwbridgeLab:
// - ProcessProbe: a process's RSS (VmRSS) and CPU seconds (utime + stime) from /proc;
// - RawFrameSender: an AFPacketPort opened in a host namespace that sends batches of 60-byte
//   frames (sendmmsg), with the source MAC rewritten per frame (random, for MAC flooding);
// - FinalStats: the statistics `swbridge run` prints on stdout when it stops, parsed;
// - UnixClient: a raw connection to a control socket, for requests no client would send;
// - env knobs (HardeningKnobs) so CI can shorten or lengthen the long tests.

import BridgeCore
import Foundation
import LabKit
import PacketIO

#if canImport(Glibc)
import Glibc
#endif

enum HardeningKnobs {
    static func int(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }
    /// Frames with random source MACs in the MAC flooding test.
    static var floodFrames: Int { int("SWBRIDGE_FLOOD_FRAMES", default: 1_000_000) }
    /// Seconds of port flapping in the chaos test.
    static var chaosSeconds: Int { int("SWBRIDGE_CHAOS_SECONDS", default: 30) }
    /// Print measurements (always on: they go in docs/RELIABILITY.md).
    static func report(_ line: String) { print("[hardening] \(line)") }
}

/// RSS and CPU time of one process, by PID.
struct ProcessProbe {
    let pid: Int32

    /// VmRSS in KiB (nil when the process is gone).
    var rssKiB: Int? { field("VmRSS:") }
    /// VmHWM (peak RSS) in KiB.
    var peakRSSKiB: Int? { field("VmHWM:") }
    /// Threads.
    var threads: Int? { field("Threads:") }

    private func field(_ name: String) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix(name) })
        else { return nil }
        return Int(line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }

    /// User + system CPU seconds so far.
    var cpuSeconds: Double? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = s.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3, utime 14, stime 15.
        let rest = s[s.index(after: close)...].split(separator: " ")
        guard rest.count > 12, let u = Double(rest[11]), let k = Double(rest[12]) else { return nil }
        return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Sends 60-byte frames from a host namespace as fast as sendmmsg takes them.
final class RawFrameSender: @unchecked Sendable {
    let port: AFPacketPort
    static let frameLength = 60
    private let batch = 256
    private let buffer: UnsafeMutableRawPointer
    private let egress: UnsafeMutableBufferPointer<EgressFrame>

    /// Opens the sender on `interface` in namespace `ns` (not promiscuous, smallest RX ring).
    init(interface: String, namespace ns: String) throws {
        var c = AFPacketPort.Configuration()
        c.promiscuous = false
        c.frameCount = 2
        c.vnetHeader = false
        port = try Lab.withNetworkNamespace(named: ns) { try AFPacketPort(interface: interface, configuration: c) }
        buffer = .allocate(byteCount: batch * 64, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: batch * 64)
        egress = .allocate(capacity: batch)
        for i in 0..<batch {
            egress[i] = EgressFrame(bytes: UnsafeRawBufferPointer(start: buffer + i * 64, count: Self.frameLength), encoding: .asIs)
        }
    }

    deinit {
        port.close()
        buffer.deallocate()
        egress.deallocate()
    }

    struct Report: CustomStringConvertible {
        var offered = 0
        var accepted = 0
        var seconds = 0.0
        var rate: Double { seconds > 0 ? Double(accepted) / seconds : 0 }
        var description: String {
            String(format: "%d frames accepted of %d offered in %.2f s (%.0f frames/s)", accepted, offered, seconds, rate)
        }
    }

    /// Sends `count` frames to `destination`, source from `source(k)` for frame k, within
    /// `deadline`, or until `stop` says so (asked between batches). EtherType 0x88B5, payload "SWBF";
    /// with `spreadFlows`, IPv4/UDP frames from 198.18.128.0/17 with varying ports instead, so a
    /// bridge's PACKET_FANOUT_HASH spreads them over its forwarding threads (the kernel hashes
    /// L3/L4 flows; every 0x88B5 frame hashes alike and lands on one thread).
    func send(count: Int, destination: MACAddress, deadline: Duration, stop: () -> Bool = { false },
              spreadFlows: Bool = false, source: (Int) -> MACAddress) -> Report {
        for i in 0..<batch {
            let f = UnsafeMutableRawBufferPointer(start: buffer + i * 64, count: Self.frameLength)
            destination.write(to: f, offset: 0)
            if spreadFlows {
                f.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)
                let ip: [UInt8] = [0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 128, 0, 198, 18, 255, 254]
                for (k, b) in ip.enumerated() { f[14 + k] = b }
                // UDP: ports set per frame, length 26, no checksum (allowed over IPv4).
                f.storeBytes(of: UInt16(26).bigEndian, toByteOffset: 38, as: UInt16.self)
                f.storeBytes(of: UInt32(0x5357_4246).bigEndian, toByteOffset: 42, as: UInt32.self)  // "SWBF"
            } else {
                f.storeBytes(of: UInt16(0x88B5).bigEndian, toByteOffset: 12, as: UInt16.self)
                f.storeBytes(of: UInt32(0x5357_4246).bigEndian, toByteOffset: 14, as: UInt32.self)  // "SWBF"
            }
        }
        var report = Report()
        let start = ContinuousClock.now
        let end = start + deadline
        var k = 0
        while k < count && ContinuousClock.now < end && !stop() {
            let n = min(batch, count - k)
            for i in 0..<n {
                let f = UnsafeMutableRawBufferPointer(start: buffer + i * 64, count: Self.frameLength)
                source(k + i).write(to: f, offset: 6)
                if spreadFlows { Self.setFlow(f, UInt32(truncatingIfNeeded: k + i)) }
            }
            let sent = port.transmit(UnsafeBufferPointer(rebasing: egress[0..<n]))
            report.offered += n
            report.accepted += sent
            k += n
        }
        let t = ContinuousClock.now - start
        report.seconds = Double(t.components.seconds) + Double(t.components.attoseconds) * 1e-18
        return report
    }

    /// Frame `k`'s IPv4 source (198.18.128.0/17), UDP ports and header checksum.
    private static func setFlow(_ f: UnsafeMutableRawBufferPointer, _ k: UInt32) {
        f[28] = 198
        f[29] = 18
        f[30] = UInt8(128 | (k >> 8) & 0x7F)
        f[31] = UInt8(k & 0xFF)
        f.storeBytes(of: UInt16(truncatingIfNeeded: 1024 + k % 50_000).bigEndian, toByteOffset: 34, as: UInt16.self)
        f.storeBytes(of: UInt16(9).bigEndian, toByteOffset: 36, as: UInt16.self)
        f[24] = 0
        f[25] = 0
        var sum: UInt32 = 0
        for w in stride(from: 14, to: 34, by: 2) { sum += UInt32(f[w]) << 8 | UInt32(f[w + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        f.storeBytes(of: (~UInt16(sum)).bigEndian, toByteOffset: 24, as: UInt16.self)
    }

    /// Sends the given frames once each (copied), e.g. learning frames.
    func send(_ frames: [[UInt8]]) -> Int {
        var total = 0
        for f in frames {
            f.withUnsafeBytes { raw in
                var e = EgressFrame(bytes: raw, encoding: .asIs)
                total += withUnsafePointer(to: &e) { port.transmit(UnsafeBufferPointer(start: $0, count: 1)) }
            }
        }
        return total
    }
}

/// A random locally administered unicast MAC (never zero, never multicast).
struct RandomMACs {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> MACAddress {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return MACAddress(rawValue: (state & 0xFCFF_FFFF_FFFF) | 0x0200_0000_0000)
    }
}

/// The statistics `swbridge run` prints when it stops (ControlFormatting.stats).
struct FinalStats: CustomStringConvertible {
    struct Port: CustomStringConvertible {
        var rx = 0, forwarded = 0, flooded = 0, tx = 0, txDropped = 0, dropped = 0
        var drops: [String: Int] = [:]
        var dropSum: Int { drops.values.reduce(0, +) }
        var description: String {
            "rx \(rx) = forwarded \(forwarded) + flooded \(flooded) + dropped \(dropped) \(drops); tx \(tx), tx_dropped \(txDropped)"
        }
    }
    var ports: [String: Port] = [:]
    var fdb: [String: Int] = [:]
    var description: String { ports.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n") }

    init?(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(separator: " ").map(String.init)
        }
        guard let h = lines.firstIndex(where: { $0.first == "port" && $0.contains("rx_frames") }) else { return nil }
        let header = lines[h]
        func col(_ row: [String], _ name: String) -> Int { header.firstIndex(of: name).flatMap { Int(row[$0]) } ?? -1 }
        var i = h + 1
        while i < lines.count, lines[i].count == header.count {
            let r = lines[i]
            ports[r[0]] = Port(rx: col(r, "rx_frames"), forwarded: col(r, "forwarded"), flooded: col(r, "flooded"),
                               tx: col(r, "tx_frames"), txDropped: col(r, "tx_dropped"), dropped: col(r, "dropped"))
            i += 1
        }
        // "drops:" then rows "port reason count description..."
        if let d = lines.firstIndex(where: { $0 == ["drops:"] }) {
            var j = d + 2  // skip the header row
            while j < lines.count, lines[j].count >= 3, let n = Int(lines[j][2]) {
                ports[lines[j][0]]?.drops[lines[j][1], default: 0] += n
                j += 1
            }
        }
        if let f = lines.firstIndex(where: { $0 == ["fdb:"] }), f + 2 < lines.count {
            for (k, v) in zip(lines[f + 1], lines[f + 2]) { fdb[k] = Int(v) }
        }
    }
}

/// A raw stream connection to a Unix socket.
enum UnixClient {
    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket(AF_UNIX): errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw HarnessError("path too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw HarnessError("connect(\(path)): errno \(e)")
        }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Writes what the socket takes (a peer that closed or a full buffer ends it). Returns bytes written.
    @discardableResult
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Int {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            off += n
        }
        return off
    }

    /// Reads until EOF or the receive timeout.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}

/// Elapsed seconds as a Double.
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
