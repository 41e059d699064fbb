// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The bridge's rules spelled out as a small, obviously correct model (a dictionary and the
// rules in order), and thousands of random frames that the fast engine must decide the same.
import Testing
@testable import BridgeCore

/// The reference: a dictionary FDB and the rules of ForwardingEngine's file comment.
struct ReferenceBridge {
    var config: BridgeConfiguration
    var fdb: [String: (port: Int, seen: UInt64, isStatic: Bool)] = [:]
    var ageing: UInt64

    func key(_ m: MACAddress, _ v: UInt16) -> String { "\(v)/\(m)" }

    mutating func age(now: UInt64) {
        guard ageing > 0 else { return }
        fdb = fdb.filter { $0.value.isStatic || now - $0.value.seen < ageing }
    }

    /// What the engine must report: the action and, with VLAN filtering, the frame's VLAN, how
    /// it was tagged on ingress, the tag it carries out and the egress ports that send it untagged.
    struct Outcome: Equatable, CustomStringConvertible {
        var action: Decision.Action
        var vlan: UInt16 = 0
        var tagging: VLANTagging = .unchanged
        var tag: UInt32 = 0
        var untagged = PortSet.empty

        init(_ action: Decision.Action, vlan: UInt16 = 0, tagging: VLANTagging = .unchanged, tag: UInt32 = 0,
             untagged: PortSet = .empty) {
            self.action = action
            self.vlan = vlan
            self.tagging = tagging
            self.tag = tag
            self.untagged = untagged
        }

        init(_ v: Decision) {
            self.init(v.action, vlan: v.vlan, tagging: v.tagging, tag: v.tag, untagged: v.untagged)
        }

        var description: String {
            "\(action) vlan \(vlan) \(tagging) tag 0x\(String(tag, radix: 16)) untagged \(untagged)"
        }
    }

    mutating func decide(_ bytes: [UInt8], port: Int, now: UInt64) -> Outcome {
        let action = decideAction(bytes, port: port, now: now)
        // A dropped frame reports nothing else.
        guard config.vlanFiltering, !isDrop(action) else { return Outcome(action) }
        // Classification, as in decideAction: the outer tag if it is of the bridge's protocol
        // and names a VLAN, else the PVID (keeping a priority tag's PCP and DEI).
        let outer: VLANTag? = bytes.count >= 18 && (be16(bytes, 12) == 0x8100 || be16(bytes, 12) == 0x88A8)
            ? VLANTag(tpid: be16(bytes, 12), tci: be16(bytes, 14)) : nil
        let p = config.ports[port]
        var out = Outcome(action)
        if let t = outer, t.tpid == config.vlanProtocol, t.vid != 0 {
            out.vlan = t.vid
            out.tagging = .tagged
            out.tag = UInt32(config.vlanProtocol) << 16 | UInt32(t.tci)
        } else {
            let pvid = p.pvid!  // a frame without a PVID was dropped
            let priority = outer.map { $0.tpid == config.vlanProtocol } ?? false
            out.vlan = pvid
            out.tagging = priority ? .priorityTagged : .untagged
            out.tag = UInt32(config.vlanProtocol) << 16 | UInt32((priority ? outer!.tci & 0xF000 : 0) | pvid)
        }
        let egress: [Int]
        switch action {
        case .forward(let q): egress = [q]
        case .flood(let mask): egress = (0..<config.ports.count).filter { mask.contains($0) }
        case .drop: egress = []
        }
        out.untagged = PortSet(egress.filter { config.ports[$0].untaggedVLANs.contains(out.vlan) })
        return out
    }

