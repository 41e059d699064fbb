// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Frames captured on 2026-11-29 (Linux 6.18) with tcpdump on a kernel bridge port
// (`mcast_snooping 1 mcast_querier 1`, then `mcast_igmp_version 3 mcast_mld_version 2`), in
// namespaces created for the capture: a host joining and leaving groups with
// IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP, its IGMP/MLD version forced through
// /proc/sys/net/ipv{4,6}/conf/eth0/force_{igmp,mld}_version, and the kernel bridge's querier.
// The kernel's own encoding, so the parsers are checked against more than our reading of the RFCs.

enum CapturedFrames {
    /// IGMPv2 report of 239.1.1.2 (host, force_igmp_version 2).
    static let igmpv2Report = bytes(
        "01005e010102fe274544644c080046c000200000400001022700c6120702ef01" +
        "0102940400001600f9fbef010102"
    )
    /// IGMPv2 leave of 239.1.1.2.
    static let igmpv2Leave = bytes(
        "01005e000002fe274544644c080046c000200000400001023701c6120702e000" +
        "0002940400001700f8fbef010102"
    )
    /// The kernel querier's IGMPv2 group-specific query: to 224.0.0.1, not the group.
    static let kernelGroupQueryV2 = bytes(
        "01005e00000122fbc9f6bd43080046c00020000040000102041700000000e000" +
        "000194040000110afef1ef010102"
    )
    /// The kernel querier's IGMPv2 general query, source 0.0.0.0.
    static let kernelGeneralQueryV2 = bytes(
        "01005e00000122fbc9f6bd43080046c00020000040000102041700000000e000" +
        "0001940400001164ee9b00000000"
    )
    /// IGMPv3 report, CHANGE_TO_EXCLUDE {} 239.1.1.3 (join).
    static let igmpv3ReportToEx = bytes(
        "01005e000016920d3076bb62080046c0002800004000010236e5c6120702e000" +
        "0016940400002200e9f90000000104000000ef010103"
    )
    /// IGMPv3 report, CHANGE_TO_INCLUDE {} 239.1.1.3 (leave).
    static let igmpv3ReportToIn = bytes(
        "01005e000016920d3076bb62080046c0002800004000010236e5c6120702e000" +
        "0016940400002200eaf90000000103000000ef010103"
    )
    /// The kernel querier's IGMPv3 group-specific query (mcast_igmp_version 3).
    static let kernelGroupQueryV3 = bytes(
        "01005e01010312a3357c4e9e080046c00024000040000102f40f00000000ef01" +
        "010394040000110afc73ef010103027d0000"
    )
    /// MLDv1 report of ff0e::1:1 (force_mld_version 1).
    static let mldv1Report = bytes(
        "333300010001fe274544644c86dd6000000000200001fe80000000000000fc27" +
        "45fffe44644cff0e00000000000000000000000100013a000502000001008300" +
        "db5100000000ff0e0000000000000000000000010001"
    )
    /// MLDv1 done of ff0e::1:1.
    static let mldv1Done = bytes(
        "333300000002fe274544644c86dd6000000000200001fe80000000000000fc27" +
        "45fffe44644cff0200000000000000000000000000023a000502000001008400" +
        "da5d00000000ff0e0000000000000000000000010001"
    )
    /// The kernel querier's MLDv1 group-specific query: to ff02::1, HBH with two Pad1.
    static let kernelGroupQueryMLDv1 = bytes(
        "33330000000122fbc9f6bd4386dd6000000000200001fe8000000000000020fb" +
        "c9fffef6bd43ff0200000000000000000000000000013a000502000000008200" +
        "d5f903e80000ff0e0000000000000000000000010001"
    )
    /// The kernel querier's MLDv1 general query.
    static let kernelGeneralQueryMLDv1 = bytes(
        "33330000000122fbc9f6bd4386dd6000000000200001fe8000000000000020fb" +
        "c9fffef6bd43ff0200000000000000000000000000013a000502000000008200" +
        "b1e22710000000000000000000000000000000000000"
    )
    /// MLDv2 report, CHANGE_TO_EXCLUDE {} ff0e::1:2 (join).
    static let mldv2ReportToEx = bytes(
        "333300000016fe274544644c86dd6000000000240001fe80000000000000fc27" +
        "45fffe44644cff0200000000000000000000000000163a000502000001008f00" +
        "cb430000000104000000ff0e0000000000000000000000010002"
    )
    /// MLDv2 report, CHANGE_TO_INCLUDE {} ff0e::1:2 (leave).
    static let mldv2ReportToIn = bytes(
        "333300000016fe274544644c86dd6000000000240001fe80000000000000fc27" +
        "45fffe44644cff0200000000000000000000000000163a000502000001008f00" +
        "cc430000000103000000ff0e0000000000000000000000010002"
    )
    /// The kernel querier's MLDv2 group-specific query (mcast_mld_version 2).
    static let kernelGroupQueryMLDv2 = bytes(
        "33330001000212a3357c4e9e86dd6000000000240001fe8000000000000010a3" +
        "35fffe7c4e9eff0e00000000000000000000000100023a000502000000008200" +
        "e6e103e80000ff0e0000000000000000000000010002027d0000"
    )

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).map { i in
            UInt8(String(decoding: digits[i...(i + 1)], as: UTF8.self), radix: 16)!
        }
    }
}
