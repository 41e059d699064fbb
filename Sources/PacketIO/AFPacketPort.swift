// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// AFPacketPort: a bridge port on one Linux interface through an AF_PACKET socket, receiving
// from a memory-mapped RX ring without copies and sending batches through sockets that only
// send (Transmit.swift): a TX ring for frames that fit its slots (TxRing.swift), sendmmsg for
// the larger ones. With `vnetHeader` (the default) every frame carries its virtio_net_hdr,
// so GSO super-frames and CHECKSUM_PARTIAL frames cross the bridge intact.
//
// Two RX rings, chosen by `Configuration.ringVersion`:
// - `.v2` (default, RxRingV2.swift): fixed slots with one `tp_status` word each. The kernel
//   hands every frame over on its own and wakes poll for it, so a lone frame (a ping) is
//   forwarded at once. Slots are 2 KiB, so the ring is deep in frames (4,096 slots, 8 MiB);
//   a frame larger than its slot (a GSO super-frame of up to 64 KiB) is queued whole on the
//   socket and read with recvmsg (LargeFrameQueue.swift).
// - `.v3` (RxRingV3.swift): blocks of densely packed frames, handed over only when a block is
//   full or its retire timeout (1 ms at least) expires. An open block has no per-frame status
//   (its frame count grows before a frame is complete), so user space cannot take frames
//   from it early: at low rates every frame waits for the timeout and ping RTT through the
//   bridge is ~1-1.7 ms whatever the timer is tuned to. Dense packing gives a deep ring for
//   small frames (8 MiB holds ~65k 64-byte frames) and one wake-up per block.
//
// Measured in one run each with the first V2 shape (259 slots of ~74 KiB; AFPacketPortTests,
// SWBRIDGE_MEASURE=1: h1 - bridge - h2 over veth, 2 vCPUs shared with other work, so ±30% and
// more between runs):
//
//   | | ping avg / p99 (ms) | TCP 1 stream, offloads on | 64 B, ~300 k/s offered for ~1.7 s |
//   | kernel bridge | 0.063 / 0.118 | 13.6 Gbit/s | 0% loss |
//   | V2 (twice)    | 0.102-0.117 / 0.19-0.21 (1.6-1.9x) | 7.6-9.4 Gbit/s | 61-67% loss |
//   | V3            | 0.995 / 1.31 (16x) | 7.1 Gbit/s | 1% loss |
//
// Under heavier load from other processes V2 measured 2.4-2.7x the kernel's RTT (0.135-0.151
// ms against 0.055-0.061) and V3 23-29x. V2 is the default because only it can meet a latency
// bound near the kernel bridge's. Its first form had ~74 KiB slots so that a super-frame fit
// in place, which made the ring 259 frames deep: a burst of small frames overran it between
// two wake-ups of the forwarding thread (zero-loss 64-byte rate 0.45x the kernel bridge's,
// back-to-back bursts of ~1,000 frames). Slots sized for ordinary frames, with the socket
// queue for the rare large one, make it 4,096 frames deep in less memory: measured side by
// side with `swbridge bench`, zero-loss rate 0.47x -> 1.28x the kernel bridge's and bursts of
// >= 32,768 frames, for TCP 1 stream ~0.8x instead of ~0.85x (the bridge thread, not the
// sender, now copies each super-frame; README, "Benchmarking").
// Ports that mostly carry small-frame floods and tolerate ~1 ms can choose `.v3`.
//
// Limits: one owning thread (the forwarding thread) calls receive, release, transmit and
// statistics.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import BridgeCore
import SystemCalls

/// A `Port` on a Linux interface (AF_PACKET, TPACKET_V2 or V3 RX ring, TX ring and sendmmsg TX).
public final class AFPacketPort: Port {
    /// Sizes and switches fixed at creation.
    /// The RX ring's TPACKET version (see the file comment for the trade-off).
    public enum RingVersion: Sendable, Equatable, CustomStringConvertible {
        /// Fixed frame slots, one status word each: every frame is handed over (and wakes
        /// poll) on its own. Low latency at any rate; 2 KiB slots, larger frames through the
        /// socket queue.
        case v2
        /// Blocks of packed frames handed over whole, when full or at the retire timeout:
        /// dense, but at low rates a frame waits for the timeout (≥ 1 ms).
        case v3