    private func isDrop(_ a: Decision.Action) -> Bool { if case .drop = a { true } else { false } }
    private func be16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) << 8 | UInt16(b[o + 1]) }

    mutating func decideAction(_ bytes: [UInt8], port: Int, now: UInt64) -> Decision.Action {
        guard port >= 0 && port < config.ports.count else { return .drop(.unknownPort) }
        let p = config.ports[port]
        guard p.state == .forwarding else { return .drop(.portDisabled) }
        guard bytes.count >= 14 else { return .drop(.runt) }
        let dst = MACAddress(rawValue: bytes[0..<6].reduce(0) { $0 << 8 | UInt64($1) })
        let src = MACAddress(rawValue: bytes[6..<12].reduce(0) { $0 << 8 | UInt64($1) })
        func be16(_ o: Int) -> UInt16 { UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1]) }
        var tags: [VLANTag] = []
        var o = 12
        while be16(o) == 0x8100 || be16(o) == 0x88A8 {
            if tags.count == 2 { return .drop(.tooManyTags) }  // a third TPID is enough to refuse
            guard bytes.count >= o + 6 else { return .drop(.truncatedTag) }
            tags.append(VLANTag(tpid: be16(o), tci: be16(o + 2)))
            o += 4
        }
        guard !src.isMulticast && !src.isZero else { return .drop(.invalidSource) }
        var vlan: UInt16 = 0
        if config.vlanFiltering {
            if let t = tags.first, t.tpid == config.vlanProtocol, t.vid != 0 {
                if t.vid == 4095 { return .drop(.vlanReserved) }
                vlan = t.vid
            } else {
                guard let pvid = p.pvid else { return .drop(.vlanReserved) }
                vlan = pvid
            }
            guard p.vlans.contains(vlan) else { return .drop(.vlanIngressFiltered) }
        }
        if p.flags.contains(.learning) {
            let k = key(src, vlan)
            if fdb[k]?.isStatic != true { fdb[k] = (port, now, false) }  // static entries never move
        }
        func member(_ q: Int) -> Bool { !config.vlanFiltering || config.ports[q].vlans.contains(vlan) }
        func blockedByIsolation(_ q: Int) -> Bool {
            p.flags.contains(.isolated) && config.ports[q].flags.contains(.isolated)
        }
        let flag: PortFlags
        if dst.isMulticast {
            if dst.isLinkLocalGroup && config.groupForwardMask & (1 << UInt16(dst.rawValue & 0xF)) == 0 {
                return .drop(.linkLocal)
            }
            flag = dst.isBroadcast ? .broadcastFlood : .multicastFlood
        } else if let known = fdb[key(dst, vlan)] {
            let q = known.port
            if q == port && !p.flags.contains(.hairpin) { return .drop(.sameSegment) }
            if config.ports[q].state != .forwarding || !member(q) || blockedByIsolation(q) { return .drop(.egressBlocked) }
            return .forward(q)
        } else {
            flag = .flood
        }
        var out = PortSet.empty
        for (q, c) in config.ports.enumerated() {
            if q == port && !p.flags.contains(.hairpin) { continue }
            if c.state != .forwarding || !c.flags.contains(flag) || !member(q) || blockedByIsolation(q) { continue }
            out.insert(q)
        }
        return out.isEmpty ? .drop(.noFloodTarget) : .flood(out)
    }
}

@Suite struct ModelTests {
    struct Rng: RandomNumberGenerator {  // reproducible: a failure names its seed
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func randomConfig(_ rng: inout Rng) -> BridgeConfiguration {
        let n = Int.random(in: 2...8, using: &rng)
        let filtering = Bool.random(using: &rng)
        let vlans: [UInt16] = [1, 10, 20, 4094]
        var config = BridgeConfiguration(ports: ports(n) { _, p in
            var flags = PortFlags()
            for (_, f) in PortFlags.names where Int.random(in: 0..<10, using: &rng) < (f == .hairpin || f == .isolated ? 2 : 8) {
                flags.insert(f)
            }
            p.flags = flags
            p.state = Int.random(in: 0..<10, using: &rng) == 0 ? .disabled : .forwarding
            p.pvid = Int.random(in: 0..<6, using: &rng) == 0 ? nil : vlans.randomElement(using: &rng)!
            p.vlans = VLANSet(vlans.filter { _ in Bool.random(using: &rng) })
            p.untaggedVLANs = VLANSet(vlans.filter { _ in Bool.random(using: &rng) })
        }, vlanFiltering: filtering)
        config.vlanProtocol = Int.random(in: 0..<4, using: &rng) == 0 ? EtherType.qinq : EtherType.vlan
        config.groupForwardMask = UInt16.random(in: 0...0xFFFF, using: &rng) & ~0x7
        return config
    }

