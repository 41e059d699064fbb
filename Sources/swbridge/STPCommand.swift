// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge stp show`: the spanning tree of a running bridge, as `mstpctl showbridge` and
// `showport` print it (the text is SpanningTreeStatus.formatted), or JSON.
import ArgumentParser
import BridgeControl
import SpanningTree

struct STP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stp",
        abstract: "Show the spanning tree of a running bridge (started with --stp rstp|stp).",
        subcommands: [Show.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bridge id, root, times, topology changes; per port role, state, costs, edge, p2p, BPDUs.")
        @OptionGroup var options: ControlOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() throws {
            let result = try options.send(.stpShow)
            guard case .spanningTree(let status) = result else { throw unexpected(result) }
            if json {
                try printJSON(status)
            } else {
                print(status.formatted(bridgeName: options.name), terminator: "")
            }
        }
    }
}
