// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ConfigFile: a bridge described in YAML, for a bridge that should come back the same after a
// restart (`swbridge run --config FILE`) and change in place when the file changes
// (`swbridge reload`, SIGHUP). Keys are the command line's option names with underscores
// (`--max-learned` is `max_learned`); a port takes the words of `swbridge link set` and
// `bridge vlan`. The file is read with Yams (libyaml) into a node tree and checked here key by
// key, so every error names the line and the key: a file with one error is refused whole.
//
//     name: br0
//     ageing: 300
//     vlan_filtering: true
//     ports:
//       - name: veth1
//         pvid: 10
//         untagged: "10"
//       - name: trunk0
//         vlans: "10,20"
//         hairpin: false
//     static_fdb:
//       - {mac: "02:00:00:00:00:01", dev: veth1, vlan: 10}
//
// Spanning tree: `stp: rstp|stp|off` with `stp_priority`, `hello_time`, `forward_delay`,
// `max_age`, `tx_hold_count`; per port `stp_cost`, `stp_priority`, `edge`, `auto_edge`,
// `p2p` (auto|on|off), `bpdu_guard`, `root_guard` (the `--port` options' words).
//
// VLANs of a port: `vlans` lists its member VLANs; its `pvid` and `untagged` VLANs are members
// too. A port that names none of the three is in VLAN 1, PVID 1, untagged (Linux's
// default_pvid); a port that names any of them gets exactly what it names (like `bridge vlan`,
// `pvid: 10` alone leaves VLAN 10 tagged on egress).
//
// `vxlan:` lists kernel VXLAN devices `run` creates (re-creates, if an earlier run left one)
// before it opens its ports, each also a port:
//
//     vxlan:
//       - {name: vx0, vni: 42, local: 198.19.0.1, remote: [198.19.0.2, 198.19.0.3]}

import BridgeCore
import Foundation
import MulticastSnooping
import PacketIO
import SpanningTree
import Yams

/// A refusal of a configuration file: where and why.
public struct ConfigFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line (0: the file as a whole).
    public var line: Int
    /// The key path, `ports[1].pvid`.
    public var key: String
    public var message: String

    public var description: String {
        let at = line > 0 ? "line \(line)" : "file"
        return key.isEmpty ? "\(at): \(message)" : "\(at), \(key): \(message)"
    }
}

/// A port as the file describes it.
public struct ConfiguredPort: Equatable, Sendable {
    public var port: PortConfiguration
    /// nil: the bridge's default backend.
    public var backend: PortBackend?
    /// Spanning-tree settings; nil: the defaults.
    public var spanningTree: SpanningTreePortConfiguration?
    /// `mcast_router`, `mcast_fast_leave` (nil: neither given, the defaults).
    public var multicast: MulticastPortFlags?

    public init(port: PortConfiguration, backend: PortBackend? = nil, spanningTree: SpanningTreePortConfiguration? = nil,
                multicast: MulticastPortFlags? = nil) {
        self.port = port
        self.backend = backend
        self.spanningTree = spanningTree
        self.multicast = multicast
    }
}

/// A static FDB entry as the file describes it.
public struct ConfiguredStaticEntry: Hashable, Sendable, CustomStringConvertible {
    public var mac: MACAddress
    public var dev: String
    /// nil: as `fdb add` without `vlan` (every VLAN of the port with filtering on, else none).
    public var vlan: UInt16?

    public init(mac: MACAddress, dev: String, vlan: UInt16? = nil) {
        self.mac = mac
        self.dev = dev
        self.vlan = vlan
    }

    public var description: String { "\(mac) dev \(dev)" + (vlan.map { " vlan \($0)" } ?? "") }
}

