// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The one interface between the engine and the outside world: a port hands over batches of
// received frames and takes batches of frames to send. AF_PACKET, libpcap and in-memory ports
// all implement it; the forwarding path never sees a socket. Calls are per batch, so an
// existential here costs one dynamic call per port per batch, never one per frame.

/// A frame to send, as a view of received bytes plus the edit its egress port needs.
public struct EgressFrame {
    public var bytes: UnsafeRawBufferPointer
    public var encoding: EgressEncoding
    /// The `offload` of the received frame (AF_PACKET: its `virtio_net_hdr`).
    public var offload: UnsafeRawPointer?

    @inlinable public init(bytes: UnsafeRawBufferPointer, encoding: EgressEncoding, offload: UnsafeRawPointer? = nil) {
        self.bytes = bytes
        self.encoding = encoding
        self.offload = offload
    }

    /// Length on the wire after the encoding is applied.
    @inlinable public var wireLength: Int {
        switch encoding {
        case .asIs, .replaceOuterTag: return bytes.count
        case .stripOuterTag: return bytes.count - 4
        case .insertTag: return bytes.count + 4
        }
    }

    /// The shortest frame the encoding can be applied to: the addresses before an inserted
    /// tag, the addresses and the tag a strip or replace edits. Shorter frames encode to nothing.
    @inlinable public var minimumLength: Int {
        switch encoding {
        case .asIs: return 0
        case .insertTag: return 12
        case .stripOuterTag, .replaceOuterTag: return 16
        }
    }

    /// Writes the encoded frame into `out`, cut at `out.count` bytes (a capture slot may be
    /// shorter than the frame); returns the bytes written: `min(wireLength, out.count)`, or 0
    /// for a frame shorter than `minimumLength`. Never writes past `out` nor reads past
    /// `bytes`, whatever their sizes: every store and load below is bounded by them.
    /// For transports that copy (in-memory, pcap, TX rings); AF_PACKET uses iovecs instead.
    @inlinable
    public func write(into out: UnsafeMutableRawBufferPointer) -> Int {
        let n = bytes.count
        guard n >= minimumLength, let src = bytes.baseAddress, let dst = out.baseAddress else { return 0 }
        let limit = out.count
        /// `count` bytes from `src + from` to `dst + to`, cut at `limit` and at `n`.
        func copy(_ to: Int, _ from: Int, _ count: Int) {
            let c = Swift.min(count, limit - to, n - from)
            if c > 0 { (dst + to).copyMemory(from: src + from, byteCount: c) }
        }
        /// The tag at bytes 12..<16, big-endian, cut at `limit`.
        func storeTag(_ tag: UInt32) {
            if limit >= 16 {
                dst.storeBytes(of: tag.bigEndian, toByteOffset: 12, as: UInt32.self)
            } else {
                for k in 0..<Swift.max(limit - 12, 0) {
                    dst.storeBytes(of: UInt8(truncatingIfNeeded: tag >> (24 - 8 * k)), toByteOffset: 12 + k, as: UInt8.self)
                }
            }
        }
        switch encoding {
        case .asIs:
            copy(0, 0, n)
        case .stripOuterTag:
            copy(0, 0, 12)
            copy(12, 16, n - 16)
        case .insertTag(let tag):
            copy(0, 0, 12)
            storeTag(tag)
            copy(16, 12, n - 12)
        case .replaceOuterTag(let tag):
            copy(0, 0, 12)
            storeTag(tag)
            copy(16, 16, n - 16)
        }
        return Swift.min(wireLength, limit)
    }
}

/// What one `transmit` call sent: which frames went, summed.
public struct TransmitResult: Equatable, Sendable {
    /// Frames sent.
    public var frames: Int
    /// The wire bytes (`EgressFrame.wireLength`) of exactly the frames sent: a frame skipped in
    /// the middle of the batch is not in it.
    public var bytes: Int

    @inlinable public init(frames: Int, bytes: Int) {
        self.frames = frames
        self.bytes = bytes
    }
}

/// A bridge port as the forwarding path sees it.
///
/// The receive contract, which every implementation keeps (the AF_PACKET rings, libpcap,
/// `MemoryPort`, which checks it): the bytes of every frame handed out by `receive` stay
/// valid and unchanged until the next `releaseReceived()`, however many `receive` calls come
/// in between (each may hand out nothing); after `releaseReceived()` none of them may be read.
public protocol Port: AnyObject {
    /// A name for logs and `link show`.
    var name: String { get }
    /// Writes up to `frames.count` received frames into `frames` (with `port` as their ingress
    /// index) and returns how many. Their bytes stay valid until `releaseReceived()`, also
    /// across further `receive` calls (see the protocol's contract).
    func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int
    /// Everything received so far has been processed and sent: its memory may be reused.
    func releaseReceived()
    /// Sends the frames in order; a frame the port cannot send (too large, malformed, an
    /// error) is skipped and the rest still go. Returns how many were sent; the others count
    /// as dropped.
    func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int
    /// `transmit`, also saying which frames went: their number and their wire bytes. The
    /// ForwardingPass counts TX bytes from it. Ports that can skip a frame in the middle of a batch
    /// must implement it; the default is right only for ports that send a prefix of the batch.
    func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult
}

extension Port {
    /// For ports that never skip a frame (what they send is a prefix of the batch).
    @inlinable
    public func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult {
        let sent = transmit(frames)
        var bytes = 0
        for k in 0..<sent { bytes += frames[k].wireLength }
        return TransmitResult(frames: sent, bytes: bytes)
    }
}
