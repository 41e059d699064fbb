// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkLinkInfo: what an RTM_NEWLINK / RTM_DELLINK message says about one interface
// (rtnetlink(7) "RTM_NEWLINK"; the attributes are filled by the kernel's rtnl_fill_ifinfo in
// net/core/rtnetlink.c): name, index, flags, MTU, operational state (RFC 2863 ifOperStatus),
// link layer (ARPHRD), the kind of device (IFLA_LINKINFO/IFLA_INFO_KIND: "veth", "bridge",
// "vxlan"; absent for loopback and physical NICs), the master it is enslaved to (IFLA_MASTER,
// with IFLA_INFO_SLAVE_KIND "bridge" or "bond") and, for a veth, its peer's index and
// namespace id (IFLA_LINK, IFLA_LINK_NETNSID, kernel ≥ 4.0). Decoding only (pure Swift, like
// NetlinkMessage.swift); the queries that fetch it are in NetlinkLinkQuery.swift.

/// RFC 2863's ifOperStatus as the kernel reports it (IFLA_OPERSTATE, IF_OPER_*).
public enum OperState: UInt8, Sendable, CustomStringConvertible {
    case unknown = 0, notPresent = 1, down = 2, lowerLayerDown = 3, testing = 4, dormant = 5, up = 6

    public var description: String {
        switch self {
        case .unknown: return "UNKNOWN"
        case .notPresent: return "NOTPRESENT"
        case .down: return "DOWN"
        case .lowerLayerDown: return "LOWERLAYERDOWN"
        case .testing: return "TESTING"
        case .dormant: return "DORMANT"
        case .up: return "UP"
        }
    }
}

/// One interface as rtnetlink describes it, in the namespace of the socket that asked.
public struct LinkInfo: Equatable, Sendable {
    /// The interface index (ifi_index).
    public var index: Int32
    public var name: String
    /// IFF_* flags (ifi_flags): see `isUp`, `isRunning`.
    public var flags: UInt32
    /// The link layer, ARPHRD_* (ifi_type): 1 for Ethernet, 772 for loopback.
    public var linkType: UInt16
    /// IFLA_MTU, nil when absent.
    public var mtu: UInt32?
    /// IFLA_OPERSTATE (.unknown when absent or out of range).
    public var operState: OperState
    /// IFLA_ADDRESS: the hardware address (6 bytes for Ethernet), empty when absent.
    public var hardwareAddress: [UInt8]
    /// IFLA_INFO_KIND: "veth", "bridge", "vxlan", "bond", ...; nil for devices without
    /// rtnl_link_ops (loopback, most physical NICs).
    public var kind: String?
    /// IFLA_INFO_SLAVE_KIND: the kind of the master when enslaved ("bridge", "bond").
    public var portKind: String?
    /// IFLA_MASTER: the index of the bridge or bond this interface is enslaved to.
    public var masterIndex: Int32?
    /// IFLA_LINK: for a veth its peer's index (in the peer's namespace); for stacked devices
    /// (vlan, macvlan) the lower device. nil when the kernel omits it (it equals `index`).
    public var linkIndex: Int32?
    /// IFLA_LINK_NETNSID: the namespace id (in this namespace's id space) of where `linkIndex`
    /// lives; nil when it is this namespace.
    public var linkNamespaceID: Int32?

    public init(index: Int32, name: String, flags: UInt32 = 0, linkType: UInt16 = Netlink.hardwareEther,
                mtu: UInt32? = nil, operState: OperState = .unknown, hardwareAddress: [UInt8] = [],
                kind: String? = nil, portKind: String? = nil, masterIndex: Int32? = nil,
                linkIndex: Int32? = nil, linkNamespaceID: Int32? = nil) {
        self.index = index
        self.name = name
        self.flags = flags
        self.linkType = linkType
        self.mtu = mtu
        self.operState = operState
        self.hardwareAddress = hardwareAddress
        self.kind = kind
        self.portKind = portKind
        self.masterIndex = masterIndex
        self.linkIndex = linkIndex
        self.linkNamespaceID = linkNamespaceID
    }

    /// Administratively up (IFF_UP).
    public var isUp: Bool { flags & Netlink.interfaceUp != 0 }
    /// Operationally up (IFF_RUNNING: carrier and not dormant).
    public var isRunning: Bool { flags & Netlink.interfaceRunning != 0 }
    /// Carrier (IFF_LOWER_UP).
    public var hasCarrier: Bool { flags & Netlink.interfaceLowerUp != 0 }
    /// An Ethernet link layer (ARPHRD_ETHER): what a bridge port must be. Loopback, tun,
    /// wireguard, ip tunnels are not.
    public var isEthernet: Bool { linkType == Netlink.hardwareEther }
    /// The loopback device (ARPHRD_LOOPBACK or IFF_LOOPBACK).
    public var isLoopback: Bool { linkType == Netlink.hardwareLoopback || flags & Netlink.interfaceLoopback != 0 }
    /// A veth end (IFLA_INFO_KIND "veth").
    public var isVeth: Bool { kind == "veth" }

