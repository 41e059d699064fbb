// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapReader: pcap and pcapng files read through libpcap (pcap_open_offline detects the
// format), one record at a time with pcap_next_ex. Only Ethernet captures are accepted: the
// bridge forwards Ethernet frames, and a cooked (SLL) or raw-IP capture has no MAC header to
// forward on, so it is refused at open with the link type's name. A file that ends inside a
// record, or whose record header is impossible, is a thrown `corrupt` error, never a trap.
//
// Timestamps are always read at nanosecond precision (libpcap scales microsecond files).

import CPcap

/// One record of a capture: a view valid until the next `next()` call.
public struct CapturedFrame {
    /// The captured bytes (perhaps cut by the capture's snap length).
    public var bytes: UnsafeRawBufferPointer
    /// The frame's length on the wire (`len`); more than `bytes.count` when it was cut.
    public var wireLength: Int
    public var timestamp: CaptureTimestamp
    /// True when the capture holds less than the whole frame.
    public var isTruncated: Bool { bytes.count < wireLength }
}

/// An owned copy of a record, for tests and small tools.
public struct CapturedRecord: Equatable, Sendable {
    public var bytes: [UInt8]
    public var wireLength: Int
    public var timestamp: CaptureTimestamp
    public init(bytes: [UInt8], wireLength: Int? = nil, timestamp: CaptureTimestamp) {
        self.bytes = bytes
        self.wireLength = wireLength ?? bytes.count
        self.timestamp = timestamp
    }
}

/// Reads an Ethernet capture (pcap or pcapng) record by record.
public final class PcapReader {
    public let path: String
    /// LINKTYPE_ETHERNET (always, once open).
    public let linkType: Int32
    /// The capture's snap length.
    public let snapLength: Int
    /// True when the file is a classic pcap written with nanosecond timestamps, or pcapng.
    private var handle: OpaquePointer?
    /// Records read so far.
    public private(set) var recordsRead = 0

    /// Opens `path`; throws for a missing or unreadable file, an unknown format, a header cut
    /// short, or a link type other than Ethernet.
    public init(path: String) throws(PcapError) {
        self.path = path
        let result: Result<OpaquePointer, PcapError> = withErrorBuffer { err in
            guard let h = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), err) else {
                let message = errorString(err)
                // libpcap says "truncated dump file" for a header cut short.
                if message.contains("truncated") { return .failure(.corrupt(path: path, message: message)) }
                return .failure(.cannotOpen(path: path, message: message))
            }
            return .success(h)
        }
        let h = try result.get()
        let dlt = pcap_datalink(h)
        guard dlt == DLT_EN10MB else {
            let name = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
            pcap_close(h)
            throw .unsupportedLinkType(path: path, linkType: dlt, name: name)
        }
        handle = h
        linkType = dlt
        snapLength = Int(pcap_snapshot(h))
    }

    deinit { close() }

    /// The next record, or nil at the end of the file. Its bytes are valid until the next
    /// call. Throws `corrupt` when the file ends inside a record or a record is impossible.
    public func next() throws(PcapError) -> CapturedFrame? {
        guard let h = handle else { return nil }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let rc = pcap_next_ex(h, &header, &data)
        switch rc {
        case 1:
            guard let header, let data else { throw .corrupt(path: path, message: "record without data") }
            let h = header.pointee
            recordsRead += 1
            let ns = UInt32(clamping: max(h.ts.tv_usec, 0))
            return CapturedFrame(
                bytes: UnsafeRawBufferPointer(start: data, count: Int(h.caplen)),
                wireLength: Int(h.len),
                timestamp: CaptureTimestamp(seconds: Int64(h.ts.tv_sec), nanoseconds: min(ns, 999_999_999)))
        case PCAP_ERROR_BREAK:  // -2: end of file
            return nil
        default:
            throw .corrupt(path: path, message: "record \(recordsRead + 1): " + errorString(pcap_geterr(h)))
        }
    }

    /// Every remaining record, copied.
    public func readAll() throws(PcapError) -> [CapturedRecord] {
        var out: [CapturedRecord] = []
        while let f = try next() {
            out.append(CapturedRecord(bytes: Array(f.bytes), wireLength: f.wireLength, timestamp: f.timestamp))
        }
        return out
    }

    /// Closes the file. Idempotent.
    public func close() {
        if let h = handle { pcap_close(h) }
        handle = nil
    }
}
