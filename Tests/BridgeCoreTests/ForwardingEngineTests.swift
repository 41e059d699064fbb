// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Testing
@testable import BridgeCore

@Suite struct ForwardingEngineTests {
    let a = station(0xA), b = station(0xB), c = station(0xC)

    @Test func learnsForwardsKnownAndFloodsUnknown() {
        let e = makeEngine(BridgeConfiguration(ports: ports(4)))
        // b is unknown: flood to all but the ingress.
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .flood(PortSet([1, 2, 3])))
        #expect(e.table.lookup(a) == 0)
        // b answers: a is known, unicast to port 0.
        #expect(decide(e, frame(dst: a, src: b), port: 2).action == .forward(0))
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .forward(2))
        let c0 = e.counters.snapshot(port: 0)
        #expect(c0.rxFrames == 2 && c0.flooded == 1 && c0.forwarded == 1 && c0.rxBytes == 120)
    }

    @Test func broadcastAndMulticastFloodEveryOtherPort() {
        let e = makeEngine(BridgeConfiguration(ports: ports(3)))
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 1).action == .flood(PortSet([0, 2])))
        #expect(decide(e, frame(dst: mac("01:00:5e:01:02:03"), src: a), port: 1).action == .flood(PortSet([0, 2])))
    }

    @Test func neverBackOutTheIngressUnlessHairpin() {
        let e = makeEngine(BridgeConfiguration(ports: ports(3) { i, p in if i == 1 { p.flags.insert(.hairpin) } }))
        _ = decide(e, frame(dst: .broadcast, src: a), port: 0)
        _ = decide(e, frame(dst: .broadcast, src: b), port: 1)
        #expect(decide(e, frame(dst: a, src: c), port: 0).action == .drop(.sameSegment))
        #expect(decide(e, frame(dst: b, src: c), port: 1).action == .forward(1), "hairpin sends it back")
        #expect(decide(e, frame(dst: .broadcast, src: b), port: 1).action == .flood(PortSet([0, 1, 2])))
    }

    @Test func invalidSourcesAreDroppedAndNeverLearned() {
        let e = makeEngine(BridgeConfiguration(ports: ports(2)))
        for src in [MACAddress.broadcast, mac("01:00:5e:00:00:01"), .zero] {
            #expect(decide(e, frame(dst: b, src: src), port: 0).action == .drop(.invalidSource))
        }
        #expect(e.table.statistics.learnedEntries == 0)
        #expect(e.counters.snapshot(port: 0).dropped(.invalidSource) == 3)
    }

    @Test func linkLocalIsNotForwardedUnlessTheMaskAllows() throws {
        var config = BridgeConfiguration(ports: ports(3))
        let lldp = mac("01:80:c2:00:00:0e"), stp = mac("01:80:c2:00:00:00"), eapol = mac("01:80:c2:00:00:03")
        let e = makeEngine(config)
        #expect(decide(e, frame(dst: lldp, src: a), port: 0).action == .drop(.linkLocal))
        #expect(e.table.lookup(a) == 0, "link-local frames still teach the source")
        config.groupForwardMask = 1 << 0xE | 1 << 3
        try e.apply(config)
        #expect(decide(e, frame(dst: lldp, src: a), port: 0).action == .flood(PortSet([1, 2])))
        #expect(decide(e, frame(dst: eapol, src: a), port: 0).action == .flood(PortSet([1, 2])))
        #expect(decide(e, frame(dst: stp, src: a), port: 0).action == .drop(.linkLocal))
        for bit in 0...2 {
            config.groupForwardMask = 1 << UInt16(bit)
            #expect(throws: ConfigurationError.restrictedGroupForwardBits(1 << UInt16(bit))) { try e.apply(config) }
        }
    }

    @Test func portFlags() {
        let config = BridgeConfiguration(ports: ports(5) { i, p in
            switch i {
            case 1: p.flags.remove(.flood)
            case 2: p.flags.remove(.multicastFlood)
            case 3: p.flags.remove(.broadcastFlood)
            case 4: p.flags.remove(.learning)
            default: break
            }
        })
        let e = makeEngine(config)
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .flood(PortSet([2, 3, 4])))
        #expect(decide(e, frame(dst: mac("01:00:5e:00:00:05"), src: a), port: 0).action == .flood(PortSet([1, 3, 4])))
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 0).action == .flood(PortSet([1, 2, 4])))
        _ = decide(e, frame(dst: .broadcast, src: c), port: 4)
        #expect(e.table.lookup(c) == nil, "no learning on port 4")
        // Known unicast ignores the flood flags.
        _ = decide(e, frame(dst: .broadcast, src: b), port: 1)
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .forward(1))
    }

    @Test func isolatedPortsNeverTalkToEachOther() {
        let e = makeEngine(BridgeConfiguration(ports: ports(4) { i, p in if i < 2 { p.flags.insert(.isolated) } }))
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 0).action == .flood(PortSet([2, 3])))
        #expect(decide(e, frame(dst: .broadcast, src: c), port: 2).action == .flood(PortSet([0, 1, 3])))
        _ = decide(e, frame(dst: .broadcast, src: b), port: 1)
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .drop(.egressBlocked))
        #expect(decide(e, frame(dst: b, src: c), port: 2).action == .forward(1))
    }

    @Test func disabledPorts() throws {
        var config = BridgeConfiguration(ports: ports(3))
        let e = makeEngine(config)
        _ = decide(e, frame(dst: .broadcast, src: b), port: 1)
        config.ports[1].state = .disabled
        try e.apply(config)
        #expect(decide(e, frame(dst: .broadcast, src: c), port: 1).action == .drop(.portDisabled))
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 0).action == .flood(PortSet([2])))
        #expect(decide(e, frame(dst: b, src: a), port: 0).action == .drop(.egressBlocked))
    }

    @Test func badInputIsACountedDrop() {
        let e = makeEngine(BridgeConfiguration(ports: ports(2)))
        #expect(decide(e, [], port: 0).action == .drop(.runt))
        #expect(decide(e, Array(repeating: 0xFF, count: 13), port: 0).action == .drop(.runt))
        let tagged = frame(dst: b, src: a, tags: [VLANTag(vid: 5)], payload: 0)
        #expect(decide(e, Array(tagged[0..<17]), port: 0).action == .drop(.truncatedTag))
        let double = frame(dst: b, src: a, tags: [VLANTag(tpid: 0x88A8, vid: 5), VLANTag(vid: 6)], payload: 0)
        #expect(decide(e, Array(double[0..<21]), port: 0).action == .drop(.truncatedTag))
        let triple = frame(dst: b, src: a, tags: [VLANTag(tpid: 0x88A8, vid: 5), VLANTag(vid: 6), VLANTag(vid: 7)])
        #expect(decide(e, triple, port: 0).action == .drop(.tooManyTags))
        #expect(decide(e, frame(dst: b, src: a), port: 2).action == .drop(.unknownPort))
        #expect(decide(e, frame(dst: b, src: a), port: -1).action == .drop(.unknownPort))
        #expect(decide(e, frame(dst: b, src: a), port: 1_000_000).action == .drop(.unknownPort))
        let c0 = e.counters.snapshot(port: 0)
        #expect(c0.dropped(.runt) == 2 && c0.dropped(.truncatedTag) == 2 && c0.dropped(.tooManyTags) == 1)
        #expect(e.counters.snapshot(port: e.counters.unknownPortRow).dropped(.unknownPort) == 3)
        #expect(e.table.statistics.learnedEntries == 0)
    }

    @Test func tagsPassUntouchedWithoutVLANFiltering() {
        let e = makeEngine(BridgeConfiguration(ports: ports(2)))
        let v = decide(e, frame(dst: b, src: a, tags: [VLANTag(tpid: 0x88A8, vid: 4095), VLANTag(vid: 0)]), port: 0)
        #expect(v.action == .flood(PortSet([1])) && v.encoding(forPort: 1) == .asIs && v.vlan == 0)
        #expect(e.table.lookup(a, vlan: 0) == 0)
    }

    @Test func batchesTooLargeAreRefused() throws {
        let e = try ForwardingEngine(table: MACTable(), configuration: BridgeConfiguration(ports: ports(2)), maxBatch: 4)
        let f = frame(dst: b, src: a)
        try f.withUnsafeBytes { raw in
            let frames = Array(repeating: ReceivedFrame(bytes: raw, port: 0), count: 5)
            var verdicts = Array(repeating: Verdict(), count: 5)
            try frames.withUnsafeBufferPointer { fp in
                try verdicts.withUnsafeMutableBufferPointer { vp in
                    #expect(throws: EngineError.batchTooLarge(count: 5, maximum: 4)) {
                        try e.process(fp, into: vp, now: Timestamp(milliseconds: 0))
                    }
                    #expect(throws: EngineError.verdictBufferTooSmall(needed: 4, available: 3)) {
                        try e.process(UnsafeBufferPointer(rebasing: fp[0..<4]), into: UnsafeMutableBufferPointer(rebasing: vp[0..<3]), now: Timestamp(milliseconds: 0))
                    }
                    try e.process(UnsafeBufferPointer(rebasing: fp[0..<4]), into: vp, now: Timestamp(milliseconds: 0))
                }
            }
            #expect(verdicts[0].isFlood && verdicts[3].isFlood)
        }
    }

    @Test func configurationIsValidated() {
        #expect(throws: ConfigurationError.tooManyPorts(1025)) { try BridgeConfiguration(ports: ports(1025)).validate() }
        #expect(throws: ConfigurationError.duplicatePort("x")) {
            try BridgeConfiguration(ports: [PortConfiguration(name: "x"), PortConfiguration(name: "x")]).validate()
        }
        #expect(throws: ConfigurationError.invalidPVID(port: "p0", 4095)) {
            try BridgeConfiguration(ports: ports(1) { _, p in p.pvid = 4095 }).validate()
        }
        #expect(throws: ConfigurationError.invalidVLANProtocol(0x9100)) {
            try BridgeConfiguration(vlanProtocol: 0x9100).validate()
        }
        #expect(throws: ConfigurationError.invalidVLANList("1-5000")) { try VLANSet(parsing: "1-5000") }
        #expect(throws: ConfigurationError.invalidVLANList("0")) { try VLANSet(parsing: "0") }
        #expect(throws: ConfigurationError.invalidVLANList("a")) { try VLANSet(parsing: "a") }
        #expect((try? VLANSet(parsing: "1,10-12,4094"))?.description == "1,10-12,4094")
    }
}

