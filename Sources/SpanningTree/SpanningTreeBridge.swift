// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The Rapid Spanning Tree Protocol of IEEE 802.1D-2004 clause 17, with STP compatibility
// (17.4, 17.24: a port that hears Configuration or TCN BPDUs speaks 802.1D-1998 to them), for
// one bridge: pure logic, no sockets, no clock of its own.
//
// The promise:
// - Inputs are exactly these: `receive` (a BPDU on a port), `tick(now:)` (the caller's
//   monotonic clock; each whole second elapsed is one 17.22 timer tick), `setLink` (up/down,
//   point-to-point, speed), `addPort`/`removePort` (indices 0..<1024, at any time), and the
//   configuration setters. Each returns the `SpanningTreeOutput` it caused: BPDU frames to
//   send, port state changes for the forwarding engine, FDB flushes, events for the log.
// - After every input the state machines run to completion (17.16: until no transition is
//   enabled), so a proposal is answered by the agreement in the same call, and failover on a
//   point-to-point link takes no timer at all: a simulated network reconverges in zero seconds.
// - The state machines are the standard's, one file each, with its variable names: Port
//   Receive, Port Protocol Migration, Bridge Detection, Port Transmit (17.23–17.26), Port
//   Information (17.27), Port Role Selection (17.28), Port Role Transitions (17.29), Port State
//   Transition (17.30), Topology Change (17.31), Port Timers (17.22). Where 802.1D-2004 has
//   known errata, 802.1Q-2005's text is used (recordDispute sets `disputed`, allSynced exempts
//   the root port, betterorsameInfo keeps an agreement over better information), as mstpd does.
// - Not thread-safe: one owner drives it (the bridge's STP thread). `status()` returns a
//   Sendable snapshot for other threads.
// - Bad BPDUs are counted per `BPDUDropReason`, never trap.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// A BPDU to send: the whole Ethernet frame (without FCS) and the port index.
public struct BPDUTransmission: Hashable, Sendable {
    /// The port index to send on.
    public var port: Int
    /// The whole Ethernet frame, padded to 60 octets.
    public var frame: [UInt8]
}

/// A port's new state, for the forwarding engine to enforce.
public struct PortStateChange: Hashable, Sendable {
    /// The port index.
    public var port: Int
    /// What the engine must enforce from now on.
    public var state: SpanningTreePortState
}

/// Something the log should say.
public enum SpanningTreeEvent: Hashable, Sendable, CustomStringConvertible {
    case roleChanged(port: Int, from: PortRole, to: PortRole)
    /// The bridge's root changed (to itself when it became root).
    case newRoot(BridgeIdentifier)
    /// A topology change began (17.31 DETECTED or a notification), first seen on `port`.
    case topologyChange(port: Int)
    /// bpdu_guard disabled the port on receiving a BPDU.
    case bpduGuardDisabled(port: Int)
    /// root_guard keeps the port from becoming root port (superior BPDUs heard).
    case rootGuardBlocking(port: Int)
    /// root_guard no longer needs to hold the port back.
    case rootGuardReleased(port: Int)
    /// The port speaks 802.1D-1998 STP to its neighbour (false: RSTP again).
    case protocolMigrated(port: Int, stpCompatible: Bool)
    /// operEdge changed.
    case edgeChanged(port: Int, operEdge: Bool)
    /// The state machines did not settle within the iteration limit (a bug; the next input continues).
    case iterationLimit

    public var description: String {
        switch self {
        case .roleChanged(let p, let from, let to): "port \(p): role \(from) -> \(to)"
        case .newRoot(let id): "new root \(id)"
        case .topologyChange(let p): "topology change (port \(p))"
        case .bpduGuardDisabled(let p): "port \(p): BPDU received with bpdu_guard set, port disabled"
        case .rootGuardBlocking(let p): "port \(p): root_guard blocks superior BPDUs, port kept alternate"
        case .rootGuardReleased(let p): "port \(p): root_guard released"
        case .protocolMigrated(let p, let stp): "port \(p): \(stp ? "legacy STP neighbour, STP-compatible mode" : "back to RSTP")"
        case .edgeChanged(let p, let edge): "port \(p): \(edge ? "edge port" : "no longer an edge port")"
        case .iterationLimit: "state machines did not settle (iteration limit)"
        }
    }
}

