// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Lab: throwaway network topologies for integration tests and `swbridge bench`. A Lab owns
// every namespace it creates (names carry a random per-run prefix, "swb" + 4 hex digits, so
// parallel tests never collide) and deletes them in `teardown()`, which `deinit` also calls:
// deleting a namespace deletes the veths in it, so nothing is left behind even on failure.
//
// Safety rules it enforces: veth pairs are created from inside a lab namespace straight into
// lab namespaces (the root namespace is never touched), addresses must lie in 198.18.0.0/15
// (benchmarking space, RFC 2544), and IPv6 is disabled in each namespace so stray router and
// neighbour solicitations stay out of exact frame counts. Commands run through Foundation's
// posix_spawn (ChildProcess) with a timeout; only processes the Lab started are ever signalled.

import Foundation
import Synchronization

/// A failure to build or drive a lab topology.
public enum LabError: Error, Equatable, CustomStringConvertible {
    case notPrivileged
    case commandFailed(command: String, status: Int32, output: String)
    case timedOut(command: String, seconds: Double)
    case addressOutsideLabRange(String)
    case nameTooLong(String)
    case unknownNamespace(String)
    case setnsFailed(namespace: String, errno: Int32)

    public var description: String {
        switch self {
        case .notPrivileged: return "lab topologies need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
        case .commandFailed(let c, let s, let o): return "'\(c)' exited with status \(s): \(o)"
        case .timedOut(let c, let s): return "'\(c)' did not finish within \(s) s and was killed"
        case .addressOutsideLabRange(let a): return "address \(a) is outside the lab range 198.18.0.0/15"
        case .nameTooLong(let n): return "interface name '\(n)' is longer than 15 characters"
        case .unknownNamespace(let n): return "no network namespace '\(n)' (is it one this lab created?)"
        case .setnsFailed(let n, let e): return "setns into '\(n)' failed: \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}

/// What a finished command printed and how it ended.
public struct CommandResult: Sendable, Equatable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

/// A set of namespaces and veth pairs that disappears with `teardown()`.
public final class Lab: @unchecked Sendable {
    /// Per-run prefix of every name this lab creates, e.g. "swb3fa1".
    public let prefix: String
    private let lock = NSLock()
    private let teardownLock = NSLock()
    private var namespaces: [String] = []
    private var background: [ChildProcess] = []
    private var tornDown = false

    /// True when running as root (the lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN).
    public static var isPrivileged: Bool { geteuid() == 0 }
    /// SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1: privileged tests must run (and fail without root).
    public static var privilegedTestsRequired: Bool {
        ProcessInfo.processInfo.environment["SWBRIDGE_REQUIRE_PRIVILEGED_TESTS"] == "1"
    }
    /// Whether tests that build labs should run: as root, or when required (then they fail).
    public static var shouldRunPrivilegedTests: Bool { isPrivileged || privilegedTestsRequired }
    public static let skipMessage =
        "needs root for network namespaces; skipped (set SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1 to make this a failure)"

    /// A new, empty lab. Throws `notPrivileged` when not root.
    public init(prefix: String? = nil) throws {
        guard Lab.isPrivileged else { throw LabError.notPrivileged }
        if let prefix {
            self.prefix = prefix
        } else {
            var candidate = ""
            repeat {
                candidate = "swb" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
            } while FileManager.default.fileExists(atPath: "/run/netns/\(candidate)-br")
            self.prefix = candidate
        }
        Lab.registry.withLock { labs in
            labs.removeAll { $0.lab == nil }
            labs.append(WeakLab(lab: self))
        }
    }

    deinit { teardown() }

    // MARK: - Cleanup on signals

    private struct WeakLab { weak var lab: Lab? }
    private static let registry = Mutex<[WeakLab]>([])
    /// The installed sources, kept alive; touched only on `signalQueue`.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    private static let interrupted = Atomic<Bool>(false)
    /// Teardowns running in this process (a lab's deinit may be tearing it down while a
    /// signal's handler no longer sees it): the handler waits for them before exiting.
    private static let teardownsInProgress = Atomic<Int>(0)
    /// Signal handlers run here one at a time; the first one exits the process.
    private static let signalQueue = DispatchQueue(label: "LabKit.signals")

    /// Call before exiting normally: if a signal's teardown is under way (the work just
    /// finished early because its lab vanished under it), waits for that teardown to exit the
    /// process, so the exit status says "interrupted" and nothing is left half deleted.
    public static func waitForSignalTeardown() {
        guard interrupted.load(ordering: .acquiring) else { return }
        while true { pause() }
    }

    /// On SIGINT, SIGTERM or SIGHUP: tear down every lab of this process (its namespaces,
    /// veths and the processes it started), then exit with 128 + the signal. For commands
    /// that build labs (`swbridge bench`): an interrupted run leaves nothing behind.
    public static func tearDownOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        for number in signals {
            signal(number, SIG_IGN)  // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler {
                interrupted.store(true, ordering: .releasing)
                let labs = registry.withLock { $0.compactMap(\.lab) }
                for lab in labs { lab.teardown() }
                var waits = 0
                while teardownsInProgress.load(ordering: .acquiring) > 0 && waits < 3000 {  // 30 s at most
                    usleep(10_000)
                    waits += 1
                }
                exit(128 + number)
            }
            source.resume()
            signalQueue.sync { signalSources.append(source) }
        }
    }

    /// An interface name of this lab: prefix + role, at most 15 characters.
    public func interfaceName(_ role: String) throws -> String {
        let name = prefix + role
        guard name.utf8.count <= 15 else { throw LabError.nameTooLong(name) }
        return name
    }

    /// Creates namespace "<prefix>-<role>" with loopback up and IPv6 off; returns its name.
    @discardableResult
    public func addNamespace(_ role: String) throws -> String {
        let name = "\(prefix)-\(role)"
        try mustRun(["ip", "netns", "add", name])
        // Torn down meanwhile (a signal's teardown on another thread): the new one goes too.
        guard adopt({ namespaces.append(name) }) else {
            _ = try? Lab.execute(["ip", "netns", "delete", name], timeout: .seconds(10))
            throw LabError.commandFailed(command: "ip netns add \(name)", status: -1, output: "the lab was torn down")
        }
        try mustRun(["ip", "-n", name, "link", "set", "lo", "up"])
        for key in ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"] {
            try mustRun(["sysctl", "-q", "-w", "\(key)=1"], in: name)
        }
        return name
    }

