// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge mdb show`: the snooper's state as a Codable value (for `--json` and the control
// protocol) and its text in bridge(8)'s format:
//   dev br0 port veth2 grp 239.1.1.1 temp vid 1
//   router ports on br0: veth1
// followed by the querier state per VLAN and family, and (with `details`) timers and counters.
// Entries learned by snooping are `temp`, as the kernel prints them; `vid` is shown when the
// VLAN is not 0 (VLAN filtering off).

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// The snooper's state for `mdb show`.
public struct MDBStatus: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var port: String
        public var portIndex: Int
        public var group: String
        public var vlan: UInt16
        /// "temp" (learned by snooping).
        public var state: String
        /// Seconds until the membership expires.
        public var timerSeconds: Double

        public init(port: String, portIndex: Int, group: String, vlan: UInt16, state: String, timerSeconds: Double) {
            self.port = port
            self.portIndex = portIndex
            self.group = group
            self.vlan = vlan
            self.state = state
            self.timerSeconds = timerSeconds
        }
    }
    public struct RouterPort: Codable, Sendable, Equatable {
        public var port: String
        public var portIndex: Int
        public var vlan: UInt16
        /// mcast_router 2.
        public var permanent: Bool
        /// Seconds until a learned router port expires (nil: permanent).
        public var timerSeconds: Double?
    }
    public struct Querier: Codable, Sendable, Equatable {
        public var vlan: UInt16
        /// "ipv4" (IGMP) or "ipv6" (MLD).
        public var family: String
        /// Our querier runs in this VLAN for this family.
        public var ownQuerierEnabled: Bool
        /// The querier in charge: another's address, "self", or nil (none: flooding).
        public var querier: String?
        public var otherQuerierPort: String?
        public var otherQuerierTimerSeconds: Double?
        /// Seconds to our next general query (nil: ours is not sending).
        public var nextQuerySeconds: Double?
        /// Membership is known: the engine restricts delivery.
        public var snoopingActive: Bool
    }

    public var bridge: String
    public var snooping: Bool
    public var querier: Bool
    public var entries: [Entry]
    public var routerPorts: [RouterPort]
    public var queriers: [Querier]
    public var counters: MulticastSnoopingCounters
    public var table: MulticastTableStatistics

    public init(bridge: String, snooping: Bool, querier: Bool, entries: [Entry] = [], routerPorts: [RouterPort] = [],
                queriers: [Querier] = [], counters: MulticastSnoopingCounters = .init(), table: MulticastTableStatistics = .init()) {
        self.bridge = bridge
        self.snooping = snooping
        self.querier = querier
        self.entries = entries
        self.routerPorts = routerPorts
        self.queriers = queriers
        self.counters = counters
        self.table = table
    }
}

extension MulticastSnooper {
    /// The state at `now`; `portName` names port indices (the wiring's port list).
    public func status(now: Timestamp, bridge: String, portName: (Int) -> String) -> MDBStatus {
        let t = now.milliseconds
        func seconds(_ until: UInt64) -> Double { until > t ? Double(until - t) / 1000 : 0 }
        var rows: [(key: GroupKey, port: Int, expires: UInt64)] = []
        for (key, members) in groups {
            for (port, m) in members { rows.append((key, port, m.expires)) }
        }
        rows.sort { ($0.key.vlan, $0.key.group, $0.port) < ($1.key.vlan, $1.key.group, $1.port) }
        let entries = rows.map {
            MDBStatus.Entry(
                port: portName($0.port), portIndex: $0.port, group: $0.key.group.description, vlan: $0.key.vlan,
                state: "temp", timerSeconds: seconds($0.expires))
        }
        var routers: [MDBStatus.RouterPort] = []
        let permanent = portFlags.filter { $0.value.router == .permanent }.keys.sorted()
        for vlan in vlansSeen.sorted() {
            for p in permanent {
                routers.append(MDBStatus.RouterPort(port: portName(p), portIndex: p, vlan: vlan, permanent: true, timerSeconds: nil))
            }
            for (p, e) in (learnedRouters[vlan] ?? [:]).sorted(by: { $0.key < $1.key }) where !permanent.contains(p) {
                routers.append(MDBStatus.RouterPort(port: portName(p), portIndex: p, vlan: vlan, permanent: false, timerSeconds: seconds(e)))
            }
        }
        var queriersOut: [MDBStatus.Querier] = []
        for fk in queriers.keys.sorted() {
            guard let s = queriers[fk] else { continue }
            let own = ownQuerierEnabled(fk)
            let other = otherQuerierPresent(fk, now: t)
            var who: String? = nil
            if other, let a = s.otherQuerier {
                who = a.description
            } else if own {
                let a = fk.ipv6 ? configuration.querierAddressIPv6(vlan: fk.vlan) : configuration.querierAddressIPv4(vlan: fk.vlan)
                who = "self" + (a.map { " \($0)" } ?? "")
            }
            queriersOut.append(MDBStatus.Querier(
                vlan: fk.vlan, family: fk.ipv6 ? "ipv6" : "ipv4", ownQuerierEnabled: own, querier: who,
                otherQuerierPort: other ? s.otherQuerierPort.map(portName) : nil,
                otherQuerierTimerSeconds: other ? s.otherQuerierExpires.map(seconds) : nil,
                nextQuerySeconds: own && !other ? s.nextOwnQuery.map(seconds) : nil,
                snoopingActive: table.isSnoopingActive(vlan: fk.vlan, ipv6: fk.ipv6)))
        }
        return MDBStatus(
            bridge: bridge, snooping: configuration.snooping, querier: configuration.querier,
            entries: entries, routerPorts: routers, queriers: queriersOut, counters: counters, table: table.statistics)
    }
}

