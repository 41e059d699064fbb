// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The real `swbridge` executable, end to end: `swbridge run` in a bridge namespace (as
// scripts/demo.sh runs it), hosts in their own namespaces joined by veth pairs, control
// commands as separate processes. Shows ping among three hosts, flooding and learning with
// crafted frames, TCP with default veth offloads, VLAN tags crossing intact, FDB ageing, a port
// whose veth vanishes and comes back, the control commands' text and JSON, a clean SIGTERM, a
// refused second instance and an unknown interface, and static FDB entries.
//
// Each test owns a SwbridgeLab (random names, so parallel runs never collide) torn down on
// every path (swbridge killed by PID, namespaces deleted); every wait has a deadline. The
// suite is serialized: on 2 cores the timing checks (ageing, SIGTERM) stay meaningful, and the
// whole suite still takes well under a minute.

import Foundation
import LabKit
import PcapIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("swbridge process", .serialized, .privileged)
struct BridgeProcessTests {
    // MARK: 1 + 7

    @Test("three hosts ping each other; fdb show, link show and stats (text and JSON) reflect it",
          .timeLimit(.minutes(3)))
    func pingAndControlCommands() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let bridge = try topo.start()
            let before = try portStats(bridge, topo)
            for (a, b) in [(0, 1), (0, 2), (1, 2), (1, 0), (2, 0), (2, 1)] {
                let r = try topo.ping(from: a, to: b, count: 3)
                #expect(r.allAnswered, "h\(a + 1) -> h\(b + 1): \(r.output)")
            }
            #expect(bridge.isRunning)

            // fdb show: every host's MAC, learned on its own port.
            let macs = try (0..<3).map { try topo.hostMAC($0) }
            let fdbText = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            for i in 0..<3 {
                #expect(fdbText.contains("\(macs[i]) dev \(topo.ports[i]) master \(topo.name)"), "\(fdbText)")
            }
            let fdbJSON = try #require(try bridge.json(["fdb", "show"], lab: topo.lab) as? [[String: Any]])
            for i in 0..<3 {
                let row = fdbJSON.first { $0["mac"] as? String == macs[i] }
                #expect(row?["dev"] as? String == topo.ports[i], "\(fdbJSON)")
                #expect(row?["isStatic"] as? Bool == false)
            }

