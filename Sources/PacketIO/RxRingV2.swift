// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// RxRingV2: the receive side of an AFPacketPort in `.v2` mode (the default), a TPACKET_V2 ring
// of fixed frame slots read in place.
//
// Ownership is per frame: the kernel fills the slot at its head, then stores TP_STATUS_USER
// (with VLAN/checksum flags) in the slot's `tp_status` after a write barrier and wakes poll —
// for every frame, so a lone frame reaches the bridge at once, with no block timeout. The ring
// reads `tp_status` with acquire ordering and hands slots back by storing TP_STATUS_KERNEL
// with release ordering, in ring order, when the bridge is done (`release`). The kernel only
// fills a slot whose status is exactly TP_STATUS_KERNEL; when the slot at its head is still
// ours it drops the frame (counted in tp_drops).
//
// Slots are fixed. By default they are sized for ordinary frames (2 KiB: a 1500-byte MTU
// with tags), so the ring is thousands of frames deep; a larger frame (a GSO super-frame
// from veth, up to 65,535 bytes of IP) is queued whole on the socket by the kernel and read
// from there (LargeFrameQueue, PACKET_COPY_THRESH). With slots of at least `wholeFrameSlot`
// bytes every frame fits its slot and no queue is used. A frame neither can hold arrives
// with tp_snaplen < tp_len and is counted and dropped (`truncated`), never forwarded.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore

final class RxRingV2: RxRing {
    // Offsets in struct tpacket2_hdr (checked against the C layout at init).
    static let frameStatusOffset = 0
    static let frameLenOffset = 4
    static let frameSnapLenOffset = 8
    static let frameMacOffset = 12
    static let frameVLANTCIOffset = 24
    static let frameVLANTPIDOffset = 26
    /// The sockaddr_ll follows the header at TPACKET_ALIGN(sizeof(tpacket2_hdr)).
    static let frameSockaddrOffset = 32

    let layout = FrameLayout(
        length: RxRingV2.frameLenOffset, snapLength: RxRingV2.frameSnapLenOffset, mac: RxRingV2.frameMacOffset,
        vlanTCI: RxRingV2.frameVLANTCIOffset, vlanTPID: RxRingV2.frameVLANTPIDOffset, sockaddr: RxRingV2.frameSockaddrOffset)

    /// The largest frame a slot must hold whole: 65,535 bytes of IP (the largest GSO
    /// super-frame without BIG TCP, or a frame at veth's largest MTU), the Ethernet header and
    /// two tags left in the data (QinQ after the kernel stripped the outer one).
    static let largestFrame = 65_535 + 14 + 8
    /// Room before the MAC header in a slot. The kernel puts the MAC header at
    /// TPACKET_ALIGN(TPACKET2_HDRLEN + max(maclen, 16)) + reserve + vnet - maclen: 80 bytes for
    /// Ethernet (52 + 16 aligned to 80, + 4 + 10 - 14); 128 leaves room for longer MAC headers.
    static let slotHeadroom = 128
    /// A slot this large holds every frame in place.
    static let wholeFrameSlot = Int(clp_tpacket_align(UInt32(slotHeadroom + largestFrame)))
    /// The smallest slot accepted: headroom and a minimum frame.
    static let smallestSlot = 256

    let slotSize: Int
    let slotCount: Int
    /// The address of every slot (slots never straddle blocks, so they are not evenly spaced
    /// when a block has leftover bytes). Allocated once.
    let slots: UnsafeMutablePointer<UnsafeMutableRawPointer>

    /// The next slot to look at.
    var current = 0
    /// Slots handed out or skipped and not yet returned: the `held` slots before `current`.
    var held = 0
    /// Frames handed out since the last `release`: while there are any, the caller holds views
    /// into the held slots, and only its `release` may return them (the Port contract).
    var handedOut = 0

    /// Where frames larger than a slot come from (nil: slots hold every frame).
    let largeFrames: LargeFrameQueue?

