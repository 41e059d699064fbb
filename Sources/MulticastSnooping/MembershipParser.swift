// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Parsers of IGMPv1/v2/v3 (RFC 1112, 2236, 3376) and MLDv1/v2 (RFC 2710, 3810) messages, from
// the IP header on, with the checks the kernel makes before its bridge snoops a message
// (net/ipv4/igmp.c ip_mc_check_igmp, net/ipv6/mcast_snoop.c ipv6_mc_check_mld):
// - IPv4: version 4, IHL >= 5, total length within the frame and >= IHL, a valid header
//   checksum; the IGMP message is the rest of the datagram (Ethernet padding is ignored) and
//   its checksum must verify. Router Alert is optional and TTL is not checked (the kernel
//   checks neither).
// - IPv6: version 6, payload length within the frame, the first extension header is
//   hop-by-hop (MLD always carries Router Alert in one: the kernel refuses MLD without it),
//   then extension headers up to ICMPv6; the ICMPv6 checksum over the pseudo-header
//   (RFC 8200 8.1) must verify. Queries must come from a link-local source (RFC 3810 5.1.14).
// - Lengths as the RFCs: v1/v2 messages are 8 (IGMP) or 24 (MLD) bytes at least; a query of
//   9-11 (IGMP) or 25-27 (MLD) bytes is invalid; v3/MLDv2 source and record counts must fit
//   the message. A general query must go to the all-hosts / all-nodes address.
// - Report and leave groups must be multicast addresses.
// Source lists of v3 / MLDv2 records are counted but not kept: the snooper treats every
// record as an any-source join, except an INCLUDE {} (MODE_IS_INCLUDE or CHANGE_TO_INCLUDE
// with no sources), which is a leave (as the kernel bridge does in IGMPv2/MLDv1 mode).
// Nothing here traps: every read is bounds-checked, every length is checked before use.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// An IPv4 or IPv6 unicast (or unspecified) address: a query's source, a querier.
public struct IPAddress: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64
    public let isIPv6: Bool

    public init(ipv4: UInt32) { high = 0; low = UInt64(ipv4); isIPv6 = false }
    public init(ipv6High: UInt64, low: UInt64) { high = ipv6High; self.low = low; isIPv6 = true }
    /// Parses dotted-quad or IPv6 text.
    public init?(parsing text: String) {
        guard let g = MulticastGroup(parsing: text) else { return nil }
        self = g.isIPv6 ? IPAddress(ipv6High: g.high, low: g.low) : IPAddress(ipv4: g.ipv4)
    }

    public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }
    public var isUnspecified: Bool { high == 0 && low == 0 }
    /// fe80::/10.
    public var isIPv6LinkLocal: Bool { isIPv6 && high >> 54 == 0x3FA }
    public var description: String {
        (isIPv6 ? MulticastGroup(ipv6High: high, low: low) : MulticastGroup(ipv4: ipv4)).description
    }
    public static func < (a: IPAddress, b: IPAddress) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// Why a membership message was refused. `stats` prints the descriptions.
public enum MalformedReason: String, Error, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case truncated
    case badIPHeader
    case badIPChecksum
    case badChecksum
    case badLength
    case missingHopByHop
    case badQueryDestination
    case badQuerySource
    case notMulticastGroup
    case notMembershipMessage

    public var description: String {
        switch self {
        case .truncated: return "message cut short by the end of the frame"
        case .badIPHeader: return "bad IP header (version, header length or total length)"
        case .badIPChecksum: return "bad IPv4 header checksum"
        case .badChecksum: return "bad IGMP or ICMPv6 checksum"
        case .badLength: return "message length inconsistent with its type or counts"
        case .missingHopByHop: return "MLD without a hop-by-hop (Router Alert) header"
        case .badQueryDestination: return "general query not sent to all-hosts / all-nodes"
        case .badQuerySource: return "MLD query from a source that is not link-local"
        case .notMulticastGroup: return "report, leave or query for a non-multicast group"
        case .notMembershipMessage: return "not IGMP, MLD or PIM"
        }
    }
}

