// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// SwbridgeProcess: the real `swbridge` executable driven from integration tests, the way
// scripts/demo.sh drives it: `ip netns exec BR swbridge run --name NAME --port P1 ...` in a
// bridge namespace, hosts in their own namespaces joined to it by veth pairs, and the control
// commands (`fdb`, `link`, `stats`) run as separate processes.
//
//   h1 namespace              br namespace                    h2 namespace ...
//   [eth0 198.18.0.1] ===== [<prefix>p1]  swbridge  [<prefix>p2] ===== [eth0 198.18.0.2]
//
// Every name comes from a LabKit Lab (random "swbXXXX" prefix; the bridge is named after it),
// so tests running in parallel never collide. `SwbridgeLab.teardown()` kills the swbridge
// process by its PID (SIGTERM, then SIGKILL), removes its socket file if it was left behind
// and deletes every namespace; `withSwbridgeLab` calls it on every path out of a test.
//
// HostPacketSocket: a plain AF_PACKET socket (Glibc only, no PacketIO) opened inside a host
// namespace, to send crafted frames and read what arrives, VLAN tag included: the kernel
// strips the outer tag on receive and reports it in PACKET_AUXDATA; `receive` puts it back.

import BridgeControl
import Foundation
import LabKit

#if canImport(Glibc)
import Glibc
#endif

/// A failure of the test harness itself (not of an expectation).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - The swbridge binary

enum SwbridgeBinary {
    /// `swbridge` next to the test executable (the build products directory). Throws a clear
    /// error when it is not there.
    static func locate() throws -> String {
        var directories: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append((exe as NSString).deletingLastPathComponent)
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            let absolute = first.hasPrefix("/") ? first : FileManager.default.currentDirectoryPath + "/" + first
            directories.append((absolute as NSString).deletingLastPathComponent)
        }
        for d in directories {
            let candidate = (d as NSString).appendingPathComponent("swbridge")
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw HarnessError(
            "no swbridge executable next to the test executable (looked in \(directories.joined(separator: ", "))): "
                + "build it first with `swift build` (with the same --scratch-path as `swift test`)")
    }
}

// MARK: - A running swbridge

/// One `swbridge run` process in a namespace. Its output goes to temporary files.
final class SwbridgeProcess: @unchecked Sendable {
    let binary: String
    let name: String
    let namespace: String
    let process: ChildProcess
    let socketPath: String
    private let outPath: String
    private let errPath: String
    private let started = ContinuousClock.now

    static let runDirectory = "/run/swbridge"

