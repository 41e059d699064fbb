// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Multicast snooping under the fuzzer (called from FuzzEntry.swift; built by scripts/fuzz.sh with
// Sources/MulticastSnooping in the same module). Every input is:
// - classified (`MulticastClassifier`) and parsed (`MembershipParser`) as a whole frame and as a
//   bare IPv4 and IPv6 packet, from an allocation of exactly its size (ASan sees over-reads);
//   where the parser accepts a membership message to a multicast destination, the classifier
//   must have sorted the frame the same way (reports -> .report, queries and leaves -> .control);
// - fed to one long-lived snooper (querier on, 64 groups at most) on a port and at a time taken
//   from the input, with a tick: the table never holds more than its bound, its listing agrees
//   with its count, and every frame the querier emits parses back as a query;
// - read as operations on a small MulticastGroupTable checked against a dictionary.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
import MulticastSnooping
#endif

enum MulticastFuzz {
    nonisolated(unsafe) static var clock: UInt64 = 1_000_000
    nonisolated(unsafe) static var snooper: MulticastSnooper = {
        var c = MulticastSnoopingConfiguration()
        c.querier = true
        c.maxGroups = 64
        c.querierIPv4 = IPAddress(ipv4: 0xC612_0001)
        c.querierIPv6 = IPAddress(ipv6High: 0xFE80_0000_0000_0000, low: 1)
        c.igmpVersion = 3
        c.mldVersion = 2
        // A fixed, valid configuration: `try!` cannot fail here.
        return try! MulticastSnooper(configuration: c, now: Timestamp(milliseconds: clock))
    }()

    static let modelTable = MulticastGroupTable(maxGroups: 8)

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        var failures: [String] = []
        let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 1)
        defer { exact.deallocate() }
        if input.count > 0 { exact.copyMemory(from: input) }
        let bytes = UnsafeRawBufferPointer(exact)

        let kind = MulticastClassifier.classify(frame: bytes).kind
        _ = MembershipParser.parse(etherType: 0x0800, packet: bytes)
        _ = MembershipParser.parse(etherType: 0x86DD, packet: bytes)
        _ = MulticastClassifier.classify(etherType: 0x0800, payload: bytes)
        _ = MulticastClassifier.classify(etherType: 0x86DD, payload: bytes)
        if case .success(let m) = MembershipParser.parse(frame: bytes), isMulticast(m.destination) {
            switch m.message {
            case .report, .recordReport:
                if kind != .report { failures.append("classifier: \(kind) for a parsed report") }
            case .query, .leave:
                if kind != .control { failures.append("classifier: \(kind) for a parsed query or leave") }
            case .routerPresence, .ignored:
                break
            }
        }

        let port = input.count > 0 ? Int(input[input.count - 1] % 8) : 0
        clock &+= UInt64(input.count > 1 ? input[input.count - 2] : 1) &* 500
        var outputs = [snooper.receive(frame: bytes, port: port, vlan: UInt16(port % 2), now: Timestamp(milliseconds: clock))]
        outputs.append(snooper.tick(now: Timestamp(milliseconds: clock)))
        let table = snooper.table
        if table.statistics.groups > table.maxGroups { failures.append("mdb: \(table.statistics.groups) groups, bound \(table.maxGroups)") }
        if table.entries().count != table.statistics.groups { failures.append("mdb: listing and count disagree") }
        for t in outputs.flatMap(\.transmissions) {
            let parsed = t.frame.withUnsafeBytes { MembershipParser.parse(frame: $0) }
            guard case .success(let p) = parsed, case .query = p.message else {
                failures.append("querier: emitted a frame that does not parse as a query: \(parsed)")
                continue
            }
        }

        failures += tableModel(bytes)
        return failures
    }

    static func isMulticast(_ a: IPAddress) -> Bool {
        a.isIPv6 ? a.high >> 56 == 0xFF : a.ipv4 & 0xF000_0000 == 0xE000_0000
    }

    /// Operations of 3 bytes [op/vlan, group, port] on an 8-group table, against a dictionary.
    static func tableModel(_ b: UnsafeRawBufferPointer) -> [String] {
        // One table for all inputs, emptied each time: a new one would allocate and zero its
        // per-VLAN arrays (0.6 MB) per input.
        let t = modelTable
        t.removeAll()
        var model: [Int: MulticastPortSet] = [:]
        var i = 0
        while i + 3 <= b.count && i < 300 {
            let vlan = UInt16(b[i] >> 1 & 3), key = Int(vlan) << 8 | Int(b[i + 1] & 31)
            let group = MulticastGroup(ipv4: 0xEF00_0000 | UInt32(b[i + 1] & 31))
            if b[i] & 1 == 0 {
                let set = MulticastPortSet([Int(b[i + 2]) * 4])
                do {
                    try t.setMembers(vlan: vlan, group: group, set)
                    model[key] = set
                } catch {
                    if model[key] != nil || model.count < 8 { return ["mdb model: refused \(group) with \(model.count) entries"] }
                }
            } else {
                if t.remove(vlan: vlan, group: group) != (model[key] != nil) { return ["mdb model: remove disagrees"] }
                model[key] = nil
            }
            i += 3
        }
        for (key, set) in model {
            let group = MulticastGroup(ipv4: 0xEF00_0000 | UInt32(key & 0xFF))
            if t.members(vlan: UInt16(key >> 8), group: group) != set { return ["mdb model: \(group) lost or wrong"] }
        }
        return t.statistics.groups == model.count ? [] : ["mdb model: count \(t.statistics.groups), model \(model.count)"]
    }
}
