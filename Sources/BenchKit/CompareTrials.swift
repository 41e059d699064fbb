// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CompareTrials: the measurements `swbridge bench` makes on one running bridge, each bounded
// in count and time, each using tools or code of this project inside the lab's namespaces:
// ping latency (request-response), TCP through iperf3 (1 and N streams; skipped with a reason
// when iperf3 is missing), idle CPU, and CPU cost per frame from /proc/stat (system-wide) and
// /proc/PID/stat (the bridge process itself).

import Foundation
import LabKit

/// CPU time read from /proc, in clock ticks converted to seconds.
public struct CPUSample: Sendable {
    /// System-wide busy time (user + nice + system + irq + softirq + steal), seconds.
    public var systemBusy: Double
    /// The bridge process's user + system time, seconds (0 when no process).
    public var process: Double
    public var wall: Double

    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

    public static func read(pid: Int32?) -> CPUSample {
        var busy = 0.0
        if let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        {
            let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            // user nice system idle iowait irq softirq steal
            if f.count >= 8 { busy = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / ticks }
        }
        var proc = 0.0
        if let pid, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        {
            // Fields after the command name: state is field 3; utime and stime are 14 and 15.
            let f = text[text.index(after: close)...].split(separator: " ")
            if f.count > 13, let u = Double(f[11]), let s = Double(f[12]) { proc = (u + s) / ticks }
        }
        return CPUSample(systemBusy: busy, process: proc, wall: Date().timeIntervalSince1970)
    }

    /// CPU seconds between two samples.
    public static func - (a: CPUSample, b: CPUSample) -> CPUSample {
        CPUSample(systemBusy: a.systemBusy - b.systemBusy, process: a.process - b.process, wall: a.wall - b.wall)
    }
}

/// Round-trip times (ping) in microseconds.
public struct RoundTripSummary: Codable, Equatable, Sendable {
    public var samples: Int
    public var lost: Int
    public var minimum: Double
    public var average: Double
    public var p50: Double
    public var p99: Double
    public var maximum: Double

    /// Summarises samples (µs); nil when there are none.
    public init?(samplesMicroseconds s: [Double], lost: Int) {
        guard !s.isEmpty else { return nil }
        let sorted = s.sorted()
        func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))] }
        samples = s.count
        self.lost = lost
        minimum = sorted[0]
        average = s.reduce(0, +) / Double(s.count)
        p50 = pct(0.5)
        p99 = pct(0.99)
        maximum = sorted[sorted.count - 1]
    }
}

/// A TCP measurement.
public struct TCPResult: Codable, Equatable, Sendable {
    public var streams: Int
    public var gigabitsPerSecond: Double
    public var retransmits: Int
    public var checksumErrors: Int
    /// Bytes the receiver got, and the CPU the machine (and the bridge process) spent meanwhile:
    /// on 2 vCPUs shared by sender, receiver and bridge, cost per byte decides throughput.
    public var bytes: Double = 0
    public var systemCPUSeconds: Double = 0
    public var bridgeCPUSeconds: Double = 0

    /// Seconds of CPU per gigabyte (10^9 bytes) moved; nil without bytes.
    public var systemCPUSecondsPerGigabyte: Double? { bytes > 0 ? systemCPUSeconds / (bytes / 1e9) : nil }
    public var bridgeCPUSecondsPerGigabyte: Double? { bytes > 0 && bridgeCPUSeconds > 0 ? bridgeCPUSeconds / (bytes / 1e9) : nil }
}

public enum CompareTrials {
    /// Round-trip times of `count` pings from host 1 to host 2 (µs), after a warm-up ping
    /// that lets the bridge learn both stations.
    public static func pingLatency(_ lab: CompareLab, count: Int, interval: Double = 0.01) throws -> RoundTripSummary? {
        let from = lab.hostNamespaces[0], to = lab.address(ofHost: 2)
        _ = try lab.lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", to], in: from, timeout: .seconds(5))
        let timeout = Duration.seconds(Int(Double(count) * interval * 3) + 10)
        let r = try lab.lab.run(["ping", "-c", "\(count)", "-i", "\(interval)", "-W", "1", to], in: from, timeout: timeout)
        var samples: [Double] = []
        for line in r.standardOutput.split(separator: "\n") {
            guard let range = line.range(of: "time=") else { continue }
            let value = line[range.upperBound...].prefix { $0 == "." || $0.isNumber }
            if let ms = Double(value) { samples.append(ms * 1000) }
        }
        return RoundTripSummary(samplesMicroseconds: samples, lost: count - samples.count)
    }

