// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapWriter: classic pcap files (LINKTYPE_ETHERNET) written through libpcap's own dumper
// (pcap_open_dead + pcap_dump_open), so tcpdump and Wireshark read them as they read their
// own. Microsecond or nanosecond timestamps (the nanosecond magic 0xa1b23c4d).
//
// Rotation, when asked, works like logrotate rather than tcpdump's -C/-W ring: the current
// file is always `path`; when the next record would take it past `maxBytes` it becomes
// `path.1`, the previous `path.1` becomes `path.2`, and so on; only `keep` files in all
// (the current one included) are kept. So `path` is always the newest, and disk use stays
// under keep × maxBytes (a single record larger than maxBytes gets a file of its own).
//
// Synchronous and single-threaded: whoever owns the writer may block on the disk. The bridge
// never calls it directly; PcapMirror runs one on its own thread.

import CPcap

#if canImport(Glibc)
import Glibc
#endif

/// Timestamp resolution of a written file.
public enum TimestampPrecision: Sendable, Equatable {
    case microsecond
    case nanosecond
    var libpcapValue: UInt32 {
        self == .microsecond ? UInt32(PCAP_TSTAMP_PRECISION_MICRO) : UInt32(PCAP_TSTAMP_PRECISION_NANO)
    }
}

/// Size-based rotation of a capture file.
public struct Rotation: Sendable, Equatable {
    /// A file is closed and rotated before a record would take it past this size.
    public var maxBytes: Int
    /// Files kept in all, the current one included (at least 1).
    public var keep: Int
    public init(maxBytes: Int, keep: Int) {
        self.maxBytes = maxBytes
        self.keep = keep
    }
}

/// Writes Ethernet frames to a classic pcap file, optionally rotating it by size.
public final class PcapWriter {
    /// pcap file header and per-record header sizes (the classic format).
    public static let fileHeaderSize = 24
    public static let recordHeaderSize = 16

    public let path: String
    public let precision: TimestampPrecision
    /// Records keep at most this many bytes of a frame (the rest is cut; `len` keeps the size).
    public let snapLength: Int
    public let rotation: Rotation?
    private let dead: OpaquePointer
    private var dumper: OpaquePointer?
    /// Bytes in the current file, header included.
    public private(set) var currentFileBytes = 0
    /// Records written across all files.
    public private(set) var framesWritten: UInt64 = 0
    /// Files started (1 + rotations).
    public private(set) var filesStarted = 1

    /// Creates (or truncates) `path`. Throws when it cannot be created.
    public init(path: String, precision: TimestampPrecision = .microsecond, snapLength: Int = 262_144,
                rotation: Rotation? = nil) throws(PcapError) {
        guard snapLength > 0 && snapLength <= 262_144 else {
            throw .invalidConfiguration("snap length must be 1...262144, not \(snapLength)")
        }
        if let r = rotation {
            guard r.keep >= 1 else { throw .invalidConfiguration("rotation must keep at least 1 file") }
            guard r.maxBytes >= Self.fileHeaderSize + Self.recordHeaderSize + 14 else {
                throw .invalidConfiguration("rotation size \(r.maxBytes) bytes cannot hold one frame")
            }
        }
        self.path = path
        self.precision = precision
        self.snapLength = snapLength
        self.rotation = rotation
        guard let d = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, Int32(snapLength), precision.libpcapValue) else {
            throw .cannotCreate(path: path, message: "pcap_open_dead failed")
        }
        dead = d
        // Every property is set: if this throws, deinit runs and closes `dead`.
        try openCurrent()
    }

    deinit {
        if let dumper { pcap_dump_close(dumper) }
        pcap_close(dead)
    }

    private func openCurrent() throws(PcapError) {
        guard let d = pcap_dump_open(dead, path) else {
            throw .cannotCreate(path: path, message: errorString(pcap_geterr(dead)))
        }
        dumper = d
        currentFileBytes = Self.fileHeaderSize
    }

    /// The files this writer's rotation names, newest first (whether or not they exist).
    public func rotatedPaths() -> [String] {
        [path] + (1..<(rotation?.keep ?? 1)).map { "\(path).\($0)" }
    }

    /// Shifts path → path.1 → path.2 …, dropping the oldest, and starts a fresh `path`.
    private func rotate(_ r: Rotation) throws(PcapError) {
        if let d = dumper { pcap_dump_close(d) }
        dumper = nil
        if r.keep == 1 {
            unlink(path)
        } else {
            unlink("\(path).\(r.keep - 1)")
            for k in stride(from: r.keep - 2, through: 1, by: -1) { rename("\(path).\(k)", "\(path).\(k + 1)") }
            rename(path, "\(path).1")
        }
        try openCurrent()
        filesStarted += 1
    }

    /// Appends one record. `wireLength` is the frame's length on the wire when `bytes` is
    /// already a cut copy; bytes past `snapLength` are cut here.
    public func write(_ bytes: UnsafeRawBufferPointer, wireLength: Int? = nil, timestamp: CaptureTimestamp) throws(PcapError) {
        guard let base = bytes.baseAddress else { return }
        let caplen = min(bytes.count, snapLength)
        let record = Self.recordHeaderSize + caplen
        if let r = rotation, currentFileBytes > Self.fileHeaderSize, currentFileBytes + record > r.maxBytes {
            try rotate(r)
        }
        guard let dumper else { throw .writeFailed(path: path, message: "writer is closed") }
        var h = pcap_pkthdr()
        h.ts.tv_sec = Int(timestamp.seconds)
        h.ts.tv_usec = precision == .nanosecond ? Int(timestamp.nanoseconds) : Int(timestamp.nanoseconds / 1000)
        h.caplen = bpf_u_int32(caplen)
        h.len = bpf_u_int32(max(wireLength ?? bytes.count, caplen))
        // pcap_dump's first argument is the dumper, typed as u_char * for pcap_handler's sake.
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &h,
                  base.assumingMemoryBound(to: UInt8.self))
        if let f = pcap_dump_file(dumper), ferror(f) != 0 {
            let e = errno
            clearerr(f)
            throw .writeFailed(path: path, message: String(cString: strerror(e)))
        }
        currentFileBytes += record
        framesWritten += 1
    }

    /// `write` for an array.
    public func write(_ frame: [UInt8], timestamp: CaptureTimestamp) throws(PcapError) {
        let r: Result<Void, PcapError> = frame.withUnsafeBytes { b in
            do throws(PcapError) { try write(b, timestamp: timestamp) } catch { return .failure(error) }
            return .success(())
        }
        try r.get()
    }

    /// Pushes buffered records to the file (readers see them).
    public func flush() throws(PcapError) {
        guard let dumper else { return }
        if pcap_dump_flush(dumper) != 0 {
            throw .writeFailed(path: path, message: String(cString: strerror(errno)))
        }
    }

    /// Flushes and closes the file. Idempotent.
    public func close() throws(PcapError) {
        guard let d = dumper else { return }
        let flushed = pcap_dump_flush(d)
        let e = errno
        pcap_dump_close(d)
        dumper = nil
        if flushed != 0 { throw .writeFailed(path: path, message: String(cString: strerror(e))) }
    }
}