    /// Decodes an RTM_NEWLINK or RTM_DELLINK message: an ifinfomsg and IFLA_* attributes.
    /// IFLA_IFNAME is required (the kernel always sends it); unknown attributes are skipped,
    /// known ones of the wrong size are errors.
    public init(message: NetlinkMessage) throws(NetlinkParseError) {
        let payload = message.payload
        guard payload.count >= Netlink.ifinfomsgSize else {
            throw .truncatedPayload(messageType: message.type, size: payload.count, needed: Netlink.ifinfomsgSize)
        }
        let (linkType, index, flags) = payload.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self),
             raw.loadUnaligned(fromByteOffset: 4, as: Int32.self),
             raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        }
        var name: String?
        self.init(index: index, name: "", flags: flags, linkType: linkType)
        for attribute in try message.attributes(after: Netlink.ifinfomsgSize) {
            switch attribute.type {
            case Netlink.attributeName: name = attribute.string()
            case Netlink.attributeMTU: mtu = try attribute.uint32()
            case Netlink.attributeOperState: operState = OperState(rawValue: try attribute.uint8()) ?? .unknown
            case Netlink.attributeAddress: hardwareAddress = attribute.value
            case Netlink.attributeMaster: masterIndex = try attribute.int32()
            case Netlink.attributeLink: linkIndex = try attribute.int32()
            case Netlink.attributeLinkNamespaceID: linkNamespaceID = try attribute.int32()
            case Netlink.attributeLinkInfo:
                for inner in try attribute.nested() {
                    switch inner.type {
                    case Netlink.linkInfoKind: kind = inner.string()
                    case Netlink.linkInfoPortKind: portKind = inner.string()
                    default: continue
                    }
                }
            default: continue
            }
        }
        guard let name else { throw .missingAttribute(messageType: message.type, attribute: Netlink.attributeName) }
        self.name = name
    }
}

/// What the kernel announced on RTMGRP_LINK (or what a resync must repair).
public enum LinkEvent: Equatable, Sendable {
    /// RTM_NEWLINK: a link appeared or changed (name, flags, MTU, operstate, master); the
    /// message carries the whole new state, so a consumer compares with what it knew.
    case newLink(LinkInfo)
    /// RTM_DELLINK: the link is gone (deleted, or moved to another namespace).
    case deletedLink(index: Int32, name: String)
    /// The socket's receive queue overflowed (ENOBUFS): events were lost. Dump the links again
    /// (`LinkMonitor.resync()`) and carry on with the events that follow.
    case resyncNeeded
}

/// Why an interface cannot be a port of swbridge, with the kernel bridge's own reasons
/// (br_add_if in net/bridge/br_if.c refuses loopback and non-Ethernet devices with EINVAL, and
/// a device that already has a master's rx_handler with EBUSY).
public enum BridgePortRefusal: Equatable, Sendable, CustomStringConvertible {
    /// The loopback device.
    case loopback(name: String)
    /// Not an Ethernet link layer (tun, wireguard, ip tunnels): no MAC addresses to learn.
    case notEthernet(name: String, linkType: UInt16)
    /// Enslaved to a kernel bridge or bond: the kernel's rx_handler would take its frames too.
    case enslaved(name: String, masterIndex: Int32, masterName: String?, masterKind: String?)

    public var description: String {
        switch self {
        case .loopback(let name):
            return "'\(name)' is the loopback interface, not Ethernet: it cannot be a bridge port"
        case .notEthernet(let name, let type):
            return "'\(name)' is not an Ethernet interface (link/\(LinkInfo.linkTypeName(type))): it cannot be a bridge port"
        case .enslaved(let name, let index, let masterName, let kind):
            let master = masterName.map { "'\($0)' (ifindex \(index))" } ?? "ifindex \(index)"
            return "'\(name)' is already enslaved to \(kind.map { "kernel \($0) " } ?? "")\(master): release it first (ip link set \(name) nomaster)"
        }
    }
}

extension LinkInfo {
    /// Why this interface cannot be a swbridge port, or nil when it can. `masterName` names
    /// the master in the message (from a query of `masterIndex`), when known.
    public func bridgePortRefusal(masterName: String? = nil) -> BridgePortRefusal? {
        if isLoopback { return .loopback(name: name) }
        guard isEthernet, hardwareAddress.isEmpty || hardwareAddress.count == 6 else {
            return .notEthernet(name: name, linkType: linkType)
        }
        if let masterIndex {
            return .enslaved(name: name, masterIndex: masterIndex, masterName: masterName, masterKind: portKind)
        }
        return nil
    }

    /// iproute2's name of an ARPHRD_* link type ("ether", "loopback", "none", "ipip", ...).
    public static func linkTypeName(_ type: UInt16) -> String {
        switch type {
        case 1: return "ether"
        case 772: return "loopback"
        case 768: return "ipip"
        case 769: return "tunnel6"
        case 776: return "sit"
        case 778: return "gre"
        case 823: return "gre6"
        case 0xFFFE: return "none"
        case 0xFFFF: return "void"
        default: return "\(type)"
        }
    }
}
