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
// once; a Forwarder pass can hold `bufferCount` of them, and they are all free again at
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

    /// Takes the next queued frame into a free buffer (the caller checked `hasFreeBuffer`).
    /// Nil when the queue is unexpectedly empty or the frame did not fit: one datagram is
    /// consumed either way, so slots and queue stay paired.
    func read() -> Frame? {
        let buffer = buffers + used * Self.bufferSize
        let headroom = RxRing.tagHeadroom
        vector.pointee = iovec(iov_base: buffer + headroom, iov_len: Self.bufferSize - headroom)
        message.pointee = msghdr()
        message.pointee.msg_iov = vector
        message.pointee.msg_iovlen = 1
        message.pointee.msg_control = control
        message.pointee.msg_controllen = controlSize
        let n = recvmsg(fd, message, Int32(MSG_DONTWAIT))
        let vnet = vnetHeader ? RxRing.vnetLength : 0
        guard n > vnet, message.pointee.msg_flags & Int32(MSG_TRUNC) == 0 else { return nil }
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
        _ = recv(fd, nil, 0, Int32(MSG_DONTWAIT) | Int32(MSG_TRUNC))
    }

    /// Every buffer is free again (the bridge is done with the frames in them).
    func releaseAll() { used = 0 }
}
#endif
