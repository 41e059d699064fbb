// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MulticastSnooper: IGMP/MLD snooping and the querier, as the kernel bridge does them
// (net/bridge/br_multicast.c; RFC 4541), as a pure state machine: frames, ticks and port
// changes in; changes to the `MulticastGroupTable`, query frames to send, log events and
// counters out. It reads no clock (the caller passes `now`) and makes no syscall, so tests
// drive every timer.
//
// What it promises:
// - Membership: a report (IGMPv1/v2/v3, MLDv1/v2) on port P puts P in the group's members
//   in the report's VLAN for the group membership interval (robustness × QI + QRI, 260 s);
//   every report refreshes it. v3/MLDv2 records are any-source joins, except INCLUDE {}
//   (MODE_IS_INCLUDE or CHANGE_TO_INCLUDE without sources), which is a leave: the kernel
//   bridge's behaviour in IGMPv2/MLDv1 mode. Link-local groups are never entered (they are
//   always flooded).
// - Leave (IGMPv2 leave, MLDv1 done, INCLUDE {}), in br_multicast_leave_group's order: a port
//   with fast leave drops out at once; otherwise, if another querier is present, the leave is
//   left to it (its group-specific queries shorten the timers, see below); otherwise, when we
//   are querier, `lastMemberCount` group-specific queries go out of that port,
//   `lastMemberInterval` apart, and the port's membership expires after lastMemberCount ×
//   lastMemberInterval unless a report comes back (that shortening happens even without our
//   querier, as in the kernel).
// - A group-specific query heard from another querier shortens that group's memberships on
//   every port to lastMemberCount × the query's maximum response time.
// - Querier election (RFC 3376 6.6.2, RFC 3810 7.6.2): a query from a lower address than ours,
//   or any query while our address is unspecified (the kernel's default 0.0.0.0 querier defers
//   to everyone), makes that querier "other querier present" for the other-querier-present
//   interval (255 s); we send no general queries meanwhile. When it lapses our querier resumes
//   at once. The querier starts with `startupQueryCount` general queries `startupQueryInterval`
//   apart, then one every `queryInterval`.
// - Snooping is active in a VLAN for a family (membership is known, so the engine may
//   restrict delivery) when snooping is on, a querier exists (ours or another) and no
//   "querier delay" runs: for one maximum response time after a querier first appears,
//   everything is still flooded so hosts can answer (the kernel's other_query.delay_timer;
//   after `--mcast-querier` is turned on that is one query response interval). Inactive: the
//   engine floods all multicast of that VLAN and family. The state is published to the table
//   (`isSnoopingActive`) on every input and tick.
// - Router ports: a port becomes a router port for the other-querier-present interval when a
//   query from a non-zero source, a PIM hello, a DVMRP probe or a router advertisement is
//   heard on it (mcast_router 1); mcast_router 2 ports are router ports always (every VLAN);
//   mcast_router 0 ports never. The engine sends group data to members ∪ router ports.
// - Bounded: at most `maxGroups` groups (the table's bound; a join that does not fit is refused
//   and counted, logged once until a group is removed); per group at most 1,024 ports; per VLAN
//   two querier states. Malformed messages are counted by reason, never logged one by one.
//
// Threading: one thread owns a snooper (the wiring's control thread); it is the table's only
// writer. Forwarding threads read the table only.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// Something the log should say.
public enum SnoopingEvent: Equatable, Sendable, CustomStringConvertible {
    public enum RemovalReason: String, Sendable { case leave, fastLeave = "fast leave", timeout, portRemoved = "port removed" }
    case joined(vlan: UInt16, group: MulticastGroup, port: Int)
    case left(vlan: UInt16, group: MulticastGroup, port: Int, reason: RemovalReason)
    case tableFull(limit: Int)
    case routerPortAdded(vlan: UInt16, port: Int)
    case routerPortExpired(vlan: UInt16, port: Int)
    case otherQuerier(vlan: UInt16, ipv6: Bool, address: IPAddress?)
    case snoopingActive(vlan: UInt16, ipv6: Bool, active: Bool)

