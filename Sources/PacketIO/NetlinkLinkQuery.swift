// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkLinkQuery: RTM_GETLINK (rtnetlink(7)) for one interface by index or name, or a dump
// of all of them, in the namespace of the socket that asks; with IFLA_TARGET_NETNSID (kernel
// ≥ 4.20, CAP_NET_ADMIN over the target) an interface of another namespace by its namespace id.
// Statistics are left out of the replies (IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS, kernel ≥
// 4.19; older kernels ignore the bit). ENODEV from the kernel is `noSuchInterface`.

#if canImport(Glibc)
import Glibc
import SystemCalls

extension NetlinkSocket {
    /// The interface with index `ifindex`; with `targetNamespaceID`, the one of that index in
    /// the namespace of that id (as this socket's namespace numbers it).
    public func link(ifindex: Int32, targetNamespaceID: Int32? = nil) throws(NetlinkError) -> LinkInfo {
        try oneLink(subject: "ifindex \(ifindex)") { builder in
            builder.appendLinkHeader(index: ifindex)
            if let targetNamespaceID { builder.appendAttribute(Netlink.attributeTargetNamespaceID, int32: targetNamespaceID) }
        }
    }

    /// The interface called `name`.
    public func link(name: String) throws(NetlinkError) -> LinkInfo {
        // Names are 1...15 bytes without NUL or '/' (dev_valid_name); anything else cannot exist.
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count < 16, !bytes.contains(0) else { throw .noSuchInterface(name) }
        return try oneLink(subject: name) { builder in
            builder.appendLinkHeader()
            builder.appendAttribute(Netlink.attributeName, string: name)
        }
    }

    /// Every interface of the socket's namespace (an RTM_GETLINK dump), by index; with
    /// `targetNamespaceID`, of the namespace of that id.
    public func links(targetNamespaceID: Int32? = nil) throws(NetlinkError) -> [LinkInfo] {
        let replies = try dump(Netlink.getLink, label: "RTM_GETLINK") { builder in
            builder.appendLinkHeader()
            builder.appendAttribute(Netlink.attributeExtMask, uint32: Netlink.filterSkipStats)
            if let targetNamespaceID { builder.appendAttribute(Netlink.attributeTargetNamespaceID, int32: targetNamespaceID) }
        }
        do {
            return try replies.filter { $0.type == Netlink.newLink }
                .map { (m) throws(NetlinkParseError) in try LinkInfo(message: m) }
                .sorted { $0.index < $1.index }
        } catch { throw .malformed(error) }
    }

    /// Why interface `name` cannot be a swbridge port (loopback, not Ethernet, enslaved to a
    /// kernel bridge or bond, with the master's name), or nil when it can.
    public func bridgePortRefusal(name: String) throws(NetlinkError) -> BridgePortRefusal? {
        let info = try link(name: name)
        let masterName = info.masterIndex.flatMap { try? link(ifindex: $0).name }
        return info.bridgePortRefusal(masterName: masterName)
    }

    private func oneLink(subject: String, _ fill: (inout NetlinkMessageBuilder) -> Void) throws(NetlinkError) -> LinkInfo {
        let replies: [NetlinkMessage]
        do {
            replies = try request(Netlink.getLink, label: "RTM_GETLINK", subject: subject) { builder in
                fill(&builder)
                builder.appendAttribute(Netlink.attributeExtMask, uint32: Netlink.filterSkipStats)
            }
        } catch .system(let e) where e.errno == ENODEV {
            throw .noSuchInterface(subject)
        }
        guard let reply = replies.first(where: { $0.type == Netlink.newLink }) else {
            throw .malformed(.missingAttribute(messageType: Netlink.getLink, attribute: Netlink.attributeName))
        }
        do { return try LinkInfo(message: reply) } catch { throw .malformed(error) }
    }
}

extension LinkInfo {
    /// The interface with index `ifindex` in the calling thread's namespace (one RTM_GETLINK
    /// on a socket opened for it).
    public static func query(ifindex: Int32) throws(NetlinkError) -> LinkInfo {
        try NetlinkSocket().link(ifindex: ifindex)
    }

    /// The interface called `name` in the calling thread's namespace.
    public static func query(name: String) throws(NetlinkError) -> LinkInfo {
        try NetlinkSocket().link(name: name)
    }

    /// Every interface of the calling thread's namespace, by index.
    public static func all() throws(NetlinkError) -> [LinkInfo] {
        try NetlinkSocket().links()
    }
}
#endif
