// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Every reason the engine drops a frame, each with a one-line description that `stats` prints
// (as VPP's `show errors` does). Counters are indexed by the raw value.

/// Why a frame was not forwarded.
public enum DropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Shorter than an Ethernet header.
    case runt
    /// A VLAN tag cut off by the end of the frame.
    case truncatedTag
    /// Three or more stacked VLAN tags.
    case tooManyTags
    /// Multicast, broadcast or all-zero source address.
    case invalidSource
    /// The ingress port index is not a configured port.
    case unknownPort
    /// The ingress port is disabled.
    case portDisabled
    /// IEEE 802.1D link-local group address not allowed by the group forward mask.
    case linkLocal
    /// VLAN filtering: the frame's VLAN is not allowed on the ingress port.
    case vlanIngressFiltered
    /// VLAN filtering: VID 4095, or an untagged frame on a port without PVID.
    case vlanReserved
    /// The destination is on the ingress port (and hairpin is off).
    case sameSegment
    /// The destination's port may not receive it (disabled, isolated, not in the VLAN).
    case egressBlocked
    /// A flood with no port left to send to.
    case noFloodTarget
    /// A flood over the port's storm-control rate.
    case stormControl
    /// The spanning tree has the ingress port discarding (blocked).
    case stpDiscarding
    /// The spanning tree has the ingress port learning: its sources are learned, nothing is forwarded.
    case stpLearning

    /// Short identifier used in `stats` and JSON.
    public var name: String {
        switch self {
        case .runt: return "runt"
        case .truncatedTag: return "truncated-tag"
        case .tooManyTags: return "too-many-tags"
        case .invalidSource: return "invalid-source"
        case .unknownPort: return "unknown-port"
        case .portDisabled: return "port-disabled"
        case .linkLocal: return "link-local"
        case .vlanIngressFiltered: return "vlan-filtered"
        case .vlanReserved: return "vlan-reserved"
        case .sameSegment: return "same-segment"
        case .egressBlocked: return "egress-blocked"
        case .noFloodTarget: return "no-flood-target"
        case .stormControl: return "storm-control"
        case .stpDiscarding: return "stp-discarding"
        case .stpLearning: return "stp-learning"
        }
    }

    public var description: String {
        switch self {
        case .runt: return "frame shorter than the 14-byte Ethernet header"
        case .truncatedTag: return "VLAN tag cut off by the end of the frame"
        case .tooManyTags: return "more than two stacked VLAN tags"
        case .invalidSource: return "multicast, broadcast or zero source address"
        case .unknownPort: return "ingress port index not configured"
        case .portDisabled: return "ingress port disabled"
        case .linkLocal: return "802.1D link-local destination not in the group forward mask"
        case .vlanIngressFiltered: return "VLAN not allowed on the ingress port"
        case .vlanReserved: return "VID 4095, or untagged frame on a port without PVID"
        case .sameSegment: return "destination is on the ingress port (hairpin off)"
        case .egressBlocked: return "destination port disabled, isolated or not in the VLAN"
        case .noFloodTarget: return "flood found no port to send to"
        case .stormControl: return "broadcast, multicast or unknown unicast over the port's storm-control rate"
        case .stpDiscarding: return "ingress port discarding (spanning tree)"
        case .stpLearning: return "ingress port learning, not yet forwarding (spanning tree)"
        }
    }
}
