// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkVXLAN: the kernel's VXLAN device managed through rtnetlink, in the namespace of the
// socket (no `ip` command): create it (down, learning on), add and remove the all-zeros FDB
// entries that make it replicate broadcast, unknown unicast and multicast to each remote VTEP
// (head-end replication, `bridge fdb append 00:00:00:00:00:00 dev vx0 dst IP`), bring it up,
// read its forwarding table (which remote VTEP the kernel learned each inner MAC behind), and
// delete it. The messages themselves are NetlinkVXLANMessages.swift (pure, tested byte for
// byte); this file is the socket side and the address text.
//
// Creating and deleting need CAP_NET_ADMIN in the namespace; reading the table does not.
// The kernel encapsulates and decapsulates; swbridge only configures the device and forwards
// frames to and from it through an ordinary port.

#if canImport(Glibc)
import Glibc
import SystemCalls

extension VXLANAddress: CustomStringConvertible {
    /// Parses IPv4 dotted quad or IPv6 text (inet_pton); nil when it is neither.
    public init?(parsing text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    /// The address as `ip` prints it (inet_ntop).
    public var description: String {
        var out = [CChar](repeating: 0, count: 64)
        let family = isIPv6 ? AF_INET6 : AF_INET
        let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) } != nil
        guard ok else { return bytes.map(String.init).joined(separator: ".") }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The interface of this namespace that holds this address (getifaddrs), or nil: the
    /// underlay whose MTU the overlay's is derived from.
    public var interfaceHoldingIt: String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr, let name = entry.pointee.ifa_name else { continue }
            let family = Int32(sa.pointee.sa_family)
            var held: [UInt8] = []
            if family == AF_INET && !isIPv6 {
                held = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin_addr) { Array($0) } }
            } else if family == AF_INET6 && isIPv6 {
                held = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) } }
            }
            if held == bytes { return String(cString: name) }
        }
        return nil
    }
}

/// The identity of a network namespace as text, to tell whether a client and a bridge share one.
public enum VXLANNamespace {
    /// "DEV:INODE" of /proc/thread-self/ns/net (the calling thread's namespace); "" if unreadable.
    public static func current() -> String {
        var st = stat()
        guard stat("/proc/thread-self/ns/net", &st) == 0 else { return "" }
        return "\(st.st_dev):\(st.st_ino)"
    }
}

extension NetlinkSocket {
    /// Creates the VXLAN device `spec` describes, adds one all-zeros FDB entry per remote and
    /// brings it up. Returns its ifindex. On any failure after the device exists it is deleted
    /// again, so a refused `vxlan add` leaves nothing behind.
    public func createVXLAN(_ spec: VXLANDeviceSpec) throws(NetlinkError) -> Int32 {
        _ = try request(Netlink.newLink, label: "RTM_NEWLINK", subject: spec.name,
                        flags: NetlinkVXLAN.flagCreate | NetlinkVXLAN.flagExclusive) { b in spec.appendNewLink(to: &b) }
        let ifindex: Int32
        do {
            ifindex = try link(name: spec.name).index
            for remote in spec.remotes { try appendVXLANDestination(ifindex: ifindex, remote, subject: spec.name) }
            try setLinkUp(ifindex: ifindex, subject: spec.name)
        } catch {
            _ = try? deleteLink(name: spec.name)
            throw error
        }
        return ifindex
    }

    /// Adds remote VTEP `remote` to the destinations of broadcast, unknown unicast and
    /// multicast (`bridge fdb append 00:00:00:00:00:00 dev IF dst REMOTE`).
    public func appendVXLANDestination(ifindex: Int32, _ remote: VXLANAddress, subject: String = "") throws(NetlinkError) {
        _ = try request(NetlinkVXLAN.newNeighbour, label: "RTM_NEWNEIGH", subject: subject,
                        flags: NetlinkVXLAN.flagCreate | NetlinkVXLAN.flagAppend) { b in
            VXLANFDBEntry.appendRequest(to: &b, mac: [0, 0, 0, 0, 0, 0], destination: remote, ifindex: ifindex)
        }
    }

    /// Removes remote VTEP `remote` from the default destinations.
    public func deleteVXLANDestination(ifindex: Int32, _ remote: VXLANAddress, subject: String = "") throws(NetlinkError) {
        _ = try request(NetlinkVXLAN.deleteNeighbour, label: "RTM_DELNEIGH", subject: subject) { b in
            VXLANFDBEntry.appendRequest(to: &b, mac: [0, 0, 0, 0, 0, 0], destination: remote, ifindex: ifindex)
        }
    }

    /// The forwarding table of VXLAN device `ifindex` (`bridge fdb show dev IF`): learned and
    /// permanent entries, the all-zeros defaults included.
    public func vxlanFDB(ifindex: Int32) throws(NetlinkError) -> [VXLANFDBEntry] {
        let replies = try dump(NetlinkVXLAN.getNeighbour, label: "RTM_GETNEIGH") { b in
            VXLANFDBEntry.appendDumpRequest(to: &b, ifindex: ifindex)
        }
        do { return try VXLANFDBEntry.entries(in: replies, ifindex: ifindex) } catch { throw .malformed(error) }
    }

    /// Sets IFF_UP on interface `ifindex` (`ip link set IF up`).
    public func setLinkUp(ifindex: Int32, subject: String = "") throws(NetlinkError) {
        _ = try request(Netlink.newLink, label: "RTM_NEWLINK", subject: subject) { b in
            b.appendLinkHeader(index: ifindex, flags: Netlink.interfaceUp, change: Netlink.interfaceUp)
        }
    }

    /// Deletes interface `name` (`ip link del NAME`); ENODEV is `noSuchInterface`.
    public func deleteLink(name: String) throws(NetlinkError) {
        do {
            _ = try request(Netlink.deleteLink, label: "RTM_DELLINK", subject: name) { b in
                b.appendLinkHeader()
                b.appendAttribute(Netlink.attributeName, string: name)
            }
        } catch .system(let e) where e.errno == ENODEV {
            throw .noSuchInterface(name)
        }
    }
}
#endif
