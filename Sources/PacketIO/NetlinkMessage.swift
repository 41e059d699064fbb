// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkMessage: the netlink wire format (RFC 3549 §2.3.2, netlink(7), rtnetlink(7)) taken
// apart without trusting a single length. A datagram is a sequence of messages, each a 16-byte
// `nlmsghdr` (length, type, flags, sequence, port id) and a payload, padded to 4 bytes; an
// rtnetlink payload is a fixed family header followed by attributes (`rtattr`/`nlattr`: a
// 2-byte length, a 2-byte type, the value, padded to 4 bytes), some of them nested.
//
// The promise: any byte sequence either parses or throws `NetlinkParseError`, never traps and
// never reads outside the buffer. A header shorter than 16 bytes, a length shorter than its own
// header or longer than what is left, trailing bytes that are not a whole message, an attribute
// whose length runs past its container, a fixed-size value of the wrong size: each is an error,
// not a skip (the kernel's nlmsg_ok loop silently stops instead; a bridge that acts on interface
// events should rather know it was handed garbage). `NetlinkParser.linkEvents(in:)` is the whole
// path from bytes to `LinkEvent`s, for a fuzz target.
//
// Pure Swift on purpose (no C import), so a fuzz harness can compile it with swiftc alone. The
// numbers below are kernel ABI (stable since 2.2 for RTM_*/NLMSG_*, IFLA_LINK_NETNSID since
// 4.0, IFLA_TARGET_NETNSID since 4.20); PacketIOTests checks them against the kernel headers.

/// Netlink and rtnetlink numbers (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
/// linux/net_namespace.h, net/if_arp.h).
public enum Netlink {
    // nlmsghdr types and flags (linux/netlink.h)
    public static let headerSize = 16
    public static let noop: UInt16 = 1  // NLMSG_NOOP
    public static let error: UInt16 = 2  // NLMSG_ERROR (an ACK when its error is 0)
    public static let done: UInt16 = 3  // NLMSG_DONE (end of a dump)
    public static let overrun: UInt16 = 4  // NLMSG_OVERRUN
    public static let flagRequest: UInt16 = 0x1  // NLM_F_REQUEST
    public static let flagMulti: UInt16 = 0x2  // NLM_F_MULTI
    public static let flagAck: UInt16 = 0x4  // NLM_F_ACK
    public static let flagDumpInterrupted: UInt16 = 0x10  // NLM_F_DUMP_INTR
    public static let flagDump: UInt16 = 0x300  // NLM_F_ROOT | NLM_F_MATCH

    // rtnetlink message types (linux/rtnetlink.h)
    public static let newLink: UInt16 = 16  // RTM_NEWLINK
    public static let deleteLink: UInt16 = 17  // RTM_DELLINK
    public static let getLink: UInt16 = 18  // RTM_GETLINK
    public static let newNamespaceID: UInt16 = 88  // RTM_NEWNSID
    public static let getNamespaceID: UInt16 = 90  // RTM_GETNSID

    /// RTMGRP_LINK: the multicast group of link events.
    public static let groupLink: UInt32 = 1

    // struct ifinfomsg (16 bytes) and its IFLA_* attributes (linux/if_link.h)
    public static let ifinfomsgSize = 16
    public static let attributeAddress: UInt16 = 1  // IFLA_ADDRESS
    public static let attributeName: UInt16 = 3  // IFLA_IFNAME
    public static let attributeMTU: UInt16 = 4  // IFLA_MTU
    public static let attributeLink: UInt16 = 5  // IFLA_LINK
    public static let attributeMaster: UInt16 = 10  // IFLA_MASTER
    public static let attributeOperState: UInt16 = 16  // IFLA_OPERSTATE
    public static let attributeLinkInfo: UInt16 = 18  // IFLA_LINKINFO (nested)
    public static let attributeExtMask: UInt16 = 29  // IFLA_EXT_MASK
    public static let attributeLinkNamespaceID: UInt16 = 37  // IFLA_LINK_NETNSID
    public static let attributeTargetNamespaceID: UInt16 = 46  // IFLA_TARGET_NETNSID
    // inside IFLA_LINKINFO
    public static let linkInfoKind: UInt16 = 1  // IFLA_INFO_KIND
    public static let linkInfoPortKind: UInt16 = 4  // IFLA_INFO_SLAVE_KIND
    /// RTEXT_FILTER_SKIP_STATS: leave the statistics out of link replies (smaller dumps).
    public static let filterSkipStats: UInt32 = 1 << 3

