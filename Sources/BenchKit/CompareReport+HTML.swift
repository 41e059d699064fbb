// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CompareReport as one self-contained HTML page (`swbridge bench --html FILE`): the comparison
// table, the plots (delivered by frame size, delivered vs offered load, loss vs offered load,
// the latency percentiles per bridge) as inline SVG, and every trial with its load average and
// note, so a run can be attached to a ticket and read in any browser. Nothing is fetched: no
// scripts, fonts, styles or images from elsewhere (the test checks there is no URL at all).
//
// The report keeps latency as percentiles (p50, p99, average, maximum per trial), not whole
// histograms, so the latency plot shows, per bridge and per kind of latency, each round's
// p50–p99 range with its p50, average and maximum marked.

import Foundation

extension CompareReport {
    /// The whole page.
    public func html() -> String {
        let env = environment
        var h = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>swbridge bench \(Self.escape(String(env.date.prefix(10))))</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222; }
            table { border-collapse: collapse; margin: 12px 0 24px; font-size: 13px; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; }
            th { background: #f3f3f3; text-align: left; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            td.better { background: #e8f5e9; }
            td.worse { background: #fdecea; }
            .env { color: #555; font-size: 13px; }
            details { margin: 12px 0; }
            svg { max-width: 100%; height: auto; }
            </style>
            </head>
            <body>
            <h1>swbridge bench</h1>
            <p class="env">\(Self.escape("\(env.date), Linux \(env.kernel), \(env.cpus) CPUs (\(env.cpuModel)), \(env.hosts) hosts, MTU \(env.mtu), offloads \(env.offloads), medians of \(env.rounds) interleaved round(s), swbridge \(env.swbridgeVersion)"))</p>
            <p class="env">Figures move ±30% between runs on a VM: compare bridges within this run only.</p>

            """
        h += "<h2>Comparison</h2>\n" + comparisonTable()
        if !skipped.isEmpty {
            h += "<ul>\n" + skipped.map { "<li>skipped: \(Self.escape($0))</li>\n" }.joined() + "</ul>\n"
        }
        h += "<h2>Frames: delivered and lost</h2>\n" + Self.inline(escapedForMarkup().svg())
        h += "<h2>Latency per bridge</h2>\n" + latencySVG()
        h += "<h2>Every trial</h2>\n" + trialsTable()
        h += "</body>\n</html>\n"
        return h
    }

    /// The medians, one column per bridge, with the ratio to the kernel bridge.
    func comparisonTable() -> String {
        let kernel = summaries.first { $0.bridge == "kernel" }
        var t = "<table class=\"comparison\">\n<tr><th>metric</th>"
        for s in summaries {
            t += "<th>\(Self.escape(s.bridge))</th>"
            if kernel != nil && s.bridge != "kernel" { t += "<th>× kernel</th>" }
        }
        t += "</tr>\n"
        for m in Self.metrics where summaries.contains(where: { $0.metrics[m.key] != nil }) {
            t += "<tr><td>\(Self.escape(m.label))</td>"
            for s in summaries {
                let atLeast = s.metrics[m.key + "_bounded"].map { $0 >= 0.5 } ?? false
                t += "<td class=\"num\">\(s.metrics[m.key].map { (atLeast ? "≥" : "") + Self.format($0) } ?? "-")</td>"
                if let kernel, s.bridge != "kernel" {
                    if let a = s.metrics[m.key], let k = kernel.metrics[m.key], k != 0 {
                        let ratio = a / k
                        let better = m.largerIsBetter ? ratio >= 1 : ratio <= 1
                        t += "<td class=\"num \(better ? "better" : "worse")\">\(String(format: "%.2f", ratio))</td>"
                    } else {
                        t += "<td class=\"num\">-</td>"
                    }
                }
            }
            t += "</tr>\n"
        }
        return t + "</table>\n"
    }

    /// Every trial: bridge, round, kind, load average before it, its values and note.
    func trialsTable() -> String {
        var t = "<table class=\"trials\">\n<tr><th>bridge</th><th>round</th><th>trial</th><th>load before</th><th>values</th><th>note</th></tr>\n"
        for trial in trials {
            let values = trial.values.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.format($0.value))" }.joined(separator: " ")
            t += "<tr class=\"trial\"><td>\(Self.escape(trial.bridge))</td><td class=\"num\">\(trial.round)</td><td>\(Self.escape(trial.kind))</td>"
                + "<td class=\"num\">\(String(format: "%.2f", trial.loadAverageBefore))</td><td>\(Self.escape(values))</td>"
                + "<td>\(Self.escape(trial.note ?? ""))</td></tr>\n"
        }
        return t + "</table>\n"
    }

    /// The latency percentiles: one row per bridge and kind, one bar per round (p50 to p99),
    /// with the average (diamond) and maximum (cross) where the trial has them, on a log scale.
    func latencySVG() -> String {
        let kinds: [(kind: String, label: String, p50: String, p99: String, avg: String, max: String?)] = [
            ("ping", "ping RTT", "ping_p50_us", "ping_p99_us", "ping_avg_us", "ping_max_us"),
            ("latency", "one-way, 10k frames/s", "oneway_p50_us", "oneway_p99_us", "oneway_avg_us", nil),
            ("latency_ndr50", "one-way, 50% of zero-loss rate", "ndr50_oneway_p50_us", "ndr50_oneway_p99_us", "ndr50_oneway_avg_us", nil),
        ]
        struct Row { var label: String; var color: String; var rounds: [(p50: Double, p99: Double, avg: Double?, max: Double?)] }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        var rows: [Row] = []
        for k in kinds {
            for (i, b) in bridges.enumerated() {
                let rounds = trials.filter { $0.bridge == b && $0.kind == k.kind }.compactMap { t -> (Double, Double, Double?, Double?)? in
                    guard let p50 = t.values[k.p50], let p99 = t.values[k.p99], p50.isFinite, p99.isFinite else { return nil }
                    return (p50, p99, t.values[k.avg], k.max.flatMap { t.values[$0] })
                }
                if !rounds.isEmpty { rows.append(Row(label: "\(k.label): \(b)", color: colors[i % colors.count], rounds: rounds)) }
            }
        }
        guard !rows.isEmpty else { return "<p>No latency trials in this run.</p>\n" }
        let values = rows.flatMap { $0.rounds.flatMap { [$0.p50, $0.p99] + [$0.avg, $0.max].compactMap { $0 } } }.filter { $0 > 0 }
        let lo = log10(max(values.min() ?? 1, 0.1)).rounded(.down), hi = max(log10(max(values.max() ?? 10, 1)).rounded(.up), lo + 1)
        let labelWidth = 420.0, plotWidth = 700.0, rowHeight = 22.0, top = 30.0
        let width = labelWidth + plotWidth + 30, height = top + Double(rows.count) * rowHeight + 40
        func x(_ v: Double) -> Double { labelWidth + (log10(max(v, 0.1)) - lo) / (hi - lo) * plotWidth }
        var s = "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(labelWidth)\" y=\"16\" font-size=\"12\">latency (µs, log scale): bar p50 to p99 per round, dot p50, diamond average, cross maximum</text>\n"
        var decade = lo
        while decade <= hi {
            let v = pow(10, decade)
            s += "<line x1=\"\(x(v))\" x2=\"\(x(v))\" y1=\"\(top)\" y2=\"\(height - 30)\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(x(v))\" y=\"\(height - 16)\" text-anchor=\"middle\">\(Self.escape(Self.format(v)))</text>\n"
            decade += 1
        }
        for (r, row) in rows.enumerated() {
            let y0 = top + Double(r) * rowHeight
            s += "<text x=\"\(labelWidth - 8)\" y=\"\(y0 + 14)\" text-anchor=\"end\" fill=\"\(row.color)\">\(Self.escape(row.label))</text>\n"
            let step = (rowHeight - 6) / Double(max(row.rounds.count, 1))
            for (i, p) in row.rounds.enumerated() {
                let y = y0 + 3 + step * (Double(i) + 0.5)
                s += "<line x1=\"\(x(p.p50))\" x2=\"\(x(p.p99))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"\(row.color)\" stroke-width=\"\(max(step - 1, 2))\" stroke-opacity=\"0.45\"/>\n"
                s += "<circle cx=\"\(x(p.p50))\" cy=\"\(y)\" r=\"3\" fill=\"\(row.color)\"/>\n"
                if let a = p.avg, a > 0 {
                    s += "<path d=\"M\(x(a)) \(y - 4) L\(x(a) + 4) \(y) L\(x(a)) \(y + 4) L\(x(a) - 4) \(y) Z\" fill=\"none\" stroke=\"\(row.color)\"/>\n"
                }
                if let m = p.max, m > 0 {
                    s += "<path d=\"M\(x(m) - 3) \(y - 3) L\(x(m) + 3) \(y + 3) M\(x(m) - 3) \(y + 3) L\(x(m) + 3) \(y - 3)\" stroke=\"\(row.color)\"/>\n"
                }
            }
        }
        return s + "</svg>\n"
    }

    /// A copy whose bridge names are escaped for markup (the SVG plot writes them as text; a
    /// `cmd:` bridge's template may hold `<`, `>` or `&`).
    func escapedForMarkup() -> CompareReport {
        var copy = self
        copy.bridges = bridges.map(Self.escape)
        copy.trials = trials.map { t in
            var t = t
            t.bridge = Self.escape(t.bridge)
            return t
        }
        copy.summaries = summaries.map { BridgeSummary(bridge: Self.escape($0.bridge), metrics: $0.metrics) }
        return copy
    }

    /// An SVG document as an element of the page: HTML needs no namespace declaration, and
    /// leaving it out keeps the page free of any URL.
    static func inline(_ svg: String) -> String {
        svg.replacingOccurrences(of: " xmlns=\"http://www.w3.org/2000/svg\"", with: "")
    }

    /// Text for HTML and SVG: `&`, `<`, `>` and quotes escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
