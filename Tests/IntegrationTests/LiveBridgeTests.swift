// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// A bridge that changes while it forwards, with the real binary in namespaces: hosts attached
// and detached like containers (the stream between two others loses nothing), an access port
// moved between VLANs, a configuration file reloaded, refusals that change nothing, and the
// systemd notify protocol. Every wait is for a state (a control answer, a ping reply, a
// datagram), bounded by a deadline.

import Foundation
import LabKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("a live bridge", .serialized, .privileged)
struct LiveBridgeTests {
    /// A host namespace with eth0 (address `address`/24) joined to a new bridge-side veth end.
    static func addHost(_ topo: SwbridgeLab, role: String, address: String) throws -> (ns: String, port: String) {
        let ns = try topo.lab.addNamespace(role)
        let port = try topo.lab.interfaceName("q" + role)
        try topo.lab.addVethPair(SwbridgeLab.hostInterface, in: ns, port, in: topo.br)
        try topo.lab.setAddress("\(address)/24", on: SwbridgeLab.hostInterface, in: ns)
        return (ns, port)
    }

    static func promiscuity(_ topo: SwbridgeLab, _ port: String) throws -> Int? {
        let out = try topo.lab.mustRun(["ip", "-d", "link", "show", "dev", port], in: topo.br).standardOutput
        guard let r = out.range(of: "promiscuity ") else { return nil }
        return Int(out[r.upperBound...].prefix { $0.isNumber })
    }

