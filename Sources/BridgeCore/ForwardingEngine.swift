// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ForwardingEngine: what happens to a received frame (Linux's br_input.c and br_forward.c),
// decided for a whole batch at a time (VPP's vector, not a packet).
//
// Per frame, in this order, as the Linux bridge does it:
//  1. the ingress port must be configured and forwarding;
//  2. the header must parse (runt, truncated tag, three tags: dropped);
//  3. the source must be a station (not multicast, broadcast or zero);
//  4. with VLAN filtering, the frame is classified into a VLAN (tag or PVID) that the port must
//     be a member of; VID 4095 is dropped;
//  5. the source is learned (port flag `learning`);
//  6. 802.1D link-local destinations are dropped unless the group forward mask allows them;
//  7. known unicast goes to its port; broadcast, multicast and unknown unicast are flooded to
//     the forwarding ports with the matching flood flag, never back to the ingress (unless
//     hairpin), never from an isolated port to another isolated one, only within the VLAN.
//
// The engine is a final class owned by one thread; several engines (one per forwarding thread)
// share one MACTable and one StormBudget. Its scratch, masks and counters are allocated at init and by `apply`;
// `process` allocates nothing.

/// A received frame handed to the engine: a view of bytes the transport owns until the batch
/// is done.
public struct ReceivedFrame {
    /// The frame from its destination address on, tags included.
    public var bytes: UnsafeRawBufferPointer
    /// The ingress port index.
    public var port: Int
    /// Transport metadata carried through to transmit untouched (AF_PACKET: the frame's
    /// `virtio_net_hdr`); nil when there is none.
    public var offload: UnsafeRawPointer?

    @inlinable public init(bytes: UnsafeRawBufferPointer, port: Int, offload: UnsafeRawPointer? = nil) {
        self.bytes = bytes
        self.port = port
        self.offload = offload
    }
}

/// How a frame relates to the VLAN it was classified into.
public enum VLANTagging: UInt8, Sendable {
    /// VLAN filtering is off: frames leave exactly as they came, tags and all.
    case unchanged
    /// The frame carries its VLAN's tag.
    case tagged
    /// The frame had no tag of the bridge's protocol; it was classified by PVID.
    case untagged
    /// The frame had a priority tag (VID 0); it was classified by PVID.
    case priorityTagged
}

/// What a transport must do to the bytes when sending a frame out of one port.
public enum EgressEncoding: Equatable, Sendable {
    /// Send the received bytes.
    case asIs
    /// Remove the outer tag (the 4 bytes after the source address).
    case stripOuterTag
    /// Insert this tag (TPID << 16 | TCI) after the source address.
    case insertTag(UInt32)
    /// Overwrite the outer tag with this one.
    case replaceOuterTag(UInt32)
}

/// The engine's decision for one frame.
public struct Verdict: Equatable, Sendable {
    /// Ports to send the frame to; empty when dropped.
    public var egress: PortMask
    /// With VLAN filtering: the egress ports on which the frame leaves without a tag.
    public var untagged: PortMask
    /// With VLAN filtering: the tag (TPID << 16 | TCI) on tagged egress ports.
    public var tag: UInt32
    public var tagging: VLANTagging
    /// The VLAN the frame was classified into (0 without VLAN filtering).
    public var vlan: UInt16
    /// Set when dropped.
    public var dropReason: DropReason?
    /// True when flooded rather than forwarded to a known port.
    public var isFlood: Bool

    @inlinable
    public init(egress: PortMask = .empty, untagged: PortMask = .empty, tag: UInt32 = 0, tagging: VLANTagging = .unchanged,
                vlan: UInt16 = 0, dropReason: DropReason? = nil, isFlood: Bool = false) {
        self.egress = egress
        self.untagged = untagged
        self.tag = tag
        self.tagging = tagging
        self.vlan = vlan
        self.dropReason = dropReason
        self.isFlood = isFlood
    }

    @inlinable static func drop(_ reason: DropReason) -> Verdict { Verdict(dropReason: reason) }

    /// The verdict in words, for tests and `--verbose` replays.
    public enum Action: Equatable, Sendable {
        case drop(DropReason)
        case forward(Int)
        case flood(PortMask)
    }
    public var action: Action {
        if let r = dropReason { return .drop(r) }
        if isFlood { return .flood(egress) }
        return .forward(egress.rawValue.trailingZeroBitCount)
    }

