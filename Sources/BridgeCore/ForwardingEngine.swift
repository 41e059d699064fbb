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
//
// Up to 1,024 ports: a verdict carries no port set (a flood names its kind, VLAN and ingress),
// and port sets are arrays of as many 64-bit words as the bridge's ports occupy, so a 3-port
// bridge computes a flood with one word, as it did when the limit was 64.

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

/// Which flood a frame belongs to: the port flag that admits it.
public enum FloodKind: UInt8, Sendable {
    case none
    /// Unknown unicast: ports with `flood`.
    case unknownUnicast
    /// Multicast: ports with `mcast_flood`.
    case multicast
    /// Broadcast: ports with `bcast_flood`.
    case broadcast
    /// Multicast snooping: a registered group's members and the router ports (any forwarding
    /// port, whatever its `mcast_flood`), from the engine's per-frame snoop words.
    case snooped
}

/// The engine's decision for one frame, compact: a known unicast names its port; a flood names
/// its kind, VLAN and ingress, and the egress ports follow from the engine's configuration
/// (`ForwardingEngine.resolve`, or word by word on the forwarding path), so a verdict's size
/// does not grow with the bridge's 1,024 possible ports.
public struct Verdict: Equatable, Sendable {
    /// Known unicast: the egress port; -1 when flooded or dropped.
    public var unicastPort: Int32
    public var flood: FloodKind
    /// Known unicast with VLAN filtering: the frame leaves its port without a tag.
    public var leavesUntagged: Bool
    /// The ingress port.
    public var ingress: UInt16
    /// The VLAN's row in the engine's per-VLAN port sets (internal to the engine).
    @usableFromInline var vlanRow: UInt16
    /// With VLAN filtering: the tag (TPID << 16 | TCI) on tagged egress ports.
    public var tag: UInt32
    public var tagging: VLANTagging
    /// The VLAN the frame was classified into (0 without VLAN filtering).
    public var vlan: UInt16
    /// Set when dropped.
    public var dropReason: DropReason?
    /// A control frame the control plane must also see (dropped or forwarded as well).
    public var punt: PuntKind
    /// `.snooped`: the frame's row in the engine's snoop words (its index in the batch).
    @usableFromInline var snoopSlot: UInt16

    @inlinable
    public init(unicastPort: Int32 = -1, flood: FloodKind = .none, leavesUntagged: Bool = false, ingress: UInt16 = 0,
                vlanRow: UInt16 = 0, tag: UInt32 = 0, tagging: VLANTagging = .unchanged, vlan: UInt16 = 0,
                dropReason: DropReason? = nil, punt: PuntKind = .none) {
        self.punt = punt
        self.snoopSlot = 0
        self.unicastPort = unicastPort
        self.flood = flood
        self.leavesUntagged = leavesUntagged
        self.ingress = ingress
        self.vlanRow = vlanRow
        self.tag = tag
        self.tagging = tagging
        self.vlan = vlan
        self.dropReason = dropReason
    }

    @inlinable static func drop(_ reason: DropReason) -> Verdict { Verdict(dropReason: reason) }

    /// True when flooded rather than forwarded to a known port.
    @inlinable public var isFlood: Bool { flood != .none }

    /// How the frame's bytes must change when it leaves through a port where it leaves
    /// untagged (`leavesUntagged`) or tagged.
    @inlinable
    public func encoding(leavesUntagged: Bool) -> EgressEncoding {
        switch tagging {
        case .unchanged: return .asIs
        case .tagged: return leavesUntagged ? .stripOuterTag : .asIs
        case .untagged: return leavesUntagged ? .asIs : .insertTag(tag)
        case .priorityTagged: return leavesUntagged ? .stripOuterTag : .replaceOuterTag(tag)
        }
    }
}

