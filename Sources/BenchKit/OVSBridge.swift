// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// OVSBridge: a private Open vSwitch for `swbridge bench` (bridges `ovs` and `ovs-afxdp`).
//
// Nothing of a system-wide OVS is touched: each instance gets its own temporary directory
// holding the database, the run files (sockets, pidfiles) and the logs (OVS_RUNDIR, OVS_DBDIR,
// OVS_LOGDIR all point there, and every daemon is also given explicit paths). ovsdb-server and
// ovs-vswitchd run inside the lab's bridge namespace, so the ports they open are the lab's.
// The bridge uses the userspace datapath (`datapath_type=netdev`; there is no openvswitch
// kernel module here, hence `--disable-system`); its ports are `type=system`, which the netdev
// datapath implements with AF_PACKET sockets, or `type=afxdp` for `ovs-afxdp`.
//
// The daemons run in the foreground as children of this process (with pidfiles), not
// `--detach`ed: a daemonised grandchild keeps descriptors of Foundation's Process and the
// launch would never be seen to finish. `stop` asks ovs-vswitchd to exit with `--cleanup` (it
// removes its tap devices), then ovsdb-server, then signals only the PIDs it started (and read
// from its own pidfiles, and only while they still are OVS daemons), and deletes the directory.

import Foundation
import LabKit

public final class OVSInstance: @unchecked Sendable {
    /// The line a run reports when OVS is asked for but absent.
    public static let notInstalledMessage = "ovs: openvswitch-switch not installed; skipped"

    /// The programs an instance needs.
    static let programs = ["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-appctl"]
    static let schemaCandidates = ["/usr/share/openvswitch/vswitch.ovsschema", "/usr/local/share/openvswitch/vswitch.ovsschema"]

