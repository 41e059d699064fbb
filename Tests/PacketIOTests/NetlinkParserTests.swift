// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The netlink parser against bytes built by hand: well-formed link messages decode to the
// right LinkInfo, and every way of lying about a length (truncated datagrams at every prefix,
// lengths below a header or past the end, absurd ones, attributes that overrun their nest,
// fixed-size values of the wrong size) is a thrown NetlinkParseError, never a trap. A bounded,
// seeded garbage and mutation loop checks the same for inputs nobody thought of. The Swift
// constants the pure-Swift parser uses are checked against the kernel headers.

import CLinuxPacket
import PacketIO
import Testing

@Suite("Netlink parser")
struct NetlinkParserTests {
    // MARK: - Building messages

    static func newLink(index: Int32 = 7, name: String? = "swbveth0", type: UInt16 = Netlink.newLink,
                        sequence: UInt32 = 1, extra: [UInt8] = []) -> [UInt8] {
        var b = NetlinkMessageBuilder(type: type, flags: 0, sequence: sequence)
        b.appendLinkHeader(index: index, linkType: Netlink.hardwareEther,
                           flags: Netlink.interfaceUp | Netlink.interfaceRunning | Netlink.interfaceLowerUp)
        if let name { b.appendAttribute(Netlink.attributeName, string: name) }
        b.appendAttribute(Netlink.attributeMTU, uint32: 1500)
        b.appendAttribute(Netlink.attributeOperState, [OperState.up.rawValue])
        b.appendAttribute(Netlink.attributeAddress, [0x02, 0, 0, 0, 0, 0x07])
        b.appendAttribute(Netlink.attributeLink, int32: 9)
        b.appendAttribute(Netlink.attributeLinkNamespaceID, int32: 2)
        b.appendAttribute(Netlink.attributeMaster, int32: 3)
        b.appendAttribute(
            Netlink.attributeLinkInfo,
            NetlinkMessageBuilder.attribute(Netlink.linkInfoKind, Array("veth".utf8) + [0])
                + NetlinkMessageBuilder.attribute(Netlink.linkInfoPortKind, Array("bridge".utf8) + [0]))
        b.appendAttribute(999, [1, 2, 3])  // unknown: skipped
        b.appendRaw(extra)
        return b.finish()
    }

    static let expected = LinkInfo(
        index: 7, name: "swbveth0", flags: Netlink.interfaceUp | Netlink.interfaceRunning | Netlink.interfaceLowerUp,
        linkType: Netlink.hardwareEther, mtu: 1500, operState: .up, hardwareAddress: [0x02, 0, 0, 0, 0, 0x07],
        kind: "veth", portKind: "bridge", masterIndex: 3, linkIndex: 9, linkNamespaceID: 2)