    /// Starts `swbridge run --name NAME <arguments>` in `namespace` and waits (at most
    /// `startTimeout`) until its control socket answers `stats`. Throws with its stderr if it
    /// exits first.
    /// `blockedSignals`: the signal mask swbridge starts with. Empty (as from a shell) unless a
    /// test asks otherwise.
    init(binary: String, name: String, namespace: String, arguments: [String], blockedSignals: [Int32] = [],
         startTimeout: Duration = .seconds(60)) throws {
        self.binary = binary
        self.name = name
        self.namespace = namespace
        socketPath = "\(Self.runDirectory)/\(name).sock"
        let tmp = FileManager.default.temporaryDirectory.path
        outPath = "\(tmp)/swbridge-\(name)-\(UInt32.random(in: 0...UInt32.max)).out"
        errPath = outPath.replacingOccurrences(of: ".out", with: ".err")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        // `ip netns exec` execs the command (no fork): the PID is swbridge's own.
        let out = open(outPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        let err = open(errPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        defer {
            close(out)
            close(err)
        }
        process = try ChildProcess(["ip", "netns", "exec", namespace, binary, "run", "--name", name] + arguments,
                                   standardOutput: out, standardError: err, blockedSignals: blockedSignals)
        // Ready when the control socket answers a request, not when its file appears: the
        // file exists from bind(), before listen() and before the forwarding workers run.
        let deadline = ContinuousClock.now + startTimeout
        var lastError = "no answer yet"
        while true {
            guard process.isRunning else {
                throw HarnessError("swbridge run exited with status \(process.terminationStatus) before its control socket answered: \(standardError)")
            }
            if FileManager.default.fileExists(atPath: socketPath) {
                do {
                    let answer = try ControlClient.send(.stats, bridge: name, runDirectory: Self.runDirectory, timeout: .seconds(5))
                    if answer.ok { break }
                    lastError = "\(answer)"
                } catch {
                    lastError = "\(error)"
                }
            }
            guard ContinuousClock.now < deadline else {
                kill()
                throw HarnessError("swbridge run's control socket \(socketPath) did not answer `stats` within \(startTimeout) (\(lastError)): \(standardError)")
            }
            usleep(20_000)  // a poll interval
        }
    }

    /// The signals blocked in the process (SigBlk of /proc/PID/status), nil if unreadable.
    var blockedSignalMask: UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") })
        else { return nil }
        return UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var standardOutput: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits until the bridge's log (stderr) contains `text`: for what only the bridge can say
    /// it has done. Throws with the log if it exits first or `timeout` passes.
    func waitForOutput(_ text: String, timeout: Duration = .seconds(30)) throws {
        var exited = false
        let seen = waitUntil(timeout: timeout) {
            if standardError.contains(text) { return true }
            exited = !process.isRunning
            return exited
        }
        guard seen && !exited else {
            throw HarnessError("swbridge \(name): no '\(text)' in its log \(exited ? "before it exited" : "within \(timeout)"): \(standardError.suffix(800))")
        }
    }

    /// Sends `signal` and waits up to `timeout` for the process to exit. Returns how long it
    /// took, or nil if it is still running.
    @discardableResult
    func signalAndWait(_ signal: Int32, timeout: Duration) -> Duration? {
        guard process.isRunning else { return .zero }
        let start = ContinuousClock.now
        Glibc.kill(pid, signal)
        let deadline = start + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        return process.isRunning ? nil : ContinuousClock.now - start
    }

    /// Stops the process if it still runs: SIGTERM, then SIGKILL after 3 s. Only this PID.
    func kill() {
        guard process.isRunning else { return }
        if signalAndWait(SIGTERM, timeout: .seconds(3)) == nil {
            _ = signalAndWait(SIGKILL, timeout: .seconds(3))
        }
    }

    /// A control command (`fdb show`, `stats --json`, ...) for this bridge, run in the bridge
    /// namespace with `--name NAME` inserted after the subcommand words. The command waits
    /// up to `timeout` less 5 s for the bridge's answer (its own default, 5 s, is too short
    /// for a listing of a full table on a loaded machine) and is killed after `timeout`.
    func control(_ words: [String], lab: Lab, timeout: Duration = .seconds(65)) throws -> CommandResult {
        // `--name` right after the subcommand: positional words (MAC, dev PORT) follow it.
        let split = words.firstIndex { !["fdb", "link", "vlan", "bridge", "reload", "stats", "show", "add", "del", "set", "flush", "capture", "stp", "mdb"].contains($0) } ?? words.count
        let answerSeconds = max(1, timeout.components.seconds - 5)
        let args = Array(words[..<split]) + ["--name", name, "--timeout", "\(answerSeconds)"] + Array(words[split...])
        return try lab.run([binary] + args, in: namespace, timeout: timeout)
    }

    /// `control`, requiring exit status 0; returns stdout.
    func mustControl(_ words: [String], lab: Lab) throws -> String {
        let r = try control(words, lab: lab)
        guard r.status == 0 else {
            throw HarnessError("swbridge \(words.joined(separator: " ")) exited \(r.status): \(r.standardError)\(r.standardOutput)")
        }
        return r.standardOutput
    }

    /// `control` with `--json`, parsed with JSONSerialization.
    func json(_ words: [String], lab: Lab) throws -> Any {
        let out = try mustControl(words + ["--json"], lab: lab)
        return try JSONSerialization.jsonObject(with: Data(out.utf8))
    }
}

// MARK: - Topology

/// N host namespaces each joined by a veth pair to one bridge namespace, where swbridge runs.
final class SwbridgeLab: @unchecked Sendable {
    let lab: Lab
    let binary: String
    /// The bridge's name (`--name`) and its namespace.
    let name: String
    let br: String
    /// Host namespaces, h1...hN.
    private(set) var hosts: [String] = []
    /// Bridge-side veth ends, one per host, in order.
    private(set) var ports: [String] = []
    private(set) var bridge: SwbridgeProcess?
    /// The host-side interface in every host namespace.
    static let hostInterface = "eth0"

    /// 198.18.0.(i+1) for host index i.
    static func address(_ i: Int) -> String { "198.18.0.\(i + 1)" }

    init(hosts count: Int) throws {
        binary = try SwbridgeBinary.locate()
        lab = try Lab()
        name = lab.prefix
        do {
            br = try lab.addNamespace("br")
            for i in 0..<count {
                hosts.append(try lab.addNamespace("h\(i + 1)"))
                ports.append(try lab.interfaceName("p\(i + 1)"))
                try connect(i)
            }
        } catch {
            lab.teardown()
            throw error
        }
    }

    deinit { teardown() }

    /// Creates host i's veth pair (eth0 in the host, port i in the bridge namespace), up, addressed.
    func connect(_ i: Int) throws {
        try lab.addVethPair(Self.hostInterface, in: hosts[i], ports[i], in: br)
        try lab.setAddress("\(Self.address(i))/24", on: Self.hostInterface, in: hosts[i])
    }

    /// Starts `swbridge run` on every port (plus `extra` options).
    @discardableResult
    func start(_ extra: [String] = []) throws -> SwbridgeProcess {
        let b = try SwbridgeProcess(
            binary: binary, name: name, namespace: br, arguments: ports.flatMap { ["--port", $0] } + extra)
        bridge = b
        return b
    }

    /// Starts another `swbridge run` under another name on the same ports; the caller owns it
    /// (and must `kill()` it).
    func startAnother(name other: String, _ extra: [String] = [], blockedSignals: [Int32] = []) throws -> SwbridgeProcess {
        try SwbridgeProcess(binary: binary, name: other, namespace: br, arguments: ports.flatMap { ["--port", $0] } + extra,
                            blockedSignals: blockedSignals)
    }

    /// Kills swbridge if it still runs, removes a socket file it left behind, deletes the namespaces.
    func teardown() {
        if let b = bridge {
            b.kill()
            if !b.isRunning { try? FileManager.default.removeItem(atPath: b.socketPath) }
        }
        bridge = nil
        lab.teardown()
    }

    /// Runs a command in host i's namespace.
    @discardableResult
    func run(host i: Int, _ arguments: [String], timeout: Duration = .seconds(20)) throws -> CommandResult {
        try lab.run(arguments, in: hosts[i], timeout: timeout)
    }

    /// `count` pings from host `from` to host `to`, 0.1 s apart, 1 s reply timeout.
    func ping(from: Int, to: Int, count: Int = 3, interval: String = "0.1") throws -> PingSummary {
        let r = try run(host: from, ["ping", "-n", "-c", "\(count)", "-i", interval, "-W", "1", Self.address(to)],
                        timeout: .seconds(Int64(Double(count) * (Double(interval) ?? 1) + 10)))
        return PingSummary(r.standardOutput + r.standardError)
    }

    /// The MAC address of host i's eth0.
    func hostMAC(_ i: Int) throws -> String {
        try lab.mustRun(["cat", "/sys/class/net/\(Self.hostInterface)/address"], in: hosts[i]).standardOutput
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// An AF_PACKET socket on host i's eth0.
    func packetSocket(host i: Int) throws -> HostPacketSocket {
        try Lab.withNetworkNamespace(named: hosts[i]) { try HostPacketSocket(interface: Self.hostInterface) }
    }
}

/// Builds a lab, runs `body`, and tears it all down whatever happens.
func withSwbridgeLab<T>(hosts: Int, _ body: (SwbridgeLab) throws -> T) throws -> T {
    let topo = try SwbridgeLab(hosts: hosts)
    defer { topo.teardown() }
    return try body(topo)
}

/// What `ping` reported.
struct PingSummary: CustomStringConvertible {
    var transmitted = 0
    var received = 0
    var output: String

    init(_ output: String) {
        self.output = output
        // "5 packets transmitted, 5 received, 0% packet loss, time 404ms"
        for line in output.split(separator: "\n") where line.contains("packets transmitted") {
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "packets"), i > 0 { transmitted = Int(words[i - 1]) ?? 0 }
            if let i = words.firstIndex(where: { $0.hasPrefix("received") }), i > 0 { received = Int(words[i - 1]) ?? 0 }
        }
    }

    var allAnswered: Bool { transmitted > 0 && received == transmitted }
    var description: String { "\(received)/\(transmitted) answered" }
}

// MARK: - Raw frames

/// A frame as it was on the wire: the outer VLAN tag (reported in auxdata) put back in.
struct WireFrame: Equatable {
    var bytes: [UInt8]

    /// The EtherType after any 802.1Q/802.1ad tags.
    var innerEtherType: UInt16 {
        var o = 12
        while o + 2 <= bytes.count {
            let t = UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1])
            if t == 0x8100 || t == 0x88A8 { o += 4 } else { return t }
        }
        return 0
    }

