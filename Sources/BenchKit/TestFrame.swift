// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// TestFrame: the frames a benchmark sends, and how a receiver recognises them.
//
// Sizes are counted as RFC 2544 counts them: on the wire, including the 4-byte FCS. AF_PACKET
// never sees the FCS (the NIC or veth adds and strips it), so a "64-byte frame" is 60 bytes
// handed to the socket, and a 1518-byte frame is 1514 bytes (a full 1500-byte MTU payload).
//
// Layout (all fields big-endian, as on any wire):
//
//   0  destination MAC      6  source MAC       12  EtherType 0x88B5
//   14 magic "SWB1"         18 run id           22  flow id
//   26 sequence (UInt64)    34 send time (UInt64, CLOCK_MONOTONIC ns)
//   42 fill pattern up to the frame's length
//
// EtherType 0x88B5 is IEEE 802 "local experimental": a bridge forwards it like any frame (the
// kernel bridge, OVS's NORMAL action and swbridge look only at MACs and VLAN tags), while the
// hosts' IP stacks have no handler for it and drop it without answering — IPv4/UDP test frames
// to a port nobody listens on would draw ICMP unreachables and conntrack entries into the
// measurement. It also needs no checksum, so stamping a frame is two stores. A bridge that
// matches on IP headers (an OVS flow table with nw_* matches) would need an IPv4/UDP variant;
// none of the bridges under test does.
//
// The run id separates trials: frames of a previous trial still in flight when the next one
// starts are counted as stale, not as duplicates of the new trial.

import BridgeCore

/// An Ethernet frame size as RFC 2544 counts it: on the wire, FCS included.
public struct FrameSize: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes on the wire including the 4-byte FCS.
    public let wireLength: Int

    /// The FCS the NIC adds; AF_PACKET neither sends nor receives it.
    public static let fcsLength = 4
    /// The smallest Ethernet frame.
    public static let minimumWireLength = 64
    /// The largest frame a test frame may be (a 9000-byte jumbo MTU plus header and FCS).
    public static let maximumWireLength = 9018

    /// RFC 2544's frame sizes for Ethernet (section 9.1), plus 1280 (IPv6's minimum MTU) as FD.io CSIT adds.
    public static let rfc2544: [FrameSize] = [64, 128, 256, 512, 1024, 1280, 1518].map { FrameSize(wireLength: $0) }

    /// `wireLength` must lie in 64...9018.
    public init(wireLength: Int) {
        precondition(
            (FrameSize.minimumWireLength...FrameSize.maximumWireLength).contains(wireLength),
            "frame size \(wireLength) is outside 64...9018 bytes")
        self.wireLength = wireLength
    }

    /// Bytes handed to an AF_PACKET socket (or a MemoryPort): the wire length without the FCS.
    public var socketLength: Int { wireLength - FrameSize.fcsLength }

    /// Bits a frame occupies on the link: preamble + SFD (8 bytes) and inter-frame gap (12
    /// bytes) included, for converting frames/s to a line rate.
    public var bitsOnLink: Int { (wireLength + 20) * 8 }

    public static func < (a: FrameSize, b: FrameSize) -> Bool { a.wireLength < b.wireLength }
    public var description: String { "\(wireLength) B" }
}

/// One flow of test frames: its addresses. Sequence numbers count per flow, from 0.
public struct FlowSpec: Hashable, Sendable {
    public var source: MACAddress
    public var destination: MACAddress

    public init(source: MACAddress, destination: MACAddress) {
        self.source = source
        self.destination = destination
    }

    /// `count` flows with locally administered unicast addresses of this run's own:
    /// flow i goes from 02:5b:<tag>:00:<i> to 02:5b:<tag>:80:<i> (16-bit i, `tag` one byte), so
    /// generator-side and receiver-side MACs differ in one bit and never collide with a
    /// vendor address. `tag` lets two generators in one lab use disjoint addresses.
    public static func standard(count: Int, tag: UInt8 = 0) -> [FlowSpec] {
        precondition(count > 0 && count <= 0x7FFF, "flow count \(count) outside 1...32767")
        let base: UInt64 = 0x025B_0000_0000 | UInt64(tag) << 24
        return (0..<count).map { i in
            FlowSpec(
                source: MACAddress(rawValue: base | UInt64(i)),
                destination: MACAddress(rawValue: base | 0x80_0000 | UInt64(i)))
        }
    }
}

/// The fields a receiver reads from a test frame.
public struct TestFrameHeader: Equatable, Sendable {
    public var run: UInt32
    public var flow: UInt32
    public var sequence: UInt64
    /// CLOCK_MONOTONIC nanoseconds when the frame was handed to the sender.
    public var sendTime: UInt64

    public init(run: UInt32, flow: UInt32, sequence: UInt64, sendTime: UInt64) {
        self.run = run
        self.flow = flow
        self.sequence = sequence
        self.sendTime = sendTime
    }
}