    init(base: UnsafeMutableRawPointer, blockSize: Int, blockCount: Int, slotSize: Int, vnetHeader: Bool,
         largeFrames: LargeFrameQueue?) {
        self.largeFrames = largeFrames
        precondition(MemoryLayout<tpacket2_hdr>.offset(of: \.tp_status) == RxRingV2.frameStatusOffset)
        precondition(MemoryLayout<tpacket2_hdr>.offset(of: \.tp_len) == RxRingV2.frameLenOffset)
        precondition(MemoryLayout<tpacket2_hdr>.offset(of: \.tp_snaplen) == RxRingV2.frameSnapLenOffset)
        precondition(MemoryLayout<tpacket2_hdr>.offset(of: \.tp_mac) == RxRingV2.frameMacOffset)
        precondition(MemoryLayout<tpacket2_hdr>.offset(of: \.tp_vlan_tci) == RxRingV2.frameVLANTCIOffset)
        precondition(MemoryLayout<tpacket2_hdr>.offset(of: \.tp_vlan_tpid) == RxRingV2.frameVLANTPIDOffset)
        precondition(Int(clp_tpacket_align(UInt32(MemoryLayout<tpacket2_hdr>.size))) == RxRingV2.frameSockaddrOffset)
        precondition(slotSize % Int(TPACKET_ALIGNMENT) == 0 && slotSize <= blockSize)
        let perBlock = blockSize / slotSize
        self.slotSize = slotSize
        slotCount = perBlock * blockCount
        slots = .allocate(capacity: slotCount)
        for i in 0..<slotCount {
            (slots + i).initialize(to: base + (i / perBlock) * blockSize + (i % perBlock) * slotSize)
        }
        super.init(base: base, mapLength: blockSize * blockCount, vnetHeader: vnetHeader)
    }

    deinit { slots.deallocate() }

    /// Hands out up to `frames.count` frames from the slots the kernel has filled, in order.
    override func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        var n = 0
        let want = frames.count
        // Every slot lent out: nothing more until the bridge releases some.
        while n < want && held < slotCount {
            let h = slots[current]
            let status = clp_load_acquire_u32(h + RxRingV2.frameStatusOffset)
            guard status & UInt32(TP_STATUS_USER) != 0 else { break }
            let queued = status & UInt32(TP_STATUS_COPY) != 0
            // The whole frame waits on the socket; take the slot only with a buffer for it.
            if queued, let large = largeFrames, !large.hasFreeBuffer { break }
            // Ours until `release`, whether handed out or skipped: slots go back in order.
            held += 1
            current = current + 1 == slotCount ? 0 : current + 1

            if isOutgoing(h, layout) {
                if queued { largeFrames?.discard() }
                continue
            }
            if queued, let large = largeFrames {
                guard let f = large.read(length: Int(h.load(fromByteOffset: layout.length, as: UInt32.self))) else {
                    truncated &+= 1
                    continue
                }
                frames[n] = frame(start: f.start, count: f.count, status: f.status, tci: f.tci, tpid: f.tpid, port: port)
                receivedQueued &+= 1
                n += 1
                continue
            }
            guard let f = inPlaceFrame(h, layout, status: status, port: port) else { continue }
            frames[n] = f
            n += 1
        }
        received &+= UInt64(n)
        handedOut += n
        // Only skipped frames since the last release: nobody holds a view into them and nobody
        // will release them, so give them back now (or a port that sees nothing but skipped
        // frames would end up holding every slot). Never while the caller still holds frames
        // of an earlier call: their bytes must stay valid until its release.
        if handedOut == 0 && held > 0 { release() }
        return n
    }

    /// Returns every held slot to the kernel, oldest first.
    override func release() {
        handedOut = 0
        largeFrames?.releaseAll()
        guard held > 0 else { return }
        var i = current - held
        if i < 0 { i += slotCount }
        for _ in 0..<held {
            clp_store_release_u32(slots[i] + RxRingV2.frameStatusOffset, UInt32(TP_STATUS_KERNEL))
            i = i + 1 == slotCount ? 0 : i + 1
        }
        held = 0
    }
}
#endif
