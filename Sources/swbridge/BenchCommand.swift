// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge bench`: build a lab, run every bridge on it in turn (interleaved rounds), print
// a table with ratios to the kernel bridge, write the JSON and the SVG plot. The work is
// BenchKit's; this only parses options and prints.
import ArgumentParser
import BenchKit
import LabKit
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark bridges side by side on one lab: throughput, latency, CPU.",
        discussion: """
            Bridges: kernel (Linux bridge, STP off), swbridge (this build), swbridge:OPTIONS \
            (e.g. 'swbridge:--threads 2'), ovs (a private Open vSwitch, userspace datapath, AF_PACKET \
            ports), ovs-afxdp (the same with AF_XDP ports), cmd:TEMPLATE (any bridge program; {ports}, \
            {port1}..., {name}). OVS needs openvswitch-switch; without it the run skips it and says so.
            Measures: ping and one-way latency, TCP (iperf3), frames/s and loss per frame size, RFC 2544 \
            zero-loss rate, loss versus offered load, back-to-back bursts, RFC 2889 address learning rate, \
            address caching capacity, broadcast forwarding rate, the time flooding to a newly learned MAC \
            goes on, CPU per frame and idle CPU.
            Traffic stays inside the lab's own namespaces (198.18.0.0/24); the lab is removed at the end.
            """)

    @Option(name: .customLong("bridge"), help: "A bridge to measure (repeat; default: kernel and swbridge).")
    var bridges: [String] = []

    @Option(name: .long, help: "Host namespaces in the lab.")
    var hosts: Int = 3

    @Option(name: .long, help: "MTU of every veth.")
    var mtu: Int = 1500

    @Option(name: .long, help: "Offload profile: defaults (veth defaults) or off (TSO, GSO, GRO, tx checksum off).")
    var offloads: String = "defaults"

    @Flag(name: .long, help: "A short run (at most about 2 minutes for two bridges; OVS adds its own share).")
    var quick = false

    @Option(name: .long, help: "Interleaved rounds (default 1 with --quick, else 3).")
    var rounds: Int?

    @Option(name: .long, help: "Run only these trials, comma separated: idle, ping, tcp, frames, rfc2889, multicast (default: all).")
    var trials: String?

    @Option(name: .long, help: "Write every figure and the environment as JSON to FILE.")
    var output: String?

    @Option(name: .long, help: "Write the plot (SVG) to FILE.")
    var plot: String?

    @Option(name: .long, help: "Write one self-contained HTML page (table, plots, every trial; nothing fetched) to FILE.")
    var html: String?

    @Option(name: .long, help: ArgumentHelp("Measure nothing: read the report of an earlier run (its --output JSON) and write the table, --plot and --html from it.", valueName: "JSON"))
    var from: String?

    func run() throws {
        if let from {
            let report: CompareReport
            do {
                report = try JSONDecoder().decode(CompareReport.self, from: Data(contentsOf: URL(fileURLWithPath: from)))
            } catch {
                throw ValidationError("--from \(from): not a bench report (\(error))")
            }
            try write(report)
            return
        }
        var specs: [BridgeSpec] = []
        do {
            specs = try (bridges.isEmpty ? ["kernel", "swbridge"] : bridges).map { text throws(BenchError) in try BridgeSpec.parse(text) }
        } catch {
            throw ValidationError(error.description)
        }
        guard let profile = OffloadProfile(rawValue: offloads) else { throw ValidationError("--offloads must be defaults or off") }
        guard hosts >= 2 && hosts <= 32 else { throw ValidationError("--hosts must be 2...32") }
        guard mtu >= 576 && mtu <= 9000 else { throw ValidationError("--mtu must be 576...9000") }
        if let rounds, rounds < 1 || rounds > 20 { throw ValidationError("--rounds must be 1...20") }
        guard geteuid() == 0 else { throw ValidationError("swbridge bench needs root (network namespaces, AF_PACKET)") }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var options = CompareOptions(swbridgePath: exe)
        options.bridges = specs
        options.hosts = hosts
        options.mtu = mtu
        options.offloads = profile
        options.quick = quick
        options.rounds = rounds
        if let trials {
            var set = Set<TrialGroup>()
            for name in trials.split(separator: ",") {
                guard let g = TrialGroup(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                    throw ValidationError("--trials: unknown trial '\(name)' (use \(TrialGroup.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                set.insert(g)
            }
            guard !set.isEmpty else { throw ValidationError("--trials names no trial") }
            options.trials = set
        }
        // Ctrl-C or SIGTERM mid-run: remove the lab's namespaces and stop its bridges first.
        Lab.tearDownOnSignals()
        let started = Date()
        let runner = CompareRunner(options: options) { line in
            let t = Int(Date().timeIntervalSince(started))
            FileHandle.standardError.write(Data("\r\u{1B}[K[\(t / 60)m\(String(format: "%02d", t % 60))s] \(line)".utf8))
        }
        let report: CompareReport
        do {
            report = try runner.run()
        } catch {
            Lab.waitForSignalTeardown()
            throw error
        }
        Lab.waitForSignalTeardown()
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        try write(report)
    }

    /// The table on stdout, then the files asked for.
    private func write(_ report: CompareReport) throws {
        print(report.table())
        if let output {
            try report.json().write(to: URL(fileURLWithPath: output))
            print("JSON: \(output)")
        }
        if let plot {
            try Data(report.svg().utf8).write(to: URL(fileURLWithPath: plot))
            print("plot: \(plot)")
        }
        if let html {
            try Data(report.html().utf8).write(to: URL(fileURLWithPath: html))
            print("HTML: \(html)")
        }
    }
}
