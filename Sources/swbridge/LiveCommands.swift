// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The commands that change a running bridge, in bridge(8)'s word order: `link add|del|set`,
// `vlan add|del|show`, `bridge set vlan_filtering on|off`, and `reload` of the configuration
// file. Words are checked before anything is sent; the bridge checks the rest and refuses a
// change whole.

import ArgumentParser
import BridgeControl

/// `dev IF [learning on|off] ... [state forwarding|disabled] [backend af_packet|pcap]`.
func portWords(_ words: [String], allowBackend: Bool) throws -> (dev: String, settings: PortSettings) {
    var dev: String?
    var s = PortSettings()
    var i = 0
    func value(_ word: String) throws -> String {
        guard i < words.count else { throw ValidationError("'\(word)' needs a value") }
        defer { i += 1 }
        return words[i]
    }
    func onOff(_ word: String) throws -> Bool {
        switch try value(word) {
        case "on", "1", "yes": return true
        case "off", "0", "no": return false
        case let v: throw ValidationError("\(word) takes on or off, not '\(v)'")
        }
    }
    while i < words.count {
        let word = words[i]
        i += 1
        switch word {
        case "dev": dev = try value(word)
        case "learning": s.learning = try onOff(word)
        case "flood": s.flood = try onOff(word)
        case "mcast_flood": s.mcastFlood = try onOff(word)
        case "bcast_flood": s.bcastFlood = try onOff(word)
        case "hairpin": s.hairpin = try onOff(word)
        case "isolated": s.isolated = try onOff(word)
        case "mcast_router":
            let v = try value(word)
            guard let n = Int(v), (0...2).contains(n) else { throw ValidationError("mcast_router takes 0, 1 or 2, not '\(v)'") }
            s.mcastRouter = n
        case "mcast_fast_leave": s.mcastFastLeave = try onOff(word)
        case "state":
            let v = try value(word)
            guard v == "forwarding" || v == "disabled" else { throw ValidationError("state takes forwarding or disabled, not '\(v)'") }
            s.state = v
        // Spanning tree, in the issue's words and bridge(8)'s (cost, priority, guard, root_block).
        case "stp_cost", "cost":
            let v = try value(word)
            guard let c = UInt32(v), c <= 200_000_000 else { throw ValidationError("\(word) takes 0 (from the link speed) to 200000000, not '\(v)'") }
            s.stpCost = c
        case "stp_priority", "priority":
            let v = try value(word)
            guard let p = UInt8(v), p % 16 == 0 else { throw ValidationError("\(word) takes a multiple of 16 from 0 to 240, not '\(v)'") }
            s.stpPriority = p
        case "edge": s.edge = try onOff(word)
        case "auto_edge": s.autoEdge = try onOff(word)
        case "p2p":
            let v = try value(word)
            guard ["auto", "on", "off"].contains(v) else { throw ValidationError("p2p takes auto, on or off, not '\(v)'") }
            s.p2p = v
        case "bpdu_guard", "guard": s.bpduGuard = try onOff(word)
        case "root_guard", "root_block": s.rootGuard = try onOff(word)
        case "bpdu_guard_clear": s.bpduGuardClear = true
        case "backend" where allowBackend:
            let v = try value(word)
            guard v == "af_packet" || v == "pcap" else { throw ValidationError("backend takes af_packet or pcap, not '\(v)'") }
            s.backend = v
        default:
            throw ValidationError("unexpected '\(word)' (words: dev IF, learning, flood, mcast_flood, bcast_flood, hairpin, isolated, mcast_fast_leave on|off, mcast_router 0|1|2, state forwarding|disabled, stp_cost N, stp_priority N, edge|auto_edge|bpdu_guard|root_guard on|off, p2p auto|on|off, bpdu_guard_clear\(allowBackend ? ", backend af_packet|pcap" : ""))")
        }
    }
    guard let dev, !dev.isEmpty else { throw ValidationError("missing 'dev IF'") }
    return (dev, s)
}

/// `dev IF vid N[-M] [pvid] [untagged]`.
func vlanWords(_ words: [String], flags: Bool) throws -> VLANChange {
    var dev: String?
    var range: (UInt16, UInt16)?
    var pvid = false, untagged = false
    var i = 0
    while i < words.count {
        let word = words[i]
        i += 1
        switch word {
        case "dev", "vid":
            guard i < words.count else { throw ValidationError("'\(word)' needs a value") }
            let v = words[i]
            i += 1
            if word == "dev" { dev = v; continue }
            let parts = v.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let a = UInt16(parts[0]), let b = UInt16(parts.last!), a >= 1, b <= 4094, a <= b else {
                throw ValidationError("vid takes N or N-M with 1 <= N <= M <= 4094, not '\(v)'")
            }
            range = (a, b)
        case "pvid" where flags: pvid = true
        case "untagged" where flags: untagged = true
        case "master", "self": continue  // bridge(8) habits
        default: throw ValidationError("unexpected '\(word)' (words: dev IF, vid N[-M]\(flags ? ", pvid, untagged" : ""))")
        }
    }
    guard let dev, !dev.isEmpty else { throw ValidationError("missing 'dev IF'") }
    guard let range else { throw ValidationError("missing 'vid N'") }
    if pvid && range.0 != range.1 { throw ValidationError("pvid takes a single VLAN, not a range") }
    return VLANChange(dev: dev, first: range.0, last: range.1, pvid: pvid, untagged: untagged)
}

