// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Spanning-tree settings in the three places a user gives them: `--port` options, the
// configuration file (bridge and port keys), and a reload that changes a port's settings.

import BridgeCore
import SpanningTree
import Testing

@testable import BridgeService

@Suite("spanning-tree options")
struct SpanningTreeOptionsTests {
    @Test("--port options: stp words are read by PortSpec.spanningTree and skipped by the port parser")
    func portSpec() throws {
        let spec = "veth1:stp_cost=100:stp_priority=64:edge:no-auto_edge:p2p=off:bpdu_guard:root_guard:hairpin"
        let port = try PortSpec.parse(spec)
        #expect(port.name == "veth1" && port.flags.contains(.hairpin))
        let st = try #require(try PortSpec.spanningTree(spec))
        #expect(st.pathCost == .fixed(100) && st.priority == 64 && st.adminEdge && !st.autoEdge)
        #expect(st.pointToPoint == .off && st.bpduGuard && st.rootGuard)
        #expect(try PortSpec.spanningTree("veth1:hairpin") == nil, "no stp word: no settings")
        #expect(try PortSpec.spanningTree("veth1:stp_cost=0")?.pathCost == .automatic, "0: from the link speed")
        for bad in ["veth1:stp_priority=17", "veth1:stp_priority=256", "veth1:p2p=maybe", "veth1:stp_cost=300000000"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { _ = try PortSpec.spanningTree(bad) }
        }
    }

    static let file = """
        name: br0
        stp: rstp
        stp_priority: 4096
        hello_time: 1
        forward_delay: 4
        max_age: 6
        ports:
          - name: veth1
            edge: true
            bpdu_guard: true
          - name: trunk0
            stp_cost: 2000
            p2p: "on"
        """

    @Test("the configuration file: stp mode, timers and port settings")
    func configFile() throws {
        let f = try ConfigFile.parse(Self.file)
        let o = f.applied(to: BridgeOptions())
        let st = try #require(o.spanningTree)
        #expect(st.protocolVersion == .rstp && st.priority == 4096 && st.helloTime == 1 && st.forwardDelay == 4 && st.maxAge == 6)
        #expect(o.spanningTreePorts["veth1"]?.adminEdge == true && o.spanningTreePorts["veth1"]?.bpduGuard == true)
        #expect(o.spanningTreePorts["trunk0"]?.pathCost == .fixed(2000) && o.spanningTreePorts["trunk0"]?.pointToPoint == .on)
        #expect(try ConfigFile.parse("stp: off\n").applied(to: BridgeOptions()).spanningTree == nil)
    }

    @Test("bad spanning-tree keys name their line and key", arguments: [
        ("stp: maybe\n", "stp"),
        ("stp: rstp\nforward_delay: 4\nmax_age: 20\n", "stp"),  // 2 x (4 - 1) < 20
        ("ports:\n  - name: a\n    stp_priority: 20\n", "ports[0].stp_priority"),
        ("ports:\n  - name: a\n    p2p: sometimes\n", "ports[0].p2p"),
    ])
    func badKeys(_ text: String, _ key: String) {
        do {
            _ = try ConfigFile.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.key == key, "\(error)")
        }
    }

    @Test("a reload that changes only a port's stp settings applies them; a new stp mode needs a restart")
    func reloadDifference() throws {
        var running = BridgeOptions()
        running.spanningTree = SpanningTreeBridgeConfiguration()
        let ports = [ConfiguredPort(port: PortConfiguration(name: "veth1")), ConfiguredPort(port: PortConfiguration(name: "trunk0"))]
        let f = try ConfigFile.parse("ports:\n  - name: veth1\n    edge: true\n  - name: trunk0\n")
        let d = ConfigDiff(running: running, ports: ports, statics: [], file: f)
        #expect(d.needsRestart.isEmpty && d.portsChanged.isEmpty)
        #expect(d.spanningTreePortsChanged.keys.sorted() == ["veth1"] && d.spanningTreePortsChanged["veth1"]?.adminEdge == true)
        let g = try ConfigFile.parse("stp: stp\nports:\n  - name: veth1\n  - name: trunk0\n")
        #expect(ConfigDiff(running: running, ports: ports, statics: [], file: g).needsRestart == ["stp"])
    }
}
