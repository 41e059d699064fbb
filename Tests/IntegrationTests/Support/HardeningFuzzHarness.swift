// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// HardeningFuzzHarness: one fuzz input in, every invariant of the frame parser, the forwarding
// engine and the MAC table checked. The same file is compiled twice:
// - into the libFuzzer target (scripts/fuzz.sh: swiftc -sanitize=fuzzer,address with the
//   BridgeCore sources in one module, -D SWBRIDGE_FUZZ_SINGLE_MODULE), where a violation traps;
// - into IntegrationTests (HardeningTests replays the seed corpus in Fuzz/corpus and
//   handcrafted cases through it), where violations come back as strings.
//
// Input layout (every byte string is a valid input; short ones use zeros):
//   byte 0  mode (bits 0-1: 0-2 engine batches, 3 MAC table operations) and flags
//   engine: byte 0 bit 2 VLAN filtering, bit 3 802.1ad as VLAN protocol, bit 4 storm
//           control, bit 5 a group forward mask; byte 1 ports (1 + low 3 bits) and batch size
//           (bits 3-7); byte 2 storm rates; byte 3 the table's maxLearned - 1; bytes 4-11 per
//           port: flags (bits 0-5), disabled (bit 6), no PVID (bit 7). Then frames, each
//           [length lo, length hi, port, time step] + bytes (length clamped to what is left).
//           Port bytes 0xF0-0xFF stand for out-of-range indices (-1, 64, 255, 1_000_000 ...).
//   table:  byte 1 maxLearned - 1, byte 2 maxStatic (low 4 bits), byte 3 ageing (low 2 bits,
//           seconds, 0 never); then operations of 4 bytes [op, address, port, time step].
//
// Each frame is copied into its own heap allocation of exactly its length, so under
// AddressSanitizer a read one byte past a frame is a reported heap overflow.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

enum HardeningFuzzHarness {
    /// Runs one input; returns the invariants it broke (empty: fine).
    static func run(_ data: UnsafeRawBufferPointer) -> [String] {
        var r = Reader(data)
        var failures: [String] = []
        let mode = r.byte()
        if mode & 3 == 3 {
            runTable(mode, &r, &failures)
        } else {
            runEngine(mode, &r, &failures)
        }
        return failures
    }