/// Everything a configuration file says; what it does not say keeps the command line's value.
public struct BridgeFile: Equatable, Sendable {
    public var name: String?
    public var ageingSeconds: Int?
    public var maxLearned: Int?
    public var maxStatic: Int?
    public var vlanFiltering: Bool?
    public var vlanProtocol: UInt16?
    public var groupForwardMask: UInt16?
    public var threads: Int?
    public var backend: PortBackend?
    /// `metrics: 127.0.0.1:9477`: where `run` serves Prometheus metrics.
    public var metrics: String?
    /// `stp: rstp|stp|off` (nil: as the command line says) and the bridge's spanning-tree settings.
    public var spanningTree: String?
    public var stpPriority: UInt16?
    public var helloTime: UInt16?
    public var forwardDelay: UInt16?
    public var maxAge: UInt16?
    public var txHoldCount: UInt16?
    public var ports: [ConfiguredPort] = []
    public var staticFDB: [ConfiguredStaticEntry] = []
    /// `vxlan:` devices `run` creates before it opens the ports; each is also a port (in
    /// `ports`, with default settings unless `ports` lists it too).
    public var vxlan: [VXLANParameters] = []
    /// The `mcast_*` keys (MulticastOptions.swift); the command line's `--mcast-*` under them.
    public var multicast = MulticastOptionValues()

    public init() {}

    /// The options of a bridge started from this file over `base` (the command line's).
    public func applied(to base: BridgeOptions) -> BridgeOptions {
        var o = base
        if let name { o.name = name }
        if let ageingSeconds { o.table.ageingTime = .seconds(ageingSeconds) }
        if let maxLearned { o.table.maxLearned = maxLearned }
        if let maxStatic { o.table.maxStatic = maxStatic }
        if let vlanFiltering { o.bridge.vlanFiltering = vlanFiltering }
        if let vlanProtocol { o.bridge.vlanProtocol = vlanProtocol }
        if let groupForwardMask { o.bridge.groupForwardMask = groupForwardMask }
        if let threads { o.threads = threads }
        if let metrics { o.metrics = metrics }
        if let stp = spanningTree { o.spanningTree = Self.spanningTreeConfiguration(stp, base: o.spanningTree) }
        if var st = o.spanningTree {
            if let stpPriority { st.priority = stpPriority }
            if let helloTime { st.helloTime = helloTime }
            if let forwardDelay { st.forwardDelay = forwardDelay }
            if let maxAge { st.maxAge = maxAge }
            if let txHoldCount { st.transmitHoldCount = txHoldCount }
            o.spanningTree = st
        }
        let defaultBackend = backend ?? .afPacket
        for p in ports {
            o.bridge.ports.append(p.port)
            o.backends[p.port.name] = p.backend ?? defaultBackend
            if let st = p.spanningTree { o.spanningTreePorts[p.port.name] = st }
            if let m = p.multicast { o.multicastPorts[p.port.name] = m }
        }
        return o
    }

    /// `rstp`, `stp` or `off` (checked when read) over the settings the bridge already has.
    static func spanningTreeConfiguration(_ mode: String, base: SpanningTreeBridgeConfiguration?) -> SpanningTreeBridgeConfiguration? {
        guard mode != "off" else { return nil }
        var c = base ?? SpanningTreeBridgeConfiguration()
        c.protocolVersion = mode == "stp" ? .stp : .rstp
        return c
    }
}

public enum ConfigFile {
    /// Reads and checks a configuration file.
    public static func load(path: String) throws(ConfigFileError) -> BridgeFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigFileError(line: 0, key: "", message: "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(text)
    }

    /// Parses and checks a configuration. Throws the first error with its line and key.
    public static func parse(_ text: String) throws(ConfigFileError) -> BridgeFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw syntaxError(e)
        } catch {
            throw ConfigFileError(line: 0, key: "", message: "\(error)")
        }
        guard let root else { throw ConfigFileError(line: 0, key: "", message: "the file is empty") }
        var r = Reader()
        return try r.bridge(root)
    }

    private static func syntaxError(_ e: YamlError) -> ConfigFileError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigFileError(line: mark.line, key: "", message: "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, _):
            return ConfigFileError(line: 0, key: duplicates.joined(separator: ", "), message: "key given twice")
        default:
            return ConfigFileError(line: 0, key: "", message: "YAML: \(e)")
        }
    }
}

