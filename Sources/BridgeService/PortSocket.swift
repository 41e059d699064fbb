// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PortSocket: what the running bridge needs from a port beyond forwarding frames — a
// descriptor to wait on, the interface it is bound to (to notice it vanish), counters and
// closing. AF_PACKET (the default) and libpcap (`backend=pcap`, the portable fallback) both
// provide it; the forwarding path itself only sees BridgeCore's `Port`.

import BridgeCore
import PacketIO
import PcapIO

/// Which packet I/O a port uses.
public enum PortBackend: String, Sendable, CaseIterable {
    case afPacket = "af_packet"
    case pcap
}

/// Counters every backend reports, in the terms `stats` prints.
struct PortIOStatistics: Sendable {
    /// Frames the kernel passed to the socket (AF_PACKET tp_packets), when known.
    var kernelPackets: UInt64 = 0
    /// Frames lost before the bridge saw them: the ring or buffer was full (AF_PACKET: also
    /// frames too large for a slot that the full socket queue could not take).
    var kernelDrops: UInt64 = 0
    var transmitErrors: UInt64 = 0
    /// Frames not sent because they were larger than the interface's MTU (a part of
    /// `transmitErrors`): `stats` shows them as drops of reason `too-big` on the egress port.
    var transmitOversize: UInt64 = 0

    static func + (a: PortIOStatistics, b: PortIOStatistics) -> PortIOStatistics {
        PortIOStatistics(kernelPackets: a.kernelPackets &+ b.kernelPackets, kernelDrops: a.kernelDrops &+ b.kernelDrops,
                         transmitErrors: a.transmitErrors &+ b.transmitErrors,
                         transmitOversize: a.transmitOversize &+ b.transmitOversize)
    }
}

protocol PortSocket: Port {
    var fileDescriptor: Int32 { get }
    var isOpen: Bool { get }
    /// The ifindex the port was opened on (a re-created interface of the same name has another).
    var boundInterfaceIndex: Int32 { get }
    var backend: PortBackend { get }
    func ioStatistics() -> PortIOStatistics
    /// Re-reads the MTU of the interface behind `boundInterfaceIndex` (it may change while the
    /// bridge runs, and the interface may be renamed). Throws when that interface is gone.
    func updateMTU() throws
    func close()
}

extension PortSocket {
    /// Whether the interface the port is bound to still exists, under any name: a renamed
    /// interface keeps its index and the socket keeps working; a vanished one does not.
    var boundInterfaceExists: Bool { Interface.exists(index: boundInterfaceIndex) }
}

extension AFPacketPort: PortSocket {
    var boundInterfaceIndex: Int32 { interfaceIndex }
    func updateMTU() throws { try refreshMTU() }
    var backend: PortBackend { .afPacket }
    func ioStatistics() -> PortIOStatistics {
        let s = statistics()
        return PortIOStatistics(
            kernelPackets: s.kernelPackets, kernelDrops: s.kernelDrops &+ s.droppedTruncated,
            transmitErrors: s.transmitErrors &+ s.transmitDroppedBusy &+ s.transmitDroppedOversize,
            transmitOversize: s.transmitDroppedOversize)
    }
}

/// A libpcap port with the interface index it was opened on.
final class PcapPortSocket: PortSocket {
    let port: PcapPort
    let boundInterfaceIndex: Int32
    init(interface: String) throws {
        boundInterfaceIndex = try Interface.index(of: interface)
        port = try PcapPort(interface: interface)
    }
    var name: String { port.name }
    var fileDescriptor: Int32 { port.fileDescriptor }
    var isOpen: Bool { port.isOpen }
    var backend: PortBackend { .pcap }
    func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port index: Int) -> Int {
        port.receive(into: frames, port: index)
    }
    func releaseReceived() { port.releaseReceived() }
    func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int { port.transmit(frames) }
    func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult { port.transmitReporting(frames) }
    func ioStatistics() -> PortIOStatistics {
        let s = port.statistics()
        return PortIOStatistics(kernelPackets: s.received &+ s.kernelDrops, kernelDrops: s.kernelDrops &+ s.interfaceDrops,
                                transmitErrors: s.transmitErrors)
    }
    func updateMTU() {}  // libpcap leaves MTU checks to the kernel
    func close() { port.close() }
}
