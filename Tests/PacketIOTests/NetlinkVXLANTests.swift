// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The VXLAN rtnetlink messages byte for byte (what `ip link add ... type vxlan` and
// `bridge fdb append` send, read off linux/if_link.h and neighbour.h), the FDB reply parser
// against hand-built replies and garbage (bad input throws, never traps), the spec's checks,
// and the numbers against the kernel headers.

import CLinuxPacket
import PacketIO
import Testing

@Suite("Netlink VXLAN messages")
struct NetlinkVXLANTests {
    static let local = VXLANAddress(bytes: [198, 19, 0, 1])!
    static let remote = VXLANAddress(bytes: [198, 19, 0, 2])!

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    /// An attribute by hand: length, type, value, padding.
    static func attr(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        le16(UInt16(4 + value.count)) + le16(type) + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }

    @Test("RTM_NEWLINK of a VXLAN device: ifinfomsg, name, MTU, linkinfo { kind, data { id, local, port (big-endian), learning } }")
    func newLinkBytes() {
        let spec = VXLANDeviceSpec(name: "vx0", vni: 42, local: Self.local, remotes: [Self.remote], port: 4789, mtu: 1450)
        let flags: UInt16 = 0x1 | 0x4 | 0x400 | 0x200
        let message = spec.newLinkMessage(sequence: 7, flags: flags)
        let data = Self.attr(1, Self.le32(42)) + Self.attr(4, [198, 19, 0, 1]) + Self.attr(15, [0x12, 0xB5]) + Self.attr(7, [1])
        let payload = [UInt8](repeating: 0, count: 16)
            + Self.attr(3, Array("vx0".utf8) + [0]) + Self.attr(4, Self.le32(1450))
            + Self.attr(18, Self.attr(1, Array("vxlan".utf8) + [0]) + Self.attr(2, data))
        let expected = Self.le32(UInt32(16 + payload.count)) + Self.le16(16) + Self.le16(flags) + Self.le32(7) + Self.le32(0) + payload
        #expect(message == expected)
        // Remotes are FDB entries, not IFLA_VXLAN_GROUP: the bytes above carry none.
    }

    @Test("a multicast group, its underlay and IPv6 use GROUP/GROUP6, LINK, LOCAL6")
    func newLinkGroupAndIPv6() throws {
        let v6 = try #require(VXLANAddress(parsing: "2001:db8::1"))
        let group6 = try #require(VXLANAddress(parsing: "ff05::100"))
        let spec = VXLANDeviceSpec(name: "vx6", vni: 7, local: v6, port: 8472, group: group6, underlayIndex: 3)
        #expect(spec.refusal == nil)
        let messages = try spec.newLinkMessage(sequence: 1, flags: 0).withUnsafeBytes { raw in
            try Result { () throws(NetlinkParseError) in try NetlinkParser.messages(in: raw) }.get()
        }
        let attributes = try messages[0].attributes(after: 16)
        #expect(attributes.first { $0.type == Netlink.attributeMTU } == nil)  // left to the kernel
        let info = try #require(attributes.first { $0.type == Netlink.attributeLinkInfo }).nested()
        let data = try #require(info.first { $0.type == NetlinkVXLAN.linkInfoData }).nested()
        #expect(data.first { $0.type == NetlinkVXLAN.local6 }?.value == v6.bytes)
        #expect(data.first { $0.type == NetlinkVXLAN.group6 }?.value == group6.bytes)
        #expect(try data.first { $0.type == NetlinkVXLAN.link }?.uint32() == 3)
        #expect(data.first { $0.type == NetlinkVXLAN.port }?.value == [0x21, 0x18])
        #expect(data.first { $0.type == NetlinkVXLAN.local } == nil)
    }

    @Test("an all-zeros FDB append: ndmsg { AF_BRIDGE, ifindex, NUD_PERMANENT, NTF_SELF }, NDA_LLADDR, NDA_DST")
    func fdbAppendBytes() {
        var b = NetlinkMessageBuilder(type: NetlinkVXLAN.newNeighbour, flags: 0x1 | 0x4 | 0x400 | 0x800, sequence: 9)
        VXLANFDBEntry.appendRequest(to: &b, mac: [0, 0, 0, 0, 0, 0], destination: Self.remote, ifindex: 5)
        let payload = [7, 0, 0, 0] + Self.le32(5) + Self.le16(0x80) + [0x02, 0]
            + Self.attr(2, [0, 0, 0, 0, 0, 0]) + Self.attr(1, [198, 19, 0, 2])
        #expect(b.finish() == Self.le32(UInt32(16 + payload.count)) + Self.le16(28) + Self.le16(0xC05) + Self.le32(9) + Self.le32(0) + payload)
    }