    static func parse(_ bytes: [UInt8]) throws(NetlinkParseError) -> [LinkEvent] {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(NetlinkParseError) in try NetlinkParser.linkEvents(in: raw) }
        }.get()
    }

    static func messages(_ bytes: [UInt8]) throws(NetlinkParseError) -> [NetlinkMessage] {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(NetlinkParseError) in try NetlinkParser.messages(in: raw) }
        }.get()
    }

    /// Writes a little-endian (host order) integer into `bytes` at `offset`.
    static func poke<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ offset: Int, _ value: T) {
        withUnsafeBytes(of: value) { for (i, byte) in $0.enumerated() { bytes[offset + i] = byte } }
    }

    // MARK: - Well-formed input

    @Test("an RTM_NEWLINK decodes every field, unknown attributes skipped")
    func decodesNewLink() throws {
        let events = try Self.parse(Self.newLink())
        #expect(events == [.newLink(Self.expected)])
        let link = Self.expected
        #expect(link.isUp && link.isRunning && link.hasCarrier && link.isEthernet && link.isVeth && !link.isLoopback)
    }

    @Test("several messages in one datagram, RTM_DELLINK, the last one without padding")
    func severalMessages() throws {
        let first = Self.newLink()
        var b = NetlinkMessageBuilder(type: Netlink.deleteLink, flags: 0, sequence: 2)
        b.appendLinkHeader(index: 8, linkType: Netlink.hardwareLoopback, flags: Netlink.interfaceLoopback)
        b.appendAttribute(Netlink.attributeName, Array("lo".utf8))  // no NUL terminator: accepted
        var noop = NetlinkMessageBuilder(type: Netlink.noop, flags: 0, sequence: 3)
        noop.appendRaw([1, 2])  // 18 bytes: the padding after it is absent at the end of the buffer
        let datagram = first + b.finish() + noop.finish()
        let events = try Self.parse(datagram)
        #expect(events == [.newLink(Self.expected), .deletedLink(index: 8, name: "lo")])
        let all = try Self.messages(datagram)
        #expect(all.map(\.type) == [Netlink.newLink, Netlink.deleteLink, Netlink.noop])
        #expect(all[2].payload == [1, 2])
        #expect(try Self.messages([]).isEmpty)
    }

    @Test("NLA_F_NESTED and NLA_F_NET_BYTEORDER are not part of the type")
    func attributeFlagsMasked() throws {
        var raw = NetlinkMessageBuilder.attribute(Netlink.attributeLinkInfo | 0x8000,
                                                  NetlinkMessageBuilder.attribute(Netlink.linkInfoKind | 0x4000, Array("vxlan".utf8)))
        raw += NetlinkMessageBuilder.attribute(Netlink.attributeMTU, withUnsafeBytes(of: UInt32(9000)) { Array($0) })
        let attributes = try raw.withUnsafeBytes { r in
            Result { () throws(NetlinkParseError) in try NetlinkParser.attributes(in: r) }
        }.get()
        #expect(attributes.map(\.type) == [Netlink.attributeLinkInfo, Netlink.attributeMTU])
        #expect(attributes[0].isNestedFlagged && !attributes[1].isNestedFlagged)
        let inner = try attributes[0].nested()
        #expect(inner.map(\.type) == [Netlink.linkInfoKind] && inner[0].string() == "vxlan")
        #expect(try attributes[1].uint32() == 9000)
    }

    @Test("NLMSG_ERROR: an ACK is 0, a refusal a negative errno, a short one an error")
    func errorMessages() throws {
        var ack = NetlinkMessageBuilder(type: Netlink.error, flags: 0, sequence: 5)
        ack.appendRaw(withUnsafeBytes(of: Int32(0)) { Array($0) } + [UInt8](repeating: 0, count: 16))
        var refused = NetlinkMessageBuilder(type: Netlink.error, flags: 0, sequence: 6)
        refused.appendRaw(withUnsafeBytes(of: Int32(-19)) { Array($0) })
        var short = NetlinkMessageBuilder(type: Netlink.error, flags: 0, sequence: 7)
        short.appendRaw([0xff, 0xff])
        let m = try Self.messages(ack.finish() + refused.finish() + short.finish())
        #expect(try m[0].errorCode() == 0)
        #expect(try m[1].errorCode() == -19)
        #expect(throws: NetlinkParseError.truncatedPayload(messageType: Netlink.error, size: 2, needed: 4)) {
            _ = try m[2].errorCode()
        }
        // Link events skip message types they do not know.
        #expect(try Self.parse(ack.finish()).isEmpty)
    }

    // MARK: - Lies about lengths

    @Test("every truncation of a datagram throws, except at message boundaries")
    func everyPrefix() {
        let first = Self.newLink()
        let datagram = first + Self.newLink(index: 8, name: "swbveth1")
        var thrown = 0
        for length in 0..<datagram.count {
            let prefix = Array(datagram[..<length])
            do {
                let events = try Self.parse(prefix)
                #expect(length == 0 || length == first.count, "prefix \(length) parsed")
                #expect(events.count == (length == 0 ? 0 : 1))
            } catch {
                thrown += 1
            }
        }
        #expect(thrown == datagram.count - 2)
    }

    @Test("message lengths below a header, past the end, or absurd")
    func badMessageLengths() {
        var bytes = Self.newLink()
        let total = bytes.count
        Self.poke(&bytes, 0, UInt32(15))
        #expect(throws: NetlinkParseError.badMessageLength(offset: 0, length: 15, available: total)) { try Self.parse(bytes) }
        Self.poke(&bytes, 0, UInt32(total + 4))
        #expect(throws: NetlinkParseError.badMessageLength(offset: 0, length: total + 4, available: total)) {
            try Self.parse(bytes)
        }
        Self.poke(&bytes, 0, UInt32.max)
        #expect(throws: NetlinkParseError.badMessageLength(offset: 0, length: Int(UInt32.max), available: total)) {
            try Self.parse(bytes)
        }
        Self.poke(&bytes, 0, UInt32(0))
        #expect(throws: NetlinkParseError.badMessageLength(offset: 0, length: 0, available: total)) { try Self.parse(bytes) }
        // A whole message followed by a few stray bytes.
        #expect(throws: NetlinkParseError.truncatedHeader(offset: total, available: 3)) {
            try Self.parse(Self.newLink() + [1, 2, 3])
        }
    }

    @Test("attribute lengths below 4, past their container, inside a nest, absurd; trailing bytes")
    func badAttributeLengths() {
        // The first attribute starts after the 16-byte header and the 16-byte ifinfomsg.
        let attributeOffset = 32
        for (length, name) in [(UInt16(3), "below 4"), (UInt16(0), "zero"), (UInt16.max, "absurd"), (UInt16(200), "past the end")] {
            var bytes = Self.newLink()
            Self.poke(&bytes, attributeOffset, length)
            #expect(throws: NetlinkParseError.self, "\(name)") { try Self.parse(bytes) }
        }
        // A nest whose inner attribute overruns the nest (but not the message).
        var inner = NetlinkMessageBuilder.attribute(Netlink.linkInfoKind, Array("veth".utf8))
        Self.poke(&inner, 0, UInt16(64))
        var b = NetlinkMessageBuilder(type: Netlink.newLink, flags: 0, sequence: 1)
        b.appendLinkHeader(index: 1)
        b.appendAttribute(Netlink.attributeName, string: "x")
        b.appendAttribute(Netlink.attributeLinkInfo, inner)
        b.appendAttribute(999, [UInt8](repeating: 0, count: 80))
        #expect(throws: NetlinkParseError.badAttributeLength(offset: 0, length: 64, available: 8)) { try Self.parse(b.finish()) }
        // Two stray bytes after the last attribute.
        #expect(throws: NetlinkParseError.badAttributeLength(offset: Self.newLink().count - 32, length: 2, available: 2)) {
            var bytes = Self.newLink(extra: [0, 0])
            Self.poke(&bytes, 0, UInt32(bytes.count))
            return try Self.parse(bytes)
        }
    }

    @Test("fixed-size values of the wrong size, a short ifinfomsg, a link without a name")
    func badValues() {
        var b = NetlinkMessageBuilder(type: Netlink.newLink, flags: 0, sequence: 1)
        b.appendLinkHeader(index: 1)
        b.appendAttribute(Netlink.attributeName, string: "x")
        b.appendAttribute(Netlink.attributeMTU, [0xdc, 0x05])
        #expect(throws: NetlinkParseError.badAttributeSize(type: Netlink.attributeMTU, size: 2, expected: 4)) {
            try Self.parse(b.finish())
        }
        var state = NetlinkMessageBuilder(type: Netlink.newLink, flags: 0, sequence: 1)
        state.appendLinkHeader(index: 1)
        state.appendAttribute(Netlink.attributeName, string: "x")
        state.appendAttribute(Netlink.attributeOperState, uint32: 6)
        #expect(throws: NetlinkParseError.badAttributeSize(type: Netlink.attributeOperState, size: 4, expected: 1)) {
            try Self.parse(state.finish())
        }
        var short = NetlinkMessageBuilder(type: Netlink.deleteLink, flags: 0, sequence: 1)
        short.appendRaw([0, 0, 1, 0, 7, 0, 0, 0])
        #expect(throws: NetlinkParseError.truncatedPayload(messageType: Netlink.deleteLink, size: 8, needed: 16)) {
            try Self.parse(short.finish())
        }
        #expect(throws: NetlinkParseError.missingAttribute(messageType: Netlink.newLink, attribute: Netlink.attributeName)) {
            try Self.parse(Self.newLink(name: nil))
        }
        // An out-of-range operstate is .unknown, not an error (a newer kernel may add states).
        var future = NetlinkMessageBuilder(type: Netlink.newLink, flags: 0, sequence: 1)
        future.appendLinkHeader(index: 1)
        future.appendAttribute(Netlink.attributeName, string: "x")
        future.appendAttribute(Netlink.attributeOperState, [42])
        #expect((try? Self.parse(future.finish())) == [.newLink(LinkInfo(index: 1, name: "x", linkType: 0))])
    }

    @Test("garbage and mutated messages: parsed or thrown, never a trap (seeded, bounded)")
    func garbage() {
        var rng = SplitMix64(seed: 0x5eed_2026)
        let valid = Self.newLink() + Self.newLink(index: 8, name: "swbveth1", type: Netlink.deleteLink)
        var parsed = 0, thrown = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = valid
                for _ in 0..<(1 + rng.next() % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                bytes.removeLast(Int(rng.next() % 8))
            }
            if let events = try? Self.parse(bytes) {
                parsed += 1
                #expect(events.count <= 2 || round % 2 == 0)
            } else {
                thrown += 1
            }
        }
        // Both outcomes happen, so the loop reaches past the first length check.
        #expect(parsed > 100 && thrown > 100, "parsed \(parsed), thrown \(thrown)")
    }

    // MARK: - Constants

    @Test("the parser's numbers are the kernel headers'")
    func constantsMatchHeaders() {
        #expect(Int(Netlink.error) == Int(NLMSG_ERROR) && Int(Netlink.done) == Int(NLMSG_DONE))
        #expect(Int(Netlink.noop) == Int(NLMSG_NOOP) && Int(Netlink.overrun) == Int(NLMSG_OVERRUN))
        #expect(Int(Netlink.flagRequest) == Int(NLM_F_REQUEST) && Int(Netlink.flagMulti) == Int(NLM_F_MULTI))
        #expect(Int(Netlink.flagAck) == Int(NLM_F_ACK) && Int(Netlink.flagDumpInterrupted) == Int(NLM_F_DUMP_INTR))
        #expect(Int(Netlink.flagDump) == Int(NLM_F_ROOT | NLM_F_MATCH))
        #expect(Netlink.headerSize == MemoryLayout<nlmsghdr>.size && Netlink.ifinfomsgSize == MemoryLayout<ifinfomsg>.size)
        #expect(Int(Netlink.newLink) == Int(RTM_NEWLINK) && Int(Netlink.deleteLink) == Int(RTM_DELLINK))
        #expect(Int(Netlink.getLink) == Int(RTM_GETLINK))
        #expect(Int(Netlink.newNamespaceID) == Int(RTM_NEWNSID) && Int(Netlink.getNamespaceID) == Int(RTM_GETNSID))
        #expect(Int(Netlink.groupLink) == Int(RTMGRP_LINK))
        #expect(Int(Netlink.attributeAddress) == Int(IFLA_ADDRESS) && Int(Netlink.attributeName) == Int(IFLA_IFNAME))
        #expect(Int(Netlink.attributeMTU) == Int(IFLA_MTU) && Int(Netlink.attributeLink) == Int(IFLA_LINK))
        #expect(Int(Netlink.attributeMaster) == Int(IFLA_MASTER))
        #expect(Int(Netlink.attributeOperState) == Int(IFLA_OPERSTATE))
        #expect(Int(Netlink.attributeLinkInfo) == Int(IFLA_LINKINFO))
        #expect(Int(Netlink.attributeExtMask) == Int(IFLA_EXT_MASK))
        #expect(Int(Netlink.attributeLinkNamespaceID) == Int(IFLA_LINK_NETNSID))
        #expect(Int(Netlink.attributeTargetNamespaceID) == Int(IFLA_TARGET_NETNSID))
        #expect(Int(Netlink.linkInfoKind) == Int(IFLA_INFO_KIND))
        #expect(Int(Netlink.linkInfoPortKind) == Int(IFLA_INFO_SLAVE_KIND))
        #expect(Int(Netlink.filterSkipStats) == Int(RTEXT_FILTER_SKIP_STATS))
        #expect(Int(Netlink.namespaceIDAttribute) == Int(NETNSA_NSID) && Int(Netlink.namespaceFDAttribute) == Int(NETNSA_FD))
        #expect(Int(Netlink.namespaceIDNotAssigned) == Int(NETNSA_NSID_NOT_ASSIGNED))
        #expect(Int(Netlink.hardwareEther) == Int(ARPHRD_ETHER) && Int(Netlink.hardwareLoopback) == Int(ARPHRD_LOOPBACK))
        #expect(Int(Netlink.hardwareNone) == Int(ARPHRD_NONE))
        #expect(Int(Netlink.interfaceUp) == Int(IFF_UP) && Int(Netlink.interfaceRunning) == Int(IFF_RUNNING))
        #expect(Int(Netlink.interfaceLoopback) == Int(IFF_LOOPBACK))
    }
}

/// A small seeded generator (SplitMix64), so a failing garbage input can be reproduced.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