    /// The full path of `program` on PATH or in the usual sbin/bin directories, if executable.
    public static func locate(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"]
        for d in dirs where !d.isEmpty {
            let candidate = d + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var schema: String? { schemaCandidates.first { FileManager.default.fileExists(atPath: $0) } }

    /// Whether every program and the schema are there (Debian `openvswitch-switch`).
    public static var isInstalled: Bool { programs.allSatisfy { locate($0) != nil } && schema != nil }

    /// The instance's own directory (db, sockets, pidfiles, logs).
    public let directory: String
    public let bridgeName: String
    public let namespace: String
    /// ovs-vswitchd's PID: the process doing the forwarding.
    public private(set) var vswitchdPID: Int32?
    private var ownPIDs: [Int32] = []
    private var processes: [ChildProcess] = []
    private let lab: Lab
    private var stopped = false

    private init(lab: Lab, namespace: String, directory: String, bridgeName: String) {
        self.lab = lab
        self.directory = directory
        self.bridgeName = bridgeName
        self.namespace = namespace
    }

    var environment: [String] {
        ["OVS_RUNDIR=\(directory)", "OVS_DBDIR=\(directory)", "OVS_LOGDIR=\(directory)", "OVS_SYSCONFDIR=\(directory)"]
    }
    var database: String { "unix:\(directory)/db.sock" }

    /// Starts ovsdb-server and ovs-vswitchd in `lab`'s bridge namespace and a netdev bridge
    /// named `bridgeName` with every lab port; waits until each port has an OpenFlow number.
    /// Throws (after cleaning up) when a step fails, e.g. a port type that does not work.
    public static func start(lab: CompareLab, bridgeName: String, afxdp: Bool) throws -> OVSInstance {
        try start(lab: lab.lab, namespace: lab.bridgeNamespace, ports: lab.ports, bridgeName: bridgeName, afxdp: afxdp)
    }

    /// The same for any namespace of `lab` and its interfaces `ports`; `bridgeSettings` are
    /// extra `ovs-vsctl set bridge` columns (`rstp_enable=true`, `other_config:rstp-priority=4096`).
    public static func start(lab: Lab, namespace: String, ports: [String], bridgeName: String, afxdp: Bool = false,
                             bridgeSettings: [String] = []) throws -> OVSInstance {
        guard isInstalled, let schema else { throw BenchError.missingTool("openvswitch-switch") }
        let template = NSTemporaryDirectory() + "swbridge-ovs-XXXXXX"
        var buffer = Array(template.utf8CString)
        guard let made = mkdtemp(&buffer) else { throw BenchError.bridgeDidNotStart("ovs", "cannot create a temporary directory") }
        let dir = String(cString: made)
        let ovs = OVSInstance(lab: lab, namespace: namespace, directory: dir, bridgeName: bridgeName)
        do {
            try ovs.host(["ovsdb-tool", "create", "\(dir)/conf.db", schema])
            try ovs.daemon("ovsdb-server", [
                "\(dir)/conf.db", "--remote=punix:\(dir)/db.sock", "--pidfile=\(dir)/ovsdb-server.pid",
                "--unixctl=\(dir)/ovsdb-server.ctl", "--log-file=\(dir)/ovsdb-server.log", "--no-chdir",
            ], readyWhen: "\(dir)/db.sock")
            try ovs.vsctl(["--no-wait", "init"])
            ovs.vswitchdPID = try ovs.daemon("ovs-vswitchd", [
                ovs.database, "--pidfile=\(dir)/ovs-vswitchd.pid", "--unixctl=\(dir)/ovs-vswitchd.ctl",
                "--log-file=\(dir)/ovs-vswitchd.log", "--no-chdir", "--disable-system",
            ], readyWhen: "\(dir)/ovs-vswitchd.ctl")
            var args = ["add-br", bridgeName, "--", "set", "bridge", bridgeName, "datapath_type=netdev"] + bridgeSettings
            for p in ports {
                args += ["--", "add-port", bridgeName, p]
                if afxdp { args += ["--", "set", "interface", p, "type=afxdp"] }
            }
            try ovs.vsctl(args)
            try ovs.waitForPorts(ports, seconds: 10)
        } catch {
            ovs.stop()
            throw error
        }
        return ovs
    }

    /// Waits until every port has an OpenFlow port number; throws with OVS's own error text.
    func waitForPorts(_ ports: [String], seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            var pending: [String] = []
            for p in ports {
                let ofport = (try? vsctl(["get", "interface", p, "ofport"]))?.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                if let error = (try? vsctl(["get", "interface", p, "error"]))?.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines),
                    error != "[]", !error.isEmpty
                {
                    throw BenchError.bridgeDidNotStart("ovs", "port \(p): \(error)")
                }
                if ofport.flatMap({ Int($0) }).map({ $0 <= 0 }) ?? true { pending.append(p) }
            }
            if pending.isEmpty { return }
            guard Date() < deadline else {
                throw BenchError.bridgeDidNotStart("ovs", "ports \(pending.joined(separator: ", ")) got no OpenFlow port in \(Int(seconds)) s")
            }
            usleep(100_000)
        }
    }

    /// Forgets every learned MAC address (`ovs-appctl fdb/flush`).
    @discardableResult
    public func flushFDB() -> Bool {
        (try? appctl("ovs-vswitchd", ["fdb/flush", bridgeName]))?.status == 0
    }

