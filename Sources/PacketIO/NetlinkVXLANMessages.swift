// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkVXLANMessages: the rtnetlink messages that manage a kernel VXLAN device (RFC 7348,
// drivers/net/vxlan/vxlan_core.c, what `ip link add ... type vxlan` and `bridge fdb` send),
// as bytes, and the parser of the device's forwarding table (`bridge fdb show dev vx0`).
//
// The promise, as NetlinkMessage.swift's: building never fails for a checked
// `VXLANDeviceSpec`, and `VXLANFDBEntry.entries(in:ifindex:)` turns any byte sequence into
// entries or a `NetlinkParseError`, never a trap (it is in the fuzz target).
//
// Messages (numbers from linux/rtnetlink.h, if_link.h, neighbour.h; PacketIOTests checks them
// against the headers):
// - create: RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg, IFLA_IFNAME, IFLA_MTU,
//   IFLA_LINKINFO { IFLA_INFO_KIND "vxlan", IFLA_INFO_DATA { IFLA_VXLAN_ID, IFLA_VXLAN_LOCAL or
//   _LOCAL6, [IFLA_VXLAN_GROUP or _GROUP6, IFLA_VXLAN_LINK], IFLA_VXLAN_PORT (big-endian),
//   IFLA_VXLAN_LEARNING } }. Remote VTEPs are not IFLA_VXLAN_GROUP: every remote is an
//   all-zeros FDB entry (head-end replication), so one remote and five are the same code.
// - an FDB entry: RTM_NEWNEIGH (NLM_F_CREATE | NLM_F_APPEND: several entries of the same MAC
//   are allowed, one per destination) / RTM_DELNEIGH, ndmsg { AF_BRIDGE, ifindex,
//   NUD_PERMANENT, NTF_SELF }, NDA_LLADDR, NDA_DST (4 or 16 bytes).
// - the table: RTM_GETNEIGH dump with an ifinfomsg { AF_BRIDGE, ifindex } header, the form
//   the kernel filters by device (rtnetlink.c valid_fdb_dump_legacy); the replies are ndmsg +
//   NDA_LLADDR, NDA_DST, ... (vxlan_fdb_info). Entries without a destination (the device's own
//   address list) are skipped.
//
// Pure Swift (no C import): the fuzz harness compiles this file with swiftc alone.

/// rtnetlink numbers for VXLAN devices and their forwarding table.
public enum NetlinkVXLAN {
    // nlmsghdr flags for new objects (linux/netlink.h)
    public static let flagReplace: UInt16 = 0x100  // NLM_F_REPLACE
    public static let flagExclusive: UInt16 = 0x200  // NLM_F_EXCL
    public static let flagCreate: UInt16 = 0x400  // NLM_F_CREATE
    public static let flagAppend: UInt16 = 0x800  // NLM_F_APPEND

    // neighbour messages (linux/rtnetlink.h)
    public static let newNeighbour: UInt16 = 28  // RTM_NEWNEIGH
    public static let deleteNeighbour: UInt16 = 29  // RTM_DELNEIGH
    public static let getNeighbour: UInt16 = 30  // RTM_GETNEIGH
    /// struct ndmsg: family, 3 pad bytes, ifindex, state (u16), flags (u8), type (u8).
    public static let ndmsgSize = 12
    /// AF_BRIDGE (PF_BRIDGE): the family of FDB entries.
    public static let familyBridge: UInt8 = 7

    // NDA_* (linux/neighbour.h)
    public static let neighbourDestination: UInt16 = 1  // NDA_DST
    public static let neighbourLinkAddress: UInt16 = 2  // NDA_LLADDR
    public static let neighbourPort: UInt16 = 6  // NDA_PORT (be16)
    public static let neighbourVNI: UInt16 = 7  // NDA_VNI
    public static let neighbourInterface: UInt16 = 8  // NDA_IFINDEX (the underlay device)
    // ndm_state and ndm_flags
    public static let stateReachable: UInt16 = 0x02  // NUD_REACHABLE: learned
    public static let statePermanent: UInt16 = 0x80  // NUD_PERMANENT: static
    public static let flagSelf: UInt8 = 0x02  // NTF_SELF: the device's own table, not a master's

