// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// libFuzzer entry point for the frame parser, the forwarding engine, the MAC table, the
// rtnetlink parser and the BPDU codec with the spanning tree state machines.
// Built by scripts/fuzz.sh together with Sources/BridgeCore/*.swift and the shared harness
// (Tests/IntegrationTests/Support/HardeningFuzzHarness.swift) as one module, with
// -sanitize=fuzzer,address. A broken invariant traps, which libFuzzer reports as a crash and
// saves as crash-<sha1> (replay: .build-fuzz/fuzz-engine crash-<sha1>).
//
// The engine decides frames with the one header parser (`FrameHeader.parsed`), so the
// harness's "parser and engine agree" check no longer compares two parsers. The parser gets an
// input path of its own here: every input, whole and from each of its first 32 offsets (so
// short and odd-aligned frames are common), is parsed and checked against `ReferenceParser`,
// a deliberately plain reading of the same rules over a byte array.

@_cdecl("LLVMFuzzerTestOneInput")
public func swbridgeFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    var failures = HardeningFuzzHarness.run(input)
    for start in 0..<min(input.count, 32) + 1 where failures.isEmpty {
        failures += ReferenceParser.check(Array(input[start...]))
    }
    // The talker sampler reads each sampled frame's source address: the right bytes, never past the end.
    if failures.isEmpty { failures += TalkerSamplerCheck.check(input) }
    // rtnetlink datagrams (link events the bridge acts on): parse or throw, never trap.
    _ = try? NetlinkParser.linkEvents(in: input)
    // A VXLAN device's FDB dump (`fdb show` reads it for `dst`): parse or throw, never trap.
    _ = try? VXLANFDBEntry.entries(in: input)
    // BPDUs (SpanningTree): parse or throw, re-encode to the same value, and drive a bridge.
    if failures.isEmpty { failures += BPDUFuzz.check(input) }
    // IGMP/MLD: the classifier, the parsers, a snooper and the multicast table (MulticastFuzz.swift).
    if failures.isEmpty { failures += MulticastFuzz.run(input) }
    if !failures.isEmpty {
        fatalError("invariant broken: " + failures.prefix(5).joined(separator: "; "))
    }
    return 0
}