    var source: [UInt8] { Array(bytes[6..<12]) }
    var destination: [UInt8] { Array(bytes[0..<6]) }

    /// The marker string `make` wrote at the start of the payload, if any.
    var marker: String? {
        var o = 12
        while o + 2 <= bytes.count {
            let t = UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1])
            if t == 0x8100 || t == 0x88A8 { o += 4 } else { break }
        }
        o += 2
        guard o + 4 <= bytes.count, bytes[o..<(o + 4)].elementsEqual("SWBT".utf8) else { return nil }
        let rest = bytes[(o + 4)...].prefix { $0 != 0 }
        return String(decoding: rest, as: UTF8.self)
    }

    /// dst, src, tags (TPID, TCI), EtherType 0x88B5 (IEEE local experimental), "SWBT" + marker,
    /// zero padding to at least 60 bytes.
    static func make(dst: [UInt8], src: [UInt8], tags: [(UInt16, UInt16)] = [], marker: String) -> WireFrame {
        var f = dst + src
        for (tpid, tci) in tags { f += [UInt8(tpid >> 8), UInt8(tpid & 0xFF), UInt8(tci >> 8), UInt8(tci & 0xFF)] }
        f += [0x88, 0xB5]
        f += Array("SWBT".utf8) + Array(marker.utf8) + [0]
        while f.count < 60 { f.append(0) }
        return WireFrame(bytes: f)
    }

    static let broadcast: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]

    /// A locally administered unicast MAC 02:5b:00:00:<a>:<b>.
    static func mac(_ a: UInt8, _ b: UInt8) -> [UInt8] { [0x02, 0x5B, 0x00, 0x00, a, b] }

    static func text(_ mac: [UInt8]) -> String { mac.map { String(format: "%02x", $0) }.joined(separator: ":") }
}

