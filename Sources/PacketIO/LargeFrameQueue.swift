// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// LargeFrameQueue: frames too large for a V2 ring slot, read from the socket's receive queue.
//
// Why: a TPACKET_V2 slot has a fixed size, and over veth with default offloads TCP arrives as
// GSO super-frames of up to 64 KiB. Slots sized for those (~66 KiB) make a ring of a few
// hundred frames, which a burst of 64-byte frames overruns in a millisecond. So the slots are
// sized for ordinary frames and PACKET_COPY_THRESH is set: when a frame does not fit its slot,
// the kernel still fills the slot (truncated, flagged TP_STATUS_COPY, in ring order) and
// queues the whole frame on the socket's receive queue, before the slot is handed over. Slots
// flagged COPY and queued frames therefore pair up in order: for each such slot the ring
// takes exactly one datagram from the queue (recvmsg, MSG_DONTWAIT), also when it skips the
// frame. The kernel stops queuing while SO_RCVBUF is full; such a slot has no COPY flag and
// counts as truncated.
//
// recvmsg writes the vnet header (PACKET_VNET_HDR) in front of the frame and reports the
// stripped VLAN tag and the status flags in a PACKET_AUXDATA message, so a queued frame looks
// exactly like one read in place: [tag headroom][vnet header][frame]. Buffers are allocated
// once; a ForwardingPass pass can hold `bufferCount` of them, and they are all free again at
// `releaseAll` (the ring's release). Nothing here allocates after init.

#if canImport(Glibc)
import Glibc
import CLinuxPacket

final class LargeFrameQueue {
    /// Bytes per buffer: tag headroom, vnet header and the largest frame, cache-line rounded.
    static let bufferSize = (RxRing.tagHeadroom + RxRing.vnetLength + RxRingV2.largestFrame + 63) & ~63

    let fd: Int32
    let bufferCount: Int
    let vnetHeader: Bool
    private let buffers: UnsafeMutableRawPointer
    private let message: UnsafeMutablePointer<msghdr>
    private let vector: UnsafeMutablePointer<iovec>
    private let control: UnsafeMutableRawPointer
    private let controlSize: Int
    /// Buffers handed out since the last `releaseAll`.
    private(set) var used = 0

    /// A frame read from the queue: where it starts (the vnet header, if any, right before)
    /// and what AUXDATA said about it.
    struct Frame {
        var start: UnsafeMutableRawPointer
        var count: Int
        var status: UInt32
        var tci: UInt16
        var tpid: UInt16
    }

    init(fd: Int32, bufferCount: Int, vnetHeader: Bool) {
        self.fd = fd
        self.bufferCount = bufferCount
        self.vnetHeader = vnetHeader
        buffers = .allocate(byteCount: bufferCount * Self.bufferSize, alignment: 64)
        message = .allocate(capacity: 1)
        vector = .allocate(capacity: 1)
        controlSize = clp_cmsg_space(MemoryLayout<tpacket_auxdata>.size)
        control = .allocate(byteCount: controlSize, alignment: 16)
    }

    deinit {
        buffers.deallocate()
        message.deallocate()
        vector.deallocate()
        control.deallocate()
    }

    var hasFreeBuffer: Bool { used < bufferCount }

    /// Times the queue was found out of step with the ring and emptied (see `read`).
    private(set) var resynchronisations: UInt64 = 0

    /// Takes the next queued frame into a free buffer (the caller checked `hasFreeBuffer`);
    /// `length` is the slot's tp_len, the frame's length. Nil when the frame cannot be had:
    /// the datagram is consumed anyway, so slots and queue stay paired.
    ///
    /// A pending socket error (ENETDOWN when the port goes down) makes recvmsg fail once
    /// without dequeuing: the call is repeated. Should the queue ever be out of step with the
    /// ring anyway (empty when a slot says COPY, or a frame of another length), it is emptied:
    /// the next COPY slots then find it empty and count as lost until the two agree again,
    /// rather than every later slot being paired with the wrong frame.
    func read(length: Int) -> Frame? {
        let buffer = buffers + used * Self.bufferSize
        let headroom = RxRing.tagHeadroom
        let vnet = vnetHeader ? RxRing.vnetLength : 0
        var n = -1
        var e: Int32 = 0
        // errno is read once, right after the call (the SystemCalls rules, inline: this runs
        // per large frame). EINTR and a pending socket error are retried, a bounded few times.
        for _ in 0..<3 {
            vector.pointee = iovec(iov_base: buffer + headroom, iov_len: Self.bufferSize - headroom)
            message.pointee = msghdr()
            message.pointee.msg_iov = vector
            message.pointee.msg_iovlen = 1
            message.pointee.msg_control = control
            message.pointee.msg_controllen = controlSize
            n = recvmsg(fd, message, Int32(MSG_DONTWAIT))
            if n >= 0 { break }
            e = errno
            Self.checkNotABug(e, "recvmsg")
            if e == EAGAIN || e == EWOULDBLOCK { break }
        }
        if n < 0 {
            if e == EAGAIN || e == EWOULDBLOCK { resynchronisations &+= 1 }  // nothing to pair with
            return nil
        }
        // MSG_TRUNC: larger than a buffer (over 64 KiB: BIG TCP); consumed, lost.
        if message.pointee.msg_flags & Int32(MSG_TRUNC) != 0 { return nil }
        guard n > vnet, n - vnet == length else {
            drain()
            return nil
        }
        var frame = Frame(start: buffer + headroom + vnet, count: n - vnet, status: 0, tci: 0, tpid: 0)
        var c = clp_cmsg_firsthdr(message)
        while let h = c {
            if h.pointee.cmsg_level == SOL_PACKET && h.pointee.cmsg_type == PACKET_AUXDATA {
                let aux = UnsafeRawPointer(clp_cmsg_data(h)!).loadUnaligned(as: tpacket_auxdata.self)
                frame.status = aux.tp_status
                frame.tci = aux.tp_vlan_tci
                frame.tpid = aux.tp_vlan_tpid
            }
            c = clp_cmsg_nxthdr(message, h)
        }
        used += 1
        return frame
    }

    /// Consumes one queued datagram without keeping it (a skipped slot's partner).
    func discard() {
        for _ in 0..<3 {
            if recv(fd, nil, 0, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC)) >= 0 { return }
            let e = errno
            Self.checkNotABug(e, "recv")
            if e == EAGAIN || e == EWOULDBLOCK { return }
        }
    }

    /// EBADF and EFAULT are swbridge bugs (a closed socket, a bad buffer), not conditions.
    @inline(__always)
    static func checkNotABug(_ e: Int32, _ call: StaticString) {
        precondition(e != EBADF && e != EFAULT, "\(call) failed with errno \(e): a swbridge bug")
    }

    /// Empties the queue (out of step with the ring).
    private func drain() {
        resynchronisations &+= 1
        for _ in 0..<100_000 {
            if recv(fd, nil, 0, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC)) >= 0 { continue }
            let e = errno
            Self.checkNotABug(e, "recv")
            if e == EINTR || e == ENETDOWN || e == ENXIO { continue }  // a pending error, once
            return
        }
    }

    /// Every buffer is free again (the bridge is done with the frames in them).
    func releaseAll() { used = 0 }
}
#endif