    public var description: String {
        func v(_ vlan: UInt16) -> String { vlan == 0 ? "" : " vid \(vlan)" }
        switch self {
        case .joined(let vlan, let g, let p): return "mdb: port \(p) joined \(g)\(v(vlan))"
        case .left(let vlan, let g, let p, let r): return "mdb: port \(p) left \(g)\(v(vlan)) (\(r.rawValue))"
        case .tableFull(let l): return "mdb: table full (\(l) groups): new groups are flooded as unregistered"
        case .routerPortAdded(let vlan, let p): return "mdb: port \(p) is a multicast router port\(v(vlan))"
        case .routerPortExpired(let vlan, let p): return "mdb: port \(p) is no longer a multicast router port\(v(vlan))"
        case .otherQuerier(let vlan, let six, let a):
            return "mdb: \(six ? "MLD" : "IGMP") querier\(v(vlan)): " + (a.map { "\($0) (another)" } ?? "none heard")
        case .snoopingActive(let vlan, let six, let on):
            return "mdb: \(six ? "MLD" : "IGMP") snooping\(v(vlan)) " + (on ? "active (a querier exists)" : "inactive: flooding all multicast")
        }
    }
}

/// A frame the querier wants sent.
public struct QueryTransmission: Equatable, Sendable {
    /// The VLAN to send it in (tag it as the egress port's VLAN policy says).
    public var vlan: UInt16
    /// One port, or nil: every port of the VLAN (a general query, flooded as the kernel does).
    public var port: Int?
    /// The whole untagged Ethernet frame.
    public var frame: [UInt8]
}

/// What one call produced.
public struct SnoopingOutput: Equatable, Sendable {
    public var transmissions: [QueryTransmission] = []
    public var events: [SnoopingEvent] = []
    /// Table entries changed (inserted, updated or removed) by the call.
    public var tableChanges: Int = 0
    public init() {}
}

/// The snooper's counters (what `stats` prints).
public struct MulticastSnoopingCounters: Equatable, Sendable, Codable {
    public var igmpv1Reports: UInt64 = 0
    public var igmpv2Reports: UInt64 = 0
    public var igmpv3Reports: UInt64 = 0
    public var mldv1Reports: UInt64 = 0
    public var mldv2Reports: UInt64 = 0
    /// IGMPv2 leaves, MLDv1 dones and INCLUDE {} records.
    public var leaves: UInt64 = 0
    public var fastLeaves: UInt64 = 0
    public var igmpQueriesReceived: UInt64 = 0
    public var mldQueriesReceived: UInt64 = 0
    public var igmpQueriesSent: UInt64 = 0
    public var mldQueriesSent: UInt64 = 0
    public var routerMessages: UInt64 = 0
    /// Valid messages of types the snooper has no use for.
    public var ignored: UInt64 = 0
    /// Joins refused because the table was full.
    public var joinsRefusedTableFull: UInt64 = 0
    public var membershipsExpired: UInt64 = 0
    /// Malformed messages by `MalformedReason.rawValue`.
    public var malformed: [String: UInt64] = [:]
    public init() {}
    /// All malformed messages.
    public var malformedTotal: UInt64 { malformed.values.reduce(0, +) }
}

/// The snooping state machine; see the file comment.
public final class MulticastSnooper {
    public private(set) var configuration: MulticastSnoopingConfiguration
    public let table: MulticastGroupTable
    public private(set) var counters = MulticastSnoopingCounters()