    @Test("the FDB dump request is an ifinfomsg of family AF_BRIDGE naming the device (the kernel's filter form)")
    func dumpRequestBytes() {
        var b = NetlinkMessageBuilder(type: NetlinkVXLAN.getNeighbour, flags: 0x301, sequence: 1)
        VXLANFDBEntry.appendDumpRequest(to: &b, ifindex: 12)
        let bytes = b.finish()
        #expect(bytes.count == 16 + 16)
        #expect(Array(bytes[16...]) == [7, 0, 0, 0] + Self.le32(12) + [UInt8](repeating: 0, count: 8))
    }

    /// An RTM_NEWNEIGH reply as vxlan_fdb_info builds it.
    static func reply(family: UInt8 = 7, ifindex: Int32 = 5, state: UInt16 = 0x02, mac: [UInt8]? = [2, 0, 0, 0, 0, 9],
                      dst: [UInt8]? = [198, 19, 0, 2], extra: [UInt8] = []) -> [UInt8] {
        var payload = [family, 0, 0, 0] + le32(UInt32(bitPattern: ifindex)) + le16(state) + [0x02, 1]
        if let mac { payload += attr(2, mac) }
        if let dst { payload += attr(1, dst) }
        payload += attr(6, [0x12, 0xB5]) + attr(7, le32(42)) + extra
        return le32(UInt32(16 + payload.count)) + le16(28) + le16(2) + le32(1) + le32(0) + payload
    }

