// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// What `swbridge stp show` prints: a Sendable, Codable snapshot of the bridge and its ports
// (what the control socket sends as JSON), and a text form modelled on mstpctl's
// `showbridge` / `showport` and bridge(8)'s state words.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// A snapshot of one bridge's spanning tree.
public struct SpanningTreeStatus: Hashable, Sendable, Codable {
    /// One port's part of the tree.
    public struct Port: Hashable, Sendable, Codable {
        /// The port index (slot).
        public var index: Int
        /// The name given at `addPort` (the index if none).
        public var name: String
        /// Port priority and number.
        public var portId: PortIdentifier
        /// The port's role (17.7).
        public var role: PortRole
        /// The state the engine enforces.
        public var state: SpanningTreePortState
        /// False while the link is down or bpdu_guard has disabled the port.
        public var enabled: Bool
        /// PortPathCost in use (set, or from the link speed).
        public var pathCost: UInt32
        /// The port priority vector: the best information heard or sent on the segment.
        /// The root bridge as this bridge sees it.
    public var designatedRoot: BridgeIdentifier
        public var designatedCost: UInt32
        public var designatedBridge: BridgeIdentifier
        public var designatedPort: PortIdentifier
        /// Edge settings: configured, automatic, and in effect.
        public var adminEdge: Bool
        public var autoEdge: Bool
        public var operEdge: Bool
        /// Point-to-point setting and the value in effect.
        public var adminPointToPoint: PointToPointSetting
        public var pointToPoint: Bool
        /// The neighbour speaks 802.1D-1998 STP: this port sends Configuration and TCN BPDUs.
        public var stpCompatible: Bool
        /// The guards: configured, and acting now.
        public var bpduGuard: Bool
        public var bpduGuardTripped: Bool
        public var rootGuard: Bool
        public var rootGuardBlocking: Bool
        /// A TCA is due in the next Configuration BPDU.
        public var topologyChangeAck: Bool
        /// BPDUs accepted and sent.
        public var bpdusIn: UInt64
        public var bpdusOut: UInt64
        /// How often the role and the state changed.
        public var roleChanges: UInt64
        public var stateChanges: UInt64
        /// Dropped BPDUs by reason (only reasons that occurred).
        public var dropped: [String: UInt64]
    }

    /// This bridge's identifier.
    public var bridgeId: BridgeIdentifier
    /// ForceProtocolVersion.
    public var protocolVersion: ProtocolVersion
    public var designatedRoot: BridgeIdentifier
    /// Cost from this bridge to the root.
    public var rootPathCost: UInt32
    /// Index of the root port, nil on the root bridge.
    public var rootPort: Int?
    /// The root port's identifier (zero on the root bridge).
    public var rootPortId: PortIdentifier
    /// The times in use (the root's), seconds.
    public var maxAge: UInt16
    public var helloTime: UInt16
    public var forwardDelay: UInt16
    /// The times this bridge would send as root, seconds.
    public var bridgeMaxAge: UInt16
    public var bridgeHelloTime: UInt16
    public var bridgeForwardDelay: UInt16
    /// TxHoldCount.
    public var transmitHoldCount: UInt16
    /// A topology change is in progress (some port's tcWhile runs).
    public var topologyChange: Bool
    /// Topology changes begun since start.
    public var topologyChangeCount: UInt64
    /// Seconds since the last topology change began, nil if none yet.
    public var secondsSinceTopologyChange: UInt64?
    /// Port where the last topology change began.
    public var topologyChangePort: Int?
    /// BPDUs received for ports not in the tree.
    public var unknownPortBPDUs: UInt64
    /// The ports, ascending by index.
    public var ports: [Port]

    /// True when this bridge is the root.
    public var isRoot: Bool { designatedRoot == bridgeId }
}