    struct FamilyKey: Hashable, Comparable {
        var vlan: UInt16
        var ipv6: Bool
        static func < (a: FamilyKey, b: FamilyKey) -> Bool { (a.vlan, a.ipv6 ? 1 : 0) < (b.vlan, b.ipv6 ? 1 : 0) }
    }
    struct QuerierState {
        var otherQuerier: IPAddress?
        var otherQuerierPort: Int?
        var otherQuerierExpires: UInt64?
        var delayUntil: UInt64?
        /// Next general query of our own querier; nil when ours does not run here.
        var nextOwnQuery: UInt64?
        var startupSent = 0
        var published = false
    }
    struct GroupKey: Hashable {
        var vlan: UInt16
        var group: MulticastGroup
    }
    struct Membership {
        var expires: UInt64
        var lastMemberQueriesLeft = 0
        var nextLastMemberQuery: UInt64 = 0
    }

    var queriers: [FamilyKey: QuerierState] = [:]
    var groups: [GroupKey: [Int: Membership]] = [:]
    var learnedRouters: [UInt16: [Int: UInt64]] = [:]
    var portFlags: [Int: MulticastPortFlags] = [:]
    var vlansSeen: Set<UInt16> = []
    var publishedRouters: [UInt16: MulticastPortSet] = [:]
    var fullReported = false
    var routersDirty = true
    var nextDeadlineMs: UInt64 = .max
    var output = SnoopingOutput()

    /// A snooper writing to `table` (created with `configuration.maxGroups` if not given).
    public init(configuration: MulticastSnoopingConfiguration, table: MulticastGroupTable? = nil, now: Timestamp) throws(SnoopingConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.table = table ?? MulticastGroupTable(maxGroups: configuration.maxGroups)
        startQuerier(now: now.milliseconds)
        _ = finish(now: now.milliseconds)
    }

    /// When `tick` next has something to do (nil: nothing scheduled). Call `tick` at or after it;
    /// calling it more often is harmless.
    public var nextDeadline: Timestamp? { nextDeadlineMs == .max ? nil : Timestamp(milliseconds: nextDeadlineMs) }

    // MARK: - Inputs

    /// A frame the classifier sent to the snooper (`.report` or `.control`), received on `port`
    /// in `vlan`. The whole Ethernet frame; VLAN tags, if still present, are skipped.
    public func receive(frame: UnsafeRawBufferPointer, port: Int, vlan: UInt16, now: Timestamp) -> SnoopingOutput {
        let t = now.milliseconds
        guard configuration.snooping, port >= 0, port < MulticastPortSet.portLimit, vlan < 4095 else {
            counters.ignored += 1
            return finish(now: t)
        }
        switch MembershipParser.parse(frame: frame) {
        case .failure(let reason):
            counters.malformed[reason.rawValue, default: 0] += 1
        case .success(let m):
            noteVLAN(vlan)
            handle(m, port: port, vlan: vlan, now: t)
        }
        return finish(now: t)
    }

    /// `receive` for a frame in an array (tests, tools).
    public func receive(frame: [UInt8], port: Int, vlan: UInt16, now: Timestamp) -> SnoopingOutput {
        frame.withUnsafeBytes { receive(frame: $0, port: port, vlan: vlan, now: now) }
    }

    /// Runs the timers due at `now`.
    public func tick(now: Timestamp) -> SnoopingOutput {
        let t = now.milliseconds
        if t >= nextDeadlineMs { runTimers(now: t) }
        return finish(now: t)
    }

    /// Sets a port's flags (a port not set has the defaults).
    public func setPort(_ port: Int, flags: MulticastPortFlags, now: Timestamp) -> SnoopingOutput {
        guard port >= 0 && port < MulticastPortSet.portLimit else { return SnoopingOutput() }
        portFlags[port] = flags
        routersDirty = true
        if flags.router == .disabled {
            for v in Array(learnedRouters.keys) { learnedRouters[v]?[port] = nil }
        }
        return finish(now: now.milliseconds)
    }

