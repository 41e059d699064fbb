// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Testing
import BridgeCore
@testable import SpanningTree

/// Hand-checked vectors: 802.1D-2004 9.3.1 (Configuration), 9.3.2 (TCN), 9.3.3 (RST).
enum Vectors {
    /// Root 8000.02:00:00:00:01:00 announcing itself: cost 0, port 0x8001, message age 0,
    /// max age 20 s (0x1400), hello 2 s (0x0200), forward delay 15 s (0x0f00), TC flag.
    static let configuration: [UInt8] = [
        0x00, 0x00,                                     // octets 1-2: Protocol Identifier
        0x00,                                           // 3: Protocol Version Identifier (STP)
        0x00,                                           // 4: BPDU Type (Configuration)
        0x01,                                           // 5: flags (TC)
        0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // 6-13: Root Identifier
        0x00, 0x00, 0x00, 0x00,                         // 14-17: Root Path Cost
        0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, // 18-25: Bridge Identifier
        0x80, 0x01,                                     // 26-27: Port Identifier
        0x00, 0x00,                                     // 28-29: Message Age
        0x14, 0x00,                                     // 30-31: Max Age
        0x02, 0x00,                                     // 32-33: Hello Time
        0x0F, 0x00,                                     // 34-35: Forward Delay
    ]
    /// RST BPDU: designated (role 3 in bits 3-4), proposal, learning, forwarding: flags
    /// 0x02 | 0x0C | 0x10 | 0x20 = 0x3E; root 1000.02:00:00:00:02:00 (priority 4096), cost
    /// 20000 (0x4E20) through bridge 8000.02:00:00:00:03:00, port 0x8002, message age 1 s.
    static let rst: [UInt8] = [
        0x00, 0x00, 0x02, 0x02, 0x3E,
        0x10, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00,
        0x00, 0x00, 0x4E, 0x20,
        0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00,
        0x80, 0x02,
        0x01, 0x00, 0x14, 0x00, 0x02, 0x00, 0x0F, 0x00,
        0x00,                                           // 36: Version 1 Length
    ]
    static let tcn: [UInt8] = [0x00, 0x00, 0x00, 0x80]

    static func llc(_ bpdu: [UInt8]) -> [UInt8] { [0x42, 0x42, 0x03] + bpdu }
}

@Suite struct BPDUCodecTests {
    let root = BridgeIdentifier(priority: 0x8000, address: MACAddress(rawValue: 0x0200_0000_0100))

    @Test func parsesConfigurationVector() throws {
        let b = try BPDU.parse(llc: Vectors.llc(Vectors.configuration))
        #expect(b.kind == .configuration && b.version == 0)
        #expect(b.flags == [.topologyChange])
        #expect(b.priority == PriorityVector(rootBridge: root, rootPathCost: 0, designatedBridge: root, designatedPort: PortIdentifier(rawValue: 0x8001)))
        #expect(b.times == BPDUTimes(messageAge: 0, maxAge: 0x1400, helloTime: 0x0200, forwardDelay: 0x0F00))
        #expect(b.times.seconds == TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15))
        #expect(b.encoded == Vectors.configuration)
        #expect(b.priority.designatedPort.priority == 128 && b.priority.designatedPort.number == 1)
        #expect(root.description == "8.000.02:00:00:00:01:00")
    }

    @Test func parsesRSTVector() throws {
        let b = try BPDU.parse(llc: Vectors.llc(Vectors.rst))
        #expect(b.kind == .rst && b.version == 2)
        #expect(b.flags.role == .designated)
        #expect(b.flags.contains([.proposal, .learning, .forwarding]))
        #expect(!b.flags.contains(.agreement) && !b.flags.contains(.topologyChange))
        #expect(b.priority.rootBridge.priority == 0x1000)
        #expect(b.priority.rootPathCost == 20000)
        #expect(b.priority.designatedPort == PortIdentifier(priority: 128, number: 2))
        #expect(b.times.seconds.messageAge == 1)
        #expect(b.encoded == Vectors.rst)
    }

