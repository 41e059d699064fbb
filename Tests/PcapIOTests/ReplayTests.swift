// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Replay: a capture through the real engine. The same file gives the same verdicts twice;
// stations get ports by the documented rule or the explicit map; each egress port's file
// holds what it would send (VLAN edits applied) and tcpdump reads it.

import BridgeCore
import Foundation
import Testing
@testable import PcapIO

@Suite("Replay")
struct ReplayTests {
    static func config(_ n: Int) -> BridgeConfiguration {
        BridgeConfiguration(ports: (0..<n).map { PortConfiguration(name: "p\($0)") })
    }

    func replay(_ path: String, ports: Int = 3, map: IngressMap = IngressMap(), outputs: [PcapWriter?] = [],
                configuration: BridgeConfiguration? = nil) throws -> ([ReplayVerdict], ReplaySummary) {
        let r = try Replayer(configuration: configuration ?? Self.config(ports), ingressMap: map)
        var verdicts: [ReplayVerdict] = []
        let s = try r.run(try PcapReader(path: path), outputs: outputs) { verdicts.append($0) }
        return (verdicts, s)
    }

    @Test("the same file gives the same verdicts, twice; the rules hold")
    func determinism() throws {
        let dir = TempDir()
        try Frames.writePcap(Frames.trace(), to: dir.file("t.pcap"))
        let (v1, s1) = try replay(dir.file("t.pcap"))
        let (v2, s2) = try replay(dir.file("t.pcap"))
        #expect(v1 == v2 && s1 == s2)
        // a → port 0, b → port 1, c → port 2 (first seen order, modulo 3).
        #expect(s1.stations.map(\.1) == [0, 1, 2])
        #expect(v1.map(\.action) == [
            .flood(PortSet([1, 2])),  // a's broadcast
            .flood(PortSet([0, 2])),  // b's broadcast
            .forward(0),  // b → a, learned
            .forward(1),  // a → b
            .flood(PortSet([0, 1])),  // c → unknown
            .forward(2),  // a → c (tagged, no VLAN filtering: as is)
            .drop(.invalidSource),  // multicast source
            .drop(.runt),
        ])
        #expect(s1.frames == 8 && s1.forwarded == 3 && s1.flooded == 3 && s1.droppedTotal == 2)
        #expect(s1.learnedEntries == 3)
        #expect(s1.report.contains("invalid-source: 1") && s1.report.contains("runt: 1"))
        #expect(v1[2].description.contains("02:00:00:00:00:0b > 02:00:00:00:00:0a") && v1[2].description.hasSuffix("forward port0"))
    }

    @Test("an explicit ingress map pins stations; the others follow the default rule")
    func ingressMap() throws {
        let dir = TempDir()
        try Frames.writePcap(Frames.trace(), to: dir.file("t.pcap"))
        let map = try IngressMap(parsing: "02:00:00:00:00:0b=2", ports: 3)
        let (v, s) = try replay(dir.file("t.pcap"), map: map)
        #expect(s.stations.map(\.1) == [0, 2, 1])
        #expect(v[2].ingress == 2 && v[2].action == .forward(0))
        #expect(throws: PcapError.self) { _ = try IngressMap(parsing: "02:00:00:00:00:0b=3", ports: 3) }
        #expect(throws: PcapError.self) { _ = try IngressMap(parsing: "zz=1", ports: 3) }
    }

    @Test("pcapng input replays like the pcap of the same frames")
    func pcapngReplay() throws {
        let dir = TempDir()
        let records = Frames.trace()
        try Frames.writePcap(records, to: dir.file("t.pcap"))
        let ng = dir.write(Frames.pcapng(records), to: "t.pcapng")
        #expect(try replay(dir.file("t.pcap")).0.map(\.action) == replay(ng).0.map(\.action))
    }

    @Test("per-port files hold what each port sends, VLAN edits applied; tcpdump reads them")
    func perPortOutput() throws {
        let dir = TempDir()
        try Frames.writePcap(Frames.trace(), to: dir.file("t.pcap"))
        // VLAN filtering: port 0 and 2 access ports (VLAN 1 untagged), port 1 a trunk tagging VLAN 1.
        var config = Self.config(3)
        config.vlanFiltering = true
        config.ports[1].untaggedVLANs = VLANSet()
        config.ports[2].vlans = VLANSet([1, 100])
        let outputs = try (0..<3).map { try PcapWriter(path: dir.file("port\($0).pcap"), precision: .nanosecond) }
        let (verdicts, summary) = try replay(dir.file("t.pcap"), outputs: outputs, configuration: config)
        for w in outputs { try w.close() }
        let files = try (0..<3).map { try PcapReader(path: dir.file("port\($0).pcap")).readAll() }
        #expect(files.map { UInt64($0.count) } == summary.transmitted)
        // a's broadcast (frame 1) left port 1 with an 802.1Q tag for VLAN 1, port 2 as received.
        let trace = Frames.trace()
        #expect(verdicts[0].action == .flood(PortSet([1, 2])))
        var tagged = trace[0].bytes
        tagged.insert(contentsOf: [0x81, 0x00, 0x00, 0x01], at: 12)
        #expect(files[1].first?.bytes == tagged)
        #expect(files[1].first?.timestamp == trace[0].timestamp)
        #expect(files[2].first?.bytes == trace[0].bytes)
        // The VLAN 100 frame from a (port 0, an access port) is filtered at ingress.
        #expect(verdicts[5].action == .drop(.vlanIngressFiltered))
        guard let tcpdump = tcpdumpPath() else {
            print("tcpdump is not installed: the tcpdump -r check is skipped")
            return
        }
        let (status, out) = try runCommand(tcpdump, ["-r", dir.file("port1.pcap"), "-nn", "-e"])
        #expect(status == 0, "\(out)")
        #expect(out.contains("vlan 1,"), "\(out)")
        #expect(out.split(separator: "\n").filter { $0.contains(" > ") }.count == files[1].count, "\(out)")
    }

    @Test("a truncated capture stops the replay with an error")
    func truncatedReplay() throws {
        let dir = TempDir()
        try Frames.writePcap(Frames.trace(), to: dir.file("t.pcap"))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("t.pcap"))))
        bytes.removeLast(3)
        let path = dir.write(bytes, to: "cut.pcap")
        #expect(throws: PcapError.self) { _ = try replay(path) }
    }

    @Test("a large synthetic trace: frames/s is measured and stays deterministic")
    func benchmarkShape() throws {
        let dir = TempDir()
        let w = try PcapWriter(path: dir.file("big.pcap"))
        for i in 0..<5000 {
            let src = 0x02_00_00_00_10_00 + UInt64(i % 50)
            let dst = 0x02_00_00_00_10_00 + UInt64((i * 7) % 50)
            try w.write(Frames.make(dst: dst, src: src, payload: 46, seed: UInt8(i & 0xFF)),
                        timestamp: CaptureTimestamp(seconds: 1000 + Int64(i / 1000), nanoseconds: UInt32(i % 1000) * 1000))
        }
        try w.close()
        let (v1, s1) = try replay(dir.file("big.pcap"), ports: 4)
        let (v2, _) = try replay(dir.file("big.pcap"), ports: 4)
        #expect(v1 == v2 && s1.frames == 5000 && s1.learnedEntries == 50)
        #expect(s1.framesPerSecond > 0)
        print("replay engine rate on 5000 frames: \(Int(s1.framesPerSecond)) frames/s")
    }
}
