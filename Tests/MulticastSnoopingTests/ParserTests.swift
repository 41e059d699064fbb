// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import BridgeCore
import Testing
@testable import MulticastSnooping

@Suite struct ParserTests {
    func parse(_ f: [UInt8]) -> Result<ParsedMembership, MalformedReason> {
        f.withUnsafeBytes { MembershipParser.parse(frame: $0) }
    }
    func message(_ f: [UInt8]) -> MembershipMessage? {
        if case .success(let m) = parse(f) { return m.message }
        return nil
    }
    func failure(_ f: [UInt8]) -> MalformedReason? {
        if case .failure(let r) = parse(f) { return r }
        return nil
    }

    @Test func igmpv1v2ReportsAndLeave() {
        #expect(message(Packets.igmpv2Report("239.1.1.1")) == .report(version: 2, group: Packets.group("239.1.1.1")))
        #expect(message(Packets.igmpv1Report("239.1.1.2")) == .report(version: 1, group: Packets.group("239.1.1.2")))
        #expect(message(Packets.igmpLeave("239.1.1.1")) == .leave(group: Packets.group("239.1.1.1")))
        // Router Alert is optional and TTL is not checked, as in the kernel.
        let noRA = Packets.ipv4Frame(src: "198.18.0.2", dst: "239.1.1.3", payload: Packets.igmp(type: 0x16, group: "239.1.1.3"), routerAlert: false, ttl: 64)
        #expect(message(noRA) == .report(version: 2, group: Packets.group("239.1.1.3")))
    }

    @Test func igmpQueries() throws {
        let general = try parse(Packets.igmpQuery(src: "198.18.0.1")).get()
        #expect(general.source == IPAddress(ipv4: Packets.ip4("198.18.0.1")))
        #expect(general.message == .query(MembershipQuery(version: 2, group: nil, maxResponseMilliseconds: 10_000)))
        let v1 = try parse(Packets.igmpQuery(src: "198.18.0.1", maxResponseTenths: 0)).get()
        #expect(v1.message == .query(MembershipQuery(version: 1, group: nil, maxResponseMilliseconds: 10_000)))
        let specific = try parse(Packets.igmpQuery(src: "198.18.0.1", group: "239.1.1.1", maxResponseTenths: 10)).get()
        #expect(specific.message == .query(MembershipQuery(version: 2, group: Packets.group("239.1.1.1"), maxResponseMilliseconds: 1_000)))
        // IGMPv3 query: 12 bytes, QRV 2, QQIC 125, max response code 0x8C (floating point).
        let v3 = Packets.ipv4Frame(src: "198.18.0.1", dst: "224.0.0.1", payload: Packets.igmp(type: 0x11, code: 0x8C, group: "0.0.0.0", extra: [2, 125, 0, 0]))
        #expect(message(v3) == .query(MembershipQuery(version: 3, group: nil, maxResponseMilliseconds: (0x1C << 3) * 100, robustness: 2, queryIntervalSeconds: 125)))
    }

    @Test func igmpv3RecordsAsAnySource() throws {
        let f = Packets.igmpv3Report([
            (2, "239.1.1.1", []),  // MODE_IS_EXCLUDE {}: join
            (3, "239.1.1.2", []),  // CHANGE_TO_INCLUDE {}: leave
            (1, "239.1.1.3", ["198.18.5.5"]),  // MODE_IS_INCLUDE {S}: join (any source)
            (9, "239.1.1.4", []),  // unknown record type: skipped
        ])
        guard case .recordReport(let version, let records) = message(f) else { Issue.record("not a v3 report"); return }
        #expect(version == 3)
        #expect(records.map(\.group) == ["239.1.1.1", "239.1.1.2", "239.1.1.3"].map(Packets.group))
        #expect(records.map(\.isLeave) == [false, true, false])
        #expect(records[2].sourceCount == 1)
    }

