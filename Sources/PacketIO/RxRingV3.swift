// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// RxRingV3: the receive side of an AFPacketPort in `.v3` mode, a TPACKET_V3 ring read in place.
//
// The kernel fills blocks of frames and hands a block over by setting its `block_status` to
// TP_STATUS_USER (when the block is full or its retire timeout expires); user space hands it
// back by storing TP_STATUS_KERNEL. The flag is read with acquire and written with release
// ordering (C shim), so frame bytes are never read before the kernel finished them nor reused
// before the bridge finished with them. Blocks are consumed in ring order; `receive` continues
// where the last call stopped, even mid-block, and `release` returns every fully consumed block.
//
// Why not read the block the kernel is still filling: V3 publishes no per-frame completion
// with a barrier (the block's `num_pkts` grows before the frame's status word is even
// cleared), so frames of an open block cannot be told apart from stale bytes. The retire
// timeout (1 ms minimum, the unit is ms) is the price: at low rates a frame waits for it, so
// RTT through the bridge is ~1-1.5 ms. RxRingV2 gives per-frame hand-over instead.
//
// VLAN re-insertion and the skipped frames are shared with V2 (RxRing.swift).

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore

final class RxRingV3: RxRing {
    // Offsets in the kernel's structures (checked against the C layout at init).
    static let blockStatusOffset = 8
    static let blockNumPacketsOffset = 12
    static let blockFirstOffset = 16
    static let frameNextOffset = 0
    static let frameSnapLenOffset = 12
    static let frameLenOffset = 16
    static let frameStatusOffset = 20
    static let frameMacOffset = 24
    static let frameVLANTCIOffset = 32
    static let frameVLANTPIDOffset = 36
    /// The sockaddr_ll follows the header at TPACKET_ALIGN(sizeof(tpacket3_hdr)).
    static let frameSockaddrOffset = 48

    let layout = FrameLayout(
        length: RxRingV3.frameLenOffset, snapLength: RxRingV3.frameSnapLenOffset, mac: RxRingV3.frameMacOffset,
        vlanTCI: RxRingV3.frameVLANTCIOffset, vlanTPID: RxRingV3.frameVLANTPIDOffset, sockaddr: RxRingV3.frameSockaddrOffset)

    let blockSize: Int
    let blockCount: Int

    /// The block being read (open) or to be read next.
    var current = 0
    var isOpen = false
    /// Frames of the open block not yet handed out, and where the next one starts.
    var remaining = 0
    var next: UnsafeMutableRawPointer
    /// Fully consumed blocks not yet returned: the `held` blocks before `current`.
    var held = 0
    /// Frames handed out since the last `release`: while there are any, the caller holds views
    /// into the held (and the open) blocks, and only its `release` may return them.
    var handedOut = 0

    init(base: UnsafeMutableRawPointer, blockSize: Int, blockCount: Int, vnetHeader: Bool) {
        precondition(clp_block_status_offset() == RxRingV3.blockStatusOffset)
        precondition(clp_block_num_pkts_offset() == RxRingV3.blockNumPacketsOffset)
        precondition(clp_block_first_offset() == RxRingV3.blockFirstOffset)
        precondition(clp_tpacket3_vlan_tci_offset() == RxRingV3.frameVLANTCIOffset)
        precondition(clp_tpacket3_vlan_tpid_offset() == RxRingV3.frameVLANTPIDOffset)
        precondition(Int(clp_tpacket_align(UInt32(MemoryLayout<tpacket3_hdr>.size))) == RxRingV3.frameSockaddrOffset)
        precondition(MemoryLayout<tpacket3_hdr>.offset(of: \.tp_mac) == RxRingV3.frameMacOffset)
        precondition(MemoryLayout<tpacket3_hdr>.offset(of: \.tp_status) == RxRingV3.frameStatusOffset)
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.next = base
        super.init(base: base, mapLength: blockSize * blockCount, vnetHeader: vnetHeader)
    }

    @inline(__always) func block(_ i: Int) -> UnsafeMutableRawPointer { base + i * blockSize }

    /// Hands out up to `frames.count` frames, opening ready blocks as needed.
    override func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        var n = 0
        let want = frames.count
        while n < want {
            if remaining == 0 {
                if isOpen {
                    // The open block is used up: it waits for `release` with the others.
                    isOpen = false
                    held += 1
                    current = current + 1 == blockCount ? 0 : current + 1
                }
                // Every block is lent out: nothing more until the bridge releases some.
                guard held < blockCount else { break }
                let desc = block(current)
                let status = clp_load_acquire_u32(desc + RxRingV3.blockStatusOffset)
                guard status & UInt32(TP_STATUS_USER) != 0 else { break }
                isOpen = true
                blocksSeen &+= 1
                remaining = Int(desc.load(fromByteOffset: RxRingV3.blockNumPacketsOffset, as: UInt32.self))
                next = desc + Int(desc.load(fromByteOffset: RxRingV3.blockFirstOffset, as: UInt32.self))
                continue
            }
            let h = next
            remaining -= 1
            if remaining > 0 { next = h + Int(h.load(fromByteOffset: RxRingV3.frameNextOffset, as: UInt32.self)) }

            if isOutgoing(h, layout) { continue }
            let status = h.load(fromByteOffset: RxRingV3.frameStatusOffset, as: UInt32.self)
            guard let f = inPlaceFrame(h, layout, status: status, port: port) else { continue }
            frames[n] = f
            n += 1
        }
        received &+= UInt64(n)
        handedOut += n
        // Only skipped frames since the last release: nobody will release the blocks they used
        // up, so do it now. Never while the caller still holds frames of an earlier call.
        if handedOut == 0 { release() }
        return n
    }

    /// Returns fully consumed blocks (and the open one, if used up) to the kernel.
    override func release() {
        handedOut = 0
        if isOpen && remaining == 0 {
            isOpen = false
            held += 1
            current = current + 1 == blockCount ? 0 : current + 1
        }
        guard held > 0 else { return }
        var i = current - held
        if i < 0 { i += blockCount }
        for _ in 0..<held {
            clp_store_release_u32(block(i) + RxRingV3.blockStatusOffset, UInt32(TP_STATUS_KERNEL))
            i = i + 1 == blockCount ? 0 : i + 1
        }
        held = 0
    }
}
#endif