/// A verdict with its egress ports spelled out (`ForwardingEngine.resolve`): for tests,
/// replays and tools, never per frame on the forwarding path.
public struct Decision: Equatable, Sendable, CustomStringConvertible {
    /// Ports to send the frame to; empty when dropped.
    public var egress: PortSet
    /// With VLAN filtering: the egress ports on which the frame leaves without a tag.
    public var untagged: PortSet
    public var tag: UInt32
    public var tagging: VLANTagging
    public var vlan: UInt16
    public var dropReason: DropReason?
    public var isFlood: Bool
    public var ingress: Int

    /// The decision in words.
    public enum Action: Equatable, Sendable {
        case drop(DropReason)
        case forward(Int)
        case flood(PortSet)
    }
    public var action: Action {
        if let r = dropReason { return .drop(r) }
        if isFlood { return .flood(egress) }
        return .forward(egress.first ?? -1)
    }

    /// How the frame's bytes must change when it leaves through `port`.
    public func encoding(forPort port: Int) -> EgressEncoding {
        Verdict(tag: tag, tagging: tagging).encoding(leavesUntagged: untagged.contains(port))
    }

    public var description: String { "\(action)" }
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

/// The configuration compiled into words: one byte of flags per port, port sets as arrays of
/// `wordCount` words (the words a bridge's ports occupy: one for up to 64 ports), one row of
/// words per VLAN in use. Immutable, so the hot path reads plain `let`s (no exclusivity
/// checks); `apply` swaps in a new one.
@usableFromInline
final class CompiledConfiguration {
    @usableFromInline let portCount: Int
    /// Words per port set: a flood walks these and no more, whatever the type's capacity.
    @usableFromInline let wordCount: Int
    /// Per port: `Bits`.
    @usableFromInline let portBits: UnsafeMutablePointer<UInt8>
    /// Per flood kind (FloodKind.rawValue - 1): the forwarding ports with that flood flag
    /// (`.snooped`: every forwarding port; the snoop words choose among them).
    @usableFromInline let floodBase: UnsafeMutablePointer<UInt64>
    @usableFromInline let isolatedWords: UnsafeMutablePointer<UInt64>
    @usableFromInline let vlanFiltering: Bool
    @usableFromInline let vlanProtocol: UInt16
    @usableFromInline let groupForwardMask: UInt16
    @usableFromInline let spanningTree: Bool
    @usableFromInline let multicastSnooping: Bool
    /// PVID per port; 0xFFFF: none.
    @usableFromInline let pvids: UnsafeMutablePointer<UInt16>
    /// Per VLAN ID, its row in `vlanMembers` / `vlanUntagged`: 0 is the empty row (no member),
    /// 1 every port (no VLAN filtering), then one per VLAN some port is a member of.
    @usableFromInline let vlanRows: UnsafeMutablePointer<UInt16>
    @usableFromInline let vlanMembers: UnsafeMutablePointer<UInt64>
    @usableFromInline let vlanUntagged: UnsafeMutablePointer<UInt64>
    /// Storm-control rates, frames/s, 3 per port (broadcast, multicast, unknown unicast); 0: none.
    @usableFromInline let stormRates: UnsafeMutablePointer<UInt32>

    /// Per-port flag bits.
    @usableFromInline enum Bits {
        /// Forwards: enabled and, with a spanning tree, in its forwarding state.
        @usableFromInline static let forwarding: UInt8 = 1
        @usableFromInline static let learning: UInt8 = 2
        @usableFromInline static let hairpin: UInt8 = 4
        @usableFromInline static let isolated: UInt8 = 8
        /// Some storm-control rate is set: the common case (none) costs one test.
        @usableFromInline static let storm: UInt8 = 16
        /// Receives at all: configured enabled and its interface attached (the spanning tree
        /// may still have it discarding or learning).
        @usableFromInline static let enabled: UInt8 = 32
        /// The spanning tree has it learning (says which drop reason a non-forwarding port counts).
        @usableFromInline static let stpLearning: UInt8 = 64
    }
    @usableFromInline static let emptyRow = 0
    @usableFromInline static let allPortsRow = 1

