// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// One port's spanning tree variables, named as 802.1D-2004 17.17 (timers) and 17.19 (per-port
// variables) name them so the standard can be read beside the state machines, plus the state
// of each per-port state machine and the counters `stp show` prints. Internal: only
// `SpanningTreeBridge` and its state machines touch it.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// A port role (17.7).
public enum PortRole: String, Hashable, Sendable, Codable, CustomStringConvertible {
    case disabled, root, designated, alternate, backup
    public var description: String { rawValue }
}

/// A port state (17.10) as the forwarding engine enforces it.
public enum SpanningTreePortState: String, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Neither learns nor forwards (STP's blocking, listening and disabled).
    case discarding
    /// Learns source addresses, forwards nothing.
    case learning
    /// Learns and forwards.
    case forwarding
    public var description: String { rawValue }
}

/// infoIs (17.19.10).
enum InfoIs: Sendable { case disabled, mine, aged, received }

/// rcvdInfo (17.19.26), rcvInfo()'s result.
enum ReceivedInfo: Sendable { case superiorDesignated, repeatedDesignated, inferiorDesignated, inferiorRootAlternate, other }

/// Why a received BPDU was not given to the state machines (counted per port).
public enum BPDUDropReason: Int, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case truncated, notBridgeGroupAddress, notLLCFrame, notSpanningTreeLLC, protocolIdentifier, unknownType
    case messageAgeNotBelowMaxAge
    /// 9.3.4 a): a Configuration BPDU carrying this port's own bridge and port identifier.
    case loopedBack
    /// Times outside what any bridge may be configured with (Max Age 6–40 s, Hello 0–10 s,
    /// Forward Delay 2–30 s: the kernel's minimum of 2 s, below the standard's 4, is accepted).
    case timersOutOfRange
    /// More TCN BPDUs in one second than the transmit hold count allows a sender.
    case tcnRateLimited
    /// Received while the port is disabled (link down or bpdu_guard).
    case portDisabled

    init(_ error: BPDUParseError) {
        switch error {
        case .truncated: self = .truncated
        case .notBridgeGroupAddress: self = .notBridgeGroupAddress
        case .notLLCFrame: self = .notLLCFrame
        case .notSpanningTreeLLC: self = .notSpanningTreeLLC
        case .protocolIdentifier: self = .protocolIdentifier
        case .unknownType: self = .unknownType
        case .messageAgeNotBelowMaxAge: self = .messageAgeNotBelowMaxAge
        }
    }

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .notBridgeGroupAddress: "not to 01:80:c2:00:00:00"
        case .notLLCFrame: "not an 802.3/LLC frame"
        case .notSpanningTreeLLC: "LLC header not 42 42 03"
        case .protocolIdentifier: "protocol identifier not 0"
        case .unknownType: "unknown BPDU type or version"
        case .messageAgeNotBelowMaxAge: "message age not below max age"
        case .loopedBack: "own BPDU looped back"
        case .timersOutOfRange: "timers out of range"
        case .tcnRateLimited: "TCN flood (rate limited)"
        case .portDisabled: "port disabled"
        }
    }
}

final class SpanningTreePort {
    let index: Int
    let address: MACAddress
    var name: String
    var configuration: SpanningTreePortConfiguration

    // What the caller reports about the link.
    var linkUp = false
    var linkPointToPoint = false
    var speedMegabitsPerSecond: UInt64?
    /// bpdu_guard tripped: the port stays disabled until its link goes down and up again.
    var guardDisabled = false
    /// root_guard is holding the port back from the root role (for the event and `stp show`).
    var rootGuardBlocking = false

