// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Multicast snooping end to end (issue 14): swbridge between host namespaces whose own kernels
// join and leave groups (IGMPv2/v3, MLDv1/v2 forced per host), traffic counted on the hosts'
// interfaces (MulticastSupport.swift). Every wait is for a state — `mdb show` listing or
// dropping a membership, a counter's marker — with a generous deadline; the intervals are
// shortened with the `--mcast-*` options so the timers run in seconds. Time bounds (leave
// within the last-member time, expiry after the membership interval) are asserted in the
// serial pass (SWBRIDGE_TIMING_BOUNDS=1); the lower bound of expiry always (a slow machine
// makes it later, never earlier).

import Foundation
import LabKit
import Testing

@Suite("Multicast snooping", .serialized)
struct MulticastTests {
    static let port = 5000
    /// Query interval 2 s, response 1 s: membership interval 2 × 2 + 1 = 5 s. Last member:
    /// 2 queries 0.3 s apart.
    static let fastQuerier = [
        "--mcast-querier", "--mcast-query-interval", "2", "--mcast-query-response-interval", "1",
        "--mcast-last-member-interval", "0.3", "--mcast-last-member-count", "2",
    ]

    struct Case: Sendable, CustomStringConvertible {
        var ipv6: Bool
        var version: Int
        var description: String { ipv6 ? "MLDv\(version)" : "IGMPv\(version)" }
        var groups: (String, String, String) { ipv6 ? ("ff0e::1:1", "ff0e::1:2", "ff0e::1:3") : ("239.1.1.1", "239.2.2.2", "239.3.3.3") }
        var versionOption: [String] { ipv6 ? ["--mcast-mld-version", "\(version)"] : ["--mcast-igmp-version", "\(version)"] }
    }

    /// (port, group) memberships `mdb show --json` lists.
    static func memberships(_ b: SwbridgeProcess, _ lab: Lab) throws -> Set<String> {
        guard let obj = try b.json(["mdb", "show"], lab: lab) as? [String: Any] else { throw HarnessError("mdb show --json: unexpected answer") }
        return try memberships(in: obj)
    }

    /// "PORT GROUP" of every entry of an `mdb show --json` answer.
    static func memberships(in obj: [String: Any]) throws -> Set<String> {
        guard let entries = obj["entries"] as? [[String: Any]] else { throw HarnessError("mdb show --json: no entries") }
        return Set(entries.compactMap { e in
            guard let p = e["port"] as? String, let g = e["group"] as? String else { return nil }
            return "\(p) \(g)"
        })
    }

    /// The `multicast` section of `stats --json`.
    static func multicastStats(_ b: SwbridgeProcess, _ lab: Lab) throws -> [String: Any] {
        guard let obj = try b.json(["stats"], lab: lab) as? [String: Any], let m = obj["multicast"] as? [String: Any] else {
            throw HarnessError("stats --json has no multicast section")
        }
        return m
    }

    static func counter(_ m: [String: Any], _ key: String) -> Int { (m["counters"] as? [String: Any])?[key] as? Int ?? 0 }

    /// Waits until `mdb show` lists every one of `wanted` ("PORT GROUP") and, with `active`,
    /// until snooping is active for the groups' families: a querier's memberships can be listed
    /// before it trusts them (its start-up delay), and until then traffic is flooded.
    static func waitForMemberships(_ wanted: Set<String>, _ b: SwbridgeProcess, _ lab: Lab, active: Bool = true,
                                   timeout: Duration = .seconds(30)) throws {
        let families = Set(wanted.map { $0.contains(":") ? "ipv6" : "ipv4" })
        var seen: Set<String> = []
        var activeFamilies: Set<String> = []
        let ok = try waitUntil(timeout: timeout, interval: .milliseconds(100)) {
            guard let obj = try b.json(["mdb", "show"], lab: lab) as? [String: Any] else { return false }
            seen = try memberships(in: obj)
            activeFamilies = Set(((obj["queriers"] as? [[String: Any]]) ?? []).compactMap { q in
                q["snoopingActive"] as? Bool == true ? q["family"] as? String : nil
            })
            return wanted.isSubset(of: seen) && (!active || families.isSubset(of: activeFamilies))
        }
        guard ok else {
            throw HarnessError("mdb show lists \(seen.sorted()), snooping active for \(activeFamilies.sorted()); wanted \(wanted.sorted())")
        }
    }