/// A query as heard on a port.
public struct MembershipQuery: Equatable, Sendable {
    /// IGMP 1/2/3 or MLD 1/2.
    public var version: Int
    /// nil: a general query.
    public var group: MulticastGroup?
    /// The query's maximum response time (IGMPv1: 10 s, as the kernel assumes).
    public var maxResponseMilliseconds: UInt64
    /// v3 / MLDv2: the querier's robustness variable (0: not given).
    public var robustness: UInt8
    /// v3 / MLDv2: the querier's query interval in seconds (0: not given).
    public var queryIntervalSeconds: UInt32
    public init(version: Int, group: MulticastGroup?, maxResponseMilliseconds: UInt64, robustness: UInt8 = 0, queryIntervalSeconds: UInt32 = 0) {
        self.version = version
        self.group = group
        self.maxResponseMilliseconds = maxResponseMilliseconds
        self.robustness = robustness
        self.queryIntervalSeconds = queryIntervalSeconds
    }
}

/// One v3 / MLDv2 group record, source list reduced to its length.
public struct GroupRecord: Equatable, Sendable {
    /// RFC 3376 4.2.12: 1 MODE_IS_INCLUDE, 2 MODE_IS_EXCLUDE, 3 CHANGE_TO_INCLUDE,
    /// 4 CHANGE_TO_EXCLUDE, 5 ALLOW_NEW_SOURCES, 6 BLOCK_OLD_SOURCES.
    public var type: UInt8
    public var group: MulticastGroup
    public var sourceCount: Int
    public init(type: UInt8, group: MulticastGroup, sourceCount: Int) {
        self.type = type
        self.group = group
        self.sourceCount = sourceCount
    }
    /// INCLUDE {}: the host wants nothing of the group (the kernel's leave in v2 mode).
    public var isLeave: Bool { (type == 1 || type == 3) && sourceCount == 0 }
}

/// A parsed membership message.
public enum MembershipMessage: Equatable, Sendable {
    case query(MembershipQuery)
    /// IGMPv1/v2 report, MLDv1 report: a join of one group.
    case report(version: Int, group: MulticastGroup)
    /// IGMPv3 / MLDv2 report (records of unknown type are left out).
    case recordReport(version: Int, records: [GroupRecord])
    /// IGMPv2 leave, MLDv1 done.
    case leave(group: MulticastGroup)
    /// PIM hello, DVMRP probe, multicast router advertisement: the port leads to a router.
    case routerPresence
    /// A valid IGMP/ICMPv6 message of another type (ignored).
    case ignored(type: UInt8)
}

/// A message with the IP addresses it came with.
public struct ParsedMembership: Equatable, Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    public var message: MembershipMessage
    public var isIPv6: Bool { source.isIPv6 }
}

/// The parsers; see the file comment.
public enum MembershipParser {
    /// Parses a whole Ethernet frame (tags allowed).
    public static func parse(frame: UnsafeRawBufferPointer) -> Result<ParsedMembership, MalformedReason> {
        guard case .success(let h) = FrameHeader.parsed(frame) else { return .failure(.truncated) }
        return parse(etherType: h.etherType, packet: UnsafeRawBufferPointer(rebasing: frame[h.payloadOffset...]))
    }

    /// Parses an IP packet given its EtherType.
    public static func parse(etherType: UInt16, packet: UnsafeRawBufferPointer) -> Result<ParsedMembership, MalformedReason> {
        switch etherType {
        case 0x0800: return parseIPv4(packet)
        case 0x86DD: return parseIPv6(packet)
        default: return .failure(.notMembershipMessage)
        }
    }

    // MARK: IPv4 / IGMP

