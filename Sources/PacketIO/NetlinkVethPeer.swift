// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkVethPeer: "where is the other end?" of a veth (what `ethtool -S vethX | grep
// peer_ifindex` and `ip -d link` answer), through rtnetlink only.
//
// The veth's RTM_NEWLINK carries its peer's index (IFLA_LINK) and, when the peer lives in
// another namespace, that namespace's id (IFLA_LINK_NETNSID, kernel ≥ 4.0): a number local to
// the asking namespace, which the kernel assigns when it first reports the link (so the peer's
// namespace always has one by the time we read it). To name it, every file in /run/netns (where
// `ip netns add` bind-mounts namespaces) is opened and asked with RTM_GETNSID + NETNSA_FD
// (kernel ≥ 4.0) for its id in our namespace; ids are never assigned by asking (no
// RTM_NEWNSID), because the one we look for already exists. When the peer is in our own
// namespace there is no id: our namespace's name is found by comparing the device and inode of
// /proc/thread-self/ns/net (this thread's namespace, not the process's) with each /run/netns
// file's. The peer's name comes from RTM_GETLINK with IFLA_TARGET_NETNSID (kernel ≥ 4.20, needs
// CAP_NET_ADMIN over the peer's namespace); when that is refused the name is nil and the index
// is still known. A namespace not bind-mounted under /run/netns (a container's, a process's)
// has no name: `namespaceName` is nil, `namespaceID` still says it is elsewhere.

#if canImport(Glibc)
import Glibc
import SystemCalls

/// The other end of a veth, as seen from the namespace that asked.
public struct VethPeer: Equatable, Sendable {
    /// The peer's interface index, in its own namespace.
    public var ifindex: Int32
    /// The peer's name; nil when it could not be asked (no IFLA_TARGET_NETNSID support or
    /// permission).
    public var name: String?
    /// The peer namespace's id in the asking namespace (IFLA_LINK_NETNSID); nil when the peer
    /// is in the same namespace.
    public var namespaceID: Int32?
    /// The peer namespace's name under /run/netns, when it has one (also for the same namespace).
    public var namespaceName: String?

    public init(ifindex: Int32, name: String?, namespaceID: Int32?, namespaceName: String?) {
        self.ifindex = ifindex
        self.name = name
        self.namespaceID = namespaceID
        self.namespaceName = namespaceName
    }

    /// The peer of veth `name` in the calling thread's namespace; nil when it is not a veth.
    public static func query(name: String) throws(NetlinkError) -> VethPeer? {
        let socket = try NetlinkSocket()
        return try of(try socket.link(name: name), using: socket)
    }

    /// The peer of the veth with index `ifindex`; nil when it is not a veth.
    public static func query(ifindex: Int32) throws(NetlinkError) -> VethPeer? {
        let socket = try NetlinkSocket()
        return try of(try socket.link(ifindex: ifindex), using: socket)
    }

    /// The peer of `link` (from a query or a link event of `socket`'s namespace); nil when
    /// `link` is not a veth or its peer is gone (IFLA_LINK absent).
    public static func of(_ link: LinkInfo, using socket: NetlinkSocket) throws(NetlinkError) -> VethPeer? {
        guard link.isVeth, let peerIndex = link.linkIndex, peerIndex > 0 else { return nil }
        guard let nsid = link.linkNamespaceID, nsid >= 0 else {
            let name = try? socket.link(ifindex: peerIndex).name
            return VethPeer(ifindex: peerIndex, name: name, namespaceID: nil,
                            namespaceName: NetworkNamespaceNames.current())
        }
        let name = try? socket.link(ifindex: peerIndex, targetNamespaceID: nsid).name
        return VethPeer(ifindex: peerIndex, name: name, namespaceID: nsid,
                        namespaceName: try NetworkNamespaceNames.name(ofNamespaceID: nsid, using: socket))
    }
}

/// Names of network namespaces: the files `ip netns add` bind-mounts in /run/netns.
public enum NetworkNamespaceNames {
    /// Where named namespaces live.
    public static let directory = "/run/netns"

    /// The names under /run/netns, sorted; empty when the directory does not exist.
    public static func all() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The name of the calling thread's namespace: the /run/netns file with the same device
    /// and inode as /proc/thread-self/ns/net (kernel ≥ 3.17); nil when none is.
    public static func current() -> String? {
        guard let own = identity("/proc/thread-self/ns/net") else { return nil }
        return all().first { identity("\(directory)/\($0)") == own }
    }

    /// The name whose namespace has id `nsid` in `socket`'s namespace (RTM_GETNSID with
    /// NETNSA_FD for each /run/netns file); nil when none has it.
    public static func name(ofNamespaceID nsid: Int32, using socket: NetlinkSocket) throws(NetlinkError) -> String? {
        for name in all() {
            let fd = open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }  // removed meanwhile, or not ours to open
            defer { Glibc.close(fd) }
            // A file that is not a namespace (EINVAL) is skipped, not fatal.
            if let id = try? namespaceID(ofFileDescriptor: fd, name: name, using: socket), id == nsid {
                return name
            }
        }
        return nil
    }

    /// The id `socket`'s namespace gives the namespace open at `fd`; nil when none is assigned.
    public static func namespaceID(ofFileDescriptor fd: Int32, name: String,
                                   using socket: NetlinkSocket) throws(NetlinkError) -> Int32? {
        let replies = try socket.request(Netlink.getNamespaceID, label: "RTM_GETNSID", subject: name) { builder in
            builder.appendGenericHeader()
            builder.appendAttribute(Netlink.namespaceFDAttribute, uint32: UInt32(bitPattern: fd))
        }
        do {
            for reply in replies where reply.type == Netlink.newNamespaceID {
                for attribute in try reply.attributes(after: 4) where attribute.type == Netlink.namespaceIDAttribute {
                    let id = try attribute.int32()
                    return id == Netlink.namespaceIDNotAssigned ? nil : id
                }
            }
        } catch { throw .malformed(error) }
        return nil
    }

    /// Device and inode: a namespace's identity (nsfs files compare equal through bind mounts).
    private static func identity(_ path: String) -> [UInt64]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [UInt64(st.st_dev), UInt64(st.st_ino)]
    }
}
#endif