    // RTM_GETNSID / RTM_NEWNSID attributes (linux/net_namespace.h), after a 4-byte rtgenmsg
    public static let namespaceIDAttribute: UInt16 = 1  // NETNSA_NSID
    public static let namespaceFDAttribute: UInt16 = 3  // NETNSA_FD
    /// NETNSA_NSID_NOT_ASSIGNED
    public static let namespaceIDNotAssigned: Int32 = -1

    // Attribute type bits that are not part of the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
    static let attributeTypeMask: UInt16 = 0x3FFF

    // ARPHRD_* (net/if_arp.h): the link layer of an interface.
    public static let hardwareEther: UInt16 = 1  // ARPHRD_ETHER
    public static let hardwareLoopback: UInt16 = 772  // ARPHRD_LOOPBACK
    public static let hardwareNone: UInt16 = 0xFFFE  // ARPHRD_NONE (tun, wireguard)

    // Interface flags (net/if.h)
    public static let interfaceUp: UInt32 = 0x1  // IFF_UP
    public static let interfaceLoopback: UInt32 = 0x8  // IFF_LOOPBACK
    public static let interfaceRunning: UInt32 = 0x40  // IFF_RUNNING
    public static let interfaceLowerUp: UInt32 = 0x10000  // IFF_LOWER_UP

    /// NLMSG_ALIGN / RTA_ALIGN: 4 bytes.
    @inlinable
    public static func align(_ length: Int) -> Int { (length + 3) & ~3 }
}

/// Why bytes are not a valid netlink message: the offset into the buffer (or the payload) and
/// the lengths that did not fit.
public enum NetlinkParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes left than a 16-byte header, but not none.
    case truncatedHeader(offset: Int, available: Int)
    /// A message length below the header size or beyond the bytes left.
    case badMessageLength(offset: Int, length: Int, available: Int)
    /// An attribute length below 4 or beyond its container.
    case badAttributeLength(offset: Int, length: Int, available: Int)
    /// A payload shorter than its fixed family header (ifinfomsg, nlmsgerr, rtgenmsg).
    case truncatedPayload(messageType: UInt16, size: Int, needed: Int)
    /// A fixed-size attribute (a u32, an s32) of another size.
    case badAttributeSize(type: UInt16, size: Int, expected: Int)
    /// A message that must carry an attribute does not (RTM_NEWLINK without IFLA_IFNAME).
    case missingAttribute(messageType: UInt16, attribute: UInt16)

    public var description: String {
        switch self {
        case .truncatedHeader(let o, let a): return "netlink: \(a) bytes at offset \(o), fewer than a message header"
        case .badMessageLength(let o, let l, let a):
            return "netlink: message at offset \(o) claims \(l) bytes, \(a) available"
        case .badAttributeLength(let o, let l, let a):
            return "netlink: attribute at offset \(o) claims \(l) bytes, \(a) available"
        case .truncatedPayload(let t, let s, let n): return "netlink: message type \(t) has \(s) payload bytes, needs \(n)"
        case .badAttributeSize(let t, let s, let e): return "netlink: attribute \(t) has \(s) bytes, expected \(e)"
        case .missingAttribute(let t, let a): return "netlink: message type \(t) lacks attribute \(a)"
        }
    }
}

