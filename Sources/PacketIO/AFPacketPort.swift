// AFPacketPort: a bridge port on one Linux interface through an AF_PACKET socket, receiving
// from a TPACKET_V3 ring without copies (RxRingV3.swift) and sending batches with sendmmsg
// (Transmit.swift). With `vnetHeader` (the default) every frame carries its virtio_net_hdr,
// so GSO super-frames and CHECKSUM_PARTIAL frames cross the bridge intact.
//
// Limits: one owning thread (the forwarding thread) calls receive, release, transmit and
// statistics; a V3 block reaches user space only when full or when its retire timeout
// expires, so at low rates the timeout is the latency floor (see `Configuration`).

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore

/// A `Port` on a Linux interface (AF_PACKET, TPACKET_V3 RX ring, sendmmsg TX).
public final class AFPacketPort: Port {
    /// Sizes and switches fixed at creation.
    public struct Configuration: Sendable, Equatable {
        /// Bytes per ring block: a multiple of the page size and larger than the biggest frame
        /// (a 64 KiB GSO super-frame plus headers), since V3 limits a frame by its block.
        public var blockSize: Int = 1 << 19
        /// Blocks in the ring. The ring must hold what a Forwarder pass keeps (blocks return
        /// only after the batch was sent: 128 super-frames are ~8 MB) plus what arrives
        /// meanwhile. Measured with 1 TCP stream through veth: 16 x 256 KiB froze the ring
        /// (11-32 drops, ~400-1200 retransmits per GiB); 16 x 512 KiB = 8 MiB had none.
        public var blockCount: Int = 16
        /// The block retire timeout (ms, at least 1): a partly filled block waits this long
        /// before user space sees it, so it bounds latency at low rates.
        public var retireTimeoutMilliseconds: Int = 1
        /// Carry `virtio_net_hdr` on receive and transmit (GSO, checksum offload).
        public var vnetHeader: Bool = true
        /// Put the interface in promiscuous mode for the socket's lifetime.
        public var promiscuous: Bool = true
        /// PACKET_QDISC_BYPASS on transmit: straight to the driver, ENOBUFS when it is full.
        public var qdiscBypass: Bool = true
        /// Frames per sendmmsg call; the TX arrays are sized for it.
        public var transmitBatch: Int = 256
        /// Waits allowed per `transmit` call when the socket or device is full (EAGAIN,
        /// ENOBUFS) before the rest of the batch counts as dropped.
        public var transmitWaitBudget: Int = 4
        /// One wait: the POLLOUT timeout for EAGAIN (ms), the pause for ENOBUFS (µs).
        public var transmitPollMilliseconds: Int32 = 1
        public var transmitBackoffMicroseconds: UInt32 = 50

        public init() {}
    }

    public let name: String
    public let interfaceIndex: Int32
    public let configuration: Configuration
    /// The socket, for poll(): readable when a ring block is ready.
    public private(set) var fileDescriptor: Int32
    /// The egress MTU used for the oversize check (read at open, see `refreshMTU`).
    public private(set) var mtu: Int

    let ring: RxRingV3
    let tx: TransmitBatch
    /// Kernel statistics accumulated across reads (the kernel resets them on each read).
    var kernelPackets: UInt64 = 0
    var kernelDrops: UInt64 = 0
    var kernelFreezes: UInt64 = 0

