// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge vxlan add|del|show`: one L2 segment across machines through the kernel's VXLAN
// device. The command creates and deletes the device itself over rtnetlink (it runs as root in
// the bridge's network namespace, as `ip` would; the running bridge keeps only CAP_NET_RAW)
// and asks the bridge to attach or detach it as a port. A refused attach deletes the device
// again, so a failed `vxlan add` leaves nothing behind.

import ArgumentParser
import BridgeControl
import BridgeService
import PacketIO

#if canImport(Glibc)
import Glibc
#endif

/// `dev NAME vni N local IP [remote IP ...] [dstport P] [group IP dev UNDERLAY] [mtu N]` and
/// `link add`'s port words (learning, flood, ...).
func vxlanWords(_ words: [String]) throws -> (VXLANParameters, PortSettings) {
    var name: String?
    var vni: UInt32?
    var local: VXLANAddress?
    var remotes: [VXLANAddress] = []
    var port = NetlinkVXLAN.defaultPort
    var group: VXLANAddress?
    var underlay: String?
    var mtu: Int?
    var portWordsSeen: [String] = []
    var i = 0
    func value(_ word: String) throws -> String {
        guard i < words.count else { throw ValidationError("'\(word)' needs a value") }
        defer { i += 1 }
        return words[i]
    }
    func address(_ word: String) throws -> VXLANAddress {
        let v = try value(word)
        guard let a = VXLANAddress(parsing: v) else { throw ValidationError("\(word) takes an IPv4 or IPv6 address, not '\(v)'") }
        return a
    }
    while i < words.count {
        let word = words[i]
        i += 1
        switch word {
        case "dev":
            // The first `dev` names the device; a later one (after `group`) the underlay.
            if name == nil { name = try value(word) } else { underlay = try value(word) }
        case "id", "vni":
            let v = try value(word)
            guard let n = UInt32(v), n <= NetlinkVXLAN.maxVNI else { throw ValidationError("vni takes 0...16777215, not '\(v)'") }
            vni = n
        case "local": local = try address(word)
        case "remote":
            remotes.append(try address(word))
            // `remote A B C`: following words that are addresses are remotes too.
            while i < words.count, let more = VXLANAddress(parsing: words[i]) {
                remotes.append(more)
                i += 1
            }
        case "dstport":
            let v = try value(word)
            guard let n = UInt16(v), n > 0 else { throw ValidationError("dstport takes 1...65535, not '\(v)'") }
            port = n
        case "group": group = try address(word)
        case "mtu":
            let v = try value(word)
            guard let n = Int(v), (68...65_535).contains(n) else { throw ValidationError("mtu takes 68...65535, not '\(v)'") }
            mtu = n
        case "learning", "flood", "mcast_flood", "bcast_flood", "hairpin", "isolated", "state":
            portWordsSeen += [word, try value(word)]
        default:
            throw ValidationError("unexpected '\(word)' (words: dev NAME, vni N, local IP, remote IP..., dstport N, group IP dev UNDERLAY, mtu N, and link add's port words)")
        }
    }
    guard let name, !name.isEmpty else { throw ValidationError("missing 'dev NAME'") }
    guard let vni else { throw ValidationError("missing 'vni N'") }
    guard let local else { throw ValidationError("missing 'local IP' (this machine's underlay address)") }
    var p = VXLANParameters(name: name, vni: vni, local: local)
    p.remotes = remotes
    p.port = port
    p.group = group
    p.underlay = underlay
    p.mtu = mtu
    if remotes.isEmpty && group == nil {
        throw ValidationError("give 'remote IP' (one per other machine) or 'group IP dev UNDERLAY': else nothing leaves this machine")
    }
    var check = VXLANDeviceSpec(name: name, vni: vni, local: local, remotes: remotes, port: port, group: group,
                                underlayIndex: underlay == nil ? nil : 0, mtu: mtu)
    check.learning = true
    if let refusal = check.refusal { throw ValidationError(refusal) }
    let settings = try portWords(["dev", name] + portWordsSeen, allowBackend: false).settings
    return (p, settings)
}