    // IFLA_LINKINFO contents (linux/if_link.h)
    public static let linkInfoData: UInt16 = 2  // IFLA_INFO_DATA
    // IFLA_VXLAN_* inside IFLA_INFO_DATA
    public static let id: UInt16 = 1  // IFLA_VXLAN_ID (u32)
    public static let group: UInt16 = 2  // IFLA_VXLAN_GROUP (be32)
    public static let link: UInt16 = 3  // IFLA_VXLAN_LINK (u32 ifindex)
    public static let local: UInt16 = 4  // IFLA_VXLAN_LOCAL (be32)
    public static let ttl: UInt16 = 5  // IFLA_VXLAN_TTL (u8)
    public static let learning: UInt16 = 7  // IFLA_VXLAN_LEARNING (u8)
    public static let ageing: UInt16 = 8  // IFLA_VXLAN_AGEING (u32 seconds)
    public static let port: UInt16 = 15  // IFLA_VXLAN_PORT (be16)
    public static let group6: UInt16 = 16  // IFLA_VXLAN_GROUP6 (in6_addr)
    public static let local6: UInt16 = 17  // IFLA_VXLAN_LOCAL6 (in6_addr)

    /// The IANA VXLAN port (RFC 7348 §5); Linux's own default is 8472 unless told otherwise.
    public static let defaultPort: UInt16 = 4789
    /// Outer Ethernet + IPv4 + UDP + VXLAN headers: the overlay MTU is the underlay's minus this.
    public static let overheadIPv4 = 50
    /// Outer Ethernet + IPv6 + UDP + VXLAN headers.
    public static let overheadIPv6 = 70
    /// The largest VNI (24 bits).
    public static let maxVNI: UInt32 = 0xFF_FFFF
}

/// An IPv4 or IPv6 address as its network-order bytes (4 or 16).
public struct VXLANAddress: Hashable, Sendable {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let bytes: [UInt8]

    /// nil unless `bytes` has 4 or 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var isIPv6: Bool { bytes.count == 16 }
    /// IPv4 224.0.0.0/4 or IPv6 ff00::/8.
    public var isMulticast: Bool { isIPv6 ? bytes[0] == 0xFF : bytes[0] & 0xF0 == 0xE0 }
    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
}

/// A VXLAN device to create: what `swbridge vxlan add` and the configuration file say.
public struct VXLANDeviceSpec: Equatable, Sendable {
    /// The device's name (1-15 bytes).
    public var name: String
    /// VXLAN network identifier, 0...2^24-1.
    public var vni: UInt32
    /// The source address of encapsulated packets (this VTEP).
    public var local: VXLANAddress
    /// Remote VTEPs: one all-zeros FDB entry each (head-end replication).
    public var remotes: [VXLANAddress]
    /// UDP destination port.
    public var port: UInt16
    /// A multicast underlay group for broadcast, unknown unicast and multicast, and the
    /// underlay interface index it is joined on.
    public var group: VXLANAddress?
    public var underlayIndex: Int32?
    /// The device MTU; nil leaves it to the kernel.
    public var mtu: Int?
    /// The kernel's learning of inner source MAC → remote VTEP (on by design: see README).
    public var learning: Bool

    public init(name: String, vni: UInt32, local: VXLANAddress, remotes: [VXLANAddress] = [],
                port: UInt16 = NetlinkVXLAN.defaultPort, group: VXLANAddress? = nil, underlayIndex: Int32? = nil,
                mtu: Int? = nil, learning: Bool = true) {
        self.name = name
        self.vni = vni
        self.local = local
        self.remotes = remotes
        self.port = port
        self.group = group
        self.underlayIndex = underlayIndex
        self.mtu = mtu
        self.learning = learning
    }