    @Test("churn like a container host: 50 hosts attached and detached one by one while a 1,000/s stream between two others loses nothing",
          .timeLimit(.minutes(5)))
    func churn() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            #expect(try topo.ping(from: 0, to: 1, count: 2).allAnswered)
            let macs = try (0..<2).map { try topo.hostMAC($0) }
            // The fixed host every new host pings: a second address of h2 on the containers' subnet.
            try topo.lab.mustRun(["ip", "addr", "add", "198.18.1.250/24", "dev", SwbridgeLab.hostInterface], in: topo.hosts[1])
            // The stream: 1,000 echo requests a second from h1 to h2 for the whole churn (at most 120 s).
            let outPath = "/tmp/\(topo.name)-stream.out"
            let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer { unlink(outPath) }
            let stream = try ChildProcess(
                ["ip", "netns", "exec", topo.hosts[0], "ping", "-n", "-q", "-i", "0.001", "-c", "120000", "-W", "1",
                 SwbridgeLab.address(1)], standardOutput: out)
            close(out)
            defer {
                stream.signal(SIGKILL)
                _ = stream.wait(timeout: .seconds(5))
            }
            var slowest: Duration = .zero
            for k in 0..<50 {
                let host = try Self.addHost(topo, role: "c\(k)", address: "198.18.1.\(k + 1)")
                let before = ContinuousClock.now
                _ = try bridge.mustControl(["link", "add", "dev", host.port], lab: topo.lab)
                // The first frame after the attach is forwarded: one ping, one answer.
                let r = try topo.lab.run(["ping", "-n", "-c", "1", "-W", "2", "198.18.1.250"], in: host.ns, timeout: .seconds(10))
                let took = ContinuousClock.now - before
                slowest = max(slowest, took)
                #expect(r.status == 0, "host \(k) reached the fixed host after its attach: \(r.standardOutput)")
                _ = try bridge.mustControl(["link", "del", "dev", host.port], lab: topo.lab)
                #expect(try Self.promiscuity(topo, host.port) == 0, "\(host.port) left promiscuous mode")
                try topo.lab.mustRun(["ip", "netns", "del", host.ns])
            }
            TimingBounds.expect(slowest, atMost: .milliseconds(200), "slowest attach to first answered ping")
            stream.signal(SIGINT)  // ping prints its summary and exits
            #expect(stream.wait(timeout: .seconds(10)))
            // The two original ports kept their learned entries through 50 attaches and detaches.
            let fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            for i in 0..<2 { #expect(fdb.contains("\(macs[i]) dev \(topo.ports[i])"), "\(fdb)") }
            let links = try bridge.mustControl(["link", "show"], lab: topo.lab)
            #expect(links.split(separator: "\n").count == 2, "only the two original ports are left: \(links)")
            let summary = PingSummary((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")
            #expect(summary.transmitted >= 1000, "the stream ran: \(summary.output)")
            // Only the request in flight when SIGINT stopped ping may be unanswered.
            #expect(summary.transmitted - summary.received <= 1, "no frame of the stream was lost: \(summary.output)")
        }
    }

    @Test("an access port moves from VLAN 10 to VLAN 20 with vlan del / vlan add, without a restart", .timeLimit(.minutes(2)))
    func vlansLive() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            // h1 access in VLAN 10 to start with; h2 in VLAN 10; h3 in VLAN 20.
            let bridge = try topo.start([
                "--vlan-filtering",
            ])
            for (i, vid) in [(0, "10"), (1, "10"), (2, "20")] {
                _ = try bridge.mustControl(["vlan", "del", "dev", topo.ports[i], "vid", "1"], lab: topo.lab)
                _ = try bridge.mustControl(["vlan", "add", "dev", topo.ports[i], "vid", vid, "pvid", "untagged"], lab: topo.lab)
            }
            let show = try bridge.mustControl(["vlan", "show", "dev", topo.ports[0]], lab: topo.lab)
            #expect(show.contains("10 PVID Egress Untagged") && !show.contains("\n  1 "), "\(show)")
            #expect(try topo.ping(from: 0, to: 1, count: 2).allAnswered, "VLAN 10 hosts reach each other")
            #expect(try topo.ping(from: 0, to: 2, count: 2).received == 0, "VLAN 20 is out of reach")

            _ = try bridge.mustControl(["vlan", "del", "dev", topo.ports[0], "vid", "10"], lab: topo.lab)
            _ = try bridge.mustControl(["vlan", "add", "dev", topo.ports[0], "vid", "20", "pvid", "untagged"], lab: topo.lab)
            // The hosts' ARP caches still hold the old answers: flush them so both directions re-resolve.
            for h in topo.hosts { _ = try topo.lab.run(["ip", "neigh", "flush", "all"], in: h) }
            #expect(try topo.ping(from: 0, to: 2, count: 2).allAnswered, "now in VLAN 20")
            #expect(try topo.ping(from: 0, to: 1, count: 2).received == 0, "VLAN 10 is out of reach now")
            let json = try #require(try bridge.json(["vlan", "show"], lab: topo.lab) as? [[String: Any]])
            let row = json.first { $0["dev"] as? String == topo.ports[0] }
            #expect(row?["pvid"] as? Int == 20 && (row?["vlans"] as? [Int]) == [20], "\(json)")
        }
    }

    @Test("reload: --check prints exactly the difference, reload applies it, learned entries of untouched ports stay; a bad file changes nothing",
          .timeLimit(.minutes(2)))
    func reload() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(topo.name)-conf").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = "\(dir)/br.yaml"
            func write(_ text: String) throws { try text.write(toFile: file, atomically: true, encoding: .utf8) }
            try write("""
                vlan_filtering: true
                ports:
                  - {name: \(topo.ports[0]), pvid: 1, untagged: "1"}
                  - {name: \(topo.ports[1]), pvid: 1, untagged: "1"}
                  - {name: \(topo.ports[2]), pvid: 1, untagged: "1"}
                """)
            let bridge = try SwbridgeProcess(binary: topo.binary, name: topo.name, namespace: topo.br, arguments: ["--config", file])
            defer { bridge.kill() }
            #expect(try topo.ping(from: 0, to: 1, count: 2).allAnswered)
            let macs = try (0..<2).map { try topo.hostMAC($0) }

            // h2's port moves to PVID 5; h3's port goes.
            try write("""
                vlan_filtering: true
                ports:
                  - {name: \(topo.ports[0]), pvid: 1, untagged: "1"}
                  - {name: \(topo.ports[1]), pvid: 5, untagged: "5"}
                """)
            let check = try bridge.mustControl(["reload", "--check"], lab: topo.lab)
            #expect(check.split(separator: "\n").map(String.init) == [
                "- port \(topo.ports[2])", "~ port \(topo.ports[1]): pvid 1 -> 5, vlans 1 -> 5, untagged 1 -> 5",
            ], "\(check)")
            #expect(try bridge.mustControl(["link", "show"], lab: topo.lab).contains(topo.ports[2]), "--check changed nothing")
            _ = try bridge.mustControl(["reload"], lab: topo.lab)
            let links = try bridge.mustControl(["link", "show"], lab: topo.lab)
            #expect(!links.contains(topo.ports[2]), "\(links)")
            let vlans = try #require(try bridge.json(["vlan", "show", "dev", topo.ports[1]], lab: topo.lab) as? [[String: Any]])
            #expect(vlans.first?["pvid"] as? Int == 5, "\(vlans)")
            let fdb = try bridge.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(fdb.contains("\(macs[0]) dev \(topo.ports[0])"), "h1's entry survived the reload: \(fdb)")

            // A syntax error, then an unknown key: refused, the bridge unchanged and running.
            for bad in ["ports: [\n", "vlan_filtering: true\ncolour: blue\nports: []\n"] {
                try write(bad)
                let r = try bridge.control(["reload"], lab: topo.lab)
                #expect(r.status != 0 && r.standardError.contains("line"), "\(r.standardError)")
                #expect(try bridge.mustControl(["link", "show"], lab: topo.lab) == links, "nothing changed")
                #expect(bridge.isRunning)
            }
            // SIGHUP reloads as well: a file that adds h3's port back.
            try write("""
                vlan_filtering: true
                ports:
                  - {name: \(topo.ports[0]), pvid: 1, untagged: "1"}
                  - {name: \(topo.ports[1]), pvid: 5, untagged: "5"}
                  - {name: \(topo.ports[2]), pvid: 1, untagged: "1"}
                """)
            kill(bridge.pid, SIGHUP)
            let back = try waitUntil(timeout: .seconds(20)) {
                try bridge.mustControl(["link", "show"], lab: topo.lab).contains(topo.ports[2])
            }
            #expect(back, "SIGHUP re-applied the file")
            #expect(try topo.ping(from: 0, to: 2, count: 2).allAnswered)
        }
    }

    @Test("link add refuses what the kernel bridge refuses and changes nothing", .timeLimit(.minutes(3)))
    func refusals() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try SwbridgeProcess(binary: topo.binary, name: topo.name, namespace: topo.br,
                                             arguments: ["--port", topo.ports[0]])
            defer { bridge.kill() }
            // A kernel bridge with a slave in the bridge namespace.
            let kbr = try topo.lab.interfaceName("kb")
            try topo.lab.mustRun(["ip", "link", "add", kbr, "type", "bridge"], in: topo.br)
            try topo.lab.mustRun(["ip", "link", "set", topo.ports[1], "master", kbr], in: topo.br)
            let cases: [([String], String)] = [
                (["link", "add", "dev", "lo"], "loopback"),
                (["link", "add", "dev", "\(topo.name)nope"], "no such interface"),
                (["link", "add", "dev", topo.ports[0]], "already a port"),
                (["link", "add", "dev", topo.ports[1]], "enslaved to kernel bridge '\(kbr)'"),
                (["link", "add", "dev", kbr, "state", "sleeping"], "state"),
                (["link", "del", "dev", topo.ports[1]], "no port named"),
            ]
            for (words, expected) in cases {
                let r = try bridge.control(words, lab: topo.lab)
                #expect(r.status != 0 && r.standardError.contains(expected), "\(words): \(r.standardError)")
            }
            let links = try bridge.mustControl(["link", "show"], lab: topo.lab)
            #expect(links.split(separator: "\n").count == 1, "\(links)")
            // Another swbridge cannot take a port this one has.
            try topo.lab.mustRun(["ip", "link", "set", topo.ports[1], "nomaster"], in: topo.br)
            let other = try SwbridgeProcess(binary: topo.binary, name: topo.name + "b", namespace: topo.br, arguments: [])
            defer { other.kill() }
            let taken = try other.control(["link", "add", "dev", topo.ports[0]], lab: topo.lab)
            #expect(taken.status != 0 && taken.standardError.contains("another swbridge"), "\(taken.standardError)")
            _ = try other.mustControl(["link", "add", "dev", topo.ports[1]], lab: topo.lab)
        }
    }

    @Test("systemd: READY=1 once the bridge answers, STOPPING=1 on SIGTERM; the unit file passes systemd-analyze verify",
          .timeLimit(.minutes(3)))
    func systemdNotify() throws {
        try withSwbridgeLab(hosts: 1) { topo in
            let path = "/tmp/\(topo.name)-notify.sock"
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            #expect(fd >= 0)
            defer {
                close(fd)
                unlink(path)
            }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0)
            func receive(within: Duration) -> String? {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ms = Int32(within.components.seconds * 1000)
                guard poll(&pfd, 1, ms) == 1 else { return nil }
                var buf = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &buf, buf.count, 0)
                return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
            }
            let child = try ChildProcess([
                "ip", "netns", "exec", topo.br, "env", "NOTIFY_SOCKET=\(path)", topo.binary, "run", "--name", topo.name,
                "--port", topo.ports[0],
            ])
            defer {
                child.terminate()
                _ = child.wait(timeout: .seconds(5))
            }
            let ready = receive(within: .seconds(30))
            #expect(ready?.contains("READY=1") == true, "\(ready ?? "nothing")")
            // Ready means answering: the control socket answers at once.
            let stats = try topo.lab.run([topo.binary, "stats", "--name", topo.name, "--timeout", "2"], in: topo.br)
            #expect(stats.status == 0, "\(stats.standardError)")
            child.terminate()
            let stopping = receive(within: .seconds(10))
            #expect(stopping?.contains("STOPPING=1") == true, "\(stopping ?? "nothing")")

            // The unit file, with the binary path of this build (verify checks that it is executable).
            let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path
            let unit = try String(contentsOfFile: "\(repo)/dist/systemd/swbridge@.service", encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/swbridge", with: topo.binary)
            let unitDir = "/tmp/\(topo.name)-unit"
            try FileManager.default.createDirectory(atPath: unitDir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: unitDir) }
            try unit.write(toFile: "\(unitDir)/swbridge@.service", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: "\(unitDir)/swbridge@br0.service", withDestinationPath: "swbridge@.service")
            let verify = try Lab.execute(["systemd-analyze", "verify", "--man=no", "\(unitDir)/swbridge@br0.service"], timeout: .seconds(60))
            #expect(verify.status == 0, "\(verify.standardOutput)\(verify.standardError)")
        }
    }

    @Test("link show names each veth port's peer: ifindex, name and named namespace (text and JSON)", .timeLimit(.minutes(3)))
    func vethPeers() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            let rows = try #require(try bridge.json(["link", "show"], lab: topo.lab) as? [[String: Any]])
            for i in 0..<2 {
                let ifindex = try topo.lab.mustRun(["cat", "/sys/class/net/\(SwbridgeLab.hostInterface)/ifindex"], in: topo.hosts[i])
                    .standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                let peer = rows.first { $0["name"] as? String == topo.ports[i] }?["peer"] as? [String: Any]
                #expect(peer?["namespace"] as? String == topo.hosts[i], "\(rows)")
                #expect(peer?["name"] as? String == SwbridgeLab.hostInterface, "\(rows)")
                #expect((peer?["ifindex"] as? Int).map(String.init) == ifindex, "\(rows)")
            }
            let text = try bridge.mustControl(["link", "show", "-d"], lab: topo.lab)
            #expect(text.contains("peer \(SwbridgeLab.hostInterface) ifindex") && text.contains("netns \(topo.hosts[0])"), "\(text)")
        }
    }

    @Test("a port's interface deleted and created again is re-attached on the kernel's link event, not on a poll",
          .timeLimit(.minutes(3)))
    func reattachOnLinkEvent() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            func attached() throws -> Bool {
                let text = try bridge.mustControl(["link", "show"], lab: topo.lab)
                guard let line = text.split(separator: "\n").first(where: { $0.contains(" \(topo.ports[1]): ") }) else { return false }
                return !String(line).contains("ABSENT")
            }
            try topo.lab.mustRun(["ip", "link", "del", SwbridgeLab.hostInterface], in: topo.hosts[1])
            #expect(try waitUntil(timeout: .seconds(20)) { try !attached() }, "the vanished port is marked absent")
            // One control round trip (a process start and an answer), to separate it from the re-attach.
            let probe = ContinuousClock.now
            _ = try attached()
            let roundTrip = ContinuousClock.now - probe
            let before = ContinuousClock.now
            try topo.connect(1)
            var back = false
            let deadline = ContinuousClock.now + .seconds(20)
            while !back && ContinuousClock.now < deadline { back = try attached() }
            let took = ContinuousClock.now - before
            let shown = try bridge.mustControl(["link", "show"], lab: topo.lab)
            #expect(back, "\(shown)")
            // The fallback poll runs every 5 s: well under that means the link event did it.
            #expect(took < .seconds(4), "re-attached after \(took)")
            TimingBounds.expect(took, atMost: .milliseconds(100) + roundTrip * 2,
                                "veth created to port re-attached (bound: 100 ms plus two control round trips of \(roundTrip))")
            #expect(try topo.ping(from: 0, to: 1, count: 2).allAnswered)
        }
    }

    /// Deleting an interface first takes it down: its socket reports ENETDOWN while the
    /// interface still exists (so the port is kept, as for any link down), and the
    /// unregistration that follows reports nothing on the socket. A bridge that only listened
    /// to its sockets kept such a port attached to a dead socket forever (CI caught it as a race
    /// in the port-faults test); here the down comes first on purpose, so the order is certain.
    @Test("an interface taken down and then deleted is marked absent and re-attached when it comes back",
          .timeLimit(.minutes(3)))
    func downThenDeleted() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let bridge = try topo.start()
            let port = topo.ports[1]
            func absent() throws -> Bool {
                let text = try bridge.mustControl(["link", "show"], lab: topo.lab)
                return text.split(separator: "\n").contains { $0.contains(" \(port): ") && $0.contains("ABSENT") }
            }
            try topo.lab.mustRun(["ip", "link", "set", port, "down"], in: topo.br)
            // The worker has seen the socket's ENETDOWN and kept the port (it says so in its log).
            try bridge.waitForOutput("port \(port): socket reported errno")
            #expect(try !absent())
            try topo.lab.mustRun(["ip", "link", "del", port], in: topo.br)
            let marked = try waitUntil(timeout: .seconds(10)) { try absent() }
            let shown = try bridge.mustControl(["link", "show"], lab: topo.lab)
            #expect(marked, "\(shown)")
            try topo.connect(1)
            #expect(try waitUntil(timeout: .seconds(10)) { try !absent() })
            #expect(try topo.ping(from: 0, to: 1, count: 2).allAnswered)
        }
    }
}