/// A raw AF_PACKET socket bound to one interface (in the namespace it was opened in). Ignores
/// the frames it sends itself; reports the stripped VLAN tag through PACKET_AUXDATA.
final class HostPacketSocket: @unchecked Sendable {
    let fd: Int32
    let interface: String

    // <linux/if_ether.h>, <linux/if_packet.h>: not all of them reach Swift through Glibc.
    private static let ethPAll: UInt16 = 0x0003
    private static let solPacket: Int32 = 263
    private static let packetAuxdata: Int32 = 8
    private static let packetIgnoreOutgoing: Int32 = 23
    private static let tpStatusVLANValid: UInt32 = 1 << 4
    private static let tpStatusVLANTPIDValid: UInt32 = 1 << 6

    /// struct sockaddr_ll.
    private struct SockaddrLL {
        var family: UInt16 = 0
        var protocolBE: UInt16 = 0
        var ifindex: Int32 = 0
        var hatype: UInt16 = 0
        var pkttype: UInt8 = 0
        var halen: UInt8 = 0
        var addr: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// Opens the socket; call inside the interface's namespace.
    init(interface: String) throws {
        self.interface = interface
        let index = if_nametoindex(interface)
        guard index != 0 else { throw HarnessError("no interface \(interface) here") }
        fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(Self.ethPAll.bigEndian))
        guard fd >= 0 else { throw HarnessError("socket(AF_PACKET) failed: errno \(errno)") }
        var one: Int32 = 1
        guard setsockopt(fd, Self.solPacket, Self.packetAuxdata, &one, socklen_t(4)) == 0,
              setsockopt(fd, Self.solPacket, Self.packetIgnoreOutgoing, &one, socklen_t(4)) == 0
        else {
            let e = errno
            close(fd)
            throw HarnessError("setsockopt(SOL_PACKET) failed: errno \(e)")
        }
        var sll = SockaddrLL(family: UInt16(AF_PACKET), protocolBE: Self.ethPAll.bigEndian, ifindex: Int32(index))
        let rc = withUnsafePointer(to: &sll) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<SockaddrLL>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw HarnessError("bind(AF_PACKET, \(interface)) failed: errno \(e)")
        }
    }

    deinit { close(fd) }

    /// Sends one frame as is.
    func send(_ frame: WireFrame) throws {
        let n = frame.bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        guard n == frame.bytes.count else { throw HarnessError("send on \(interface) failed: errno \(errno)") }
    }

    /// Frames with EtherType 0x88B5 (after tags) that arrive within `window`; stops early once
    /// `enough` says so. Other traffic (ARP, ICMP) is read and ignored.
    func receive(within window: Duration, until enough: ([WireFrame]) -> Bool = { _ in false }) -> [WireFrame] {
        var got: [WireFrame] = []
        let deadline = ContinuousClock.now + window
        while ContinuousClock.now < deadline && !enough(got) {
            let left = deadline - ContinuousClock.now
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(max(1, min(50, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))))
            while let f = receiveOne() {
                if f.innerEtherType == 0x88B5 { got.append(f) }
            }
        }
        return got
    }

    /// Reads every frame already queued (non-blocking); returns them, filtered as `receive`.
    func drain() -> [WireFrame] { receive(within: .milliseconds(1)) }

    /// One frame, non-blocking; nil when none is queued.
    private func receiveOne() -> WireFrame? {
        var buffer = [UInt8](repeating: 0, count: 65_600)
        var control = [UInt64](repeating: 0, count: 16)  // 128 bytes, 8-aligned
        var from = SockaddrLL()
        let (n, controlLength): (Int, Int) = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { cbuf in
                withUnsafeMutablePointer(to: &from) { fromPtr in
                    var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPtr in
                        var msg = msghdr()
                        msg.msg_name = UnsafeMutableRawPointer(fromPtr)
                        msg.msg_namelen = socklen_t(MemoryLayout<SockaddrLL>.size)
                        msg.msg_iov = iovPtr
                        msg.msg_iovlen = 1
                        msg.msg_control = cbuf.baseAddress
                        msg.msg_controllen = cbuf.count
                        let n = recvmsg(fd, &msg, Int32(MSG_DONTWAIT))
                        return (n, Int(msg.msg_controllen))
                    }
                }
            }
        }
        guard n >= 14 else { return nil }
        var bytes = Array(buffer[0..<n])
        // struct cmsghdr { size_t len; int level; int type; } then data; struct tpacket_auxdata:
        // u32 status, len, snaplen; u16 mac, net, vlan_tci, vlan_tpid.
        control.withUnsafeBytes { c in
            var off = 0
            while off + 16 <= controlLength {
                let len = Int(c.load(fromByteOffset: off, as: UInt.self))
                let level = c.load(fromByteOffset: off + 8, as: Int32.self)
                let type = c.load(fromByteOffset: off + 12, as: Int32.self)
                guard len >= 16 else { break }
                if level == Self.solPacket && type == Self.packetAuxdata && off + 16 + 20 <= controlLength {
                    let status = c.load(fromByteOffset: off + 16, as: UInt32.self)
                    let tci = c.load(fromByteOffset: off + 16 + 16, as: UInt16.self)
                    var tpid = c.load(fromByteOffset: off + 16 + 18, as: UInt16.self)
                    if status & Self.tpStatusVLANValid != 0 {
                        if status & Self.tpStatusVLANTPIDValid == 0 { tpid = 0x8100 }
                        bytes.insert(contentsOf: [UInt8(tpid >> 8), UInt8(tpid & 0xFF), UInt8(tci >> 8), UInt8(tci & 0xFF)], at: 12)
                    }
                }
                off += (len + 7) & ~7
            }
        }
        return WireFrame(bytes: bytes)
    }
}