    /// Sends `count` datagrams to each group from host 0 and returns what hosts 1 and 2 saw.
    static func deliver(_ topo: SwbridgeLab, groups: [String], count: Int) throws -> [InterfaceCounts] {
        let counters = try [1, 2].map { try topo.lab.startCounter(in: topo.hosts[$0], port: port) }
        try topo.lab.sendMulticast(from: topo.hosts[0], local: SwbridgeLab.address(0), groups: groups, count: count, port: port)
        let results = try counters.map { try topo.lab.counterResult($0) }
        for r in results { #expect(r.marker, "the marker datagram never arrived") }
        return results
    }

    @Test("With a querier, a group's traffic reaches its members only", .privileged,
          arguments: [Case(ipv6: false, version: 2), Case(ipv6: false, version: 3), Case(ipv6: true, version: 1), Case(ipv6: true, version: 2)])
    func querierDeliversToMembersOnly(_ c: Case) throws {
        try withSwbridgeLab(hosts: 3) { topo in
            for h in topo.hosts {
                if c.ipv6 { try topo.lab.enableIPv6(in: h) }
                try topo.lab.forceVersion(in: h, ipv6: c.ipv6, c.version)
            }
            let bridge = try topo.start(Self.fastQuerier + c.versionOption)
            let (g1, g2, _) = c.groups
            let r2 = try topo.lab.joinGroup(g1, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port)
            let r3 = try topo.lab.joinGroup(g2, in: topo.hosts[2], local: SwbridgeLab.address(2), port: Self.port)
            try Self.waitForMemberships(["\(topo.ports[1]) \(g1)", "\(topo.ports[2]) \(g2)"], bridge, topo.lab)

            let seen = try Self.deliver(topo, groups: [g1], count: 1000)
            #expect(seen[0].count(g1) == 1000, "h2's interface saw \(seen[0].counts)")
            #expect(seen[1].count(g1) == 0, "h3's interface saw \(seen[1].counts)")
            // And h2's application got them all.
            #expect(waitUntil(timeout: .seconds(20)) { r2.standardOutput.contains("count 1000\n") }, "h2 received: \(r2.standardOutput.suffix(40))")
            #expect(!r3.standardOutput.contains("count"))

            // The reports were of the forced version; delivery was by snooping.
            let m = try Self.multicastStats(bridge, topo.lab)
            let key = c.ipv6 ? "mldv\(c.version)Reports" : "igmpv\(c.version)Reports"
            #expect(Self.counter(m, key) > 0, "no \(key) in \(m)")
            let sent = Self.counter(m, c.ipv6 ? "mldQueriesSent" : "igmpQueriesSent")
            #expect(sent > 0, "our querier sent no queries")
            let text = try bridge.mustControl(["mdb", "show"], lab: topo.lab)
            #expect(text.contains("dev \(topo.name) port \(topo.ports[1]) grp \(g1) temp"), "\(text)")
            let stats = try bridge.mustControl(["stats"], lab: topo.lab)
            #expect(stats.contains("multicast:"))
        }
    }

    @Test("A leave stops the traffic to the leaving port within the last-member time", .privileged)
    func leaveStopsTraffic() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            // IGMPv2 hosts: a leave message. A v2 host sends its leave only if it was the last
            // to report (RFC 2236 6's flag, cleared when it hears another member's report), so
            // h2 is g's only member; h3 is in another group.
            for h in topo.hosts { try topo.lab.forceVersion(in: h, ipv6: false, 2) }
            let bridge = try topo.start(Self.fastQuerier)
            let (g, other) = ("239.1.1.1", "239.2.2.2")
            let r2 = try topo.lab.joinGroup(g, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port)
            let r3 = try topo.lab.joinGroup(other, in: topo.hosts[2], local: SwbridgeLab.address(2), port: Self.port)
            try Self.waitForMemberships(["\(topo.ports[1]) \(g)", "\(topo.ports[2]) \(other)"], bridge, topo.lab)
            let before = try Self.deliver(topo, groups: [g], count: 200)
            #expect(before[0].count(g) == 200 && before[1].count(g) == 0, "\(before.map(\.counts))")

            // h2's socket closes: its kernel sends the leave, our querier asks twice, 0.3 s apart.
            let start = ContinuousClock.now
            r2.stop()
            let gone = try waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
                !(try Self.memberships(bridge, topo.lab)).contains("\(topo.ports[1]) \(g)")
            }
            #expect(gone, "h2's membership is still listed after its leave")
            TimingBounds.expect(ContinuousClock.now - start, atMost: .milliseconds(2_600), "leave to removal (last member time 0.6 s)")
            let m = try Self.multicastStats(bridge, topo.lab)
            #expect(Self.counter(m, "leaves") > 0, "no leave snooped: \(m)")