/// The header rules, spelled out over an array: 14 bytes at least; up to two 802.1Q/802.1ad
/// tags, each needing 4 bytes plus the 2-byte type after it; a third tag is refused.
enum ReferenceParser {
    static func expected(_ b: [UInt8]) -> Result<FrameHeader, FrameParseError> {
        func u16(_ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
        func isTag(_ t: UInt16) -> Bool { t == 0x8100 || t == 0x88A8 }
        func mac(_ i: Int) -> MACAddress { MACAddress(rawValue: b[i..<(i + 6)].reduce(0) { $0 << 8 | UInt64($1) }) }
        guard b.count >= 14 else { return .failure(.runt(length: b.count)) }
        var tags: [VLANTag] = []
        var at = 12
        while isTag(u16(at)) {
            guard tags.count < 2 else { return .failure(.tooManyTags) }
            guard b.count >= at + 6 else { return .failure(.truncatedTag(length: b.count)) }
            tags.append(VLANTag(tpid: u16(at), tci: u16(at + 2)))
            at += 4
        }
        return .success(FrameHeader(
            destination: mac(0), source: mac(6), outerTag: tags.first, innerTag: tags.count > 1 ? tags[1] : nil,
            etherType: u16(at), payloadOffset: at + 2))
    }

    /// Parses `bytes` from an allocation of exactly their size (ASan sees any over-read).
    static func check(_ bytes: [UInt8]) -> [String] {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { copy.deallocate() }
        if !bytes.isEmpty { copy.copyBytes(from: bytes) }
        let got = FrameHeader.parsed(UnsafeRawBufferPointer(copy))
        let want = expected(bytes)
        return got == want ? [] : ["parser: \(got) for \(bytes.prefix(24)), reference \(want)"]
    }
}

/// The BPDU codec and the spanning tree machines: every input is parsed as LLC + BPDU and as a
/// whole frame; what parses must encode back to the same value (and as a frame too); when it
/// parses, a bridge receives it on its ports, ticks, and must keep 17.29's promise that
/// alternate, backup and disabled ports discard, with at most one root port.
enum BPDUFuzz {
    static func check(_ input: UnsafeRawBufferPointer) -> [String] {
        var failures: [String] = []
        let source = MACAddress(rawValue: 0x0200_0000_0001)
        let candidates = [try? BPDU.parse(llc: input), try? BPDU.parse(frame: input)]
        for parsed in candidates {
            guard let bpdu = parsed else { continue }
            let again = try? BPDU.parse(llc: BPDU.llc + bpdu.encoded)
            if again != bpdu { failures.append("BPDU round trip: \(bpdu) -> \(String(describing: again))") }
            let frame = bpdu.frame(source: source)
            if (try? BPDU.parse(frame: frame)) != bpdu || frame.count < 60 { failures.append("BPDU frame round trip: \(bpdu)") }
        }
        // Only inputs that are BPDUs reach the machines (the rest would only count a drop, which
        // the unit tests cover); a bridge per input keeps crashes reproducible.
        guard candidates.contains(where: { $0 != nil }) else { return failures }
        let start = Timestamp(milliseconds: 1000)
        guard let bridge = try? SpanningTreeBridge(address: MACAddress(rawValue: 0x0200_0000_0100), now: start) else {
            return failures + ["bridge with the default configuration refused"]
        }
        for port in 0..<3 {
            var config = SpanningTreePortConfiguration()
            config.rootGuard = port == 2
            _ = try? bridge.addPort(port, address: MACAddress(rawValue: 0x0200_0000_0101 + UInt64(port)), configuration: config, now: start)
            _ = try? bridge.setLink(port, up: true, pointToPoint: port != 1, now: start)
        }
        var now = start
        for round in 0..<3 {
            bridge.receive(llc: input, port: round % 3, now: now)
            bridge.receive(frame: input, port: (round + 1) % 3, now: now)
            now = now.adding(milliseconds: 1000)
            bridge.tick(now: now)
            let status = bridge.status()
            if status.ports.filter({ $0.role == .root }).count > 1 { failures.append("two root ports") }
            for p in status.ports where [.alternate, .backup, .disabled].contains(p.role) && p.state != .discarding {
                failures.append("port \(p.index) \(p.role) but \(p.state)")
            }
        }
        return failures
    }
}

/// TalkerSampler over one frame (an exact-size copy of the input, so ASan sees an over-read),
/// sampling every frame: a source address for frames of 12 bytes or more, nothing for shorter.
enum TalkerSamplerCheck {
    static func check(_ input: UnsafeRawBufferPointer) -> [String] {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 1)
        defer { copy.deallocate() }
        if !input.isEmpty { copy.copyMemory(from: input) }
        let sampler = TalkerSampler(every: 1, capacity: 2)
        let frame = [ReceivedFrame(bytes: UnsafeRawBufferPointer(copy), port: input.count % 70)]
        frame.withUnsafeBufferPointer { sampler.record($0, now: Timestamp(milliseconds: 7)) }
        let got = sampler.samples().samples
        guard input.count >= 12 else { return got.isEmpty ? [] : ["talkers: sampled a \(input.count)-byte frame"] }
        let mac = MACAddress(rawValue: input[6..<12].reduce(0) { $0 << 8 | UInt64($1) })
        let want = TalkerSampler.Sample(mac: mac, port: input.count % 70, length: min(input.count, 0xF_FFFF), time: Timestamp(milliseconds: 7))
        return got == [want] ? [] : ["talkers: \(got) for a \(input.count)-byte frame, want \(want)"]
    }
}
