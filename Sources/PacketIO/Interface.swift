// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Interface: what PacketIO needs to know about a network device (index, MTU, MAC address,
// admin and operational state) and the list of devices, through ioctl and if_nameindex only:
// no netlink, no shelling out. Every query applies to the calling thread's network namespace.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore
import SystemCalls

/// A network interface of the calling thread's network namespace.
public struct Interface: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let index: Int32

    public init(name: String, index: Int32) {
        self.name = name
        self.index = index
    }

    /// Looks the interface up by name.
    public init(named name: String) throws(PacketIOError) {
        self.init(name: name, index: try Interface.index(of: name))
    }

    public var description: String { "\(name) (index \(index))" }

    /// All interfaces of the namespace, by index.
    public static func all() throws(PacketIOError) -> [Interface] {
        guard let list = if_nameindex() else {
            throw .system(IOError(call: "if_nameindex", errno: errno))
        }
        defer { if_freenameindex(list) }
        var result: [Interface] = []
        var p = list
        while p.pointee.if_index != 0, let cName = p.pointee.if_name {
            result.append(Interface(name: String(cString: cName), index: Int32(bitPattern: p.pointee.if_index)))
            p += 1
        }
        return result.sorted { $0.index < $1.index }
    }

    /// The interface index of `name`.
    public static func index(of name: String) throws(PacketIOError) -> Int32 {
        var ifr = try request(name)
        try ioctl(name, UInt(SIOCGIFINDEX), "SIOCGIFINDEX", &ifr)
        return ifr.ifr_ifru.ifru_ivalue
    }

    /// The current name of the interface with `index`: an open socket is bound to an index, and
    /// follows the interface through a rename, so what it is bound to is looked up this way.
    public static func name(ofIndex index: Int32) throws(PacketIOError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE))
        guard if_indextoname(UInt32(bitPattern: index), &buffer) != nil else {
            let e = errno
            if e == ENXIO || e == ENODEV { throw .noSuchInterface("index \(index)") }
            throw .system(IOError(call: "if_indextoname", subject: "index \(index)", errno: e))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether an interface with `index` exists (under any name).
    public static func exists(index: Int32) -> Bool { (try? name(ofIndex: index)) != nil }

    /// The MTU (payload bytes after the Ethernet header).
    public static func mtu(of name: String) throws(PacketIOError) -> Int {
        var ifr = try request(name)
        try ioctl(name, UInt(SIOCGIFMTU), "SIOCGIFMTU", &ifr)
        return Int(ifr.ifr_ifru.ifru_mtu)
    }

    /// The hardware address.
    public static func macAddress(of name: String) throws(PacketIOError) -> MACAddress {
        var ifr = try request(name)
        try ioctl(name, UInt(SIOCGIFHWADDR), "SIOCGIFHWADDR", &ifr)
        return withUnsafeBytes(of: ifr.ifr_ifru.ifru_hwaddr.sa_data) { MACAddress(bytes: $0, offset: 0) }
    }

    /// Administrative (IFF_UP) and operational (IFF_RUNNING: carrier and not dormant) state.
    public static func state(of name: String) throws(PacketIOError) -> (adminUp: Bool, operationalUp: Bool) {
        var ifr = try request(name)
        try ioctl(name, UInt(SIOCGIFFLAGS), "SIOCGIFFLAGS", &ifr)
        let flags = Int32(UInt16(bitPattern: ifr.ifr_ifru.ifru_flags))
        return (flags & Int32(IFF_UP) != 0, flags & Int32(IFF_RUNNING) != 0)
    }

    /// An `ifreq` carrying `name`; names longer than IFNAMSIZ - 1 cannot exist.
    static func request(_ name: String) throws(PacketIOError) -> ifreq {
        var ifr = ifreq()
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count < Int(IFNAMSIZ), !bytes.contains(0) else { throw .noSuchInterface(name) }
        withUnsafeMutableBytes(of: &ifr.ifr_ifrn) { raw in
            raw.copyBytes(from: bytes)
        }
        return ifr
    }

    /// One ioctl on a throwaway datagram socket (any socket answers interface ioctls).
    static func ioctl(_ name: String, _ request: UInt, _ label: String, _ ifr: inout ifreq) throws(PacketIOError) {
        let fd = try packetSystemCall("socket(AF_INET, SOCK_DGRAM)", on: name) {
            socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { close(fd) }
        do throws(IOError) {
            try systemCall(label, on: name) { clp_ioctl_ifreq(fd, request, &ifr) }
        } catch {
            if error.errno == ENODEV || error.errno == ENXIO { throw .noSuchInterface(name) }
            throw .system(error)
        }
    }
}
#endif