/// One netlink message: its header fields and a copy of its payload.
public struct NetlinkMessage: Equatable, Sendable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    /// The sender's port id (0: the kernel).
    public var portID: UInt32
    /// The bytes after the 16-byte header, without the trailing padding.
    public var payload: [UInt8]

    public init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// NLMSG_ERROR's error: 0 for an ACK, else a negative errno. Throws when the payload is
    /// shorter than the 4-byte error field.
    public func errorCode() throws(NetlinkParseError) -> Int32 {
        guard payload.count >= 4 else { throw .truncatedPayload(messageType: type, size: payload.count, needed: 4) }
        return payload.withUnsafeBytes { Int32(bitPattern: $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) }
    }

    /// The attributes after a fixed header of `headerSize` bytes (16 for ifinfomsg, 4 for rtgenmsg).
    public func attributes(after headerSize: Int) throws(NetlinkParseError) -> [NetlinkAttribute] {
        guard payload.count >= headerSize else {
            throw .truncatedPayload(messageType: type, size: payload.count, needed: headerSize)
        }
        // Array.withUnsafeBytes only rethrows untyped errors: carry the typed one out in a Result.
        let start = min(Netlink.align(headerSize), payload.count)
        return try payload.withUnsafeBytes { raw in
            Result { () throws(NetlinkParseError) in
                try NetlinkParser.attributes(in: UnsafeRawBufferPointer(rebasing: raw[start...]))
            }
        }.get()
    }
}

/// One attribute (rtattr): its type without the NLA_F_* bits, and its value.
public struct NetlinkAttribute: Equatable, Sendable {
    public var type: UInt16
    /// NLA_F_NESTED was set (the kernel sets it on few nests; IFLA_LINKINFO is nested without it).
    public var isNestedFlagged: Bool
    public var value: [UInt8]

    public init(type: UInt16, isNestedFlagged: Bool = false, value: [UInt8]) {
        self.type = type
        self.isNestedFlagged = isNestedFlagged
        self.value = value
    }

    /// A u32 in host byte order; any other size is an error.
    public func uint32() throws(NetlinkParseError) -> UInt32 {
        guard value.count == 4 else { throw .badAttributeSize(type: type, size: value.count, expected: 4) }
        return value.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }

    /// An s32 (ifindex, netnsid).
    public func int32() throws(NetlinkParseError) -> Int32 { Int32(bitPattern: try uint32()) }

    /// A u8 (IFLA_OPERSTATE).
    public func uint8() throws(NetlinkParseError) -> UInt8 {
        guard value.count == 1 else { throw .badAttributeSize(type: type, size: value.count, expected: 1) }
        return value[0]
    }

    /// A string: the bytes up to the first NUL (or all of them; the kernel NUL-terminates, but a
    /// missing terminator is not worth refusing). Invalid UTF-8 is repaired, not trusted.
    public func string() -> String {
        let end = value.firstIndex(of: 0) ?? value.count
        return String(decoding: value[..<end], as: UTF8.self)
    }

    /// The attributes nested in this one.
    public func nested() throws(NetlinkParseError) -> [NetlinkAttribute] {
        try value.withUnsafeBytes { raw in
            Result { () throws(NetlinkParseError) in try NetlinkParser.attributes(in: raw) }
        }.get()
    }
}

/// The bounds-checked parser: bytes in, messages and attributes out, or a `NetlinkParseError`.
public enum NetlinkParser {
    /// Splits a datagram into its messages. An empty buffer is no messages.
    public static func messages(in buffer: UnsafeRawBufferPointer) throws(NetlinkParseError) -> [NetlinkMessage] {
        var result: [NetlinkMessage] = []
        var offset = 0
        while offset < buffer.count {
            let available = buffer.count - offset
            guard available >= Netlink.headerSize else { throw .truncatedHeader(offset: offset, available: available) }
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= Netlink.headerSize, length <= available else {
                throw .badMessageLength(offset: offset, length: length, available: available)
            }
            let payloadStart = offset + Netlink.headerSize
            result.append(NetlinkMessage(
                type: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                flags: buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                sequence: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                portID: buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self),
                payload: Array(buffer[payloadStart..<(offset + length)])))
            // The last message's padding may be missing: never step past the end.
            offset += min(Netlink.align(length), available)
        }
        return result
    }

    /// The attributes filling `bytes` (a payload after its family header, or a nest).
    public static func attributes(in bytes: UnsafeRawBufferPointer) throws(NetlinkParseError) -> [NetlinkAttribute] {
        var result: [NetlinkAttribute] = []
        var offset = 0
        while offset < bytes.count {
            let available = bytes.count - offset
            guard available >= 4 else { throw .badAttributeLength(offset: offset, length: available, available: available) }
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard length >= 4, length <= available else {
                throw .badAttributeLength(offset: offset, length: length, available: available)
            }
            let rawType = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            result.append(NetlinkAttribute(
                type: rawType & Netlink.attributeTypeMask,
                isNestedFlagged: rawType & 0x8000 != 0,
                value: Array(bytes[(offset + 4)..<(offset + length)])))
            offset += min(Netlink.align(length), available)
        }
        return result
    }

    /// The whole path from a datagram to link events: every RTM_NEWLINK becomes `.newLink`,
    /// every RTM_DELLINK `.deletedLink`; other message types are skipped. For the event
    /// socket and for a fuzz target.
    public static func linkEvents(in buffer: UnsafeRawBufferPointer) throws(NetlinkParseError) -> [LinkEvent] {
        var events: [LinkEvent] = []
        for message in try messages(in: buffer) {
            switch message.type {
            case Netlink.newLink: events.append(.newLink(try LinkInfo(message: message)))
            case Netlink.deleteLink:
                let link = try LinkInfo(message: message)
                events.append(.deletedLink(index: link.index, name: link.name))
            default: continue
            }
        }
        return events
    }
}