/// What one input caused, in order.
public struct SpanningTreeOutput: Sendable {
    /// BPDU frames to send.
    public var transmissions: [BPDUTransmission] = []
    /// Port state changes, in the order they happened; the last one per port holds.
    public var stateChanges: [PortStateChange] = []
    /// Ports whose learned FDB entries must be flushed (17.19.7 fdbFlush), once each.
    public var flushes: [Int] = []
    /// Events for the log.
    public var events: [SpanningTreeEvent] = []

    /// Nothing happened.
    public var isEmpty: Bool { transmissions.isEmpty && stateChanges.isEmpty && flushes.isEmpty && events.isEmpty }
    /// An empty output.
    public init() {}
}

/// One bridge's spanning tree: the RSTP state machines of 802.1D-2004 clause 17 over a set of ports.
public final class SpanningTreeBridge {
    /// Port indices run from 0 to 1023 (port numbers 1...1024 in port identifiers).
    public static let maximumPorts = 1024
    /// A safeguard only: the machines settle in far fewer rounds.
    static let iterationLimit = 10_000

    /// The bridge address (lowest port MAC or the bridge device's: the caller decides).
    public let address: MACAddress
    public private(set) var configuration: SpanningTreeBridgeConfiguration

    // 17.18 per-bridge variables.
    var bridgeIdentifier: BridgeIdentifier
    var rootPriority: PriorityVector
    var rootPortId = PortIdentifier(rawValue: 0)
    var rootTimes: TimerValues

    var ports: [SpanningTreePort?] = Array(repeating: nil, count: SpanningTreeBridge.maximumPorts)
    /// Indices in use, ascending: the order the machines visit ports (deterministic runs).
    var order: [Int] = []
    var output = SpanningTreeOutput()
    /// Ports to visit in the next round of `run()`.
    var dirty: [Int] = []
    var now: Timestamp
    var lastTick: Timestamp
    var topologyChangeCount: UInt64 = 0
    var lastTopologyChange: Timestamp?
    var lastTopologyChangePort: Int?
    /// BPDUs for ports that are not in the tree.
    var unknownPortBPDUs: UInt64 = 0

    /// Creates the bridge at BEGIN with no ports. Throws on a configuration out of range.
    public init(address: MACAddress, configuration: SpanningTreeBridgeConfiguration = .init(), now: Timestamp) throws(SpanningTreeConfigurationError) {
        try configuration.validate()
        self.address = address
        self.configuration = configuration
        self.bridgeIdentifier = BridgeIdentifier(priority: configuration.priority, address: address)
        self.rootPriority = PriorityVector(rootBridge: bridgeIdentifier, rootPathCost: 0, designatedBridge: bridgeIdentifier, designatedPort: PortIdentifier(rawValue: 0))
        self.rootTimes = TimerValues(messageAge: 0, maxAge: configuration.maxAge, helloTime: configuration.helloTime, forwardDelay: configuration.forwardDelay)
        self.now = now
        self.lastTick = now
    }

    // MARK: 17.20 bridge-wide parameters

    var rstpVersion: Bool { configuration.protocolVersion.rawValue >= 2 }
    var bridgePriority: PriorityVector {
        PriorityVector(rootBridge: bridgeIdentifier, rootPathCost: 0, designatedBridge: bridgeIdentifier, designatedPort: PortIdentifier(rawValue: 0))
    }
    var bridgeTimes: TimerValues {
        TimerValues(messageAge: 0, maxAge: configuration.maxAge, helloTime: configuration.helloTime, forwardDelay: configuration.forwardDelay)
    }
    var migrateTime: UInt16 { SpanningTreeBridgeConfiguration.migrateTime }

    // MARK: Inputs

    /// Adds a port (its link down until `setLink`). `address` is the port's MAC, the source of its BPDUs.
    @discardableResult
    public func addPort(_ index: Int, address: MACAddress, name: String = "", configuration portConfiguration: SpanningTreePortConfiguration = .init(),
                        now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        guard (0..<Self.maximumPorts).contains(index) else { throw .portIndex(index) }
        guard ports[index] == nil else { throw .portExists(index) }
        try portConfiguration.validate()
        advance(to: now)
        let port = SpanningTreePort(index: index, address: address, name: name.isEmpty ? "\(index)" : name, configuration: portConfiguration)
        ports[index] = port
        order.insert(index, at: order.firstIndex { $0 > index } ?? order.count)
        begin(port)
        output.stateChanges.append(PortStateChange(port: index, state: .discarding))
        run(index)
        return takeOutput()
    }

