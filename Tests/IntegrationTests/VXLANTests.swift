// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// One L2 segment across "machines" over VXLAN, with the real binary. A machine is a network
// namespace with an underlay address (198.19.0.M/24) on a veth to a kernel bridge in an
// underlay namespace; it runs a swbridge (or, for interoperability, a plain Linux bridge with
// an `ip link add ... type vxlan` device) whose ports are host namespaces (198.18.0.MH/24) and
// a VXLAN device made by `swbridge vxlan add` or by the configuration file.
//
//   m0h0 ─┐                         underlay namespace                         ┌─ m1h0
//   m0h1 ─┤ m0: swbridge + vx0 ── 198.19.0.1 ─┐ kernel bridge ┌─ 198.19.0.2 ── m1: ... ├─ m1h1
//                                              └───────────────┘
//
// Every wait is for a state (a control answer, a ping reply, a frame, a line of output) with a
// deadline; the only fixed windows are the short ones in which a frame must NOT arrive (a
// duplicate, a flood that should have stopped). Everything is deleted whatever happens.

import BridgeControl
import Foundation
import LabKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Machines joined by an underlay, each with hosts; swbridges started per machine.
final class VXLANLab: @unchecked Sendable {
    let lab: Lab
    let binary: String
    let underlay: String
    /// Per machine: its namespace, bridge name, host namespaces and bridge-side ports.
    private(set) var machines: [String] = []
    private(set) var hosts: [[String]] = []
    private(set) var ports: [[String]] = []
    private(set) var bridges: [SwbridgeProcess?] = []
    let vni = 42

    static func underlayAddress(_ m: Int) -> String { "198.19.0.\(m + 1)" }
    static func hostAddress(_ m: Int, _ h: Int) -> String { "198.18.0.\(10 * (m + 1) + h + 1)" }

    /// `hostMTU`: set on every host's eth0 (nil leaves 1,500).
    init(machines count: Int, hostsPerMachine: Int, hostMTU: Int? = 1450) throws {
        binary = try SwbridgeBinary.locate()
        lab = try Lab()
        do {
            underlay = try lab.addNamespace("ul")
            let bridge = try lab.interfaceName("ulbr")
            try lab.mustRun(["ip", "link", "add", bridge, "type", "bridge"], in: underlay)
            try lab.setUp(bridge, in: underlay)
            for m in 0..<count {
                let ns = try lab.addNamespace("m\(m)")
                let machineSide = try lab.interfaceName("u\(m)")
                let underlaySide = try lab.interfaceName("v\(m)")
                try lab.addVethPair(machineSide, in: ns, underlaySide, in: underlay)
                try lab.mustRun(["ip", "link", "set", underlaySide, "master", bridge], in: underlay)
                try lab.setAddress("\(Self.underlayAddress(m))/24", on: machineSide, in: ns)
                machines.append(ns)
                bridges.append(nil)
                var hs: [String] = [], ps: [String] = []
                for h in 0..<hostsPerMachine {
                    let hns = try lab.addNamespace("m\(m)h\(h)")
                    let port = try lab.interfaceName("p\(m)\(h)")
                    try lab.addVethPair(SwbridgeLab.hostInterface, in: hns, port, in: ns)
                    try lab.setAddress("\(Self.hostAddress(m, h))/24", on: SwbridgeLab.hostInterface, in: hns)
                    if let hostMTU { try setHostMTU(hns, hostMTU) }
                    hs.append(hns)
                    ps.append(port)
                }
                hosts.append(hs)
                ports.append(ps)
            }
        } catch {
            lab.teardown()
            throw error
        }
    }

    deinit { teardown() }

    func setHostMTU(_ hostNamespace: String, _ mtu: Int) throws {
        try lab.mustRun(["ip", "link", "set", SwbridgeLab.hostInterface, "mtu", "\(mtu)"], in: hostNamespace)
    }

    func bridgeName(_ m: Int) -> String { "\(lab.prefix)m\(m)" }

    /// Starts swbridge on machine `m` with its host ports (or with `arguments` instead).
    @discardableResult
    func startSwbridge(_ m: Int, arguments: [String]? = nil) throws -> SwbridgeProcess {
        let b = try SwbridgeProcess(binary: binary, name: bridgeName(m), namespace: machines[m],
                                    arguments: arguments ?? ports[m].flatMap { ["--port", $0] })
        bridges[m] = b
        return b
    }

