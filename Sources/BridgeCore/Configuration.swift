// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The bridge's configuration as plain values: ports with their Linux-bridge flags, VLAN
// filtering, the link-local group forward mask. The engine compiles this into per-port and
// per-VLAN bitmasks (ForwardingEngine.apply), so nothing here is read per frame.

/// Forwarding state of a port (the two of the Linux bridge's STP states a bridge without STP uses).
public enum PortState: UInt8, Sendable, CustomStringConvertible {
    case disabled
    case forwarding
    public var description: String { self == .disabled ? "disabled" : "forwarding" }
}

/// What the spanning tree lets a port do (802.1D-2004 17.7): a discarding port neither learns
/// nor forwards, a learning port learns but does not forward. Without a spanning tree (and in
/// the configuration a user writes) every port is `.forwarding`; the running bridge sets it
/// from its spanning tree's state when it compiles the engines' configuration.
public enum SpanningTreeGate: UInt8, Hashable, Sendable {
    case discarding, learning, forwarding
}

/// Per-port behaviour flags, named as `bridge link set` names them.
public struct PortFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Learn source addresses of frames received on the port.
    public static let learning = PortFlags(rawValue: 1 << 0)
    /// Receive floods of unknown unicast.
    public static let flood = PortFlags(rawValue: 1 << 1)
    /// Receive floods of multicast.
    public static let multicastFlood = PortFlags(rawValue: 1 << 2)
    /// Receive broadcast.
    public static let broadcastFlood = PortFlags(rawValue: 1 << 3)
    /// Frames may leave through the port they came in on.
    public static let hairpin = PortFlags(rawValue: 1 << 4)
    /// Isolated ports never exchange frames with each other.
    public static let isolated = PortFlags(rawValue: 1 << 5)
    /// The Linux bridge's defaults for a new port.
    public static let defaults: PortFlags = [.learning, .flood, .multicastFlood, .broadcastFlood]

    /// Names as `link show` prints them and `--port` options accept them.
    public static let names: [(String, PortFlags)] = [
        ("learning", .learning), ("flood", .flood), ("mcast_flood", .multicastFlood),
        ("bcast_flood", .broadcastFlood), ("hairpin", .hairpin), ("isolated", .isolated),
    ]
}

/// A set of VLAN IDs 0...4095 as a 4096-bit set.
public struct VLANSet: Hashable, Sendable, CustomStringConvertible {
    public private(set) var words: [UInt64] = Array(repeating: 0, count: 64)

    public init() {}
    public init(_ vids: some Sequence<UInt16>) {
        for v in vids { insert(v) }
    }
    /// Parses `1,10-20,100`.
    public init(parsing text: String) throws(ConfigurationError) {
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                let lo = UInt16(bounds[0]), let hi = UInt16(bounds.count == 2 ? bounds[1] : bounds[0]),
                lo >= 1, hi <= 4094, lo <= hi
            else { throw .invalidVLANList(text) }
            for v in lo...hi { insert(v) }
        }
    }
    public func contains(_ vid: UInt16) -> Bool { vid < 4096 && words[Int(vid >> 6)] >> UInt64(vid & 63) & 1 != 0 }
    public mutating func insert(_ vid: UInt16) {
        precondition(vid < 4096)
        words[Int(vid >> 6)] |= 1 << UInt64(vid & 63)
    }
    public mutating func remove(_ vid: UInt16) { if vid < 4096 { words[Int(vid >> 6)] &= ~(1 << UInt64(vid & 63)) } }
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
    public var members: [UInt16] {
        var out: [UInt16] = []
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                out.append(UInt16(w * 64 + bits.trailingZeroBitCount))
                bits &= bits &- 1
            }
        }
        return out
    }
    /// `1,10-20`, as accepted by `init(parsing:)`.
    public var description: String {
        var parts: [String] = []
        var start: UInt16? = nil
        var prev: UInt16 = 0
        for v in members {
            if let s = start, v == prev + 1 {
                prev = v
                _ = s
                continue
            }
            if let s = start { parts.append(s == prev ? "\(s)" : "\(s)-\(prev)") }
            start = v
            prev = v
        }
        if let s = start { parts.append(s == prev ? "\(s)" : "\(s)-\(prev)") }
        return parts.joined(separator: ",")
    }
}

/// One bridge port.
public struct PortConfiguration: Hashable, Sendable {
    /// The interface name (or any label for in-memory ports).
    public var name: String
    public var state: PortState
    public var flags: PortFlags
    /// VLAN filtering: the VLAN of untagged and priority-tagged ingress; nil drops them.
    public var pvid: UInt16?
    /// VLAN filtering: VLANs the port is a member of.
    public var vlans: VLANSet
    /// VLAN filtering: VLANs that leave this port untagged.
    public var untaggedVLANs: VLANSet
    /// Storm control: the most floods this port may start per second, per class.
    public var stormControl: StormControl
    /// The spanning tree's state of the port (`.forwarding` without one).
    public var spanningTree: SpanningTreeGate = .forwarding