// MARK: - A TCP transfer checked byte for byte

/// Sends `blocks` MiB over one TCP connection from host `from` to host `to` (sockets opened in
/// their namespaces, driven from two threads here) and checks every byte at the receiver.
/// Block k is a fixed random MiB whose first 8 bytes are k, so a lost, repeated, reordered or
/// altered stretch of data shows up. Every socket call is bounded by a 10 s timeout.
enum CheckedTransfer {
    struct Result: CustomStringConvertible {
        var sentBytes = 0
        var receivedBytes = 0
        var goodBlocks = 0
        var badBlocks = 0
        var seconds = 0.0
        var error: String?
        var gbitPerSecond: Double { seconds > 0 ? Double(receivedBytes) * 8 / seconds / 1e9 : 0 }
        var description: String {
            String(format: "sent %d B, received %d B, %d good / %d bad MiB blocks in %.2f s (%.2f Gbit/s)%@", sentBytes,
                   receivedBytes, goodBlocks, badBlocks, seconds, gbitPerSecond, error.map { ", error: \($0)" } ?? "")
        }
    }

    static let blockSize = 1 << 20

    static func run(_ topo: SwbridgeLab, from: Int, to: Int, blocks: Int, port: UInt16) throws -> Result {
        var pattern = [UInt8](repeating: 0, count: blockSize)
        var rng = SystemRandomNumberGenerator()
        for i in stride(from: 0, to: blockSize, by: 8) {
            withUnsafeBytes(of: rng.next() as UInt64) { for j in 0..<8 { pattern[i + j] = $0[j] } }
        }
        let address = SwbridgeLab.address(to)
        let listener = try Lab.withNetworkNamespace(named: topo.hosts[to]) { try socketFD(bindTo: address, port: port) }
        defer { close(listener) }

        final class Receiver: @unchecked Sendable {
            var result = Result()
            let done = DispatchSemaphore(value: 0)
        }
        let receiver = Receiver()
        let expected = pattern
        Thread {
            defer { receiver.done.signal() }
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 10_000) == 1 else { receiver.result.error = "no connection within 10 s"; return }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { receiver.result.error = "accept: errno \(errno)"; return }
            defer { close(fd) }
            setTimeout(fd)
            let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
            defer { staging.deallocate() }
            var fill = 0
            var block: UInt64 = 0
            expected.withUnsafeBytes { want in
                while true {
                    let n = recv(fd, staging.baseAddress! + fill, blockSize - fill, 0)
                    if n == 0 { break }
                    if n < 0 {
                        if errno == EINTR { continue }
                        receiver.result.error = "recv: errno \(errno)"
                        break
                    }
                    receiver.result.receivedBytes += n
                    fill += n
                    if fill == blockSize {
                        let k = staging.load(as: UInt64.self)
                        if k == block && memcmp(staging.baseAddress! + 8, want.baseAddress! + 8, blockSize - 8) == 0 {
                            receiver.result.goodBlocks += 1
                        } else {
                            receiver.result.badBlocks += 1
                        }
                        block += 1
                        fill = 0
                    }
                }
            }
            if fill != 0 { receiver.result.badBlocks += 1 }
        }.start()