    /// The namespaces created so far.
    public var createdNamespaces: [String] { lock.withLock { namespaces } }

    /// A veth pair with end `a` in `nsA` and end `b` in `nsB`, created from inside `nsA`.
    public func addVethPair(_ a: String, in nsA: String, _ b: String, in nsB: String, up: Bool = true) throws {
        for n in [a, b] where n.utf8.count > 15 { throw LabError.nameTooLong(n) }
        try requireOwned(nsA)
        try requireOwned(nsB)
        try mustRun(["ip", "-n", nsA, "link", "add", a, "type", "veth", "peer", "name", b, "netns", nsB])
        if up {
            try setUp(a, in: nsA)
            try setUp(b, in: nsB)
        }
    }

    /// Brings an interface up.
    public func setUp(_ interface: String, in ns: String) throws {
        try requireOwned(ns)
        try mustRun(["ip", "-n", ns, "link", "set", interface, "up"])
    }

    /// Assigns an IPv4 address ("198.18.0.1/24"); only 198.18.0.0/15 is accepted.
    public func setAddress(_ cidr: String, on interface: String, in ns: String) throws {
        guard Lab.isLabAddress(cidr) else { throw LabError.addressOutsideLabRange(cidr) }
        try requireOwned(ns)
        try mustRun(["ip", "-n", ns, "addr", "add", cidr, "dev", interface])
    }

    /// True for "198.18.x.y" or "198.19.x.y", with or without a prefix length.
    public static func isLabAddress(_ text: String) -> Bool {
        let address = text.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        let octets = address.split(separator: ".").compactMap { UInt8($0) }
        return octets.count == 4 && octets[0] == 198 && (octets[1] == 18 || octets[1] == 19)
    }

    /// ethtool -K: e.g. ["tso": false, "gso": false, "tx": false].
    public func setOffloads(_ interface: String, in ns: String, _ features: [String: Bool]) throws {
        try requireOwned(ns)
        var args = ["ethtool", "-K", interface]
        for (k, v) in features.sorted(by: { $0.key < $1.key }) { args += [k, v ? "on" : "off"] }
        try mustRun(args, in: ns)
    }

    /// Runs `arguments` (PATH is searched) inside namespace `ns` (nil: where the test runs,
    /// used only for `ip netns` bookkeeping). Kills it after `timeout`.
    @discardableResult
    public func run(_ arguments: [String], in ns: String? = nil, timeout: Duration = .seconds(20)) throws -> CommandResult {
        if let ns { try requireOwned(ns) }
        let full = ns.map { ["ip", "netns", "exec", $0] + arguments } ?? arguments
        return try Lab.execute(full, timeout: timeout)
    }