            // link show: three ports, attached, up (the operational state follows the carrier
            // through linkwatch, which lags: poll).
            var linkText = ""
            try waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
                linkText = try bridge.mustControl(["link", "show"], lab: topo.lab)
                return topo.ports.allSatisfy { linkText.contains("\($0): <UP,LOWER_UP>") }
            }
            for (i, p) in topo.ports.enumerated() {
                #expect(linkText.contains("\(p): <UP,LOWER_UP> mtu 1500 master \(topo.name) state forwarding"), "\(linkText)")
                _ = i
            }
            let links = try #require(try bridge.json(["link", "show"], lab: topo.lab) as? [[String: Any]])
            #expect(links.map { $0["name"] as? String } == topo.ports, "\(links)")
            #expect(links.allSatisfy { $0["attached"] as? Bool == true && $0["operUp"] as? Bool == true }, "\(links)")
            #expect(links.allSatisfy { ($0["learnedEntries"] as? NSNumber)?.intValue == 1 }, "\(links)")

            // stats: every port received and sent frames, and the counters grow with traffic.
            let after = try portStats(bridge, topo)
            for p in topo.ports {
                let a = try #require(after[p]), b = try #require(before[p])
                // 6 pings x 3 echo (request or reply) per port at least, plus ARP.
                #expect(a.rx >= b.rx + 6 && a.tx >= b.tx + 6, "\(p): before \(b), after \(a)")
                #expect(a.rxBytes > b.rxBytes && a.txBytes > b.txBytes)
            }
            let statsText = try bridge.mustControl(["stats"], lab: topo.lab)
            #expect(statsText.contains("bridge \(topo.name)"), "\(statsText)")
            let textRows = statsTextRows(statsText)
            for p in topo.ports {
                let rx = try #require(textRows[p]?["rx_frames"], "\(statsText)")
                #expect(rx >= (after[p]?.rx ?? .max), "text rx_frames \(rx) vs JSON \(after[p]!.rx)")
            }
            let stats = try #require(try bridge.json(["stats"], lab: topo.lab) as? [String: Any])
            let fdb = try #require(stats["fdb"] as? [String: Any])
            #expect((fdb["learnedEntries"] as? NSNumber)?.intValue == 3, "\(fdb)")
            #expect(((fdb["learned"] as? NSNumber)?.intValue ?? 0) >= 3, "\(fdb)")
            print("swbridge stats after pings:\n\(statsText)")
        }
    }

    // MARK: 2

    @Test("unknown unicast floods until learned; broadcast reaches every other host once; nothing returns to the sender",
          .timeLimit(.minutes(3)))
    func floodingAndLearning() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            _ = try topo.start()
            let sockets = try (0..<3).map { try topo.packetSocket(host: $0) }
            var seen: [[WireFrame]] = [[], [], []]
            /// Sends `frame` from host `from`, waits until each host in `expect` has it (20 s at
            /// most), then 150 ms more for strays. Everything received is kept in `seen`.
            func step(_ from: Int, _ frame: WireFrame, expect: Set<Int>) throws {
                try sockets[from].send(frame)
                let deadline = ContinuousClock.now + .seconds(20)
                var waiting = expect
                while !waiting.isEmpty && ContinuousClock.now < deadline {
                    for i in 0..<3 {
                        let got = sockets[i].receive(within: .milliseconds(10))
                        seen[i] += got
                        if got.contains(where: { $0.marker == frame.marker }) { waiting.remove(i) }
                    }
                }
                let quiet = ContinuousClock.now + .milliseconds(150)
                while ContinuousClock.now < quiet {
                    for i in 0..<3 { seen[i] += sockets[i].receive(within: .milliseconds(10)) }
                }
            }
            let a = WireFrame.mac(0xA0, 1), b = WireFrame.mac(0xA0, 2), c = WireFrame.mac(0xA0, 3)
            // 1. h1 (station A) to B, not yet learned: flooded to h2 and h3.
            try step(0, .make(dst: b, src: a, marker: "unknown-1"), expect: [1, 2])
            // 2. h2 (station B) answers A, which is learned on h1's port: only h1.
            try step(1, .make(dst: a, src: b, marker: "reply"), expect: [0])
            // 3. A to B again, now learned on h2's port: only h2.
            try step(0, .make(dst: b, src: a, marker: "known"), expect: [1])
            // 4. A broadcast from every host (C from h3).
            try step(0, .make(dst: WireFrame.broadcast, src: a, marker: "bcast-1"), expect: [1, 2])
            try step(1, .make(dst: WireFrame.broadcast, src: b, marker: "bcast-2"), expect: [0, 2])
            try step(2, .make(dst: WireFrame.broadcast, src: c, marker: "bcast-3"), expect: [0, 1])
            // 5. Unicast to C, learned from its broadcast: only h3.
            try step(1, .make(dst: c, src: b, marker: "to-c"), expect: [2])
            for i in 0..<3 { seen[i] += sockets[i].receive(within: .milliseconds(300)) }

            func count(_ host: Int, _ marker: String) -> Int { seen[host].filter { $0.marker == marker }.count }
            let expected: [(String, [Int])] = [
                ("unknown-1", [0, 1, 1]), ("reply", [1, 0, 0]), ("known", [0, 1, 0]),
                ("bcast-1", [0, 1, 1]), ("bcast-2", [1, 0, 1]), ("bcast-3", [1, 1, 0]), ("to-c", [0, 0, 1]),
            ]
            for (marker, counts) in expected {
                #expect((0..<3).map { count($0, marker) } == counts, "\(marker): per host \((0..<3).map { count($0, marker) })")
            }
            // Nothing but our frames: every one accounted for above.
            let total = seen.map(\.count).reduce(0, +)
            #expect(total == expected.flatMap(\.1).reduce(0, +), "\(seen.map { $0.map { $0.marker ?? "?" } })")
            // Frames arrive byte for byte.
            let known = WireFrame.make(dst: b, src: a, marker: "known")
            #expect(seen[1].contains(known))
        }
    }

    // MARK: 4

    @Test("802.1Q, 802.1ad and QinQ tagged frames cross with their tags intact", .timeLimit(.minutes(3)))
    func vlanTagsIntact() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            _ = try topo.start()
            let sender = try topo.packetSocket(host: 0)
            let receiver = try topo.packetSocket(host: 1)
            let src = WireFrame.mac(0xB0, 1), dst = WireFrame.mac(0xB0, 2)
            let frames: [WireFrame] = [
                .make(dst: dst, src: src, tags: [(0x8100, 0x2064)], marker: "dot1q-vid100-pcp1"),
                .make(dst: dst, src: src, tags: [(0x88A8, 0x00C8)], marker: "dot1ad-vid200"),
                .make(dst: dst, src: src, tags: [(0x88A8, 0x012C), (0x8100, 0x000A)], marker: "qinq-300-10"),
                .make(dst: dst, src: src, tags: [(0x8100, 0xE000)], marker: "priority-tag-pcp7"),
                .make(dst: WireFrame.broadcast, src: src, tags: [(0x8100, 0x0FFE)], marker: "dot1q-bcast-4094"),
                .make(dst: dst, src: src, marker: "untagged"),
            ]
            for f in frames { try sender.send(f) }
            let got = receiver.receive(within: .seconds(20)) { $0.count >= frames.count }
            #expect(got == frames, "got \(got.map { $0.bytes.prefix(22).map { String(format: "%02x", $0) }.joined() })")
            // And no copy of anything, late.
            #expect(receiver.receive(within: .milliseconds(200)).isEmpty)
        }
    }

    // MARK: 3

    @Test("TCP with default veth offloads: 100 MB, 0 TcpInCsumErrors", .timeLimit(.minutes(3)))
    func tcpWithDefaultOffloads() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/iperf3") || which("iperf3") else {
            Issue.record("iperf3 is not installed: scripts/setup.sh installs it")
            return
        }
        try withSwbridgeLab(hosts: 2) { topo in
            let features = try topo.lab.mustRun(["ethtool", "-k", SwbridgeLab.hostInterface], in: topo.hosts[0]).standardOutput
            #expect(features.contains("tcp-segmentation-offload: on"), "\(features)")
            #expect(features.contains("tx-checksumming: on"), "\(features)")
            let bridge = try topo.start()
            let csumBefore = try tcpInCsumErrors(topo, host: 1)
            let port = 5201 + Int.random(in: 0..<1000)
            let server = try topo.lab.startIperf3Server(address: SwbridgeLab.address(1), port: port, in: topo.hosts[1])
            defer { if server.isRunning { server.terminate() } }
            let r = try topo.run(host: 0, ["iperf3", "-c", SwbridgeLab.address(1), "-p", "\(port)", "-n", "100M", "-J",
                                           "--connect-timeout", "10000"], timeout: .seconds(50))
            #expect(r.status == 0, "\(r.standardOutput.suffix(1500)) \(r.standardError)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as? [String: Any])
            let end = try #require(json["end"] as? [String: Any], "\(r.standardOutput.suffix(1500))")
            let sent = try #require(end["sum_sent"] as? [String: Any])
            let received = try #require(end["sum_received"] as? [String: Any])
            let sentBytes = (sent["bytes"] as? NSNumber)?.int64Value ?? 0
            let receivedBytes = (received["bytes"] as? NSNumber)?.int64Value ?? 0
            let bps = (received["bits_per_second"] as? NSNumber)?.doubleValue ?? 0
            let retransmits = (sent["retransmits"] as? NSNumber)?.intValue ?? -1
            // iperf3 -n rounds up to whole send blocks, so it may send a little more.
            #expect(sentBytes >= 100 * 1024 * 1024 && sentBytes < 101 * 1024 * 1024, "sent \(sentBytes) bytes")
            // iperf3's receiver total stops when the server sees the end of the test (0.1-3 %
            // short in practice, run to run), so it is reported, not compared: the byte-exact
            // check is the transfer below.
            #expect(receivedBytes > 0 && bps > 0, "\(r.standardOutput.suffix(1500))")

            // 100 MiB again, checked byte for byte at the receiver.
            let checked = try CheckedTransfer.run(topo, from: 0, to: 1, blocks: 100, port: UInt16(port + 1))
            #expect(checked.error == nil, "\(checked)")
            #expect(checked.sentBytes == 100 * CheckedTransfer.blockSize && checked.receivedBytes == checked.sentBytes, "\(checked)")
            #expect(checked.goodBlocks == 100 && checked.badBlocks == 0, "\(checked)")

            let csum = try tcpInCsumErrors(topo, host: 1) - csumBefore
            #expect(csum == 0, "TcpInCsumErrors rose by \(csum)")
            #expect(bridge.isRunning)
            let stats = try bridge.mustControl(["stats"], lab: topo.lab)
            print(String(format: "swbridge TCP 1 stream, default offloads: iperf3 %lld bytes sent, %lld received at %.2f Gbit/s, %d retransmits; TcpInCsumErrors +%d",
                         sentBytes, receivedBytes, bps / 1e9, retransmits, csum))
            print("checked transfer: \(checked)")
            print(stats)
        }
    }

    @Test("the ingress port goes down and up three times under TCP: iperf3 succeeds and data crosses after every flap; afterwards 50 MiB arrive byte for byte and the idle bridge uses no CPU",
          .timeLimit(.minutes(3)))
    func portDownUnderTCP() throws {
        guard which("iperf3") else {
            Issue.record("iperf3 is not installed: scripts/setup.sh installs it")
            return
        }
        try withSwbridgeLab(hosts: 2) { topo in
            // Super-frames reach the bridge through the socket queue (2 KiB V2 slots); a port
            // going down leaves ENETDOWN pending on the socket, which once made the queue
            // fall out of step with the ring (and the socket readable forever).
            let bridge = try topo.start()
            let csumBefore = try tcpInCsumErrors(topo, host: 1)
            let port = 5201 + Int.random(in: 0..<1000)
            let server = try topo.lab.startIperf3Server(address: SwbridgeLab.address(1), port: port, in: topo.hosts[1])
            defer { if server.isRunning { server.terminate() } }
            // Long enough that the flaps (each waits for states, not times) happen while it
            // runs, even on a loaded machine; checked below.
            let seconds = 20
            let client = try LoggedProcess(["iperf3", "-c", SwbridgeLab.address(1), "-p", "\(port)", "-t", "\(seconds)", "-J",
                                            "--connect-timeout", "10000"], in: topo.hosts[0])
            func rxBytes() throws -> Int { try #require(try portStats(bridge, topo)[topo.ports[0]]).rxBytes }
            /// Waits until at least 1 MB more than `base` has entered port 0 (TCP flows through it).
            func flowing(after base: Int, _ what: String) throws {
                var last = base
                let moved = try waitUntil(timeout: .seconds(60)) {
                    last = try rxBytes()
                    return last >= base + 1_000_000 || !client.process.isRunning
                }
                #expect(moved && last >= base + 1_000_000, "\(what): \(last - base) bytes entered \(topo.ports[0]); iperf3 running: \(client.process.isRunning)")
            }
            try flowing(after: try rxBytes(), "before the flaps")
            var crossed: [Int] = []
            for flap in 1...3 {
                try topo.lab.mustRun(["ip", "link", "set", topo.ports[0], "down"], in: topo.br)
                // The bridge sees the port down (link show reads the interface's state).
                let seenDown = try waitUntil(timeout: .seconds(30)) {
                    let links = try #require(try bridge.json(["link", "show"], lab: topo.lab) as? [[String: Any]])
                    return links.first { $0["name"] as? String == topo.ports[0] }?["operUp"] as? Bool == false
                }
                #expect(seenDown, "flap \(flap): link show never reported \(topo.ports[0]) down")
                let atUp = try rxBytes()
                try topo.lab.mustRun(["ip", "link", "set", topo.ports[0], "up"], in: topo.br)
                try flowing(after: atUp, "after flap \(flap)")
                crossed.append(try rxBytes() - atUp)
            }
            // The flaps happened under TCP: iperf3 was still sending after the last one.
            #expect(client.process.isRunning, "iperf3 ended before the flaps were done: \(client.standardOutput.suffix(1500))")
            #expect(client.process.wait(timeout: .seconds(Int64(seconds) + 60)), "iperf3 ends")
            #expect(client.process.terminationStatus == 0, "iperf3: \(client.standardOutput.suffix(1500)) \(client.standardError)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(client.standardOutput.utf8)) as? [String: Any],
                                    "\(client.standardOutput.suffix(1500))")
            let end = try #require(json["end"] as? [String: Any], "\(client.standardOutput.suffix(1500))")
            let sent = ((end["sum_sent"] as? [String: Any])?["bytes"] as? NSNumber)?.int64Value ?? 0
            let received = ((end["sum_received"] as? [String: Any])?["bytes"] as? NSNumber)?.int64Value ?? 0
            #expect(sent > 3_000_000 && received > 3_000_000, "iperf3 moved \(sent) bytes sent, \(received) received")
            print("port down/up under TCP: bytes entering the port after each up \(crossed); iperf3 sent \(sent), received \(received)")
            #expect(bridge.isRunning)

            let checked = try CheckedTransfer.run(topo, from: 0, to: 1, blocks: 50, port: UInt16(port + 1))
            #expect(checked.error == nil && checked.goodBlocks == 50 && checked.badBlocks == 0, "\(checked)")
            #expect(try tcpInCsumErrors(topo, host: 1) - csumBefore == 0)

            // Nothing left readable: an idle bridge sleeps. CPU time over a 2 s window (a
            // measurement window, not a wait): a socket left readable would spin a core.
            let probe = ProcessProbe(pid: bridge.pid)
            let cpuBefore = try #require(probe.cpuSeconds)
            let window = ContinuousClock.now
            usleep(2_000_000)
            let idle = (probe.cpuSeconds ?? cpuBefore) - cpuBefore
            let elapsed = ContinuousClock.now - window
            #expect(idle < 0.1, "the idle bridge used \(idle) CPU s in \(elapsed)")
        }
    }

    // MARK: 5

    @Test("with --ageing 2 a silent station leaves fdb show after about 2 s; a talking one stays", .timeLimit(.minutes(2)))
    func ageing() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start(["--ageing", "2"])
            let s1 = try topo.packetSocket(host: 0)
            let s2 = try topo.packetSocket(host: 1)
            let silent = WireFrame.mac(0xC0, 1), talking = WireFrame.mac(0xC0, 2)
            let silentText = WireFrame.text(silent), talkingText = WireFrame.text(talking)
            let start = ContinuousClock.now
            try s1.send(.make(dst: WireFrame.broadcast, src: silent, marker: "silent"))
            try s2.send(.make(dst: WireFrame.broadcast, src: talking, marker: "talk"))
            // The talking station talks every 100 ms from its own thread, so a slow `fdb show`
            // on a loaded machine cannot leave it silent for the 2 s ageing time.
            final class Flag: Sendable { let stop = Atomic<Bool>(false) }
            let stopTalking = Flag()
            let talker = DispatchSemaphore(value: 0)
            Thread {
                while !stopTalking.stop.load(ordering: .relaxed) {
                    try? s2.send(.make(dst: WireFrame.broadcast, src: talking, marker: "talk"))
                    usleep(100_000)  // the talk interval
                }
                talker.signal()
            }.start()
            defer {
                stopTalking.stop.store(true, ordering: .relaxed)
                talker.wait()
            }
            var appeared: Duration?, gone: Duration?
            while gone == nil && ContinuousClock.now - start < .seconds(60) {
                let fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
                let t = ContinuousClock.now - start
                if fdb.contains(silentText) {
                    #expect(fdb.contains("\(silentText) dev \(topo.ports[0]) master \(topo.name)\n"), "\(fdb)")
                    if appeared == nil { appeared = t }
                } else if appeared != nil {
                    gone = t
                }
                usleep(100_000)  // a poll interval
            }
            let a = try #require(appeared, "the silent station was never listed")
            let g = try #require(gone, "the silent station was still listed after 60 s")
            print("ageing 2 s: silent station listed after \(a), gone after \(g)")
            TimingBounds.expect(a, atMost: .seconds(1), "ageing: the silent station listed")
            // Never before its ageing time: `start` precedes the frame that taught it.
            #expect(g >= .milliseconds(1900), "gone after \(g)")
            TimingBounds.expect(g, atMost: .seconds(4), "ageing: the silent station gone")
            let fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(fdb.contains("\(talkingText) dev \(topo.ports[1])"), "\(fdb)")
            let stats = try #require(try bridge.json(["stats"], lab: topo.lab) as? [String: Any])
            #expect(((stats["fdb"] as? [String: Any])?["aged"] as? NSNumber)?.intValue ?? 0 >= 1, "\(stats)")
        }
    }

    // MARK: 6

    @Test("a port's veth deleted under traffic: forwarding goes on, the port is marked absent, and re-attaches when it is back",
          .timeLimit(.minutes(3)))
    func portVanishesAndReturns() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let bridge = try topo.start()
            let warm = try topo.ping(from: 2, to: 0, count: 2)
            #expect(warm.allAnswered, "\(warm.output)")

            // 40 pings h1 -> h2 over 4 s on another thread, while h3's veth goes away.
            final class Box: @unchecked Sendable { var result: PingSummary?; var error: (any Error)? }
            let box = Box()
            let pinger = DispatchSemaphore(value: 0)
            let rxBefore = try #require(try portStats(bridge, topo)[topo.ports[0]]).rx
            Thread {
                do { box.result = try topo.ping(from: 0, to: 1, count: 40) } catch { box.error = error }
                pinger.signal()
            }.start()
            // The deletion happens under traffic: wait until h1's pings reach the bridge.
            let pinging = try waitUntil(timeout: .seconds(30)) {
                try #require(try portStats(bridge, topo)[topo.ports[0]]).rx >= rxBefore + 4
            }
            #expect(pinging, "h1's pings never reached the bridge")
            let deletedAt = ContinuousClock.now
            try topo.lab.mustRun(["ip", "link", "del", topo.ports[2]], in: topo.br)

            // link show marks it: JSON attached false, text <ABSENT> and state disabled.
            let detached = try waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
                let links = try #require(try bridge.json(["link", "show"], lab: topo.lab) as? [[String: Any]])
                return links.first { $0["name"] as? String == topo.ports[2] }?["attached"] as? Bool == false
            }
            #expect(detached, "port \(topo.ports[2]) still attached 30 s after its veth was deleted")
            TimingBounds.expect(ContinuousClock.now - deletedAt, atMost: .seconds(3), "port marked absent after its veth was deleted")
            // h1's port shows UP once the kernel's operational state catches up with its carrier
            // (linkwatch lags, more so on a loaded machine): poll for it.
            var linkText = ""
            try waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
                linkText = try bridge.mustControl(["link", "show"], lab: topo.lab)
                return linkText.contains("\(topo.ports[0]): <UP,LOWER_UP>")
            }
            #expect(linkText.contains("\(topo.ports[2]): <ABSENT>"), "\(linkText)")
            #expect(linkText.contains("state disabled"), "\(linkText)")
            #expect(linkText.contains("\(topo.ports[0]): <UP,LOWER_UP>"), "\(linkText)")
            #expect(bridge.isRunning, "swbridge exited: \(bridge.standardError)")

            #expect(pinger.wait(timeout: .now() + 60) == .success)
            let during = try #require(box.result, "\(String(describing: box.error))")
            #expect(during.transmitted == 40 && during.allAnswered, "pings during the deletion: \(during.output)")

            // The same name again: re-attached within a few seconds, and h3 can ping.
            let recreatedAt = ContinuousClock.now
            try topo.connect(2)
            let isBack = try waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
                let links = try #require(try bridge.json(["link", "show"], lab: topo.lab) as? [[String: Any]])
                return links.first(where: { $0["name"] as? String == topo.ports[2] })?["attached"] as? Bool == true
            }
            let r = ContinuousClock.now - recreatedAt
            try #require(isBack, "port \(topo.ports[2]) not re-attached 30 s after its veth came back: \(bridge.standardError)")
            TimingBounds.expect(r, atMost: .seconds(5), "port re-attached after its veth came back")
            var back = PingSummary("")
            let pingDeadline = ContinuousClock.now + .seconds(30)
            repeat {
                back = try topo.ping(from: 2, to: 0, count: 3)
            } while !back.allAnswered && ContinuousClock.now < pingDeadline
            #expect(back.allAnswered, "h3 -> h1 after re-attach: \(back.output)")
            let after = try topo.ping(from: 0, to: 1, count: 3)
            #expect(after.allAnswered, "\(after.output)")
            print("port deleted: pings h1->h2 \(during); re-attached \(r) after the veth came back; h3->h1 \(back)")
            #expect(bridge.isRunning)
            let log = bridge.standardError
            #expect(log.contains("detached") && log.contains("re-attached"), "\(log)")
        }
    }

    // MARK: mirror

    @Test("--mirror PORT=FILE writes the ICMP frames entering and leaving the port, readable by libpcap",
          .timeLimit(.minutes(3)))
    func mirrorToPcap() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let file = "/tmp/\(topo.name)-mirror.pcap"
            defer { try? FileManager.default.removeItem(atPath: file) }
            let bridge = try topo.start(["--mirror", "\(topo.ports[0])=\(file)"])
            let ping = try topo.ping(from: 0, to: 1, count: 4)
            #expect(ping.received == 4, "\(ping)")
            #expect(bridge.signalAndWait(SIGTERM, timeout: .seconds(5)) != nil)
            let records = try PcapReader(path: file).readAll()
            func icmpType(_ b: [UInt8]) -> UInt8? {
                guard b.count >= 35, b[12] == 0x08, b[13] == 0x00, b[23] == 1 else { return nil }
                return b[14 + Int(b[14] & 0x0F) * 4]
            }
            let types = records.compactMap { icmpType($0.bytes) }
            #expect(types.filter { $0 == 8 }.count == 4, "echo requests entering the port: \(types)")
            #expect(types.filter { $0 == 0 }.count == 4, "echo replies leaving it: \(types)")
            let times = records.map { Double($0.timestamp.seconds) + Double($0.timestamp.nanoseconds) / 1e9 }
            #expect(times == times.sorted() && (times.first ?? 0) > 1_700_000_000, "real, ordered timestamps")
        }
    }

    @Test("--backend pcap: two hosts ping through swbridge with both ports on libpcap", .timeLimit(.minutes(3)))
    func pcapBackend() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start(["--backend", "pcap"])
            let ping = try topo.ping(from: 0, to: 1, count: 5)
            #expect(ping.received == 5, "\(ping)")
            let links = try bridge.mustControl(["link", "show", "-d"], lab: topo.lab)
            #expect(links.contains("pcap"), "\(links)")
            let fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(fdb.split(separator: "\n").count >= 2, "\(fdb)")
        }
    }

    @Test("swbridge capture writes a running bridge's port to pcap (count, filter); a bad filter is refused and forwarding goes on",
          .timeLimit(.minutes(2)))
    func captureFromRunningBridge() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            let file = "/tmp/\(topo.name)-capture.pcap"
            defer { try? FileManager.default.removeItem(atPath: file) }
            let bad = try bridge.control(["capture", "--port", topo.ports[0], "--file", file, "--filter", "icmp and and"], lab: topo.lab)
            #expect(bad.status != 0 && bad.standardError.lowercased().contains("filter"), "\(bad.standardError)")
            // The capture runs as its own process; it says "capturing" once the bridge has
            // accepted it (the workers take the mirror from their mailbox before any later frame).
            let capture = try LoggedProcess([topo.binary, "capture", "--name", topo.name, "--timeout", "60", "--port", topo.ports[0], "--file", file,
                                             "--count", "6", "--filter", "icmp", "--duration", "60"], in: topo.br)
            try capture.waitForOutput("capturing")
            let ping = try topo.ping(from: 0, to: 1, count: 3)
            #expect(ping.received == 3, "forwarding goes on while capturing: \(ping)")
            #expect(capture.process.wait(timeout: .seconds(60)), "capture ends after --count frames")
            #expect(capture.process.terminationStatus == 0, "\(capture.standardError)")
            #expect(capture.standardOutput.contains("6 frames written"), "\(capture.standardOutput) \(capture.standardError)")
            let records = try PcapReader(path: file).readAll()
            #expect(records.count == 6)
            #expect(records.allSatisfy { $0.bytes.count >= 34 && $0.bytes[12] == 0x08 && $0.bytes[23] == 1 }, "only ICMP passed the filter")
        }
    }

    // MARK: least privilege

    @Test("once its sockets are open the bridge keeps only CAP_NET_RAW, on every thread (re-attaching needs no more: see the veth test)",
          .timeLimit(.minutes(3)))
    func leastPrivilege() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            // Main, control and forwarding threads. The control socket can answer before the
            // forwarding thread exists (until the bridge answers only once its workers run):
            // wait for the thread, then check every one.
            var tasks: [String] = []
            try waitUntil(timeout: .seconds(30)) {
                tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(bridge.pid)/task")
                return tasks.count >= 3
            }
            #expect(tasks.count >= 3, "main, forwarding and control threads")
            for t in tasks {
                let status = try String(contentsOfFile: "/proc/\(bridge.pid)/task/\(t)/status", encoding: .utf8)
                let eff = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
                #expect(eff?.hasSuffix("0000000000002000") == true, "thread \(t): \(eff ?? "no CapEff")")
                let nnp = status.split(separator: "\n").first { $0.hasPrefix("NoNewPrivs:") }
                #expect(nnp?.hasSuffix("1") == true)
            }
            let show = try bridge.mustControl(["link", "show"], lab: topo.lab)
            #expect(show.contains("state forwarding"), "the control socket still answers: \(show)")
        }
    }

    // MARK: 8

    @Test("SIGTERM: exits within 2 s, no port left promiscuous, socket file removed; a second instance and an unknown interface are refused",
          .timeLimit(.minutes(3)))
    func lifecycle() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            let r = try topo.ping(from: 0, to: 1, count: 2)
            #expect(r.allAnswered, "\(r.output)")
            // ip netns exec execs: the PID we hold is swbridge itself.
            let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(bridge.pid)/exe")
            #expect(exe == bridge.binary, "PID \(bridge.pid) runs \(exe ?? "?")")
            #expect(bridge.blockedSignalMask == 0, "swbridge started with signals blocked")
            for p in topo.ports {
                let link = try topo.lab.mustRun(["ip", "-d", "link", "show", p], in: topo.br).standardOutput
                #expect(link.contains("promiscuity 1"), "\(link)")
            }

            // A second bridge of the same name: refused, and the first one is untouched.
            let second = try topo.lab.run([topo.binary, "run", "--name", topo.name, "--port", topo.ports[0]], in: topo.br,
                                          timeout: .seconds(10))
            #expect(second.status != 0)
            #expect(second.standardError.contains("already running"), "stderr: \(second.standardError)")
            #expect(FileManager.default.fileExists(atPath: bridge.socketPath))
            #expect(bridge.isRunning)
            _ = try bridge.mustControl(["stats"], lab: topo.lab)
            #expect(try topo.ping(from: 1, to: 0, count: 2).allAnswered)

            // An interface that does not exist.
            let otherName = topo.name + "x"
            let missing = try topo.lab.run([topo.binary, "run", "--name", otherName, "--port", "nosuchif0"], in: topo.br,
                                           timeout: .seconds(10))
            #expect(missing.status != 0)
            #expect(missing.standardError.contains("no such interface"), "stderr: \(missing.standardError)")
            #expect(missing.standardError.contains("nosuchif0"), "stderr: \(missing.standardError)")
            #expect(!FileManager.default.fileExists(atPath: "\(SwbridgeProcess.runDirectory)/\(otherName).sock"))

            // SIGTERM.
            let took = bridge.signalAndWait(SIGTERM, timeout: .seconds(30))
            let t = try #require(took, "swbridge still running 30 s after SIGTERM")
            print("swbridge exited \(t) after SIGTERM with status \(bridge.process.terminationStatus)")
            TimingBounds.expect(t, atMost: .seconds(2), "exit after SIGTERM")
            #expect(!bridge.process.wasSignalled && bridge.process.terminationStatus == 0,
                    "status \(bridge.process.terminationStatus): \(bridge.standardError)")
            #expect(bridge.standardOutput.contains("rx_frames"), "final statistics: \(bridge.standardOutput)")
            let all = try topo.lab.mustRun(["ip", "-d", "link", "show"], in: topo.br).standardOutput
            let promiscuous = all.split(separator: "\n").filter { $0.contains("promiscuity") && !$0.contains("promiscuity 0") }
            #expect(promiscuous.isEmpty, "\(all)")
            for p in topo.ports {
                let link = try topo.lab.mustRun(["ip", "-d", "link", "show", p], in: topo.br).standardOutput
                #expect(link.contains("promiscuity 0"), "\(link)")
            }
            #expect(!FileManager.default.fileExists(atPath: bridge.socketPath))
            // Its control commands now fail clearly.
            let gone = try bridge.control(["stats"], lab: topo.lab)
            #expect(gone.status != 0 && !gone.standardError.isEmpty)
        }
    }

    /// Product bug, kept visible: `swbridge run` installs SIGINT/SIGTERM handlers but does not
    /// unblock the signals, and a blocked mask is inherited across exec. Started by a parent
    /// thread that blocks SIGTERM (any libdispatch worker thread does: Swift Testing's, a
    /// Foundation-based supervisor's), it never sees SIGTERM and has to be SIGKILLed, leaving
    /// its socket file behind. Fix: `pthread_sigmask(SIG_UNBLOCK, {SIGINT, SIGTERM})` next to
    /// the `signal()` calls in Sources/swbridge/RunCommand.swift (done; this test keeps it so).
    @Test("SIGTERM is honoured even when swbridge inherits it blocked", .timeLimit(.minutes(3)))
    func sigtermWithInheritedBlockedMask() throws {
        try withSwbridgeLab(hosts: 1) { topo in
            let bridge = try topo.startAnother(name: topo.name, blockedSignals: [SIGTERM, SIGINT])
            defer {
                if bridge.isRunning { _ = bridge.signalAndWait(SIGKILL, timeout: .seconds(3)) }
                if !bridge.isRunning { try? FileManager.default.removeItem(atPath: bridge.socketPath) }
            }
            // A blocked SIGTERM is never seen: 30 s is a generous bound for a clean stop.
            let took = bridge.signalAndWait(SIGTERM, timeout: .seconds(30))
            #expect(took != nil, "still running 30 s after SIGTERM; SigBlk \(String(bridge.blockedSignalMask ?? 0, radix: 16))")
            if let took { TimingBounds.expect(took, atMost: .seconds(2), "exit after SIGTERM with SIGTERM inherited blocked") }
            #expect(!FileManager.default.fileExists(atPath: bridge.socketPath), "the socket file goes with a clean stop")
        }
    }

    // MARK: 9

    @Test("fdb add lists a permanent entry, fdb del removes it, a malformed MAC is refused", .timeLimit(.minutes(3)))
    func staticEntries() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            let mac = "02:5b:00:00:d0:09"
            let add = try bridge.control(["fdb", "add", "02:5B:00:00:D0:09", "dev", topo.ports[1]], lab: topo.lab)
            #expect(add.status == 0, "\(add.standardError)")
            var fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(fdb.contains("\(mac) dev \(topo.ports[1]) master \(topo.name) permanent\n"), "\(fdb)")
            let rows = try #require(try bridge.json(["fdb", "show"], lab: topo.lab) as? [[String: Any]])
            #expect(rows.contains { $0["mac"] as? String == mac && $0["isStatic"] as? Bool == true && $0["dev"] as? String == topo.ports[1] },
                    "\(rows)")

            // The entry steers traffic: unicast to it from h1 reaches h2 only (not flooded back).
            let s1 = try topo.packetSocket(host: 0), s2 = try topo.packetSocket(host: 1)
            try s1.send(.make(dst: WireFrame.mac(0xD0, 9), src: WireFrame.mac(0xD0, 1), marker: "to-static"))
            #expect(s2.receive(within: .seconds(20)) { !$0.isEmpty }.map(\.marker) == ["to-static"])
            #expect(s1.receive(within: .milliseconds(100)).isEmpty)

            let del = try bridge.control(["fdb", "del", mac, "dev", topo.ports[1]], lab: topo.lab)
            #expect(del.status == 0, "\(del.standardError)")
            fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(!fdb.contains(mac), "\(fdb)")

            for bad in ["02:zz:00:00:00:01", "02:5b:00:00:d0", "not-a-mac"] {
                let r = try bridge.control(["fdb", "add", bad, "dev", topo.ports[1]], lab: topo.lab)
                #expect(r.status != 0, "fdb add \(bad) succeeded")
                #expect(r.standardError.contains("invalid MAC address '\(bad)'"), "stderr: \(r.standardError)")
            }
            let wrongDev = try bridge.control(["fdb", "add", mac, "dev", "nosuchport0"], lab: topo.lab)
            #expect(wrongDev.status != 0)
            #expect(wrongDev.standardError.contains("no port named 'nosuchport0'"), "stderr: \(wrongDev.standardError)")
            fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(!fdb.contains("permanent"), "\(fdb)")
            #expect(bridge.isRunning)
        }
    }

    // MARK: - Helpers

    struct PortCounters: CustomStringConvertible {
        var rx = 0, tx = 0, rxBytes = 0, txBytes = 0
        var description: String { "rx \(rx) (\(rxBytes) B), tx \(tx) (\(txBytes) B)" }
    }

    /// Per-port counters from `stats --json`.
    func portStats(_ bridge: SwbridgeProcess, _ topo: SwbridgeLab) throws -> [String: PortCounters] {
        let stats = try #require(try bridge.json(["stats"], lab: topo.lab) as? [String: Any])
        #expect(stats["bridge"] as? String == topo.name)
        let ports = try #require(stats["ports"] as? [[String: Any]], "\(stats)")
        var out: [String: PortCounters] = [:]
        for p in ports {
            guard let name = p["name"] as? String else { continue }
            func n(_ k: String) -> Int { (p[k] as? NSNumber)?.intValue ?? -1 }
            out[name] = PortCounters(rx: n("rxFrames"), tx: n("txFrames"), rxBytes: n("rxBytes"), txBytes: n("txBytes"))
        }
        return out
    }

    /// The port table of `stats` text: port name -> column -> value.
    func statsTextRows(_ text: String) -> [String: [String: Int]] {
        let lines = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        guard let h = lines.firstIndex(where: { $0.first == "port" && $0.contains("rx_frames") }) else { return [:] }
        let header = lines[h]
        var rows: [String: [String: Int]] = [:]
        for cells in lines[(h + 1)...] {
            guard cells.count == header.count else { break }
            var row: [String: Int] = [:]
            for (k, v) in zip(header.dropFirst(), cells.dropFirst()) { row[k] = Int(v) }
            rows[cells[0]] = row
        }
        return rows
    }

    /// Tcp InCsumErrors from /proc/net/snmp in host i's namespace.
    func tcpInCsumErrors(_ topo: SwbridgeLab, host i: Int) throws -> Int {
        let snmp = try topo.lab.mustRun(["cat", "/proc/net/snmp"], in: topo.hosts[i]).standardOutput
        let tcp = snmp.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
        let names = try #require(tcp.first).split(separator: " ")
        let values = try #require(tcp.dropFirst().first).split(separator: " ")
        let k = try #require(names.firstIndex(of: "InCsumErrors"))
        return try #require(Int(values[k]))
    }

    func which(_ tool: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }
    }
}
