// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CompareReport: what a `swbridge bench` run found, as data (Codable, the JSON file), as a
// terminal table (one column per bridge, with its ratio to the kernel bridge) and as an SVG
// plot. Every figure is a median over the interleaved rounds; the trials themselves are kept
// in the JSON, each with the load average before it, so a reader can judge the noise.

import Foundation

/// The machine and settings a run was made on.
public struct BenchEnvironment: Codable, Equatable, Sendable {
    public var date: String
    public var kernel: String
    public var cpus: Int
    public var cpuModel: String
    public var swbridgeVersion: String
    public var hosts: Int
    public var mtu: Int
    public var offloads: String
    public var rounds: Int
    public var quick: Bool

    public static func current(hosts: Int, mtu: Int, offloads: OffloadProfile, rounds: Int, quick: Bool, version: String) -> BenchEnvironment {
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let f = ISO8601DateFormatter()
        return BenchEnvironment(
            date: f.string(from: Date()), kernel: release, cpus: ProcessInfo.processInfo.activeProcessorCount,
            cpuModel: model, swbridgeVersion: version, hosts: hosts, mtu: mtu, offloads: offloads.rawValue,
            rounds: rounds, quick: quick)
    }

    /// The 1-minute load average now.
    public static func loadAverage() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return 0 }
        return Double(text.split(separator: " ").first ?? "0") ?? 0
    }
}

/// One measurement of one bridge in one round.
public struct BenchTrial: Codable, Equatable, Sendable {
    public var bridge: String
    public var round: Int
    /// `idle`, `ping`, `tcp1`, `tcpN`, `frames` (max rate, one size; with `search` = 1 a trial of
    /// the zero-loss search: a point of loss versus offered load), `latency`, `ndr` (zero-loss
    /// search), `latency_ndr50`, `burst` / `back_to_back` (RFC 2544 back-to-back), `learning` /
    /// `learning_rate`, `capacity` / `capacity_result`, `flood_stop`, `broadcast` (RFC 2889), `bcast_ref` / `uflood` / `uflood_ref`
    /// (floods of broadcast and unknown unicast at max rate and at the kernel bridge's rate).
    public var kind: String
    public var loadAverageBefore: Double
    public var values: [String: Double]
    /// Why a trial was skipped or failed, when it was.
    public var note: String?
}

/// The medians of one bridge.
public struct BridgeSummary: Codable, Equatable, Sendable {
    public var bridge: String
    public var metrics: [String: Double]
}

/// A whole run.
public struct CompareReport: Codable, Equatable, Sendable {
    public var environment: BenchEnvironment
    public var bridges: [String]
    public var trials: [BenchTrial]
    public var summaries: [BridgeSummary]
    /// Why some measurements are missing (tools not installed ...).
    public var skipped: [String]

    /// Metric names, their display label and unit, and which direction is better.
    public static let metrics: [(key: String, label: String, largerIsBetter: Bool)] = [
        ("ping_avg_us", "ping RTT avg (µs)", false),
        ("ping_p50_us", "ping RTT p50 (µs)", false),
        ("ping_p99_us", "ping RTT p99 (µs)", false),
        ("tcp1_gbps", "TCP 1 stream (Gbit/s)", true),
        ("tcp1_retransmits", "TCP 1 stream retransmits", false),
        ("tcp1_cpu_s_per_gb", "TCP 1 stream: system CPU per GB moved (s)", false),
        ("tcp1_bridge_cpu_s_per_gb", "TCP 1 stream: bridge process CPU per GB (s)", false),
        ("tcpN_gbps", "TCP N streams (Gbit/s)", true),
        ("tcpN_cpu_s_per_gb", "TCP N streams: system CPU per GB moved (s)", false),
        ("tcpN_bridge_cpu_s_per_gb", "TCP N streams: bridge process CPU per GB (s)", false),
        ("tcp_csum_errors", "TcpInCsumErrors", false),
        ("frames64_offered_fps", "64 B offered (frames/s)", true),
        ("frames64_delivered_fps", "64 B delivered at max rate (frames/s)", true),
        ("frames64_loss_pct", "64 B loss at max rate (%)", false),
        ("ndr64_fps", "64 B zero-loss rate, RFC 2544 (frames/s)", true),
        ("pdr64_fps", "64 B rate at <= 0.5% loss (frames/s)", true),
        ("oneway_p50_us", "one-way latency p50 at 10k fps (µs)", false),
        ("oneway_p99_us", "one-way latency p99 at 10k fps (µs)", false),
        ("ndr50_oneway_p50_us", "one-way p50 at 50% of zero-loss rate (µs)", false),
        ("ndr50_oneway_p99_us", "one-way p99 at 50% of zero-loss rate (µs)", false),
        ("b2b64_frames", "64 B back-to-back burst, zero loss (frames)", true),
        ("learn_rate_fps", "RFC 2889 address learning rate (frames/s)", true),
        ("mac_capacity", "RFC 2889 address caching capacity (MACs)", true),
        ("flood_stop_ms", "flooding to a newly learned MAC stops after (ms)", false),
        ("bcast_fps", "RFC 2889 broadcast forwarded, per host (frames/s)", true),
        ("bcast_loss_pct", "RFC 2889 broadcast loss, worst host (%)", false),
        ("bcast_ref_offered_fps", "broadcast at the kernel's rate: offered (frames/s)", true),
        ("bcast_ref_loss_pct", "broadcast at the kernel's rate: loss, worst host (%)", false),
        ("uflood_fps", "unknown-unicast flood forwarded, per host (frames/s)", true),
        ("uflood_loss_pct", "unknown-unicast flood loss, worst host (%)", false),
        ("uflood_ref_offered_fps", "unknown unicast at the kernel's rate: offered (frames/s)", true),
        ("uflood_ref_loss_pct", "unknown unicast at the kernel's rate: loss, worst (%)", false),
        ("cpu_us_per_frame64", "system CPU per 64 B frame (µs)", false),
        ("bridge_cpu_us_per_frame64", "bridge process CPU per 64 B frame (µs)", false),
        ("idle_cpu_pct", "bridge CPU while idle (% of a core)", false),
        ("mcast_offered_fps", "multicast, 1 member of 3 hosts: offered (frames/s)", true),
        ("mcast_delivered_fps", "multicast: delivered to the member (frames/s)", true),
        ("mcast_delivered", "multicast: delivered to the member (frames)", true),
        ("mcast_leaked", "multicast: leaked to the non-member (frames)", false),
    ]

