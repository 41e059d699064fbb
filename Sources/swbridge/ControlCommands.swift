// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge fdb|link|stats`: the bridge(8)-like commands that ask a running bridge
// (`swbridge run --name br0`) over its control socket. Word order follows bridge(8)
// (`fdb add MAC dev PORT vlan N`) so muscle memory works; each command is a thin shell over
// ControlClient and ControlFormatting. Failures print one line on stderr and exit non-zero.

import ArgumentParser
import BridgeCore
import BridgeControl
import BridgeService
import PacketIO

/// Options every control command takes: which bridge, where its socket is, how long to wait.
struct ControlOptions: ParsableArguments {
    @Option(name: .long, help: "Bridge name (control socket /run/swbridge/NAME.sock).",
            completion: .shellCommand("ls /run/swbridge 2>/dev/null | sed -n s/[.]sock$//p"))
    var name: String = "br0"

    @Option(name: .customLong("run-dir"), help: ArgumentHelp("Directory of control sockets.", visibility: .hidden))
    var runDirectory: String = ControlServer.defaultRunDirectory

    @Option(name: .long, help: "Seconds to wait for the bridge's answer.")
    var timeout: Double = 5

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
    }

    /// Sends `request`; a transport failure or an error answer becomes a `CommandFailure`.
    func send(_ request: ControlRequest) throws -> ControlResult? {
        let response: ControlResponse
        do {
            response = try ControlClient.send(
                request, bridge: name, runDirectory: runDirectory, timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            throw CommandFailure("\(error)")
        }
        guard response.ok else { throw CommandFailure("bridge '\(name)': \(response.error ?? "request failed")") }
        return response.result
    }
}

/// A runtime failure: ArgumentParser prints `Error: <description>` on stderr (no usage) and exits 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints `value` as pretty JSON with sorted keys.
func printJSON(_ value: some Encodable) throws {
    print(try ControlProtocol.prettyJSON(value))
}

/// Parses bridge(8)-style keyword arguments (`dev PORT`, `vlan N`) from `words`. `accepted` are
/// the keywords that take a value here; `master` and `static` are accepted and ignored, as
/// `bridge fdb add ... master static` is what users of the kernel bridge type.
private func keywords(_ words: [String], accepted: Set<String>) throws -> (dev: String?, vlan: UInt16?) {
    var dev: String?
    var vlan: UInt16?
    var i = 0
    while i < words.count {
        let word = words[i]
        i += 1
        if word == "master" || word == "static" { continue }
        guard accepted.contains(word) else {
            let expected = accepted.sorted().map { $0 == "dev" ? "dev PORT" : "vlan N" }.joined(separator: " or ")
            throw ValidationError("unexpected '\(word)': expected \(expected)")
        }
        guard i < words.count else { throw ValidationError("'\(word)' needs a value") }
        let value = words[i]
        i += 1
        switch word {
        case "dev":
            guard dev == nil else { throw ValidationError("'dev' given twice") }
            dev = value
        default:
            guard vlan == nil else { throw ValidationError("'vlan' given twice") }
            guard let v = UInt16(value), v >= 1, v <= 4094 else {
                throw ValidationError("invalid VLAN '\(value)': use 1-4094")
            }
            vlan = v
        }
    }
    return (dev, vlan)
}

/// Parses and normalises a MAC address (`AA-BB-...` becomes `aa:bb:...`).
private func parseMAC(_ text: String) throws -> String {
    do {
        return try MACAddress(parsing: text).description
    } catch {
        throw ValidationError("invalid MAC address '\(text)': use aa:bb:cc:dd:ee:ff")
    }
}

func unexpected(_ result: ControlResult?) -> CommandFailure {
    CommandFailure("unexpected answer from the bridge: \(result.map { "\($0)".prefix(80) } ?? "no result")")
}

// MARK: - fdb