    /// Removes a port: it is disabled first (so a lost root port reroots the others), then forgotten.
    @discardableResult
    public func removePort(_ index: Int, now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        let port = try existing(index)
        advance(to: now)
        port.linkUp = false
        updatePortEnabled(port)
        run()
        ports[index] = nil
        order.removeAll { $0 == index }
        for other in activePorts { other.reselect = true; other.selected = false }
        run()
        return takeOutput()
    }

    /// The port's link: up or down, point-to-point (full duplex) or shared, and its speed for
    /// the automatic path cost. A link that comes up again clears a tripped bpdu_guard.
    @discardableResult
    public func setLink(_ index: Int, up: Bool, pointToPoint: Bool = true, megabitsPerSecond: UInt64? = nil,
                        now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        let port = try existing(index)
        advance(to: now)
        if !up { port.guardDisabled = false }
        let costBefore = port.pathCost
        port.linkUp = up
        port.linkPointToPoint = pointToPoint
        port.speedMegabitsPerSecond = megabitsPerSecond
        if port.pathCost != costBefore { reselectAll() }
        updatePortEnabled(port)
        run(index)
        return takeOutput()
    }

    /// Hands the machines a frame received on a port: the whole Ethernet frame.
    @discardableResult
    public func receive(frame: UnsafeRawBufferPointer, port index: Int, now: Timestamp) -> SpanningTreeOutput {
        let parsed = Result<BPDU, BPDUParseError> { () throws(BPDUParseError) in try BPDU.parse(frame: frame) }
        return receive(parsed, port: index, now: now)
    }

    /// Hands the machines a frame received on a port: the octets after the Ethernet header (LLC first).
    @discardableResult
    public func receive(llc: UnsafeRawBufferPointer, port index: Int, now: Timestamp) -> SpanningTreeOutput {
        let parsed = Result<BPDU, BPDUParseError> { () throws(BPDUParseError) in try BPDU.parse(llc: llc) }
        return receive(parsed, port: index, now: now)
    }

    /// `receive(frame:)` over an array.
    @discardableResult
    public func receive(frame: [UInt8], port index: Int, now: Timestamp) -> SpanningTreeOutput {
        frame.withUnsafeBytes { receive(frame: $0, port: index, now: now) }
    }

    /// One second of 17.22 Port Timers per whole second elapsed since the last tick (at most
    /// 255 at once: a clock that jumped further does not replay minutes of ticks).
    @discardableResult
    public func tick(now: Timestamp) -> SpanningTreeOutput {
        advance(to: now)
        var ticks = 0
        while now.milliseconds &- lastTick.milliseconds >= 1000 && now >= lastTick {
            lastTick = lastTick.adding(milliseconds: 1000)
            ticks += 1
            if ticks > 255 { lastTick = now; break }
            portTimersTick()
            run()
        }
        return takeOutput()
    }

    /// Port Protocol Migration's mcheck (17.19.13): try RSTP again on a port in STP-compatible mode.
    @discardableResult
    public func migrationCheck(_ index: Int, now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        let port = try existing(index)
        advance(to: now)
        if rstpVersion { port.mcheck = true }
        run(index)
        return takeOutput()
    }

    // MARK: Configuration

    /// Changes the bridge parameters (17.13). A new protocol version restarts every port
    /// (BEGIN); new priority or times make every port's role selected again.
    @discardableResult
    public func setConfiguration(_ new: SpanningTreeBridgeConfiguration, now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        try new.validate()
        advance(to: now)
        let old = configuration
        configuration = new
        bridgeIdentifier = BridgeIdentifier(priority: new.priority, address: address)
        if old.protocolVersion != new.protocolVersion {
            for port in activePorts { begin(port) }
        } else if old != new {
            reselectAll()
        }
        run()
        return takeOutput()
    }