    /// Reads bytes, zeros past the end.
    struct Reader {
        let data: UnsafeRawBufferPointer
        var offset = 0
        init(_ data: UnsafeRawBufferPointer) { self.data = data }
        var remaining: Int { max(data.count - offset, 0) }
        mutating func byte() -> UInt8 {
            guard offset < data.count else { return 0 }
            defer { offset += 1 }
            return data[offset]
        }
        /// Up to `n` bytes as a fresh, exactly sized allocation (the caller frees it).
        mutating func take(_ n: Int) -> UnsafeMutableRawBufferPointer {
            let k = min(n, remaining)
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: k, alignment: 1)
            if k > 0 { p.copyMemory(from: UnsafeRawBufferPointer(rebasing: data[offset..<(offset + k)])) }
            offset += k
            return p
        }
    }

    // MARK: - Engine

    static let weirdPorts = [-1, 64, 255, 256, 1_000_000, Int.max, Int.min, -64]

    static func runEngine(_ mode: UInt8, _ r: inout Reader, _ failures: inout [String]) {
        let b1 = r.byte(), b2 = r.byte(), b3 = r.byte()
        let portCount = 1 + Int(b1 & 7)
        let batch = 1 + Int(b1 >> 3)
        var config = BridgeConfiguration()
        config.vlanFiltering = mode & 4 != 0
        config.vlanProtocol = mode & 8 != 0 ? EtherType.qinq : EtherType.vlan
        if mode & 32 != 0 { config.groupForwardMask = UInt16(b3) << 3 | 0x4000 }
        // Bit 6: a spanning tree runs, each port's state from b3 (discarding, learning,
        // forwarding). Bit 7: multicast snooping, with a table where every VLAN has a querier,
        // port 0 is a router port and a few groups have members.
        config.spanningTree = mode & 64 != 0
        config.multicastSnooping = mode & 128 != 0
        var portBytes: [UInt8] = []
        for _ in 0..<8 { portBytes.append(r.byte()) }  // always 8, whatever the port count
        for i in 0..<portCount {
            let f = portBytes[i]
            let pvid: UInt16? = f & 0x80 != 0 ? nil : UInt16(1 + i % 3)
            var p = PortConfiguration(
                name: "p\(i)", state: f & 0x40 != 0 ? .disabled : .forwarding,
                flags: PortFlags(rawValue: f & 0x3F), pvid: pvid,
                vlans: VLANSet([1, 2, 3, 4094]), untaggedVLANs: VLANSet(pvid.map { [$0] } ?? []))
            if config.spanningTree {
                let g = b3 >> UInt8(i % 4 * 2) & 3
                p.spanningTree = g == 0 ? .discarding : g == 1 ? .learning : .forwarding
            }
            if mode & 16 != 0 {
                p.stormControl = StormControl(
                    broadcast: UInt32(b2 & 3) * 5, multicast: UInt32(b2 >> 2 & 3) * 5 + 1,
                    unknownUnicast: b2 & 0x80 != 0 ? nil : UInt32(b2 >> 4 & 7))
            }
            config.ports.append(p)
        }
        let table = MACTable(configuration: .init(maxLearned: 1 + Int(b3), maxStatic: 4, ageingTime: .seconds(1)))
        var mdb: MulticastGroupTable? = nil
        if config.multicastSnooping {
            let t = MulticastGroupTable(maxGroups: 64)
            for v: UInt16 in [0, 1, 2, 3] {
                t.setSnoopingActive(vlan: v, ipv6: false, true)
                t.setSnoopingActive(vlan: v, ipv6: true, b2 & 1 != 0)
                var routers = MulticastPortSet()
                routers.insert(0)
                t.setRouterPorts(vlan: v, routers)
                for g in 0..<4 {
                    var members = MulticastPortSet()
                    members.insert(Int(b2 >> UInt8(g)) % max(portCount, 1))
                    try? t.setMembers(vlan: v, group: MulticastGroup(ipv4: 0xEF01_0100 | UInt32(g)), members)
                }
            }
            mdb = t
        }
        let engine: ForwardingEngine
        do {
            engine = try ForwardingEngine(table: table, configuration: config, maxBatch: batch, multicastTable: mdb)
        } catch {
            failures.append("configuration refused: \(error)")
            return
        }
        var now: UInt64 = 1_000
        var owned: [UnsafeMutableRawBufferPointer] = []
        var frames: [ReceivedFrame] = []
        var verdicts = [Verdict](repeating: Verdict(), count: batch)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 16)
        defer { scratch.deallocate() }

        func flush() {
            guard !frames.isEmpty else { return }
            let ts = Timestamp(milliseconds: now)
            do {
                try frames.withUnsafeBufferPointer { f in
                    try verdicts.withUnsafeMutableBufferPointer { v in try engine.process(f, into: v, now: ts) }
                }
            } catch {
                failures.append("process threw \(error) for \(frames.count) <= \(batch) frames")
            }
            for (i, f) in frames.enumerated() {
                check(f, engine.resolve(verdicts[i]), config, scratch, &failures)
            }
            for p in owned { p.deallocate() }
            owned.removeAll()
            frames.removeAll()
        }

        var count = 0
        while r.remaining >= 4 && count < 1024 {
            let len = Int(r.byte()) | Int(r.byte()) << 8
            let pb = r.byte()
            now &+= UInt64(r.byte()) * 8
            let port = pb >= 0xF0 ? weirdPorts[Int(pb & 7)] : Int(pb) % (portCount + 1)
            let bytes = r.take(len)
            owned.append(bytes)
            frames.append(ReceivedFrame(bytes: UnsafeRawBufferPointer(bytes), port: port))
            count += 1
            if frames.count == batch { flush() }
        }
        flush()
        // A table op sequence after the traffic: age and flush must keep the table coherent.
        table.age(now: Timestamp(milliseconds: now &+ 1_500), budget: 64)
        table.flush(port: 0)
        checkTable(table, now: Timestamp(milliseconds: now), &failures)
        // Every port's counters add up: rx = forwarded + flooded + snooped + every drop reason.
        for row in 0..<engine.counters.rows {
            let c = engine.counters.snapshot(port: row)
            if c.rxFrames != c.forwarded + c.flooded + c.snooped + c.droppedTotal {
                failures.append("row \(row): rx \(c.rxFrames) != forwarded \(c.forwarded) + flooded \(c.flooded) + snooped \(c.snooped) + dropped \(c.droppedTotal)")
            }
        }
    }

    /// The invariants of one verdict.
    static func check(_ f: ReceivedFrame, _ v: Decision, _ config: BridgeConfiguration,
                      _ scratch: UnsafeMutableRawBufferPointer, _ failures: inout [String]) {
        let validPort = f.port >= 0 && f.port < config.ports.count
        let forwarding = validPort && config.ports[f.port].state == .forwarding
        // The parser and the engine agree on malformed headers.
        var parseError: FrameParseError? = nil
        var header: FrameHeader? = nil
        do { header = try FrameHeader.parse(f.bytes) } catch { parseError = error }
        if !validPort {
            if v.dropReason != .unknownPort { failures.append("port \(f.port): \(v.action), expected unknown-port") }
            return
        }
        if !forwarding {
            if v.dropReason != .portDisabled { failures.append("disabled port: \(v.action)") }
            return
        }
        // A port the spanning tree has not let forward sends nothing anywhere.
        if config.ports[f.port].spanningTree != .forwarding && v.dropReason == nil {
            failures.append("\(config.ports[f.port].spanningTree) port \(f.port) forwarded: \(v.action)")
        }
        switch parseError {
        case .runt?: if v.dropReason != .runt { failures.append("runt (\(f.bytes.count) B): \(v.action)") }
        case .truncatedTag?: if v.dropReason != .truncatedTag { failures.append("truncated tag (\(f.bytes.count) B): \(v.action)") }
        case .tooManyTags?: if v.dropReason != .tooManyTags { failures.append("three tags: \(v.action)") }
        case nil:
            if [.runt, .truncatedTag, .tooManyTags].contains(v.dropReason) {
                failures.append("parser accepted \(f.bytes.count) B, engine dropped it as \(v.dropReason!)")
            }
        }
        if let h = header, !h.source.isValidSource, v.dropReason == nil {
            failures.append("invalid source \(h.source) forwarded")
        }
        if let reason = v.dropReason {
            if !v.egress.isEmpty { failures.append("dropped (\(reason)) with egress \(v.egress)") }
            return
        }
        if v.egress.isEmpty { failures.append("not dropped, no egress") }
        if !v.isFlood && v.egress.count != 1 { failures.append("forward to \(v.egress.count) ports") }
        for p in v.egress {
            if p >= config.ports.count { failures.append("egress to unconfigured port \(p)"); continue }
            if config.ports[p].state != .forwarding { failures.append("egress to disabled port \(p)") }
            if config.ports[p].spanningTree != .forwarding { failures.append("egress to \(config.ports[p].spanningTree) port \(p)") }
            if p == f.port && !config.ports[p].flags.contains(.hairpin) { failures.append("back out of ingress \(p)") }
            if config.ports[p].flags.contains(.isolated) && config.ports[f.port].flags.contains(.isolated) {
                failures.append("isolated \(f.port) -> isolated \(p)")
            }
            // The egress edit, as a copying transport performs it: exactly wireLength bytes.
            let e = EgressFrame(bytes: f.bytes, encoding: v.encoding(forPort: p))
            let wire = e.wireLength
            if wire < 14 || wire > scratch.count { failures.append("egress wire length \(wire)"); continue }
            let n = e.write(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<wire]))
            if n != wire { failures.append("wrote \(n) of \(wire) bytes") }
            if !scratch[0..<12].elementsEqual(f.bytes[0..<12]) { failures.append("addresses changed on egress") }
        }
    }

    // MARK: - MAC table

    static func runTable(_ mode: UInt8, _ r: inout Reader, _ failures: inout [String]) {
        let maxLearned = 1 + Int(r.byte())
        let maxStatic = Int(r.byte() & 15)
        let ageing = Int(r.byte() & 3)
        let table = MACTable(configuration: .init(maxLearned: maxLearned, maxStatic: maxStatic, ageingTime: .seconds(Int64(ageing))))
        var now: UInt64 = 0
        var ops = 0
        while r.remaining >= 4 && ops < 512 {
            let op = r.byte(), a = r.byte(), port = Int(r.byte() & 7)
            now &+= UInt64(r.byte()) * 16
            ops += 1
            let ts = Timestamp(milliseconds: now)
            // 64 stations in 4 VLANs; bit 7 makes the address multicast (invalid as a source).
            let vlan = UInt16(a >> 6 & 1) * 100
            let mac = MACAddress(rawValue: 0x0200_0000_0000 | UInt64(a & 0x3F) | (a & 0x80 != 0 ? 0x0100_0000_0000 : 0))
            switch op % 10 {
            case 0...3:
                guard mac.isValidSource else { continue }  // the engine never learns those
                let outcome = table.learn(mac, vlan: vlan, port: port, now: ts)
                let found = table.lookup(mac, vlan: vlan)
                switch outcome {
                case .refreshed, .learned, .learnedAfterEviction, .moved:
                    if found != port { failures.append("learn \(mac) on \(port): \(outcome), lookup \(String(describing: found))") }
                case .staticConflict:
                    if found == nil || found == port { failures.append("static conflict but lookup \(String(describing: found))") }
                case .refused:
                    if found != nil { failures.append("refused but found on \(found!)") }
                }
            case 4:
                table.age(now: ts, budget: 1 + Int(a))
            case 5:
                table.flush(port: a & 1 != 0 ? nil : port, includingStatic: a & 2 != 0)
                if a & 1 == 0 && table.learnedEntries(port: port) != 0 {
                    failures.append("flush(port: \(port)) left \(table.learnedEntries(port: port)) learned")
                }
            case 6:
                do {
                    try table.addStatic(mac, vlan: vlan, port: port)
                    if table.lookup(mac, vlan: vlan) != port { failures.append("static \(mac) not on \(port)") }
                } catch {
                    if mac.isValidSource, case .invalidAddress = error { failures.append("valid \(mac) refused as invalid") }
                }
            case 7:
                table.remove(mac, vlan: vlan)
                if table.lookup(mac, vlan: vlan) != nil { failures.append("\(mac) still there after remove") }
            default:
                checkTable(table, now: ts, &failures)
            }
            if !failures.isEmpty { return }
        }
        checkTable(table, now: Timestamp(milliseconds: now), &failures)
    }

    /// Sizes within bounds, listing and lookups agree, per-port counts add up.
    static func checkTable(_ table: MACTable, now: Timestamp, _ failures: inout [String]) {
        let s = table.statistics
        if s.learnedEntries > table.configuration.maxLearned { failures.append("\(s.learnedEntries) learned > max \(table.configuration.maxLearned)") }
        if s.staticEntries > table.configuration.maxStatic { failures.append("\(s.staticEntries) static > max") }
        let entries = table.entries(now: now)
        if entries.count != s.learnedEntries + s.staticEntries {
            failures.append("listed \(entries.count) != learned \(s.learnedEntries) + static \(s.staticEntries)")
        }
        if entries.filter(\.isStatic).count != s.staticEntries { failures.append("static count mismatch") }
        var keys = Set<UInt64>()
        for e in entries {
            if !keys.insert(UInt64(e.vlan) << 48 | e.mac.rawValue).inserted { failures.append("\(e.mac) vlan \(e.vlan) listed twice") }
            if table.lookup(e.mac, vlan: e.vlan) != e.port { failures.append("\(e.mac) listed on \(e.port), lookup disagrees") }
            if !e.mac.isValidSource { failures.append("invalid source \(e.mac) in table") }
        }
        let perPort = (0..<MACTable.portLimit).reduce(0) { $0 + table.learnedEntries(port: $1) }
        if perPort != s.learnedEntries { failures.append("per-port learned sum \(perPort) != \(s.learnedEntries)") }
    }
}
