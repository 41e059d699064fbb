// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Port specifications as `swbridge run --port` takes them: an interface name and options
// separated by colons, e.g. `veth1:pvid=10:vlans=10,20:untagged=10:hairpin:no-learning`.
// Colons, because VLAN lists use commas. Parsed into BridgeCore's PortConfiguration.
import BridgeCore

/// Parses `--port` values.
public enum PortSpec {
    /// The options a spec may carry, for help texts.
    public static let help = """
        NAME[:OPTION...]. Options: learning|no-learning, flood|no-flood, mcast_flood|no-mcast_flood, \
        bcast_flood|no-bcast_flood, hairpin, isolated, disabled, pvid=N, no-pvid, vlans=LIST, untagged=LIST \
        (LIST like 1,10-20), backend=af_packet|pcap, storm control bcast_limit=FPS, mcast_limit=FPS, unknown_limit=FPS (floods this port \
        may start per second), snooping mcast_router=0|1|2, mcast_fast_leave. Defaults as Linux: learning, flood, mcast_flood, bcast_flood on; pvid 1, vlans 1, \
        untagged 1; no storm limits; mcast_router=1, no fast leave.
        """

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
            if flagName == "disabled" && !negated {
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
