// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The values multicast snooping is keyed on: an IP group address (IPv4 or IPv6, never the
// group's Ethernet MAC: IPv4 maps 32 groups onto one MAC, so a MAC key would deliver one group's
// traffic to another group's members) and a set of up to 1,024 ports.

/// An IPv4 or IPv6 multicast group address: 128 bits and a family bit, compared as integers.
/// IPv4 groups sit in the low 32 bits of `low` with `high` zero.
public struct MulticastGroup: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// IPv6: the first 8 octets, most significant first. IPv4: 0.
    public let high: UInt64
    /// IPv6: the last 8 octets. IPv4: the address in the low 32 bits.
    public let low: UInt64
    /// IPv6 (MLD) rather than IPv4 (IGMP).
    public let isIPv6: Bool

    /// An IPv4 group, e.g. `0xEF01_0101` for 239.1.1.1.
    @inlinable public init(ipv4: UInt32) {
        high = 0
        low = UInt64(ipv4)
        isIPv6 = false
    }

    /// An IPv6 group from its two 64-bit halves.
    @inlinable public init(ipv6High: UInt64, low: UInt64) {
        high = ipv6High
        self.low = low
        isIPv6 = true
    }

    /// The IPv4 address (valid when `!isIPv6`).
    @inlinable public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// True for groups that are always flooded: 224.0.0.0/24 (RFC 4541 2.1.2) and IPv6 groups of
    /// interface- or link-local scope (ff01::/16, ff02::/16; scope nibble at most 2).
    @inlinable public var isLinkLocal: Bool {
        if isIPv6 { return (high >> 48) & 0x000F <= 2 }
        return low & 0xFFFF_FF00 == 0xE000_0000
    }

    /// True for addresses that are multicast at all (224.0.0.0/4, ff00::/8).
    @inlinable public var isMulticast: Bool {
        isIPv6 ? high >> 56 == 0xFF : low & 0xF000_0000 == 0xE000_0000
    }

    /// The Ethernet destination traffic to this group uses (01:00:5e + 23 bits, 33:33 + 32 bits).
    public var ethernetAddress: MACAddress {
        isIPv6
            ? MACAddress(rawValue: 0x3333_0000_0000 | (low & 0xFFFF_FFFF))
            : MACAddress(rawValue: 0x0100_5E00_0000 | (low & 0x007F_FFFF))
    }

    /// The 16 octets of an IPv6 group (IPv4: the 4 octets).
    public var octets: [UInt8] {
        if !isIPv6 { return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public static func < (a: MulticastGroup, b: MulticastGroup) -> Bool {
        (a.isIPv6 ? 1 : 0, a.high, a.low) < (b.isIPv6 ? 1 : 0, b.high, b.low)
    }

    /// Dotted quad, or RFC 5952 text (lower case, the longest run of zero groups as `::`).
    public var description: String {
        if !isIPv6 { return octets.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { i -> UInt16 in
            UInt16(truncatingIfNeeded: (i < 4 ? high : low) >> (48 - 16 * UInt64(i % 4)))
        }
        var bestStart = -1, bestLength = 1, i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > bestLength { bestStart = i; bestLength = j - i }
            i = j
        }
        let hex = groups.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        return hex[..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLength)...].joined(separator: ":")
    }

    /// Parses `239.1.1.1` or `ff0e::1:1` (any IPv6 text form without an embedded IPv4 part).
    /// Returns nil for text that is not an address; does not require a multicast address.
    public init?(parsing text: String) {
        if text.contains(".") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var v: UInt32 = 0
            for p in parts {
                guard let o = UInt8(p) else { return nil }
                v = v << 8 | UInt32(o)
            }
            self.init(ipv4: v)
            return
        }
        // Split at "::" by hand: BridgeCore does not import Foundation.
        let u = Array(text.utf8)
        var halves: [String] = [text]
        if u.count >= 2, let at = (0..<(u.count - 1)).first(where: { u[$0] == 58 && u[$0 + 1] == 58 }) {
            let rest = Array(u[(at + 2)...])
            if rest.count >= 2 && (0..<(rest.count - 1)).contains(where: { rest[$0] == 58 && rest[$0 + 1] == 58 }) { return nil }
            halves = [String(decoding: u[..<at], as: UTF8.self), String(decoding: rest, as: UTF8.self)]
        }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        let hi = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let lo = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        self.init(ipv6High: hi, low: lo)
    }
}

/// A set of port indices 0 ..< 1,024 as 16 words, for the control path (the snooper's view of
/// a group's members, router ports, listings). The per-frame path reads the same words out of
/// `MulticastGroupTable` into caller-owned memory instead.
public struct MulticastPortSet: Equatable, Hashable, Sendable, Codable {
    /// Words in a set: 16 × 64 = 1,024 ports.
    public static let wordCount = 16
    /// Ports a set can hold.
    public static let portLimit = wordCount * 64

    /// The bitset, port p at bit p % 64 of word p / 64.
    public private(set) var words: [UInt64]

    /// The empty set.
    public init() { words = Array(repeating: 0, count: Self.wordCount) }

    /// A set of the given ports (indices out of range are ignored).
    public init(_ ports: some Sequence<Int>) {
        self.init()
        for p in ports { insert(p) }
    }

    /// A set from raw words (missing words are zero, extra words ignored).
    public init(words source: some Collection<UInt64>) {
        self.init()
        for (i, w) in source.prefix(Self.wordCount).enumerated() { words[i] = w }
    }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    public func contains(_ port: Int) -> Bool {
        guard port >= 0 && port < Self.portLimit else { return false }
        return words[port >> 6] & (1 << UInt64(port & 63)) != 0
    }

    /// Adds `port`; false when it is out of range.
    @discardableResult
    public mutating func insert(_ port: Int) -> Bool {
        guard port >= 0 && port < Self.portLimit else { return false }
        words[port >> 6] |= 1 << UInt64(port & 63)
        return true
    }

    public mutating func remove(_ port: Int) {
        guard port >= 0 && port < Self.portLimit else { return }
        words[port >> 6] &= ~(1 << UInt64(port & 63))
    }

    public func union(_ other: MulticastPortSet) -> MulticastPortSet {
        var r = self
        for i in 0..<Self.wordCount { r.words[i] |= other.words[i] }
        return r
    }

    /// The ports in ascending order.
    public var ports: [Int] {
        var out: [Int] = []
        for (i, w) in words.enumerated() {
            var v = w
            while v != 0 {
                out.append(i * 64 + v.trailingZeroBitCount)
                v &= v - 1
            }
        }
        return out
    }
}
