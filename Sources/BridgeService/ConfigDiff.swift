// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ConfigDiff: what `swbridge reload` changes — the difference between the bridge as it runs
// and its configuration file, as port and static-entry operations, so a reload touches only
// what changed: ports added, removed or changed (flags, state, VLANs) and static entries added
// or removed, while learned entries of untouched ports stay. Settings that only a restart can
// change (the name, threads, table sizes and ageing time, backends) are reported and refuse the
// reload.

import BridgeCore
import MulticastSnooping
import SpanningTree

public struct ConfigDiff: Equatable, Sendable {
    public struct PortChange: Equatable, Sendable {
        public var name: String
        public var old: PortConfiguration
        public var new: PortConfiguration
    }

    /// A port's `mcast_router` / `mcast_fast_leave` as the file wants them.
    public struct MulticastPortChange: Equatable, Sendable {
        public var name: String
        public var old: MulticastPortFlags
        public var flags: MulticastPortFlags
    }

    public var portsAdded: [ConfiguredPort] = []
    /// Multicast snooping's port flags that change (applied live, by port name).
    public var multicastPortsChanged: [MulticastPortChange] = []
    public var portsRemoved: [String] = []
    public var portsChanged: [PortChange] = []
    public var staticAdded: [ConfiguredStaticEntry] = []
    public var staticRemoved: [ConfiguredStaticEntry] = []
    /// New VLAN filtering, when it changes.
    public var vlanFiltering: Bool?
    /// Keys that changed but need a restart (the reload is refused while there are any).
    public var needsRestart: [String] = []
    /// Ports (kept) whose spanning-tree settings change.
    public var spanningTreePortsChanged: [String: SpanningTreePortConfiguration] = [:]

    public var isEmpty: Bool {
        portsAdded.isEmpty && portsRemoved.isEmpty && portsChanged.isEmpty && staticAdded.isEmpty
            && staticRemoved.isEmpty && vlanFiltering == nil && needsRestart.isEmpty && spanningTreePortsChanged.isEmpty
            && multicastPortsChanged.isEmpty
    }

    /// The difference from the running bridge (`ports`, `statics`, settings in `running`) to `file`.
    public init(
        running: BridgeOptions, ports: [ConfiguredPort], statics: [ConfiguredStaticEntry], file: BridgeFile
    ) {
        let target = file.applied(to: BridgeOptions.reloadBase(running))
        if target.name != running.name { needsRestart.append("name") }
        if target.threads != running.threads { needsRestart.append("threads") }
        if target.metrics != running.metrics { needsRestart.append("metrics") }
        if target.table.maxLearned != running.table.maxLearned { needsRestart.append("max_learned") }
        if target.table.maxStatic != running.table.maxStatic { needsRestart.append("max_static") }
        if target.bridge.vlanProtocol != running.bridge.vlanProtocol { needsRestart.append("vlan_protocol") }
        if target.bridge.groupForwardMask != running.bridge.groupForwardMask { needsRestart.append("group_fwd_mask") }
        if target.bridge.vlanFiltering != running.bridge.vlanFiltering { vlanFiltering = target.bridge.vlanFiltering }
        // The table's ageing time is fixed when it is made (this release): a restart applies it.
        if target.table.ageingTime != running.table.ageingTime { needsRestart.append("ageing") }
        // The tree's mode and timers are the bridge identity's part: a restart applies them.
        if target.spanningTree != running.spanningTree { needsRestart.append("stp") }
        // Multicast snooping's bridge-wide settings are fixed at start (this release). Options
        // not made by `run` (snooping unset, no mcast_* keys) have nothing to compare.
        if running.multicastSnooping != nil || !file.multicast.isEmpty {
            do {
                if try running.multicastCommandLine.overridden(by: file.multicast).configuration() != running.multicastSnooping {
                    needsRestart.append("mcast_*")
                }
            } catch {
                needsRestart.append("mcast_* (\(error))")
            }
        }
        let current = Dictionary(ports.map { ($0.port.name, $0) }, uniquingKeysWith: { a, _ in a })
        let wanted = Set(file.ports.map(\.port.name))
        for p in ports where !wanted.contains(p.port.name) { portsRemoved.append(p.port.name) }
        for p in file.ports {
            let backend = p.backend ?? file.backend ?? .afPacket
            let oldFlags = current[p.port.name]?.multicast ?? MulticastPortFlags()
            if (p.multicast ?? MulticastPortFlags()) != oldFlags {
                multicastPortsChanged.append(MulticastPortChange(name: p.port.name, old: oldFlags, flags: p.multicast ?? MulticastPortFlags()))
            }
            guard let c = current[p.port.name] else {
                portsAdded.append(ConfiguredPort(port: p.port, backend: backend))
                continue
            }
            if (c.backend ?? .afPacket) != backend {
                needsRestart.append("ports[\(p.port.name)].backend")  // a new socket: use link del + link add
            }
            if c.port != p.port { portsChanged.append(PortChange(name: p.port.name, old: c.port, new: p.port)) }
            if (c.spanningTree ?? .init()) != (p.spanningTree ?? .init()) {
                spanningTreePortsChanged[p.port.name] = p.spanningTree ?? .init()
            }
        }
        let have = Set(statics), want = Set(file.staticFDB)
        staticRemoved = statics.filter { !want.contains($0) }
        staticAdded = file.staticFDB.filter { !have.contains($0) }
    }