/// The text of `swbridge mdb show`.
public enum MDBFormatter {
    /// bridge(8)-style lines; `details` adds timers (as `bridge -s mdb show`) and counters.
    public static func lines(_ s: MDBStatus, details: Bool = false) -> [String] {
        func vid(_ v: UInt16) -> String { v == 0 ? "" : " vid \(v)" }
        func secs(_ x: Double) -> String {
            let hundredths = Int((x * 100).rounded())
            let frac = hundredths % 100
            return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
        }
        var out: [String] = []
        if !s.snooping { out.append("multicast snooping is off on \(s.bridge): all multicast is flooded") }
        for e in s.entries {
            out.append("dev \(s.bridge) port \(e.port) grp \(e.group) \(e.state)\(vid(e.vlan))" + (details ? " \(secs(e.timerSeconds))" : ""))
        }
        var byVLAN: [UInt16: [MDBStatus.RouterPort]] = [:]
        for r in s.routerPorts { byVLAN[r.vlan, default: []].append(r) }
        for vlan in byVLAN.keys.sorted() {
            let names = (byVLAN[vlan] ?? []).map { r in
                r.port + (details ? (r.permanent ? " permanent" : " \(secs(r.timerSeconds ?? 0)) temp") : "")
            }
            out.append("router ports on \(s.bridge)\(vid(vlan)): " + names.joined(separator: " "))
        }
        for q in s.queriers {
            var line = "querier on \(s.bridge)\(vid(q.vlan)) \(q.family): "
            if let who = q.querier {
                line += who
                if let port = q.otherQuerierPort { line += " on port \(port)" }
                if details, let t = q.otherQuerierTimerSeconds { line += ", present for \(secs(t)) s more" }
                if details, let t = q.nextQuerySeconds { line += ", next query in \(secs(t)) s" }
            } else {
                line += "none"
            }
            line += q.snoopingActive ? " (snooping active)" : " (flooding all multicast)"
            out.append(line)
        }
        if details {
            let c = s.counters
            out.append("reports: igmpv1 \(c.igmpv1Reports) igmpv2 \(c.igmpv2Reports) igmpv3 \(c.igmpv3Reports) mldv1 \(c.mldv1Reports) mldv2 \(c.mldv2Reports)")
            out.append("leaves \(c.leaves) fast-leaves \(c.fastLeaves) expired \(c.membershipsExpired)")
            out.append("queries: received igmp \(c.igmpQueriesReceived) mld \(c.mldQueriesReceived), sent igmp \(c.igmpQueriesSent) mld \(c.mldQueriesSent)")
            out.append("router messages \(c.routerMessages) ignored \(c.ignored)")
            out.append("groups \(s.table.groups) (refused, table full: \(s.table.refusedFull))")
            for r in MalformedReason.allCases {
                if let n = c.malformed[r.rawValue], n > 0 { out.append("malformed \(r.rawValue) \(n): \(r.description)") }
            }
        }
        return out
    }
}