    init(_ configuration: BridgeConfiguration) {
        let ports = configuration.ports
        portCount = ports.count
        let wc = max(1, (ports.count + 63) / 64)
        wordCount = wc
        portBits = .allocate(capacity: max(ports.count, 1))
        portBits.initialize(repeating: 0, count: max(ports.count, 1))
        pvids = .allocate(capacity: max(ports.count, 1))
        pvids.initialize(repeating: 0xFFFF, count: max(ports.count, 1))
        stormRates = .allocate(capacity: max(ports.count, 1) * 3)
        stormRates.initialize(repeating: 0, count: max(ports.count, 1) * 3)
        floodBase = .allocate(capacity: 4 * wc)
        floodBase.initialize(repeating: 0, count: 4 * wc)
        isolatedWords = .allocate(capacity: wc)
        isolatedWords.initialize(repeating: 0, count: wc)

        // VLAN rows: only VLANs some port is a member of get one.
        vlanRows = .allocate(capacity: 4096)
        vlanRows.initialize(repeating: UInt16(Self.emptyRow), count: 4096)
        var rowCount = 2
        if configuration.vlanFiltering {
            for p in ports {
                for (w, word) in p.vlans.words.enumerated() where word != 0 {
                    for b in 0..<64 where word >> UInt64(b) & 1 != 0 && vlanRows[w * 64 + b] == 0 {
                        vlanRows[w * 64 + b] = UInt16(rowCount)
                        rowCount += 1
                    }
                }
            }
        }
        vlanMembers = .allocate(capacity: rowCount * wc)
        vlanMembers.initialize(repeating: 0, count: rowCount * wc)
        vlanUntagged = .allocate(capacity: rowCount * wc)
        vlanUntagged.initialize(repeating: 0, count: rowCount * wc)
        for w in 0..<wc { vlanMembers[Self.allPortsRow * wc + w] = ~0 }

        for (i, p) in ports.enumerated() {
            let word = i >> 6
            let bit: UInt64 = 1 << UInt64(i & 63)
            var bits: UInt8 = 0
            let limits = [p.stormControl.broadcast, p.stormControl.multicast, p.stormControl.unknownUnicast]
            for (k, l) in limits.enumerated() {
                if let l {
                    stormRates[i * 3 + k] = max(l, 1)
                    bits |= Bits.storm
                }
            }
            let enabled = p.state == .forwarding
            let forwarding = enabled && p.spanningTree == .forwarding
            if enabled { bits |= Bits.enabled }
            if forwarding { bits |= Bits.forwarding }
            if p.spanningTree == .learning { bits |= Bits.stpLearning }
            if p.flags.contains(.learning) && p.spanningTree != .discarding { bits |= Bits.learning }
            if p.flags.contains(.hairpin) { bits |= Bits.hairpin }
            if p.flags.contains(.isolated) {
                bits |= Bits.isolated
                isolatedWords[word] |= bit
            }
            portBits[i] = bits
            if forwarding {
                if p.flags.contains(.flood) { floodBase[0 * wc + word] |= bit }
                if p.flags.contains(.multicastFlood) { floodBase[1 * wc + word] |= bit }
                if p.flags.contains(.broadcastFlood) { floodBase[2 * wc + word] |= bit }
                floodBase[3 * wc + word] |= bit
            }
            if let pvid = p.pvid { pvids[i] = pvid }
            guard configuration.vlanFiltering else { continue }
            for (w, vword) in p.vlans.words.enumerated() where vword != 0 {
                for b in 0..<64 where vword >> UInt64(b) & 1 != 0 {
                    let row = Int(vlanRows[w * 64 + b])
                    vlanMembers[row * wc + word] |= bit
                    if p.untaggedVLANs.contains(UInt16(w * 64 + b)) { vlanUntagged[row * wc + word] |= bit }
                }
            }
        }
        vlanFiltering = configuration.vlanFiltering
        vlanProtocol = configuration.vlanProtocol
        groupForwardMask = configuration.groupForwardMask
        spanningTree = configuration.spanningTree
        multicastSnooping = configuration.multicastSnooping
    }