    /// Opens the port on `interface` in the calling thread's network namespace.
    public init(interface: String, configuration: Configuration = Configuration()) throws(PacketIOError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard configuration.blockSize >= 65_536 + 4096, configuration.blockSize % page == 0,
            configuration.blockSize <= 1 << 30
        else {
            throw .invalidConfiguration("block size \(configuration.blockSize): a multiple of \(page) of at least 69632 bytes")
        }
        guard configuration.blockCount >= 2, configuration.blockCount <= 4096 else {
            throw .invalidConfiguration("block count \(configuration.blockCount): 2 to 4096")
        }
        guard configuration.retireTimeoutMilliseconds >= 1, configuration.retireTimeoutMilliseconds <= 1000 else {
            throw .invalidConfiguration("retire timeout \(configuration.retireTimeoutMilliseconds) ms: 1 to 1000")
        }
        guard configuration.transmitBatch >= 1, configuration.transmitBatch <= 1024 else {
            throw .invalidConfiguration("transmit batch \(configuration.transmitBatch): 1 to 1024 (UIO_MAXIOV)")
        }
        let ifindex = try Interface.index(of: interface)
        let mtu = try Interface.mtu(of: interface)
        let s = try AFPacketSocket.open(interface: interface)
        var mapped: (UnsafeMutableRawPointer, Int)? = nil
        do throws(PacketIOError) {
            try s.setInt(PACKET_VERSION, Int32(TPACKET_V3.rawValue), "PACKET_VERSION")
            // Both must precede the ring: they change the frame layout the ring is built for.
            if configuration.vnetHeader { try s.setInt(PACKET_VNET_HDR, 1, "PACKET_VNET_HDR") }
            try s.setInt(PACKET_RESERVE, Int32(RxRingV3.tagHeadroom), "PACKET_RESERVE")
            // Older kernels lack it; the ring also skips PACKET_OUTGOING frames itself.
            try? s.setInt(PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING")
            if configuration.qdiscBypass { try s.setInt(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS") }

            var req = tpacket_req3()
            req.tp_block_size = UInt32(configuration.blockSize)
            req.tp_block_nr = UInt32(configuration.blockCount)
            req.tp_frame_size = 2048  // unused by V3 beyond a consistency check
            req.tp_frame_nr = UInt32(configuration.blockSize / 2048 * configuration.blockCount)
            req.tp_retire_blk_tov = UInt32(configuration.retireTimeoutMilliseconds)
            req.tp_sizeof_priv = 0
            req.tp_feature_req_word = 0
            try s.set(PACKET_RX_RING, req, "PACKET_RX_RING")

            let length = configuration.blockSize * configuration.blockCount
            let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | Int32(MAP_POPULATE), s.fd, 0)
            guard let p, p != MAP_FAILED else {
                throw .systemCall(operation: "mmap of the \(length)-byte RX ring", interface: interface, errno: errno)
            }
            mapped = (p, length)
            try s.bind(ifindex: ifindex)
            if configuration.promiscuous { try s.addPromiscuousMembership(ifindex: ifindex) }
        } catch {
            if let (p, length) = mapped { munmap(p, length) }
            Glibc.close(s.fd)
            throw error
        }
        self.name = interface
        self.interfaceIndex = ifindex
        self.configuration = configuration
        self.fileDescriptor = s.fd
        self.mtu = mtu
        ring = RxRingV3(
            base: mapped!.0, blockSize: configuration.blockSize, blockCount: configuration.blockCount,
            vnetHeader: configuration.vnetHeader)
        tx = TransmitBatch(fd: s.fd, configuration: configuration, mtu: mtu)
    }

    deinit { close() }

    /// Unmaps the ring and closes the socket (which also ends promiscuity). Idempotent.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        ring.unmap()
        tx.fd = -1
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    public var isOpen: Bool { fileDescriptor >= 0 }

    public func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        guard fileDescriptor >= 0 else { return 0 }
        return ring.receive(into: frames, port: port)
    }

    public func releaseReceived() {
        guard fileDescriptor >= 0 else { return }
        ring.release()
    }

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int {
        guard fileDescriptor >= 0 else {
            tx.droppedClosed &+= UInt64(frames.count)
            return 0
        }
        return tx.send(frames)
    }

    /// Re-reads the interface MTU (after `ip link set mtu`).
    public func refreshMTU() throws(PacketIOError) {
        mtu = try Interface.mtu(of: name)
        tx.setMTU(mtu)
    }

    /// Counters of the port; reading folds in (and resets) the kernel's PACKET_STATISTICS.
    public func statistics() -> AFPacketStatistics {
        if fileDescriptor >= 0, let st = AFPacketSocket(fd: fileDescriptor, interface: name).readStatistics() {
            kernelPackets &+= UInt64(st.tp_packets)
            kernelDrops &+= UInt64(st.tp_drops)
            kernelFreezes &+= UInt64(st.tp_freeze_q_cnt)
        }
        var s = AFPacketStatistics()
        s.kernelPackets = kernelPackets
        s.kernelDrops = kernelDrops
        s.kernelFreezeCount = kernelFreezes
        s.receivedFrames = ring.received
        s.receivedBlocks = ring.blocksSeen
        s.skippedOutgoing = ring.skippedOutgoing
        s.droppedTruncated = ring.truncated
        s.vlanTagsReinserted = ring.tagsReinserted
        s.transmittedFrames = tx.sent
        s.transmitDroppedOversize = tx.droppedOversize
        s.transmitDroppedMalformed = tx.droppedMalformed
        s.transmitDroppedBusy = tx.droppedBusy
        s.transmitDroppedClosed = tx.droppedClosed
        s.transmitErrors = tx.errors
        s.transmitWaits = tx.waits
        s.lastTransmitErrno = tx.lastErrno
        return s
    }
}

/// What an `AFPacketPort` counted. Kernel fields accumulate PACKET_STATISTICS reads.
public struct AFPacketStatistics: Sendable, Equatable, CustomStringConvertible {
    /// tp_packets: frames the socket saw (the kernel includes its drops).
    public var kernelPackets: UInt64 = 0
    /// tp_drops: frames lost because the ring was full.
    public var kernelDrops: UInt64 = 0
    /// tp_freeze_q_cnt: times the ring froze because user space held every block.
    public var kernelFreezeCount: UInt64 = 0
    /// Frames handed to the bridge.
    public var receivedFrames: UInt64 = 0
    /// Ring blocks taken from the kernel.
    public var receivedBlocks: UInt64 = 0
    /// Frames this host sent, seen again (PACKET_IGNORE_OUTGOING unavailable).
    public var skippedOutgoing: UInt64 = 0
    /// Frames cut short by the ring (larger than a block): dropped.
    public var droppedTruncated: UInt64 = 0
    /// Tags the kernel had stripped and the ring put back.
    public var vlanTagsReinserted: UInt64 = 0
    public var transmittedFrames: UInt64 = 0
    /// Larger than MTU + Ethernet header (+ one tag) without GSO metadata.
    public var transmitDroppedOversize: UInt64 = 0
    /// An edit the frame is too short for.
    public var transmitDroppedMalformed: UInt64 = 0
    /// Socket or device full after the wait budget.
    public var transmitDroppedBusy: UInt64 = 0
    /// Sent to a closed port.
    public var transmitDroppedClosed: UInt64 = 0
    /// sendmmsg failed for a frame with another error (one frame dropped each).
    public var transmitErrors: UInt64 = 0
    /// Waits spent on EAGAIN/ENOBUFS.
    public var transmitWaits: UInt64 = 0
    /// errno of the last failed send (0: none).
    public var lastTransmitErrno: Int32 = 0

    public init() {}

    public var description: String {
        "rx \(receivedFrames) (blocks \(receivedBlocks), kernel packets \(kernelPackets), ring drops \(kernelDrops), "
            + "freezes \(kernelFreezeCount), truncated \(droppedTruncated), outgoing skipped \(skippedOutgoing), "
            + "tags reinserted \(vlanTagsReinserted)); tx \(transmittedFrames) (oversize \(transmitDroppedOversize), "
            + "malformed \(transmitDroppedMalformed), busy \(transmitDroppedBusy), closed \(transmitDroppedClosed), "
            + "errors \(transmitErrors), waits \(transmitWaits), last errno \(lastTransmitErrno))"
    }
}
#endif