    /// A port left the bridge: it leaves every group and router set, its flags are forgotten.
    public func removePort(_ port: Int, now: Timestamp) -> SnoopingOutput {
        portFlags[port] = nil
        routersDirty = true
        for v in Array(learnedRouters.keys) { learnedRouters[v]?[port] = nil }
        for key in Array(groups.keys) where groups[key]?[port] != nil {
            removeMembership(key, port: port, reason: .portRemoved)
        }
        for k in Array(queriers.keys) where queriers[k]?.otherQuerierPort == port { queriers[k]?.otherQuerierPort = nil }
        return finish(now: now.milliseconds)
    }

    /// Applies a new configuration (a reload). Turning snooping off empties the table and
    /// floods everything; turning the querier on starts it (startup queries, querier delay).
    public func reconfigure(_ new: MulticastSnoopingConfiguration, now: Timestamp) throws(SnoopingConfigurationError) -> SnoopingOutput {
        try new.validate()
        let old = configuration
        configuration = new
        let t = now.milliseconds
        if !new.snooping {
            for key in Array(groups.keys) {
                for port in groups[key].map({ Array($0.keys) }) ?? [] { removeMembership(key, port: port, reason: .leave) }
            }
            learnedRouters = [:]
            routersDirty = true
            for k in Array(queriers.keys) {
                queriers[k] = QuerierState(published: queriers[k]?.published ?? false)
            }
        } else if !old.snooping || old.querier != new.querier || old.querierVLANs != new.querierVLANs
                    || old.querierIPv6 != new.querierIPv6 || old.querierIPv6PerVLAN != new.querierIPv6PerVLAN {
            startQuerier(now: t)
        }
        return finish(now: t)
    }

    // MARK: - Messages

    func handle(_ m: ParsedMembership, port: Int, vlan: UInt16, now: UInt64) {
        let six = m.isIPv6
        switch m.message {
        case .query(let q):
            if six { counters.mldQueriesReceived += 1 } else { counters.igmpQueriesReceived += 1 }
            handleQuery(q, source: m.source, port: port, vlan: vlan, ipv6: six, now: now)
        case .report(let version, let group):
            switch (six, version) {
            case (false, 1): counters.igmpv1Reports += 1
            case (false, _): counters.igmpv2Reports += 1
            default: counters.mldv1Reports += 1
            }
            join(GroupKey(vlan: vlan, group: group), port: port, now: now)
        case .recordReport(_, let records):
            if six { counters.mldv2Reports += 1 } else { counters.igmpv3Reports += 1 }
            for r in records {
                let key = GroupKey(vlan: vlan, group: r.group)
                if r.isLeave { leave(key, port: port, now: now) } else { join(key, port: port, now: now) }
            }
        case .leave(let group):
            leave(GroupKey(vlan: vlan, group: group), port: port, now: now)
        case .routerPresence:
            counters.routerMessages += 1
            markRouter(port: port, vlan: vlan, now: now)
        case .ignored:
            counters.ignored += 1
        }
    }

    func join(_ key: GroupKey, port: Int, now: UInt64) {
        guard !key.group.isLinkLocal else { return }
        let expires = now &+ milliseconds(configuration.membershipInterval)
        if var members = groups[key] {
            let isNew = members[port] == nil
            members[port] = Membership(expires: expires)
            groups[key] = members
            if isNew {
                publish(key)
                output.events.append(.joined(vlan: key.vlan, group: key.group, port: port))
            }
            schedule(expires)
            return
        }
        do {
            try table.setMembers(vlan: key.vlan, group: key.group, MulticastPortSet([port]))
        } catch {
            counters.joinsRefusedTableFull += 1
            if !fullReported {
                fullReported = true
                output.events.append(.tableFull(limit: table.maxGroups))
            }
            return
        }
        output.tableChanges += 1
        groups[key] = [port: Membership(expires: expires)]
        output.events.append(.joined(vlan: key.vlan, group: key.group, port: port))
        schedule(expires)
    }

