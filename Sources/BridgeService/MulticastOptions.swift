// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Multicast snooping's settings as the command line, port specs, `link set` and the
// configuration file spell them: the kernel bridge's option names (ip-link(8):
// mcast_snooping, mcast_querier, mcast_query_interval, ...; bridge(8): mcast_router,
// mcast_fast_leave) and its defaults (snooping on, querier off, IGMPv2, MLDv1, 4,096 groups).
// Parsing is here, in one place, so `run --mcast-*`, `--port NAME:mcast_router=2` and the
// file's `mcast_*` keys accept exactly the same values and say the same things when refused.
//
// Querier addresses: the kernel's IGMP querier uses the bridge device's IPv4 address and
// 0.0.0.0 when it has none (br_ip4_multicast_alloc_query: inet_select_addr(br->dev, 0,
// RT_SCOPE_LINK)); swbridge has no bridge device, so it uses 0.0.0.0 unless
// `--mcast-querier-ipv4` gives one (a 0.0.0.0 querier defers to any other it hears). MLD
// queries must come from a link-local address (RFC 3810 5.1.14): without
// `--mcast-querier-ipv6` the bridge uses the EUI-64 link-local address of its own MAC (the
// address the kernel would give a bridge device with that MAC).

import BridgeCore
import MulticastSnooping

/// A refused multicast option, naming it.
public struct MulticastOptionError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
}

extension String {
    fileprivate var replacingHyphens: String { String(map { $0 == "-" ? "_" : $0 }) }
}

/// The `--mcast-*` options before they are checked (nil: not given, the default).
public struct MulticastOptionValues: Sendable, Equatable {
    /// `on` or `off`.
    public var snooping: String?
    public var querier: Bool?
    /// Seconds (fractions allowed where the kernel's centiseconds allow them).
    public var queryInterval: Double?
    public var queryResponseInterval: Double?
    public var lastMemberCount: Int?
    public var lastMemberInterval: Double?
    public var igmpVersion: Int?
    public var mldVersion: Int?
    public var maxGroups: Int?
    public var querierIPv4: String?
    public var querierIPv6: String?

    public init() {}

    /// Whether any option is given.
    public var isEmpty: Bool { self == MulticastOptionValues() }

    /// `other`'s given values over these.
    public func overridden(by other: MulticastOptionValues) -> MulticastOptionValues {
        var r = self
        if let v = other.snooping { r.snooping = v }
        if let v = other.querier { r.querier = v }
        if let v = other.queryInterval { r.queryInterval = v }
        if let v = other.queryResponseInterval { r.queryResponseInterval = v }
        if let v = other.lastMemberCount { r.lastMemberCount = v }
        if let v = other.lastMemberInterval { r.lastMemberInterval = v }
        if let v = other.igmpVersion { r.igmpVersion = v }
        if let v = other.mldVersion { r.mldVersion = v }
        if let v = other.maxGroups { r.maxGroups = v }
        if let v = other.querierIPv4 { r.querierIPv4 = v }
        if let v = other.querierIPv6 { r.querierIPv6 = v }
        return r
    }

    /// The snooper's configuration, or nil with `mcast_snooping off`. Throws a message naming
    /// the option (`prefix` + option name) for anything out of range.
    public func configuration(optionPrefix prefix: String = "--mcast-") throws(MulticastOptionError) -> MulticastSnoopingConfiguration? {
        func fail(_ name: String, _ why: String) -> MulticastOptionError {
            MulticastOptionError(description: "\(prefix)\(prefix.hasSuffix("_") ? name.replacingHyphens : name) \(why)")
        }
        switch snooping?.lowercased() {
        case nil, "on", "1", "yes", "true": break
        case "off", "0", "no", "false": return nil
        case let s?: throw fail("snooping", "takes on or off, not '\(s)'")
        }
        var c = MulticastSnoopingConfiguration()
        c.querier = querier ?? false
        func duration(_ name: String, _ v: Double?) throws(MulticastOptionError) -> Duration? {
            guard let v else { return nil }
            guard v.isFinite, v >= 0, v <= 86_400 else { throw fail(name, "takes seconds, 0 ... 86400") }
            return .milliseconds(Int64((v * 1000).rounded()))
        }
        if let d = try duration("query-interval", queryInterval) { c.queryInterval = d }
        if let d = try duration("query-response-interval", queryResponseInterval) { c.queryResponseInterval = d }
        if let d = try duration("last-member-interval", lastMemberInterval) { c.lastMemberInterval = d }
        // As the kernel: the startup queries go out at a quarter of the query interval.
        if queryInterval != nil { c.startupQueryInterval = max(c.queryInterval / 4, .seconds(1)) }
        if let n = lastMemberCount { c.lastMemberCount = n }
        if let v = igmpVersion { c.igmpVersion = v }
        if let v = mldVersion { c.mldVersion = v }
        if let n = maxGroups { c.maxGroups = n }
        if let s = querierIPv4 {
            guard let a = IPAddress(parsing: s), !a.isIPv6 else { throw fail("querier-ipv4", "expected an IPv4 address, not '\(s)'") }
            c.querierIPv4 = a
        }
        if let s = querierIPv6 {
            guard let a = IPAddress(parsing: s), a.isIPv6LinkLocal else {
                throw fail("querier-ipv6", "expected an IPv6 link-local address (fe80::/10), not '\(s)'")
            }
            c.querierIPv6 = a
        }
        do { try c.validate() } catch { throw MulticastOptionError(description: "multicast snooping: \(error.description)") }
        return c
    }
}