    /// Why this spec cannot be a device, or nil: a message for the user.
    public var refusal: String? {
        let nameBytes = Array(name.utf8)
        if nameBytes.isEmpty || nameBytes.count > 15 || nameBytes.contains(0) || name.contains("/") || name.contains(" ") {
            return "device name must be 1-15 characters without '/' or spaces"
        }
        if vni > NetlinkVXLAN.maxVNI { return "vni must be 0...16777215" }
        if local.isUnspecified || local.isMulticast { return "local must be a unicast address of this machine" }
        for r in remotes {
            if r.isIPv6 != local.isIPv6 { return "remote and local must both be IPv4 or both IPv6" }
            if r.isUnspecified || r.isMulticast { return "a remote must be a unicast address (a multicast underlay is 'group')" }
        }
        if Set(remotes).count != remotes.count { return "a remote is listed twice" }
        if let group {
            if group.isIPv6 != local.isIPv6 { return "group and local must both be IPv4 or both IPv6" }
            if !group.isMulticast { return "group must be a multicast address" }
            if underlayIndex == nil { return "group needs 'dev UNDERLAY' (the interface to join it on)" }
        }
        if port == 0 { return "dstport must be 1...65535" }
        if let mtu, !(68...65_535).contains(mtu) { return "mtu must be 68...65535" }
        return nil
    }

    /// The overlay MTU for an underlay of `underlayMTU` bytes: minus 50 (IPv4) or 70 (IPv6).
    public func overlayMTU(underlayMTU: Int) -> Int {
        underlayMTU - (local.isIPv6 ? NetlinkVXLAN.overheadIPv6 : NetlinkVXLAN.overheadIPv4)
    }

    /// The RTM_NEWLINK that creates the device (down; `setUp` brings it up). `sequence` and
    /// `flags` as NetlinkSocket sends them; the tests compare the bytes.
    public func newLinkMessage(sequence: UInt32, flags: UInt16) -> [UInt8] {
        var b = NetlinkMessageBuilder(type: Netlink.newLink, flags: flags, sequence: sequence)
        appendNewLink(to: &b)
        return b.finish()
    }

    /// The ifinfomsg and attributes of the RTM_NEWLINK that creates the device.
    public func appendNewLink(to b: inout NetlinkMessageBuilder) {
        b.appendLinkHeader()
        b.appendAttribute(Netlink.attributeName, string: name)
        if let mtu { b.appendAttribute(Netlink.attributeMTU, uint32: UInt32(clamping: mtu)) }
        var data: [UInt8] = []
        data += NetlinkMessageBuilder.attribute(NetlinkVXLAN.id, le32(vni))
        data += NetlinkMessageBuilder.attribute(local.isIPv6 ? NetlinkVXLAN.local6 : NetlinkVXLAN.local, local.bytes)
        if let group {
            data += NetlinkMessageBuilder.attribute(group.isIPv6 ? NetlinkVXLAN.group6 : NetlinkVXLAN.group, group.bytes)
        }
        if let underlayIndex { data += NetlinkMessageBuilder.attribute(NetlinkVXLAN.link, le32(UInt32(bitPattern: underlayIndex))) }
        data += NetlinkMessageBuilder.attribute(NetlinkVXLAN.port, [UInt8(port >> 8), UInt8(port & 0xFF)])
        data += NetlinkMessageBuilder.attribute(NetlinkVXLAN.learning, [learning ? 1 : 0])
        let info = NetlinkMessageBuilder.attribute(Netlink.linkInfoKind, Array("vxlan".utf8) + [0])
            + NetlinkMessageBuilder.attribute(NetlinkVXLAN.linkInfoData, data)
        b.appendAttribute(Netlink.attributeLinkInfo, info)
    }

    private func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

/// One entry of a VXLAN device's forwarding table: an inner MAC (all zeros: the default
/// destinations of broadcast, unknown unicast and multicast) behind a remote VTEP.
public struct VXLANFDBEntry: Equatable, Sendable {
    /// The inner MAC, 6 bytes.
    public var mac: [UInt8]
    public var destination: VXLANAddress
    /// The device it belongs to.
    public var ifindex: Int32
    /// NUD_PERMANENT (added by hand or by swbridge), else learned by the kernel.
    public var isPermanent: Bool

    public init(mac: [UInt8], destination: VXLANAddress, ifindex: Int32, isPermanent: Bool) {
        self.mac = mac
        self.destination = destination
        self.ifindex = ifindex
        self.isPermanent = isPermanent
    }