    func randomFrame(_ rng: inout Rng, stations: [MACAddress]) -> [UInt8] {
        let specials: [MACAddress] = [.broadcast, mac("01:00:5e:00:00:07"), mac("01:80:c2:00:00:0e"),
                                      mac("01:80:c2:00:00:00"), .zero]
        func pick() -> MACAddress {
            Int.random(in: 0..<8, using: &rng) == 0 ? specials.randomElement(using: &rng)! : stations.randomElement(using: &rng)!
        }
        let tpids: [UInt16] = [0x8100, 0x88A8]
        let vids: [UInt16] = [0, 1, 10, 20, 30, 4094, 4095]
        var tags: [VLANTag] = []
        for _ in 0..<[0, 0, 0, 1, 1, 2, 3].randomElement(using: &rng)! {
            tags.append(VLANTag(tpid: tpids.randomElement(using: &rng)!, vid: vids.randomElement(using: &rng)!,
                                pcp: UInt8.random(in: 0...7, using: &rng)))
        }
        var f = frame(dst: pick(), src: pick(), tags: tags, payload: Int.random(in: 0...60, using: &rng))
        if Int.random(in: 0..<25, using: &rng) == 0 { f = Array(f.prefix(Int.random(in: 0...f.count, using: &rng))) }
        return f
    }

    @Test(arguments: 1...8)
    func engineAgreesWithTheReference(seed: UInt64) throws {
        var rng = Rng(state: seed)
        let config = randomConfig(&rng)
        let ageingSeconds = [0, 1, 3].randomElement(using: &rng)!
        let table = MACTable(configuration: .init(ageingTime: .seconds(ageingSeconds)))
        let engine = try ForwardingEngine(table: table, configuration: config)
        var model = ReferenceBridge(config: config, ageing: UInt64(ageingSeconds) * 1000)
        let stations = (0..<12).map { station($0 + 1) }
        // Two stations are pinned by static entries (in VLANs 0 and 10).
        for (s, vlan) in [(stations[0], UInt16(0)), (stations[1], UInt16(10))] {
            let port = Int.random(in: 0..<config.ports.count, using: &rng)
            try table.addStatic(s, vlan: vlan, port: port)
            model.fdb[model.key(s, vlan)] = (port, 0, true)
        }
        var now: UInt64 = 1_000
        for step in 0..<3_000 {
            now += UInt64.random(in: 0...40, using: &rng)
            if step % 50 == 0 {
                // Sweep the whole table (the model ages exactly); a real bridge sweeps in slices.
                table.age(now: Timestamp(milliseconds: now), budget: table.capacity)
                model.age(now: now)
            }
            let f = randomFrame(&rng, stations: stations)
            let port = Int.random(in: -1...config.ports.count, using: &rng)
            let expected = model.decide(f, port: port, now: now)
            let verdict = decide(engine, f, port: port, now: now)
            let got = ReferenceBridge.Outcome(verdict)
            #expect(got == expected, "seed \(seed) step \(step): frame \(f.prefix(22)) on port \(port)")
            // The egress encoding each port gets follows from the tagging and the untagged mask.
            if got == expected, case .flood(let mask) = got.action {
                for q in 0..<config.ports.count where mask.contains(q) {
                    let untagged = got.untagged.contains(q)
                    let want: EgressEncoding = switch got.tagging {
                    case .unchanged: .asIs
                    case .tagged: untagged ? .stripOuterTag : .asIs
                    case .untagged: untagged ? .asIs : .insertTag(got.tag)
                    case .priorityTagged: untagged ? .stripOuterTag : .replaceOuterTag(got.tag)
                    }
                    #expect(verdict.encoding(forPort: q) == want, "seed \(seed) step \(step): port \(q)")
                }
            }
            if got != expected { return }
        }
        // Both tables hold the same stations.
        let modelEntries = Set(model.fdb.map { "\($0.key)@\($0.value.port)" })
        let tableEntries = Set(table.entries(now: Timestamp(milliseconds: now)).map { "\($0.vlan)/\($0.mac)@\($0.port)" })
        #expect(tableEntries == modelEntries)
    }
}