    /// How the frame's bytes must change when it leaves through `port`.
    @inlinable
    public func encoding(forPort port: Int) -> EgressEncoding {
        let leavesUntagged = untagged.contains(port)
        switch tagging {
        case .unchanged: return .asIs
        case .tagged: return leavesUntagged ? .stripOuterTag : .asIs
        case .untagged: return leavesUntagged ? .asIs : .insertTag(tag)
        case .priorityTagged: return leavesUntagged ? .stripOuterTag : .replaceOuterTag(tag)
        }
    }
}

/// Errors of `ForwardingEngine.process`.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    case batchTooLarge(count: Int, maximum: Int)
    case verdictBufferTooSmall(needed: Int, available: Int)
    public var description: String {
        switch self {
        case .batchTooLarge(let c, let m): return "batch of \(c) frames exceeds the engine's maximum of \(m)"
        case .verdictBufferTooSmall(let n, let a): return "verdict buffer holds \(a) verdicts, the batch needs \(n)"
        }
    }
}

/// The configuration compiled into words: one per port property, one per VLAN. Immutable, so
/// the hot path reads plain `let`s (no exclusivity checks); `apply` swaps in a new one.
@usableFromInline
final class CompiledConfiguration {
    @usableFromInline let portCount: Int
    @usableFromInline let forwardingMask: UInt64
    @usableFromInline let learningMask: UInt64
    @usableFromInline let floodMask: UInt64
    @usableFromInline let multicastFloodMask: UInt64
    @usableFromInline let broadcastFloodMask: UInt64
    @usableFromInline let hairpinMask: UInt64
    @usableFromInline let isolatedMask: UInt64
    @usableFromInline let vlanFiltering: Bool
    @usableFromInline let vlanProtocol: UInt16
    @usableFromInline let groupForwardMask: UInt16
    /// PVID per port; 0xFFFF: none.
    @usableFromInline let pvids: UnsafeMutablePointer<UInt16>
    /// Member ports and untagged ports per VLAN ID.
    @usableFromInline let vlanMembers: UnsafeMutablePointer<UInt64>
    @usableFromInline let vlanUntagged: UnsafeMutablePointer<UInt64>
    /// Storm-control rates, frames/s, 3 per port (broadcast, multicast, unknown unicast); 0: none.
    @usableFromInline let stormRates: UnsafeMutablePointer<UInt32>
    /// Ports with any storm-control rate: the common case (none) costs one AND.
    @usableFromInline let stormMask: UInt64

    init(_ configuration: BridgeConfiguration) {
        var forwarding: UInt64 = 0, learning: UInt64 = 0, flood: UInt64 = 0, mflood: UInt64 = 0
        var bflood: UInt64 = 0, hairpin: UInt64 = 0, isolated: UInt64 = 0
        pvids = .allocate(capacity: PortMask.capacity)
        pvids.initialize(repeating: 0xFFFF, count: PortMask.capacity)
        vlanMembers = .allocate(capacity: 4096)
        vlanMembers.initialize(repeating: 0, count: 4096)
        vlanUntagged = .allocate(capacity: 4096)
        vlanUntagged.initialize(repeating: 0, count: 4096)
        stormRates = .allocate(capacity: PortMask.capacity * 3)
        stormRates.initialize(repeating: 0, count: PortMask.capacity * 3)
        var storm: UInt64 = 0
        for (i, p) in configuration.ports.enumerated() {
            let limits = [p.stormControl.broadcast, p.stormControl.multicast, p.stormControl.unknownUnicast]
            for (k, l) in limits.enumerated() {
                if let l {
                    stormRates[i * 3 + k] = max(l, 1)
                    storm |= 1 << UInt64(i)
                }
            }
            let bit: UInt64 = 1 << UInt64(i)
            if p.state == .forwarding { forwarding |= bit }
            if p.flags.contains(.learning) { learning |= bit }
            if p.flags.contains(.flood) { flood |= bit }
            if p.flags.contains(.multicastFlood) { mflood |= bit }
            if p.flags.contains(.broadcastFlood) { bflood |= bit }
            if p.flags.contains(.hairpin) { hairpin |= bit }
            if p.flags.contains(.isolated) { isolated |= bit }
            if let pvid = p.pvid { pvids[i] = pvid }
            for (w, word) in p.vlans.words.enumerated() where word != 0 {
                for b in 0..<64 where word >> UInt64(b) & 1 != 0 {
                    vlanMembers[w * 64 + b] |= bit
                    if p.untaggedVLANs.contains(UInt16(w * 64 + b)) { vlanUntagged[w * 64 + b] |= bit }
                }
            }
        }
        stormMask = storm
        portCount = configuration.ports.count
        forwardingMask = forwarding
        learningMask = learning
        floodMask = flood
        multicastFloodMask = mflood
        broadcastFloodMask = bflood
        hairpinMask = hairpin
        isolatedMask = isolated
        vlanFiltering = configuration.vlanFiltering
        vlanProtocol = configuration.vlanProtocol
        groupForwardMask = configuration.groupForwardMask
    }

