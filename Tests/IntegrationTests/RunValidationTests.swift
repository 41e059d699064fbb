// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge run` checks every argument before it touches anything: a bad bridge name, mirror
// file or log level is a usage error (exit 64) reported before any port is opened, any
// capability dropped or any socket created. Each case runs the real binary in a lab
// namespace, on a real veth port, at debug log level, so a port opened or privileges dropped
// before the error would show in its log.

import Foundation
import LabKit
import Testing

@Suite("swbridge run validates its arguments first", .serialized, .privileged)
struct RunValidationTests {
    /// ArgumentParser's exit code for a `ValidationError` (EX_USAGE).
    static let usageError: Int32 = 64

    @Test("invalid arguments with a valid port: usage error, nothing opened", .timeLimit(.minutes(3)))
    func invalidArgumentsTouchNothing() throws {
        try withSwbridgeLab(hosts: 1) { topo in
            let port = topo.ports[0]
            let cases: [(arguments: [String], message: String)] = [
                (["--name", "bad/name"], "invalid bridge name 'bad/name'"),
                (["--name", ".hidden"], "invalid bridge name '.hidden'"),
                (["--name", String(repeating: "n", count: 65)], "invalid bridge name"),
                (["--name", topo.name, "--mirror", "\(port)=/nonexistent-\(topo.name)/m.pcap"], "no directory"),
                (["--name", topo.name, "--mirror", "nosuchport=/tmp/\(topo.name).pcap"], "is not a --port"),
                (["--name", topo.name, "--log-level", "loud"], "--log-level"),
                (["--name", topo.name, "--ageing", "-1"], "--ageing"),
            ]
            for c in cases {
                let r = try topo.lab.run(
                    [topo.binary, "run", "--port", port, "--log-level", "debug"] + c.arguments, in: topo.br)
                let output = r.standardError + r.standardOutput
                let label = c.arguments.joined(separator: " ")
                #expect(r.status == Self.usageError, "\(label): exit \(r.status): \(output)")
                #expect(output.contains(c.message), "\(label): \(output)")
                #expect(!output.contains("capabilities dropped"), "\(label): privileges dropped before the error: \(output)")
            }
            // Nothing was left behind: no socket file for the valid name used above.
            #expect(!FileManager.default.fileExists(atPath: "/run/swbridge/\(topo.name).sock"))
        }
    }
}