struct VXLAN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vxlan",
        abstract: "Stretch the bridge across machines: kernel VXLAN devices as ports.",
        subcommands: [Add.self, Del.self, Show.self],
        defaultSubcommand: Show.self
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a VXLAN device (kernel learning on) and attach it as a port.",
            usage: "swbridge vxlan add dev NAME vni N local IP [remote IP ...] [dstport 4789] [group MCAST_IP dev UNDERLAY] [mtu N] [--name BRIDGE]",
            discussion: """
                Run it as root in the bridge's network namespace. Each remote gets an all-zeros \
                FDB entry (head-end replication of broadcast, unknown unicast and multicast); \
                with group, those go to the multicast group instead. The MTU defaults to the \
                underlay's minus 50 (IPv4) or 70 (IPv6): size the hosts' MTU to it.
                """)
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev NAME vni N local IP ...") var words: [String] = []
        func validate() throws { _ = try vxlanWords(words) }
        func run() throws {
            let (parameters, settings) = try vxlanWords(words)
            let spec: VXLANDeviceSpec
            do { spec = try VXLANSetup.create(parameters) } catch { throw CommandFailure(error.description) }
            do {
                _ = try options.send(.vxlanAttach(dev: spec.name, namespace: VXLANNamespace.current(), settings: settings))
            } catch {
                try? VXLANSetup.delete(spec.name)
                throw error
            }
            var line = "\(spec.name): vni \(spec.vni) local \(spec.local) dstport \(spec.port)"
            if !spec.remotes.isEmpty { line += " remote " + spec.remotes.map(\.description).joined(separator: " ") }
            if let g = spec.group { line += " group \(g)" }
            line += " mtu \(spec.mtu.map(String.init) ?? "kernel default"): attached to \(options.name)"
            print(line)
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach a VXLAN port and delete its device.", usage: "swbridge vxlan del dev NAME [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Argument(help: "dev NAME") var words: [String] = []
        func dev() throws -> String {
            guard words.count == 2, words[0] == "dev", !words[1].isEmpty else { throw ValidationError("expected 'dev NAME'") }
            return words[1]
        }
        func validate() throws { _ = try dev() }
        func run() throws {
            let name = try dev()
            _ = try options.send(.vxlanDetach(dev: name, namespace: VXLANNamespace.current()))
            do { try VXLANSetup.delete(name) } catch { throw CommandFailure(error.description) }
        }
    }

    /// One device of `vxlan show`.
    struct Row: Codable {
        var name: String
        var mtu: Int?
        var up: Bool
        /// Whether it is a port of the bridge asked (nil: the bridge did not answer).
        var port: Bool?
        var remotes: [String]
        var learned: [LearnedRow]
    }

    /// A MAC the kernel learned behind a remote VTEP.
    struct LearnedRow: Codable {
        var mac: String
        var dst: String
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the VXLAN devices of this namespace: remotes, learned MACs, whether the bridge has them.",
            usage: "swbridge vxlan show [--json] [--name BRIDGE]")
        @OptionGroup var options: ControlOptions
        @Flag(name: .long, help: "Print JSON.") var json = false
        func run() throws {
            let rows: [Row]
            do {
                let socket = try NetlinkSocket()
                var ports: Set<String>? = nil
                if case .links(let links)? = try? options.send(.linkShow) { ports = Set(links.map(\.name)) }
                rows = try socket.links().filter { $0.kind == "vxlan" }.map { l in
                    let fdb = try socket.vxlanFDB(ifindex: l.index)
                    return Row(
                        name: l.name, mtu: l.mtu.map(Int.init), up: l.isUp, port: ports.map { $0.contains(l.name) },
                        remotes: fdb.filter(\.isDefault).map(\.destination.description),
                        learned: fdb.filter { !$0.isDefault }.map { e in
                            LearnedRow(mac: e.mac.map { hex($0) }.joined(separator: ":"), dst: e.destination.description)
                        })
                }
            } catch {
                throw CommandFailure("\(error)")
            }
            if json {
                print(try ControlProtocol.prettyJSON(rows))
                return
            }
            for r in rows {
                let where_ = r.port.map { $0 ? "port of \(options.name)" : "not a port of \(options.name)" } ?? "bridge \(options.name) not answering"
                print("\(r.name): mtu \(r.mtu.map(String.init) ?? "?") \(r.up ? "up" : "down") \(where_)")
                print("    remotes \(r.remotes.isEmpty ? "none" : r.remotes.joined(separator: " "))")
                for e in r.learned { print("    \(e.mac) dst \(e.dst)") }
            }
        }
    }
}

private func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}
