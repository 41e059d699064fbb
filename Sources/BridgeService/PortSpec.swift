// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Port specifications as `swbridge run --port` takes them: an interface name and options
// separated by colons, e.g. `veth1:pvid=10:vlans=10,20:untagged=10:hairpin:no-learning`.
// Colons, because VLAN lists use commas. Parsed into BridgeCore's PortConfiguration.
import BridgeCore
import SpanningTree

/// Parses `--port` values.
public enum PortSpec {
    /// The options a spec may carry, for help texts.
    public static let help = """
        NAME[:OPTION...]. Options: learning|no-learning, flood|no-flood, mcast_flood|no-mcast_flood, \
        bcast_flood|no-bcast_flood, hairpin, isolated, disabled, pvid=N, no-pvid, vlans=LIST, untagged=LIST \
        (LIST like 1,10-20), backend=af_packet|pcap, storm control bcast_limit=FPS, mcast_limit=FPS, unknown_limit=FPS (floods this port \
        may start per second); with --stp: stp_cost=N (0: from the link speed), stp_priority=N (0-240, multiple of 16), \
        edge, auto_edge (default on), p2p=auto|on|off, bpdu_guard, root_guard; snooping: mcast_router=0|1|2, \
        mcast_fast_leave. Defaults as Linux: learning, flood, mcast_flood, bcast_flood on; pvid 1, vlans 1, untagged 1; \
        no storm limits; mcast_router=1, no fast leave.
        """

    /// Spanning-tree options of a spec (`PortSpec.spanningTree`), skipped by `parse`.
    static let spanningTreeKeys: Set<String> = ["stp_cost", "stp_priority", "p2p"]
    static let spanningTreeFlags: Set<String> = ["edge", "auto_edge", "bpdu_guard", "root_guard"]

    /// The spanning-tree settings of a spec; nil when it names none.
    public static func spanningTree(_ spec: String) throws(ConfigurationError) -> SpanningTreePortConfiguration? {
        var c = SpanningTreePortConfiguration()
        var any = false
        for option in spec.split(separator: ":", omittingEmptySubsequences: false).dropFirst().map(String.init) {
            if let eq = option.firstIndex(of: "=") {
                let key = String(option[..<eq]), value = String(option[option.index(after: eq)...])
                guard spanningTreeKeys.contains(key) else { continue }
                any = true
                switch key {
                case "stp_cost":
                    guard let v = UInt32(value), v <= 200_000_000 else { throw .invalidPortSpec(spec, "stp_cost takes 0 (from the link speed) to 200000000") }
                    c.pathCost = v == 0 ? .automatic : .fixed(v)
                case "stp_priority":
                    guard let v = UInt8(value), v % 16 == 0 else { throw .invalidPortSpec(spec, "stp_priority takes a multiple of 16 from 0 to 240") }
                    c.priority = v
                default:
                    guard let v = PointToPointSetting(rawValue: value) else { throw .invalidPortSpec(spec, "p2p takes auto, on or off") }
                    c.pointToPoint = v
                }
                continue
            }
            let negated = option.hasPrefix("no-")
            let flag = (negated ? String(option.dropFirst(3)) : option).replacingOccurrences(of: "-", with: "_")
            guard spanningTreeFlags.contains(flag) else { continue }
            any = true
            switch flag {
            case "edge": c.adminEdge = !negated
            case "auto_edge": c.autoEdge = !negated
            case "bpdu_guard": c.bpduGuard = !negated
            default: c.rootGuard = !negated
            }
        }
        do { try c.validate() } catch { throw .invalidPortSpec(spec, "\(error)") }
        return any ? c : nil
    }

    /// Parses one spec. Throws with the offending part named.
    public static func parse(_ spec: String) throws(ConfigurationError) -> PortConfiguration {
        try parseWithBackend(spec).0
    }

    /// Parses one spec and its `backend=af_packet|pcap` option (nil when not given).
    public static func parseWithBackend(_ spec: String) throws(ConfigurationError) -> (PortConfiguration, PortBackend?) {
        var backend: PortBackend? = nil
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        guard !name.isEmpty, name.utf8.count <= 15, !name.contains("/"), !name.contains(" ") else {
            throw .invalidPortSpec(spec, "interface name must be 1-15 characters without '/' or spaces")
        }
        var port = PortConfiguration(name: name)
        for option in parts.dropFirst() {
            // Multicast snooping's words: checked and read by multicastFlags (MulticastOptions.swift).
            if isMulticastWord(option) {
                _ = try multicastFlags("\(name):\(option)")
                continue
            }
            if let eq = option.firstIndex(of: "=") {
                let key = String(option[..<eq]), value = String(option[option.index(after: eq)...])
                switch key {
                case "pvid":
                    guard let v = UInt16(value), v >= 1, v <= 4094 else { throw .invalidPVID(port: name, UInt16(value) ?? 0) }
                    port.pvid = v
                case "vlans": port.vlans = try VLANSet(parsing: value)
                case "untagged": port.untaggedVLANs = try VLANSet(parsing: value)
                case "backend":
                    guard let b = PortBackend(rawValue: value) else {
                        throw .invalidPortSpec(spec, "backend must be af_packet or pcap")
                    }
                    backend = b
                case _ where spanningTreeKeys.contains(key): break  // PortSpec.spanningTree
                case "bcast_limit", "mcast_limit", "unknown_limit":
                    guard let rate = UInt32(value), rate >= 1 else {
                        throw .invalidPortSpec(spec, "\(key) takes a rate in frames/s (1 or more)")
                    }
                    switch key {
                    case "bcast_limit": port.stormControl.broadcast = rate
                    case "mcast_limit": port.stormControl.multicast = rate
                    default: port.stormControl.unknownUnicast = rate
                    }
                default: throw .invalidPortSpec(spec, "unknown option '\(key)'")
                }
                continue
            }
            var flagName = option
            let negated = option.hasPrefix("no-")
            if negated { flagName.removeFirst(3) }
            flagName = flagName.replacingOccurrences(of: "-", with: "_")
            if spanningTreeFlags.contains(flagName) {
                continue  // PortSpec.spanningTree
            } else if flagName == "disabled" && !negated {
                port.state = .disabled
            } else if flagName == "pvid" && negated {
                port.pvid = nil
            } else if let flag = PortFlags.names.first(where: { $0.0 == flagName })?.1 {
                if negated { port.flags.remove(flag) } else { port.flags.insert(flag) }
            } else {
                throw .unknownFlag(option)
            }
        }
        return (port, backend)
    }
}

extension String {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