/// Walks the node tree; every check knows the node's line and its key path.
private struct Reader {
    static let bridgeKeys: Set<String> = Set([
        "name", "ageing", "max_learned", "max_static", "vlan_filtering", "vlan_protocol", "group_fwd_mask", "threads",
        "backend", "ports", "static_fdb", "metrics", "stp", "stp_priority", "hello_time", "forward_delay", "max_age",
        "tx_hold_count", "vxlan",
    ]).union(Reader.multicastKeys)
    /// Multicast snooping's bridge keys, as ip-link(8) names them.
    static let multicastKeys: Set<String> = [
        "mcast_snooping", "mcast_querier", "mcast_query_interval", "mcast_query_response_interval",
        "mcast_last_member_count", "mcast_last_member_interval", "mcast_igmp_version", "mcast_mld_version",
        "mcast_max_groups", "mcast_querier_ipv4", "mcast_querier_ipv6",
    ]
    static let portKeys = Set([
        "name", "pvid", "vlans", "untagged", "state", "backend", "bcast_limit", "mcast_limit", "unknown_limit",
        "stp_cost", "stp_priority", "edge", "auto_edge", "p2p", "bpdu_guard", "root_guard", "mcast_router", "mcast_fast_leave",
    ] + PortFlags.names.map(\.0))
    static let staticKeys: Set<String> = ["mac", "dev", "vlan"]

    func fail(_ node: Node?, _ key: String, _ message: String) -> ConfigFileError {
        ConfigFileError(line: node?.mark?.line ?? 0, key: key, message: message)
    }