/// Encoding and decoding of test frames.
public enum TestFrame {
    /// IEEE 802 local experimental EtherType 1.
    public static let etherType: UInt16 = 0x88B5
    /// "SWB1": identifies a test frame (and the layout's version).
    public static let magic: UInt32 = 0x5357_4231
    /// Offsets of the payload fields, from the start of an untagged frame.
    public static let magicOffset = 14
    public static let runOffset = 18
    public static let flowOffset = 22
    public static let sequenceOffset = 26
    public static let sendTimeOffset = 34
    /// Bytes of header and stamp; everything after is fill.
    public static let headerLength = 42
    /// The bytes that are the same for every frame of a flow in a run (addresses to flow id):
    /// a generator copies them from a template, then stores the sequence and the time.
    public static let templateLength = sequenceOffset

    /// Writes the per-flow template (bytes 0..<26) into `out`.
    public static func writeTemplate(
        into out: UnsafeMutableRawBufferPointer, flow: FlowSpec, flowID: UInt32, run: UInt32
    ) {
        precondition(out.count >= templateLength)
        flow.destination.write(to: out, offset: 0)
        flow.source.write(to: out, offset: 6)
        out.storeBytes(of: etherType.bigEndian, toByteOffset: 12, as: UInt16.self)
        out.storeBytes(of: magic.bigEndian, toByteOffset: magicOffset, as: UInt32.self)
        out.storeBytes(of: run.bigEndian, toByteOffset: runOffset, as: UInt32.self)
        out.storeBytes(of: flowID.bigEndian, toByteOffset: flowOffset, as: UInt32.self)
    }

    /// Fills bytes `headerLength..<out.count` with a fixed pattern (byte i holds i & 0xFF), so a
    /// capture shows where a frame was cut or corrupted.
    public static func writeFill(into out: UnsafeMutableRawBufferPointer) {
        guard out.count > headerLength else { return }
        for i in headerLength..<out.count { out[i] = UInt8(truncatingIfNeeded: i) }
    }

    /// Stores the per-frame fields (sequence and send time) of a frame whose template is in place.
    @inlinable
    public static func stamp(_ frame: UnsafeMutableRawPointer, sequence: UInt64, sendTime: UInt64) {
        frame.storeBytes(of: sequence.bigEndian, toByteOffset: sequenceOffset, as: UInt64.self)
        frame.storeBytes(of: sendTime.bigEndian, toByteOffset: sendTimeOffset, as: UInt64.self)
    }

    /// A whole test frame of `size` (its socket length), for tests and one-off sends.
    public static func encode(
        size: FrameSize, flow: FlowSpec, header: TestFrameHeader
    ) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size.socketLength)
        bytes.withUnsafeMutableBytes { out in
            writeTemplate(into: out, flow: flow, flowID: header.flow, run: header.run)
            writeFill(into: out)
            stamp(out.baseAddress!, sequence: header.sequence, sendTime: header.sendTime)
        }
        return bytes
    }

    /// A frame the receiving side sends so that a learning bridge knows where `flow.destination`
    /// lives before a trial (RFC 2544 section 23): from the flow's destination, to broadcast,
    /// not a test frame (magic zero), minimum size.
    public static func learningFrame(for flow: FlowSpec) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: FrameSize(wireLength: 64).socketLength)
        bytes.withUnsafeMutableBytes { out in
            MACAddress.broadcast.write(to: out, offset: 0)
            flow.destination.write(to: out, offset: 6)
            out.storeBytes(of: etherType.bigEndian, toByteOffset: 12, as: UInt16.self)
        }
        return bytes
    }

    /// Reads a test frame's fields; nil when `frame` is not one (wrong EtherType, magic, or too
    /// short). Up to two VLAN tags (802.1Q, 802.1ad) before the EtherType are skipped, since a
    /// bridge may deliver the frame tagged. Never traps on arbitrary bytes.
    @inlinable
    public static func decode(_ frame: UnsafeRawBufferPointer) -> TestFrameHeader? {
        var shift = 0
        while true {
            guard frame.count >= headerLength + shift else { return nil }
            let type = UInt16(bigEndian: frame.loadUnaligned(fromByteOffset: 12 + shift, as: UInt16.self))
            if type == etherType { break }
            guard EtherType.isTag(type), shift < 8 else { return nil }
            shift += 4
        }
        guard UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: magicOffset + shift, as: UInt32.self)) == magic
        else { return nil }
        return TestFrameHeader(
            run: UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: runOffset + shift, as: UInt32.self)),
            flow: UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: flowOffset + shift, as: UInt32.self)),
            sequence: UInt64(bigEndian: frame.loadUnaligned(fromByteOffset: sequenceOffset + shift, as: UInt64.self)),
            sendTime: UInt64(bigEndian: frame.loadUnaligned(fromByteOffset: sendTimeOffset + shift, as: UInt64.self)))
    }
}