    @Test func mldMessages() throws {
        #expect(message(Packets.mldv1Report("ff0e::1:1")) == .report(version: 1, group: Packets.group("ff0e::1:1")))
        #expect(message(Packets.mldDone("ff0e::1:1")) == .leave(group: Packets.group("ff0e::1:1")))
        #expect(message(Packets.mldQuery(src: "fe80::1")) == .query(MembershipQuery(version: 1, group: nil, maxResponseMilliseconds: 10_000)))
        #expect(message(Packets.mldQuery(src: "fe80::1", v2: true)) == .query(MembershipQuery(version: 2, group: nil, maxResponseMilliseconds: 10_000, robustness: 2, queryIntervalSeconds: 125)))
        #expect(message(Packets.mldQuery(src: "fe80::1", group: "ff0e::1:1", maxDelay: 1_000)) == .query(MembershipQuery(version: 1, group: Packets.group("ff0e::1:1"), maxResponseMilliseconds: 1_000)))
        let f = Packets.mldv2Report([(4, "ff0e::1:2", []), (3, "ff0e::1:3", []), (5, "ff0e::1:4", ["2001:db8::1"])])
        guard case .recordReport(let version, let records) = message(f) else { Issue.record("not an MLDv2 report"); return }
        #expect(version == 2)
        #expect(records.map(\.isLeave) == [false, true, false])
    }

    /// Frames the kernel and a Linux host sent (CapturedFrames.swift) parse as tcpdump decoded them.
    @Test func capturedFramesFromLinux() throws {
        let c = CapturedFrames.self
        #expect(message(c.igmpv2Report) == .report(version: 2, group: Packets.group("239.1.1.2")))
        #expect(message(c.igmpv2Leave) == .leave(group: Packets.group("239.1.1.2")))
        #expect(message(c.kernelGroupQueryV2) == .query(MembershipQuery(version: 2, group: Packets.group("239.1.1.2"), maxResponseMilliseconds: 1_000)))
        let general = try parse(c.kernelGeneralQueryV2).get()
        #expect(general.message == .query(MembershipQuery(version: 2, group: nil, maxResponseMilliseconds: 10_000)))
        #expect(general.source.isUnspecified)
        #expect(message(c.igmpv3ReportToEx) == .recordReport(version: 3, records: [GroupRecord(type: 4, group: Packets.group("239.1.1.3"), sourceCount: 0)]))
        #expect(message(c.igmpv3ReportToIn) == .recordReport(version: 3, records: [GroupRecord(type: 3, group: Packets.group("239.1.1.3"), sourceCount: 0)]))
        #expect(message(c.kernelGroupQueryV3) == .query(MembershipQuery(version: 3, group: Packets.group("239.1.1.3"), maxResponseMilliseconds: 1_000, robustness: 2, queryIntervalSeconds: 125)))
        #expect(message(c.mldv1Report) == .report(version: 1, group: Packets.group("ff0e::1:1")))
        #expect(message(c.mldv1Done) == .leave(group: Packets.group("ff0e::1:1")))
        #expect(message(c.kernelGroupQueryMLDv1) == .query(MembershipQuery(version: 1, group: Packets.group("ff0e::1:1"), maxResponseMilliseconds: 1_000)))
        #expect(message(c.kernelGeneralQueryMLDv1) == .query(MembershipQuery(version: 1, group: nil, maxResponseMilliseconds: 10_000)))
        #expect(message(c.mldv2ReportToEx) == .recordReport(version: 2, records: [GroupRecord(type: 4, group: Packets.group("ff0e::1:2"), sourceCount: 0)]))
        #expect(message(c.mldv2ReportToIn) == .recordReport(version: 2, records: [GroupRecord(type: 3, group: Packets.group("ff0e::1:2"), sourceCount: 0)]))
        #expect(message(c.kernelGroupQueryMLDv2) == .query(MembershipQuery(version: 2, group: Packets.group("ff0e::1:2"), maxResponseMilliseconds: 1_000, robustness: 2, queryIntervalSeconds: 125)))
        // Our encoder lays out an IGMPv2 general query as the kernel does (MACs aside).
        let ours = QueryEncoder.igmpQuery(version: 2, source: MACAddress(rawValue: 0x22FB_C9F6_BD43), sourceAddress: IPAddress(ipv4: 0), group: nil, maxResponseMilliseconds: 10_000, robustness: 2, queryIntervalSeconds: 125)
        #expect(ours == c.kernelGeneralQueryV2)
        // The classifier sorts them as the kernel does.
        for f in [c.igmpv2Report, c.igmpv3ReportToEx, c.mldv1Report, c.mldv2ReportToIn] {
            #expect(f.withUnsafeBytes { MulticastClassifier.classify(frame: $0).kind } == .report)
        }
        for f in [c.igmpv2Leave, c.kernelGroupQueryV2, c.mldv1Done, c.kernelGroupQueryMLDv2] {
            #expect(f.withUnsafeBytes { MulticastClassifier.classify(frame: $0).kind } == .control)
        }
    }

