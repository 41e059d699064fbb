// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Transmit: the send side of an AFPacketPort. A batch of EgressFrames becomes one sendmmsg
// call whose messages point into the received bytes (zero copy): each frame is up to four
// iovecs, [virtio_net_hdr] [MAC addresses] [tag] [rest], so tag edits need no copy either.
// Only the 10-byte vnet header is copied when a tag edit shifts its offsets, and the 4-byte
// tag lives in per-slot scratch. All arrays are sized at init for `transmitBatch` frames.
//
// Full socket or device (EAGAIN, or ENOBUFS with PACKET_QDISC_BYPASS): the call waits at most
// `transmitWaitBudget` times (EAGAIN: poll for POLLOUT up to `transmitPollMilliseconds`;
// ENOBUFS: pause `transmitBackoffMicroseconds`, as POLLOUT says nothing about the device
// queue), then counts the rest of the batch as dropped. It never spins and never blocks
// longer than the budget. Any other error drops the one frame it concerns.
//
// With a TX ring (TxRing.swift, `Configuration.transmitRingFrames`), frames that fit a ring
// slot are copied into it and go out with one send() per batch; larger ones (GSO super-frames)
// still go through sendmmsg, on another socket (a socket with a TX ring sends only from it).

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore

/// The virtio_net_hdr a frame is sent with.
enum VirtioHeader {
    /// Copies the 10-byte header at `source` to `destination`, its offsets moved by `delta`
    /// bytes: they count from the frame's start, and a tag edit (±4) moves what follows the
    /// addresses. csum_start moves when a checksum is pending, hdr_len when it is set.
    @inline(__always)
    static func copy(_ source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, shiftedBy delta: Int) {
        destination.copyMemory(from: source, byteCount: RxRing.vnetLength)
        guard delta != 0 else { return }
        if destination.load(fromByteOffset: 0, as: UInt8.self) & UInt8(VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0 {
            let cs = Int(UInt16(littleEndian: destination.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
            destination.storeBytes(of: UInt16(truncatingIfNeeded: cs + delta).littleEndian, toByteOffset: 6, as: UInt16.self)
        }
        let hl = Int(UInt16(littleEndian: destination.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        if hl != 0 {
            destination.storeBytes(of: UInt16(truncatingIfNeeded: hl + delta).littleEndian, toByteOffset: 2, as: UInt16.self)
        }
    }
}

final class TransmitBatch {
    /// The sendmmsg socket.
    var fd: Int32
    /// Frames that fit its slots go through it (`TxRing()`: none, everything through sendmmsg).
    var ring: TxRing
    let capacity: Int
    let vnetHeader: Bool
    let waitBudget: Int
    let pollMilliseconds: Int32
    let backoffMicroseconds: UInt32
    /// Largest frame without GSO metadata: MTU + Ethernet header.
    var maxPlainFrame: Int

    let messages: UnsafeMutablePointer<clp_mmsghdr>
    /// Per message: the frame's wire length, so the bytes of exactly the frames sent are known.
    let wireLengths: UnsafeMutablePointer<Int>
    let iovecs: UnsafeMutablePointer<iovec>
    /// Per slot: a vnet header copy at 0 (10 bytes), the tag at 12 (4 bytes).
    let scratch: UnsafeMutableRawPointer
    static let scratchStride = 16
    static let iovecsPerFrame = 4
    /// The vnet header for frames that have none (received without one): no offloads.
    let zeroVnet: UnsafeMutableRawPointer

    var sent: UInt64 = 0
    /// Of `sent`, through the TX ring.
    var ringSent: UInt64 = 0
    var droppedOversize: UInt64 = 0
    var droppedMalformed: UInt64 = 0
    var droppedBusy: UInt64 = 0
    var droppedClosed: UInt64 = 0
    var errors: UInt64 = 0
    var waits: UInt64 = 0
    var lastErrno: Int32 = 0

    init(fd: Int32, ring: TxRing, configuration: AFPacketPort.Configuration, mtu: Int) {
        self.fd = fd
        self.ring = ring
        capacity = configuration.transmitBatch
        vnetHeader = configuration.vnetHeader
        waitBudget = configuration.transmitWaitBudget
        pollMilliseconds = configuration.transmitPollMilliseconds
        backoffMicroseconds = configuration.transmitBackoffMicroseconds
        maxPlainFrame = mtu + 14
        messages = .allocate(capacity: capacity)
        messages.initialize(repeating: clp_mmsghdr(), count: capacity)
        wireLengths = .allocate(capacity: capacity)
        wireLengths.initialize(repeating: 0, count: capacity)
        iovecs = .allocate(capacity: capacity * TransmitBatch.iovecsPerFrame)
        iovecs.initialize(repeating: iovec(), count: capacity * TransmitBatch.iovecsPerFrame)
        scratch = .allocate(byteCount: capacity * TransmitBatch.scratchStride, alignment: 16)
        scratch.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * TransmitBatch.scratchStride)
        zeroVnet = .allocate(byteCount: 16, alignment: 16)
        zeroVnet.initializeMemory(as: UInt8.self, repeating: 0, count: 16)
        for k in 0..<capacity {
            messages[k].msg_hdr.msg_iov = iovecs + k * TransmitBatch.iovecsPerFrame
        }
    }

    deinit {
        ring.unmap()
        messages.deallocate()
        wireLengths.deallocate()
        iovecs.deallocate()
        scratch.deallocate()
        zeroVnet.deallocate()
    }

    func setMTU(_ mtu: Int) { maxPlainFrame = mtu + 14 }

    /// Sends `frames` in order; returns how many the kernel accepted and their wire bytes.
    /// Frames that cannot be sent (malformed, oversize, a per-frame error) are skipped, so what
    /// went is not a prefix of the batch: the bytes are summed per message actually sent.
    /// With a TX ring, frames that fit a slot go through it and the others through sendmmsg;
    /// one path's pending frames are sent before the other takes a frame, so order is kept.
    func send(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult {
        var result = TransmitResult(frames: 0, bytes: 0)
        var budget = waitBudget
        var k = 0  // messages built and not sent yet
        var i = 0
        while i < frames.count {
            let f = frames[i]
            guard let wire = admissible(f) else {
                i += 1
                continue
            }
            if ring.fits(f, wire: wire) {
                if k > 0 {
                    guard flushMessages(k, &result, &budget) else { return dropRest(frames.count - i, &result) }
                    k = 0
                }
                if !ring.headIsFree {
                    // Full: send what is pending, then wait for the kernel to free the head slot.
                    guard flushRing(&result, &budget) else { return dropRest(frames.count - i, &result) }
                    while !ring.headIsFree {
                        guard budget > 0 else { return dropRest(frames.count - i, &result) }
                        budget -= 1
                        waits &+= 1
                        wait(for: EAGAIN, on: ring.fd)
                    }
                }
                ring.fill(f, wire: wire, zeroVnet: zeroVnet)
                if ring.pending >= capacity {
                    guard flushRing(&result, &budget) else { return dropRest(frames.count - i - 1, &result) }
                }
            } else {
                if ring.pending > 0 {
                    guard flushRing(&result, &budget) else { return dropRest(frames.count - i, &result) }
                }
                build(f, wire: wire, slot: k)
                k += 1
                if k == capacity {
                    guard flushMessages(k, &result, &budget) else { return dropRest(frames.count - i - 1, &result) }
                    k = 0
                }
            }
            i += 1
        }
        if k > 0 {
            guard flushMessages(k, &result, &budget) else { return finish(result) }
        }
        if ring.pending > 0 {
            _ = flushRing(&result, &budget)
        }
        return finish(result)
    }

    @inline(__always)
    func finish(_ result: TransmitResult) -> TransmitResult {
        sent &+= UInt64(result.frames)
        return result
    }

    /// Out of patience: the `count` frames not taken yet are dropped.
    @inline(__always)
    func dropRest(_ count: Int, _ result: inout TransmitResult) -> TransmitResult {
        droppedBusy &+= UInt64(count)
        return finish(result)
    }

    /// Sends messages 0..<k; false when the wait budget ran out (the unsent ones are counted
    /// as dropped).
    @inline(__always)
    func flushMessages(_ k: Int, _ result: inout TransmitResult, _ budget: inout Int) -> Bool {
        var done = 0
        while done < k {
            // errno is read right after the call (SystemCalls' discipline, without its
            // closure: this is the hot path). r == 0 cannot happen for k > 0; treat as full.
            let r = clp_sendmmsg(fd, messages + done, UInt32(k - done), Int32(MSG_DONTWAIT))
            let e = r < 0 ? errno : (r == 0 ? EAGAIN : 0)
            if r > 0 {
                for m in done..<(done + Int(r)) { result.bytes += wireLengths[m] }
                result.frames += Int(r)
                done += Int(r)
                continue
            }
            if e == EINTR { continue }  // interrupted before anything was sent: again
            // A closed descriptor or a bad iovec is a bug here, not a runtime condition.
            precondition(e != EBADF && e != EFAULT, "sendmmsg failed with errno \(e): a swbridge bug")
            lastErrno = e
            if e == EAGAIN || e == ENOBUFS {
                guard budget > 0 else {
                    droppedBusy &+= UInt64(k - done)
                    return false
                }
                budget -= 1
                waits &+= 1
                wait(for: e, on: fd)
                continue
            }
            // EMSGSIZE, EINVAL, ENETDOWN, ...: the message at `done` failed; drop it, go on.
            errors &+= 1
            done += 1
        }
        return true
    }

    /// Hands the ring's pending slots to the kernel; false when the wait budget ran out (the
    /// unsent ones are taken back and counted as dropped).
    func flushRing(_ result: inout TransmitResult, _ budget: inout Int) -> Bool {
        while ring.pending > 0 {
            let r = Glibc.send(ring.fd, nil, 0, Int32(MSG_DONTWAIT))
            let e = r < 0 ? errno : 0
            let went = ring.collectSent()
            result.frames += went.frames
            result.bytes += went.bytes
            ringSent &+= UInt64(went.frames)
            if ring.pending == 0 { return true }
            if ring.oldestWasRejected {
                // EINVAL, EMSGSIZE, ...: that one frame is dropped; the rest go on.
                lastErrno = e
                errors &+= 1
                ring.dropRejected()
                continue
            }
            // Some went and the call stopped (a full socket buffer mid-way): again, it either
            // takes more or says why not.
            if went.frames > 0 || e == EINTR { continue }
            precondition(e != EBADF && e != EFAULT, "send on the TX ring failed with errno \(e): a swbridge bug")
            if e == EAGAIN || e == ENOBUFS || e == 0 {
                lastErrno = e == 0 ? EAGAIN : e
                guard budget > 0 else {
                    droppedBusy &+= UInt64(ring.discardPending())
                    return false
                }
                budget -= 1
                waits &+= 1
                wait(for: lastErrno, on: ring.fd)
                continue
            }
            // ENETDOWN, ENXIO (the interface went away), ...: every pending frame would fail.
            lastErrno = e
            errors &+= UInt64(ring.discardPending())
            return true
        }
        return true
    }

    @inline(__always)
    func wait(for e: Int32, on fd: Int32) {
        if e == ENOBUFS {
            usleep(backoffMicroseconds)
        } else {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, pollMilliseconds)
        }
    }

    /// The frame's wire length, or nil (counted) when it must not be sent: no bytes, too short
    /// for its edit, or larger than the MTU allows without GSO metadata.
    @inline(__always)
    func admissible(_ f: EgressFrame) -> Int? {
        guard let src = f.bytes.baseAddress else {
            droppedMalformed &+= 1
            return nil
        }
        let n = f.bytes.count
        // The edit must fit the frame: an Ethernet header, plus the tag it strips or replaces.
        let minimum: Int
        switch f.encoding {
        case .asIs, .insertTag: minimum = 14
        case .stripOuterTag, .replaceOuterTag: minimum = 18
        }
        if n < minimum {
            droppedMalformed &+= 1
            return nil
        }
        let wire = f.wireLength
        let gso = f.offload.map { $0.load(fromByteOffset: 1, as: UInt8.self) != UInt8(VIRTIO_NET_HDR_GSO_NONE) } ?? false
        if !gso && wire > maxPlainFrame {
            // One tag on top of the MTU is allowed, as the kernel allows it.
            let tagged: Bool
            switch f.encoding {
            case .asIs: tagged = EtherType.isTag(UInt16(src.load(fromByteOffset: 12, as: UInt8.self)) << 8 | UInt16(src.load(fromByteOffset: 13, as: UInt8.self)))
            case .stripOuterTag: tagged = EtherType.isTag(UInt16(src.load(fromByteOffset: 16, as: UInt8.self)) << 8 | UInt16(src.load(fromByteOffset: 17, as: UInt8.self)))
            case .insertTag, .replaceOuterTag: tagged = true
            }
            if wire > maxPlainFrame + (tagged ? 4 : 0) {
                droppedOversize &+= 1
                return nil
            }
        }
        return wire
    }

    /// Builds message `slot` for `f`, which `admissible` accepted as `wire` bytes.
    @inline(__always)
    func build(_ f: EgressFrame, wire: Int, slot k: Int) {
        let src = f.bytes.baseAddress!
        let n = f.bytes.count
        let iov = iovecs + k * TransmitBatch.iovecsPerFrame
        let slot = scratch + k * TransmitBatch.scratchStride
        let mutableSource = UnsafeMutableRawPointer(mutating: src)
        var c = 0
        if vnetHeader {
            if let off = f.offload {
                if wire == n {
                    iov[c] = iovec(iov_base: UnsafeMutableRawPointer(mutating: off), iov_len: RxRing.vnetLength)
                } else {
                    VirtioHeader.copy(off, to: slot, shiftedBy: wire - n)
                    iov[c] = iovec(iov_base: slot, iov_len: RxRing.vnetLength)
                }
            } else {
                iov[c] = iovec(iov_base: zeroVnet, iov_len: RxRing.vnetLength)
            }
            c += 1
        }
        switch f.encoding {
        case .asIs:
            iov[c] = iovec(iov_base: mutableSource, iov_len: n)
            c += 1
        case .stripOuterTag:
            iov[c] = iovec(iov_base: mutableSource, iov_len: 12)
            iov[c + 1] = iovec(iov_base: mutableSource + 16, iov_len: n - 16)
            c += 2
        case .insertTag(let tag):
            slot.storeBytes(of: tag.bigEndian, toByteOffset: 12, as: UInt32.self)
            iov[c] = iovec(iov_base: mutableSource, iov_len: 12)
            iov[c + 1] = iovec(iov_base: slot + 12, iov_len: 4)
            iov[c + 2] = iovec(iov_base: mutableSource + 12, iov_len: n - 12)
            c += 3
        case .replaceOuterTag(let tag):
            slot.storeBytes(of: tag.bigEndian, toByteOffset: 12, as: UInt32.self)
            iov[c] = iovec(iov_base: mutableSource, iov_len: 12)
            iov[c + 1] = iovec(iov_base: slot + 12, iov_len: 4)
            iov[c + 2] = iovec(iov_base: mutableSource + 16, iov_len: n - 16)
            c += 3
        }
        messages[k].msg_hdr.msg_iovlen = c
        messages[k].msg_len = 0
        wireLengths[k] = wire
    }
}
#endif