    public init(
        name: String, state: PortState = .forwarding, flags: PortFlags = .defaults,
        pvid: UInt16? = 1, vlans: VLANSet = VLANSet([1]), untaggedVLANs: VLANSet = VLANSet([1]),
        stormControl: StormControl = StormControl()
    ) {
        self.name = name
        self.state = state
        self.flags = flags
        self.pvid = pvid
        self.vlans = vlans
        self.untaggedVLANs = untaggedVLANs
        self.stormControl = stormControl
    }
}

extension PortConfiguration {
    /// A free slot in a bridge whose ports come and go: no name, disabled (floods skip it,
    /// unicast to it is dropped), reused by the next port attached.
    public static let vacant = PortConfiguration(name: "", state: .disabled)
    /// Whether this is a free slot.
    public var isVacant: Bool { name.isEmpty }
}

/// Ingress rate limits (frames per second) on the frames a port may flood: broadcast,
/// multicast, and unknown unicast. nil: unlimited. Known unicast is never limited. A token
/// bucket per port and class holds up to 100 ms of the rate (at least one frame), so a short
/// burst passes and a storm is cut to the rate; the excess is dropped as `storm-control`.
public struct StormControl: Hashable, Sendable {
    public var broadcast: UInt32?
    public var multicast: UInt32?
    public var unknownUnicast: UInt32?
    public init(broadcast: UInt32? = nil, multicast: UInt32? = nil, unknownUnicast: UInt32? = nil) {
        self.broadcast = broadcast
        self.multicast = multicast
        self.unknownUnicast = unknownUnicast
    }
}

/// Bridge-wide settings plus the ports, indexed by position.
public struct BridgeConfiguration: Hashable, Sendable {
    public var ports: [PortConfiguration]
    /// Forward by VLAN (per-port PVID, membership, untagged egress). Off by default, like Linux.
    public var vlanFiltering: Bool
    /// The tag protocol VLAN filtering classifies: 0x8100 (802.1Q) or 0x88a8 (802.1ad).
    public var vlanProtocol: UInt16
    /// Linux's `group_fwd_mask`: bit N lets `01:80:c2:00:00:0N` be forwarded. Bits 0-2 (STP,
    /// pause, LACP) can never be set.
    public var groupForwardMask: UInt16
    /// A spanning tree runs: BPDUs (to 01:80:c2:00:00:00) are handed to it (`Verdict.punt`)
    /// besides being dropped as link-local.
    public var spanningTree = false
    /// Multicast snooping runs: IGMP/MLD frames are handed to the snooper and group traffic
    /// follows the engine's `MulticastGroupTable` while a querier is present.
    public var multicastSnooping = false

    public init(ports: [PortConfiguration] = [], vlanFiltering: Bool = false, vlanProtocol: UInt16 = EtherType.vlan, groupForwardMask: UInt16 = 0) {
        self.ports = ports
        self.vlanFiltering = vlanFiltering
        self.vlanProtocol = vlanProtocol
        self.groupForwardMask = groupForwardMask
    }

    /// Checks the rules the engine relies on.
    public func validate() throws(ConfigurationError) {
        guard ports.count <= PortSet.capacity else { throw .tooManyPorts(ports.count) }
        guard groupForwardMask & 0x7 == 0 else { throw .restrictedGroupForwardBits(groupForwardMask) }
        guard vlanProtocol == EtherType.vlan || vlanProtocol == EtherType.qinq else { throw .invalidVLANProtocol(vlanProtocol) }
        var seen = Set<String>()
        for p in ports where !p.isVacant {
            guard seen.insert(p.name).inserted else { throw .duplicatePort(p.name) }
            if let pvid = p.pvid, pvid == 0 || pvid >= 4095 { throw .invalidPVID(port: p.name, pvid) }
            if p.vlans.contains(0) || p.vlans.contains(4095) { throw .invalidVLANList("\(p.name): VLANs 0 and 4095 are reserved") }
        }
    }
}

/// A configuration the bridge cannot run with.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooManyPorts(Int)
    case restrictedGroupForwardBits(UInt16)
    case invalidVLANProtocol(UInt16)
    case duplicatePort(String)
    case invalidPVID(port: String, UInt16)
    case invalidVLANList(String)
    case unknownFlag(String)
    case invalidPortSpec(String, String)

    public var description: String {
        switch self {
        case .tooManyPorts(let n): return "\(n) ports: a bridge has at most \(PortSet.capacity)"
        case .restrictedGroupForwardBits(let m):
            return "group forward mask 0x\(String(m, radix: 16)): bits 0, 1 and 2 (STP, pause, LACP) can never be forwarded"
        case .invalidVLANProtocol(let p): return "VLAN protocol 0x\(String(p, radix: 16)): use 0x8100 (802.1Q) or 0x88a8 (802.1ad)"
        case .duplicatePort(let n): return "port \(n) is listed twice"
        case .invalidPVID(let n, let v): return "port \(n): PVID \(v) is out of range (1-4094)"
        case .invalidVLANList(let t): return "invalid VLAN list '\(t)': use IDs 1-4094 like 1,10-20"
        case .unknownFlag(let f):
            return "unknown port option '\(f)' (flags: learning, flood, mcast_flood, bcast_flood, hairpin, isolated, disabled)"
        case .invalidPortSpec(let spec, let why): return "invalid port '\(spec)': \(why)"
        }
    }
}