    @Test func encoderOutputParses() throws {
        let mac = MACAddress(rawValue: 0x0200_0000_00AA)
        for version in [2, 3] {
            let f = QueryEncoder.igmpQuery(version: version, source: mac, sourceAddress: IPAddress(ipv4: Packets.ip4("198.18.0.1")), group: nil, maxResponseMilliseconds: 10_000, robustness: 2, queryIntervalSeconds: 125)
            let m = try parse(f).get()
            #expect(m.destination == IPAddress(ipv4: 0xE000_0001))
            guard case .query(let q) = m.message else { Issue.record("not a query"); continue }
            #expect(q.version == version && q.group == nil && q.maxResponseMilliseconds == 10_000)
            let s = try parse(QueryEncoder.igmpQuery(version: version, source: mac, sourceAddress: IPAddress(ipv4: 0), group: Packets.group("239.1.1.1"), maxResponseMilliseconds: 1_000, robustness: 2, queryIntervalSeconds: 125)).get()
            #expect(s.message == .query(MembershipQuery(version: version, group: Packets.group("239.1.1.1"), maxResponseMilliseconds: 1_000, robustness: version == 3 ? 2 : 0, queryIntervalSeconds: version == 3 ? 125 : 0)))
            #expect(s.destination == IPAddress(ipv4: Packets.ip4("239.1.1.1")))
        }
        let ll = IPAddress(parsing: "fe80::aa")!
        for version in [1, 2] {
            let f = QueryEncoder.mldQuery(version: version, source: mac, sourceAddress: ll, group: nil, maxResponseMilliseconds: 10_000, robustness: 2, queryIntervalSeconds: 125)
            let m = try parse(f).get()
            guard case .query(let q) = m.message else { Issue.record("not a query"); continue }
            #expect(q.version == version && q.group == nil && q.maxResponseMilliseconds == 10_000)
            #expect(f[0..<6] == [0x33, 0x33, 0, 0, 0, 1])
        }
    }

    @Test func timeCodesRoundTrip() {
        for v: UInt64 in [0, 1, 100, 127, 128, 200, 1_000, 31_744] {
            let code = MembershipParser.igmpv3Code(v)
            #expect(MembershipParser.igmpv3Time(code) <= v)
            #expect(MembershipParser.igmpv3Time(code) * 17 / 16 + 8 >= v, "within the format's precision")
        }
        #expect(MembershipParser.igmpv3Time(0x8C) == 0x1C << 3)
        for v: UInt64 in [0, 10_000, 32_767, 32_768, 100_000, 1_000_000] {
            let code = MembershipParser.mldv2Code(v)
            #expect(MembershipParser.mldv2Time(code) <= v)
            #expect(MembershipParser.mldv2Time(code) * 4097 / 4096 + 8 >= v)
        }
    }

