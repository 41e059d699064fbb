// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Foundation
import Testing
@testable import BenchKit

@Suite struct BridgeSpecTests {
    @Test func parsesTheBridgeNames() throws {
        #expect(try BridgeSpec.parse("kernel") == .kernel)
        #expect(try BridgeSpec.parse("swbridge") == .swbridge(arguments: []))
        #expect(try BridgeSpec.parse("swbridge:--threads 2") == .swbridge(arguments: ["--threads", "2"]))
        #expect(try BridgeSpec.parse("cmd:mybridge {name} {ports}") == .command(template: "mybridge {name} {ports}"))
        #expect(try BridgeSpec.parse("cmd:x -i {port1} -i {port2}") == .command(template: "x -i {port1} -i {port2}"))
        #expect(try BridgeSpec.parse("ovs") == .ovs(afxdp: false))
        #expect(try BridgeSpec.parse("ovs-afxdp") == .ovs(afxdp: true))
        #expect(BridgeSpec.ovs(afxdp: false).label == "ovs" && BridgeSpec.ovs(afxdp: true).label == "ovs-afxdp")
        // Another build, to measure a change side by side.
        #expect(try BridgeSpec.parse("swbridge=/bin/sh") == .swbridge(arguments: [], binary: "/bin/sh"))
        let other = try BridgeSpec.parse("swbridge=/bin/sh:--threads 2")
        #expect(other == .swbridge(arguments: ["--threads", "2"], binary: "/bin/sh"))
        #expect(other.label == "swbridge=/bin/sh --threads 2")
        #expect(throws: BenchError.self) { try BridgeSpec.parse("swbridge=/no/such/swbridge") }
    }

    @Test func ovsIsSkippedWithAReasonOnlyWhenNotInstalled() {
        #expect(BridgeSpec.kernel.unavailableReason == nil && BridgeSpec.swbridge(arguments: []).unavailableReason == nil)
        if OVSInstance.isInstalled {
            #expect(BridgeSpec.ovs(afxdp: false).unavailableReason == nil)
        } else {
            #expect(BridgeSpec.ovs(afxdp: false).unavailableReason == "ovs: openvswitch-switch not installed; skipped")
            #expect(BridgeSpec.ovs(afxdp: true).unavailableReason == "ovs-afxdp: openvswitch-switch not installed; skipped")
        }
        #expect(OVSInstance.locate("sh") != nil && OVSInstance.locate("no-such-program-swb") == nil)
    }

    @Test func badNamesAndTemplatesAreClearErrors() {
        #expect(throws: BenchError.invalidBridge("linuxbridge", "unknown bridge (use kernel, swbridge, swbridge:OPTIONS, swbridge=PATH, ovs, ovs-afxdp or cmd:TEMPLATE)")) {
            try BridgeSpec.parse("linuxbridge")
        }
        #expect(throws: BenchError.invalidBridge("cmd:mybridge", "a cmd: template must name its ports with {ports} or {port1}, {port2}, ...")) {
            try BridgeSpec.parse("cmd:mybridge")
        }
        #expect(throws: BenchError.invalidBridge("cmd:b {ports} {bogus}", "unknown placeholder {bogus} (use {ports}, {port1}..., {name})")) {
            try BridgeSpec.parse("cmd:b {ports} {bogus}")
        }
        #expect((try? BridgeSpec.parse("ovs-dpdk")) == nil)
    }
}

@Suite struct CompareReportTests {
    func trial(_ bridge: String, _ round: Int, _ kind: String, _ values: [String: Double], note: String? = nil) -> BenchTrial {
        BenchTrial(bridge: bridge, round: round, kind: kind, loadAverageBefore: 0.5, values: values, note: note)
    }

