// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapPort: a bridge port on one interface through libpcap, the portable fallback where
// AF_PACKET rings are not available (and the road to BSD and macOS), behind the same `Port`
// protocol as AFPacketPort.
//
// Receive: pcap_dispatch in non-blocking, immediate mode (libpcap then uses per-frame
// hand-over, no block timeout), its callback copying each frame into an arena allocated at
// init, so frames stay valid until `releaseReceived` whatever libpcap does with its own
// buffer. The arena is a bump allocator: a dispatch call asks for no more frames than the
// arena can take at the snap length, so no frame is ever lost for want of room. Direction is
// "in" only (pcap_setdirection), so the port never receives what it injected.
// Transmit: pcap_inject per frame, the egress encoding written into a preallocated scratch
// buffer (or the received bytes sent as they are).
//
// Limits, against AFPacketPort: one copy per received frame and one system call per sent
// frame; no virtio_net_hdr, so GSO super-frames and CHECKSUM_PARTIAL frames cannot cross —
// turn the interface's offloads off (ethtool -K IF tso off gso off gro off tx off) for TCP.
// Frames cut by the snap length are dropped (counted), never forwarded cut.
// One owning thread calls receive, release, transmit and statistics. No allocation per frame.

import BridgeCore
import CPcap

#if canImport(Glibc)
import Glibc
#endif

/// Counters of a PcapPort (libpcap's and its own).
public struct PcapPortStatistics: Equatable, Sendable, CustomStringConvertible {
    /// Frames handed to the bridge.
    public var received: UInt64 = 0
    /// libpcap's ps_drop: frames the kernel dropped because the buffer was full.
    public var kernelDrops: UInt64 = 0
    /// libpcap's ps_ifdrop: frames the interface dropped.
    public var interfaceDrops: UInt64 = 0
    /// Frames longer than the snap length (dropped: forwarding a cut frame would corrupt it).
    public var truncatedDrops: UInt64 = 0
    /// pcap_dispatch failures (interface went down or away).
    public var receiveErrors: UInt64 = 0
    public var transmitted: UInt64 = 0
    /// pcap_inject failures (frame too long for the MTU, device queue full, interface gone).
    public var transmitErrors: UInt64 = 0

    public var description: String {
        "rx \(received) tx \(transmitted) kernel-drops \(kernelDrops) if-drops \(interfaceDrops) "
            + "truncated \(truncatedDrops) rx-errors \(receiveErrors) tx-errors \(transmitErrors)"
    }
}

/// What the receive callback needs, in memory allocated once (the callback is a C function).
private struct ReceiveContext {
    var arena: UnsafeMutableRawPointer
    var arenaBytes: Int
    var used: Int = 0
    var frames: UnsafeMutablePointer<ReceivedFrame>?
    var filled: Int = 0
    var port: Int = 0
    var truncated: UInt64 = 0
}

/// Copies one frame into the arena; called by pcap_dispatch on the owning thread.
private let pcapPortReceive: pcap_handler = { user, header, data in
    guard let user, let header, let data else { return }
    let ctx = UnsafeMutableRawPointer(user).assumingMemoryBound(to: ReceiveContext.self)
    let caplen = Int(header.pointee.caplen)
    if caplen < Int(header.pointee.len) {
        ctx.pointee.truncated += 1
        return
    }
    // receive() never asks for more frames than fit at the snap length: room is guaranteed.
    let dst = ctx.pointee.arena + ctx.pointee.used
    dst.copyMemory(from: data, byteCount: caplen)
    ctx.pointee.used += (caplen + 15) & ~15
    ctx.pointee.frames![ctx.pointee.filled] = ReceivedFrame(
        bytes: UnsafeRawBufferPointer(start: dst, count: caplen), port: ctx.pointee.port)
    ctx.pointee.filled += 1
}