    @Test func parsesTCN() throws {
        let b = try BPDU.parse(llc: Vectors.llc(Vectors.tcn))
        #expect(b.kind == .topologyChangeNotification)
        #expect(b.encoded == Vectors.tcn)
    }

    @Test func frameEncodingIsAnLLCFrameToTheBridgeGroupAddress() throws {
        let src = MACAddress(rawValue: 0x0200_0000_0101)
        let cases: [(BPDU, Int)] = [
            (try BPDU.parse(llc: Vectors.llc(Vectors.configuration)), 35),
            (try BPDU.parse(llc: Vectors.llc(Vectors.rst)), 36),
            (BPDU.topologyChangeNotification, 4),
        ]
        for (bpdu, length) in cases {
            let f = bpdu.frame(source: src)
            #expect(f.count == 60)                                                // padded to Ethernet's minimum
            #expect(Array(f[0..<6]) == [0x01, 0x80, 0xC2, 0x00, 0x00, 0x00])
            #expect(Array(f[6..<12]) == [0x02, 0x00, 0x00, 0x00, 0x01, 0x01])
            #expect(Int(f[12]) << 8 | Int(f[13]) == 3 + length)                   // 802.3 length: LLC + BPDU
            #expect(Array(f[14..<17]) == [0x42, 0x42, 0x03])
            #expect(Array(f[17..<(17 + length)]) == bpdu.encoded)
            #expect(f[(17 + length)...].allSatisfy { $0 == 0 })
            #expect(try BPDU.parse(frame: f) == bpdu)                            // padding ignored
        }
    }

    @Test func readsTheKernelBridgesUnpaddedFrames() throws {
        // net/bridge/br_stp_bpdu.c sends 35 (Configuration) or 4 (TCN) octets after LLC and does
        // not pad: on a veth the frames are 52 and 21 bytes, the 802.3 length 38 and 7.
        let eth: [UInt8] = [0x01, 0x80, 0xC2, 0, 0, 0, 0x02, 0, 0, 0, 0x01, 0x01]
        let config = eth + [0, 38] + Vectors.llc(Vectors.configuration)
        let tcn = eth + [0, 7] + Vectors.llc(Vectors.tcn)
        #expect(config.count == 52 && tcn.count == 21)
        #expect(try BPDU.parse(frame: config).kind == .configuration)
        #expect(try BPDU.parse(frame: tcn).kind == .topologyChangeNotification)
        // And it drops version ≠ 0 (br_stp_rcv), which is why an RSTP port migrates to STP:
        // the kernel never answers RST BPDUs, it only sends its own Configuration BPDUs.
    }

    @Test func roundTripsEveryFlagAndField() throws {
        for kind in [BPDU.Kind.configuration, .rst] {
            for flags in stride(from: 0, through: 255, by: 7) {
                let b = BPDU(kind: kind, flags: BPDUFlags(rawValue: UInt8(flags)),
                             priority: PriorityVector(rootBridge: BridgeIdentifier(rawValue: 0xF123_4567_89AB_CDEF), rootPathCost: 0xDEAD_BEEF,
                                                      designatedBridge: BridgeIdentifier(rawValue: 0x0001_0203_0405_0607), designatedPort: PortIdentifier(rawValue: 0xFFFF)),
                             times: BPDUTimes(messageAge: 0x0102, maxAge: 0xFFFF, helloTime: 0x0304, forwardDelay: 0x0506))
                #expect(try BPDU.parse(llc: BPDU.llc + b.encoded) == b)
            }
        }
    }

