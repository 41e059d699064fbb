// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapError: every way a capture file, a filter or a libpcap port can fail, as a thrown value
// with libpcap's own message where it has one. Bad input (a truncated file, a link type the
// bridge cannot forward, a filter that does not compile) is always an error, never a trap.

import CPcap

/// A failure to read or write a capture, compile a filter or open a libpcap port.
public enum PcapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened for reading (missing, unreadable, not a capture).
    case cannotOpen(path: String, message: String)
    /// The file could not be created for writing.
    case cannotCreate(path: String, message: String)
    /// Only Ethernet (LINKTYPE_ETHERNET, 1) is bridged. `linkType` is libpcap's DLT value
    /// (it may differ from the file's LINKTYPE number, e.g. RAW: LINKTYPE 101, DLT 12).
    case unsupportedLinkType(path: String, linkType: Int32, name: String)
    /// The file ended inside a record, or a record header is impossible.
    case corrupt(path: String, message: String)
    /// Writing a record or flushing failed (disk full, I/O error).
    case writeFailed(path: String, message: String)
    /// The BPF expression did not compile.
    case invalidFilter(expression: String, message: String)
    /// No interface of that name where the port was opened.
    case noSuchInterface(String)
    /// libpcap refused to open or configure a live port.
    case portFailed(interface: String, operation: String, message: String)
    /// A configuration value that cannot work.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .cannotOpen(let p, let m): return "cannot read capture '\(p)': \(m)"
        case .cannotCreate(let p, let m): return "cannot create capture '\(p)': \(m)"
        case .unsupportedLinkType(let p, let t, let n):
            return "capture '\(p)' has link type \(n) (DLT \(t)); only Ethernet (EN10MB, 1) can be bridged"
        case .corrupt(let p, let m): return "capture '\(p)' is truncated or corrupt: \(m)"
        case .writeFailed(let p, let m): return "writing capture '\(p)' failed: \(m)"
        case .invalidFilter(let e, let m): return "filter '\(e)' does not compile: \(m)"
        case .noSuchInterface(let n): return "no such interface '\(n)'"
        case .portFailed(let i, let op, let m): return "\(op) on '\(i)' failed: \(m)"
        case .invalidConfiguration(let t): return "invalid configuration: \(t)"
        }
    }
}

/// libpcap's error buffer as a String.
@usableFromInline
func errorString(_ buffer: UnsafePointer<CChar>) -> String {
    let s = String(cString: buffer)
    return s.isEmpty ? "unknown error" : s
}

/// Runs `body` with a PCAP_ERRBUF_SIZE buffer (zeroed) for libpcap to write into.
func withErrorBuffer<T>(_ body: (UnsafeMutablePointer<CChar>) throws -> T) rethrows -> T {
    let size = Int(PCAP_ERRBUF_SIZE)
    return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buf in
        buf.initialize(repeating: 0)
        return try body(buf.baseAddress!)
    }
}
