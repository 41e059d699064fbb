// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapPort against the real kernel: the standard BridgeLab topology (h1 — br — h2 over veth,
// 198.18.0.0/24) with both bridge ports opened through libpcap in the bridge namespace and a
// ForwardingPass moving frames between them on a thread of the test. Ping crosses; with the ports
// wrapped in MirrorPorts, the capture of a port under ping holds the ICMP frames, and
// 802.1Q / 802.1ad tagged frames sent from h1 appear in the mirror tags and all. Each test
// owns its Lab (torn down on every path) and is bounded by command timeouts and a time limit.

import BridgeCore
import Foundation
import LabKit
import PacketIO
import PcapIO
import Testing

@Suite("PcapPort", .serialized)
struct PcapPortTests {
    @Test("an unknown interface is a clear thrown error", .privileged)
    func unknownInterface() throws {
        #expect(throws: PcapError.noSuchInterface("swbnosuch0")) { _ = try PcapPort(interface: "swbnosuch0") }
        #expect(PcapError.noSuchInterface("swbnosuch0").description == "no such interface 'swbnosuch0'")
    }

    @Test("ping crosses a bridge whose ports are PcapPorts", .privileged, .timeLimit(.minutes(3)))
    func ping() throws {
        let topo = try BridgeLab()
        let ports = try topo.lab.withNetworkNamespace(topo.br) { try topo.brIf.map { try PcapPort(interface: $0) } }
        let loop = try ForwardingLoop(ports: ports, fileDescriptors: ports.map(\.fileDescriptor), maxDuration: .seconds(40))
        defer { loop.stop() }
        let r = try Measure.ping(topo, count: 100)
        #expect(r.loss == 0, "\(r.output)")
        print("ping through PcapPort forwarder: \(r)")
        loop.stop()
        let stats = ports.map { $0.statistics() }
        print("pcap ports: \(zip(ports, stats).map { "\($0.name): \($1)" })")
        #expect(stats.allSatisfy { $0.received >= 100 && $0.transmitted >= 100 && $0.transmitErrors == 0 })
    }

    @Test("a mirror of a port under ping holds the ICMP frames, VLAN tags included", .privileged, .timeLimit(.minutes(3)))
    func mirror() throws {
        let topo = try BridgeLab()
        let dir = NSTemporaryDirectory() + "swb-mirror-\(topo.lab.prefix)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ports = try topo.lab.withNetworkNamespace(topo.br) { try topo.brIf.map { try PcapPort(interface: $0) } }
        let inbound = try PcapMirror(path: dir + "/port0-in.pcap")
        var icmpOnly = PcapMirror.Configuration()
        icmpOnly.filter = "icmp or vlan"
        let outbound = try PcapMirror(path: dir + "/port1-out.pcap", configuration: icmpOnly)
        let mirrored: [any BridgeCore.Port] = [MirrorPort(ports[0], ingress: inbound), MirrorPort(ports[1], egress: outbound)]
        let loop = try ForwardingLoop(ports: mirrored, fileDescriptors: ports.map(\.fileDescriptor), maxDuration: .seconds(40))
        defer { loop.stop() }

        let r = try Measure.ping(topo, count: 20)
        #expect(r.loss == 0, "\(r.output)")
        // Tagged frames from h1 through the bridge (no VLAN filtering: they leave as they came).
        var plain = AFPacketPort.Configuration()
        plain.vnetHeader = false
        let sender = try topo.lab.withNetworkNamespace(topo.h1) { try AFPacketPort(interface: topo.h1If, configuration: plain) }
        let receiver = try topo.lab.withNetworkNamespace(topo.h2) { try AFPacketPort(interface: topo.h2If, configuration: plain) }
        let tagged: [[UInt8]] = [
            TestFrames.make(tags: [(0x8100, 0x2064)], etherType: 0x0800, payload: 46, seed: 1),
            TestFrames.make(tags: [(0x88A8, 0x00C8)], etherType: 0x0800, payload: 46, seed: 2),
        ]
        #expect(tagged.withEgressFrames { sender.transmit($0) } == 2)
        // Both crossed the bridge (so both were offered to the mirrors) before it stops.
        var crossed: [[UInt8]] = []
        waitUntil(timeout: .seconds(20), interval: .milliseconds(1)) {
            crossed += TestFrames.collect(from: receiver, count: 1, within: .milliseconds(50)).filter { tagged.contains($0) }
            return crossed.count >= tagged.count
        }
        #expect(crossed == tagged, "tagged frames at h2: \(crossed.count)")
        loop.stop()
        inbound.close()
        outbound.close()

        let isICMP = { (f: CapturedRecord) in f.bytes.count >= 34 && f.bytes[12] == 0x08 && f.bytes[13] == 0x00 && f.bytes[23] == 1 }
        let inFrames = try PcapReader(path: dir + "/port0-in.pcap").readAll()
        let outFrames = try PcapReader(path: dir + "/port1-out.pcap").readAll()
        print("mirror in: \(inbound.statistics); out: \(outbound.statistics)")
        // Echo requests enter on port 0 and leave on port 1; replies come back the other way.
        #expect(inFrames.filter(isICMP).count >= 20, "\(inFrames.count) frames")
        #expect(outFrames.filter(isICMP).count >= 20)
        #expect(outFrames.allSatisfy { isICMP($0) || $0.bytes[12] == 0x81 || $0.bytes[12] == 0x88 })
        for t in tagged {
            #expect(inFrames.contains { $0.bytes == t }, "tagged frame missing from the ingress mirror")
            #expect(outFrames.contains { $0.bytes == t }, "tagged frame missing from the egress mirror")
        }
        // Real wall-clock timestamps, in order.
        let now = CaptureTimestamp.now()
        #expect(inFrames.allSatisfy { now.seconds - $0.timestamp.seconds < 120 })
        #expect(inFrames.map(\.timestamp) == inFrames.map(\.timestamp).sorted())
        #expect(inbound.statistics.droppedFull == 0 && outbound.statistics.droppedFull == 0)
        // tcpdump reads the mirror and decodes the tags.
        let td = try Lab.execute(["tcpdump", "-r", dir + "/port1-out.pcap", "-nn", "-e"], timeout: .seconds(10))
        #expect(td.status == 0, "\(td.standardError)")
        #expect(td.standardOutput.contains("vlan 100") && td.standardOutput.contains("ICMP echo request"), "\(td.standardOutput)")
    }
}