@Suite struct VLANFilteringTests {
    let a = station(0xA), b = station(0xB)

    /// Port 0: trunk (VLANs 10, 20 tagged, PVID 1 untagged). Port 1: access VLAN 10.
    /// Port 2: access VLAN 20. Port 3: trunk of 10 and 20 without PVID.
    func config(proto: UInt16 = EtherType.vlan) -> BridgeConfiguration {
        BridgeConfiguration(ports: [
            PortConfiguration(name: "trunk", pvid: 1, vlans: VLANSet([1, 10, 20]), untaggedVLANs: VLANSet([1])),
            PortConfiguration(name: "acc10", pvid: 10, vlans: VLANSet([10]), untaggedVLANs: VLANSet([10])),
            PortConfiguration(name: "acc20", pvid: 20, vlans: VLANSet([20]), untaggedVLANs: VLANSet([20])),
            PortConfiguration(name: "trunk2", pvid: nil, vlans: VLANSet([10, 20]), untaggedVLANs: VLANSet()),
        ], vlanFiltering: true, vlanProtocol: proto)
    }

    @Test func untaggedIngressGoesToThePVIDAndLeavesTaggedOnTrunks() {
        let e = makeEngine(config())
        let v = decide(e, frame(dst: .broadcast, src: a), port: 1)
        #expect(v.action == .flood(PortSet([0, 3])) && v.vlan == 10 && v.tagging == .untagged)
        #expect(v.encoding(forPort: 0) == .insertTag(0x8100_000A))
        #expect(v.encoding(forPort: 3) == .insertTag(0x8100_000A))
        #expect(e.table.lookup(a, vlan: 10) == 1 && e.table.lookup(a, vlan: 0) == nil)
    }

