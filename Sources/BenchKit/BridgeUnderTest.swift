// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// BridgeUnderTest: the bridges `swbridge bench` compares, each started on a CompareLab's ports
// and stopped again, so they can take turns (A B A B ...) on the same interfaces:
// - `kernel`: the Linux bridge (STP off), created inside the bridge namespace;
// - `swbridge`: this build's `swbridge run`, with any extra options; `swbridge=PATH` another
//   build of it (an older commit, to measure a change side by side);
// - `ovs`, `ovs-afxdp`: a private Open vSwitch (userspace datapath) with AF_PACKET or AF_XDP
//   ports, when openvswitch-switch is installed (OVSBridge.swift);
// - `cmd:TEMPLATE`: any other bridge program, given its port names through placeholders.
// Specs are parsed and validated before any namespace exists, so a typo costs nothing.

import BridgeControl
import Foundation
import LabKit

/// A bridge to measure, as named on the command line.
public enum BridgeSpec: Equatable, Sendable, CustomStringConvertible {
    case kernel
    /// `swbridge run` with extra arguments; `binary` another build (nil: this one).
    case swbridge(arguments: [String], binary: String? = nil)
    /// A private Open vSwitch, netdev datapath; ports `type=system` (AF_PACKET) or `type=afxdp`.
    case ovs(afxdp: Bool)
    /// A shell command run in the bridge namespace; `{ports}` becomes the port names separated
    /// by spaces, `{port1}`... one port each, `{name}` a unique bridge name.
    case command(template: String)

    /// Parses `kernel`, `swbridge`, `swbridge:--threads 2`, `swbridge=PATH[:OPTIONS]`, `ovs`,
    /// `ovs-afxdp`, `cmd:TEMPLATE`.
    public static func parse(_ text: String) throws(BenchError) -> BridgeSpec {
        if text == "kernel" { return .kernel }
        if text == "ovs" { return .ovs(afxdp: false) }
        if text == "ovs-afxdp" { return .ovs(afxdp: true) }
        if text == "swbridge" { return .swbridge(arguments: []) }
        if text.hasPrefix("swbridge:") {
            return .swbridge(arguments: text.dropFirst("swbridge:".count).split(separator: " ").map(String.init))
        }
        if text.hasPrefix("swbridge=") {
            let rest = text.dropFirst("swbridge=".count)
            var path = String(rest.prefix { $0 != ":" })
            let given = path
            // `ip netns exec` would look a bare name up in PATH: resolve it here, as checked.
            if !path.isEmpty && !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
            guard !given.isEmpty, FileManager.default.isExecutableFile(atPath: path) else {
                throw .invalidBridge(text, "swbridge=PATH needs an executable swbridge binary at PATH")
            }
            let options = rest.dropFirst(given.count).dropFirst()
            return .swbridge(arguments: options.split(separator: " ").map(String.init), binary: path)
        }
        if text.hasPrefix("cmd:") {
            let template = String(text.dropFirst(4))
            guard template.contains("{ports}") || template.contains("{port1}") else {
                throw .invalidBridge(text, "a cmd: template must name its ports with {ports} or {port1}, {port2}, ...")
            }
            var rest = template
            for key in ["{ports}", "{name}"] { rest = rest.replacingOccurrences(of: key, with: "") }
            rest = rest.replacingOccurrences(of: #"\{port[0-9]+\}"#, with: "", options: .regularExpression)
            if let bad = rest.range(of: #"\{[^}]*\}"#, options: .regularExpression) {
                throw .invalidBridge(text, "unknown placeholder \(rest[bad]) (use {ports}, {port1}..., {name})")
            }
            return .command(template: template)
        }
        throw .invalidBridge(text, "unknown bridge (use kernel, swbridge, swbridge:OPTIONS, swbridge=PATH, ovs, ovs-afxdp or cmd:TEMPLATE)")
    }

    /// A short label for tables and JSON.
    public var label: String {
        switch self {
        case .kernel: return "kernel"
        case .swbridge(let a, let binary):
            return (binary.map { "swbridge=" + $0 } ?? "swbridge") + (a.isEmpty ? "" : " " + a.joined(separator: " "))
        case .ovs(let afxdp): return afxdp ? "ovs-afxdp" : "ovs"
        case .command(let t): return "cmd:" + t
        }
    }

    /// Whether this bridge can run on this machine; nil when it can, else the reason it is skipped.
    public var unavailableReason: String? {
        if case .ovs = self, !OVSInstance.isInstalled {
            return label == "ovs" ? OVSInstance.notInstalledMessage : "\(label): openvswitch-switch not installed; skipped"
        }
        return nil
    }
    public var description: String { label }
}

/// Errors of a benchmark run.
public enum BenchError: Error, Equatable, CustomStringConvertible {
    case invalidBridge(String, String)
    case bridgeDidNotStart(String, String)
    case missingTool(String)
    case invalidOption(String)

