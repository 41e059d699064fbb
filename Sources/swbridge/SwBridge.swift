// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The `swbridge` command line: thin wrappers over BridgeService (run), the control socket
// (fdb, link, stats) and LabKit (bench).
import ArgumentParser

@main
struct SwBridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swbridge",
        abstract: "A Linux Ethernet bridge in user space.",
        version: swbridgeVersion,
        subcommands: [Run.self, FDB.self, Link.self, VLAN.self, BridgeCommand.self, Reload.self, Stats.self, STP.self, MDB.self, Top.self, Capture.self, Bench.self, Replay.self, VXLAN.self]
    )
}
