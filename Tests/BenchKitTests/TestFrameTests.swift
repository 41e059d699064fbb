// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Test frames: sizes counted as RFC 2544 counts them (FCS included, so 4 bytes fewer go to the
// socket), every RFC 2544 size encodes and decodes to the same fields, and anything that is not
// a test frame of ours decodes to nil instead of trapping.

import BenchKit
import BridgeCore
import Testing

@Suite("Test frames")
struct TestFrameTests {
    @Test("RFC 2544 sizes, counted with the FCS")
    func sizes() {
        #expect(FrameSize.rfc2544.map(\.wireLength) == [64, 128, 256, 512, 1024, 1280, 1518])
        #expect(FrameSize.rfc2544.map(\.socketLength) == [60, 124, 252, 508, 1020, 1276, 1514])
        #expect(FrameSize(wireLength: 64).bitsOnLink == 672)  // 14.88 Mframes/s on 10 Gbit/s
    }

    @Test("encode and decode round trip for every RFC 2544 size", arguments: FrameSize.rfc2544)
    func roundTrip(size: FrameSize) {
        let flow = FlowSpec(source: MACAddress(0x02, 1, 2, 3, 4, 5), destination: MACAddress(0x02, 6, 7, 8, 9, 10))
        let header = TestFrameHeader(run: 0xDEAD_BEEF, flow: 4_000_000_001, sequence: 0x0123_4567_89AB_CDEF, sendTime: 987_654_321_012)
        let bytes = TestFrame.encode(size: size, flow: flow, header: header)
        #expect(bytes.count == size.socketLength)
        bytes.withUnsafeBytes { raw in
            #expect(TestFrame.decode(raw) == header)
            #expect(MACAddress(bytes: raw, offset: 0) == flow.destination)
            #expect(MACAddress(bytes: raw, offset: 6) == flow.source)
        }
        #expect(bytes[12] == 0x88 && bytes[13] == 0xB5)
        #expect(Array(bytes[14..<18]) == Array("SWB1".utf8))
        // The fill after the header: byte i holds i & 0xff.
        #expect(bytes.indices.dropFirst(TestFrame.headerLength).allSatisfy { bytes[$0] == UInt8(truncatingIfNeeded: $0) })
    }

    @Test("a test frame carrying VLAN tags still decodes")
    func tagged() {
        let header = TestFrameHeader(run: 1, flow: 2, sequence: 3, sendTime: 4)
        var bytes = TestFrame.encode(size: FrameSize(wireLength: 64), flow: FlowSpec.standard(count: 1)[0], header: header)
        bytes.insert(contentsOf: [0x81, 0x00, 0x00, 0x0A], at: 12)  // 802.1Q, VID 10
        bytes.withUnsafeBytes { #expect(TestFrame.decode($0) == header) }
        bytes.insert(contentsOf: [0x88, 0xA8, 0x00, 0x64], at: 12)  // 802.1ad outside it
        bytes.withUnsafeBytes { #expect(TestFrame.decode($0) == header) }
    }

    @Test("other frames, wrong magic and short frames are not test frames")
    func notTestFrames() {
        let good = TestFrame.encode(
            size: FrameSize(wireLength: 64), flow: FlowSpec.standard(count: 1)[0],
            header: TestFrameHeader(run: 1, flow: 0, sequence: 0, sendTime: 0))
        var wrongType = good
        wrongType[12] = 0x08
        wrongType[13] = 0x00
        var wrongMagic = good
        wrongMagic[15] ^= 0xFF
        let cut = Array(good[0..<(TestFrame.headerLength - 1)])
        let threeTags = Array(good[0..<12]) + [UInt8](repeating: 0, count: 0)
            + [0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x81, 0, 0, 1] + Array(good[12...])
        for bytes in [wrongType, wrongMagic, cut, threeTags, [], TestFrame.learningFrame(for: FlowSpec.standard(count: 1)[0])] {
            bytes.withUnsafeBytes { #expect(TestFrame.decode($0) == nil) }
        }
    }

    @Test("standard flows: locally administered unicast, distinct, disjoint per tag")
    func standardFlows() {
        let a = FlowSpec.standard(count: 300)
        let b = FlowSpec.standard(count: 300, tag: 1)
        let all = (a + b).flatMap { [$0.source, $0.destination] }
        #expect(Set(all).count == all.count)
        #expect(all.allSatisfy { $0.isLocallyAdministered && !$0.isMulticast })
        #expect(a[1].source.description == "02:5b:00:00:00:01" && a[1].destination.description == "02:5b:00:80:00:01")
        let learn = TestFrame.learningFrame(for: a[5])
        #expect(learn.count == 60)
        learn.withUnsafeBytes {
            #expect(MACAddress(bytes: $0, offset: 0) == .broadcast && MACAddress(bytes: $0, offset: 6) == a[5].destination)
        }
    }
}