struct FDB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fdb",
        abstract: "Show or change the forwarding database of a running bridge.",
        subcommands: [Show.self, Add.self, Del.self, Flush.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List FDB entries, like `bridge fdb show`.",
            usage: "swbridge fdb show [dev PORT] [vlan N] [--name BRIDGE] [--json]")
        @OptionGroup var options: ControlOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        @Argument(help: "Filters: dev PORT, vlan N.") var filters: [String] = []

        // Words are checked in validate(), so a mistake prints this command's usage.
        func validate() throws { _ = try keywords(filters, accepted: ["dev", "vlan"]) }

        func run() throws {
            let filter = try keywords(filters, accepted: ["dev", "vlan"])
            let result = try options.send(.fdbShow)
            guard case .fdb(var rows) = result else { throw unexpected(result) }
            if let dev = filter.dev { rows = rows.filter { $0.dev == dev } }
            if let vlan = filter.vlan { rows = rows.filter { $0.vlan == vlan } }
            if json {
                try printJSON(rows)
            } else {
                print(ControlFormatting.fdbShow(rows, bridge: options.name), terminator: "")
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a static entry, like `bridge fdb add`.",
            usage: "swbridge fdb add MAC dev PORT [vlan N] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "The station's address, aa:bb:cc:dd:ee:ff.") var mac: String
        @Argument(help: "dev PORT [vlan N]") var words: [String] = []

        func validate() throws {
            _ = try parseMAC(mac)
            guard try keywords(words, accepted: ["dev", "vlan"]).dev != nil else { throw ValidationError("missing 'dev PORT'") }
        }

        func run() throws {
            let mac = try parseMAC(mac)
            let k = try keywords(words, accepted: ["dev", "vlan"])
            guard let dev = k.dev else { throw ValidationError("missing 'dev PORT'") }
            _ = try options.send(.fdbAdd(mac: mac, dev: dev, vlan: k.vlan))
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an entry, like `bridge fdb del`.",
            usage: "swbridge fdb del MAC [dev PORT] [vlan N] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "The station's address, aa:bb:cc:dd:ee:ff.") var mac: String
        @Argument(help: "[dev PORT] [vlan N]") var words: [String] = []

        func validate() throws {
            _ = try parseMAC(mac)
            _ = try keywords(words, accepted: ["dev", "vlan"])
        }

        func run() throws {
            let mac = try parseMAC(mac)
            let k = try keywords(words, accepted: ["dev", "vlan"])
            _ = try options.send(.fdbDel(mac: mac, dev: k.dev, vlan: k.vlan))
        }
    }

    struct Flush: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove learned entries, of one port or all, like `bridge fdb flush`.",
            usage: "swbridge fdb flush [dev PORT] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "[dev PORT]") var words: [String] = []

        func validate() throws { _ = try keywords(words, accepted: ["dev"]) }

        func run() throws {
            let k = try keywords(words, accepted: ["dev"])
            _ = try options.send(.fdbFlush(dev: k.dev))
        }
    }
}

// MARK: - link

struct Link: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Show, attach, detach or change the ports of a running bridge.",
        subcommands: [Show.self, Add.self, Del.self, Set.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List ports, like `bridge link show`.")
        @OptionGroup var options: ControlOptions
        @Flag(name: .shortAndLong, help: "Also print address, backend, flags and VLANs.") var details = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() throws {
            let result = try options.send(.linkShow)
            guard case .links(var rows) = result else { throw unexpected(result) }
            nameVethPeers(&rows)
            if json {
                try printJSON(rows)
            } else {
                print(ControlFormatting.linkShow(rows, bridge: options.name, details: details), terminator: "")
            }
        }
    }
}

// MARK: - stats

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show the counters of a running bridge: ports, drops by reason, FDB.")
    @OptionGroup var options: ControlOptions
    @Flag(name: .long, help: "List every drop reason, zeros included.") var all = false
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let result = try options.send(.stats)
        guard case .stats(let report) = result else { throw unexpected(result) }
        if json {
            try printJSON(report)
        } else {
            print(ControlFormatting.stats(report, allDrops: all), terminator: "")
        }
    }
}

/// Fills in the names of veth peers in other namespaces. The bridge keeps only CAP_NET_RAW, and
/// asking the kernel for a link of another namespace (RTM_GETLINK with IFLA_TARGET_NETNSID)
/// needs CAP_NET_ADMIN there: this command runs as root in the bridge's namespace, so it asks,
/// with the namespace ids the bridge reported (the same namespace numbers them the same way).
func nameVethPeers(_ rows: inout [LinkRow]) {
    guard rows.contains(where: { $0.peer != nil && $0.peer?.name == nil }), let netlink = try? NetlinkSocket() else { return }
    for i in rows.indices {
        guard var peer = rows[i].peer, peer.name == nil else { continue }
        peer.name = try? netlink.link(ifindex: peer.ifindex, targetNamespaceID: peer.namespaceID).name
        rows[i].peer = peer
    }
}