    /// The all-zeros MAC: head-end replication's default entries.
    public var isDefault: Bool { mac.allSatisfy { $0 == 0 } }

    /// The RTM_NEWNEIGH (append) or RTM_DELNEIGH of a permanent entry `mac` → `destination`
    /// on device `ifindex`; the ndmsg and attributes only (the header is the socket's).
    public static func appendRequest(to b: inout NetlinkMessageBuilder, mac: [UInt8], destination: VXLANAddress, ifindex: Int32) {
        precondition(mac.count == 6, "a MAC address is 6 bytes")
        var header = [NetlinkVXLAN.familyBridge, 0, 0, 0]
        withUnsafeBytes(of: ifindex.littleEndian) { header += $0 }
        withUnsafeBytes(of: NetlinkVXLAN.statePermanent.littleEndian) { header += $0 }
        header += [NetlinkVXLAN.flagSelf, 0]
        b.appendRaw(header)
        b.appendAttribute(NetlinkVXLAN.neighbourLinkAddress, mac)
        b.appendAttribute(NetlinkVXLAN.neighbourDestination, destination.bytes)
    }

    /// The header of the RTM_GETNEIGH dump of device `ifindex`'s table: an ifinfomsg of family
    /// AF_BRIDGE (the kernel filters a dump by device only with this form).
    public static func appendDumpRequest(to b: inout NetlinkMessageBuilder, ifindex: Int32) {
        var header = [NetlinkVXLAN.familyBridge, 0, 0, 0]
        withUnsafeBytes(of: ifindex.littleEndian) { header += $0 }
        header += [UInt8](repeating: 0, count: 8)  // ifi_flags, ifi_change
        b.appendRaw(header)
    }

    /// The entry an RTM_NEWNEIGH carries; nil when it is not a VXLAN FDB entry with a MAC and
    /// a destination (another family, the device's own address list). Throws on bad bytes.
    public init?(message: NetlinkMessage) throws(NetlinkParseError) {
        guard message.type == NetlinkVXLAN.newNeighbour else { return nil }
        let p = message.payload
        guard p.count >= NetlinkVXLAN.ndmsgSize else {
            throw .truncatedPayload(messageType: message.type, size: p.count, needed: NetlinkVXLAN.ndmsgSize)
        }
        guard p[0] == NetlinkVXLAN.familyBridge else { return nil }
        let ifindex = Int32(bitPattern: UInt32(p[4]) | UInt32(p[5]) << 8 | UInt32(p[6]) << 16 | UInt32(p[7]) << 24)
        let state = UInt16(p[8]) | UInt16(p[9]) << 8
        var mac: [UInt8]?
        var destination: VXLANAddress?
        for a in try message.attributes(after: NetlinkVXLAN.ndmsgSize) {
            switch a.type {
            case NetlinkVXLAN.neighbourLinkAddress:
                guard a.value.count == 6 else { throw .badAttributeSize(type: a.type, size: a.value.count, expected: 6) }
                mac = a.value
            case NetlinkVXLAN.neighbourDestination:
                guard let d = VXLANAddress(bytes: a.value) else {
                    throw .badAttributeSize(type: a.type, size: a.value.count, expected: 4)
                }
                destination = d
            default: continue
            }
        }
        guard let mac, let destination else { return nil }
        self.init(mac: mac, destination: destination, ifindex: ifindex, isPermanent: state & NetlinkVXLAN.statePermanent != 0)
    }

    /// Every VXLAN FDB entry in `messages` (a dump's replies), of device `ifindex` only when given.
    public static func entries(in messages: [NetlinkMessage], ifindex: Int32? = nil) throws(NetlinkParseError) -> [VXLANFDBEntry] {
        var result: [VXLANFDBEntry] = []
        for m in messages {
            guard let e = try VXLANFDBEntry(message: m) else { continue }
            if let ifindex, e.ifindex != ifindex { continue }
            result.append(e)
        }
        return result
    }

    /// The whole path from a datagram to entries, for the fuzz target.
    public static func entries(in buffer: UnsafeRawBufferPointer) throws(NetlinkParseError) -> [VXLANFDBEntry] {
        try entries(in: try NetlinkParser.messages(in: buffer))
    }
}