    @Test func taggedIngressStaysInItsVLANAndLeavesUntaggedOnAccess() {
        let e = makeEngine(config())
        let v = decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 20, pcp: 3)]), port: 0)
        #expect(v.action == .flood(PortSet([2, 3])) && v.vlan == 20 && v.tagging == .tagged)
        #expect(v.encoding(forPort: 2) == .stripOuterTag)
        #expect(v.encoding(forPort: 3) == .asIs)
        #expect(v.untagged == PortSet([2]))
    }

    @Test func unknownAndKnownUnicastUseTheFramesVLAN() {
        let e = makeEngine(config())
        _ = decide(e, frame(dst: .broadcast, src: b), port: 2)  // b in VLAN 20 on port 2
        #expect(decide(e, frame(dst: b, src: a, tags: [VLANTag(vid: 20)]), port: 0).action == .forward(2))
        #expect(decide(e, frame(dst: b, src: a, tags: [VLANTag(vid: 10)]), port: 0).action == .flood(PortSet([1, 3])),
                "b is unknown in VLAN 10")
        let v = decide(e, frame(dst: b, src: a), port: 0)  // untagged on the trunk: VLAN 1, where only port 0 is
        #expect(v.action == .drop(.noFloodTarget))
    }

    @Test func ingressFilteringAndReservedVIDs() {
        let e = makeEngine(config())
        #expect(decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 30)]), port: 0).action == .drop(.vlanIngressFiltered))
        #expect(decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 20)]), port: 1).action == .drop(.vlanIngressFiltered))
        #expect(decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 4095)]), port: 0).action == .drop(.vlanReserved))
        #expect(decide(e, frame(dst: .broadcast, src: a), port: 3).action == .drop(.vlanReserved), "no PVID: untagged dropped")
        #expect(e.table.statistics.learnedEntries == 0, "filtered frames teach nothing")
    }

    @Test func priorityTaggedFramesGoToThePVIDKeepingTheirPriority() {
        let e = makeEngine(config())
        let v = decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 0, pcp: 6)]), port: 1)
        #expect(v.vlan == 10 && v.tagging == .priorityTagged)
        #expect(v.encoding(forPort: 0) == .replaceOuterTag(0x8100_0000 | 6 << 13 | 10))
        #expect(decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(vid: 0)]), port: 3).action == .drop(.vlanReserved))
    }

    @Test func otherTagProtocolIsPayloadToTheBridge() {
        // An 802.1ad-tagged frame on an 802.1Q bridge is untagged from the bridge's view.
        let e = makeEngine(config())
        let v = decide(e, frame(dst: .broadcast, src: a, tags: [VLANTag(tpid: 0x88A8, vid: 20)]), port: 1)
        #expect(v.vlan == 10 && v.tagging == .untagged)
        let ad = makeEngine(config(proto: EtherType.qinq))
        let w = decide(ad, frame(dst: .broadcast, src: a, tags: [VLANTag(tpid: 0x88A8, vid: 20)]), port: 0)
        #expect(w.vlan == 20 && w.tagging == .tagged && w.encoding(forPort: 2) == .stripOuterTag)
    }
}