    func leave(_ key: GroupKey, port: Int, now: UInt64) {
        counters.leaves += 1
        guard var m = groups[key]?[port] else { return }
        if portFlags[port]?.fastLeave == true {
            counters.fastLeaves += 1
            removeMembership(key, port: port, reason: .fastLeave)
            return
        }
        let fk = FamilyKey(vlan: key.vlan, ipv6: key.group.isIPv6)
        if otherQuerierPresent(fk, now: now) { return }
        let lastMember = UInt64(configuration.lastMemberCount) &* milliseconds(configuration.lastMemberInterval)
        if ownQuerierEnabled(fk) {
            sendQuery(fk, group: key.group, port: port, maxResponse: milliseconds(configuration.lastMemberInterval))
            m.lastMemberQueriesLeft = configuration.lastMemberCount - 1
            m.nextLastMemberQuery = now &+ milliseconds(configuration.lastMemberInterval)
            if m.lastMemberQueriesLeft > 0 { schedule(m.nextLastMemberQuery) }
        }
        if m.expires > now &+ lastMember { m.expires = now &+ lastMember }
        schedule(m.expires)
        groups[key]?[port] = m
    }

    func handleQuery(_ q: MembershipQuery, source: IPAddress, port: Int, vlan: UInt16, ipv6: Bool, now: UInt64) {
        let fk = FamilyKey(vlan: vlan, ipv6: ipv6)
        var state = queriers[fk] ?? QuerierState()
        let ours = ipv6 ? configuration.querierAddressIPv6(vlan: vlan) : configuration.querierAddressIPv4(vlan: vlan)
        // We win the election against a higher address only with an address of our own.
        var weWin = false
        if let ours, ownQuerierEnabled(fk), !ours.isUnspecified, !source.isUnspecified { weWin = ours < source }
        if !weWin {
            let wasPresent = state.otherQuerierExpires.map { $0 > now } ?? false
            if !wasPresent {
                // br_multicast_update_query_timer: hosts get one response time to answer the new querier.
                state.delayUntil = now &+ q.maxResponseMilliseconds
                schedule(now &+ q.maxResponseMilliseconds)
            }
            if state.otherQuerier != source || !wasPresent {
                output.events.append(.otherQuerier(vlan: vlan, ipv6: ipv6, address: source))
            }
            // A 0.0.0.0 (proxy) query keeps the querier present but does not replace its address.
            if !source.isUnspecified || !wasPresent {
                state.otherQuerier = source
                state.otherQuerierPort = port
            }
            let expires = now &+ milliseconds(configuration.otherQuerierPresentInterval)
            state.otherQuerierExpires = expires
            schedule(expires)
            queriers[fk] = state
        }
        // RFC 4541 2.1.1: a port where queries are heard leads to a router (also one that loses
        // the election to us); queries from 0.0.0.0 are proxies, not routers.
        if !source.isUnspecified { markRouter(port: port, vlan: vlan, now: now) }
        if let group = q.group {
            let key = GroupKey(vlan: vlan, group: group)
            let limit = now &+ UInt64(configuration.lastMemberCount) &* q.maxResponseMilliseconds
            if var members = groups[key] {
                for (p, var m) in members where m.expires > limit {
                    m.expires = limit
                    members[p] = m
                }
                groups[key] = members
                schedule(limit)
            }
        }
    }

    func markRouter(port: Int, vlan: UInt16, now: UInt64) {
        let mode = portFlags[port]?.router ?? .learned
        guard mode == .learned else { return }
        let expires = now &+ milliseconds(configuration.otherQuerierPresentInterval)
        if learnedRouters[vlan]?[port] == nil {
            output.events.append(.routerPortAdded(vlan: vlan, port: port))
            routersDirty = true
        }
        learnedRouters[vlan, default: [:]][port] = expires
        schedule(expires)
    }

    // MARK: - Timers