    /// `run`, throwing unless the command exits with status 0.
    @discardableResult
    public func mustRun(_ arguments: [String], in ns: String? = nil, timeout: Duration = .seconds(20)) throws -> CommandResult {
        let r = try run(arguments, in: ns, timeout: timeout)
        guard r.status == 0 else {
            throw LabError.commandFailed(command: arguments.joined(separator: " "), status: r.status,
                                         output: (r.standardError + r.standardOutput).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return r
    }

    /// Starts a long-running command in `ns` (a server); `teardown` terminates it if still running.
    @discardableResult
    public func spawn(_ arguments: [String], in ns: String) throws -> ChildProcess {
        try requireOwned(ns)
        let p = try ChildProcess(["ip", "netns", "exec", ns] + arguments)
        guard adopt({ background.append(p) }) else {
            // Torn down meanwhile: this child must not outlive the lab.
            p.signal(SIGKILL)
            p.wait(timeout: .seconds(2))
            throw LabError.unknownNamespace(ns)
        }
        return p
    }

    /// Stops spawned processes and deletes every namespace this lab created (and with them
    /// their veths). Safe to call more than once.
    public func teardown() {
        // A second caller (a signal's teardown racing the main thread's) waits for the first
        // to finish, so whoever returns last returns with everything gone.
        teardownLock.lock()
        defer { teardownLock.unlock() }
        Lab.teardownsInProgress.add(1, ordering: .acquiringAndReleasing)
        defer { Lab.teardownsInProgress.subtract(1, ordering: .acquiringAndReleasing) }
        let (procs, spaces): ([ChildProcess], [String]) = lock.withLock {
            defer { background = []; namespaces = []; tornDown = true }
            return (background, namespaces)
        }
        for p in procs where p.isRunning {
            p.terminate()
            if !p.wait(timeout: .seconds(2)) {
                p.signal(SIGKILL)
                p.wait(timeout: .seconds(2))
            }
        }
        for ns in spaces.reversed() {
            _ = try? Lab.execute(["ip", "netns", "delete", ns], timeout: .seconds(10))
        }
    }

    /// Records something just created (`add`, under the lock) unless the lab is already torn
    /// down; false then, and the caller removes it again.
    private func adopt(_ add: () -> Void) -> Bool {
        lock.withLock {
            guard !tornDown else { return false }
            add()
            return true
        }
    }

    private func requireOwned(_ ns: String) throws {
        guard lock.withLock({ namespaces.contains(ns) }) else { throw LabError.unknownNamespace(ns) }
    }

    /// Runs a command with a deadline, capturing both outputs.
    public static func execute(_ arguments: [String], timeout: Duration) throws -> CommandResult {
        ChildProcess.spawnLock.lock()
        guard let out = ChildProcess.makePipe() else {
            ChildProcess.spawnLock.unlock()
            throw LabError.commandFailed(command: arguments.joined(separator: " "), status: -1, output: "pipe failed")
        }
        guard let err = ChildProcess.makePipe() else {
            close(out.read); close(out.write)
            ChildProcess.spawnLock.unlock()
            throw LabError.commandFailed(command: arguments.joined(separator: " "), status: -1, output: "pipe failed")
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments, standardOutput: out.write, standardError: err.write)
        } catch {
            for fd in [out.read, out.write, err.read, err.write] { close(fd) }
            ChildProcess.spawnLock.unlock()
            throw error
        }
        close(out.write)
        close(err.write)
        ChildProcess.spawnLock.unlock()
        // Drain the pipes while the command runs so a chatty one cannot fill them and hang.
        let drained = DispatchGroup()
        let outBox = DataBox(), errBox = DataBox()
        for (fd, box) in [(out.read, outBox), (err.read, errBox)] {
            DispatchQueue.global().async(group: drained) {
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    if n > 0 { box.data.append(contentsOf: buffer[0..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
                }
                close(fd)
            }
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        if !child.wait(timeout: timeout) {
            child.terminate()
            if !child.wait(timeout: .seconds(2)) {
                child.signal(SIGKILL)
                child.wait(timeout: .seconds(2))
            }
            _ = drained.wait(timeout: .now() + 2)
            throw LabError.timedOut(command: arguments.joined(separator: " "), seconds: seconds)
        }
        _ = drained.wait(timeout: .now() + 5)
        return CommandResult(
            status: child.terminationStatus,
            standardOutput: String(decoding: outBox.data, as: UTF8.self),
            standardError: String(decoding: errBox.data, as: UTF8.self))
    }
}

/// Collects a pipe's bytes on a dispatch thread; read only after the group finished.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
