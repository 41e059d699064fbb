// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Least privilege with every kind of thread the bridge starts: forwarding, control, the
// writer threads of `--mirror` and of a live `swbridge capture`. Capabilities are per thread
// and inherited when a thread starts, so a thread started before the drop keeps full root.

import Foundation
import LabKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("least privilege", .serialized, .privileged)
struct PrivilegeTests {
    /// Each thread of `pid`: (tid, CapEff line, NoNewPrivs line).
    static func threads(of pid: Int32) throws -> [(String, String, String)] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { t in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/status", encoding: .utf8) else {
                return nil  // the thread ended between the listing and the read
            }
            let lines = status.split(separator: "\n")
            let eff = lines.first { $0.hasPrefix("CapEff:") }.map(String.init) ?? "no CapEff"
            let nnp = lines.first { $0.hasPrefix("NoNewPrivs:") }.map(String.init) ?? "no NoNewPrivs"
            return (t, eff, nnp)
        }
    }

    @Test("with --mirror and a live capture, every thread keeps only CAP_NET_RAW", .timeLimit(.minutes(3)))
    func mirrorAndCaptureThreads() throws {
        try withSwbridgeLab(hosts: 2) { topo in
            let mirrorFile = "/tmp/\(topo.name)-mirror.pcap"
            let captureFile = "/tmp/\(topo.name)-capture.pcap"
            defer {
                try? FileManager.default.removeItem(atPath: mirrorFile)
                try? FileManager.default.removeItem(atPath: captureFile)
            }
            let bridge = try topo.start(["--mirror", "\(topo.ports[0])=\(mirrorFile)"])
            let before = try Self.threads(of: bridge.pid).count

            // A capture that runs until it has 1,000,000 frames or 30 s: alive for the whole check.
            final class Box: @unchecked Sendable { var result: CommandResult?; var error: (any Error)? }
            let box = Box()
            let done = DispatchSemaphore(value: 0)
            let lab = topo.lab
            Thread {
                do {
                    box.result = try bridge.control(["capture", "--port", topo.ports[1], "--file", captureFile,
                                                     "--count", "1000000", "--duration", "30"], lab: lab, timeout: .seconds(40))
                } catch { box.error = error }
                done.signal()
            }.start()
            // Ready when the capture's writer thread exists (the file is created by it too).
            let deadline = Date().addingTimeInterval(20)
            var threads = try Self.threads(of: bridge.pid)
            while threads.count <= before || !FileManager.default.fileExists(atPath: captureFile), Date() < deadline {
                sched_yield()
                threads = try Self.threads(of: bridge.pid)
            }
            #expect(threads.count > before, "the capture started a writer thread")
            #expect(threads.count >= 5, "main, forwarding, control, mirror writer and capture writer threads: \(threads.count)")
            for (t, eff, nnp) in threads {
                #expect(eff.hasSuffix("0000000000002000"), "thread \(t): \(eff)")
                #expect(nnp.hasSuffix("1"), "thread \(t): \(nnp)")
            }
            bridge.kill()  // ends the capture too (its client sees the socket close)
            #expect(done.wait(timeout: .now() + 20) == .success)
        }
    }
}
