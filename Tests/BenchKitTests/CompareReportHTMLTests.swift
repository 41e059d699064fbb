// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `bench --html`: the page is whole (balanced elements), names every bridge and every trial,
// escapes what a cmd: bridge's template may hold, and fetches nothing (no URL at all).

@testable import BenchKit
import Foundation
import Testing

@Suite struct CompareReportHTMLTests {
    /// A run of three bridges, one of them a cmd: template full of markup characters.
    static var report: CompareReport {
        let odd = "cmd:a <b> & 'c' {ports}"
        let bridges = ["kernel", "swbridge", odd]
        var trials: [BenchTrial] = []
        func add(_ b: String, _ round: Int, _ kind: String, _ values: [String: Double], note: String? = nil) {
            trials.append(BenchTrial(bridge: b, round: round, kind: kind, loadAverageBefore: 0.4 + Double(round) / 10, values: values, note: note))
        }
        for (i, b) in bridges.enumerated() {
            let f = Double(i + 1)
            for round in 1...2 {
                add(b, round, "ping", ["ping_avg_us": 60 * f, "ping_p50_us": 50 * f, "ping_p99_us": 150 * f, "ping_max_us": 400 * f])
                add(b, round, "latency", ["oneway_p50_us": 30 * f, "oneway_p99_us": 90 * f, "oneway_avg_us": 40 * f])
                for size in [64.0, 512, 1518] {
                    add(b, round, "frames", ["size": size, "max_rate": 1, "offered_fps": 3e5 / size * 64, "delivered_fps": 2e5 / size * 64 / f])
                }
                for (k, rate) in [5e4, 1e5, 1.5e5, 2e5].enumerated() {
                    add(b, round, "frames", ["size": 64, "search": 1, "offered_fps": rate, "delivered_fps": min(rate, 1.2e5 / f),
                                             "loss_pct": max(0, 100 * (rate - 1.2e5 / f) / rate), "trial": Double(k)])
                }
            }
        }
        add(odd, 1, "tcp1", ["tcp1_gbps": 0], note: "no TCP result (<connection> failed & gone)")
        let env = BenchEnvironment(date: "2026-11-29T10:00:00Z", kernel: "6.18", cpus: 2, cpuModel: "test", swbridgeVersion: "dev",
                                   hosts: 3, mtu: 1500, offloads: "defaults", rounds: 2, quick: true)
        return CompareReport(environment: env, bridges: bridges, trials: trials,
                             summaries: CompareReport.summarize(bridges: bridges, trials: trials), skipped: ["OVS: not installed"])
    }

    @Test func pageIsWholeAndSelfContained() {
        let r = Self.report
        let page = r.html()
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.hasSuffix("</html>\n"))
        for tag in ["html", "head", "body", "table", "svg", "tr", "style", "title"] {
            let opened = page.components(separatedBy: "<\(tag)").count - 1
            let closed = page.components(separatedBy: "</\(tag)>").count - 1
            #expect(opened == closed && opened > 0, "<\(tag)>: \(opened) opened, \(closed) closed")
        }
        #expect(!page.contains("http://") && !page.contains("https://"), "no URL, so nothing is fetched")
        #expect(!page.contains("<script") && !page.contains("<img") && !page.contains("<link"))
        // Every bridge, escaped; every trial has its row.
        for b in r.bridges { #expect(page.contains(CompareReport.escape(b)), "\(b)") }
        #expect(!page.contains("<b>") && page.contains("cmd:a &lt;b&gt; &amp; &#39;c&#39; {ports}"))
        #expect(page.components(separatedBy: "<tr class=\"trial\">").count - 1 == r.trials.count)
        #expect(page.contains("no TCP result (&lt;connection&gt; failed &amp; gone)"))
        // The plots: three frame panels with a line per bridge, and the latency rows.
        #expect(page.components(separatedBy: "<polyline").count - 1 == 9)
        #expect(page.contains("ping RTT: kernel") && page.contains("one-way, 10k frames/s: swbridge"))
        #expect(page.contains("× kernel") && page.contains("skipped: OVS: not installed"))
    }

    @Test func ratiosAreMarkedBetterOrWorse() {
        let table = Self.report.comparisonTable()
        let ping = table.split(separator: "\n").first { $0.contains("ping RTT avg") } ?? ""
        // swbridge's average RTT is twice the kernel's: worse.
        #expect(ping.contains("<td class=\"num worse\">2.00</td>"))
    }

    @Test func aRunWithoutLatencySaysSo() {
        var r = Self.report
        r.trials = r.trials.filter { $0.kind == "frames" }
        #expect(r.latencySVG().contains("No latency trials"))
    }
}
