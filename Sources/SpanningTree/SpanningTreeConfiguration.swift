// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// What management sets (802.1D-2004 17.13, 17.14): the bridge's priority, times, transmit hold
// count and protocol version; per port the path cost, priority, edge, point-to-point and the
// two guards. Defaults and ranges are the standard's Table 17-1/17-2/17-3 (priority 32768,
// hello 2 s, max age 20 s, forward delay 15 s, hold count 6, port priority 128, path cost
// from the link speed); the kernel bridge's names are kept where they exist (bpdu_guard,
// root_block is our root_guard).

/// ForceProtocolVersion (17.13.4).
public enum ProtocolVersion: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// 802.1D-1998 STP: Configuration and TCN BPDUs only, forward-delay timers (STP compatibility).
    case stp = 0
    /// 802.1D-2004 RSTP.
    case rstp = 2

    public var description: String { self == .stp ? "stp" : "rstp" }
}

/// The bridge-wide parameters.
public struct SpanningTreeBridgeConfiguration: Hashable, Sendable, Codable {
    /// Bridge priority, 0...61440 in steps of 4096 (17.13.7). Default 32768.
    public var priority: UInt16 = 32768
    /// Hello Time in seconds, 1...10 (17.13.6; 802.1D-2004 fixes it at 2, 802.1D-1998 allowed 1–10).
    public var helloTime: UInt16 = 2
    /// Max Age in seconds, 6...40 (17.13.8). Default 20.
    public var maxAge: UInt16 = 20
    /// Forward Delay in seconds, 4...30 (17.13.5). Default 15.
    public var forwardDelay: UInt16 = 15
    /// TxHoldCount: BPDUs a port may send in a burst, refilled one per second, 1...10 (17.13.12). Default 6.
    public var transmitHoldCount: UInt16 = 6
    /// ForceProtocolVersion (17.13.4). Default RSTP.
    public var protocolVersion: ProtocolVersion = .rstp

    /// The defaults.
    public init() {}

    /// Migrate Time (17.13.9): fixed at 3 s.
    public static let migrateTime: UInt16 = 3

    /// Checks the ranges and 17.14's relation 2 × (Forward Delay − 1) ≥ Max Age ≥ 2 × (Hello Time + 1).
    public func validate() throws(SpanningTreeConfigurationError) {
        guard priority <= 61440, priority % 4096 == 0 else { throw .bridgePriority(priority) }
        guard (1...10).contains(helloTime) else { throw .helloTime(helloTime) }
        guard (6...40).contains(maxAge) else { throw .maxAge(maxAge) }
        guard (4...30).contains(forwardDelay) else { throw .forwardDelay(forwardDelay) }
        guard (1...10).contains(transmitHoldCount) else { throw .transmitHoldCount(transmitHoldCount) }
        guard 2 * (forwardDelay - 1) >= maxAge, maxAge >= 2 * (helloTime + 1) else {
            throw .timesInconsistent(helloTime: helloTime, maxAge: maxAge, forwardDelay: forwardDelay)
        }
    }
}

/// A port's path cost: from the link speed (17.14, Table 17-3) or set.
public enum PathCost: Hashable, Sendable, Codable {
    /// 20,000,000,000 / speed in kb/s, clamped to 1...200,000,000; 20,000 (1 Gb/s) while the speed is unknown.
    case automatic
    /// A set cost, 1...200,000,000.
    case fixed(UInt32)

    /// Table 17-3's recommended value for a link of `megabitsPerSecond` (nil: unknown speed).
    public static func recommended(megabitsPerSecond: UInt64?) -> UInt32 {
        guard let speed = megabitsPerSecond, speed > 0 else { return 20_000 }
        // 20 Tb/s divided by the speed; speeds below 100 kb/s get the table's top value.
        let kbps = speed.multipliedReportingOverflow(by: 1000)
        if kbps.overflow { return 1 }
        return UInt32(max(1, min(200_000_000, 20_000_000_000 / kbps.partialValue)))
    }
}

/// Administrative point-to-point setting (adminPointToPointMAC, 6.4.3).
public enum PointToPointSetting: String, Hashable, Sendable, Codable, CaseIterable {
    /// From the link (full duplex): what `setLink(pointToPoint:)` reports.
    case auto
    /// Always point-to-point.
    case on
    /// Never (shared medium: no proposal/agreement).
    case off
}

/// Per-port parameters.
public struct SpanningTreePortConfiguration: Hashable, Sendable, Codable {
    /// Path cost. Default: from the link speed.
    public var pathCost: PathCost = .automatic
    /// Port priority, 0...240 in steps of 16 (17.13.10). Default 128.
    public var priority: UInt8 = 128
    /// AdminEdge (17.13.1): the port starts as an edge port (forwarding at once).
    public var adminEdge = false
    /// AutoEdge (17.13.3): a designated port that hears no BPDU for the edge delay becomes edge. Default on.
    public var autoEdge = true
    /// adminPointToPointMAC. Default auto.
    public var pointToPoint: PointToPointSetting = .auto
    /// A port with bpdu_guard that receives a BPDU is disabled until its link goes down and up
    /// again or management re-enables it (as the kernel's BR_BPDU_GUARD and mstpd's bpdu-guard).
    public var bpduGuard = false
    /// root_guard (802.1Q restrictedRole, the kernel's root_block): the port never becomes root
    /// port; while it hears superior information it stays alternate (discarding).
    public var rootGuard = false

    /// The defaults.
    public init() {}

    /// Checks the priority step and the path cost range.
    public func validate() throws(SpanningTreeConfigurationError) {
        guard priority % 16 == 0 else { throw .portPriority(priority) }
        if case .fixed(let cost) = pathCost, !(1...200_000_000).contains(cost) { throw .pathCost(cost) }
    }
}

/// A configuration value out of its range.
public enum SpanningTreeConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case bridgePriority(UInt16)
    case helloTime(UInt16)
    case maxAge(UInt16)
    case forwardDelay(UInt16)
    case transmitHoldCount(UInt16)
    case timesInconsistent(helloTime: UInt16, maxAge: UInt16, forwardDelay: UInt16)
    case portPriority(UInt8)
    case pathCost(UInt32)
    case portIndex(Int)
    case portExists(Int)
    case noSuchPort(Int)

    public var description: String {
        switch self {
        case .bridgePriority(let v): "bridge priority \(v): expected 0...61440 in steps of 4096"
        case .helloTime(let v): "hello time \(v) s: expected 1...10"
        case .maxAge(let v): "max age \(v) s: expected 6...40"
        case .forwardDelay(let v): "forward delay \(v) s: expected 4...30"
        case .transmitHoldCount(let v): "tx hold count \(v): expected 1...10"
        case .timesInconsistent(let h, let m, let f):
            "times hello \(h) s, max age \(m) s, forward delay \(f) s: 802.1D 17.14 needs 2 × (forward delay − 1) ≥ max age ≥ 2 × (hello + 1)"
        case .portPriority(let v): "port priority \(v): expected 0...240 in steps of 16"
        case .pathCost(let v): "path cost \(v): expected 1...200000000"
        case .portIndex(let v): "port index \(v): expected 0..<\(SpanningTreeBridge.maximumPorts)"
        case .portExists(let v): "port \(v) is already in the spanning tree"
        case .noSuchPort(let v): "port \(v) is not in the spanning tree"
        }
    }
}