    static func parseIPv4(_ p: UnsafeRawBufferPointer) -> Result<ParsedMembership, MalformedReason> {
        guard p.count >= 20 else { return .failure(.truncated) }
        let ihl = Int(p[0] & 0x0F) * 4
        guard p[0] >> 4 == 4, ihl >= 20 else { return .failure(.badIPHeader) }
        guard ihl <= p.count else { return .failure(.truncated) }
        let total = Int(be16(p, 2))
        guard total >= ihl else { return .failure(.badIPHeader) }
        guard total <= p.count else { return .failure(.truncated) }
        guard internetChecksum(UnsafeRawBufferPointer(rebasing: p[0..<ihl])) == 0 else { return .failure(.badIPChecksum) }
        let source = IPAddress(ipv4: be32(p, 12))
        let dst = be32(p, 16)
        let destination = IPAddress(ipv4: dst)
        let proto = p[9]
        // Fragments of IGMP are not snooped (the kernel's ip_mc_check_igmp sees whole datagrams
        // only after reassembly; a bridge never reassembles).
        guard be16(p, 6) & 0x3FFF == 0 else { return .failure(.notMembershipMessage) }
        let body = UnsafeRawBufferPointer(rebasing: p[ihl..<total])
        if proto == MulticastClassifier.protocolPIM {
            guard dst == 0xE000_000D else { return .failure(.notMembershipMessage) }
            return pimHello(body, source: source, destination: destination)
        }
        guard proto == MulticastClassifier.protocolIGMP else { return .failure(.notMembershipMessage) }
        guard body.count >= 8 else { return .failure(.badLength) }
        guard internetChecksum(body) == 0 else { return .failure(.badChecksum) }
        let type = body[0]
        let groupAddress = be32(body, 4)
        let group = MulticastGroup(ipv4: groupAddress)
        func done(_ m: MembershipMessage) -> Result<ParsedMembership, MalformedReason> {
            .success(ParsedMembership(source: source, destination: destination, message: m))
        }
        switch type {
        case 0x11:
            let n = body.count
            var query: MembershipQuery
            if n == 8 {
                let code = body[1]
                // RFC 2236 4: a max response time of 0 is an IGMPv1 query (the kernel assumes 10 s).
                query = MembershipQuery(version: code == 0 ? 1 : 2, group: nil, maxResponseMilliseconds: code == 0 ? 10_000 : UInt64(code) * 100)
            } else if n >= 12 {
                let sources = Int(be16(body, 10))
                guard n >= 12 + 4 * sources else { return .failure(.badLength) }
                query = MembershipQuery(
                    version: 3, group: nil, maxResponseMilliseconds: igmpv3Time(body[1]) * 100,
                    robustness: body[8] & 7, queryIntervalSeconds: UInt32(igmpv3Time(body[9])))
            } else {
                return .failure(.badLength)
            }
            if groupAddress == 0 {
                guard dst == 0xE000_0001 else { return .failure(.badQueryDestination) }
            } else {
                guard group.isMulticast else { return .failure(.notMulticastGroup) }
                query.group = group
            }
            return done(.query(query))
        case 0x12, 0x16:
            guard group.isMulticast else { return .failure(.notMulticastGroup) }
            return done(.report(version: type == 0x12 ? 1 : 2, group: group))
        case 0x17:
            guard group.isMulticast else { return .failure(.notMulticastGroup) }
            return done(.leave(group: group))
        case 0x22:
            let count = Int(be16(body, 6))
            var records: [GroupRecord] = []
            records.reserveCapacity(min(count, 256))
            var at = 8
            for _ in 0..<count {
                guard at + 8 <= body.count else { return .failure(.badLength) }
                let rtype = body[at], aux = Int(body[at + 1]), nsrc = Int(be16(body, at + 2))
                let g = MulticastGroup(ipv4: be32(body, at + 4))
                let next = at + 8 + 4 * nsrc + 4 * aux
                guard next <= body.count else { return .failure(.badLength) }
                guard g.isMulticast else { return .failure(.notMulticastGroup) }
                if rtype >= 1 && rtype <= 6 { records.append(GroupRecord(type: rtype, group: g, sourceCount: nsrc)) }
                at = next
            }
            return done(.recordReport(version: 3, records: records))
        case 0x13, 0x14, 0x30:
            // DVMRP, PIMv1, multicast router advertisement (RFC 4286).
            return done(.routerPresence)
        default:
            return done(.ignored(type: type))
        }
    }

    static func pimHello(_ body: UnsafeRawBufferPointer, source: IPAddress, destination: IPAddress) -> Result<ParsedMembership, MalformedReason> {
        guard body.count >= 4 else { return .failure(.badLength) }
        // PIMv2 header: version 2, type 0 (hello); the kernel's br_multicast_pim checks these.
        guard body[0] == 0x20 else { return .success(ParsedMembership(source: source, destination: destination, message: .ignored(type: body[0]))) }
        return .success(ParsedMembership(source: source, destination: destination, message: .routerPresence))
    }

