// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// TxRing: a PACKET_TX_RING (TPACKET_V2) on a transmit-only socket, for frames that fit a slot.
// A frame is copied into the next slot (virtio_net_hdr, then the frame with its tag edit), the
// slot is handed over with tp_status = SEND_REQUEST, and one send() hands the kernel every
// pending slot: tpacket_snd builds an skb per slot and transmits it. Why: sendmmsg pays per
// message for copying the msghdr and iovecs in, checking and importing them, and a socket
// call's set-up (~10% of the forwarding thread under a 64-byte flood); the ring pays a copy of
// the (small) frame instead.
//
// The virtio header's hdr_len is set to the whole frame so the kernel copies the slot into a
// linear skb (tpacket_fill_skb copies hdr_len bytes, links the rest as the ring's pages):
// linked pages would be copied again on veth anyway (skb_orphan_frags, see docs/PROFILE.md) and
// would keep the slot busy until the receiver is done with the frame.
//
// Protocol with the kernel (net/packet/af_packet.c, tpacket_snd): it walks the ring from its
// own head and stops at the first slot that is not SEND_REQUEST; a slot it took becomes
// SENDING, then AVAILABLE when its skb is freed (tpacket_destruct_skb). On a full socket or
// device it puts the slot back to SEND_REQUEST and returns without advancing. So after any
// send(), the pending slots from the oldest on that are no longer SEND_REQUEST went, the rest
// did not, and the kernel's head is the first of the rest: dropping them means marking them
// AVAILABLE and writing the next frames from there. A slot it rejects (a bad virtio header)
// it marks WRONG_FORMAT and stops there, head on it; the frames pending after it move one slot
// back (`dropRejected`), so that one frame is dropped and counted, as sendmmsg's error for one
// message is. (PACKET_LOSS would skip such a slot silently: it could not be counted.)
//
// One owner thread (the port's forwarding thread), like the rest of the port. A struct kept
// inline in TransmitBatch, so using it per frame costs no reference counting; its owner
// unmaps it (`unmap`).

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore
import SystemCalls

struct TxRing {
    let fd: Int32
    let base: UnsafeMutableRawPointer
    let length: Int
    let slotSize: Int
    let slotCount: Int
    /// Bytes of virtio header plus frame a slot holds.
    let capacity: Int
    let vnetHeader: Bool
    /// Where a frame's bytes start in its slot: after the tpacket2_hdr, as tpacket_snd reads it
    /// without PACKET_TX_HAS_OFF (tp_hdrlen - sizeof(sockaddr_ll)).
    /// Literals, not computed statics (those are lazily initialised: a swift_once per use on
    /// the hot path); `init` checks them against the C layout.
    static let dataOffset = 32
    static let statusOffset = 0
    static let lengthOffset = 4
    static let sendRequest: UInt32 = 1
    static let wrongFormat: UInt32 = 4
    /// SEND_REQUEST | SENDING | WRONG_FORMAT: a slot with none of them is the writer's.
    static let busyMask: UInt32 = 7

    /// The next slot to fill: the kernel's head whenever nothing is pending.
    var head = 0
    /// The oldest slot handed over and not yet seen sent, and how many from it.
    var pendingStart = 0
    var pending = 0
    /// Per slot: the frame's wire length (for the bytes of what went).
    let wireLengths: UnsafeMutablePointer<Int>

    /// No ring: `isEnabled` is false and nothing is mapped.
    init() {
        fd = -1
        base = UnsafeMutableRawPointer(bitPattern: 0x10)!  // never dereferenced: no slots
        length = 0
        slotSize = 0
        slotCount = 0
        capacity = 0
        vnetHeader = false
        wireLengths = UnsafeMutablePointer(bitPattern: 0x10)!
    }

    var isEnabled: Bool { slotCount > 0 }