extension Link {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach an interface as a port, like `ip link set IF master br0`.",
            usage: "swbridge link add dev IF [learning on|off] [flood on|off] [mcast_flood on|off] [bcast_flood on|off] [hairpin on|off] [isolated on|off] [mcast_router 0|1|2] [mcast_fast_leave on|off] [state forwarding|disabled] [backend af_packet|pcap] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev IF and port settings.") var words: [String] = []
        func validate() throws { _ = try portWords(words, allowBackend: true) }
        func run() throws {
            let (dev, settings) = try portWords(words, allowBackend: true)
            _ = try options.send(.linkAdd(dev: dev, settings: settings))
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach a port, like `ip link set IF nomaster`: its entries are flushed, its sockets closed.",
            usage: "swbridge link del dev IF [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev IF") var words: [String] = []
        func validate() throws { _ = try devOnly() }
        func devOnly() throws -> String {
            guard words.count == 2, words[0] == "dev", !words[1].isEmpty else { throw ValidationError("expected 'dev IF'") }
            return words[1]
        }
        func run() throws { _ = try options.send(.linkDel(dev: try devOnly())) }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a port's flags or state, like `bridge link set`.",
            usage: "swbridge link set dev IF [learning on|off] [flood on|off] [mcast_flood on|off] [bcast_flood on|off] [hairpin on|off] [isolated on|off] [mcast_router 0|1|2] [mcast_fast_leave on|off] [state forwarding|disabled] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev IF and port settings.") var words: [String] = []
        func validate() throws {
            guard try !portWords(words, allowBackend: false).settings.isEmpty else { throw ValidationError("nothing to set") }
        }
        func run() throws {
            let (dev, settings) = try portWords(words, allowBackend: false)
            _ = try options.send(.linkSet(dev: dev, settings: settings))
        }
    }
}

// MARK: - vlan

struct VLAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlan",
        abstract: "Show or change the VLANs of a running bridge's ports (with VLAN filtering).",
        subcommands: [Show.self, Add.self, Del.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List each port's VLANs, like `bridge vlan show`.", usage: "swbridge vlan show [dev IF] [--json]")
        @OptionGroup var options: ControlOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        @Argument(help: "[dev IF]") var words: [String] = []
        func dev() throws -> String? {
            if words.isEmpty { return nil }
            guard words.count == 2, words[0] == "dev" else { throw ValidationError("expected 'dev IF' or nothing") }
            return words[1]
        }
        func validate() throws { _ = try dev() }
        func run() throws {
            let result = try options.send(.vlanShow(dev: try dev()))
            guard case .vlans(let rows) = result else { throw CommandFailure("unexpected answer from the bridge") }
            if json {
                print(try ControlProtocol.prettyJSON(rows))
            } else {
                print(ControlFormatting.vlanShow(rows), terminator: "")
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add VLANs to a port, like `bridge vlan add`.", usage: "swbridge vlan add dev IF vid N[-M] [pvid] [untagged]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev IF vid N[-M] [pvid] [untagged]") var words: [String] = []
        func validate() throws { _ = try vlanWords(words, flags: true) }
        func run() throws { _ = try options.send(.vlanAdd(try vlanWords(words, flags: true))) }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove VLANs from a port, like `bridge vlan del`.", usage: "swbridge vlan del dev IF vid N[-M]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev IF vid N[-M]") var words: [String] = []
        func validate() throws { _ = try vlanWords(words, flags: false) }
        func run() throws { _ = try options.send(.vlanDel(try vlanWords(words, flags: false))) }
    }
}

// MARK: - bridge set, reload

struct BridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge", abstract: "Change bridge-wide settings of a running bridge.", subcommands: [Set.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch VLAN filtering, like `ip link set br0 type bridge vlan_filtering 1` (learned entries are flushed).",
            usage: "swbridge bridge set vlan_filtering on|off [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "vlan_filtering on|off") var words: [String] = []
        func filtering() throws -> Bool {
            guard words.count == 2, words[0] == "vlan_filtering" else { throw ValidationError("expected 'vlan_filtering on|off'") }
            switch words[1] {
            case "on", "1": return true
            case "off", "0": return false
            default: throw ValidationError("vlan_filtering takes on or off")
            }
        }
        func validate() throws { _ = try filtering() }
        func run() throws { _ = try options.send(.bridgeSet(BridgeSettings(vlanFiltering: try filtering()))) }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read a bridge's --config file and apply only what changed (as SIGHUP does).",
        discussion: "Learned entries of unchanged ports stay. A file with an error is refused whole and the bridge keeps running as it was.")
    @OptionGroup var options: ControlOptions
    @Flag(name: .long, help: "Print the difference without applying it.") var check = false

    func run() throws {
        let result = try options.send(.reload(check: check))
        guard case .reload(let report) = result else { throw CommandFailure("unexpected answer from the bridge") }
        if report.changes.isEmpty {
            print("\(report.file): no change")
        } else {
            for line in report.changes { print(line) }
            if !report.applied && !check { print("(not applied)") }
        }
    }
}
