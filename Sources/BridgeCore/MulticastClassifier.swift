// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The per-frame multicast classifier: what the engine does with a frame whose Ethernet
// destination is multicast (and not broadcast), decided from the EtherType and the bytes after
// it, as the kernel bridge's br_multicast_rcv / br_multicast_ipv4_rcv / br_multicast_ipv6_rcv
// sort them:
// - IGMP and MLD go to the snooper. Reports (IGMPv1/v2/v3, MLDv1/v2) are forwarded to router
//   ports only while snooping is active (the kernel's `mrouters_only`); queries, leaves/dones
//   and PIM hellos are flooded. The classifier looks only at the message type: validation
//   (lengths, checksums) is the snooper's, off the forwarding thread.
// - Link-local groups (224.0.0.0/24, ff01::/16, ff02::/16) are always flooded.
// - Other IPv4/IPv6 multicast is group data: one MDB lookup.
// - Anything else (non-IP, IP to a non-multicast address, a header cut short) is flooded, as
//   the kernel floods what it cannot snoop.
// It reads at most the IP header, up to 8 IPv6 extension headers and one ICMPv6/IGMP type
// byte; every read is bounds-checked first; it allocates nothing and takes no lock.

/// What the engine does with a multicast frame; see the file comment.
public enum MulticastFrameKind: UInt8, Sendable {
    /// IGMP/MLD membership report: to the snooper; to router ports when snooping is active.
    case report
    /// IGMP/MLD query, leave/done, other IGMP types, PIM hello: to the snooper; flooded.
    case control
    /// Link-local group: flooded.
    case linkLocal
    /// Data to a routable group (`MulticastFrameClass.group`): MDB lookup.
    case routable
    /// Not IP multicast, or unparsable: flooded.
    case other
}

/// The classifier's answer: a kind and, for `routable`/`linkLocal`/`report`/`control`, the IP
/// destination group.
public struct MulticastFrameClass: Sendable, Equatable {
    public var kind: MulticastFrameKind
    public var group: MulticastGroup
    @inlinable public init(kind: MulticastFrameKind, group: MulticastGroup) {
        self.kind = kind
        self.group = group
    }
}

/// Classifies multicast frames for the engine; see the file comment.
public enum MulticastClassifier {
    /// IP protocol numbers the classifier recognises.
    public static let protocolIGMP: UInt8 = 2
    public static let protocolICMPv6: UInt8 = 58
    public static let protocolPIM: UInt8 = 103

    @usableFromInline static let none = MulticastGroup(ipv4: 0)

    /// Classifies a frame from its EtherType (after any VLAN tags) and the payload after it.
    /// Call it for frames with a multicast, non-broadcast Ethernet destination.
    @inlinable
    public static func classify(etherType: UInt16, payload: UnsafeRawBufferPointer) -> MulticastFrameClass {
        switch etherType {
        case 0x0800: return classifyIPv4(payload)
        case 0x86DD: return classifyIPv6(payload)
        default: return MulticastFrameClass(kind: .other, group: none)
        }
    }

    /// Classifies a whole Ethernet frame (header parsed with `FrameHeader.parsed`).
    @inlinable
    public static func classify(frame: UnsafeRawBufferPointer) -> MulticastFrameClass {
        guard case .success(let h) = FrameHeader.parsed(frame) else {
            return MulticastFrameClass(kind: .other, group: none)
        }
        return classify(etherType: h.etherType, payload: UnsafeRawBufferPointer(rebasing: frame[h.payloadOffset...]))
    }

    @inlinable
    static func classifyIPv4(_ p: UnsafeRawBufferPointer) -> MulticastFrameClass {
        let n = p.count
        guard n >= 20 else { return MulticastFrameClass(kind: .other, group: none) }
        let vihl = p[0]
        let ihl = Int(vihl & 0x0F) &* 4
        guard vihl >> 4 == 4, ihl >= 20, ihl <= n else { return MulticastFrameClass(kind: .other, group: none) }
        let dst = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let group = MulticastGroup(ipv4: dst)
        guard group.isMulticast else { return MulticastFrameClass(kind: .other, group: none) }
        let proto = p[9]
        if proto == protocolIGMP {
            // A header cut short is the snooper's to count as malformed: it is control traffic.
            guard ihl < n else { return MulticastFrameClass(kind: .control, group: group) }
            switch p[ihl] {
            case 0x12, 0x16, 0x22: return MulticastFrameClass(kind: .report, group: group)
            default: return MulticastFrameClass(kind: .control, group: group)
            }
        }
        if group.isLinkLocal {
            // PIM hellos to ALL-PIM-ROUTERS mark router ports (br_multicast_pim); still flooded.
            if proto == protocolPIM && dst == 0xE000_000D { return MulticastFrameClass(kind: .control, group: group) }
            return MulticastFrameClass(kind: .linkLocal, group: group)
        }
        return MulticastFrameClass(kind: .routable, group: group)
    }

    @inlinable
    static func classifyIPv6(_ p: UnsafeRawBufferPointer) -> MulticastFrameClass {
        let n = p.count
        guard n >= 40, p[0] >> 4 == 6 else { return MulticastFrameClass(kind: .other, group: none) }
        let hi = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        let lo = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        let group = MulticastGroup(ipv6High: hi, low: lo)
        guard group.isMulticast else { return MulticastFrameClass(kind: .other, group: none) }
        var next = p[6]
        var offset = 40
        // Walk hop-by-hop, routing, fragment and destination options headers (8 at most).
        var hops = 0
        while hops < 8 {
            hops &+= 1
            if next == 0 || next == 43 || next == 60 {
                guard offset &+ 2 <= n else { break }
                next = p[offset]
                offset = offset &+ (Int(p[offset &+ 1]) &+ 1) &* 8
            } else if next == 44 {
                guard offset &+ 8 <= n else { break }
                // A non-first fragment carries no upper-layer header.
                if UInt16(bigEndian: p.loadUnaligned(fromByteOffset: offset &+ 2, as: UInt16.self)) & 0xFFF8 != 0 { break }
                next = p[offset]
                offset = offset &+ 8
            } else {
                break
            }
        }
        if next == protocolICMPv6 && offset < n {
            switch p[offset] {
            case 131, 143: return MulticastFrameClass(kind: .report, group: group)
            case 130, 132: return MulticastFrameClass(kind: .control, group: group)
            default: break
            }
        }
        if group.isLinkLocal {
            if next == protocolPIM && hi == 0xFF02_0000_0000_0000 && lo == 0xD {
                return MulticastFrameClass(kind: .control, group: group)
            }
            return MulticastFrameClass(kind: .linkLocal, group: group)
        }
        return MulticastFrameClass(kind: .routable, group: group)
    }
}