    func runTimers(now: UInt64) {
        nextDeadlineMs = .max
        for fk in queriers.keys.sorted() {
            guard var s = queriers[fk] else { continue }
            if let e = s.otherQuerierExpires, e <= now {
                s.otherQuerierExpires = nil
                s.otherQuerier = nil
                s.otherQuerierPort = nil
                output.events.append(.otherQuerier(vlan: fk.vlan, ipv6: fk.ipv6, address: nil))
                if s.nextOwnQuery != nil { s.nextOwnQuery = now }  // our querier takes over at once
            }
            if let d = s.delayUntil, d <= now { s.delayUntil = nil }
            queriers[fk] = s
            if let next = s.nextOwnQuery, next <= now {
                if !otherQuerierPresent(fk, now: now) {
                    sendQuery(fk, group: nil, port: nil, maxResponse: milliseconds(configuration.queryResponseInterval))
                    queriers[fk]?.startupSent += 1
                }
                let startup = (queriers[fk]?.startupSent ?? 0) < configuration.startupQueryCount
                queriers[fk]?.nextOwnQuery = now &+ milliseconds(startup ? configuration.startupQueryInterval : configuration.queryInterval)
            }
            if let s = queriers[fk] {
                for t in [s.otherQuerierExpires, s.delayUntil, s.nextOwnQuery].compactMap({ $0 }) { schedule(t) }
            }
        }
        for key in Array(groups.keys) {
            guard var members = groups[key] else { continue }
            for (port, var m) in members {
                if m.expires <= now {
                    counters.membershipsExpired += 1
                    removeMembership(key, port: port, reason: .timeout)
                    members[port] = nil
                    continue
                }
                if m.lastMemberQueriesLeft > 0 && m.nextLastMemberQuery <= now {
                    let fk = FamilyKey(vlan: key.vlan, ipv6: key.group.isIPv6)
                    if ownQuerierEnabled(fk) && !otherQuerierPresent(fk, now: now) {
                        sendQuery(fk, group: key.group, port: port, maxResponse: milliseconds(configuration.lastMemberInterval))
                    }
                    m.lastMemberQueriesLeft -= 1
                    m.nextLastMemberQuery = now &+ milliseconds(configuration.lastMemberInterval)
                    members[port] = m
                }
                schedule(m.expires)
                if m.lastMemberQueriesLeft > 0 { schedule(m.nextLastMemberQuery) }
            }
            if groups[key] != nil { groups[key] = members.isEmpty ? nil : members }
        }
        for vlan in Array(learnedRouters.keys) {
            guard var ports = learnedRouters[vlan] else { continue }
            for (port, expires) in ports {
                if expires <= now {
                    ports[port] = nil
                    routersDirty = true
                    output.events.append(.routerPortExpired(vlan: vlan, port: port))
                } else {
                    schedule(expires)
                }
            }
            learnedRouters[vlan] = ports.isEmpty ? nil : ports
        }
    }

    @inline(__always) func schedule(_ t: UInt64) { if t < nextDeadlineMs { nextDeadlineMs = t } }

    // MARK: - Querier

    func ownQuerierEnabled(_ fk: FamilyKey) -> Bool {
        guard configuration.snooping && configuration.querier && configuration.querierVLANs.contains(fk.vlan) else { return false }
        return !fk.ipv6 || configuration.querierAddressIPv6(vlan: fk.vlan) != nil
    }

    func otherQuerierPresent(_ fk: FamilyKey, now: UInt64) -> Bool {
        queriers[fk]?.otherQuerierExpires.map { $0 > now } ?? false
    }

    /// (Re)starts our querier where it is enabled, stops it elsewhere (br_multicast_set_querier:
    /// startup queries from now, and a querier delay of one query response interval unless
    /// another querier is already present).
    func startQuerier(now: UInt64) {
        for v in configuration.querierVLANs { noteVLAN(v) }
        var keys = Set(queriers.keys)
        for v in configuration.querierVLANs { keys.insert(FamilyKey(vlan: v, ipv6: false)); keys.insert(FamilyKey(vlan: v, ipv6: true)) }
        for fk in keys {
            var s = queriers[fk] ?? QuerierState()
            if ownQuerierEnabled(fk) {
                if s.nextOwnQuery == nil {
                    s.nextOwnQuery = now
                    s.startupSent = 0
                    if !otherQuerierPresent(fk, now: now) {
                        let delay = now &+ milliseconds(configuration.queryResponseInterval)
                        s.delayUntil = delay
                        schedule(delay)
                    }
                }
                schedule(now)
            } else {
                s.nextOwnQuery = nil
            }
            queriers[fk] = s
        }
    }

