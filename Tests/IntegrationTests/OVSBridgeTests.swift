// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// A private Open vSwitch as a bridge under test: when openvswitch-switch is installed it starts
// in the lab's bridge namespace, forwards a ping and stops leaving nothing behind (no daemon,
// no directory, no device); when it is not, a run asking for it reports a clear skip.
import BenchKit
import Foundation
import LabKit
import Testing

@Suite(.serialized) struct OVSBridgeTests {
    @Test(.privileged, .timeLimit(.minutes(2)))
    func ovsStartsForwardsAndStopsCleanly() throws {
        guard OVSInstance.isInstalled else {
            var options = CompareOptions(swbridgePath: "/nonexistent")
            options.bridges = [.ovs(afxdp: false)]
            options.quick = true
            let report = try CompareRunner(options: options, progress: { _ in }).run()
            #expect(report.skipped.contains("ovs: openvswitch-switch not installed; skipped"))
            #expect(report.bridges.isEmpty && report.trials.isEmpty)
            return
        }
        let lab = try CompareLab(hosts: 2)
        defer { lab.teardown() }
        let devicesBefore = try links(lab)
        let bridge = try RunningBridge.start(.ovs(afxdp: false), on: lab, swbridgePath: "/nonexistent")
        let pid = try #require(bridge.pid, "ovs-vswitchd's PID from its pidfile")
        let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
        #expect(comm.hasPrefix("ovs-vswitchd"))
        let dirs = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("swbridge-ovs-") }
        #expect(!dirs.isEmpty)
        let ping = try lab.lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", lab.address(ofHost: 2)], in: lab.hostNamespaces[0],
                                   timeout: .seconds(15))
        #expect(ping.status == 0, "ping through OVS: \(ping.standardOutput)")
        #expect(bridge.flushAddresses(), "ovs-appctl fdb/flush")
        bridge.stop()
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"), "ovs-vswitchd is gone")
        let after = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("swbridge-ovs-") }
        #expect(Set(after).isDisjoint(with: dirs), "its directory is removed")
        #expect(try links(lab) == devicesBefore, "no device left in the bridge namespace")
    }

    func links(_ lab: CompareLab) throws -> [String] {
        let r = try lab.lab.mustRun(["ip", "-o", "link", "show"], in: lab.bridgeNamespace)
        return r.standardOutput.split(separator: "\n").compactMap { $0.split(separator: ":").dropFirst().first.map { String($0).trimmingCharacters(in: .whitespaces) } }
            .map { String($0.split(separator: "@").first ?? "") }.sorted()
    }
}
