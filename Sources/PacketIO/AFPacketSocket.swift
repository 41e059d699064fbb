// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// AFPacketSocket: the system calls that turn a fresh AF_PACKET socket into a bridge port,
// in the order the kernel requires: version, vnet header and reserve before the ring, ring
// before mmap, bind to one interface, then promiscuity as a socket membership (so it is
// undone when the socket closes, even if the process dies). Nothing here runs per frame.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import SystemCalls

/// Thin wrappers over the setsockopt/getsockopt calls of an AF_PACKET socket.
struct AFPacketSocket {
    let fd: Int32
    let interface: String

    /// A raw packet socket that receives nothing until `bind` (protocol 0), so no frame lands
    /// before the ring is in place.
    static func open(interface: String) throws(PacketIOError) -> AFPacketSocket {
        let fd = try packetSystemCall("socket(AF_PACKET, SOCK_RAW)", on: interface) {
            socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        return AFPacketSocket(fd: fd, interface: interface)
    }

    func set<T>(_ option: Int32, _ value: T, _ label: String) throws(PacketIOError) {
        var v = value
        try packetSystemCall("setsockopt(\(label))", on: interface) {
            withUnsafePointer(to: &v) { setsockopt(fd, SOL_PACKET, option, $0, socklen_t(MemoryLayout<T>.size)) }
        }
    }

    func setInt(_ option: Int32, _ value: Int32, _ label: String) throws(PacketIOError) {
        try set(option, value, label)
    }

    /// SO_RCVBUFFORCE (past net.core.rmem_max; needs CAP_NET_ADMIN), else SO_RCVBUF (capped
    /// at rmem_max). Best effort: a smaller buffer only means large frames are lost sooner.
    func setReceiveBuffer(_ bytes: Int) {
        var v = Int32(clamping: bytes / 2)  // the kernel doubles it for bookkeeping
        let size = socklen_t(MemoryLayout<Int32>.size)
        if (try? packetSystemCall("setsockopt(SO_RCVBUFFORCE)", on: interface, { setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, size) })) == nil {
            _ = try? packetSystemCall("setsockopt(SO_RCVBUF)", on: interface) { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, size) }
        }
    }

    /// Binds to `ifindex` for every protocol (ETH_P_ALL in network byte order), or for
    /// `protocol` (0: receive nothing; the socket only sends, on that interface).
    func bind(ifindex: Int32, protocol proto: UInt16 = UInt16(ETH_P_ALL)) throws(PacketIOError) {
        var sll = sockaddr_ll()
        sll.sll_family = UInt16(AF_PACKET)
        sll.sll_protocol = proto.bigEndian
        sll.sll_ifindex = ifindex
        try packetSystemCall("bind", on: interface) {
            withUnsafePointer(to: &sll) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
                }
            }
        }
    }

    /// Promiscuous mode as a membership: the kernel drops it when the socket goes away.
    func addPromiscuousMembership(ifindex: Int32) throws(PacketIOError) {
        var mreq = packet_mreq()
        mreq.mr_ifindex = ifindex
        mreq.mr_type = UInt16(PACKET_MR_PROMISC)
        try set(PACKET_ADD_MEMBERSHIP, mreq, "PACKET_ADD_MEMBERSHIP")
    }

    /// Reads (and thereby resets) the kernel's ring statistics: packets, drops and (V3 only)
    /// freezes. PACKET_STATISTICS has the `tpacket_stats` layout for V1/V2 and
    /// `tpacket_stats_v3` for V3.
    func readStatistics(v3: Bool) -> (packets: UInt32, drops: UInt32, freezes: UInt32)? {
        if v3 {
            var st = tpacket_stats_v3()
            var len = socklen_t(MemoryLayout<tpacket_stats_v3>.size)
            let ok = (try? packetSystemCall("getsockopt(PACKET_STATISTICS)", on: interface) {
                withUnsafeMutablePointer(to: &st) { getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, $0, &len) }
            }) != nil
            return ok ? (st.tp_packets, st.tp_drops, st.tp_freeze_q_cnt) : nil
        }
        var st = tpacket_stats()
        var len = socklen_t(MemoryLayout<tpacket_stats>.size)
        let ok = (try? packetSystemCall("getsockopt(PACKET_STATISTICS)", on: interface) {
            withUnsafeMutablePointer(to: &st) { getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, $0, &len) }
        }) != nil
        return ok ? (st.tp_packets, st.tp_drops, 0) : nil
    }

    /// The id of the PACKET_FANOUT group the socket joined (getsockopt returns id | mode << 16
    /// | flags << 24; the kernel's first unique id is 0, so only call this after joining).
    func fanoutGroupID() throws(PacketIOError) -> UInt16 {
        var value: UInt32 = 0
        var len = socklen_t(MemoryLayout<UInt32>.size)
        try packetSystemCall("getsockopt(PACKET_FANOUT)", on: interface) {
            getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &value, &len)
        }
        return UInt16(truncatingIfNeeded: value)
    }
}
#endif