    public var description: String {
        switch self {
        case .invalidBridge(let b, let why): return "bridge '\(b)': \(why)"
        case .bridgeDidNotStart(let b, let why): return "bridge \(b) did not start: \(why)"
        case .missingTool(let t): return "\(t) is not installed (scripts/setup.sh installs it)"
        case .invalidOption(let s): return s
        }
    }
}

/// A bridge running on a lab; `stop()` returns the lab to bare ports.
public final class RunningBridge: @unchecked Sendable {
    public let spec: BridgeSpec
    /// The process doing the forwarding, when there is one (for its CPU time).
    public let pid: Int32?
    private let lab: CompareLab
    private let name: String
    private var process: ChildProcess?
    private var ovs: OVSInstance?
    private let swbridgePath: String

    private init(spec: BridgeSpec, lab: CompareLab, name: String, process: ChildProcess?, swbridgePath: String,
                 ovs: OVSInstance? = nil) {
        self.spec = spec
        self.lab = lab
        self.name = name
        self.process = process
        self.ovs = ovs
        self.swbridgePath = swbridgePath
        pid = ovs?.vswitchdPID ?? process.map { Self.innermostChild(of: $0.processIdentifier) }
    }

    /// Forgets every learned address, when the bridge offers a way (between RFC 2889 trials,
    /// so one trial's addresses do not fill the table for the next). False when it cannot.
    @discardableResult
    public func flushAddresses() -> Bool {
        switch spec {
        case .kernel:
            return (try? lab.lab.run(["ip", "-n", lab.bridgeNamespace, "link", "set", name, "type", "bridge", "fdb_flush"]))?.status == 0
        case .swbridge(_, let binary):
            return (try? Lab.execute([binary ?? swbridgePath, "fdb", "flush", "--name", name], timeout: .seconds(10)))?.status == 0
        case .ovs:
            return ovs?.flushFDB() ?? false
        case .command:
            return false
        }
    }

    /// Frames a swbridge lost in its ports' receive rings and frames it could not send, summed
    /// over ports (`stats --json`), to tell where a trial's loss happened; nil for other bridges.
    public func lossCounters() -> (ringDrops: Double, transmitDrops: Double)? {
        guard case .swbridge(_, let binary) = spec,
            let r = try? Lab.execute([binary ?? swbridgePath, "stats", "--json", "--name", name], timeout: .seconds(10)),
            r.status == 0,
            let json = try? JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as? [String: Any],
            let ports = json["ports"] as? [[String: Any]]
        else { return nil }
        func sum(_ key: String) -> Double { ports.reduce(0) { $0 + (($1[key] as? NSNumber)?.doubleValue ?? 0) } }
        return (sum("ringDrops"), sum("txDropped"))
    }