        public var description: String { self == .v2 ? "TPACKET_V2" : "TPACKET_V3" }
    }

    /// A socket's PACKET_FANOUT membership. A group id is unique in the network namespace and
    /// bound to one interface: an id chosen by user space (the process id and a port number,
    /// once) can collide with another process's group on another interface, and that socket
    /// then fails to join. So groups are created with a kernel-assigned id.
    public enum Fanout: Sendable, Equatable {
        /// Not in a group.
        case none
        /// Create a group with an id the kernel picks among the unused ones
        /// (PACKET_FANOUT_FLAG_UNIQUEID, Linux 4.18); `fanoutGroupID` says which.
        case newGroup
        /// Join the group with this id (same interface, same mode).
        case join(UInt16)
    }

    /// Sizes and switches fixed at creation.
    public struct Configuration: Sendable, Equatable {
        /// The RX ring version.
        public var ringVersion: RingVersion = .v2
        /// Bytes per ring block: a multiple of the page size and larger than the biggest frame
        /// (a 64 KiB GSO super-frame plus headers), since V3 limits a frame by its block. V2
        /// cuts each block into `frameSize` slots.
        public var blockSize: Int = 1 << 19
        /// V3: blocks in the ring. The ring must hold what a ForwardingPass pass keeps (blocks return
        /// only after the batch was sent: 128 super-frames are ~8 MB) plus what arrives
        /// meanwhile. Measured with 1 TCP stream through veth: 16 x 256 KiB froze the ring
        /// (11-32 drops, ~400-1200 retransmits per GiB); 16 x 512 KiB = 8 MiB had none.
        public var blockCount: Int = 16
        /// V2: frame slots in the ring, rounded up to whole blocks: the ring's depth, in
        /// frames of any size. A ForwardingPass pass holds up to 128 per port; the rest absorbs
        /// bursts while the forwarding thread is away (4,096 slots: ~13 ms at 300 k frames/s).
        public var frameCount: Int = 4096
        /// V2: bytes per slot (TPACKET_ALIGN'd). A frame that does not fit (a GSO super-frame,
        /// a jumbo frame) is queued whole on the socket by the kernel (PACKET_COPY_THRESH) and
        /// read from there with recvmsg: see `LargeFrameQueue`. 2,048 holds any frame of a
        /// 1500-byte MTU in its slot; at least 65,696 puts every frame in its slot.
        public var frameSize: Int = 2048
        /// V2 with slots smaller than a super-frame: buffers for frames read from the socket
        /// queue, i.e. how many of them one ForwardingPass pass can hold (66 KiB each).
        public var largeFrameBuffers: Int = 32
        /// SO_RCVBUF for those queued frames (the kernel stops queuing, and the frame is lost
        /// as truncated, while this much is waiting). Raised past rmem_max when allowed.
        public var receiveBufferBytes: Int = 8 << 20
        /// V3: the block retire timeout (ms, at least 1): a partly filled block waits this long
        /// before user space sees it, so it bounds latency at low rates. Unused by V2.
        public var retireTimeoutMilliseconds: Int = 1
        /// Carry `virtio_net_hdr` on receive and transmit (GSO, checksum offload).
        public var vnetHeader: Bool = true
        /// Put the interface in promiscuous mode for the socket's lifetime.
        public var promiscuous: Bool = true
        /// PACKET_QDISC_BYPASS on transmit: straight to the driver, ENOBUFS when it is full.
        public var qdiscBypass: Bool = true
        /// Transmit through a second socket of its own (bound to the interface, protocol 0:
        /// it receives nothing, and has no ring) instead of the receiving one. Why: the kernel
        /// wakes the waiters of a socket's queue each time one of its sent frames is freed
        /// (sock_wfree -> sock_def_write_space), and the receiving socket always has one, the
        /// forwarding thread's epoll; that wake-up was ~8% of the thread under a flood.
        public var separateTransmitSocket: Bool = true
        /// With `separateTransmitSocket`: slots of a PACKET_TX_RING on a third socket, through
        /// which frames that fit a slot are sent (one send() per batch instead of a sendmmsg
        /// message each; see TxRing.swift). Rounded up to whole blocks; 0: no ring.
        public var transmitRingFrames: Int = 512
        /// Bytes per TX ring slot: the tpacket2 header (32), the virtio header, the frame.
        /// 2,048 holds any frame of a 1500-byte MTU.
        public var transmitRingFrameSize: Int = 2048
        /// Frames per sendmmsg call; the TX arrays are sized for it.
        public var transmitBatch: Int = 256
        /// Waits allowed per `transmit` call when the socket or device is full (EAGAIN,
        /// ENOBUFS) before the rest of the batch counts as dropped.
        public var transmitWaitBudget: Int = 4
        /// One wait: the POLLOUT timeout for EAGAIN (ms), the pause for ENOBUFS (µs).
        public var transmitPollMilliseconds: Int32 = 1
        public var transmitBackoffMicroseconds: UInt32 = 50
        /// PACKET_FANOUT membership (hash mode): sockets of one group on one interface share
        /// its frames, each flow always to the same socket (so several forwarding threads
        /// never reorder a flow). `AFPacketPort.openFanoutGroup` sets it for its sockets.
        public var fanout: Fanout = .none

