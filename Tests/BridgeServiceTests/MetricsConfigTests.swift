// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The configuration file's `metrics:` key: read, applied over the command line, and a change of
// it refused by reload as restart-needed (the server's socket is bound once, before the
// privilege drop).

import BridgeCore
import Testing
@testable import BridgeService

@Suite struct MetricsConfigTests {
    @Test func metricsKeyIsReadAndItsChangeNeedsARestart() throws {
        let file = try ConfigFile.parse("""
            name: br0
            metrics: 127.0.0.1:9477
            ports:
              - name: veth1
            """)
        #expect(file.metrics == "127.0.0.1:9477")
        var base = BridgeOptions()
        base.metrics = "127.0.0.1:1"
        let running = file.applied(to: base)
        #expect(running.metrics == "127.0.0.1:9477", "the file over the command line")
        let moved = try ConfigFile.parse("""
            name: br0
            metrics: 127.0.0.1:9478
            ports:
              - name: veth1
            """)
        let ports = file.ports.map { ConfiguredPort(port: $0.port, backend: $0.backend ?? .afPacket) }
        #expect(ConfigDiff(running: running, ports: ports, statics: [], file: moved).needsRestart == ["metrics"])
        #expect(ConfigDiff(running: running, ports: ports, statics: [], file: file).needsRestart.isEmpty)
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse("metrics: [1, 2]\n") }
    }
}
