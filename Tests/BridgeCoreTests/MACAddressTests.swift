// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Testing
@testable import BridgeCore

@Suite struct MACAddressTests {
    @Test func parsesAndFormats() throws {
        let m = try MACAddress(parsing: "AA:bb:0C:dd:ee:FF")
        #expect(m.rawValue == 0xAABB_0CDD_EEFF)
        #expect(m.description == "aa:bb:0c:dd:ee:ff")
        #expect(try MACAddress(parsing: "00-11-22-33-44-55").description == "00:11:22:33:44:55")
        #expect(m.octets == [0xAA, 0xBB, 0x0C, 0xDD, 0xEE, 0xFF])
    }

    @Test(arguments: ["", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa:bb:cc:dd:ee:fg", "aabbccddeeff", "aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:f ", "é:bb:cc:dd:ee:ff"])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: MACAddressParseError(input: text)) { try MACAddress(parsing: text) }
        let message = (try? MACAddress(parsing: text)).map { _ in "" } ?? MACAddressParseError(input: text).description
        #expect(message.contains("'\(text)'"))
    }

    @Test func predicates() {
        #expect(MACAddress.broadcast.isBroadcast && MACAddress.broadcast.isMulticast)
        #expect(mac("01:00:5e:00:00:01").isMulticast && !mac("01:00:5e:00:00:01").isBroadcast)
        #expect(!mac("00:11:22:33:44:55").isMulticast)
        #expect(mac("02:00:00:00:00:01").isLocallyAdministered && !mac("00:00:00:00:00:01").isLocallyAdministered)
        #expect(MACAddress.zero.isZero && !MACAddress.zero.isValidSource)
        #expect(!MACAddress.broadcast.isValidSource && mac("00:11:22:33:44:55").isValidSource)
        for last in 0...0xF {
            #expect(MACAddress(rawValue: 0x0180_C200_0000 | UInt64(last)).isLinkLocalGroup)
        }
        #expect(!mac("01:80:c2:00:00:10").isLinkLocalGroup)
        #expect(!mac("01:80:c2:00:01:00").isLinkLocalGroup)
    }

    @Test func readsFromBytesAndWrites() {
        let bytes: [UInt8] = [9, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 9]
        let m = bytes.withUnsafeBytes { MACAddress(bytes: $0, offset: 1) }
        #expect(m == mac("11:22:33:44:55:66"))
        var out = [UInt8](repeating: 0, count: 6)
        out.withUnsafeMutableBytes { m.write(to: $0, offset: 0) }
        #expect(out == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66])
        #expect(MACAddress(rawValue: 0xFFFF_0011_2233_4455).rawValue == 0x0011_2233_4455)
    }
}

@Suite struct FrameHeaderTests {
    func parse(_ b: [UInt8]) throws(FrameParseError) -> FrameHeader {
        var result: Result<FrameHeader, FrameParseError> = .failure(.runt(length: 0))
        b.withUnsafeBytes { raw in
            do throws(FrameParseError) { result = .success(try FrameHeader.parse(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    @Test func untagged() throws {
        let h = try parse(frame(dst: .broadcast, src: station(1), etherType: 0x0806))
        #expect(h.destination == .broadcast && h.source == station(1))
        #expect(h.outerTag == nil && h.innerTag == nil && h.etherType == 0x0806 && h.payloadOffset == 14)
    }

    @Test func singleAndDoubleTags() throws {
        let q = try parse(frame(dst: station(2), src: station(1), tags: [VLANTag(vid: 100, pcp: 5)]))
        #expect(q.outerTag == VLANTag(tpid: 0x8100, tci: 5 << 13 | 100))
        #expect(q.outerTag?.vid == 100 && q.outerTag?.pcp == 5 && q.payloadOffset == 18 && q.etherType == 0x0800)
        let qinq = try parse(frame(dst: station(2), src: station(1), tags: [VLANTag(tpid: 0x88A8, vid: 7), VLANTag(vid: 42)]))
        #expect(qinq.outerTag?.tpid == 0x88A8 && qinq.outerTag?.vid == 7)
        #expect(qinq.innerTag?.tpid == 0x8100 && qinq.innerTag?.vid == 42 && qinq.payloadOffset == 22)
    }

    @Test func rejectsRuntsTruncatedAndTripleTags() {
        #expect(throws: FrameParseError.runt(length: 0)) { try parse([]) }
        #expect(throws: FrameParseError.runt(length: 13)) { try parse(Array(repeating: 0, count: 13)) }
        let tagged = frame(dst: station(2), src: station(1), tags: [VLANTag(vid: 1)], payload: 0)
        #expect(throws: FrameParseError.truncatedTag(length: 16)) { try parse(Array(tagged[0..<16])) }
        let double = frame(dst: station(2), src: station(1), tags: [VLANTag(tpid: 0x88A8, vid: 1), VLANTag(vid: 2)], payload: 0)
        #expect(throws: FrameParseError.truncatedTag(length: 20)) { try parse(Array(double[0..<20])) }
        let triple = frame(dst: station(2), src: station(1), tags: [VLANTag(tpid: 0x88A8, vid: 1), VLANTag(vid: 2), VLANTag(vid: 3)])
        #expect(throws: FrameParseError.tooManyTags) { try parse(triple) }
    }

    @Test func tagWireValueRoundTrip() {
        let t = VLANTag(tpid: 0x88A8, vid: 4094, pcp: 7)
        #expect(VLANTag(wireValue: t.wireValue) == t)
        #expect(t.wireValue == 0x88A8_EFFE)
        #expect(!t.dei && VLANTag(tpid: 0x8100, tci: 0x1001).dei)
    }
}