        public init() {}
    }

    public let name: String
    public let interfaceIndex: Int32
    public let configuration: Configuration
    /// The socket, for poll(): readable when a frame (V2) or a ring block (V3) is ready.
    public private(set) var fileDescriptor: Int32
    /// The socket frames are sent on with sendmmsg: `fileDescriptor`, or one of its own (see
    /// `Configuration.separateTransmitSocket`).
    public private(set) var transmitFileDescriptor: Int32
    /// The TX ring's socket (-1: none; see `Configuration.transmitRingFrames`).
    public private(set) var transmitRingFileDescriptor: Int32 = -1
    /// The egress MTU used for the oversize check (read at open, see `refreshMTU`).
    public private(set) var mtu: Int

    /// The PACKET_FANOUT group the socket is in (nil: none).
    public let fanoutGroupID: UInt16?

    /// The ring as built: version, blocks and (V2) slots.
    public let ringGeometry: RingGeometry

    let ring: RxRing
    let tx: TransmitBatch
    /// Kernel statistics accumulated across reads (the kernel resets them on each read).
    var kernelPackets: UInt64 = 0
    var kernelDrops: UInt64 = 0
    var kernelFreezes: UInt64 = 0

    /// Opens the port on `interface` in the calling thread's network namespace.
    public init(interface: String, configuration: Configuration = Configuration()) throws(PacketIOError) {
        let geometry = try RingGeometry(configuration)
        guard configuration.retireTimeoutMilliseconds >= 1, configuration.retireTimeoutMilliseconds <= 1000 else {
            throw .invalidConfiguration("retire timeout \(configuration.retireTimeoutMilliseconds) ms: 1 to 1000")
        }
        guard configuration.transmitBatch >= 1, configuration.transmitBatch <= 1024 else {
            throw .invalidConfiguration("transmit batch \(configuration.transmitBatch): 1 to 1024 (UIO_MAXIOV)")
        }
        guard (0...65_536).contains(configuration.transmitRingFrames) else {
            throw .invalidConfiguration("transmit ring frames \(configuration.transmitRingFrames): 0 to 65536")
        }
        guard configuration.transmitRingFrames == 0
            || ((128...65_536).contains(configuration.transmitRingFrameSize)
                && configuration.transmitRingFrameSize == Int(clp_tpacket_align(UInt32(configuration.transmitRingFrameSize)))
                && 65_536 % configuration.transmitRingFrameSize == 0)
        else {
            throw .invalidConfiguration("transmit ring frame size \(configuration.transmitRingFrameSize): a power of two from 128 to 65536")
        }
        let ifindex = try Interface.index(of: interface)
        let mtu = try Interface.mtu(of: interface)
        let s = try AFPacketSocket.open(interface: interface)
        var mapped: (UnsafeMutableRawPointer, Int)? = nil
        var fanoutID: UInt16? = nil
        var transmitFD = s.fd
        var txRing: TxRing? = nil
        do throws(PacketIOError) {
            let version = geometry.version == .v2 ? TPACKET_V2.rawValue : TPACKET_V3.rawValue
            try s.setInt(PACKET_VERSION, Int32(version), "PACKET_VERSION")
            // Both must precede the ring: they change the frame layout the ring is built for.
            if configuration.vnetHeader { try s.setInt(PACKET_VNET_HDR, 1, "PACKET_VNET_HDR") }
            try s.setInt(PACKET_RESERVE, Int32(RxRing.tagHeadroom), "PACKET_RESERVE")
            // Older kernels lack it; the ring also skips PACKET_OUTGOING frames itself.
            try? s.setInt(PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING")
            if configuration.qdiscBypass { try s.setInt(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS") }
            if geometry.queuesLargeFrames {
                // A frame larger than its slot is queued whole on the socket (the slot says
                // TP_STATUS_COPY); AUXDATA brings its VLAN tag and status along.
                try s.setInt(PACKET_COPY_THRESH, 1, "PACKET_COPY_THRESH")
                try s.setInt(PACKET_AUXDATA, 1, "PACKET_AUXDATA")
                s.setReceiveBuffer(configuration.receiveBufferBytes)
            }

            switch geometry.version {
            case .v2:
                var req = tpacket_req()
                req.tp_block_size = UInt32(geometry.blockSize)
                req.tp_block_nr = UInt32(geometry.blockCount)
                req.tp_frame_size = UInt32(geometry.slotSize)
                req.tp_frame_nr = UInt32(geometry.slotCount)
                try s.set(PACKET_RX_RING, req, "PACKET_RX_RING")
            case .v3:
                var req = tpacket_req3()
                req.tp_block_size = UInt32(geometry.blockSize)
                req.tp_block_nr = UInt32(geometry.blockCount)
                req.tp_frame_size = 2048  // unused by V3 beyond a consistency check
                req.tp_frame_nr = UInt32(geometry.blockSize / 2048 * geometry.blockCount)
                req.tp_retire_blk_tov = UInt32(configuration.retireTimeoutMilliseconds)
                req.tp_sizeof_priv = 0
                req.tp_feature_req_word = 0
                try s.set(PACKET_RX_RING, req, "PACKET_RX_RING")
            }

            let length = geometry.length
            let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | Int32(MAP_POPULATE), s.fd, 0)
            guard let p, p != MAP_FAILED else {
                throw .system(IOError(call: "mmap of the \(length)-byte RX ring", subject: interface, errno: errno))
            }
            mapped = (p, length)
            try s.bind(ifindex: ifindex)
            if configuration.promiscuous { try s.addPromiscuousMembership(ifindex: ifindex) }
            // After bind: the group is per interface. Hash mode keeps each flow on one socket.
            switch configuration.fanout {
            case .none:
                fanoutID = nil
            case .newGroup:
                let mode = Int32(PACKET_FANOUT_HASH) | Int32(PACKET_FANOUT_FLAG_UNIQUEID)
                try s.setInt(PACKET_FANOUT, mode << 16, "PACKET_FANOUT (new group)")
                fanoutID = try s.fanoutGroupID()
            case .join(let group):
                try s.setInt(PACKET_FANOUT, Int32(group) | Int32(PACKET_FANOUT_HASH) << 16, "PACKET_FANOUT (join \(group))")
                fanoutID = group
            }
            // Last: nothing after them throws, so the catch below closes only what they opened.
            if configuration.separateTransmitSocket {
                if configuration.transmitRingFrames > 0 {
                    txRing = try Self.openTransmitRing(interface: interface, ifindex: ifindex, configuration: configuration)
                }
                transmitFD = try Self.openTransmitSocket(interface: interface, ifindex: ifindex, configuration: configuration)
            }
        } catch {
            if var txRing {
                Glibc.close(txRing.fd)
                txRing.unmap()
            }
            if let (p, length) = mapped { munmap(p, length) }
            Glibc.close(s.fd)
            throw error
        }
        self.transmitRingFileDescriptor = txRing?.fd ?? -1
        self.transmitFileDescriptor = transmitFD
        self.name = interface
        self.interfaceIndex = ifindex
        self.fanoutGroupID = fanoutID
        self.configuration = configuration
        self.ringGeometry = geometry
        self.fileDescriptor = s.fd
        self.mtu = mtu
        switch geometry.version {
        case .v2:
            ring = RxRingV2(
                base: mapped!.0, blockSize: geometry.blockSize, blockCount: geometry.blockCount,
                slotSize: geometry.slotSize, vnetHeader: configuration.vnetHeader,
                largeFrames: geometry.queuesLargeFrames
                    ? LargeFrameQueue(fd: s.fd, bufferCount: configuration.largeFrameBuffers, vnetHeader: configuration.vnetHeader)
                    : nil)
        case .v3:
            ring = RxRingV3(
                base: mapped!.0, blockSize: geometry.blockSize, blockCount: geometry.blockCount,
                vnetHeader: configuration.vnetHeader)
        }
        tx = TransmitBatch(fd: transmitFD, ring: txRing ?? TxRing(), configuration: configuration, mtu: mtu)
    }

    /// The TX ring's socket: V2, the virtio header if the port carries it, then the ring, then
    /// bound to `ifindex` with protocol 0 like the other transmit socket.
    private static func openTransmitRing(interface: String, ifindex: Int32, configuration: Configuration) throws(PacketIOError) -> TxRing {
        let t = try AFPacketSocket.open(interface: interface)
        var ring = TxRing()
        do throws(PacketIOError) {
            try t.setInt(PACKET_VERSION, Int32(TPACKET_V2.rawValue), "PACKET_VERSION (TX ring)")
            if configuration.vnetHeader { try t.setInt(PACKET_VNET_HDR, 1, "PACKET_VNET_HDR (TX ring)") }
            ring = try TxRing(fd: t.fd, frames: configuration.transmitRingFrames,
                              slotSize: configuration.transmitRingFrameSize, vnetHeader: configuration.vnetHeader)
            if configuration.qdiscBypass { try t.setInt(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS (TX ring)") }
            try t.bind(ifindex: ifindex, protocol: 0)
            return ring
        } catch {
            ring.unmap()
            Glibc.close(t.fd)
            throw error
        }
    }

    /// The transmit-only socket: bound to `ifindex` with protocol 0, so no frame is ever
    /// queued on it, and no one waits on it (see `separateTransmitSocket`).
    private static func openTransmitSocket(interface: String, ifindex: Int32, configuration: Configuration) throws(PacketIOError) -> Int32 {
        let t = try AFPacketSocket.open(interface: interface)
        do throws(PacketIOError) {
            if configuration.vnetHeader { try t.setInt(PACKET_VNET_HDR, 1, "PACKET_VNET_HDR (transmit socket)") }
            if configuration.qdiscBypass { try t.setInt(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS (transmit socket)") }
            try t.bind(ifindex: ifindex, protocol: 0)
        } catch {
            Glibc.close(t.fd)
            throw error
        }
        return t.fd
    }

    deinit { close() }

    /// Unmaps the ring and closes the socket (which also ends promiscuity). Idempotent.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        ring.unmap()
        tx.fd = -1
        tx.ring.unmap()
        if transmitFileDescriptor != fileDescriptor { Glibc.close(transmitFileDescriptor) }
        transmitFileDescriptor = -1
        if transmitRingFileDescriptor >= 0 { Glibc.close(transmitRingFileDescriptor) }
        transmitRingFileDescriptor = -1
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

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int { transmitReporting(frames).frames }

    /// Frames it cannot send (malformed, oversize, a per-frame error) are skipped mid-batch:
    /// the bytes are those of the frames the kernel accepted.
    public func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult {
        guard fileDescriptor >= 0 else {
            tx.droppedClosed &+= UInt64(frames.count)
            return TransmitResult(frames: 0, bytes: 0)
        }
        return tx.send(frames)
    }

    /// Re-reads the interface MTU (after `ip link set mtu`). The socket is bound to the
    /// interface's index, which a rename keeps: the MTU is read from the interface behind that
    /// index, under whatever name it has now (`name` may since be another interface's, or
    /// nobody's). Throws `noSuchInterface` when the index is gone.
    public func refreshMTU() throws(PacketIOError) {
        mtu = try Interface.mtu(of: Interface.name(ofIndex: interfaceIndex))
        tx.setMTU(mtu)
    }

    /// Opens `count` ports on `interface` in one new PACKET_FANOUT group (hash mode) whose id
    /// the kernel assigns, so it cannot collide with another bridge's group: the first socket
    /// creates the group, the others join it. One port per forwarding thread; with `count` 1
    /// a single port without fanout. On failure every port opened so far is closed.
    public static func openFanoutGroup(
        interface: String, count: Int, configuration: Configuration = Configuration()
    ) throws(PacketIOError) -> [AFPacketPort] {
        guard count >= 1 else { throw .invalidConfiguration("fanout group of \(count) sockets") }
        var c = configuration
        c.fanout = count == 1 ? .none : .newGroup
        let first = try AFPacketPort(interface: interface, configuration: c)
        var ports = [first]
        guard count > 1 else { return ports }
        guard let group = first.fanoutGroupID else {
            first.close()
            throw .invalidConfiguration("the kernel reported no fanout group for \(interface)")
        }
        c.fanout = .join(group)
        do throws(PacketIOError) {
            for _ in 1..<count { ports.append(try AFPacketPort(interface: interface, configuration: c)) }
        } catch {
            for p in ports { p.close() }
            throw error
        }
        return ports
    }

    /// Counters of the port; reading folds in (and resets) the kernel's PACKET_STATISTICS.
    public func statistics() -> AFPacketStatistics {
        if fileDescriptor >= 0,
            let st = AFPacketSocket(fd: fileDescriptor, interface: name).readStatistics(v3: ringGeometry.version == .v3)
        {
            kernelPackets &+= UInt64(st.packets)
            kernelDrops &+= UInt64(st.drops)
            kernelFreezes &+= UInt64(st.freezes)
        }
        var s = AFPacketStatistics()
        s.kernelPackets = kernelPackets
        s.kernelDrops = kernelDrops
        s.kernelFreezeCount = kernelFreezes
        s.receivedFrames = ring.received
        s.receivedBlocks = ring.blocksSeen
        s.skippedOutgoing = ring.skippedOutgoing
        s.droppedTruncated = ring.truncated
        s.receivedQueued = ring.receivedQueued
        s.queueResynchronisations = (ring as? RxRingV2)?.largeFrames?.resynchronisations ?? 0
        s.vlanTagsReinserted = ring.tagsReinserted
        s.transmittedFrames = tx.sent
        s.transmittedThroughRing = tx.ringSent
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

/// The shape of an AFPacketPort's RX ring, derived from its `Configuration`.
public struct RingGeometry: Sendable, Equatable, CustomStringConvertible {
    public var version: AFPacketPort.RingVersion
    public var blockSize: Int
    public var blockCount: Int
    /// V2: bytes per frame slot (TPACKET_ALIGN'd); V3: 0 (no fixed slots).
    public var slotSize: Int
    /// V2: frame slots (`frameCount` rounded up to whole blocks); V3: 0.
    public var slotCount: Int
    /// Bytes mapped.
    public var length: Int { blockSize * blockCount }

    /// Checks `configuration` and works out the ring it asks for.
    public init(_ configuration: AFPacketPort.Configuration) throws(PacketIOError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        version = configuration.ringVersion
        blockSize = configuration.blockSize
        guard blockSize >= 65_536 + 4096, blockSize % page == 0, blockSize <= 1 << 30 else {
            throw .invalidConfiguration("block size \(blockSize): a multiple of \(page) of at least 69632 bytes")
        }
        switch version {
        case .v3:
            guard configuration.blockCount >= 2, configuration.blockCount <= 4096 else {
                throw .invalidConfiguration("block count \(configuration.blockCount): 2 to 4096")
            }
            blockCount = configuration.blockCount
            slotSize = 0
            slotCount = 0
        case .v2:
            guard configuration.frameCount >= 2, configuration.frameCount <= 1 << 16 else {
                throw .invalidConfiguration("frame count \(configuration.frameCount): 2 to 65536")
            }
            let size = Int(clp_tpacket_align(UInt32(max(configuration.frameSize, 0))))
            guard size >= RxRingV2.smallestSlot, size <= blockSize else {
                throw .invalidConfiguration(
                    "frame size \(configuration.frameSize): \(RxRingV2.smallestSlot) to the block size (\(blockSize))")
            }
            let perBlock = blockSize / size
            slotSize = size
            blockCount = (configuration.frameCount + perBlock - 1) / perBlock
            slotCount = blockCount * perBlock
            guard !queuesLargeFrames || (1...1024).contains(configuration.largeFrameBuffers) else {
                throw .invalidConfiguration("large frame buffers \(configuration.largeFrameBuffers): 1 to 1024")
            }
        }
    }

    /// The smallest V2 slot that holds every frame in place (65,696 bytes).
    public static let wholeFrameSlot = RxRingV2.wholeFrameSlot

    /// V2 slots too small for the largest frame: such frames come through the socket queue.
    public var queuesLargeFrames: Bool { version == .v2 && slotSize < RxRingV2.wholeFrameSlot }

    public var description: String {
        switch version {
        case .v2:
            "\(version) \(slotCount) slots of \(slotSize) B in \(blockCount) x \(blockSize / 1024) KiB"
                + (queuesLargeFrames ? ", larger frames through the socket queue" : "")
        case .v3: "\(version) \(blockCount) x \(blockSize / 1024) KiB"
        }
    }
}

/// What an `AFPacketPort` counted. Kernel fields accumulate PACKET_STATISTICS reads.
public struct AFPacketStatistics: Sendable, Equatable, CustomStringConvertible {
    /// tp_packets: frames the socket saw (the kernel includes its drops).
    public var kernelPackets: UInt64 = 0
    /// tp_drops: frames lost because the ring was full.
    public var kernelDrops: UInt64 = 0
    /// tp_freeze_q_cnt: times the ring froze because user space held every block (V3 only).
    public var kernelFreezeCount: UInt64 = 0
    /// Frames handed to the bridge.
    public var receivedFrames: UInt64 = 0
    /// Ring blocks taken from the kernel (V3; V2 hands over frames, not blocks: 0).
    public var receivedBlocks: UInt64 = 0
    /// Of those, frames too large for a V2 slot, read from the socket queue.
    public var receivedQueued: UInt64 = 0
    /// Times the socket queue was out of step with the ring and emptied (its frames lost).
    public var queueResynchronisations: UInt64 = 0
    /// Frames this host sent, seen again (PACKET_IGNORE_OUTGOING unavailable).
    public var skippedOutgoing: UInt64 = 0
    /// Frames cut short by the ring (larger than a V3 block or a V2 slot): dropped.
    public var droppedTruncated: UInt64 = 0
    /// Tags the kernel had stripped and the ring put back.
    public var vlanTagsReinserted: UInt64 = 0
    public var transmittedFrames: UInt64 = 0
    /// Of those, frames sent through the TX ring.
    public var transmittedThroughRing: UInt64 = 0
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
        "rx \(receivedFrames) (blocks \(receivedBlocks), queued \(receivedQueued), resyncs \(queueResynchronisations), kernel packets \(kernelPackets), ring drops \(kernelDrops), "
            + "freezes \(kernelFreezeCount), truncated \(droppedTruncated), outgoing skipped \(skippedOutgoing), "
            + "tags reinserted \(vlanTagsReinserted)); tx \(transmittedFrames) (through the ring \(transmittedThroughRing), oversize \(transmitDroppedOversize), "
            + "malformed \(transmitDroppedMalformed), busy \(transmitDroppedBusy), closed \(transmitDroppedClosed), "
            + "errors \(transmitErrors), waits \(transmitWaits), last errno \(lastTransmitErrno))"
    }
}
#endif