    deinit {
        portBits.deallocate()
        pvids.deallocate()
        stormRates.deallocate()
        floodBase.deallocate()
        isolatedWords.deallocate()
        vlanRows.deallocate()
        vlanMembers.deallocate()
        vlanUntagged.deallocate()
    }

    /// Word `w` of a flood's egress set: the forwarding ports with the kind's flood flag, in
    /// the VLAN, not the ingress (unless hairpin), not isolated from an isolated ingress.
    @inlinable @inline(__always)
    func floodWord(_ kind: FloodKind, row: Int, ingress: Int, _ w: Int) -> UInt64 {
        var t = floodBase[(Int(kind.rawValue) - 1) * wordCount + w] & vlanMembers[row * wordCount + w]
        let bits = portBits[ingress]
        if bits & Bits.isolated != 0 { t &= ~isolatedWords[w] }
        if bits & Bits.hairpin == 0 && ingress >> 6 == w { t &= ~(1 << UInt64(ingress & 63)) }
        return t
    }

    /// Word `w` of the ports where a frame of VLAN row `row` leaves untagged.
    @inlinable @inline(__always)
    func untaggedWord(row: Int, _ w: Int) -> UInt64 { vlanUntagged[row * wordCount + w] }

    @inlinable @inline(__always)
    func isMember(row: Int, port: Int) -> Bool { vlanMembers[row * wordCount + port >> 6] >> UInt64(port & 63) & 1 != 0 }

    @inlinable @inline(__always)
    func leavesUntagged(row: Int, port: Int) -> Bool { vlanUntagged[row * wordCount + port >> 6] >> UInt64(port & 63) & 1 != 0 }
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
    /// The bridge's MDB (written by its snooper), read when `multicastSnooping` is configured.
    public let multicastTable: MulticastGroupTable?
    /// Per batch slot, the egress words of a `.snooped` frame (members and router ports):
    /// `maxBatch` rows of `PortSet.wordCount` words, valid until the next `process`.
    @usableFromInline let snoopWords: UnsafeMutablePointer<UInt64>

    /// `stormBudget`: the bridge's shared budget; nil gives this engine one of its own (one
    /// engine per bridge, tests). `multicastTable`: the bridge's MDB, needed for snooping.
    public init(table: MACTable, configuration: BridgeConfiguration, maxBatch: Int = 256, counters: CounterBlock? = nil,
                stormBudget: StormBudget? = nil, multicastTable: MulticastGroupTable? = nil) throws(ConfigurationError) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        try configuration.validate()
        self.table = table
        self.maxBatch = maxBatch
        self.counters = counters ?? CounterBlock()
        self.configuration = configuration
        self.compiled = CompiledConfiguration(configuration)
        self.stormBudget = stormBudget ?? StormBudget()
        self.multicastTable = multicastTable
        snoopWords = .allocate(capacity: maxBatch * PortSet.wordCount)
        snoopWords.initialize(repeating: 0, count: maxBatch * PortSet.wordCount)
    }