    /// One line per change, for `reload --check` and the log.
    public var lines: [String] {
        var out: [String] = []
        for k in needsRestart { out.append("! \(k): changes only with a restart") }
        if let v = vlanFiltering { out.append("~ vlan_filtering: \(!v) -> \(v)") }
        for n in portsRemoved { out.append("- port \(n)") }
        for p in portsAdded { out.append("+ port \(p.port.name): \(Self.describe(p.port))") }
        for c in portsChanged { out.append("~ port \(c.name): \(Self.changes(c.old, c.new).joined(separator: ", "))") }
        for n in spanningTreePortsChanged.keys.sorted() { out.append("~ port \(n): spanning-tree settings") }
        for c in multicastPortsChanged {
            var words: [String] = []
            if c.old.router != c.flags.router { words.append("mcast_router \(c.old.router.rawValue) -> \(c.flags.router.rawValue)") }
            if c.old.fastLeave != c.flags.fastLeave { words.append("mcast_fast_leave \(c.old.fastLeave ? "on" : "off") -> \(c.flags.fastLeave ? "on" : "off")") }
            out.append("~ port \(c.name): \(words.joined(separator: ", "))")
        }
        for e in staticRemoved { out.append("- fdb \(e)") }
        for e in staticAdded { out.append("+ fdb \(e)") }
        return out
    }

    static func describe(_ p: PortConfiguration) -> String {
        var words = [p.state.description, "pvid \(p.pvid.map(String.init) ?? "none")", "vlans \(p.vlans)", "untagged \(p.untaggedVLANs)"]
        for (name, flag) in PortFlags.names where p.flags.contains(flag) != PortFlags.defaults.contains(flag) {
            words.append("\(name) \(p.flags.contains(flag) ? "on" : "off")")
        }
        return words.joined(separator: ", ")
    }

    static func changes(_ a: PortConfiguration, _ b: PortConfiguration) -> [String] {
        var out: [String] = []
        if a.state != b.state { out.append("state \(a.state) -> \(b.state)") }
        if a.pvid != b.pvid { out.append("pvid \(a.pvid.map(String.init) ?? "none") -> \(b.pvid.map(String.init) ?? "none")") }
        if a.vlans != b.vlans { out.append("vlans \(a.vlans) -> \(b.vlans)") }
        if a.untaggedVLANs != b.untaggedVLANs { out.append("untagged \(a.untaggedVLANs) -> \(b.untaggedVLANs)") }
        for (name, flag) in PortFlags.names where a.flags.contains(flag) != b.flags.contains(flag) {
            out.append("\(name) \(a.flags.contains(flag) ? "on" : "off") -> \(b.flags.contains(flag) ? "on" : "off")")
        }
        if a.stormControl != b.stormControl { out.append("storm control changed") }
        return out
    }
}

extension BridgeOptions {
    /// The running options without the file's parts (ports), for applying a file over them.
    static func reloadBase(_ running: BridgeOptions) -> BridgeOptions {
        var o = running
        o.bridge.ports = []
        o.backends = [:]
        return o
    }
}