            // g has no member now: it goes to the router ports only (none), not to h2's port.
            let after = try Self.deliver(topo, groups: [g, other], count: 200)
            #expect(after[0].count(g) == 0, "h2's port still gets the group: \(after[0].counts)")
            #expect(after[1].count(g) == 0 && after[1].count(other) == 200, "h3: \(after[1].counts)")
            _ = r3
        }
    }

    @Test("A host that vanishes silently times out after the membership interval", .privileged)
    func silentHostTimesOut() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let bridge = try topo.start(Self.fastQuerier)
            let g = "239.1.1.1"
            let r3 = try topo.lab.joinGroup(g, in: topo.hosts[2], local: SwbridgeLab.address(2), port: Self.port)
            // One report from h2, whose kernel never joined: it answers no query, as a host that
            // vanished. The clock starts before it is sent: the membership cannot end earlier
            // than the membership interval after `start`, however slow the machine.
            let start = ContinuousClock.now
            try topo.lab.mustRun(["python3", "-c", MulticastScripts.hostile, "eth0", "report", g], in: topo.hosts[1])
            try Self.waitForMemberships(["\(topo.ports[1]) \(g)", "\(topo.ports[2]) \(g)"], bridge, topo.lab)
            let gone = try waitUntil(timeout: .seconds(40), interval: .milliseconds(100)) {
                !(try Self.memberships(bridge, topo.lab)).contains("\(topo.ports[1]) \(g)")
            }
            let elapsed = ContinuousClock.now - start
            #expect(gone, "h2's membership never expired")
            // Membership interval: 2 × 2 s + 1 s = 5 s from the report.
            #expect(elapsed >= .milliseconds(4_950), "expired after \(elapsed), before the membership interval")
            TimingBounds.expect(elapsed, atMost: .milliseconds(7_000), "silent member expiry (membership interval 5 s)")
            #expect(try Self.memberships(bridge, topo.lab).contains("\(topo.ports[2]) \(g)"), "h3, which answers queries, lost its membership")

            let after = try Self.deliver(topo, groups: [g], count: 200)
            #expect(after[0].count(g) == 0, "h2's port still gets the group: \(after[0].counts)")
            #expect(after[1].count(g) == 200)
            #expect(Self.counter(try Self.multicastStats(bridge, topo.lab), "membershipsExpired") > 0)
            _ = r3
        }
    }

    @Test("Without any querier, multicast is flooded to everyone", .privileged)
    func noQuerierFloods() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let bridge = try topo.start()  // snooping on (the default), no querier
            let g = "239.1.1.1"
            let r2 = try topo.lab.joinGroup(g, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port)
            // The report was snooped (membership known), but without a querier it cannot be trusted.
            try Self.waitForMemberships(["\(topo.ports[1]) \(g)"], bridge, topo.lab, active: false)
            let seen = try Self.deliver(topo, groups: [g], count: 500)
            #expect(seen[0].count(g) == 500)
            #expect(seen[1].count(g) == 500, "h3 (not a member) must get the flood: \(seen[1].counts)")
            let text = try bridge.mustControl(["mdb", "show"], lab: topo.lab)
            #expect(!text.contains("snooping active"), "\(text)")
            _ = r2
        }
    }

    @Test("swbridge delivers to the same ports as a Linux bridge with mcast_snooping 1 mcast_querier 1", .privileged)
    func sameDeliveryAsLinuxBridge() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let (g1, g2, g3) = ("239.1.1.1", "239.2.2.2", "239.3.3.3")  // g3: nobody's
            // swbridge.
            let bridge = try topo.start(Self.fastQuerier)
            var joined = [try topo.lab.joinGroup(g1, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port),
                          try topo.lab.joinGroup(g2, in: topo.hosts[2], local: SwbridgeLab.address(2), port: Self.port)]
            try Self.waitForMemberships(["\(topo.ports[1]) \(g1)", "\(topo.ports[2]) \(g2)"], bridge, topo.lab)
            let ours = try Self.deliver(topo, groups: [g1, g2, g3], count: 100)

            // The kernel's bridge, in namespaces of its own, same shape.
            let lab = topo.lab
            let kbr = try lab.addNamespace("kbr")
            var khosts: [String] = []
            var kports: [String] = []
            for i in 0..<3 {
                let h = try lab.addNamespace("k\(i + 1)")
                let p = try lab.interfaceName("k\(i + 1)")
                try lab.addVethPair("eth0", in: h, p, in: kbr)
                try lab.setAddress("198.19.0.\(i + 1)/24", on: "eth0", in: h)
                khosts.append(h)
                kports.append(p)
            }
            // Timers in centiseconds (ip-link(8)): the same 2 s / 1 s as swbridge's.
            try lab.mustRun(["ip", "link", "add", "kbr0", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "1",
                             "mcast_query_interval", "200", "mcast_query_response_interval", "100"], in: kbr)
            for p in kports { try lab.mustRun(["ip", "link", "set", p, "master", "kbr0"], in: kbr) }
            try lab.mustRun(["ip", "link", "set", "kbr0", "up"], in: kbr)
            joined.append(try lab.joinGroup(g1, in: khosts[1], local: "198.19.0.2", port: Self.port))
            joined.append(try lab.joinGroup(g2, in: khosts[2], local: "198.19.0.3", port: Self.port))
            let listed = try waitUntil(timeout: .seconds(30), interval: .milliseconds(100)) {
                let out = try lab.mustRun(["bridge", "mdb", "show"], in: kbr).standardOutput
                return out.contains("port \(kports[1]) grp \(g1)") && out.contains("port \(kports[2]) grp \(g2)")
            }
            #expect(listed, "the Linux bridge never listed the memberships")
            func kernelDeliver(count: Int) throws -> [InterfaceCounts] {
                let counters = try [1, 2].map { try lab.startCounter(in: khosts[$0], port: Self.port) }
                try lab.sendMulticast(from: khosts[0], local: "198.19.0.1", groups: [g1, g2, g3], count: count, port: Self.port)
                return try counters.map { try lab.counterResult($0) }
            }
            // The kernel floods everything for a query response interval after its querier
            // starts: wait (in rounds of 10 datagrams) until it restricts g1.
            var restricted = false
            _ = try waitUntil(timeout: .seconds(40), interval: .milliseconds(200)) {
                restricted = try kernelDeliver(count: 10)[1].count(g1) == 0
                return restricted
            }
            #expect(restricted, "the Linux bridge never stopped flooding g1 to h3")
            let theirs = try kernelDeliver(count: 100)

            func deliverySet(_ seen: [InterfaceCounts]) -> Set<String> {
                var s: Set<String> = []
                for (i, c) in seen.enumerated() {
                    for (g, n) in c.counts where n > 0 { s.insert("h\(i + 2) \(g)") }
                }
                return s
            }
            print("[multicast] swbridge \(ours.map(\.counts)); Linux bridge \(theirs.map(\.counts))")
            #expect(deliverySet(ours) == deliverySet(theirs))
            // Registered groups to their members only; the unregistered g3 to the router ports
            // (none here), as Linux does while a querier is present (mrouters_only).
            #expect(deliverySet(ours) == ["h2 \(g1)", "h3 \(g2)"])
            for c in ours { for (_, n) in c.counts { #expect(n == 100) } }
            _ = joined
        }
    }

    @Test("mcast_router and mcast_fast_leave set with link set", .privileged)
    func portFlags() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            for h in topo.hosts { try topo.lab.forceVersion(in: h, ipv6: false, 2) }
            let bridge = try topo.start(Self.fastQuerier)
            let g = "239.1.1.1"
            _ = try bridge.mustControl(["link", "set", "dev", topo.ports[2], "mcast_router", "2"], lab: topo.lab)
            _ = try bridge.mustControl(["link", "set", "dev", topo.ports[1], "mcast_fast_leave", "on"], lab: topo.lab)
            let routerListed = try waitUntil(timeout: .seconds(20), interval: .milliseconds(100)) {
                try bridge.mustControl(["mdb", "show"], lab: topo.lab).contains("router ports on \(topo.name): \(topo.ports[2])")
            }
            #expect(routerListed, "mcast_router 2 did not make \(topo.ports[2]) a router port")
            let r2 = try topo.lab.joinGroup(g, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port)
            try Self.waitForMemberships(["\(topo.ports[1]) \(g)"], bridge, topo.lab)
            // Members and the router port; an unregistered group to the router port only.
            let seen = try Self.deliver(topo, groups: [g, "239.3.3.3"], count: 100)
            #expect(seen[0].count(g) == 100 && seen[0].count("239.3.3.3") == 0, "h2: \(seen[0].counts)")
            #expect(seen[1].count(g) == 100 && seen[1].count("239.3.3.3") == 100, "h3 (router port): \(seen[1].counts)")
            // Fast leave: gone at the leave, no last-member queries.
            r2.stop()
            let gone = try waitUntil(timeout: .seconds(20), interval: .milliseconds(50)) {
                !(try Self.memberships(bridge, topo.lab)).contains("\(topo.ports[1]) \(g)")
            }
            #expect(gone)
            #expect(Self.counter(try Self.multicastStats(bridge, topo.lab), "fastLeaves") == 1)
            let bad = try bridge.control(["link", "set", "dev", topo.ports[1], "mcast_router", "5"], lab: topo.lab)
            #expect(bad.status != 0)
        }
    }

    @Test("--mcast-snooping off floods everything; bad --mcast-* values are usage errors", .privileged)
    func snoopingOffAndBadOptions() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            for bad in [["--mcast-igmp-version", "4"], ["--mcast-snooping", "maybe"], ["--mcast-query-interval", "2"],
                        ["--mcast-querier-ipv6", "2001:db8::1"]] {
                let r = try topo.lab.run([topo.binary, "run", "--name", topo.name, "--port", topo.ports[0]] + bad, in: topo.br)
                #expect(r.status == 64, "\(bad): exit \(r.status): \(r.standardError)")
                #expect(r.standardError.contains("multicast snooping") || r.standardError.contains("--mcast-"), "\(bad): \(r.standardError)")
            }
            let bridge = try topo.start(["--mcast-snooping", "off", "--mcast-querier"])
            let g = "239.1.1.1"
            let r2 = try topo.lab.joinGroup(g, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port)
            let seen = try Self.deliver(topo, groups: [g], count: 300)
            #expect(seen[0].count(g) == 300 && seen[1].count(g) == 300, "\(seen.map(\.counts))")
            #expect(try bridge.mustControl(["mdb", "show"], lab: topo.lab).contains("snooping is off"))
            let stats = try bridge.json(["stats"], lab: topo.lab) as? [String: Any]
            #expect(stats?["multicast"] == nil)
            _ = r2
        }
    }

    @Test("A configuration file sets the mcast_* keys; reload changes port flags live and refuses bridge-wide ones", .privileged)
    func configFileAndReload() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(topo.name)-mcast").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = "\(dir)/br.yaml"
            func write(router: Int, interval: Int) throws {
                try """
                    mcast_querier: true
                    mcast_query_interval: \(interval)
                    mcast_query_response_interval: 1
                    ports:
                      - {name: \(topo.ports[0])}
                      - {name: \(topo.ports[1])}
                      - {name: \(topo.ports[2]), mcast_router: \(router)}
                    """.write(toFile: file, atomically: true, encoding: .utf8)
            }
            try write(router: 1, interval: 2)
            let bridge = try SwbridgeProcess(binary: topo.binary, name: topo.name, namespace: topo.br, arguments: ["--config", file])
            defer { bridge.kill() }
            #expect(try bridge.mustControl(["mdb", "show"], lab: topo.lab).contains("querier on \(topo.name) ipv4: self"))
            try write(router: 2, interval: 2)
            #expect(try bridge.mustControl(["reload", "--check"], lab: topo.lab).contains("~ port \(topo.ports[2]): mcast_router 1 -> 2"))
            _ = try bridge.mustControl(["reload"], lab: topo.lab)
            let listed = try waitUntil(timeout: .seconds(20), interval: .milliseconds(100)) {
                try bridge.mustControl(["mdb", "show"], lab: topo.lab).contains("router ports on \(topo.name): \(topo.ports[2])")
            }
            #expect(listed, "reload did not make \(topo.ports[2]) a router port")
            try write(router: 2, interval: 3)
            let refused = try bridge.control(["reload"], lab: topo.lab)
            #expect(refused.status != 0 && (refused.standardError + refused.standardOutput).contains("mcast_*"), "\(refused)")
        }
    }

    @Test("Malformed and hostile IGMP is counted and bounded; the bridge keeps forwarding", .privileged)
    func hostileIGMP() throws {
        try withSwbridgeLab(hosts: 3) { topo in
            let bridge = try topo.start(Self.fastQuerier + ["--mcast-max-groups", "1024"])
            let g = "239.1.1.1"
            let r2 = try topo.lab.joinGroup(g, in: topo.hosts[1], local: SwbridgeLab.address(1), port: Self.port)
            try Self.waitForMemberships(["\(topo.ports[1]) \(g)"], bridge, topo.lab)

            let h1 = topo.hosts[0]
            try topo.lab.mustRun(["python3", "-c", MulticastScripts.hostile, "eth0", "truncated", "100"], in: h1)
            try topo.lab.mustRun(["python3", "-c", MulticastScripts.hostile, "eth0", "badsum", "100"], in: h1)
            var m: [String: Any] = [:]
            func malformed(_ r: String) -> Int { ((m["counters"] as? [String: Any])?["malformed"] as? [String: Any])?[r] as? Int ?? 0 }
            func total() -> Int { ((m["counters"] as? [String: Any])?["malformed"] as? [String: Int])?.values.reduce(0, +) ?? 0 }
            let counted = try waitUntil(timeout: .seconds(20), interval: .milliseconds(100)) {
                m = try Self.multicastStats(bridge, topo.lab)
                return malformed("badChecksum") >= 100 && total() >= 200
            }
            #expect(counted, "malformed counters: \(m["counters"] ?? "none")")

            // 100,000 reports, each for another group.
            try topo.lab.mustRun(["python3", "-c", MulticastScripts.hostile, "eth0", "flood", "100000"], in: h1, timeout: .seconds(120))
            // Every one of them was punted, dropped for want of queue room, or lost in the ring.
            var port0: [String: Any] = [:]
            let accounted = try waitUntil(timeout: .seconds(60), interval: .milliseconds(200)) {
                guard let s = try bridge.json(["stats"], lab: topo.lab) as? [String: Any],
                    let ports = s["ports"] as? [[String: Any]], let p = ports.first(where: { $0["name"] as? String == topo.ports[0] })
                else { return false }
                port0 = p
                let n = (p["punted"] as? Int ?? 0) + (p["puntDropped"] as? Int ?? 0) + (p["ringDrops"] as? Int ?? 0)
                return n >= 100_200
            }
            #expect(accounted, "port \(topo.ports[0]): \(port0)")
            m = try Self.multicastStats(bridge, topo.lab)
            let table = m["table"] as? [String: Any] ?? [:]
            let groups = table["groups"] as? Int ?? -1
            print("[multicast] flood: port \(port0), table \(table), counters \(m["counters"] ?? "")")
            #expect(groups >= 1 && groups <= 1024, "groups \(groups) beyond --mcast-max-groups 1024")
            #expect((table["refusedFull"] as? Int ?? 0) > 0 || (port0["puntDropped"] as? Int ?? 0) > 0)
            #expect(bridge.isRunning)

            // Still forwarding, and still snooping h2's group.
            #expect(try Self.memberships(bridge, topo.lab).contains("\(topo.ports[1]) \(g)"))
            let seen = try Self.deliver(topo, groups: [g], count: 300)
            #expect(seen[0].count(g) == 300)
            #expect(seen[1].count(g) == 0)
            #expect(try topo.ping(from: 0, to: 2).received == 3)
            _ = r2
        }
    }
}