extension PcapPortTests {
    @Test("a capture taken by tcpdump in a lab namespace reads and replays", .privileged, .timeLimit(.minutes(3)))
    func tcpdumpCapture() throws {
        let topo = try BridgeLab()
        let dir = NSTemporaryDirectory() + "swb-tcpdump-\(topo.lab.prefix)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ports = try topo.lab.withNetworkNamespace(topo.br) { try topo.brIf.map { try PcapPort(interface: $0) } }
        let loop = try ForwardingLoop(ports: ports, fileDescriptors: ports.map(\.fileDescriptor), maxDuration: .seconds(40))
        defer { loop.stop() }
        // -Z root: tcpdump would otherwise drop to its own user and fail to write here.
        let file = dir + "/h2.pcap"
        let capture = try LoggedProcess(["tcpdump", "-i", topo.h2If, "-w", file, "-U", "-Z", "root", "-c", "10"], in: topo.h2)
        // tcpdump says "listening on" once its socket is open: frames from then on are seen.
        try capture.waitForOutput("listening on")
        let r = try Measure.ping(topo, count: 10)
        #expect(r.loss == 0, "\(r.output)")
        #expect(capture.process.wait(timeout: .seconds(60)), "tcpdump did not see 10 frames: \(capture.standardError)")
        #expect(capture.process.terminationStatus == 0, "\(capture.standardError)")
        loop.stop()
        let records = try PcapReader(path: file).readAll()
        #expect(records.count == 10)
        // h1's and h2's frames on one segment: by source MAC they land on two ports, and after
        // the first exchange every frame is forwarded to the other station's port.
        let replayer = try Replayer(configuration: BridgeConfiguration(ports: [PortConfiguration(name: "a"), PortConfiguration(name: "b")]))
        var verdicts: [ReplayVerdict] = []
        let summary = try replayer.run(try PcapReader(path: file)) { verdicts.append($0) }
        #expect(summary.frames == 10 && summary.stations.count == 2 && summary.droppedTotal == 0, "\(summary.report)")
        #expect(verdicts.suffix(4).allSatisfy { if case .forward = $0.action { true } else { false } }, "\(verdicts)")
    }
}
