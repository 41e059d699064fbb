// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// FrameSender: one unbound AF_PACKET socket that sends whole frames the bridge itself makes
// (BPDUs, IGMP/MLD queries) on any interface of its namespace, by ifindex. It receives
// nothing (protocol 0), so it costs no ring and no socket buffer per port, and the forwarding
// threads keep their sockets to themselves. Frames sent here are PACKET_OUTGOING to the
// ports' receive sockets, which skip them.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import SystemCalls

public final class FrameSender: @unchecked Sendable {
    private let fd: Int32

    public init() throws(PacketIOError) {
        let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw .system(IOError(call: "socket(AF_PACKET)", errno: errno)) }
        fd = s
    }

    deinit { Glibc.close(fd) }

    /// Sends one whole Ethernet frame out of interface `ifindex`.
    public func send(_ frame: UnsafeRawBufferPointer, ifindex: Int32) throws(PacketIOError) {
        guard frame.count >= 14, let base = frame.baseAddress else { return }
        var sll = sockaddr_ll()
        sll.sll_family = UInt16(AF_PACKET)
        sll.sll_ifindex = ifindex
        sll.sll_halen = 6
        withUnsafeMutableBytes(of: &sll.sll_addr) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: 6)) }
        let n = withUnsafePointer(to: &sll) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, base, frame.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
            }
        }
        guard n == frame.count else { throw .system(IOError(call: "sendto", subject: "ifindex \(ifindex)", errno: n < 0 ? errno : EMSGSIZE)) }
    }

    public func send(_ frame: [UInt8], ifindex: Int32) throws(PacketIOError) {
        var failure: PacketIOError?
        frame.withUnsafeBytes { b in
            do throws(PacketIOError) { try send(b, ifindex: ifindex) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
#endif