    deinit {
        pvids.deallocate()
        vlanMembers.deallocate()
        vlanUntagged.deallocate()
        stormRates.deallocate()
    }
}

/// The batch forwarding decision. One per forwarding thread; see the file comment.
public final class ForwardingEngine {
    /// The largest batch `process` takes.
    public let maxBatch: Int
    public let table: MACTable
    /// This engine's counters (read by anyone, written by the owning thread).
    public let counters: CounterBlock
    public private(set) var configuration: BridgeConfiguration
    @usableFromInline var compiled: CompiledConfiguration
    /// Storm-control buckets: the bridge's, shared by all its engines (see StormBudget.swift).
    public let stormBudget: StormBudget

    /// `stormBudget`: the bridge's shared budget; nil gives this engine one of its own (one
    /// engine per bridge, tests).
    public init(table: MACTable, configuration: BridgeConfiguration, maxBatch: Int = 256, counters: CounterBlock? = nil,
                stormBudget: StormBudget? = nil) throws(ConfigurationError) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        try configuration.validate()
        self.table = table
        self.maxBatch = maxBatch
        self.counters = counters ?? CounterBlock()
        self.configuration = configuration
        self.compiled = CompiledConfiguration(configuration)
        self.stormBudget = stormBudget ?? StormBudget()
    }

    /// Compiles `configuration` into the engine's masks. Call it from the owning thread,
    /// between batches. The storm-control budget is not refilled: it belongs to the bridge.
    public func apply(_ configuration: BridgeConfiguration) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        compiled = CompiledConfiguration(configuration)
    }

    /// Decides every frame of `frames` into `verdicts` (same index), learning sources on the
    /// way. `now` stamps learned entries. Allocates nothing.
    @inlinable
    public func process(
        _ frames: UnsafeBufferPointer<ReceivedFrame>, into verdicts: UnsafeMutableBufferPointer<Verdict>, now: Timestamp
    ) throws(EngineError) {
        guard frames.count <= maxBatch else { throw .batchTooLarge(count: frames.count, maximum: maxBatch) }
        guard verdicts.count >= frames.count else {
            throw .verdictBufferTooSmall(needed: frames.count, available: verdicts.count)
        }
        let c = compiled
        let table = self.table
        let counters = self.counters
        let storm = self.stormBudget
        for i in 0..<frames.count {
            verdicts[i] = Self.decide(frames[i], now: now, c, table, counters, storm)
        }
    }

    /// The decision for one frame, counted.
    @inlinable
    public func decide(_ frame: ReceivedFrame, now: Timestamp) -> Verdict {
        Self.decide(frame, now: now, compiled, table, counters, stormBudget)
    }

    @inlinable @inline(__always)
    static func decide(
        _ frame: ReceivedFrame, now: Timestamp, _ c: CompiledConfiguration, _ table: MACTable, _ counters: CounterBlock,
        _ storm: StormBudget
    ) -> Verdict {
        let port = frame.port
        guard port >= 0 && port < c.portCount else {
            counters.countReceived(port: counters.unknownPortRow, bytes: frame.bytes.count)
            return dropped(counters, counters.unknownPortRow, .unknownPort)
        }
        counters.countReceived(port: port, bytes: frame.bytes.count)
        let bit: UInt64 = 1 << UInt64(port)
        guard c.forwardingMask & bit != 0 else { return dropped(counters, port, .portDisabled) }

        // The one header parser (EthernetFrame.swift). Only the outer tag matters for
        // forwarding; a third one is refused.
        let header: FrameHeader
        switch FrameHeader.parsed(frame.bytes) {
        case .success(let h): header = h
        case .failure(.runt): return dropped(counters, port, .runt)
        case .failure(.truncatedTag): return dropped(counters, port, .truncatedTag)
        case .failure(.tooManyTags): return dropped(counters, port, .tooManyTags)
        }
        let dst = header.destination
        let src = header.source
        let outerTPID = header.outerTag?.tpid ?? 0
        let outerTCI = header.outerTag?.tci ?? 0
        guard src.isValidSource else { return dropped(counters, port, .invalidSource) }

        var verdict = Verdict()
        var vid: UInt16 = 0
        var vlanPorts: UInt64 = ~0
        if c.vlanFiltering {
            if outerTPID == c.vlanProtocol && outerTCI & 0xFFF != 0 {
                vid = outerTCI & 0xFFF
                if vid == 0xFFF { return dropped(counters, port, .vlanReserved) }
                verdict.tagging = .tagged
                verdict.tag = UInt32(c.vlanProtocol) << 16 | UInt32(outerTCI)
            } else {
                vid = c.pvids[port]
                if vid == 0xFFFF { return dropped(counters, port, .vlanReserved) }
                let priorityTagged = outerTPID == c.vlanProtocol
                verdict.tagging = priorityTagged ? .priorityTagged : .untagged
                // Keep the priority bits of a priority tag; untagged frames get PCP 0.
                let pcpDEI = priorityTagged ? outerTCI & 0xF000 : 0
                verdict.tag = UInt32(c.vlanProtocol) << 16 | UInt32(pcpDEI | vid)
            }
            vlanPorts = c.vlanMembers[Int(vid)]
            guard vlanPorts & bit != 0 else { return dropped(counters, port, .vlanIngressFiltered) }
            verdict.vlan = vid
        }

        if c.learningMask & bit != 0 {
            _ = table.learn(src, vlan: vid, port: port, now: now)
        }

        var floodKind: UInt64
        var stormClass = 2  // unknown unicast
        if dst.isMulticast {
            if dst.isLinkLocalGroup {
                let group = UInt16(dst.rawValue & 0xF)
                guard c.groupForwardMask >> group & 1 != 0 else { return dropped(counters, port, .linkLocal) }
            }
            floodKind = dst.isBroadcast ? c.broadcastFloodMask : c.multicastFloodMask
            stormClass = dst.isBroadcast ? 0 : 1
        } else {
            let target = table.lookupPort(key: MACTable.key(dst, vid))
            if target >= 0 {
                let tbit: UInt64 = target < 64 ? 1 << UInt64(target) : 0
                if target == port && c.hairpinMask & bit == 0 { return dropped(counters, port, .sameSegment) }
                guard target < c.portCount, c.forwardingMask & tbit != 0, vlanPorts & tbit != 0,
                    c.isolatedMask & bit == 0 || c.isolatedMask & tbit == 0
                else { return dropped(counters, port, .egressBlocked) }
                verdict.egress = PortMask(rawValue: tbit)
                if c.vlanFiltering { verdict.untagged = PortMask(rawValue: c.vlanUntagged[Int(vid)] & tbit) }
                counters.add(port, .forwarded, 1)
                return verdict
            }
            floodKind = c.floodMask
        }
        var exclude: UInt64 = bit & ~c.hairpinMask
        if c.isolatedMask & bit != 0 { exclude |= c.isolatedMask }
        let targets = c.forwardingMask & floodKind & vlanPorts & ~exclude
        guard targets != 0 else { return dropped(counters, port, .noFloodTarget) }
        if c.stormMask & bit != 0 {
            let rate = c.stormRates[port * 3 + stormClass]
            if rate != 0 && !storm.take(port * 3 + stormClass, rate: rate, now: now.milliseconds) {
                return dropped(counters, port, .stormControl)
            }
        }
        verdict.egress = PortMask(rawValue: targets)
        if c.vlanFiltering { verdict.untagged = PortMask(rawValue: c.vlanUntagged[Int(vid)] & targets) }
        verdict.isFlood = true
        counters.add(port, .flooded, 1)
        return verdict
    }

    @inlinable @inline(__always)
    static func dropped(_ counters: CounterBlock, _ row: Int, _ reason: DropReason) -> Verdict {
        counters.add(row, CounterBlock.Field.firstDrop.rawValue + Int(reason.rawValue), 1)
        return .drop(reason)
    }
}