    deinit { snoopWords.deallocate() }

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
        let mdb = self.multicastTable
        let words = self.snoopWords
        for i in 0..<frames.count {
            verdicts[i] = Self.decide(frames[i], now: now, c, table, counters, storm, mdb, words, slot: i)
        }
    }

    /// The decision for one frame, counted (a `.snooped` one uses batch slot 0's words).
    @inlinable
    public func decide(_ frame: ReceivedFrame, now: Timestamp) -> Verdict {
        Self.decide(frame, now: now, compiled, table, counters, stormBudget, multicastTable, snoopWords, slot: 0)
    }

    @inlinable @inline(__always)
    static func decide(
        _ frame: ReceivedFrame, now: Timestamp, _ c: CompiledConfiguration, _ table: MACTable, _ counters: CounterBlock,
        _ storm: StormBudget, _ mdb: MulticastGroupTable?, _ snoopWords: UnsafeMutablePointer<UInt64>, slot: Int
    ) -> Verdict {
        let port = frame.port
        guard port >= 0 && port < c.portCount else {
            counters.countReceived(port: counters.unknownPortRow, bytes: frame.bytes.count)
            return dropped(counters, counters.unknownPortRow, .unknownPort)
        }
        counters.countReceived(port: port, bytes: frame.bytes.count)
        let bits = c.portBits[port]
        guard bits & CompiledConfiguration.Bits.enabled != 0 else { return dropped(counters, port, .portDisabled) }

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

        var verdict = Verdict(ingress: UInt16(truncatingIfNeeded: port))
        var vid: UInt16 = 0
        var row = CompiledConfiguration.allPortsRow
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
            row = Int(c.vlanRows[Int(vid)])
            guard c.isMember(row: row, port: port) else { return dropped(counters, port, .vlanIngressFiltered) }
            verdict.vlan = vid
        }
        verdict.vlanRow = UInt16(truncatingIfNeeded: row)

        if bits & CompiledConfiguration.Bits.learning != 0 {
            _ = table.learn(src, vlan: vid, port: port, now: now)
        }

        var kind = FloodKind.unknownUnicast
        var stormClass = 2  // unknown unicast
        if dst.isMulticast {
            if dst.isLinkLocalGroup {
                let group = UInt16(dst.rawValue & 0xF)
                if group == 0 && c.spanningTree {
                    // A BPDU: the spanning tree reads it, in any port state; nobody forwards it.
                    verdict.punt = .spanningTree
                    return dropped(counters, port, .linkLocal, keeping: verdict)
                }
                guard c.groupForwardMask >> group & 1 != 0 else { return dropped(counters, port, .linkLocal) }
            }
        }
        // Learning but not forwarding (a spanning tree's learning or discarding state): done.
        // One test of the flag byte already loaded.
        if bits & CompiledConfiguration.Bits.forwarding == 0 {
            return dropped(counters, port, bits & CompiledConfiguration.Bits.stpLearning != 0 ? .stpLearning : .stpDiscarding)
        }
        if dst.isMulticast {
            kind = dst.isBroadcast ? .broadcast : .multicast
            stormClass = dst.isBroadcast ? 0 : 1
            if c.multicastSnooping && !dst.isBroadcast, let mdb {
                let payload = UnsafeRawBufferPointer(rebasing: frame.bytes[Swift.min(header.payloadOffset, frame.bytes.count)...])
                let cls = MulticastClassifier.classify(etherType: header.etherType, payload: payload)
                switch cls.kind {
                case .report, .routable:
                    // While snooping is active (a querier is present): reports go to the router
                    // ports only (the kernel's mrouters_only, so hosts do not suppress their own
                    // reports); group traffic to the group's members and the router ports, and an
                    // unregistered group to the router ports only, as the kernel's
                    // br_multicast_ipv4/ipv6_rcv mark it (the side-by-side test in MulticastTests
                    // shows Linux 6.18 delivering so). `mcast_flood` governs only what is
                    // flooded: everything while no querier is present, link-local groups.
                    if cls.kind == .report { verdict.punt = .multicast }
                    if mdb.isSnoopingActive(vlan: vid, ipv6: cls.group.isIPv6) {
                        let words = snoopWords + slot * PortSet.wordCount
                        for w in 0..<c.wordCount { words[w] = 0 }
                        if cls.kind == .routable { _ = mdb.members(vlan: vid, group: cls.group, into: words, wordCount: c.wordCount) }
                        mdb.formUnionWithRouterPorts(vlan: vid, into: words, wordCount: c.wordCount)
                        kind = .snooped
                        verdict.snoopSlot = UInt16(truncatingIfNeeded: slot)
                    }
                case .control:
                    verdict.punt = .multicast
                default: break
                }
            }
        } else {
            let target = table.lookupPort(key: MACTable.key(dst, vid))
            if target >= 0 {
                if target == port && bits & CompiledConfiguration.Bits.hairpin == 0 { return dropped(counters, port, .sameSegment) }
                // Without VLAN filtering every port is a member: no row to read.
                guard target < c.portCount, c.portBits[target] & CompiledConfiguration.Bits.forwarding != 0,
                    !c.vlanFiltering || c.isMember(row: row, port: target),
                    bits & CompiledConfiguration.Bits.isolated == 0 || c.portBits[target] & CompiledConfiguration.Bits.isolated == 0
                else { return dropped(counters, port, .egressBlocked) }
                verdict.unicastPort = Int32(truncatingIfNeeded: target)
                if c.vlanFiltering { verdict.leavesUntagged = c.leavesUntagged(row: row, port: target) }
                counters.add(port, .forwarded, 1)
                return verdict
            }
        }
        // Any target at all? One word for up to 64 ports; the first non-empty word ends it. A
        // snooped frame's words are narrowed to what the flood rules allow, every word of them
        // (the pass sends by them).
        var any = false
        if kind == .snooped {
            let words = snoopWords + slot * PortSet.wordCount
            for w in 0..<c.wordCount {
                let t = c.floodWord(.snooped, row: row, ingress: port, w) & words[w]
                words[w] = t
                if t != 0 { any = true }
            }
        } else {
            for w in 0..<c.wordCount where c.floodWord(kind, row: row, ingress: port, w) != 0 {
                any = true
                break
            }
        }
        guard any else { return dropped(counters, port, .noFloodTarget, keeping: verdict) }
        if bits & CompiledConfiguration.Bits.storm != 0 {
            let rate = c.stormRates[port * 3 + stormClass]
            if rate != 0 && !storm.take(port * 3 + stormClass, rate: rate, now: now.milliseconds) {
                return dropped(counters, port, .stormControl, keeping: verdict)
            }
        }
        verdict.flood = kind
        counters.add(port, kind == .snooped ? .snooped : .flooded, 1)
        return verdict
    }

    /// The verdict's egress ports spelled out, under the configuration the engine has now (the
    /// one that decided it, if no `apply` came between).
    public func resolve(_ v: Verdict) -> Decision {
        let c = compiled
        var d = Decision(egress: .empty, untagged: .empty, tag: v.tag, tagging: v.tagging, vlan: v.vlan,
                         dropReason: v.dropReason, isFlood: v.isFlood, ingress: Int(v.ingress))
        guard v.dropReason == nil else { return d }
        if v.unicastPort >= 0 {
            d.egress.insert(Int(v.unicastPort))
            if v.leavesUntagged { d.untagged.insert(Int(v.unicastPort)) }
        } else if v.isFlood, Int(v.ingress) < c.portCount {
            let row = Int(v.vlanRow)
            for w in 0..<c.wordCount {
                d.egress.words[w] = v.flood == .snooped
                    ? snoopWords[Int(v.snoopSlot) * PortSet.wordCount + w]
                    : c.floodWord(v.flood, row: row, ingress: Int(v.ingress), w)
                if c.vlanFiltering { d.untagged.words[w] = c.untaggedWord(row: row, w) & d.egress.words[w] }
            }
        }
        return d
    }

    @inlinable @inline(__always)
    static func dropped(_ counters: CounterBlock, _ row: Int, _ reason: DropReason) -> Verdict {
        counters.add(row, CounterBlock.Field.firstDrop.rawValue + Int(reason.rawValue), 1)
        return .drop(reason)
    }

    /// A drop that keeps what the control plane needs of `verdict` (punt, ingress, VLAN): an
    /// IGMP report with nowhere to go is still a report.
    @inlinable @inline(__always)
    static func dropped(_ counters: CounterBlock, _ row: Int, _ reason: DropReason, keeping verdict: Verdict) -> Verdict {
        var v = dropped(counters, row, reason)
        if verdict.punt != .none {
            v.punt = verdict.punt
            v.ingress = verdict.ingress
            v.vlan = verdict.vlan
        }
        return v
    }
}