    @Test func malformedIsRefusedWithAReason() {
        var badIGMP = Packets.igmpv2Report("239.1.1.1")
        badIGMP[14 + 24 + 2] ^= 0xFF
        #expect(failure(badIGMP) == .badChecksum)
        var badIP = Packets.igmpv2Report("239.1.1.1")
        badIP[14 + 10] ^= 0x01
        #expect(failure(badIP) == .badIPChecksum)
        // A 10-byte query (neither v2's 8 nor v3's 12+).
        #expect(failure(Packets.ipv4Frame(src: "198.18.0.1", dst: "224.0.0.1", payload: Packets.igmp(type: 0x11, code: 100, group: "0.0.0.0", extra: [0, 0]))) == .badLength)
        // A v3 query whose source count runs past the message.
        #expect(failure(Packets.ipv4Frame(src: "198.18.0.1", dst: "224.0.0.1", payload: Packets.igmp(type: 0x11, code: 100, group: "0.0.0.0", extra: [2, 125, 0, 9]))) == .badLength)
        // A v3 report with more records than bytes.
        var v3 = Packets.igmp(type: 0x22, group: "0.0.0.0", extra: [])
        v3[7] = 3
        let sum = Packets.checksum(Array(v3[0..<2]) + [0, 0] + Array(v3[4...]))
        v3[2] = UInt8(sum >> 8); v3[3] = UInt8(sum & 0xFF)
        #expect(failure(Packets.ipv4Frame(src: "198.18.0.2", dst: "224.0.0.22", payload: v3)) == .badLength)
        #expect(failure(Packets.igmpQuery(src: "198.18.0.1").enumerated().map { $0.offset == 14 + 19 ? 2 : $0.element }) != nil)
        // General query not to 224.0.0.1.
        #expect(failure(Packets.ipv4Frame(src: "198.18.0.1", dst: "239.9.9.9", payload: Packets.igmp(type: 0x11, code: 100, group: "0.0.0.0"))) == .badQueryDestination)
        #expect(failure(Packets.ipv4Frame(src: "198.18.0.2", dst: "198.18.0.9", payload: Packets.igmp(type: 0x16, group: "198.18.0.9"))) == .notMulticastGroup)
        // IP total length larger than the frame.
        var long = Packets.ipv4Frame(src: "198.18.0.2", dst: "239.1.1.1", payload: Packets.igmp(type: 0x16, group: "239.1.1.1"), padTo: 0)
        long[14 + 3] = 200
        #expect(failure(long) == .truncated || failure(long) == .badIPChecksum)
        // MLD without hop-by-hop, with a bad checksum, a query from a global address.
        #expect(failure(Packets.ipv6Frame(src: "fe80::2", dst: "ff0e::1:1", icmp: Packets.mld(type: 131, group: "ff0e::1:1"), hopByHop: false)) == .missingHopByHop)
        var badMLD = Packets.mldv1Report("ff0e::1:1")
        badMLD[badMLD.count - 1] ^= 0x10
        #expect(failure(badMLD) == .badChecksum)
        #expect(failure(Packets.mldQuery(src: "2001:db8::1")) == .badQuerySource)
        #expect(failure(Packets.ipv6Frame(src: "fe80::2", dst: "ff0e::1:1", icmp: Packets.mld(type: 131, group: "ff0e::1:1").dropLast(4))) == .badLength)
        // Not membership traffic at all.
        #expect(failure(Packets.ipv4Frame(src: "198.18.0.2", dst: "239.1.1.1", proto: 17, payload: [0, 0, 0, 0, 0, 8, 0, 0])) == .notMembershipMessage)
    }

    /// Every prefix and every single-byte corruption of valid messages parses or fails with a
    /// reason; none traps (each prefix is copied to an allocation of its exact size).
    @Test func truncationsAndCorruptionsNeverTrap() {
        let frames = [
            Packets.igmpv2Report("239.1.1.1"), Packets.igmpLeave("239.1.1.1"), Packets.igmpQuery(src: "198.18.0.1"),
            Packets.igmpv3Report([(2, "239.1.1.1", ["198.18.0.9"]), (3, "239.1.1.2", [])]),
            Packets.mldv1Report("ff0e::1:1"), Packets.mldQuery(src: "fe80::1", v2: true),
            Packets.mldv2Report([(4, "ff0e::1:2", ["2001:db8::1"])]),
        ]
        var failures = 0
        for f in frames {
            for n in 0..<f.count {
                let prefix = Array(f[0..<n])
                let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 1)
                defer { exact.deallocate() }
                if n > 0 { exact.copyBytes(from: prefix) }
                if case .failure = MembershipParser.parse(frame: UnsafeRawBufferPointer(exact)) { failures += 1 }
            }
            for i in 0..<f.count {
                var g = f
                g[i] ^= 0x5A
                _ = parse(g)
            }
        }
        #expect(failures > 0)
    }
}
