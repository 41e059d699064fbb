// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Query frames the querier sends, whole Ethernet frames (untagged: the wiring adds the VLAN's
// tag as the egress port's VLAN policy says), laid out as the kernel's br_ip4_multicast_alloc_query
// and br_ip6_multicast_alloc_query lay them out:
// - IGMP: IPv4 with the Router Alert option (RFC 2113), TOS 0xc0, DF, TTL 1, to 224.0.0.1
//   (general) or the group (group-specific); IGMPv2 (8 bytes) or IGMPv3 (12 bytes, QRV and QQIC
//   set, no sources). IPv4 header and IGMP checksums filled in.
// - MLD: IPv6, hop limit 1, a hop-by-hop header with Router Alert (value 0: MLD) and PadN, to
//   ff02::1 or the group; MLDv1 (24 bytes) or MLDv2 (28 bytes). ICMPv6 checksum over the
//   pseudo-header.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// Builds query frames; see the file comment.
public enum QueryEncoder {
    /// An IGMP query. `group` nil: a general query. `maxResponse` in milliseconds.
    public static func igmpQuery(
        version: Int, source: MACAddress, sourceAddress: IPAddress, group: MulticastGroup?,
        maxResponseMilliseconds: UInt64, robustness: Int, queryIntervalSeconds: UInt64
    ) -> [UInt8] {
        let dstIP: UInt32 = group?.ipv4 ?? 0xE000_0001
        let dstMAC = group?.ethernetAddress ?? MACAddress(rawValue: 0x0100_5E00_0001)
        let igmpLength = version == 3 ? 12 : 8
        var f = dstMAC.octets + source.octets + [0x08, 0x00]
        let ipStart = f.count
        let total = 24 + igmpLength
        f += [0x46, 0xC0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 1, 2, 0, 0]
        f += bytes32(sourceAddress.ipv4) + bytes32(dstIP) + [0x94, 0x04, 0x00, 0x00]
        let tenths = maxResponseMilliseconds / 100
        let code: UInt8 = version == 3 ? MembershipParser.igmpv3Code(tenths) : UInt8(min(tenths, 255))
        let igmpStart = f.count
        f += [0x11, code, 0, 0] + bytes32(group?.ipv4 ?? 0)
        if version == 3 {
            f += [UInt8(min(max(robustness, 0), 7)), MembershipParser.igmpv3Code(queryIntervalSeconds), 0, 0]
        }
        let (ipSum, igmpSum) = f.withUnsafeBytes { raw in
            (MembershipParser.internetChecksum(UnsafeRawBufferPointer(rebasing: raw[ipStart..<(ipStart + 24)])),
             MembershipParser.internetChecksum(UnsafeRawBufferPointer(rebasing: raw[igmpStart...])))
        }
        f[ipStart + 10] = UInt8(ipSum >> 8)
        f[ipStart + 11] = UInt8(ipSum & 0xFF)
        f[igmpStart + 2] = UInt8(igmpSum >> 8)
        f[igmpStart + 3] = UInt8(igmpSum & 0xFF)
        return f
    }

    /// An MLD query. `group` nil: a general query.
    public static func mldQuery(
        version: Int, source: MACAddress, sourceAddress: IPAddress, group: MulticastGroup?,
        maxResponseMilliseconds: UInt64, robustness: Int, queryIntervalSeconds: UInt64
    ) -> [UInt8] {
        let dst = group ?? MulticastGroup(ipv6High: 0xFF02_0000_0000_0000, low: 1)
        let mldLength = version == 2 ? 28 : 24
        var f = dst.ethernetAddress.octets + source.octets + [0x86, 0xDD]
        let ipStart = f.count
        let payload = 8 + mldLength
        f += [0x60, 0, 0, 0, UInt8(payload >> 8), UInt8(payload & 0xFF), 0, 1]
        f += bytes64(sourceAddress.high) + bytes64(sourceAddress.low) + bytes64(dst.high) + bytes64(dst.low)
        f += [58, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]  // hop-by-hop: Router Alert (MLD), PadN
        let icmpStart = f.count
        let code: UInt16 = version == 2
            ? MembershipParser.mldv2Code(maxResponseMilliseconds) : UInt16(min(maxResponseMilliseconds, 65_535))
        f += [130, 0, 0, 0, UInt8(code >> 8), UInt8(code & 0xFF), 0, 0]
        f += bytes64(group?.high ?? 0) + bytes64(group?.low ?? 0)
        if version == 2 {
            f += [UInt8(min(max(robustness, 0), 7)), MembershipParser.igmpv3Code(queryIntervalSeconds), 0, 0]
        }
        let sum = f.withUnsafeBytes { raw in
            MembershipParser.icmpv6Checksum(
                UnsafeRawBufferPointer(rebasing: raw[icmpStart...]),
                ipHeader: UnsafeRawBufferPointer(rebasing: raw[ipStart..<(ipStart + 40)]))
        }
        f[icmpStart + 2] = UInt8(sum >> 8)
        f[icmpStart + 3] = UInt8(sum & 0xFF)
        return f
    }

    static func bytes32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    static func bytes64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }
}