    func sendQuery(_ fk: FamilyKey, group: MulticastGroup?, port: Int?, maxResponse: UInt64) {
        let c = configuration
        let frame: [UInt8]
        if fk.ipv6 {
            guard let source = c.querierAddressIPv6(vlan: fk.vlan) else { return }
            frame = QueryEncoder.mldQuery(
                version: c.mldVersion, source: c.bridgeMAC, sourceAddress: source, group: group,
                maxResponseMilliseconds: maxResponse, robustness: c.robustness,
                queryIntervalSeconds: milliseconds(c.queryInterval) / 1000)
            counters.mldQueriesSent += 1
        } else {
            frame = QueryEncoder.igmpQuery(
                version: c.igmpVersion, source: c.bridgeMAC, sourceAddress: c.querierAddressIPv4(vlan: fk.vlan), group: group,
                maxResponseMilliseconds: maxResponse, robustness: c.robustness,
                queryIntervalSeconds: milliseconds(c.queryInterval) / 1000)
            counters.igmpQueriesSent += 1
        }
        output.transmissions.append(QueryTransmission(vlan: fk.vlan, port: port, frame: frame))
    }

    // MARK: - Publishing to the table

    func removeMembership(_ key: GroupKey, port: Int, reason: SnoopingEvent.RemovalReason) {
        guard groups[key]?[port] != nil else { return }
        groups[key]?[port] = nil
        if groups[key]?.isEmpty ?? true { groups[key] = nil; fullReported = false }
        publish(key)
        output.events.append(.left(vlan: key.vlan, group: key.group, port: port, reason: reason))
    }

    func publish(_ key: GroupKey) {
        let set = MulticastPortSet(groups[key].map { Array($0.keys) } ?? [])
        do {
            try table.setMembers(vlan: key.vlan, group: key.group, set)
        } catch {
            // An existing entry never needs room; a new one was inserted by `join`.
        }
        output.tableChanges += 1
    }

    func noteVLAN(_ vlan: UInt16) {
        if vlan < 4095 && vlansSeen.insert(vlan).inserted { routersDirty = true }
    }

    /// Publishes router sets and snooping-active flags, schedules, and hands the output over.
    func finish(now: UInt64) -> SnoopingOutput {
        if routersDirty {
            routersDirty = false
            let permanent = MulticastPortSet(portFlags.filter { $0.value.router == .permanent }.keys)
            for vlan in vlansSeen {
                var set = permanent
                for port in (learnedRouters[vlan] ?? [:]).keys where portFlags[port]?.router ?? .learned == .learned { set.insert(port) }
                if publishedRouters[vlan] ?? MulticastPortSet() != set {
                    table.setRouterPorts(vlan: vlan, set)
                    publishedRouters[vlan] = set
                }
            }
        }
        for fk in Array(queriers.keys) {
            guard let s = queriers[fk] else { continue }
            let delayed = s.delayUntil.map { $0 > now } ?? false
            let active = configuration.snooping && !delayed && (ownQuerierEnabled(fk) || otherQuerierPresent(fk, now: now))
            if active != s.published {
                table.setSnoopingActive(vlan: fk.vlan, ipv6: fk.ipv6, active)
                queriers[fk]?.published = active
                output.events.append(.snoopingActive(vlan: fk.vlan, ipv6: fk.ipv6, active: active))
            }
        }
        let out = output
        output = SnoopingOutput()
        return out
    }
}