extension MulticastSnoopingConfiguration {
    /// This configuration for a bridge whose address is `mac` (the source of its queries and,
    /// without a configured one, of its MLD querier's EUI-64 link-local address) and whose
    /// ports are in `vlans` with VLAN filtering on (the querier queries in each; none: VLAN 0).
    public func forBridge(address mac: MACAddress, vlans: [UInt16]) -> MulticastSnoopingConfiguration {
        var c = self
        c.bridgeMAC = mac
        if c.querierIPv6 == nil { c.querierIPv6 = Self.linkLocal(eui64Of: mac) }
        if !vlans.isEmpty { c.querierVLANs = vlans.sorted() }
        return c
    }

    /// fe80::/64 with the EUI-64 interface identifier of `mac` (RFC 4291 appendix A: ff:fe in
    /// the middle, the universal/local bit flipped).
    public static func linkLocal(eui64Of mac: MACAddress) -> IPAddress {
        let m = mac.rawValue & 0xFFFF_FFFF_FFFF
        let upper = (m >> 24) ^ 0x02_0000  // first three bytes, U/L bit flipped
        let lower = m & 0xFF_FFFF
        let iid = upper << 40 | 0xFF_FE << 24 | lower
        return IPAddress(ipv6High: 0xFE80_0000_0000_0000, low: iid)
    }
}

extension MulticastPortFlags {
    /// Applies one port word (`mcast_router=N`, `mcast_fast_leave`, `no-mcast_fast_leave`);
    /// false if the word is not a multicast word.
    mutating func apply(key: String, value: String?) throws(ConfigurationError) -> Bool {
        switch key {
        case "mcast_router":
            guard let value, let n = Int(value), let mode = MulticastRouterMode(rawValue: n) else {
                throw .invalidPortSpec("mcast_router=\(value ?? "")", "mcast_router takes 0 (never), 1 (learned, default) or 2 (always)")
            }
            router = mode
            return true
        case "mcast_fast_leave":
            switch value?.lowercased() {
            case nil, "on", "1", "yes", "true": fastLeave = true
            case "off", "0", "no", "false": fastLeave = false
            case let v?: throw .invalidPortSpec("mcast_fast_leave=\(v)", "mcast_fast_leave takes on or off")
            }
            return true
        default:
            return false
        }
    }
}

extension PortSpec {
    /// The multicast words of a `--port` spec (`mcast_router=0|1|2`, `mcast_fast_leave`,
    /// `no-mcast_fast_leave`; hyphens or underscores); nil when it names none.
    public static func multicastFlags(_ spec: String) throws(ConfigurationError) -> MulticastPortFlags? {
        var flags = MulticastPortFlags()
        var any = false
        for option in spec.split(separator: ":", omittingEmptySubsequences: false).dropFirst() {
            var word = String(option.map { $0 == "-" ? "_" : $0 })
            var value: String? = nil
            if let eq = word.firstIndex(of: "=") {
                value = String(word[word.index(after: eq)...])
                word = String(word[..<eq])
            }
            if word == "no_mcast_fast_leave" && value == nil {
                word = "mcast_fast_leave"
                value = "off"
            }
            if try flags.apply(key: word, value: value) { any = true }
        }
        return any ? flags : nil
    }

    /// Whether a `--port` option is one of the multicast words (`parseWithBackend` skips them).
    static func isMulticastWord(_ option: String) -> Bool {
        let w = String(option.map { $0 == "-" ? "_" : $0 })
        return w.hasPrefix("mcast_router=") || w == "mcast_fast_leave" || w == "no_mcast_fast_leave"
            || w.hasPrefix("mcast_fast_leave=")
    }
}
