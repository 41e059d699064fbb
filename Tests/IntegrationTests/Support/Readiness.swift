// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Readiness: tests wait for a state, never for a time. A server is ready when it listens or
// says so (iperf3's port in `ss -ltn`, tcpdump's "listening on"), a bridge when its control
// socket answers; every wait polls with a generous deadline and fails with what it saw, so a
// loaded machine (plain `swift test` runs these tests side by side with everything else) makes
// a test slower, not red.
//
// TimingBounds: wall-clock bounds (a SIGTERM handled within 2 s, ping RTT, ageing within a
// window) are figures of a quiet machine. They are asserted only in scripts/test.sh's serial
// pass (SWBRIDGE_TIMING_BOUNDS=1); elsewhere the figure is printed and the functional part of
// the test still runs.

import Foundation
import LabKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum TimingBounds {
    /// True in the serial pass of scripts/test.sh, where nothing else competes for the CPU.
    static var enforced: Bool { ProcessInfo.processInfo.environment["SWBRIDGE_TIMING_BOUNDS"] == "1" }

    /// Expects `measured <= bound` when bounds are enforced; prints the figure either way.
    static func expect(_ measured: Duration, atMost bound: Duration, _ what: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        print("[timing] \(what): \(measured) (bound \(bound)\(enforced ? "" : ", not enforced in a parallel run"))")
        if enforced { #expect(measured <= bound, "\(what): \(measured) > \(bound)", sourceLocation: sourceLocation) }
    }

    /// Expects `condition` when bounds are enforced; prints `figure` either way.
    static func expect(_ condition: Bool, _ figure: String, sourceLocation: SourceLocation = #_sourceLocation) {
        print("[timing] \(figure)\(enforced ? "" : " (bound not enforced in a parallel run)")")
        if enforced { #expect(condition, "\(figure)", sourceLocation: sourceLocation) }
    }
}

/// Polls `condition` every `interval` until it holds or `timeout` passes; returns whether it held.
@discardableResult
func waitUntil(timeout: Duration, interval: Duration = .milliseconds(20), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        let us = interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000
        usleep(UInt32(max(1, us)))  // a poll interval, not a synchronisation
    }
}

extension Lab {
    /// Whether something listens on TCP `port` in namespace `ns` (`ss -Hltn`).
    func isListening(tcpPort port: Int, in ns: String) throws -> Bool {
        let r = try mustRun(["ss", "-Hltn", "sport = :\(port)"], in: ns)
        return !r.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    /// Starts `iperf3 -s` bound to `address`:`port` in `ns` and returns once it listens. Throws
    /// if it exits first or does not listen within `timeout`.
    func startIperf3Server(address: String, port: Int, in ns: String, timeout: Duration = .seconds(30)) throws -> ChildProcess {
        let server = try spawn(["iperf3", "-s", "-B", address, "-p", "\(port)"], in: ns)
        var exited = false
        let listening = try waitUntil(timeout: timeout) {
            if !server.isRunning { exited = true; return true }
            return try isListening(tcpPort: port, in: ns)
        }
        if exited { throw HarnessError("iperf3 -s on \(address):\(port) exited with status \(server.terminationStatus)") }
        guard listening else {
            server.terminate()
            throw HarnessError("iperf3 -s on \(address):\(port) not listening after \(timeout)")
        }
        return server
    }
}

/// A long-running command in a namespace whose stdout and stderr go to files the test can
/// read while it runs (to see "listening on" before sending anything). Stopped by PID on
/// `stop()` or deinit.
final class LoggedProcess: @unchecked Sendable {
    let process: ChildProcess
    private let outPath: String
    private let errPath: String

    init(_ arguments: [String], in ns: String) throws {
        let base = FileManager.default.temporaryDirectory.path + "/swb-\(ns)-\(UInt32.random(in: 0...UInt32.max))"
        outPath = base + ".out"
        errPath = base + ".err"
        let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            if out >= 0 { close(out) }
            if err >= 0 { close(err) }
        }
        guard out >= 0, err >= 0 else { throw HarnessError("cannot create \(base).out/.err: errno \(errno)") }
        process = try ChildProcess(["ip", "netns", "exec", ns] + arguments, standardOutput: out, standardError: err)
    }

    deinit {
        stop()
        unlink(outPath)
        unlink(errPath)
    }

    var standardOutput: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits until stdout or stderr contains `text`; throws with both if the process exits
    /// first or `timeout` passes.
    func waitForOutput(_ text: String, timeout: Duration = .seconds(30)) throws {
        var exited = false
        let seen = waitUntil(timeout: timeout) {
            if standardOutput.contains(text) || standardError.contains(text) { return true }
            if !process.isRunning { exited = true; return true }
            return false
        }
        guard seen && !exited else {
            throw HarnessError("no '\(text)' \(exited ? "before the process exited (status \(process.terminationStatus))" : "within \(timeout)"): stdout \(standardOutput.suffix(500)) stderr \(standardError.suffix(500))")
        }
    }

    /// SIGTERM, then SIGKILL after 3 s; only this PID.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        if !process.wait(timeout: .seconds(3)) {
            process.signal(SIGKILL)
            process.wait(timeout: .seconds(3))
        }
    }
}
