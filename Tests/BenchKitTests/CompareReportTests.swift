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
    }

    @Test func badNamesAndTemplatesAreClearErrors() {
        #expect(throws: BenchError.invalidBridge("linuxbridge", "unknown bridge (use kernel, swbridge, swbridge:OPTIONS or cmd:TEMPLATE)")) {
            try BridgeSpec.parse("linuxbridge")
        }
        #expect(throws: BenchError.invalidBridge("cmd:mybridge", "a cmd: template must name its ports with {ports} or {port1}, {port2}, ...")) {
            try BridgeSpec.parse("cmd:mybridge")
        }
        #expect(throws: BenchError.invalidBridge("cmd:b {ports} {bogus}", "unknown placeholder {bogus} (use {ports}, {port1}..., {name})")) {
            try BridgeSpec.parse("cmd:b {ports} {bogus}")
        }
        #expect((try? BridgeSpec.parse("ovs")) == nil)
    }
}

@Suite struct CompareReportTests {
    func trial(_ bridge: String, _ round: Int, _ kind: String, _ values: [String: Double]) -> BenchTrial {
        BenchTrial(bridge: bridge, round: round, kind: kind, loadAverageBefore: 0.5, values: values, note: nil)
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

    @Test func jsonRoundTripsAndPlotHasALinePerBridge() throws {
        let r = report
        let decoded = try JSONDecoder().decode(CompareReport.self, from: r.json())
        #expect(decoded == r)
        let svg = r.svg()
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4, "two panels, two bridges")
        #expect(svg.contains(">kernel<") && svg.contains(">swbridge<"))
    }
}