    /// Changes a port's parameters (17.13): path cost and priority reselect roles, admin edge
    /// sets operEdge at once, the guards apply from the next BPDU / role selection.
    @discardableResult
    public func setPortConfiguration(_ index: Int, _ new: SpanningTreePortConfiguration, now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        let port = try existing(index)
        try new.validate()
        advance(to: now)
        let old = port.configuration
        port.configuration = new
        if old.priority != new.priority { port.portId = PortIdentifier(priority: new.priority, number: UInt16(index + 1)) }
        if old.adminEdge != new.adminEdge { setOperEdge(port, new.adminEdge) }
        if old.pathCost != new.pathCost || old.priority != new.priority || old.rootGuard != new.rootGuard
            || old.pointToPoint != new.pointToPoint {
            reselectAll()
        }
        if old.bpduGuard && !new.bpduGuard && port.guardDisabled {
            port.guardDisabled = false
            updatePortEnabled(port)
        }
        run()
        return takeOutput()
    }

    /// Re-enables a port that bpdu_guard disabled (also done by a link going down and up).
    @discardableResult
    public func clearBPDUGuard(_ index: Int, now: Timestamp) throws(SpanningTreeConfigurationError) -> SpanningTreeOutput {
        let port = try existing(index)
        advance(to: now)
        port.guardDisabled = false
        updatePortEnabled(port)
        run(index)
        return takeOutput()
    }

    // MARK: Queries

    /// The state a port's frames must get from the engine (discarding for an unknown port).
    public func state(ofPort index: Int) -> SpanningTreePortState {
        guard (0..<Self.maximumPorts).contains(index), let port = ports[index] else { return .discarding }
        return port.reportedState
    }

    /// A port's current role (nil for an unknown port).
    public func role(ofPort index: Int) -> PortRole? {
        guard (0..<Self.maximumPorts).contains(index) else { return nil }
        return ports[index]?.role
    }

    /// The port indices in the tree, ascending.
    public var portIndices: [Int] { order }

    // MARK: Machinery

    /// The ports in the tree, ascending by index.
    var activePorts: [SpanningTreePort] { order.compactMap { ports[$0] } }

    func existing(_ index: Int) throws(SpanningTreeConfigurationError) -> SpanningTreePort {
        guard (0..<Self.maximumPorts).contains(index) else { throw .portIndex(index) }
        guard let port = ports[index] else { throw .noSuchPort(index) }
        return port
    }

    func advance(to time: Timestamp) {
        if time > now { now = time }
    }

    func takeOutput() -> SpanningTreeOutput {
        defer { output = SpanningTreeOutput() }
        return output
    }

    func reselectAll() {
        for port in activePorts { port.reselect = true; port.selected = false }
    }

    func updatePortEnabled(_ port: SpanningTreePort) {
        port.portEnabled = port.linkUp && !port.guardDisabled
    }

    func setOperEdge(_ port: SpanningTreePort, _ edge: Bool) {
        guard port.operEdge != edge else { return }
        port.operEdge = edge
        output.events.append(.edgeChanged(port: port.index, operEdge: edge))
    }

    func setRole(_ port: SpanningTreePort, _ role: PortRole) {
        guard port.role != role else { return }
        output.events.append(.roleChanged(port: port.index, from: port.role, to: role))
        port.role = role
        port.roleChanges &+= 1
    }

    /// BEGIN for one port's machines (17.16): each enters its initial state.
    func begin(_ port: SpanningTreePort) {
        port.designatedTimes = rootTimes
        port.designatedTimes.helloTime = configuration.helloTime
        port.selectedRole = .disabled
        port.sendRSTP = rstpVersion   // where CHECKING_RSTP starts: no migration to report
        updatePortEnabled(port)
        port.tcnBudget = configuration.transmitHoldCount
        enterPortReceiveDiscard(port)
        enterCheckingRSTP(port)
        if port.configuration.adminEdge { enterEdge(port) } else { enterNotEdge(port) }
        enterTransmitInit(port)
        enterInformationDisabled(port)
        enterInitPort(port)
        enterDiscarding(port)
        enterTopologyInactive(port)
    }

