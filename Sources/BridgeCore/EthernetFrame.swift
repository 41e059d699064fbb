// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Ethernet frame views: parse the header of a frame in place (no copy) into a small value.
// A bridge reads only the destination, the source and up to two VLAN tags; anything shorter
// than that, or a tag cut off by the end of the frame, is rejected with a reason instead of
// trapping, because every byte here comes from the wire.
//
// This is the one header parser: the forwarding engine decides every frame on `parsed` and the
// fuzz harness checks it against an independent reference (Fuzz/FuzzEntry.swift). It reads a
// raw buffer pointer, not a RawSpan: the frame views it reads (`ReceivedFrame.bytes`) are
// stored in preallocated batch arrays, where a span, being non-escapable, cannot live; the
// bounds are checked explicitly below before every load.

/// EtherType values the bridge cares about.
public enum EtherType {
    /// IEEE 802.1Q customer VLAN tag (C-tag).
    public static let vlan: UInt16 = 0x8100
    /// IEEE 802.1ad service VLAN tag (S-tag, "QinQ").
    public static let qinq: UInt16 = 0x88A8
    /// True for the two tag protocol identifiers a bridge parses.
    @inlinable public static func isTag(_ type: UInt16) -> Bool { type == vlan || type == qinq }
}

/// One 802.1Q / 802.1ad tag: tag protocol identifier and tag control information.
public struct VLANTag: Hashable, Sendable, CustomStringConvertible {
    /// 0x8100 or 0x88a8.
    public var tpid: UInt16
    /// PCP (3 bits) | DEI (1 bit) | VID (12 bits).
    public var tci: UInt16

    @inlinable public init(tpid: UInt16, tci: UInt16) {
        self.tpid = tpid
        self.tci = tci
    }
    @inlinable public init(tpid: UInt16 = EtherType.vlan, vid: UInt16, pcp: UInt8 = 0) {
        self.tpid = tpid
        self.tci = UInt16(pcp & 7) << 13 | (vid & 0xFFF)
    }
    /// VLAN identifier; 0 means priority-tagged, 4095 is reserved.
    @inlinable public var vid: UInt16 { tci & 0x0FFF }
    /// Priority code point.
    @inlinable public var pcp: UInt8 { UInt8(tci >> 13) }
    /// Drop eligible indicator.
    @inlinable public var dei: Bool { tci & 0x1000 != 0 }
    /// The tag as it sits on the wire, TPID in the high half: what `EgressEncoding` carries.
    @inlinable public var wireValue: UInt32 { UInt32(tpid) << 16 | UInt32(tci) }
    @inlinable public init(wireValue: UInt32) {
        self.tpid = UInt16(truncatingIfNeeded: wireValue >> 16)
        self.tci = UInt16(truncatingIfNeeded: wireValue)
    }
    public var description: String {
        "\(tpid == EtherType.qinq ? "802.1ad" : "802.1Q") vid \(vid) pcp \(pcp)"
    }
}

/// Why a frame's header could not be parsed.
public enum FrameParseError: Error, Equatable, Sendable {
    /// Shorter than the 14-byte Ethernet header.
    case runt(length: Int)
    /// A VLAN tag (or the EtherType after it) runs past the end of the frame.
    case truncatedTag(length: Int)
    /// More than two stacked VLAN tags.
    case tooManyTags
}

/// The parsed header of an Ethernet frame: a value, valid after the bytes are gone.
public struct FrameHeader: Equatable, Sendable {
    /// The length of an untagged Ethernet header.
    public static let minimumLength = 14

    public var destination: MACAddress
    public var source: MACAddress
    /// The first (outer) tag, if any.
    public var outerTag: VLANTag?
    /// A second, stacked tag (QinQ), if any.
    public var innerTag: VLANTag?
    /// The EtherType after the tags.
    public var etherType: UInt16
    /// Offset of the payload after the EtherType.
    public var payloadOffset: Int

    /// Parses the header of `bytes` (starting at the destination address). Never traps.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(FrameParseError) -> FrameHeader {
        try parsed(bytes).get()
    }

    /// `parse` as a value, for the hot path: no error is thrown or boxed, and fields the caller
    /// never reads are optimised away once inlined.
    @inlinable @inline(__always)
    public static func parsed(_ bytes: UnsafeRawBufferPointer) -> Result<FrameHeader, FrameParseError> {
        let n = bytes.count
        guard n >= minimumLength else { return .failure(.runt(length: n)) }
        let dst = MACAddress(bytes: bytes, offset: 0)
        let src = MACAddress(bytes: bytes, offset: 6)
        var type = loadBE16(bytes, 12)
        var offset = 14
        var outer: VLANTag? = nil
        var inner: VLANTag? = nil
        if EtherType.isTag(type) {
            guard n >= offset + 4 else { return .failure(.truncatedTag(length: n)) }
            outer = VLANTag(tpid: type, tci: loadBE16(bytes, offset))
            type = loadBE16(bytes, offset + 2)
            offset += 4
            if EtherType.isTag(type) {
                guard n >= offset + 4 else { return .failure(.truncatedTag(length: n)) }
                inner = VLANTag(tpid: type, tci: loadBE16(bytes, offset))
                type = loadBE16(bytes, offset + 2)
                offset += 4
                if EtherType.isTag(type) { return .failure(.tooManyTags) }
            }
        }
        return .success(FrameHeader(
            destination: dst, source: src, outerTag: outer, innerTag: inner,
            etherType: type, payloadOffset: offset))
    }

    @inlinable
    public init(
        destination: MACAddress, source: MACAddress, outerTag: VLANTag?, innerTag: VLANTag?,
        etherType: UInt16, payloadOffset: Int
    ) {
        self.destination = destination
        self.source = source
        self.outerTag = outerTag
        self.innerTag = innerTag
        self.etherType = etherType
        self.payloadOffset = payloadOffset
    }
}

@inlinable @inline(__always)
func loadBE16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}