    // MARK: IPv6 / MLD

    static func parseIPv6(_ p: UnsafeRawBufferPointer) -> Result<ParsedMembership, MalformedReason> {
        guard p.count >= 40 else { return .failure(.truncated) }
        guard p[0] >> 4 == 6 else { return .failure(.badIPHeader) }
        let end = 40 + Int(be16(p, 4))
        guard end <= p.count else { return .failure(.truncated) }
        let source = IPAddress(ipv6High: be64(p, 8), low: be64(p, 16))
        let dstHi = be64(p, 24), dstLo = be64(p, 32)
        let destination = IPAddress(ipv6High: dstHi, low: dstLo)
        var next = p[6]
        var at = 40
        let firstHeader = next
        var hops = 0
        while next == 0 || next == 43 || next == 60 || next == 44 {
            hops += 1
            guard hops <= 8 else { return .failure(.badIPHeader) }
            guard at + 8 <= end else { return .failure(.truncated) }
            if next == 44 {
                // Fragments are not snooped (see the IPv4 case).
                return .failure(.notMembershipMessage)
            }
            let length = (Int(p[at + 1]) + 1) * 8
            guard at + length <= end else { return .failure(.truncated) }
            next = p[at]
            at += length
        }
        if next == MulticastClassifier.protocolPIM {
            guard dstHi == 0xFF02_0000_0000_0000 && dstLo == 0xD else { return .failure(.notMembershipMessage) }
            return pimHello(UnsafeRawBufferPointer(rebasing: p[at..<end]), source: source, destination: destination)
        }
        guard next == MulticastClassifier.protocolICMPv6 else { return .failure(.notMembershipMessage) }
        let body = UnsafeRawBufferPointer(rebasing: p[at..<end])
        guard body.count >= 4 else { return .failure(.badLength) }
        let type = body[0]
        let isMLD = type == 130 || type == 131 || type == 132 || type == 143
        guard isMLD || type == 151 else { return .failure(.notMembershipMessage) }
        guard firstHeader == 0 else { return .failure(.missingHopByHop) }
        guard icmpv6Checksum(body, ipHeader: p) == 0 else { return .failure(.badChecksum) }
        func done(_ m: MembershipMessage) -> Result<ParsedMembership, MalformedReason> {
            .success(ParsedMembership(source: source, destination: destination, message: m))
        }
        if type == 151 { return done(.routerPresence) }  // RFC 4286 advertisement
        switch type {
        case 130:
            guard source.isIPv6LinkLocal else { return .failure(.badQuerySource) }
            let n = body.count
            var query: MembershipQuery
            if n == 24 {
                query = MembershipQuery(version: 1, group: nil, maxResponseMilliseconds: UInt64(be16(body, 4)))
            } else if n >= 28 {
                let sources = Int(be16(body, 26))
                guard n >= 28 + 16 * sources else { return .failure(.badLength) }
                query = MembershipQuery(
                    version: 2, group: nil, maxResponseMilliseconds: mldv2Time(be16(body, 4)),
                    robustness: body[24] & 7, queryIntervalSeconds: UInt32(igmpv3Time(body[25])))
            } else {
                return .failure(.badLength)
            }
            let g = MulticastGroup(ipv6High: be64(body, 8), low: be64(body, 16))
            if g.high == 0 && g.low == 0 {
                guard dstHi == 0xFF02_0000_0000_0000 && dstLo == 1 else { return .failure(.badQueryDestination) }
            } else {
                guard g.isMulticast else { return .failure(.notMulticastGroup) }
                query.group = g
            }
            return done(.query(query))
        case 131, 132:
            guard body.count >= 24 else { return .failure(.badLength) }
            let g = MulticastGroup(ipv6High: be64(body, 8), low: be64(body, 16))
            guard g.isMulticast else { return .failure(.notMulticastGroup) }
            return done(type == 131 ? .report(version: 1, group: g) : .leave(group: g))
        default:  // 143: MLDv2 report
            guard body.count >= 8 else { return .failure(.badLength) }
            let count = Int(be16(body, 6))
            var records: [GroupRecord] = []
            records.reserveCapacity(min(count, 64))
            var at = 8
            for _ in 0..<count {
                guard at + 20 <= body.count else { return .failure(.badLength) }
                let rtype = body[at], aux = Int(body[at + 1]), nsrc = Int(be16(body, at + 2))
                let g = MulticastGroup(ipv6High: be64(body, at + 4), low: be64(body, at + 12))
                let next = at + 20 + 16 * nsrc + 4 * aux
                guard next <= body.count else { return .failure(.badLength) }
                guard g.isMulticast else { return .failure(.notMulticastGroup) }
                if rtype >= 1 && rtype <= 6 { records.append(GroupRecord(type: rtype, group: g, sourceCount: nsrc)) }
                at = next
            }
            return done(.recordReport(version: 2, records: records))
        }
    }