    @Test func validationFollowsClause934() throws {
        func parse(_ bytes: [UInt8]) -> BPDUParseError? {
            do { _ = try BPDU.parse(llc: Vectors.llc(bytes)); return nil } catch { return error }
        }
        // Lengths: each type needs its own octets; one short is truncated.
        #expect(parse(Array(Vectors.configuration.prefix(34))) == .truncated(length: 34))
        #expect(parse(Array(Vectors.rst.prefix(35))) == .truncated(length: 35))
        #expect(parse(Array(Vectors.tcn.prefix(3))) == .truncated(length: 3))
        #expect(parse([]) == .truncated(length: 0))
        // Protocol Identifier must be zero.
        var bad = Vectors.configuration; bad[1] = 1
        #expect(parse(bad) == .protocolIdentifier(1))
        // An RST type needs version ≥ 2; unknown types are refused.
        bad = Vectors.rst; bad[2] = 1
        #expect(parse(bad) == .unknownType(type: 2, version: 1))
        bad = Vectors.configuration; bad[3] = 0x01
        #expect(parse(bad) == .unknownType(type: 1, version: 0))
        // Configuration: Message Age must be below Max Age.
        bad = Vectors.configuration; bad[27] = 0x14
        #expect(parse(bad) == .messageAgeNotBelowMaxAge)
        // Accepted as is: a Configuration BPDU with version 2, a TCN with version 1, MSTP (version 3)
        // read as RST, trailing octets, a nonzero Version 1 Length.
        var ok = Vectors.configuration; ok[2] = 2
        #expect(try BPDU.parse(llc: Vectors.llc(ok)).kind == .configuration)
        #expect(try BPDU.parse(llc: Vectors.llc([0, 0, 1, 0x80])).kind == .topologyChangeNotification)
        ok = Vectors.rst; ok[2] = 3; ok[35] = 64
        ok += [UInt8](repeating: 0xAA, count: 64)
        let mst = try BPDU.parse(llc: Vectors.llc(ok))
        #expect(mst.kind == .rst && mst.version == 3 && mst.version1Length == 64)
        // An RST BPDU's Message Age may reach Max Age (the state machines age it out at once).
        ok = Vectors.rst; ok[27] = 0x14
        #expect(try BPDU.parse(llc: Vectors.llc(ok)).kind == .rst)
    }

    @Test func frameLevelErrors() {
        let good = (try? BPDU.parse(llc: Vectors.llc(Vectors.configuration)))?.frame(source: MACAddress(rawValue: 0x0200_0000_0001)) ?? []
        func parse(_ bytes: [UInt8]) -> BPDUParseError? {
            do { _ = try BPDU.parse(frame: bytes); return nil } catch { return error }
        }
        #expect(parse(good) == nil)
        #expect(parse(Array(good.prefix(13))) == .truncated(length: 13))
        var f = good; f[5] = 0x0E   // LLDP's address
        #expect(parse(f) == .notBridgeGroupAddress)
        f = good; f[12] = 0x08; f[13] = 0x00
        #expect(parse(f) == .notLLCFrame(etherType: 0x0800))
        f = good; f[12] = 0x05; f[13] = 0xDC   // length 1500, frame shorter
        #expect(parse(f) == .truncated(length: 60))
        f = good; f[14] = 0xAA
        #expect(parse(f) == .notSpanningTreeLLC)
        f = good; f[13] = 3 + 34  // the 802.3 length cuts the BPDU short
        #expect(parse(f) == .truncated(length: 34))
    }

    @Test func priorityVectorComparison() {
        func id(_ p: UInt16, _ m: UInt64) -> BridgeIdentifier { BridgeIdentifier(priority: p, address: MACAddress(rawValue: m)) }
        let a = PriorityVector(rootBridge: id(0x8000, 1), rootPathCost: 10, designatedBridge: id(0x8000, 5), designatedPort: PortIdentifier(rawValue: 0x8001))
        var b = a; b.rootPathCost = 11
        #expect(a.isBetter(than: b) && !b.isBetter(than: a) && !a.isBetter(than: a))
        // 17.6: worse information from the same designated bridge and port still replaces.
        #expect(b.isSuperior(to: a))
        var c = b; c.designatedPort = PortIdentifier(rawValue: 0x8002)
        #expect(!c.isSuperior(to: a))
        // Same bridge address and port number with a different priority is still "the same sender".
        var d = b; d.designatedBridge = id(0x9000, 5); d.designatedPort = PortIdentifier(rawValue: 0x9001)
        #expect(d.isSuperior(to: a))
        #expect(id(0x1000, 9) < id(0x8000, 1))
    }
}