extension SpanningTreeBridge {
    /// A snapshot for `stp show` (safe to hand to another thread).
    public func status() -> SpanningTreeStatus {
        let rootPort = order.first { ports[$0]?.role == .root && ports[$0]?.portId == rootPortId }
        return SpanningTreeStatus(
            bridgeId: bridgeIdentifier, protocolVersion: configuration.protocolVersion,
            designatedRoot: rootPriority.rootBridge, rootPathCost: rootPriority.rootPathCost,
            rootPort: rootPort, rootPortId: rootPortId,
            maxAge: rootTimes.maxAge, helloTime: rootTimes.helloTime, forwardDelay: rootTimes.forwardDelay,
            bridgeMaxAge: configuration.maxAge, bridgeHelloTime: configuration.helloTime,
            bridgeForwardDelay: configuration.forwardDelay, transmitHoldCount: configuration.transmitHoldCount,
            topologyChange: activePorts.contains { $0.tcWhile != 0 },
            topologyChangeCount: topologyChangeCount,
            secondsSinceTopologyChange: lastTopologyChange.map { (now.milliseconds &- $0.milliseconds) / 1000 },
            topologyChangePort: lastTopologyChangePort,
            unknownPortBPDUs: unknownPortBPDUs,
            ports: activePorts.map { p in
                var dropped: [String: UInt64] = [:]
                for reason in BPDUDropReason.allCases where p.drops[reason.rawValue] > 0 {
                    dropped[reason.description] = p.drops[reason.rawValue]
                }
                return SpanningTreeStatus.Port(
                    index: p.index, name: p.name, portId: p.portId, role: p.role, state: p.reportedState,
                    enabled: p.portEnabled, pathCost: p.pathCost,
                    designatedRoot: p.portPriority.rootBridge, designatedCost: p.portPriority.rootPathCost,
                    designatedBridge: p.portPriority.designatedBridge, designatedPort: p.portPriority.designatedPort,
                    adminEdge: p.configuration.adminEdge, autoEdge: p.configuration.autoEdge, operEdge: p.operEdge,
                    adminPointToPoint: p.configuration.pointToPoint, pointToPoint: p.operPointToPoint,
                    stpCompatible: !p.sendRSTP, bpduGuard: p.configuration.bpduGuard, bpduGuardTripped: p.guardDisabled,
                    rootGuard: p.configuration.rootGuard, rootGuardBlocking: p.rootGuardBlocking, topologyChangeAck: p.tcAck,
                    bpdusIn: p.bpdusIn, bpdusOut: p.bpdusOut, roleChanges: p.roleChanges, stateChanges: p.stateChanges,
                    dropped: dropped)
            })
    }
}

extension SpanningTreeStatus {
    /// bridge(8)'s state word for `link show`: forwarding, learning, blocking, or disabled.
    public static func linkStateWord(_ port: Port) -> String {
        if !port.enabled || port.role == .disabled { return "disabled" }
        switch port.state {
        case .forwarding: return "forwarding"
        case .learning: return "learning"
        case .discarding: return "blocking"
        }
    }

    /// The text of `swbridge stp show`, after `mstpctl showbridge` and `showport`.
    public func formatted(bridgeName: String = "bridge") -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        func yesNo(_ b: Bool) -> String { b ? "yes" : "no" }
        var out = ""
        func line(_ a: String, _ b: String, _ c: String = "", _ d: String = "") {
            out += "  " + pad(a, 22) + pad(b, 24) + (c.isEmpty ? "" : pad(c, 22) + d)
            while out.last == " " { out.removeLast() }
            out += "\n"
        }
        out += "\(bridgeName) bridge id \(bridgeId)  \(protocolVersion)\(isRoot ? "  (root bridge)" : "")\n"
        line("designated root", designatedRoot.description, "root path cost", String(rootPathCost))
        let rootName = rootPort.flatMap { i in ports.first { $0.index == i }?.name } ?? "none"
        line("root port", rootPort == nil ? "none" : "\(rootName) (\(rootPortId))", "tx hold count", String(transmitHoldCount))
        line("max age", "\(maxAge) s", "bridge max age", "\(bridgeMaxAge) s")
        line("hello time", "\(helloTime) s", "bridge hello time", "\(bridgeHelloTime) s")
        line("forward delay", "\(forwardDelay) s", "bridge forward delay", "\(bridgeForwardDelay) s")
        let since = secondsSinceTopologyChange.map { "\($0) s ago" } ?? "never"
        let where_ = topologyChangePort.flatMap { i in ports.first { $0.index == i }?.name }.map { " on \($0)" } ?? ""
        line("topology change", yesNo(topologyChange), "topology changes", "\(topologyChangeCount), last \(since)\(where_)")
        if unknownPortBPDUs > 0 { line("BPDUs for no port", String(unknownPortBPDUs)) }
        for p in ports {
            out += "\(p.name) port id \(p.portId)  \(p.role)  \(Self.linkStateWord(p))\(p.enabled ? "" : "  (down)")\n"
            line("path cost", String(p.pathCost), "designated cost", String(p.designatedCost))
            line("designated root", p.designatedRoot.description, "designated bridge", p.designatedBridge.description)
            line("designated port", p.designatedPort.description, "point-to-point", "\(yesNo(p.pointToPoint)) (\(p.adminPointToPoint.rawValue))")
            line("admin edge", yesNo(p.adminEdge), "oper edge", "\(yesNo(p.operEdge)) (auto edge \(yesNo(p.autoEdge)))")
            line("STP compatible", yesNo(p.stpCompatible), "topology change ack", yesNo(p.topologyChangeAck))
            line("bpdu guard", p.bpduGuard ? (p.bpduGuardTripped ? "yes, tripped" : "yes") : "no",
                 "root guard", p.rootGuard ? (p.rootGuardBlocking ? "yes, blocking" : "yes") : "no")
            line("BPDUs in", String(p.bpdusIn), "BPDUs out", String(p.bpdusOut))
            line("role changes", String(p.roleChanges), "state changes", String(p.stateChanges))
            if !p.dropped.isEmpty {
                line("dropped", p.dropped.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
            }
        }
        return out
    }
}