    // 17.19 per-port variables.
    var portId: PortIdentifier
    var agree = false, agreed = false, disputed = false, fdbFlush = false
    var forward = false, forwarding = false, learn = false, learning = false
    var mcheck = false, newInfo = false, operEdge = false, portEnabled = false
    var proposed = false, proposing = false
    var rcvdBPDU = false, rcvdMsg = false, rcvdRSTP = false, rcvdSTP = false
    var rcvdTc = false, rcvdTcAck = false, rcvdTcn = false
    var reRoot = false, reselect = false, selected = false, sendRSTP = false
    var sync = false, synced = false, tcAck = false, tcProp = false, updtInfo = false
    var infoIs: InfoIs = .disabled
    var rcvdInfo: ReceivedInfo = .other
    var role: PortRole = .disabled
    var selectedRole: PortRole = .disabled
    var designatedPriority = PriorityVector.zero
    var msgPriority = PriorityVector.zero
    var portPriority = PriorityVector.zero
    var designatedTimes = TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15)
    var msgTimes = TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15)
    var portTimes = TimerValues(messageAge: 0, maxAge: 20, helloTime: 2, forwardDelay: 15)
    /// The BPDU being received (rcvdBPDU's contents).
    var received = BPDU.topologyChangeNotification

    // 17.17 timers, whole seconds; txCount (17.19.44).
    var edgeDelayWhile: UInt16 = 0, fdWhile: UInt16 = 0, helloWhen: UInt16 = 0, mdelayWhile: UInt16 = 0
    var rbWhile: UInt16 = 0, rcvdInfoWhile: UInt16 = 0, rrWhile: UInt16 = 0, tcWhile: UInt16 = 0
    var txCount: UInt16 = 0
    /// TCNs still accepted this second (a flood of them would flush the tables without end).
    var tcnBudget: UInt16 = 0

    // Per-port state machine states (transient states run their actions and move on).
    var receiveState: PortReceiveState = .discard
    var migrationState: ProtocolMigrationState = .checkingRSTP
    var detectionState: BridgeDetectionState = .notEdge
    var informationState: PortInformationState = .disabled
    var roleTransitionState: RoleTransitionState = .disablePort
    var stateTransitionState: SpanningTreePortState = .discarding
    var topologyChangeState: TopologyChangeState = .inactive

    // Counters for `stp show`.
    var bpdusIn: UInt64 = 0, bpdusOut: UInt64 = 0
    var roleChanges: UInt64 = 0, stateChanges: UInt64 = 0
    var drops = [UInt64](repeating: 0, count: BPDUDropReason.allCases.count)
    /// The state last reported to the caller.
    var reportedState: SpanningTreePortState = .discarding
    /// Queued for the next round of `run()` (its variables changed).
    var isDirty = false

    init(index: Int, address: MACAddress, name: String, configuration: SpanningTreePortConfiguration) {
        self.index = index
        self.address = address
        self.name = name
        self.configuration = configuration
        self.portId = PortIdentifier(priority: configuration.priority, number: UInt16(index + 1))
    }

    /// operPointToPointMAC (6.4.3): the admin setting, or the link's when auto.
    var operPointToPoint: Bool {
        switch configuration.pointToPoint {
        case .auto: linkPointToPoint
        case .on: true
        case .off: false
        }
    }

    /// PortPathCost (17.19.20).
    var pathCost: UInt32 {
        switch configuration.pathCost {
        case .automatic: PathCost.recommended(megabitsPerSecond: speedMegabitsPerSecond)
        case .fixed(let cost): cost
        }
    }

    // 17.20 parameters, read from designatedTimes.
    var fwdDelay: UInt16 { designatedTimes.forwardDelay }
    var helloTime: UInt16 { designatedTimes.helloTime }
    var maxAge: UInt16 { designatedTimes.maxAge }
    /// forwardDelay (17.20.6): Hello Time while the port speaks RSTP, Forward Delay otherwise.
    var forwardDelay: UInt16 { sendRSTP ? helloTime : fwdDelay }
    /// EdgeDelay (17.20.4).
    var edgeDelay: UInt16 { operPointToPoint ? SpanningTreeBridgeConfiguration.migrateTime : maxAge }
}

enum PortReceiveState: Sendable { case discard, receive }
enum ProtocolMigrationState: Sendable { case checkingRSTP, selectingSTP, sensing }
enum BridgeDetectionState: Sendable { case edge, notEdge }
enum PortInformationState: Sendable { case disabled, aged, current }
enum RoleTransitionState: Sendable { case disablePort, disabledPort, rootPort, designatedPort, alternatePort, blockPort }
enum TopologyChangeState: Sendable { case inactive, learning, active }
