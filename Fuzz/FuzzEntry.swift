// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// libFuzzer entry point for the frame parser, the forwarding engine and the MAC table.
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