    /// The ring `frames` slots deep (rounded up to whole blocks) on socket `fd`, which must
    /// have its version (V2) and virtio header set and not be bound yet.
    init(fd: Int32, frames: Int, slotSize: Int, vnetHeader: Bool) throws(PacketIOError) {
        precondition(TxRing.dataOffset == Int(clp_tpacket_align(UInt32(MemoryLayout<tpacket2_hdr>.size)))
            && TxRing.statusOffset == MemoryLayout<tpacket2_hdr>.offset(of: \.tp_status)!
            && TxRing.lengthOffset == MemoryLayout<tpacket2_hdr>.offset(of: \.tp_len)!
            && TxRing.sendRequest == UInt32(TP_STATUS_SEND_REQUEST)
            && TxRing.wrongFormat == UInt32(TP_STATUS_WRONG_FORMAT)
            && TxRing.busyMask == UInt32(TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING | TP_STATUS_WRONG_FORMAT),
            "tpacket2_hdr layout differs from TxRing's constants")
        let geometry = TxRing.geometry(frames: frames, slotSize: slotSize)
        var req = tpacket_req()
        req.tp_block_size = UInt32(geometry.blockSize)
        req.tp_block_nr = UInt32(geometry.blockCount)
        req.tp_frame_size = UInt32(slotSize)
        req.tp_frame_nr = UInt32(geometry.slots)
        let r = setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, socklen_t(MemoryLayout<tpacket_req>.size))
        guard r == 0 else { throw .system(IOError(call: "setsockopt(PACKET_TX_RING)", subject: "\(geometry.slots) slots", errno: errno)) }
        let length = geometry.blockSize * geometry.blockCount
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | Int32(MAP_POPULATE), fd, 0)
        guard let p, p != MAP_FAILED else {
            throw .system(IOError(call: "mmap of the \(length)-byte TX ring", subject: "", errno: errno))
        }
        self.fd = fd
        base = p
        self.length = length
        self.slotSize = slotSize
        slotCount = geometry.slots
        capacity = slotSize - TxRing.dataOffset
        self.vnetHeader = vnetHeader
        wireLengths = .allocate(capacity: slotCount)
        wireLengths.initialize(repeating: 0, count: slotCount)
    }

    /// Blocks of 64 KiB (fewer slots: one block of whole pages), `frames` rounded up to fill them.
    static func geometry(frames: Int, slotSize: Int) -> (blockSize: Int, blockCount: Int, slots: Int) {
        let page = Int(getpagesize())
        let wanted = max(frames, 2)
        let blockSize = max(page, min(65_536, (wanted * slotSize + page - 1) / page * page))
        let perBlock = blockSize / slotSize
        let blocks = (wanted + perBlock - 1) / perBlock
        return (blockSize, blocks, blocks * perBlock)
    }

    /// Unmaps the ring and leaves no ring behind (the socket is the port's to close).
    mutating func unmap() {
        guard isEnabled else { return }
        munmap(base, length)
        wireLengths.deallocate()
        self = TxRing()
    }

    @inline(__always)
    func slot(_ k: Int) -> UnsafeMutableRawPointer { base + k * slotSize }

    @inline(__always)
    func status(_ k: Int) -> UInt32 { clp_load_acquire_u32(slot(k) + TxRing.statusOffset) }

    /// The next slot is free (its previous frame's skb was freed).
    @inline(__always)
    var headIsFree: Bool { pending < slotCount && status(head) & TxRing.busyMask == 0 }

    /// Whether `f` (`wire` bytes on the wire) goes through the ring: there is one, the frame
    /// fits a slot and is not a GSO super-frame (whose segments must stay linked).
    @inline(__always)
    func fits(_ f: EgressFrame, wire: Int) -> Bool {
        guard isEnabled, wire + (vnetHeader ? RxRing.vnetLength : 0) <= capacity else { return false }
        guard let off = f.offload else { return true }
        return off.load(fromByteOffset: 1, as: UInt8.self) == UInt8(VIRTIO_NET_HDR_GSO_NONE)
    }

    /// Copies `f` into the head slot and hands it over; the caller checked `headIsFree`,
    /// `fits` and the frame's length for its edit.
    @inline(__always)
    mutating func fill(_ f: EgressFrame, wire: Int, zeroVnet: UnsafeRawPointer) {
        let s = slot(head)
        var d = s + TxRing.dataOffset
        let src = f.bytes.baseAddress!
        let n = f.bytes.count
        if vnetHeader {
            VirtioHeader.copy(f.offload ?? zeroVnet, to: d, shiftedBy: wire - n)
            // The whole frame linear in the skb (see the file comment).
            d.storeBytes(of: UInt16(truncatingIfNeeded: wire).littleEndian, toByteOffset: 2, as: UInt16.self)
            d += RxRing.vnetLength
        }
        switch f.encoding {
        case .asIs:
            d.copyMemory(from: src, byteCount: n)
        case .stripOuterTag:
            d.copyMemory(from: src, byteCount: 12)
            (d + 12).copyMemory(from: src + 16, byteCount: n - 16)
        case .insertTag(let tag):
            d.copyMemory(from: src, byteCount: 12)
            d.storeBytes(of: tag.bigEndian, toByteOffset: 12, as: UInt32.self)
            (d + 16).copyMemory(from: src + 12, byteCount: n - 12)
        case .replaceOuterTag(let tag):
            d.copyMemory(from: src, byteCount: 12)
            d.storeBytes(of: tag.bigEndian, toByteOffset: 12, as: UInt32.self)
            (d + 16).copyMemory(from: src + 16, byteCount: n - 16)
        }
        s.storeBytes(of: UInt32(wire + (vnetHeader ? RxRing.vnetLength : 0)), toByteOffset: TxRing.lengthOffset, as: UInt32.self)
        wireLengths[head] = wire
        clp_store_release_u32(s + TxRing.statusOffset, TxRing.sendRequest)
        head = head + 1 == slotCount ? 0 : head + 1
        pending += 1
    }

    /// After a send(): takes the pending slots the kernel took (no longer SEND_REQUEST, in
    /// order) off the pending list; returns how many and their wire bytes.
    @inline(__always)
    mutating func collectSent() -> (frames: Int, bytes: Int) {
        var frames = 0
        var bytes = 0
        while pending > 0 && status(pendingStart) & (TxRing.sendRequest | TxRing.wrongFormat) == 0 {
            bytes += wireLengths[pendingStart]
            frames += 1
            pendingStart = pendingStart + 1 == slotCount ? 0 : pendingStart + 1
            pending -= 1
        }
        return (frames, bytes)
    }

    /// Whether the kernel rejected the oldest pending slot (and stopped there).
    var oldestWasRejected: Bool { pending > 0 && status(pendingStart) & TxRing.wrongFormat != 0 }

    /// Drops the rejected oldest pending slot: the frames pending after it move one slot back,
    /// since the kernel's head stays on the rejected slot and takes the next frame from there.
    /// Rare (a frame with a bad virtio header), so copying a few slots is fine.
    mutating func dropRejected() {
        var k = pendingStart
        for _ in 1..<pending {
            let next = k + 1 == slotCount ? 0 : k + 1
            let length = Int(slot(next).load(fromByteOffset: TxRing.lengthOffset, as: UInt32.self))
            slot(k).storeBytes(of: UInt32(length), toByteOffset: TxRing.lengthOffset, as: UInt32.self)
            (slot(k) + TxRing.dataOffset).copyMemory(from: slot(next) + TxRing.dataOffset, byteCount: length)
            wireLengths[k] = wireLengths[next]
            clp_store_release_u32(slot(k) + TxRing.statusOffset, TxRing.sendRequest)
            k = next
        }
        clp_store_release_u32(slot(k) + TxRing.statusOffset, 0)
        head = k
        pending -= 1
    }

    /// Takes back the slots still pending (the kernel's head is the oldest of them, so the
    /// next frame is written there); returns how many were dropped.
    mutating func discardPending() -> Int {
        let n = pending
        var k = pendingStart
        for _ in 0..<n {
            clp_store_release_u32(slot(k) + TxRing.statusOffset, 0)
            k = k + 1 == slotCount ? 0 : k + 1
        }
        head = pendingStart
        pending = 0
        return n
    }
}
#endif