    static func entries(_ bytes: [UInt8]) throws(NetlinkParseError) -> [VXLANFDBEntry] {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(NetlinkParseError) in try VXLANFDBEntry.entries(in: raw) }
        }.get()
    }

    @Test("FDB replies: learned and permanent entries, defaults, IPv6; other families and address-list entries skipped")
    func parseReplies() throws {
        let bytes = Self.reply() + Self.reply(state: 0x80, mac: [0, 0, 0, 0, 0, 0], dst: [198, 19, 0, 3])
            + Self.reply(dst: Array(repeating: 0xFE, count: 16)) + Self.reply(family: 2) + Self.reply(dst: nil)
        let e = try Self.entries(bytes)
        #expect(e.count == 3)
        #expect(e[0] == VXLANFDBEntry(mac: [2, 0, 0, 0, 0, 9], destination: Self.remote, ifindex: 5, isPermanent: false))
        #expect(e[1].isDefault && e[1].isPermanent && e[1].destination.bytes == [198, 19, 0, 3])
        #expect(e[2].destination.isIPv6)
        let filtered = try bytes.withUnsafeBytes { raw in
            try Result { () throws(NetlinkParseError) in
                try VXLANFDBEntry.entries(in: try NetlinkParser.messages(in: raw), ifindex: 6)
            }.get()
        }
        #expect(filtered.isEmpty)
    }

    @Test("bad FDB replies throw: short ndmsg, a 5-byte MAC, a 5-byte destination, an attribute past the end")
    func badReplies() {
        var short = Self.reply()
        short = Self.le32(16 + 8) + Array(short[4..<16]) + Array(short[16..<24])
        #expect(throws: NetlinkParseError.self) { try Self.entries(short) }
        #expect(throws: NetlinkParseError.self) { try Self.entries(Self.reply(mac: [1, 2, 3, 4, 5])) }
        #expect(throws: NetlinkParseError.self) { try Self.entries(Self.reply(dst: [1, 2, 3, 4, 5])) }
        var overrun = Self.reply()
        overrun[16 + 12] = 0xFF  // NDA_LLADDR's length
        #expect(throws: NetlinkParseError.self) { try Self.entries(overrun) }
        // Every prefix of a valid reply parses or throws, never traps.
        let good = Self.reply() + Self.reply(state: 0x80)
        for n in 0...good.count { _ = try? Self.entries(Array(good[..<n])) }
    }

    @Test("seeded garbage and mutations never trap")
    func garbage() {
        var rng = SplitMix64(seed: 17)
        let base = Self.reply() + Self.reply(mac: [0, 0, 0, 0, 0, 0])
        for _ in 0..<20_000 {
            var b = base
            for _ in 0..<Int(rng.next() % 6) + 1 { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? Self.entries(b)
            let random = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? Self.entries(random)
        }
    }

    @Test("a spec's checks and the overlay MTU (underlay - 50 for IPv4, - 70 for IPv6)")
    func specChecks() throws {
        var spec = VXLANDeviceSpec(name: "vx0", vni: 42, local: Self.local, remotes: [Self.remote])
        #expect(spec.refusal == nil)
        #expect(spec.overlayMTU(underlayMTU: 1500) == 1450)
        #expect(spec.overlayMTU(underlayMTU: 9000) == 8950)
        let v6 = try #require(VXLANAddress(parsing: "2001:db8::1"))
        #expect(VXLANDeviceSpec(name: "vx6", vni: 1, local: v6).overlayMTU(underlayMTU: 1500) == 1430)
        spec.vni = 1 << 24
        #expect(spec.refusal != nil)
        spec.vni = 42
        spec.remotes = [v6]
        #expect(spec.refusal != nil)  // mixed families
        spec.remotes = [Self.remote, Self.remote]
        #expect(spec.refusal != nil)  // twice
        spec.remotes = [VXLANAddress(bytes: [239, 1, 1, 1])!]
        #expect(spec.refusal != nil)  // a multicast remote
        spec.remotes = []
        spec.group = VXLANAddress(bytes: [239, 1, 1, 1])
        #expect(spec.refusal != nil)  // group without dev
        spec.underlayIndex = 2
        #expect(spec.refusal == nil)
        spec.name = "a-name-too-long-for-linux"
        #expect(spec.refusal != nil)
        #expect(VXLANAddress(parsing: "198.19.0.300") == nil && VXLANAddress(parsing: "vx0") == nil)
        #expect(VXLANAddress(parsing: "198.19.0.2")?.description == "198.19.0.2")
        #expect(VXLANAddress(parsing: "2001:DB8:0:0::1")?.description == "2001:db8::1")
    }

    @Test("the VXLAN numbers are the kernel headers'")
    func constantsMatchHeaders() {
        #expect(Int(NetlinkVXLAN.newNeighbour) == Int(RTM_NEWNEIGH) && Int(NetlinkVXLAN.deleteNeighbour) == Int(RTM_DELNEIGH))
        #expect(Int(NetlinkVXLAN.getNeighbour) == Int(RTM_GETNEIGH))
        #expect(Int(NetlinkVXLAN.flagCreate) == Int(NLM_F_CREATE) && Int(NetlinkVXLAN.flagExclusive) == Int(NLM_F_EXCL))
        #expect(Int(NetlinkVXLAN.flagAppend) == Int(NLM_F_APPEND) && Int(NetlinkVXLAN.flagReplace) == Int(NLM_F_REPLACE))
        #expect(NetlinkVXLAN.ndmsgSize == MemoryLayout<ndmsg>.size)
        #expect(Int(NetlinkVXLAN.familyBridge) == Int(AF_BRIDGE))
        #expect(Int(NetlinkVXLAN.neighbourDestination) == Int(NDA_DST) && Int(NetlinkVXLAN.neighbourLinkAddress) == Int(NDA_LLADDR))
        #expect(Int(NetlinkVXLAN.neighbourPort) == Int(NDA_PORT) && Int(NetlinkVXLAN.neighbourVNI) == Int(NDA_VNI))
        #expect(Int(NetlinkVXLAN.neighbourInterface) == Int(NDA_IFINDEX))
        #expect(Int(NetlinkVXLAN.stateReachable) == Int(NUD_REACHABLE) && Int(NetlinkVXLAN.statePermanent) == Int(NUD_PERMANENT))
        #expect(Int(NetlinkVXLAN.flagSelf) == Int(NTF_SELF))
        #expect(Int(NetlinkVXLAN.linkInfoData) == Int(IFLA_INFO_DATA))
        #expect(Int(NetlinkVXLAN.id) == Int(IFLA_VXLAN_ID) && Int(NetlinkVXLAN.group) == Int(IFLA_VXLAN_GROUP))
        #expect(Int(NetlinkVXLAN.link) == Int(IFLA_VXLAN_LINK) && Int(NetlinkVXLAN.local) == Int(IFLA_VXLAN_LOCAL))
        #expect(Int(NetlinkVXLAN.ttl) == Int(IFLA_VXLAN_TTL) && Int(NetlinkVXLAN.learning) == Int(IFLA_VXLAN_LEARNING))
        #expect(Int(NetlinkVXLAN.ageing) == Int(IFLA_VXLAN_AGEING) && Int(NetlinkVXLAN.port) == Int(IFLA_VXLAN_PORT))
        #expect(Int(NetlinkVXLAN.group6) == Int(IFLA_VXLAN_GROUP6) && Int(NetlinkVXLAN.local6) == Int(IFLA_VXLAN_LOCAL6))
    }
}