    /// Starts `spec` on `lab`'s ports and waits until it forwards (control socket, or the
    /// bridge device up). `swbridgePath` is this build's binary.
    /// `multicastQuerier`: the bridge runs its IGMP querier (the multicast trial needs one on
    /// the segment): `mcast_querier 1` for the kernel bridge, `--mcast-querier` for swbridge,
    /// both with a 1 s query response interval.
    public static func start(_ spec: BridgeSpec, on lab: CompareLab, swbridgePath: String,
                             multicastQuerier: Bool = false) throws -> RunningBridge {
        let name = lab.lab.prefix + "b"
        let ns = lab.bridgeNamespace
        switch spec {
        case .kernel:
            try lab.lab.mustRun(["ip", "-n", ns, "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"]
                                + (multicastQuerier ? ["mcast_snooping", "1", "mcast_querier", "1", "mcast_query_response_interval", "100"] : []))
            for p in lab.ports { try lab.lab.mustRun(["ip", "-n", ns, "link", "set", p, "master", name]) }
            try lab.lab.mustRun(["ip", "-n", ns, "link", "set", name, "up"])
            return RunningBridge(spec: spec, lab: lab, name: name, process: nil, swbridgePath: swbridgePath)
        case .ovs(let afxdp):
            // Its own name: the kernel bridge's name must be free again as soon as OVS stops.
            let ovs = try OVSInstance.start(lab: lab, bridgeName: lab.lab.prefix + "o", afxdp: afxdp)
            return RunningBridge(spec: spec, lab: lab, name: ovs.bridgeName, process: nil, swbridgePath: swbridgePath, ovs: ovs)
        case .swbridge(let extra, let binary):
            var args = [binary ?? swbridgePath, "run", "--name", name, "--log-level", "warning"]
            for p in lab.ports { args += ["--port", p] }
            if multicastQuerier { args += ["--mcast-querier", "--mcast-query-response-interval", "1"] }
            args += extra
            let p = try lab.lab.spawn(args, in: ns)
            // Ready when its control socket answers: it answers only once its forwarding threads run.
            let deadline = Date().addingTimeInterval(30)
            while (try? ControlClient.send(.stats, bridge: name, timeout: .seconds(2)))?.ok != true {
                guard p.isRunning else { throw BenchError.bridgeDidNotStart(spec.label, "exited with status \(p.terminationStatus)") }
                guard Date() < deadline else {
                    p.terminate()
                    throw BenchError.bridgeDidNotStart(spec.label, "its control socket did not answer within 30 s")
                }
                usleep(20_000)  // between attempts; the answer is the readiness signal
            }
            return RunningBridge(spec: spec, lab: lab, name: name, process: p, swbridgePath: swbridgePath)
        case .command(let template):
            var cmd = template.replacingOccurrences(of: "{ports}", with: lab.ports.joined(separator: " "))
            cmd = cmd.replacingOccurrences(of: "{name}", with: name)
            for (i, p) in lab.ports.enumerated() { cmd = cmd.replacingOccurrences(of: "{port\(i + 1)}", with: p) }
            let p = try lab.lab.spawn(["sh", "-c", cmd], in: ns)
            usleep(500_000)  // no readiness signal from an arbitrary program: give it a moment
            guard p.isRunning else { throw BenchError.bridgeDidNotStart(spec.label, "exited with status \(p.terminationStatus)") }
            return RunningBridge(spec: spec, lab: lab, name: name, process: p, swbridgePath: swbridgePath)
        }
    }

    /// Stops the bridge and waits for it; the ports stay.
    public func stop() {
        switch spec {
        case .kernel:
            _ = try? lab.lab.run(["ip", "-n", lab.bridgeNamespace, "link", "del", name])
        case .ovs:
            ovs?.stop()
            ovs = nil
        case .swbridge, .command:
            guard let p = process else { return }
            if let pid, pid != p.processIdentifier { kill(pid, SIGTERM) }
            p.terminate()
            let deadline = Date().addingTimeInterval(5)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            process = nil
        }
    }

    deinit { stop() }

    /// `ip netns exec` execs the program in place, but `sh -c` may fork: follow single
    /// children down to the process doing the work.
    static func innermostChild(of pid: Int32) -> Int32 {
        var current = pid
        for _ in 0..<4 {
            let path = "/proc/\(current)/task/\(current)/children"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { break }
            let kids = text.split(separator: " ").compactMap { Int32($0) }
            guard kids.count == 1 else { break }
            current = kids[0]
        }
        return current
    }
}