    /// Runs the state machines until none can move (17.16). The first round visits `port`'s
    /// machines only (every port's when nil: ticks, configuration); later rounds visit the
    /// ports whose variables changed (their own transitions, or another port's setSyncTree,
    /// setReRootTree, setTcPropTree, role selection) and the root, alternate and backup ports,
    /// whose conditions (allSynced, reRooted) read the other ports. A port visited by none of
    /// these has nothing enabled, so the fixed point is the same as visiting every port every
    /// round, at a cost that follows the ports involved rather than the 1,024 there may be.
    func run(_ port: Int? = nil) {
        var visit = port.map { [$0] } ?? order
        var rounds = 0
        while true {
            var changed = portRoleSelection()
            for index in visit {
                guard let port = ports[index] else { continue }
                if stepMachines(port) {
                    changed = true
                    touch(port)
                }
            }
            guard changed else { break }
            rounds += 1
            if rounds >= Self.iterationLimit {
                output.events.append(.iterationLimit)
                break
            }
            for index in order {
                guard let p = ports[index], p.role == .root || p.role == .alternate || p.role == .backup else { continue }
                touch(p)
            }
            visit = dirty.sorted()
            for index in dirty { ports[index]?.isDirty = false }
            dirty.removeAll(keepingCapacity: true)
        }
        for index in dirty { ports[index]?.isDirty = false }
        dirty.removeAll(keepingCapacity: true)
    }

    /// One pass over a port's machines, in 17.16's order of the figures; true if any moved.
    func stepMachines(_ port: SpanningTreePort) -> Bool {
        var changed = false
        if portReceive(port) { changed = true }
        if portProtocolMigration(port) { changed = true }
        if bridgeDetection(port) { changed = true }
        if portInformation(port) { changed = true }
        if portRoleTransitions(port) { changed = true }
        if portStateTransition(port) { changed = true }
        if topologyChange(port) { changed = true }
        if portTransmit(port) { changed = true }
        return changed
    }

    /// Queues a port for the next round of `run()`.
    func touch(_ port: SpanningTreePort) {
        guard !port.isDirty else { return }
        port.isDirty = true
        dirty.append(port.index)
    }

    /// The receive path: validation beyond the codec (9.3.4 a's loop-back test, timer
    /// sanity, TCN rate), bpdu_guard, then rcvdBPDU for Port Receive.
    func receive(_ parsed: Result<BPDU, BPDUParseError>, port index: Int, now time: Timestamp) -> SpanningTreeOutput {
        advance(to: time)
        guard (0..<Self.maximumPorts).contains(index), let port = ports[index] else {
            unknownPortBPDUs &+= 1
            return takeOutput()
        }
        let bpdu: BPDU
        switch parsed {
        case .failure(let error):
            count(port, BPDUDropReason(error))
            return takeOutput()
        case .success(let value):
            bpdu = value
        }
        guard port.portEnabled else {
            count(port, .portDisabled)
            return takeOutput()
        }
        switch bpdu.kind {
        case .configuration:
            if bpdu.priority.designatedBridge == bridgeIdentifier && bpdu.priority.designatedPort == port.portId {
                count(port, .loopedBack)
                return takeOutput()
            }
            fallthrough
        case .rst:
            let t = bpdu.times
            guard (6 * 256...40 * 256).contains(t.maxAge), t.helloTime <= 10 * 256, (2 * 256...30 * 256).contains(t.forwardDelay) else {
                count(port, .timersOutOfRange)
                return takeOutput()
            }
        case .topologyChangeNotification:
            guard port.tcnBudget > 0 else {
                count(port, .tcnRateLimited)
                return takeOutput()
            }
            port.tcnBudget -= 1
        }
        port.bpdusIn &+= 1
        if port.configuration.bpduGuard {
            port.guardDisabled = true
            updatePortEnabled(port)
            output.events.append(.bpduGuardDisabled(port: index))
            run(index)
            return takeOutput()
        }
        port.received = bpdu
        port.rcvdBPDU = true
        run(index)
        return takeOutput()
    }

    func count(_ port: SpanningTreePort, _ reason: BPDUDropReason) {
        port.drops[reason.rawValue] &+= 1
    }

    /// 17.22 Port Timers: one tick.
    func portTimersTick() {
        for port in activePorts {
            func dec(_ t: inout UInt16) { if t > 0 { t -= 1 } }
            dec(&port.helloWhen); dec(&port.tcWhile); dec(&port.fdWhile); dec(&port.rcvdInfoWhile)
            dec(&port.rrWhile); dec(&port.rbWhile); dec(&port.mdelayWhile); dec(&port.edgeDelayWhile)
            dec(&port.txCount)
            port.tcnBudget = configuration.transmitHoldCount
        }
    }
}