    // MARK: Codes, checksums, loads

    /// RFC 3376 4.1.1 / 4.1.7: codes >= 128 are a floating-point value (mant | 0x10) << (exp + 3).
    public static func igmpv3Time(_ code: UInt8) -> UInt64 {
        code < 128 ? UInt64(code) : UInt64(code & 0x0F | 0x10) << (UInt64(code >> 4 & 7) + 3)
    }

    /// The inverse of `igmpv3Time` (rounded down to a representable value).
    public static func igmpv3Code(_ value: UInt64) -> UInt8 {
        if value < 128 { return UInt8(value) }
        for exp in 0..<8 {
            let mant = value >> (UInt64(exp) + 3)
            if mant < 0x20 { return 0x80 | UInt8(exp) << 4 | UInt8(mant & 0x0F) }
        }
        return 0xFF
    }

    /// RFC 3810 5.1.3: codes >= 32768 are (mant | 0x1000) << (exp + 3) milliseconds.
    public static func mldv2Time(_ code: UInt16) -> UInt64 {
        code < 32768 ? UInt64(code) : UInt64(code & 0x0FFF | 0x1000) << (UInt64(code >> 12 & 7) + 3)
    }

    /// The inverse of `mldv2Time`.
    public static func mldv2Code(_ value: UInt64) -> UInt16 {
        if value < 32768 { return UInt16(value) }
        for exp in 0..<8 {
            let mant = value >> (UInt64(exp) + 3)
            if mant < 0x2000 { return 0x8000 | UInt16(exp) << 12 | UInt16(mant & 0x0FFF) }
        }
        return 0xFFFF
    }

    /// The RFC 1071 one's-complement sum, folded and complemented: 0 over data whose checksum
    /// field is right. `initial` carries a pseudo-header's partial sum.
    public static func internetChecksum(_ data: UnsafeRawBufferPointer, initial: UInt64 = 0) -> UInt16 {
        var sum = initial
        var i = 0
        let n = data.count
        while i + 1 < n {
            sum &+= UInt64(data[i]) << 8 | UInt64(data[i + 1])
            i += 2
        }
        if i < n { sum &+= UInt64(data[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }

    /// ICMPv6 checksum of `body` with the pseudo-header from the IPv6 header `ip` (RFC 8200 8.1).
    public static func icmpv6Checksum(_ body: UnsafeRawBufferPointer, ipHeader ip: UnsafeRawBufferPointer) -> UInt16 {
        var pseudo: UInt64 = 0
        for i in stride(from: 8, to: 40, by: 2) { pseudo &+= UInt64(be16(ip, i)) }
        pseudo &+= UInt64(body.count)
        pseudo &+= UInt64(MulticastClassifier.protocolICMPv6)
        return internetChecksum(body, initial: pseudo)
    }

    @inline(__always) static func be16(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
        UInt16(p[i]) << 8 | UInt16(p[i + 1])
    }
    @inline(__always) static func be32(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt32 {
        UInt32(be16(p, i)) << 16 | UInt32(be16(p, i + 2))
    }
    @inline(__always) static func be64(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
        UInt64(be32(p, i)) << 32 | UInt64(be32(p, i + 4))
    }
}