    /// Stops both daemons (only the PIDs this instance started) and removes its directory.
    /// Safe to call more than once.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        for daemon in ["ovsdb-server", "ovs-vswitchd"] { readPID(daemon) }  // also one that started but failed later
        _ = try? appctl("ovs-vswitchd", ["exit", "--cleanup"])
        _ = try? appctl("ovsdb-server", ["exit"])
        for pid in ownPIDs {
            let deadline = Date().addingTimeInterval(3)
            while Self.isOVSDaemon(pid) && Date() < deadline { usleep(20_000) }
            if Self.isOVSDaemon(pid) { kill(pid, SIGTERM) }
            let hard = Date().addingTimeInterval(2)
            while Self.isOVSDaemon(pid) && Date() < hard { usleep(20_000) }
            if Self.isOVSDaemon(pid) { kill(pid, SIGKILL) }
        }
        for p in processes where p.isRunning {  // reaped by Foundation; wait for it
            let deadline = Date().addingTimeInterval(2)
            while p.isRunning && Date() < deadline { usleep(10_000) }
        }
        // exit --cleanup removes these; an abrupt end would leave them in the namespace.
        for device in [bridgeName, "ovs-netdev"] {
            _ = try? lab.run(["ip", "-n", namespace, "link", "del", device], timeout: .seconds(5))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    /// The PIDs this instance started (ovsdb-server, ovs-vswitchd).
    public var pids: [Int32] { ownPIDs }

    /// Whether `pid` is alive and still an OVS daemon (not a recycled PID).
    static func isOVSDaemon(_ pid: Int32) -> Bool {
        guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].hasPrefix(" Z")
        {
            return false
        }
        return comm.hasPrefix("ovs")
    }

    @discardableResult
    private func readPID(_ daemon: String) -> Int32? {
        guard let text = try? String(contentsOfFile: "\(directory)/\(daemon).pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        if !ownPIDs.contains(pid) { ownPIDs.append(pid) }
        return pid
    }

    private func resolved(_ args: [String]) -> [String] {
        ["env"] + environment + [Self.locate(args[0]) ?? args[0]] + args.dropFirst()
    }

    @discardableResult
    private func host(_ args: [String], timeout: Duration = .seconds(20)) throws -> CommandResult {
        let r = try Lab.execute(resolved(args), timeout: timeout)
        guard r.status == 0 else { throw Self.failure(args, r) }
        return r
    }

    /// Starts a daemon in the bridge namespace in the foreground (not `--detach`: a daemonised
    /// child keeps descriptors of the launching Process, which then never sees its parent end),
    /// as a child of this process (`ip netns exec` and `env` exec in place, so the child's PID
    /// is the daemon's); waits until `readyWhen` exists. Returns the daemon's PID (its pidfile).
    @discardableResult
    private func daemon(_ program: String, _ args: [String], readyWhen path: String) throws -> Int32 {
        let p = try lab.spawn(resolved([program] + args), in: namespace)
        processes.append(p)
        ownPIDs.append(p.processIdentifier)
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: path) {
            guard p.isRunning else {
                throw BenchError.bridgeDidNotStart("ovs", "\(program) exited with status \(p.terminationStatus): \(logTail(program))")
            }
            guard Date() < deadline else { throw BenchError.bridgeDidNotStart("ovs", "\(program) not ready after 15 s: \(logTail(program))") }
            usleep(20_000)
        }
        return readPID(program) ?? p.processIdentifier
    }

    private func logTail(_ program: String) -> String {
        let text = (try? String(contentsOfFile: "\(directory)/\(program).log", encoding: .utf8)) ?? ""
        return String(text.split(separator: "\n").suffix(3).joined(separator: " | ").suffix(300))
    }

    @discardableResult
    public func vsctl(_ args: [String]) throws -> CommandResult {
        try host(["ovs-vsctl", "--db=\(database)", "--timeout=15"] + args, timeout: .seconds(20))
    }

    @discardableResult
    public func appctl(_ daemon: String, _ args: [String]) throws -> CommandResult {
        try host(["ovs-appctl", "-t", "\(directory)/\(daemon).ctl", "--timeout=10"] + args, timeout: .seconds(15))
    }

    private static func failure(_ args: [String], _ r: CommandResult) -> BenchError {
        let text = (r.standardError + r.standardOutput).trimmingCharacters(in: .whitespacesAndNewlines)
        return .bridgeDidNotStart("ovs", "\(args.prefix(2).joined(separator: " ")) failed (\(r.status)): \(text.suffix(300))")
    }
}