    /// Whether iperf3 can be run.
    public static var hasIperf3: Bool {
        (try? Lab.execute(["sh", "-c", "command -v iperf3"], timeout: .seconds(5)).status) == 0
    }

    /// TCP from host 1 to host 2 with iperf3 for `seconds`, `streams` parallel streams.
    /// `bridgePID`: the bridge process whose CPU is counted too (nil: an in-kernel bridge).
    public static func tcp(_ lab: CompareLab, streams: Int, seconds: Int, bridgePID: Int32? = nil) throws -> TCPResult {
        let server = lab.hostNamespaces[1], client = lab.hostNamespaces[0]
        let before = checksumErrors(lab, in: server)
        let port = 5201 + Int.random(in: 0..<500)
        let srv = try lab.lab.spawn(["iperf3", "-s", "-p", "\(port)", "-B", lab.address(ofHost: 2)], in: server)
        defer { if srv.isRunning { srv.terminate() } }
        var result: CommandResult? = nil
        var cpu = CPUSample(systemBusy: 0, process: 0, wall: 0)
        for _ in 0..<20 {  // the server needs a moment to listen
            usleep(100_000)
            let before = CPUSample.read(pid: bridgePID)
            defer { cpu = CPUSample.read(pid: bridgePID) - before }
            let r = try lab.lab.run(
                ["iperf3", "-c", lab.address(ofHost: 2), "-p", "\(port)", "-t", "\(seconds)", "-P", "\(streams)", "-J",
                 "--connect-timeout", "5000"],
                in: client, timeout: .seconds(seconds + 20))
            if r.status == 0 { result = r; break }
            if !r.standardOutput.contains("Connection refused") && !r.standardError.contains("Connection refused") { result = r; break }
        }
        guard let result, result.status == 0,
            let json = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
            let end = json["end"] as? [String: Any],
            let received = end["sum_received"] as? [String: Any],
            let bps = received["bits_per_second"] as? Double
        else {
            return TCPResult(streams: streams, gigabitsPerSecond: 0, retransmits: 0, checksumErrors: checksumErrors(lab, in: server) - before)
        }
        let sent = end["sum_sent"] as? [String: Any]
        return TCPResult(streams: streams, gigabitsPerSecond: bps / 1e9, retransmits: sent?["retransmits"] as? Int ?? 0,
                         checksumErrors: checksumErrors(lab, in: server) - before,
                         bytes: received["bytes"] as? Double ?? (received["bytes"] as? Int).map(Double.init) ?? 0,
                         systemCPUSeconds: cpu.systemBusy, bridgeCPUSeconds: cpu.process)
    }

    /// TcpInCsumErrors of a namespace (/proc/net/snmp).
    static func checksumErrors(_ lab: CompareLab, in ns: String) -> Int {
        guard let r = try? lab.lab.run(["cat", "/proc/net/snmp"], in: ns, timeout: .seconds(5)) else { return 0 }
        let tcp = r.standardOutput.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
        guard tcp.count == 2 else { return 0 }
        let keys = tcp[0].split(separator: " "), values = tcp[1].split(separator: " ")
        guard let i = keys.firstIndex(of: "InCsumErrors"), i < values.count else { return 0 }
        return Int(values[i]) ?? 0
    }

    /// CPU use (fraction of one core) of the bridge process and of the whole machine over
    /// `seconds` without traffic.
    public static func idleCPU(pid: Int32?, seconds: Double) -> (process: Double, system: Double) {
        let a = CPUSample.read(pid: pid)
        usleep(UInt32(seconds * 1_000_000))
        let d = CPUSample.read(pid: pid) - a
        return (d.wall > 0 ? d.process / d.wall : 0, d.wall > 0 ? d.systemBusy / d.wall : 0)
    }
}