/// A `Port` on a network interface through libpcap.
public final class PcapPort: Port, @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Longest frame taken whole (9216: jumbo frames with two tags).
        public var snapLength = 9216
        /// libpcap's kernel buffer (its ring).
        public var bufferBytes = 4 << 20
        /// Frames of at most `snapLength` the arena holds between releases (a ForwardingPass batch).
        public var arenaFrames = 256
        public var promiscuous = true
        public init() {}
    }

    public let name: String
    public let configuration: Configuration
    private var handle: OpaquePointer?
    /// For poll(): readable when frames wait (pcap_get_selectable_fd).
    public let fileDescriptor: Int32
    private let context: UnsafeMutablePointer<ReceiveContext>
    private let scratch: UnsafeMutableRawBufferPointer
    private var counters = PcapPortStatistics()
    /// libpcap's message for the last receive or transmit error.
    public private(set) var lastError: String?

    /// Opens and activates a capture on `interface` in the calling thread's network namespace.
    public init(interface: String, configuration: Configuration = Configuration()) throws(PcapError) {
        guard configuration.snapLength >= 64 && configuration.snapLength <= 262_144 else {
            throw .invalidConfiguration("snap length must be 64...262144")
        }
        guard configuration.arenaFrames >= 1 else { throw .invalidConfiguration("arena must hold at least 1 frame") }
        guard !interface.isEmpty && interface.utf8.count <= 15 else { throw .noSuchInterface(interface) }
        name = interface
        self.configuration = configuration
        let created: OpaquePointer? = withErrorBuffer { pcap_create(interface, $0) }
        guard let h = created else { throw .portFailed(interface: interface, operation: "pcap_create", message: "failed") }
        func fail(_ op: String, _ rc: Int32) -> PcapError {
            let message = String(cString: pcap_statustostr(rc)) + ": " + errorString(pcap_geterr(h))
            pcap_close(h)
            if rc == PCAP_ERROR_NO_SUCH_DEVICE { return .noSuchInterface(interface) }
            return .portFailed(interface: interface, operation: op, message: message)
        }
        var rc = pcap_set_snaplen(h, Int32(configuration.snapLength))
        if rc == 0 { rc = pcap_set_promisc(h, configuration.promiscuous ? 1 : 0) }
        // Immediate mode: every frame is delivered at once (no buffering for a timeout).
        if rc == 0 { rc = pcap_set_immediate_mode(h, 1) }
        if rc == 0 { rc = pcap_set_buffer_size(h, Int32(configuration.bufferBytes)) }
        if rc != 0 { throw fail("configure", rc) }
        rc = pcap_activate(h)
        if rc < 0 { throw fail("pcap_activate", rc) }
        guard pcap_datalink(h) == DLT_EN10MB else {
            pcap_close(h)
            throw .portFailed(interface: interface, operation: "open", message: "not an Ethernet interface")
        }
        // Only what arrives: frames this port injects must not come back as received.
        if pcap_setdirection(h, PCAP_D_IN) != 0 { throw fail("pcap_setdirection", PCAP_ERROR) }
        let nb: Int32 = withErrorBuffer { pcap_setnonblock(h, 1, $0) }
        if nb != 0 { throw fail("pcap_setnonblock", PCAP_ERROR) }
        let fd = pcap_get_selectable_fd(h)
        guard fd >= 0 else { throw fail("pcap_get_selectable_fd", PCAP_ERROR) }
        handle = h
        fileDescriptor = fd
        let slot = (configuration.snapLength + 15) & ~15
        let bytes = slot * configuration.arenaFrames
        context = .allocate(capacity: 1)
        context.initialize(to: ReceiveContext(arena: .allocate(byteCount: bytes, alignment: 64), arenaBytes: bytes))
        scratch = .allocate(byteCount: configuration.snapLength + 4, alignment: 16)
    }

    deinit {
        close()
        context.pointee.arena.deallocate()
        context.deinitialize(count: 1)
        context.deallocate()
        scratch.deallocate()
    }

    /// Closes the capture. Idempotent; a closed port receives and sends nothing.
    public func close() {
        if let h = handle { pcap_close(h) }
        handle = nil
    }

    public var isOpen: Bool { handle != nil }

    public func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        guard let h = handle, let base = frames.baseAddress else { return 0 }
        let ctx = context
        ctx.pointee.frames = base
        ctx.pointee.filled = 0
        ctx.pointee.port = port
        let slot = (configuration.snapLength + 15) & ~15
        // A few rounds at most: a dispatch that returns fewer than asked found the buffer empty.
        for _ in 0..<4 where ctx.pointee.filled < frames.count {
            let room = (ctx.pointee.arenaBytes - ctx.pointee.used) / slot
            let want = min(frames.count - ctx.pointee.filled, room)
            if want <= 0 { break }
            let rc = pcap_dispatch(h, Int32(want), pcapPortReceive,
                                   UnsafeMutableRawPointer(ctx).assumingMemoryBound(to: UInt8.self))
            if rc < 0 {
                counters.receiveErrors += 1
                lastError = errorString(pcap_geterr(h))
                break
            }
            if rc < want { break }
        }
        let n = ctx.pointee.filled
        ctx.pointee.frames = nil
        counters.received += UInt64(n)
        return n
    }

    public func releaseReceived() {
        context.pointee.used = 0
    }

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int { transmitReporting(frames).frames }

    /// A frame that fails is skipped mid-batch: the bytes are those of the frames injected.
    public func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult {
        guard let h = handle else { return TransmitResult(frames: 0, bytes: 0) }
        var sent = 0
        var bytes = 0
        for f in frames {
            let rc: Int32
            if case .asIs = f.encoding, let b = f.bytes.baseAddress {
                rc = pcap_inject(h, b, f.bytes.count)
            } else if f.wireLength <= scratch.count {
                let n = f.write(into: scratch)
                rc = pcap_inject(h, scratch.baseAddress, n)
            } else {
                rc = -1
            }
            // A failed frame is skipped, not retried: the rest of the batch still goes out.
            if rc < 0 {
                counters.transmitErrors += 1
                lastError = errorString(pcap_geterr(h))
            } else {
                sent += 1
                bytes += f.wireLength
            }
        }
        counters.transmitted += UInt64(sent)
        return TransmitResult(frames: sent, bytes: bytes)
    }

    /// This port's counters, with libpcap's drop counts read now (a system call).
    public func statistics() -> PcapPortStatistics {
        var s = counters
        s.truncatedDrops = context.pointee.truncated
        if let h = handle {
            var st = pcap_stat()
            if pcap_stats(h, &st) == 0 {
                s.kernelDrops = UInt64(st.ps_drop)
                s.interfaceDrops = UInt64(st.ps_ifdrop)
            }
        }
        return s
    }
}