    /// Medians per bridge and metric from the trials.
    public static func summarize(bridges: [String], trials: [BenchTrial]) -> [BridgeSummary] {
        bridges.map { b in
            var byKey: [String: [Double]] = [:]
            for t in trials where t.bridge == b {
                for (k, v) in t.values where v.isFinite { byKey[k, default: []].append(v) }
            }
            return BridgeSummary(bridge: b, metrics: byKey.mapValues(median))
        }
    }

    /// The terminal table: one column per bridge, then its ratio to the kernel bridge.
    public func table() -> String {
        let kernel = summaries.first { $0.bridge == "kernel" }
        var header = ["metric"]
        for s in summaries {
            header.append(s.bridge)
            if kernel != nil && s.bridge != "kernel" { header.append("× kernel") }
        }
        var rows: [[String]] = [header]
        for m in Self.metrics where summaries.contains(where: { $0.metrics[m.key] != nil }) {
            var row = [m.label]
            for s in summaries {
                // "≥": the search reached its bound (or flooding outlasted the window).
                let atLeast = s.metrics[m.key + "_bounded"].map { $0 >= 0.5 } ?? false
                row.append(s.metrics[m.key].map { (atLeast ? "≥" : "") + Self.format($0) } ?? "-")
                if let kernel, s.bridge != "kernel" {
                    // A ratio of loss percentages says nothing (0.02% against 0.5% is "25×").
                    if !m.key.hasSuffix("_loss_pct"), let a = s.metrics[m.key], let k = kernel.metrics[m.key], k != 0 {
                        row.append(String(format: "%.2f", a / k))
                    } else {
                        row.append("-")
                    }
                }
            }
            rows.append(row)
        }
        let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = ""
        for (i, r) in rows.enumerated() {
            out += r.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ") + "\n"
            if i == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        let env = environment
        out += "\n\(env.date), Linux \(env.kernel), \(env.cpus) CPUs (\(env.cpuModel)), \(env.hosts) hosts, MTU \(env.mtu), offloads \(env.offloads), medians of \(env.rounds) interleaved round(s)\n"
        if summaries.contains(where: { s in s.metrics.keys.contains { $0.hasSuffix("_bounded") } }) {
            out += "≥: the search reached its bound (or flooding lasted the whole window); the true figure may be higher\n"
        }
        for s in skipped { out += "skipped: \(s)\n" }
        var seen = Set<String>()
        for t in trials {
            guard let note = t.note else { continue }
            let line = "note: \(t.bridge), round \(t.round), \(t.kind): \(note)"
            if seen.insert(line).inserted { out += line + "\n" }
        }
        return out
    }

    static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e6 { return String(format: "%.2fM", v / 1e6) }
        if abs(v) >= 1e4 { return String(format: "%.1fk", v / 1e3) }
        if abs(v) >= 100 { return String(format: "%.0f", v) }
        return String(format: "%.2f", v)
    }