    var report: CompareReport {
        let trials = [
            trial("kernel", 1, "ping", ["ping_avg_us": 60]), trial("swbridge", 1, "ping", ["ping_avg_us": 90]),
            trial("kernel", 2, "ping", ["ping_avg_us": 80]), trial("swbridge", 2, "ping", ["ping_avg_us": 110]),
            trial("kernel", 3, "ping", ["ping_avg_us": 70]), trial("swbridge", 3, "ping", ["ping_avg_us": 500]),
            trial("kernel", 1, "frames", ["size": 64, "max_rate": 1, "offered_fps": 2e5, "delivered_fps": 1e5]),
            trial("swbridge", 1, "frames", ["size": 64, "max_rate": 1, "offered_fps": 3e5, "delivered_fps": 2e5]),
            trial("kernel", 1, "frames", ["size": 1518, "max_rate": 1, "offered_fps": 5e4, "delivered_fps": 5e4]),
            trial("swbridge", 1, "frames", ["size": 1518, "max_rate": 1, "offered_fps": 6e4, "delivered_fps": 6e4]),
            trial("kernel", 1, "frames", ["size": 64, "search": 1, "offered_fps": 1e5, "delivered_fps": 1e5, "loss_pct": 0]),
            trial("swbridge", 1, "frames", ["size": 64, "search": 1, "offered_fps": 1.5e5, "delivered_fps": 1.2e5, "loss_pct": 20]),
            trial("kernel", 1, "capacity_result", ["mac_capacity": 4096, "mac_capacity_bounded": 1]),
            trial("swbridge", 1, "capacity_result", ["mac_capacity": 2048]),
            trial("kernel", 1, "flood_stop", ["flood_stop_ms": 0.05]),
            trial("swbridge", 1, "flood_stop", ["flood_stop_ms": 0.1]),
            trial("swbridge", 1, "tcp1", ["tcp1_gbps": 0], note: "no TCP result (connection failed?)"),
        ]
        let env = BenchEnvironment(date: "2026-11-29T10:00:00Z", kernel: "6.18", cpus: 2, cpuModel: "test", swbridgeVersion: "dev",
                                   hosts: 3, mtu: 1500, offloads: "defaults", rounds: 3, quick: false)
        return CompareReport(environment: env, bridges: ["kernel", "swbridge"], trials: trials,
                             summaries: CompareReport.summarize(bridges: ["kernel", "swbridge"], trials: trials), skipped: ["TCP: test"])
    }

    @Test func summariesAreMediansOverRounds() {
        let r = report
        #expect(r.summaries[0].metrics["ping_avg_us"] == 70)
        #expect(r.summaries[1].metrics["ping_avg_us"] == 110, "one outlier round does not move the median")
        #expect(median([1, 2, 3, 4]) == 2.5 && median([]).isNaN)
    }

    @Test func tableShowsRatiosToTheKernel() {
        let text = report.table()
        let line = text.split(separator: "\n").first { $0.hasPrefix("ping RTT avg") }
        #expect(line != nil)
        #expect(line?.hasSuffix("1.57") == true, "110 / 70")
        #expect(text.contains("× kernel") && text.contains("skipped: TCP: test") && text.contains("Linux 6.18"))
    }

    @Test func tableMarksBoundedFiguresAndListsNotes() {
        let text = report.table()
        let capacity = text.split(separator: "\n").first { $0.hasPrefix("RFC 2889 address caching capacity") }
        #expect(capacity?.contains("≥4096") == true && capacity?.hasSuffix("0.50") == true, "2048 / 4096")
        #expect(text.contains("flooding to a newly learned MAC stops after"))
        #expect(text.contains("note: swbridge, round 1, tcp1: no TCP result (connection failed?)"))
        #expect(text.contains("≥: the search reached its bound"))
    }

    @Test func jsonRoundTripsAndPlotHasALinePerBridge() throws {
        let r = report
        let decoded = try JSONDecoder().decode(CompareReport.self, from: r.json())
        #expect(decoded == r)
        let svg = r.svg()
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 6, "three panels, two bridges")
        #expect(svg.contains("loss (%) vs offered load") && !svg.contains("no data"))
        #expect(svg.contains(">kernel<") && svg.contains(">swbridge<"))
    }
}
