// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// End to end: a short kernel-vs-swbridge comparison on a real lab; its JSON must hold every
// figure for both bridges.
import BenchKit
import BridgeControl
import Foundation
import LabKit
import Testing

@Suite(.serialized) struct CompareTests {
    /// This build's swbridge, next to the test executable.
    static var swbridgePath: String? {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test executable may sit inside an .xctest bundle directory.
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("swbridge").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    @Test(.privileged, .timeLimit(.minutes(3)))
    func shortComparisonHoldsEveryField() throws {
        let started = Date()
        let path = try #require(Self.swbridgePath, "swbridge binary not found next to the tests: run `swift build` first")
        var options = CompareOptions(swbridgePath: path)
        options.quick = true
        options.rounds = 1
        let report = try CompareRunner(options: options, progress: { _ in }).run()
        let json = try JSONSerialization.jsonObject(with: report.json()) as? [String: Any]
        let env = try #require(json?["environment"] as? [String: Any])
        for key in ["date", "kernel", "cpus", "cpuModel", "hosts", "mtu", "offloads", "rounds"] {
            #expect(env[key] != nil, "environment.\(key)")
        }
        #expect(report.bridges == ["kernel", "swbridge"])
        var required = ["idle_cpu_pct", "ping_avg_us", "ping_p50_us", "ping_p99_us", "frames64_offered_fps",
                        "frames64_delivered_fps", "frames64_loss_pct", "cpu_us_per_frame64", "oneway_p50_us", "oneway_p99_us",
                        // RFC 2544 back-to-back, RFC 2889 address trials
                        "b2b64_frames", "learn_rate_fps", "mac_capacity", "flood_stop_ms", "bcast_fps", "bcast_loss_pct"]
        if CompareTrials.hasIperf3 { required += ["tcp1_gbps", "tcpN_gbps", "tcp_csum_errors"] }
        for s in report.summaries {
            for key in required { #expect(s.metrics[key] != nil, "\(s.bridge): \(key)") }
            #expect((s.metrics["ping_avg_us"] ?? 0) > 0 && (s.metrics["frames64_delivered_fps"] ?? 0) > 0)
            #expect(s.metrics["tcp_csum_errors"] ?? 0 == 0, "\(s.bridge): TCP checksum errors")
        }
        #expect(report.summaries[1].metrics["bridge_cpu_us_per_frame64"] != nil, "swbridge's own CPU per frame")
        #expect(report.trials.allSatisfy { $0.loadAverageBefore >= 0 })
        #expect(report.svg().contains("<polyline"))
        #expect(report.trials.count >= 2 * 6, "idle, ping, TCP x2, frames x2, latency, search per bridge")
        for b in report.bridges {
            // The zero-loss search's trials: points of the loss-versus-offered-load curve.
            let curve = report.trials.filter { $0.bridge == b && $0.kind == "frames" && $0.values["search"] == 1 }
            #expect(curve.count >= 1, "\(b): loss-vs-load points (one when the maximum rate already passes)")
            #expect(curve.allSatisfy { $0.values["offered_fps"] != nil && $0.values["delivered_fps"] != nil && $0.values["loss_pct"] != nil })
            for kind in ["learning", "capacity", "burst", "broadcast", "flood_stop"] {
                #expect(report.trials.contains { $0.bridge == b && $0.kind == kind }, "\(b): \(kind) trials")
            }
        }
        let kernel = report.summaries[0].metrics
        #expect(kernel["flood_stop_ms"] ?? 99 < 5, "the kernel bridge stops flooding at once")
        // A measured capacity, not a constant: on a loaded machine lost learning frames lower it.
        #expect(kernel["mac_capacity"] ?? 0 >= 64, "the kernel bridge holds addresses")
        #expect(report.svg().contains("loss (%) vs offered load"))
        #expect(report.table().contains("RFC 2889 address learning rate"))
        // Quick mode takes ~1 minute for two bridges on a quiet machine (the README's figure);
        // this bound only catches a run that hangs or loops, whatever else shares the machine.
        #expect(Date().timeIntervalSince(started) < 240, "quick mode for two bridges: \(Int(Date().timeIntervalSince(started))) s")
    }

    @Test("--trials ping with a second build named by swbridge=PATH: only ping figures, for each bridge",
          .privileged, .timeLimit(.minutes(2)))
    func selectedTrialsAndAnotherBuild() throws {
        let path = try #require(Self.swbridgePath, "swbridge binary not found next to the tests: run `swift build` first")
        var options = CompareOptions(swbridgePath: path)
        options.quick = true
        options.rounds = 1
        options.hosts = 2
        options.trials = [.ping]
        options.bridges = [.swbridge(arguments: []), try BridgeSpec.parse("swbridge=\(path):--spin-us 10")]
        let report = try CompareRunner(options: options, progress: { _ in }).run()
        #expect(report.bridges == ["swbridge", "swbridge=\(path) --spin-us 10"])
        #expect(Set(report.trials.map(\.kind)) == ["ping"])
        for s in report.summaries {
            #expect((s.metrics["ping_p50_us"] ?? 0) > 0, "\(s.bridge)")
            #expect(s.metrics["tcp1_gbps"] == nil && s.metrics["frames64_delivered_fps"] == nil, "\(s.bridge)")
        }
    }

    @Test("SIGTERM in the middle of swbridge bench: the lab's namespaces and its bridge are gone, exit status 143",
          .privileged, .timeLimit(.minutes(3)))
    func interruptedBenchLeavesNothing() throws {
        let path = try #require(Self.swbridgePath, "swbridge binary not found next to the tests: run `swift build` first")
        func namespaces(_ prefix: String) -> [String] {
            let out = (try? Lab.execute(["ip", "netns", "list"], timeout: .seconds(10)).standardOutput) ?? ""
            return out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
                .filter { $0.hasPrefix(prefix + "-") }
        }
        // The bench names its lab on stderr ("lab swbXXXX: ..."): only that lab is checked, so
        // other tests' labs (parallel runs) do not count.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("swb-bench-\(getpid())-\(Int.random(in: 0..<1_000_000)).err").path
        let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(err >= 0)
        defer { unlink(errPath) }
        let bench = try ChildProcess([path, "bench", "--quick", "--hosts", "2", "--trials", "ping,frames", "--bridge", "swbridge"],
                                     standardError: err)
        close(err)
        defer { if bench.isRunning { bench.signal(SIGKILL) } }
        // Wait until its lab exists and its bridge runs, then interrupt it.
        let deadline = ContinuousClock.now + .seconds(20)
        var prefix: String? = nil
        var created: [String] = []
        while ContinuousClock.now < deadline && bench.isRunning {
            let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            if prefix == nil, let r = text.range(of: #"lab (swb[0-9a-f]{4}):"#, options: .regularExpression) {
                prefix = String(text[r].dropFirst(4).dropLast())
            }
            if let prefix {
                created = namespaces(prefix)
                if created.count >= 3 { break }
            }
            usleep(50_000)
        }
        let lab = try #require(prefix, "the bench names its lab")
        #expect(created.count >= 3, "the bench built its lab: \(created)")
        // Its bridge runs once the bridge's control socket answers (BenchKit names the bridge
        // after the lab: prefix + "b").
        let bridgeRuns = waitUntil(timeout: .seconds(60), interval: .milliseconds(50)) {
            guard bench.isRunning else { return true }
            return (try? ControlClient.send(.stats, bridge: lab + "b", timeout: .seconds(5)).ok) == true
        }
        #expect(bridgeRuns && bench.isRunning, "the bench's bridge never answered")
        bench.terminate()
        #expect(bench.wait(timeout: .seconds(20)), "the bench exits after SIGTERM")
        #expect(bench.terminationStatus == 128 + SIGTERM)
        #expect(namespaces(lab).isEmpty, "left behind: \(namespaces(lab))")
        let ps = try Lab.execute(["ps", "-eo", "args"], timeout: .seconds(10)).standardOutput
        #expect(!ps.contains("--name \(lab)"), "the bridge of lab \(lab) still runs")
    }
}