@Suite struct StormControlTests {
    @Test func floodsAreCutToTheRateAndKnownUnicastIsNot() throws {
        let cfg = BridgeConfiguration(ports: ports(3) { i, p in
            if i == 0 { p.stormControl = StormControl(broadcast: 100, multicast: 10, unknownUnicast: 50) }
        })
        let e = makeEngine(cfg)
        let src = station(1)
        // A burst of 1,000 broadcasts within 1 ms: the bucket holds 100 ms of the rate (10 frames).
        var passed = 0
        for _ in 0..<1_000 where decide(e, frame(dst: .broadcast, src: src), port: 0, now: 5_000).isFlood { passed += 1 }
        #expect(passed == 10)
        // One second later the bucket refilled up to its burst, not beyond.
        passed = 0
        for _ in 0..<1_000 where decide(e, frame(dst: .broadcast, src: src), port: 0, now: 6_000).isFlood { passed += 1 }
        #expect(passed == 10)
        // Sustained: one broadcast per ms for 2 s passes at about the rate (100/s).
        passed = 0
        for ms in 0..<2_000 where decide(e, frame(dst: .broadcast, src: src), port: 0, now: 10_000 + UInt64(ms)).isFlood { passed += 1 }
        #expect(passed >= 195 && passed <= 215, "\(passed)")
        // Each class has its own bucket; the minimum burst is one frame.
        #expect(decide(e, frame(dst: mac("01:00:5e:00:00:01"), src: src), port: 0, now: 20_000).isFlood)
        #expect(decide(e, frame(dst: mac("01:00:5e:00:00:01"), src: src), port: 0, now: 20_000).action == .drop(.stormControl))
        // Known unicast is never limited; other ports are not limited.
        _ = decide(e, frame(dst: .broadcast, src: station(2)), port: 1, now: 20_000)
        for _ in 0..<100 { #expect(decide(e, frame(dst: station(2), src: src), port: 0, now: 20_001).action == .forward(1)) }
        for _ in 0..<100 { #expect(decide(e, frame(dst: .broadcast, src: station(2)), port: 1, now: 20_001).isFlood) }
        #expect(e.counters.snapshot(port: 0).dropped(.stormControl) > 1_900)
    }
}