        let sender = try Lab.withNetworkNamespace(named: topo.hosts[from]) { () throws -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
            setTimeout(fd)
            var sa = sockaddrIn(address, port)
            let rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                close(fd)
                throw HarnessError("connect to \(address):\(port): errno \(e)")
            }
            return fd
        }
        let start = ContinuousClock.now
        var sent = 0
        var sendError: String?
        var block = pattern
        outer: for k in 0..<blocks {
            withUnsafeBytes(of: UInt64(k)) { for j in 0..<8 { block[j] = $0[j] } }
            var off = 0
            while off < blockSize {
                let n = block.withUnsafeBytes { send(sender, $0.baseAddress! + off, blockSize - off, Int32(MSG_NOSIGNAL)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    sendError = "send: errno \(errno)"
                    break outer
                }
                off += n
                sent += n
            }
        }
        shutdown(sender, Int32(SHUT_WR))
        let finished = receiver.done.wait(timeout: .now() + 20)
        let elapsed = ContinuousClock.now - start
        close(sender)
        if finished == .timedOut {
            // The receiver's own 10 s timeouts end it; wait for them before its state is read.
            _ = receiver.done.wait(timeout: .now() + 15)
        }
        var result = receiver.result
        result.sentBytes = sent
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        if let e = sendError { result.error = (result.error.map { $0 + "; " } ?? "") + e }
        return result
    }

    private static func sockaddrIn(_ address: String, _ port: UInt16) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = in_addr(s_addr: inet_addr(address))
        return sa
    }

    private static func setTimeout(_ fd: Int32) {
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func socketFD(bindTo address: String, port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        var sa = sockaddrIn(address, port)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 1) == 0 else {
            let e = errno
            close(fd)
            throw HarnessError("bind/listen on \(address):\(port): errno \(e)")
        }
        return fd
    }
}
