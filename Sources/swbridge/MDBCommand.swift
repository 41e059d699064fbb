// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge mdb show`: the multicast database of a running bridge as bridge(8) prints the
// kernel's (`dev br0 port veth2 grp 239.1.1.1 temp`), then its router ports and queriers.

import ArgumentParser
import BridgeControl

struct MDB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mdb", abstract: "Show the multicast groups a running bridge snooped.",
        subcommands: [Show.self], defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List group memberships, router ports and queriers, like `bridge mdb show`.",
            usage: "swbridge mdb show [--details] [--json] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Flag(name: [.long, .customShort("d")], help: "Add timers and the snooping counters.") var details = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() throws {
            let result = try options.send(.mdbShow)
            guard case .mdb(let status) = result else { throw CommandFailure("unexpected answer from the bridge") }
            if json {
                print(try ControlProtocol.prettyJSON(status))
            } else {
                print(ControlFormatting.mdbShow(status, details: details), terminator: "")
            }
        }
    }
}
