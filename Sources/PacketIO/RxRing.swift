// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// RxRing: what the two receive rings of an AFPacketPort share. The ring versions differ in
// how ownership passes between kernel and user space (RxRingV2: one `tp_status` word per
// fixed frame slot; RxRingV3: one `block_status` word per block of packed frames) and agree on
// everything a frame needs once it is owned:
//
// - frames this host sent (PACKET_OUTGOING, when PACKET_IGNORE_OUTGOING is unavailable) and
//   truncated frames (tp_snaplen < tp_len) are counted and skipped, never handed out;
// - VLAN: the kernel strips the outer 802.1Q/802.1ad tag into the frame header. The bridge
//   wants it in the bytes, so the ring re-inserts it in place: PACKET_RESERVE leaves 4 spare
//   bytes in front of the vnet header, the vnet header and the two MAC addresses move 4 bytes
//   down and the tag goes after them. Checksum offsets in the vnet header move with the frame.
//
// The port calls `receive` and `release` once per batch through this class (one dynamic call
// per batch, never per frame). Nothing here allocates after init.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore

class RxRing {
    /// Headroom requested with PACKET_RESERVE: one tag.
    static let tagHeadroom = 4
    static let vnetLength = MemoryLayout<virtio_net_hdr>.size  // 10
    /// `sll_pkttype` inside the sockaddr_ll that follows each frame header.
    static let sockaddrPacketTypeOffset = 10

    let base: UnsafeMutableRawPointer
    let mapLength: Int
    let vnetHeader: Bool
    private(set) var isMapped = true

    var received: UInt64 = 0
    /// V3: blocks opened. V2: not counted (every frame is its own hand-over).
    var blocksSeen: UInt64 = 0
    var skippedOutgoing: UInt64 = 0
    var truncated: UInt64 = 0
    /// V2: frames larger than a slot, read from the socket queue (also in `received`).
    var receivedQueued: UInt64 = 0
    var tagsReinserted: UInt64 = 0

    init(base: UnsafeMutableRawPointer, mapLength: Int, vnetHeader: Bool) {
        self.base = base
        self.mapLength = mapLength
        self.vnetHeader = vnetHeader
    }

    func unmap() {
        guard isMapped else { return }
        munmap(base, mapLength)
        isMapped = false
    }

    /// Hands out up to `frames.count` owned frames; their bytes stay valid until `release`,
    /// also across further `receive` calls (which never return memory the caller may hold).
    func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        fatalError("RxRing.receive is implemented by RxRingV2 and RxRingV3")
    }

    /// Returns everything handed out (and skipped) so far to the kernel, in ring order.
    func release() {
        fatalError("RxRing.release is implemented by RxRingV2 and RxRingV3")
    }

    /// Where a ring's frame header (tpacket2_hdr, tpacket3_hdr) keeps what the shared steps
    /// below read: byte offsets, checked against the C layout by each ring at init.
    struct FrameLayout {
        /// tp_len and tp_snaplen (u32), tp_mac (u16).
        var length: Int, snapLength: Int, mac: Int
        /// tp_vlan_tci (u16 in V2; the low half of a little-endian u32 in V3) and tp_vlan_tpid.
        var vlanTCI: Int, vlanTPID: Int
        /// The sockaddr_ll after the header.
        var sockaddr: Int
    }

    /// Whether the owned frame at `h` is one this host sent (PACKET_OUTGOING, when
    /// PACKET_IGNORE_OUTGOING is unavailable): counted, to be skipped.
    @inline(__always)
    final func isOutgoing(_ h: UnsafeMutableRawPointer, _ layout: FrameLayout) -> Bool {
        guard h.load(fromByteOffset: layout.sockaddr + RxRing.sockaddrPacketTypeOffset, as: UInt8.self) == UInt8(PACKET_OUTGOING)
        else { return false }
        skippedOutgoing &+= 1
        return true
    }

    /// The owned frame at `h`, read in place; nil (counted as truncated) when the ring cut it
    /// short (tp_snaplen < tp_len). `status` is the frame's tp_status.
    @inline(__always)
    final func inPlaceFrame(_ h: UnsafeMutableRawPointer, _ layout: FrameLayout, status: UInt32, port: Int) -> ReceivedFrame? {
        let snapLen = Int(h.load(fromByteOffset: layout.snapLength, as: UInt32.self))
        let length = Int(h.load(fromByteOffset: layout.length, as: UInt32.self))
        if snapLen < length {
            truncated &+= 1
            return nil
        }
        return frame(
            start: h + Int(h.load(fromByteOffset: layout.mac, as: UInt16.self)), count: snapLen, status: status,
            tci: h.load(fromByteOffset: layout.vlanTCI, as: UInt16.self),
            tpid: h.load(fromByteOffset: layout.vlanTPID, as: UInt16.self), port: port)
    }

    /// Turns an owned frame into a `ReceivedFrame`, re-inserting a stripped tag.
    /// `start` is the MAC header (tp_mac), `count` tp_snaplen; `status` the frame's tp_status.
    @inline(__always)
    final func frame(
        start: UnsafeMutableRawPointer, count: Int, status: UInt32, tci: UInt16, tpid: UInt16, port: Int
    ) -> ReceivedFrame {
        var start = start
        var count = count
        if status & UInt32(TP_STATUS_VLAN_VALID) != 0 {
            start = reinsertTag(frame: start, tpid: status & UInt32(TP_STATUS_VLAN_TPID_VALID) != 0 ? tpid : EtherType.vlan, tci: tci)
            count += 4
        }
        return ReceivedFrame(
            bytes: UnsafeRawBufferPointer(start: start, count: count), port: port,
            offload: vnetHeader ? UnsafeRawPointer(start - RxRing.vnetLength) : nil)
    }

    /// Moves the vnet header and MAC addresses 4 bytes down into the reserved headroom and
    /// writes the tag after them; returns the frame's new start.
    @inline(__always)
    final func reinsertTag(frame: UnsafeMutableRawPointer, tpid: UInt16, tci: UInt16) -> UnsafeMutableRawPointer {
        let vnet = vnetHeader ? RxRing.vnetLength : 0
        let from = frame - vnet
        memmove(from - 4, from, vnet + 12)  // the regions overlap
        let start = frame - 4
        start.storeBytes(of: tpid.bigEndian, toByteOffset: 12, as: UInt16.self)
        start.storeBytes(of: tci.bigEndian, toByteOffset: 14, as: UInt16.self)
        if vnetHeader {
            // virtio_net_hdr fields are relative to the frame start: they move by the tag.
            let hdr = start - RxRing.vnetLength
            let flags = hdr.load(fromByteOffset: 0, as: UInt8.self)
            if flags & UInt8(VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0 {
                let csumStart = UInt16(littleEndian: hdr.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
                hdr.storeBytes(of: (csumStart &+ 4).littleEndian, toByteOffset: 6, as: UInt16.self)
            }
            let hdrLen = UInt16(littleEndian: hdr.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            if hdrLen != 0 { hdr.storeBytes(of: (hdrLen &+ 4).littleEndian, toByteOffset: 2, as: UInt16.self) }
        }
        tagsReinserted &+= 1
        return start
    }
}
#endif