    /// The JSON file's text.
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// An SVG plot, one line per bridge: delivered frames/s by frame size (left), delivered
    /// versus offered load for 64-byte frames (middle) and loss versus offered load (right).
    /// Built from `frames` trials whose values carry `size`, `offered_fps`, `delivered_fps` and
    /// `loss_pct` (max-rate trials and the zero-loss search's trials).
    public func svg() -> String {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        let w = 1320.0, h = 380.0, pad = 60.0, gap = 70.0
        let pw = (w - 2 * pad - 2 * gap) / 3, ph = h - 2 * pad
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(pad)" y="20" font-size="14">swbridge bench — \(environment.date.prefix(10)), Linux \(environment.kernel), \(environment.cpus) CPUs, offloads \(environment.offloads)</text>

            """
        func panel(x0: Double, title: String, xLabel: String, series: [(String, [(Double, Double)])], logX: Bool) {
            let pts = series.flatMap { $0.1 }
            guard !pts.isEmpty else {
                s += "<text x=\"\(x0)\" y=\"\(pad + ph / 2)\">\(title): no data</text>\n"
                return
            }
            let xs = pts.map { logX ? log2(max($0.0, 1)) : $0.0 }
            let xmin = xs.min()!, xmax = max(xs.max()!, xmin + 1)
            let ymax = max(pts.map(\.1).max()! * 1.1, 1)
            func px(_ x: Double) -> Double { x0 + ((logX ? log2(max(x, 1)) : x) - xmin) / (xmax - xmin) * pw }
            func py(_ y: Double) -> Double { pad + ph - y / ymax * ph }
            s += "<text x=\"\(x0)\" y=\"\(pad - 12)\" font-size=\"12\">\(title)</text>\n"
            s += "<rect x=\"\(x0)\" y=\"\(pad)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#888\"/>\n"
            for k in 0...4 {
                let y = ymax * Double(k) / 4
                s += "<text x=\"\(x0 - 4)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(Self.format(y))</text>\n"
                s += "<line x1=\"\(x0)\" x2=\"\(x0 + pw)\" y1=\"\(py(y))\" y2=\"\(py(y))\" stroke=\"#eee\"/>\n"
            }
            // Frame sizes: one tick each; offered load: five even ticks (the points are many).
            let ticks = logX ? Set(pts.map(\.0)).sorted() : (0...4).map { xmin + (xmax - xmin) * Double($0) / 4 }
            for x in ticks {
                s += "<text x=\"\(px(x))\" y=\"\(pad + ph + 14)\" text-anchor=\"middle\">\(Self.format(x))</text>\n"
            }
            s += "<text x=\"\(x0 + pw / 2)\" y=\"\(pad + ph + 30)\" text-anchor=\"middle\">\(xLabel)</text>\n"
            for (i, (name, points)) in series.enumerated() {
                let c = colors[i % colors.count]
                let sorted = points.sorted { $0.0 < $1.0 }
                s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(sorted.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " "))\"/>\n"
                for p in sorted { s += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3\" fill=\"\(c)\"/>\n" }
                s += "<text x=\"\(x0 + 8)\" y=\"\(pad + 16 + Double(i) * 14)\" fill=\"\(c)\">\(name)</text>\n"
            }
        }
        func medianSeries(_ key: String, by: String, filter: (BenchTrial) -> Bool) -> [(String, [(Double, Double)])] {
            bridges.map { b in
                var groups: [Double: [Double]] = [:]
                for t in trials where t.bridge == b && t.kind == "frames" && filter(t) {
                    if let x = t.values[by], let y = t.values[key] { groups[x, default: []].append(y) }
                }
                return (b, groups.map { ($0.key, median($0.value)) })
            }
        }
        panel(x0: pad, title: "delivered frames/s at max offered rate, by frame size", xLabel: "frame size (bytes)",
              series: medianSeries("delivered_fps", by: "size") { $0.values["max_rate"] == 1 }, logX: true)
        panel(x0: pad + pw + gap, title: "64 B frames: delivered vs offered (frames/s)", xLabel: "offered load (frames/s)",
              series: medianSeries("delivered_fps", by: "offered_fps") { $0.values["size"] == 64 }, logX: false)
        panel(x0: pad + 2 * (pw + gap), title: "64 B frames: loss (%) vs offered load", xLabel: "offered load (frames/s)",
              series: medianSeries("loss_pct", by: "offered_fps") { $0.values["size"] == 64 && $0.values["loss_pct"] != nil }, logX: false)
        s += "</svg>\n"
        return s
    }
}

/// The median of non-empty values (mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