/// Builds a netlink request: a header, a fixed family header, attributes; the length is
/// filled in by `finish`. Also what the tests build well-formed messages with.
public struct NetlinkMessageBuilder {
    public private(set) var bytes: [UInt8]

    /// A message of `type` with `flags` and `sequence`, port id 0 (the kernel assigns ours).
    public init(type: UInt16, flags: UInt16, sequence: UInt32) {
        bytes = []
        bytes.reserveCapacity(64)
        append(UInt32(0))  // length, patched by finish()
        append(type)
        append(flags)
        append(sequence)
        append(UInt32(0))
    }

    /// An ifinfomsg: family AF_UNSPEC, link type, index, flags, change mask.
    public mutating func appendLinkHeader(index: Int32 = 0, linkType: UInt16 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        bytes += [0, 0]  // ifi_family AF_UNSPEC, padding
        append(linkType)
        append(UInt32(bitPattern: index))
        append(flags)
        append(change)
    }

    /// An rtgenmsg (family AF_UNSPEC) padded to 4 bytes: the header of RTM_GETNSID.
    public mutating func appendGenericHeader() { bytes += [0, 0, 0, 0] }

    /// An attribute with raw value bytes, padded to 4.
    public mutating func appendAttribute(_ type: UInt16, _ value: [UInt8]) {
        bytes += NetlinkMessageBuilder.attribute(type, value)
    }

    /// One encoded attribute (length, type, value, padding): to nest inside another.
    public static func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        precondition(value.count <= Int(UInt16.max) - 4, "an attribute holds at most 65,531 bytes")
        var encoded = withUnsafeBytes(of: UInt16(4 + value.count)) { Array($0) }
        withUnsafeBytes(of: type) { encoded += $0 }
        encoded += value
        encoded += [UInt8](repeating: 0, count: Netlink.align(value.count) - value.count)
        return encoded
    }

    public mutating func appendAttribute(_ type: UInt16, uint32 value: UInt32) {
        appendAttribute(type, withUnsafeBytes(of: value) { Array($0) })
    }

    public mutating func appendAttribute(_ type: UInt16, int32 value: Int32) {
        appendAttribute(type, uint32: UInt32(bitPattern: value))
    }

    /// A NUL-terminated string attribute (IFLA_IFNAME).
    public mutating func appendAttribute(_ type: UInt16, string: String) {
        appendAttribute(type, Array(string.utf8) + [0])
    }

    /// Appends raw bytes (a family header the helpers above do not cover).
    public mutating func appendRaw(_ raw: [UInt8]) { bytes += raw }

    /// The finished message: the length field set.
    public func finish() -> [UInt8] {
        var result = bytes
        withUnsafeBytes(of: UInt32(result.count)) { length in
            for i in 0..<4 { result[i] = length[i] }
        }
        return result
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes += $0 }
    }
}