    /// The mapping's pairs, keys checked against `allowed`.
    func mapping(_ node: Node, _ path: String, allowed: Set<String>) throws(ConfigFileError) -> [(String, Node)] {
        guard case .mapping(let m) = node else { throw fail(node, path, "expected a mapping of keys to values") }
        var pairs: [(String, Node)] = []
        var seen: Set<String> = []
        for (k, v) in m {
            guard case .scalar(let s) = k else { throw fail(k, path, "keys must be plain words") }
            let full = path.isEmpty ? s.string : "\(path).\(s.string)"
            guard allowed.contains(s.string) else {
                throw fail(k, full, "unknown key (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard seen.insert(s.string).inserted else { throw fail(k, full, "key given twice") }
            pairs.append((s.string, v))
        }
        return pairs
    }

    func string(_ node: Node, _ key: String) throws(ConfigFileError) -> String {
        guard case .scalar(let s) = node else { throw fail(node, key, "expected a single value") }
        return s.string
    }

    func int(_ node: Node, _ key: String, _ range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
        let s = try string(node, key)
        guard let v = Int(s), range.contains(v) else {
            throw fail(node, key, "expected a whole number \(range.lowerBound)...\(range.upperBound), got '\(s)'")
        }
        return v
    }

    func bool(_ node: Node, _ key: String) throws(ConfigFileError) -> Bool {
        let s = try string(node, key).lowercased()
        switch s {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, key, "expected true or false, got '\(s)'")
        }
    }

    func vlans(_ node: Node, _ key: String) throws(ConfigFileError) -> VLANSet {
        let s = try string(node, key)
        do { return try VLANSet(parsing: s) } catch { throw fail(node, key, error.description) }
    }

    /// Seconds, fractions allowed (`0.5`).
    func seconds(_ node: Node, _ key: String) throws(ConfigFileError) -> Double {
        let s = try string(node, key)
        guard let v = Double(s), v.isFinite, v >= 0, v <= 86_400 else { throw fail(node, key, "expected seconds 0...86400, got '\(s)'") }
        return v
    }

    func backend(_ node: Node, _ key: String) throws(ConfigFileError) -> PortBackend {
        let s = try string(node, key)
        guard let b = PortBackend(rawValue: s) else { throw fail(node, key, "expected af_packet or pcap, got '\(s)'") }
        return b
    }

    mutating func bridge(_ root: Node) throws(ConfigFileError) -> BridgeFile {
        var f = BridgeFile()
        for (key, v) in try mapping(root, "", allowed: Self.bridgeKeys) {
            switch key {
            case "name": f.name = try string(v, key)
            case "ageing": f.ageingSeconds = try int(v, key, 0...1_000_000)
            case "max_learned": f.maxLearned = try int(v, key, 1...4_194_304)
            case "max_static": f.maxStatic = try int(v, key, 0...1_048_576)
            case "vlan_filtering": f.vlanFiltering = try bool(v, key)
            case "vlan_protocol":
                switch try string(v, key).lowercased() {
                case "802.1q", "0x8100": f.vlanProtocol = EtherType.vlan
                case "802.1ad", "0x88a8": f.vlanProtocol = EtherType.qinq
                default: throw fail(v, key, "expected 802.1Q or 802.1ad")
                }
            case "group_fwd_mask":
                let s = try string(v, key).lowercased()
                guard let m = s.hasPrefix("0x") ? UInt16(s.dropFirst(2), radix: 16) : UInt16(s) else {
                    throw fail(v, key, "expected a 16-bit number like 0x4000")
                }
                f.groupForwardMask = m
            case "threads": f.threads = try int(v, key, 1...16)
            case "backend": f.backend = try backend(v, key)
            case "metrics": f.metrics = try string(v, key)
            case "stp":
                let mode = try string(v, key).lowercased()
                guard ["rstp", "stp", "off"].contains(mode) else { throw fail(v, key, "expected rstp, stp or off, got '\(mode)'") }
                f.spanningTree = mode
            case "stp_priority": f.stpPriority = UInt16(try int(v, key, 0...61_440))
            case "hello_time": f.helloTime = UInt16(try int(v, key, 1...10))
            case "forward_delay": f.forwardDelay = UInt16(try int(v, key, 4...30))
            case "max_age": f.maxAge = UInt16(try int(v, key, 6...40))
            case "tx_hold_count": f.txHoldCount = UInt16(try int(v, key, 1...10))
            case "mcast_snooping": f.multicast.snooping = try bool(v, key) ? "on" : "off"
            case "mcast_querier": f.multicast.querier = try bool(v, key)
            case "mcast_query_interval": f.multicast.queryInterval = try seconds(v, key)
            case "mcast_query_response_interval": f.multicast.queryResponseInterval = try seconds(v, key)
            case "mcast_last_member_interval": f.multicast.lastMemberInterval = try seconds(v, key)
            case "mcast_last_member_count": f.multicast.lastMemberCount = try int(v, key, 1...255)
            case "mcast_igmp_version": f.multicast.igmpVersion = try int(v, key, 2...3)
            case "mcast_mld_version": f.multicast.mldVersion = try int(v, key, 1...2)
            case "mcast_max_groups": f.multicast.maxGroups = try int(v, key, 1...1_048_576)
            case "mcast_querier_ipv4": f.multicast.querierIPv4 = try string(v, key)
            case "mcast_querier_ipv6": f.multicast.querierIPv6 = try string(v, key)
            case "ports":
                guard case .sequence(let seq) = v else { throw fail(v, key, "expected a list of ports") }
                var names: Set<String> = []
                for (i, p) in seq.enumerated() {
                    let port = try self.port(p, "ports[\(i)]")
                    guard names.insert(port.port.name).inserted else {
                        throw fail(p, "ports[\(i)].name", "port \(port.port.name) is listed twice")
                    }
                    f.ports.append(port)
                }
            case "static_fdb":
                guard case .sequence(let seq) = v else { throw fail(v, key, "expected a list of entries") }
                for (i, e) in seq.enumerated() { f.staticFDB.append(try staticEntry(e, "static_fdb[\(i)]")) }
            case "vxlan":
                guard case .sequence(let seq) = v else { throw fail(v, key, "expected a list of VXLAN devices") }
                for (i, e) in seq.enumerated() {
                    let d = try vxlanDevice(e, "vxlan[\(i)]")
                    guard !f.vxlan.contains(where: { $0.name == d.name }) else { throw fail(e, "vxlan[\(i)].name", "device \(d.name) is listed twice") }
                    f.vxlan.append(d)
                }
            default: break  // mapping() refused unknown keys
            }
        }
        // A VXLAN device is a port: with default settings unless `ports` lists it (in any order).
        for d in f.vxlan where !f.ports.contains(where: { $0.port.name == d.name }) {
            f.ports.append(ConfiguredPort(port: PortConfiguration(name: d.name)))
        }
        let portNames = Set(f.ports.map(\.port.name))
        for (i, e) in f.staticFDB.enumerated() where !portNames.contains(e.dev) {
            throw ConfigFileError(line: 0, key: "static_fdb[\(i)].dev", message: "no port named '\(e.dev)' in ports")
        }
        if f.vlanFiltering != true, let i = f.staticFDB.firstIndex(where: { $0.vlan != nil }) {
            throw ConfigFileError(line: 0, key: "static_fdb[\(i)].vlan", message: "entries have a VLAN only with vlan_filtering: true")
        }
        if f.spanningTree != "off" && (f.stpPriority != nil || f.helloTime != nil || f.forwardDelay != nil || f.maxAge != nil
            || f.txHoldCount != nil)
        {
            var st = SpanningTreeBridgeConfiguration()
            if let v = f.stpPriority { st.priority = v }
            if let v = f.helloTime { st.helloTime = v }
            if let v = f.forwardDelay { st.forwardDelay = v }
            if let v = f.maxAge { st.maxAge = v }
            if let v = f.txHoldCount { st.transmitHoldCount = v }
            do { try st.validate() } catch { throw ConfigFileError(line: 0, key: "stp", message: "\(error)") }
        }
        do { _ = try f.multicast.configuration(optionPrefix: "mcast_") } catch {
            throw ConfigFileError(line: 0, key: "mcast_*", message: error.description)
        }
        var check = BridgeConfiguration(ports: f.ports.map(\.port))
        check.vlanFiltering = f.vlanFiltering ?? false
        do { try check.validate() } catch { throw ConfigFileError(line: 0, key: "ports", message: error.description) }
        return f
    }

    func port(_ node: Node, _ path: String) throws(ConfigFileError) -> ConfiguredPort {
        let pairs = try mapping(node, path, allowed: Self.portKeys)
        guard let nameNode = pairs.first(where: { $0.0 == "name" })?.1 else { throw fail(node, path, "a port needs a name") }
        let name = try string(nameNode, "\(path).name")
        guard !name.isEmpty, name.utf8.count <= 15, !name.contains("/"), !name.contains(" ") else {
            throw fail(nameNode, "\(path).name", "interface name must be 1-15 characters without '/' or spaces")
        }
        var p = ConfiguredPort(port: PortConfiguration(name: name))
        var pvid: UInt16?? = nil  // nil: not given; .some(nil): "none"
        var vlans: VLANSet? = nil
        var untagged: VLANSet? = nil
        for (key, v) in pairs {
            let k = "\(path).\(key)"
            switch key {
            case "name": break
            case "pvid":
                let s = try string(v, k)
                if s == "none" { pvid = .some(nil) } else {
                    guard let n = UInt16(s), n >= 1, n <= 4094 else { throw fail(v, k, "expected 1...4094 or none, got '\(s)'") }
                    pvid = .some(n)
                }
            case "vlans": vlans = try self.vlans(v, k)
            case "untagged": untagged = try self.vlans(v, k)
            case "state":
                switch try string(v, k) {
                case "forwarding": p.port.state = .forwarding
                case "disabled": p.port.state = .disabled
                case let s: throw fail(v, k, "expected forwarding or disabled, got '\(s)'")
                }
            case "backend": p.backend = try backend(v, k)
            case "bcast_limit": p.port.stormControl.broadcast = UInt32(try int(v, k, 1...100_000_000))
            case "mcast_limit": p.port.stormControl.multicast = UInt32(try int(v, k, 1...100_000_000))
            case "unknown_limit": p.port.stormControl.unknownUnicast = UInt32(try int(v, k, 1...100_000_000))
            case "stp_cost":
                let c = try int(v, k, 0...200_000_000)
                p.spanningTree = p.spanningTree ?? .init()
                p.spanningTree?.pathCost = c == 0 ? .automatic : .fixed(UInt32(c))
            case "stp_priority":
                let pr = try int(v, k, 0...240)
                guard pr % 16 == 0 else { throw fail(v, k, "expected a multiple of 16 from 0 to 240") }
                p.spanningTree = p.spanningTree ?? .init()
                p.spanningTree?.priority = UInt8(pr)
            case "edge", "auto_edge", "bpdu_guard", "root_guard":
                let on = try bool(v, k)
                var st = p.spanningTree ?? .init()
                switch key {
                case "edge": st.adminEdge = on
                case "auto_edge": st.autoEdge = on
                case "bpdu_guard": st.bpduGuard = on
                default: st.rootGuard = on
                }
                p.spanningTree = st
            case "p2p":
                let s = try string(v, k)
                guard let setting = PointToPointSetting(rawValue: s) else { throw fail(v, k, "expected auto, on or off, got '\(s)'") }
                p.spanningTree = p.spanningTree ?? .init()
                p.spanningTree?.pointToPoint = setting
            case "mcast_router":
                var m = p.multicast ?? MulticastPortFlags()
                m.router = MulticastRouterMode(rawValue: try int(v, k, 0...2)) ?? .learned
                p.multicast = m
            case "mcast_fast_leave":
                var m = p.multicast ?? MulticastPortFlags()
                m.fastLeave = try bool(v, k)
                p.multicast = m
            default:
                guard let flag = PortFlags.names.first(where: { $0.0 == key })?.1 else { throw fail(v, k, "unknown key") }
                if try bool(v, k) { p.port.flags.insert(flag) } else { p.port.flags.remove(flag) }
            }
        }
        if pvid != nil || vlans != nil || untagged != nil {
            let pv = pvid ?? nil
            var members = vlans ?? VLANSet()
            if let pv { members.insert(pv) }
            for u in (untagged ?? VLANSet()).members { members.insert(u) }
            p.port.pvid = pv
            p.port.vlans = members
            p.port.untaggedVLANs = untagged ?? VLANSet()
        }
        return p
    }

    static let vxlanKeys: Set<String> = ["name", "vni", "local", "remote", "dstport", "group", "dev", "mtu"]

    /// `{name: vx0, vni: 42, local: 198.19.0.1, remote: [198.19.0.2], dstport: 4789, mtu: 1450}`
    /// or with `group: 239.1.1.1, dev: eth1`: the words of `swbridge vxlan add`.
    func vxlanDevice(_ node: Node, _ path: String) throws(ConfigFileError) -> VXLANParameters {
        let pairs = try mapping(node, path, allowed: Self.vxlanKeys)
        func value(_ key: String) -> Node? { pairs.first(where: { $0.0 == key })?.1 }
        func address(_ n: Node, _ k: String) throws(ConfigFileError) -> VXLANAddress {
            let s = try string(n, k)
            guard let a = VXLANAddress(parsing: s) else { throw fail(n, k, "expected an IPv4 or IPv6 address, got '\(s)'") }
            return a
        }
        guard let nameNode = value("name"), let vniNode = value("vni"), let localNode = value("local") else {
            throw fail(node, path, "a VXLAN device needs name, vni and local")
        }
        let name = try string(nameNode, "\(path).name")
        var p = VXLANParameters(
            name: name, vni: UInt32(try int(vniNode, "\(path).vni", 0...Int(NetlinkVXLAN.maxVNI))),
            local: try address(localNode, "\(path).local"))
        if let r = value("remote") {
            let k = "\(path).remote"
            if case .sequence(let seq) = r {
                for n in seq { p.remotes.append(try address(n, k)) }
            } else {
                for word in try string(r, k).split(separator: " ") {
                    guard let a = VXLANAddress(parsing: String(word)) else { throw fail(r, k, "expected addresses, got '\(word)'") }
                    p.remotes.append(a)
                }
            }
        }
        if let n = value("dstport") { p.port = UInt16(try int(n, "\(path).dstport", 1...65_535)) }
        if let n = value("group") { p.group = try address(n, "\(path).group") }
        if let n = value("dev") { p.underlay = try string(n, "\(path).dev") }
        if let n = value("mtu") { p.mtu = try int(n, "\(path).mtu", 68...65_535) }
        // What does not need the machine (names, address families) is checked now.
        var spec = VXLANDeviceSpec(name: p.name, vni: p.vni, local: p.local, remotes: p.remotes, port: p.port,
                                   group: p.group, underlayIndex: p.underlay == nil ? nil : 0, mtu: p.mtu)
        spec.learning = true
        if let refusal = spec.refusal { throw fail(node, path, refusal) }
        return p
    }

    func staticEntry(_ node: Node, _ path: String) throws(ConfigFileError) -> ConfiguredStaticEntry {
        let pairs = try mapping(node, path, allowed: Self.staticKeys)
        guard let macNode = pairs.first(where: { $0.0 == "mac" })?.1 else { throw fail(node, path, "an entry needs a mac") }
        guard let devNode = pairs.first(where: { $0.0 == "dev" })?.1 else { throw fail(node, path, "an entry needs a dev") }
        let macText = try string(macNode, "\(path).mac")
        let mac: MACAddress
        do { mac = try MACAddress(parsing: macText) } catch { throw fail(macNode, "\(path).mac", error.description) }
        var e = ConfiguredStaticEntry(mac: mac, dev: try string(devNode, "\(path).dev"))
        if let v = pairs.first(where: { $0.0 == "vlan" })?.1 { e.vlan = UInt16(try int(v, "\(path).vlan", 1...4094)) }
        return e
    }
}