    /// `swbridge vxlan WORDS --name <machine m's bridge>` run in namespace `ns` (default: machine m's).
    func vxlan(_ m: Int, _ words: [String], in ns: String? = nil) throws -> CommandResult {
        try lab.run([binary, "vxlan"] + words + ["--name", bridgeName(m)], in: ns ?? machines[m], timeout: .seconds(30))
    }

    /// `vxlan add dev vx0 vni 42 local <m> remote <others>`, which must succeed.
    func addVXLAN(_ m: Int, remotes: [Int], extra: [String] = []) throws {
        let r = try vxlan(m, ["add", "dev", "vx0", "vni", "\(vni)", "local", Self.underlayAddress(m), "remote"]
                          + remotes.map(Self.underlayAddress) + extra)
        guard r.status == 0 else { throw HarnessError("vxlan add on m\(m) exited \(r.status): \(r.standardError)\(r.standardOutput)") }
    }

    /// Machine m as a plain Linux bridge with a kernel vxlan device, configured with `ip` and `bridge`.
    func startLinuxBridge(_ m: Int, remotes: [Int]) throws {
        let ns = machines[m]
        let br = try lab.interfaceName("lbr")
        try lab.mustRun(["ip", "link", "add", br, "type", "bridge"], in: ns)
        try lab.mustRun(["ip", "link", "add", "vx0", "type", "vxlan", "id", "\(vni)", "local", Self.underlayAddress(m),
                         "dstport", "4789"], in: ns)
        for r in remotes {
            try lab.mustRun(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", Self.underlayAddress(r)], in: ns)
        }
        for dev in ["vx0"] + ports[m] { try lab.mustRun(["ip", "link", "set", dev, "master", br, "up"], in: ns) }
        try lab.setUp(br, in: ns)
    }

    func ping(from: (Int, Int), to: (Int, Int), count: Int = 2, size: Int? = nil, dontFragment: Bool = false) throws -> PingSummary {
        var args = ["ping", "-n", "-c", "\(count)", "-i", "0.2", "-W", "2"]
        if let size { args += ["-s", "\(size)"] }
        if dontFragment { args += ["-M", "do"] }
        let r = try lab.run(args + [Self.hostAddress(to.0, to.1)], in: hosts[from.0][from.1], timeout: .seconds(Int64(count) + 15))
        return PingSummary(r.standardOutput + r.standardError)
    }

    func hostMAC(_ m: Int, _ h: Int) throws -> [UInt8] {
        let text = try lab.mustRun(["cat", "/sys/class/net/\(SwbridgeLab.hostInterface)/address"], in: hosts[m][h]).standardOutput
        let bytes = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 6 else { throw HarnessError("bad MAC '\(text)'") }
        return bytes
    }

    func packetSocket(_ m: Int, _ h: Int) throws -> HostPacketSocket {
        try Lab.withNetworkNamespace(named: hosts[m][h]) { try HostPacketSocket(interface: SwbridgeLab.hostInterface) }
    }

    /// TCP InCsumErrors of a namespace (/proc/net/snmp).
    func tcpChecksumErrors(_ ns: String) throws -> Int {
        let lines = try lab.mustRun(["cat", "/proc/net/snmp"], in: ns).standardOutput.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
        guard lines.count == 2 else { throw HarnessError("no Tcp lines in /proc/net/snmp") }
        let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
        guard let i = names.firstIndex(of: "InCsumErrors"), i < values.count, let v = Int(values[i]) else {
            throw HarnessError("no InCsumErrors in /proc/net/snmp")
        }
        return v
    }

    /// Sends `mebibytes` MiB over one TCP connection (default offloads) and checks the byte
    /// count and a SHA-256 of the stream at both ends. Returns the seconds it took.
    @discardableResult
    func tcpTransfer(from: (Int, Int), to: (Int, Int), mebibytes: Int, port: Int = 5201) throws -> Double {
        let address = Self.hostAddress(to.0, to.1)
        let server = try LoggedProcess(["python3", "-c", Self.tcpServer, address, "\(port)"], in: hosts[to.0][to.1])
        try server.waitForOutput("listening")
        let start = ContinuousClock.now
        let client = try lab.run(["python3", "-c", Self.tcpClient, address, "\(port)", "\(mebibytes)"],
                                 in: hosts[from.0][from.1], timeout: .seconds(180))
        guard client.status == 0 else { throw HarnessError("TCP client exited \(client.status): \(client.standardError)") }
        try server.waitForOutput("received", timeout: .seconds(60))
        let elapsed = ContinuousClock.now - start
        let sent = client.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let words = server.standardOutput.split(separator: "\n").last { $0.hasPrefix("received") }?.split(separator: " ") ?? []
        #expect(words.count == 3 && words[1] == "\(mebibytes << 20)", "bytes received: \(server.standardOutput)")
        #expect(words.count == 3 && String(words[2]) == sent, "SHA-256 of what was sent (\(sent)) and received differ")
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// A one-connection TCP sink: prints "listening", then "received BYTES SHA256" (30 s socket timeouts).
    static let tcpServer = """
        import socket, sys, hashlib
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(30)
        print("listening", flush=True)
        c, _ = s.accept(); c.settimeout(30); h = hashlib.sha256(); n = 0
        while True:
            b = c.recv(1 << 20)
            if not b: break
            h.update(b); n += len(b)
        print("received", n, h.hexdigest(), flush=True)
        """

    /// Sends N MiB of seeded random blocks (each starting with its number); prints the SHA-256.
    static let tcpClient = """
        import socket, sys, hashlib, random
        block = bytearray(random.Random(17).randbytes(1 << 20)); h = hashlib.sha256()
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
        for k in range(int(sys.argv[3])):
            block[0:8] = k.to_bytes(8, "little"); s.sendall(block); h.update(block)
        s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
        print(h.hexdigest(), flush=True)
        """

    /// Kills the swbridges (by PID), removes sockets they left, deletes every namespace (the
    /// VXLAN devices go with them).
    func teardown() {
        for b in bridges.compactMap({ $0 }) {
            b.kill()
            if !b.isRunning { try? FileManager.default.removeItem(atPath: b.socketPath) }
        }
        bridges = bridges.map { _ in nil }
        lab.teardown()
    }
}

func withVXLANLab<T>(machines: Int, hostsPerMachine: Int, hostMTU: Int? = 1450, _ body: (VXLANLab) throws -> T) throws -> T {
    let topo = try VXLANLab(machines: machines, hostsPerMachine: hostsPerMachine, hostMTU: hostMTU)
    defer { topo.teardown() }
    return try body(topo)
}

/// Frames with `marker` among `frames`.
private func count(_ frames: [WireFrame], _ marker: String) -> Int { frames.filter { $0.marker == marker }.count }

/// Waits (bounded) until every socket expected to get `marker` saw it, then watches `quiet`
/// longer for copies that must not come (duplicates, floods); returns each socket's count.
private func copies(of marker: String, at sockets: [HostPacketSocket], expecting: [Int],
                    quiet: Duration = .milliseconds(500)) -> [Int] {
    var seen = zip(sockets, expecting).map { s, e in e > 0 ? s.receive(within: .seconds(5)) { count($0, marker) >= e } : [] }
    for (i, s) in sockets.enumerated() { seen[i] += s.receive(within: i == 0 ? quiet : .milliseconds(1)) }
    return seen.map { count($0, marker) }
}

@Suite("VXLAN: one segment across machines", .serialized, .privileged)
struct VXLANTests {
    @Test("two machines x two hosts: all ping, 100 MiB of TCP with default offloads intact, a broadcast reaches each host once; vxlan del",
          .timeLimit(.minutes(5)))
    func twoMachines() throws {
        try withVXLANLab(machines: 2, hostsPerMachine: 2) { topo in
            // m0: `swbridge vxlan add` at runtime; m1: the vxlan section of a configuration file.
            try topo.startSwbridge(0)
            try topo.addVXLAN(0, remotes: [1])
            let config = "/tmp/\(topo.lab.prefix)-m1.yaml"
            defer { unlink(config) }
            try """
                ports:
                  - name: \(topo.ports[1][0])
                  - name: \(topo.ports[1][1])
                vxlan:
                  - {name: vx0, vni: \(topo.vni), local: \(VXLANLab.underlayAddress(1)), remote: [\(VXLANLab.underlayAddress(0))]}
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let b1 = try topo.startSwbridge(1, arguments: ["--config", config])
            let links = try b1.mustControl(["link", "show"], lab: topo.lab)
            #expect(links.contains("vx0") && links.contains("mtu 1450"), "\(links)")
            // The file's device is one of its ports: a reload sees nothing to change.
            let reload = try b1.mustControl(["reload", "--check"], lab: topo.lab)
            #expect(reload.contains("no change"), "\(reload)")

            // Every host pings every other, across machines and within one.
            let all = [(0, 0), (0, 1), (1, 0), (1, 1)]
            for a in all {
                for b in all where a != b {
                    let p = try topo.ping(from: a, to: b)
                    #expect(p.allAnswered, "m\(a.0)h\(a.1) -> m\(b.0)h\(b.1): \(p.output)")
                }
            }
            // fdb show: a remote host's MAC is on vx0 with its VTEP.
            let remoteMAC = WireFrame.text(try topo.hostMAC(1, 0))
            let fdb = try topo.bridges[0]!.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(fdb.contains("\(remoteMAC) dev vx0 dst \(VXLANLab.underlayAddress(1)) master"), "\(fdb)")
            let rows = try topo.bridges[0]!.json(["fdb", "show"], lab: topo.lab) as? [[String: Any]] ?? []
            #expect(rows.first { $0["mac"] as? String == remoteMAC }?["dst"] as? String == VXLANLab.underlayAddress(1))

            // 100 MiB across with default offloads (GSO super-frames into the VXLAN port): every byte.
            let errorsBefore = try topo.tcpChecksumErrors(topo.hosts[1][0])
            let seconds = try topo.tcpTransfer(from: (0, 0), to: (1, 0), mebibytes: 100)
            print("VXLAN TCP 100 MiB m0h0 -> m1h0: \(String(format: "%.2f", seconds)) s")
            #expect(try topo.tcpChecksumErrors(topo.hosts[1][0]) == errorsBefore)

            // One broadcast from m0h0: exactly one copy at each other host, local and remote.
            let sockets = try [(0, 1), (1, 0), (1, 1)].map { try topo.packetSocket($0.0, $0.1) }
            let sender = try topo.packetSocket(0, 0)
            let marker = "bcast-\(topo.lab.prefix)"
            try sender.send(WireFrame.make(dst: WireFrame.broadcast, src: try topo.hostMAC(0, 0), marker: marker))
            #expect(copies(of: marker, at: sockets, expecting: [1, 1, 1]) == [1, 1, 1])

            // Refusals change nothing: a veth port is not a VXLAN port; another namespace is not the bridge's.
            let refused = try topo.vxlan(0, ["del", "dev", topo.ports[0][0]])
            #expect(refused.status != 0 && refused.standardError.contains("not a VXLAN device"), "\(refused)")
            let elsewhere = try topo.vxlan(0, ["add", "dev", "vx9", "vni", "9", "local", "198.19.0.9", "remote", "198.19.0.1"],
                                           in: topo.underlay)
            #expect(elsewhere.status != 0 && elsewhere.standardError.contains("network namespace"), "\(elsewhere)")
            #expect(try topo.lab.run(["ip", "link", "show", "vx9"], in: topo.underlay).status != 0, "a refused add left its device")
            #expect(try topo.ping(from: (0, 0), to: (1, 1)).allAnswered)

            // A restart from the file re-creates the device the first run left (the running
            // bridge could not delete it: it holds only CAP_NET_RAW), and forwards again.
            topo.bridges[1]!.kill()
            #expect(try topo.lab.run(["ip", "link", "show", "vx0"], in: topo.machines[1]).status == 0, "left by the first run")
            let again = try topo.startSwbridge(1, arguments: ["--config", config])
            #expect(try again.mustControl(["link", "show"], lab: topo.lab).contains("vx0"))
            #expect(try topo.ping(from: (1, 1), to: (0, 0)).allAnswered)

            // vxlan show, then vxlan del: the port is detached and the device gone.
            let show = try topo.vxlan(0, ["show"])
            #expect(show.status == 0 && show.standardOutput.contains("remotes \(VXLANLab.underlayAddress(1))"), "\(show)")
            let del = try topo.vxlan(0, ["del", "dev", "vx0"])
            #expect(del.status == 0, "\(del)")
            #expect(try topo.lab.run(["ip", "link", "show", "vx0"], in: topo.machines[0]).status != 0)
            #expect(try !topo.bridges[0]!.mustControl(["link", "show"], lab: topo.lab).contains("vx0"))
            #expect(try topo.ping(from: (0, 0), to: (0, 1)).allAnswered)
        }
    }

    @Test("three machines, head-end replication: unknown unicast and broadcast reach every machine, and stop flooding once learned",
          .timeLimit(.minutes(3)))
    func threeMachines() throws {
        try withVXLANLab(machines: 3, hostsPerMachine: 1) { topo in
            for m in 0..<3 {
                try topo.startSwbridge(m)
                try topo.addVXLAN(m, remotes: (0..<3).filter { $0 != m })
            }
            let macs = try (0..<3).map { try topo.hostMAC($0, 0) }
            let socks = try (0..<3).map { try topo.packetSocket($0, 0) }
            // What reaches machine B's VXLAN device (not only B's host: B's swbridge would drop
            // a frame for C that came in on vx0, where it learned C, and hide a flood).
            let atB = try Lab.withNetworkNamespace(named: topo.machines[1]) { try HostPacketSocket(interface: "vx0") }
            let p = topo.lab.prefix
            // Nothing has spoken yet (IPv6 is off in the lab): C's MAC is unknown everywhere.
            try socks[0].send(WireFrame.make(dst: macs[2], src: macs[0], marker: "unknown-\(p)"))
            #expect(copies(of: "unknown-\(p)", at: [socks[1], socks[2], atB], expecting: [1, 1, 1]) == [1, 1, 1],
                    "unknown unicast floods to every remote")
            try socks[0].send(WireFrame.make(dst: WireFrame.broadcast, src: macs[0], marker: "bcast-\(p)"))
            #expect(copies(of: "bcast-\(p)", at: [socks[1], socks[2]], expecting: [1, 1]) == [1, 1], "broadcast reaches every remote once")
            // C answers A: swbridge on C knows A on vx0, the vxlan device knows A behind VTEP 1.
            try socks[2].send(WireFrame.make(dst: macs[0], src: macs[2], marker: "reply-\(p)"))
            #expect(copies(of: "reply-\(p)", at: [socks[1], atB, socks[0]], expecting: [0, 0, 1]) == [0, 0, 1],
                    "a learned destination is not flooded")
            // And A to C again: now known on both levels, only C gets it.
            try socks[0].send(WireFrame.make(dst: macs[2], src: macs[0], marker: "known-\(p)"))
            #expect(copies(of: "known-\(p)", at: [socks[1], atB, socks[2]], expecting: [0, 0, 1]) == [0, 0, 1],
                    "flooding stopped once learned (B's VXLAN device gets nothing)")
            let fdb = try topo.bridges[0]!.mustControl(["fdb", "show"], lab: topo.lab)
            #expect(fdb.contains("\(WireFrame.text(macs[2])) dev vx0 dst \(VXLANLab.underlayAddress(2))"), "\(fdb)")
            #expect(try topo.ping(from: (1, 0), to: (2, 0)).allAnswered)
        }
    }

    @Test("a multicast underlay group instead of remotes: broadcast reaches every machine once, unicast follows learning",
          .timeLimit(.minutes(3)))
    func multicastGroup() throws {
        try withVXLANLab(machines: 3, hostsPerMachine: 1) { topo in
            for m in 0..<3 {
                try topo.startSwbridge(m)
                let r = try topo.vxlan(m, ["add", "dev", "vx0", "vni", "\(topo.vni)", "local", VXLANLab.underlayAddress(m),
                                           "group", "239.1.1.42", "dev", try topo.lab.interfaceName("u\(m)")])
                #expect(r.status == 0, "\(r)")
            }
            let socks = try (0..<3).map { try topo.packetSocket($0, 0) }
            let marker = "group-\(topo.lab.prefix)"
            try socks[0].send(WireFrame.make(dst: WireFrame.broadcast, src: try topo.hostMAC(0, 0), marker: marker))
            #expect(copies(of: marker, at: [socks[1], socks[2]], expecting: [1, 1]) == [1, 1])
            for (a, b) in [(0, 1), (1, 2), (2, 0)] {
                let p = try topo.ping(from: (a, 0), to: (b, 0))
                #expect(p.allAnswered, "m\(a) -> m\(b): \(p.output)")
            }
        }
    }

    @Test("interoperability: a plain Linux bridge with an ip-made vxlan device on the other machine; ping both ways and TCP",
          .timeLimit(.minutes(4)))
    func linuxBridgeInterop() throws {
        try withVXLANLab(machines: 2, hostsPerMachine: 2) { topo in
            try topo.startSwbridge(0)
            try topo.addVXLAN(0, remotes: [1])
            try topo.startLinuxBridge(1, remotes: [0])
            for a in [(0, 0), (0, 1)] {
                for b in [(1, 0), (1, 1)] {
                    let there = try topo.ping(from: a, to: b), back = try topo.ping(from: b, to: a)
                    #expect(there.allAnswered && back.allAnswered, "\(there.output) \(back.output)")
                }
            }
            let errorsBefore = try topo.tcpChecksumErrors(topo.hosts[0][1])
            try topo.tcpTransfer(from: (1, 1), to: (0, 1), mebibytes: 50)
            try topo.tcpTransfer(from: (0, 0), to: (1, 0), mebibytes: 50, port: 5202)
            #expect(try topo.tcpChecksumErrors(topo.hosts[0][1]) == errorsBefore)
            // The kernel's own view on the Linux side agrees: swbridge's host is behind VTEP 1.
            let kernelFDB = try topo.lab.mustRun(["bridge", "fdb", "show", "dev", "vx0"], in: topo.machines[1]).standardOutput
            #expect(kernelFDB.contains("\(WireFrame.text(try topo.hostMAC(0, 0))) dst \(VXLANLab.underlayAddress(0))"), "\(kernelFDB)")
        }
    }

    @Test("host MTU too large for the overlay: drops counted by reason too-big; the documented fix (host MTU = overlay MTU) works",
          .timeLimit(.minutes(3)))
    func mtuTooLarge() throws {
        try withVXLANLab(machines: 2, hostsPerMachine: 1, hostMTU: nil) { topo in
            let b0 = try topo.startSwbridge(0)
            try topo.addVXLAN(0, remotes: [1])
            try topo.startSwbridge(1)
            try topo.addVXLAN(1, remotes: [0])
            // 1,500-byte IP packets (1,514-byte frames) cannot enter a 1,450-byte VXLAN port.
            let big = try topo.ping(from: (0, 0), to: (1, 0), count: 3, size: 1472, dontFragment: true)
            #expect(big.received == 0, "\(big.output)")
            func tooBig() throws -> UInt64 {
                let stats = try b0.json(["stats"], lab: topo.lab) as? [String: Any]
                let ports = stats?["ports"] as? [[String: Any]] ?? []
                let vx = ports.first { $0["name"] as? String == "vx0" }
                return ((vx?["txDrops"] as? [String: Any])?["too-big"] as? NSNumber)?.uint64Value ?? 0
            }
            // Workers publish socket counters every 250 ms: wait for them.
            let counted = try waitUntil(timeout: .seconds(10)) { try tooBig() >= 3 }
            #expect(counted, "too-big drops: \((try? tooBig()) ?? 0)")
            let text = try b0.mustControl(["stats"], lab: topo.lab)
            #expect(text.contains("too-big"), "\(text)")
            // The fix from the README: the hosts' MTU at the overlay's (underlay - 50).
            for m in 0..<2 { try topo.setHostMTU(topo.hosts[m][0], 1450) }
            let fits = try topo.ping(from: (0, 0), to: (1, 0), count: 3, size: 1422, dontFragment: true)
            #expect(fits.allAnswered, "\(fits.output)")
            try topo.tcpTransfer(from: (1, 0), to: (0, 0), mebibytes: 20)
        }
    }
}
