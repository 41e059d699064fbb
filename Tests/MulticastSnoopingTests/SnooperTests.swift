// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The snooper's rules with a clock the test advances: joins, leaves and timeouts at the RFC
// timers, querier election, last-member queries, fast leave, the no-querier flood state,
// router ports, every protocol version, bounds under a report flood, malformed input.

import BridgeCore
import Foundation
import Testing
@testable import MulticastSnooping

@Suite struct SnooperTests {
    static let g1 = Packets.group("239.1.1.1"), g2 = Packets.group("239.2.2.2")
    static let m1 = Packets.group("ff0e::1:1"), m2 = Packets.group("ff0e::1:2")

    func snooper(querier: Bool = false, _ configure: (inout MulticastSnoopingConfiguration) -> Void = { _ in }, clock: TestClock) throws -> MulticastSnooper {
        var c = MulticastSnoopingConfiguration()
        c.querier = querier
        configure(&c)
        return try MulticastSnooper(configuration: c, now: clock.now)
    }

    func parsedQuery(_ t: QueryTransmission) -> (ParsedMembership, MembershipQuery)? {
        guard case .success(let p) = t.frame.withUnsafeBytes({ MembershipParser.parse(frame: $0) }), case .query(let q) = p.message else { return nil }
        return (p, q)
    }

    /// An external querier at `address` makes snooping active after its response time.
    func otherQuerier(_ s: MulticastSnooper, _ clock: inout TestClock, address: String = "198.18.0.1", port: Int = 0) {
        _ = s.receive(frame: Packets.igmpQuery(src: address), port: port, vlan: 0, now: clock.now)
        clock.advance(seconds: 10)
        _ = s.tick(now: clock.now)
    }

    @Test func joinThenMembershipTimesOutAfterTheGroupMembershipInterval() throws {
        var clock = TestClock()
        let s = try snooper(clock: clock)
        otherQuerier(s, &clock)
        let out = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        #expect(out.events.contains(.joined(vlan: 0, group: Self.g1, port: 2)))
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([2]))
        _ = s.receive(frame: Packets.igmpv2Report("239.2.2.2"), port: 3, vlan: 0, now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g2) == MulticastPortSet([3]))
        #expect(s.configuration.membershipInterval == .seconds(260))
        clock.advance(ms: 259_999)
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.1"), port: 0, vlan: 0, now: clock.now)  // the querier stays
        #expect(s.tick(now: clock.now).events.isEmpty)
        #expect(s.table.members(vlan: 0, group: Self.g1) != nil)
        clock.advance(ms: 1)
        let expired = s.tick(now: clock.now)
        #expect(expired.events.contains(.left(vlan: 0, group: Self.g1, port: 2, reason: .timeout)))
        #expect(s.table.members(vlan: 0, group: Self.g1) == nil && s.table.members(vlan: 0, group: Self.g2) == nil)
        #expect(s.counters.membershipsExpired == 2)
        #expect(s.table.statistics.groups == 0)
    }

    @Test func aReportRefreshesTheTimer() throws {
        var clock = TestClock()
        let s = try snooper(clock: clock)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        clock.advance(seconds: 200)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        clock.advance(seconds: 200)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([2]))
        clock.advance(seconds: 60)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == nil)
    }

    @Test func withoutAnyQuerierEverythingIsFlooded() throws {
        var clock = TestClock()
        let s = try snooper(clock: clock)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) != nil, "membership is still recorded")
        #expect(!s.table.isSnoopingActive(vlan: 0, ipv6: false), "but with no querier the engine floods")
        // A querier appears: still flooding for its maximum response time, then active.
        let q = s.receive(frame: Packets.igmpQuery(src: "198.18.0.1"), port: 0, vlan: 0, now: clock.now)
        #expect(q.events.contains(.otherQuerier(vlan: 0, ipv6: false, address: IPAddress(ipv4: Packets.ip4("198.18.0.1")))))
        #expect(!s.table.isSnoopingActive(vlan: 0, ipv6: false))
        clock.advance(ms: 9_999)
        _ = s.tick(now: clock.now)
        #expect(!s.table.isSnoopingActive(vlan: 0, ipv6: false))
        clock.advance(ms: 1)
        #expect(s.tick(now: clock.now).events.contains(.snoopingActive(vlan: 0, ipv6: false, active: true)))
        #expect(s.table.isSnoopingActive(vlan: 0, ipv6: false))
        #expect(!s.table.isSnoopingActive(vlan: 0, ipv6: true), "per family: no MLD querier heard")
        // The querier falls silent: after the other-querier-present interval, flood again.
        clock.advance(ms: 255_000 - 10_000 - 1)
        _ = s.tick(now: clock.now)
        #expect(s.table.isSnoopingActive(vlan: 0, ipv6: false))
        clock.advance(ms: 1)
        let gone = s.tick(now: clock.now)
        #expect(gone.events.contains(.otherQuerier(vlan: 0, ipv6: false, address: nil)))
        #expect(!s.table.isSnoopingActive(vlan: 0, ipv6: false))
    }

    @Test func querierSendsStartupThenPeriodicQueriesAndActivatesAfterTheResponseInterval() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, { $0.querierVLANs = [1]; $0.querierIPv4 = IPAddress(ipv4: Packets.ip4("198.18.0.254")) }, clock: clock)
        #expect(!s.table.isSnoopingActive(vlan: 1, ipv6: false))
        var sent: [UInt64] = []
        var queries: [(ParsedMembership, MembershipQuery)] = []
        let start = clock.now.milliseconds
        for _ in 0..<(300 * 4) {
            for t in s.tick(now: clock.now).transmissions {
                #expect(t.port == nil && t.vlan == 1, "general queries are flooded in the VLAN")
                if let q = parsedQuery(t) { queries.append(q) }
                sent.append(clock.now.milliseconds - start)
            }
            if clock.now.milliseconds - start == 9_750 { #expect(!s.table.isSnoopingActive(vlan: 1, ipv6: false)) }
            if clock.now.milliseconds - start == 10_000 { #expect(s.table.isSnoopingActive(vlan: 1, ipv6: false)) }
            clock.advance(ms: 250)
        }
        // Two startup queries 31.25 s apart, then every 125 s.
        #expect(sent == [0, 31_250, 156_250, 281_250])
        #expect(queries.allSatisfy { $0.1.version == 2 && $0.1.group == nil && $0.1.maxResponseMilliseconds == 10_000 })
        #expect(queries.first?.0.source == IPAddress(ipv4: Packets.ip4("198.18.0.254")))
        #expect(s.counters.igmpQueriesSent == 4)
        #expect(s.counters.mldQueriesSent == 0, "no MLD querier without an IPv6 address, as the kernel")
    }

    @Test func querierElectionLowestAddressWins() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, { $0.querierIPv4 = IPAddress(ipv4: Packets.ip4("198.18.0.10")) }, clock: clock)
        #expect(s.tick(now: clock.now).transmissions.count == 1)
        // A higher address loses: we keep querying and it is not taken as the querier.
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.20"), port: 6, vlan: 0, now: clock.now)
        #expect(s.table.routerPorts(vlan: 0) == MulticastPortSet([6]), "the loser still leads to a router")
        clock.advance(ms: 31_250)
        #expect(s.tick(now: clock.now).transmissions.count == 1)
        // A lower address wins: we fall silent while it is present.
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.5"), port: 4, vlan: 0, now: clock.now)
        var quiet = 0
        for _ in 0..<254 {
            clock.advance(seconds: 1)
            quiet += s.tick(now: clock.now).transmissions.count
        }
        #expect(quiet == 0)
        let st = s.status(now: clock.now, bridge: "br0") { "p\($0)" }
        #expect(st.queriers.first { $0.family == "ipv4" }?.querier == "198.18.0.5")
        #expect(st.routerPorts.map(\.portIndex) == [4], "the winner's port; the loser's, last heard 285 s ago, expired")
        // It falls silent: we take over when the other-querier-present interval (255 s) ends.
        clock.advance(seconds: 1)
        let resumed = s.tick(now: clock.now)
        #expect(resumed.transmissions.count == 1)
        #expect(resumed.events.contains(.otherQuerier(vlan: 0, ipv6: false, address: nil)))
    }

    @Test func theKernelDefaultQuerierDefersToAnyQuerier() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, clock: clock)  // 0.0.0.0
        _ = s.tick(now: clock.now)
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.200"), port: 1, vlan: 0, now: clock.now)
        clock.advance(ms: 31_250)
        #expect(s.tick(now: clock.now).transmissions.isEmpty)
    }

    @Test func leaveTriggersLastMemberQueriesThenRemoval() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, clock: clock)
        _ = s.tick(now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 3, vlan: 0, now: clock.now)
        clock.advance(seconds: 20)
        let out = s.receive(frame: Packets.igmpLeave("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        #expect(out.transmissions.count == 1)
        let first = try #require(out.transmissions.first)
        #expect(first.port == 2, "the group-specific query goes out of the leaving port")
        let q = try #require(parsedQuery(first))
        #expect(q.1.group == Self.g1 && q.1.maxResponseMilliseconds == 1_000)
        #expect(q.0.destination == IPAddress(ipv4: Self.g1.ipv4))
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([2, 3]), "still a member until the queries go unanswered")
        clock.advance(ms: 1_000)
        let second = s.tick(now: clock.now)
        #expect(second.transmissions.count == 1 && second.transmissions.first?.port == 2)
        clock.advance(ms: 999)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([2, 3]))
        clock.advance(ms: 1)
        let removed = s.tick(now: clock.now)
        #expect(removed.events.contains(.left(vlan: 0, group: Self.g1, port: 2, reason: .timeout)))
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([3]), "other ports keep their membership")
        #expect(s.counters.leaves == 1 && s.counters.igmpQueriesSent == 3)
    }

    @Test func aReportAfterTheLeaveKeepsTheMembership() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, clock: clock)
        _ = s.tick(now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.igmpLeave("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        clock.advance(ms: 500)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1", src: "198.18.0.3"), port: 2, vlan: 0, now: clock.now)
        clock.advance(ms: 600)
        #expect(s.tick(now: clock.now).transmissions.isEmpty, "the answered query is not repeated")
        clock.advance(seconds: 10)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([2]))
    }

    @Test func fastLeaveRemovesAtOnce() throws {
        let clock = TestClock()
        let s = try snooper(querier: true, clock: clock)
        _ = s.setPort(2, flags: MulticastPortFlags(fastLeave: true), now: clock.now)
        _ = s.tick(now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        let out = s.receive(frame: Packets.igmpLeave("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        #expect(out.transmissions.isEmpty)
        #expect(out.events.contains(.left(vlan: 0, group: Self.g1, port: 2, reason: .fastLeave)))
        #expect(s.table.members(vlan: 0, group: Self.g1) == nil)
        #expect(s.counters.fastLeaves == 1)
    }

    @Test func withAnotherQuerierALeaveWaitsForItsGroupSpecificQuery() throws {
        var clock = TestClock()
        let s = try snooper(clock: clock)
        otherQuerier(s, &clock)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        let out = s.receive(frame: Packets.igmpLeave("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        #expect(out.transmissions.isEmpty)
        clock.advance(seconds: 30)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) != nil, "the leave alone changes nothing")
        // The querier's group-specific query (max response 1 s): 2 x 1 s left.
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.1", group: "239.1.1.1", maxResponseTenths: 10), port: 0, vlan: 0, now: clock.now)
        clock.advance(ms: 1_999)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) != nil)
        clock.advance(ms: 1)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == nil)
    }

    @Test func igmpv3RecordsJoinAndLeave() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, { $0.igmpVersion = 3 }, clock: clock)
        let startup = s.tick(now: clock.now).transmissions
        #expect(startup.first.flatMap(parsedQuery)?.1.version == 3, "the querier speaks IGMPv3")
        _ = s.receive(frame: Packets.igmpv3Report([(4, "239.1.1.1", []), (2, "239.2.2.2", ["198.18.9.9"])]), port: 5, vlan: 0, now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([5]))
        #expect(s.table.members(vlan: 0, group: Self.g2) == MulticastPortSet([5]))
        let out = s.receive(frame: Packets.igmpv3Report([(3, "239.1.1.1", [])]), port: 5, vlan: 0, now: clock.now)
        #expect(out.transmissions.count == 1, "TO_IN {} is a leave: a group-specific query")
        clock.advance(seconds: 2)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == nil)
        #expect(s.table.members(vlan: 0, group: Self.g2) == MulticastPortSet([5]))
        #expect(s.counters.igmpv3Reports == 2)
        // Link-local groups are never entered.
        _ = s.receive(frame: Packets.igmpv3Report([(4, "224.0.0.251", [])]), port: 5, vlan: 0, now: clock.now)
        #expect(s.table.members(vlan: 0, group: Packets.group("224.0.0.251")) == nil)
    }

    @Test func igmpv1ReportsJoin() throws {
        let clock = TestClock()
        let s = try snooper(clock: clock)
        _ = s.receive(frame: Packets.igmpv1Report("239.1.1.1"), port: 1, vlan: 0, now: clock.now)
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([1]))
        #expect(s.counters.igmpv1Reports == 1)
    }

    @Test(arguments: [1, 2]) func mldJoinLeaveAndQuerier(version: Int) throws {
        var clock = TestClock()
        let ll = IPAddress(parsing: "fe80::1")!
        let s = try snooper(querier: true, { $0.mldVersion = version; $0.querierIPv6 = ll; $0.querierVLANs = [10] }, clock: clock)
        let startup = s.tick(now: clock.now).transmissions
        let mld = startup.compactMap(parsedQuery).filter { $0.0.isIPv6 }
        #expect(mld.count == 1 && mld.first?.1.version == version && mld.first?.0.source == ll)
        if version == 1 {
            _ = s.receive(frame: Packets.mldv1Report("ff0e::1:1"), port: 2, vlan: 10, now: clock.now)
            _ = s.receive(frame: Packets.mldv1Report("ff0e::1:2"), port: 3, vlan: 10, now: clock.now)
        } else {
            _ = s.receive(frame: Packets.mldv2Report([(2, "ff0e::1:1", [])]), port: 2, vlan: 10, now: clock.now)
            _ = s.receive(frame: Packets.mldv2Report([(4, "ff0e::1:2", [])]), port: 3, vlan: 10, now: clock.now)
        }
        #expect(s.table.members(vlan: 10, group: Self.m1) == MulticastPortSet([2]))
        #expect(s.table.members(vlan: 10, group: Self.m2) == MulticastPortSet([3]))
        clock.advance(seconds: 10)
        _ = s.tick(now: clock.now)
        #expect(s.table.isSnoopingActive(vlan: 10, ipv6: true))
        let leave = version == 1 ? Packets.mldDone("ff0e::1:1") : Packets.mldv2Report([(3, "ff0e::1:1", [])])
        let out = s.receive(frame: leave, port: 2, vlan: 10, now: clock.now)
        let q = try #require(out.transmissions.first.flatMap(parsedQuery))
        #expect(q.1.group == Self.m1 && q.0.destination == IPAddress(ipv6High: Self.m1.high, low: Self.m1.low))
        #expect(out.transmissions.first?.frame[0..<6] == [0x33, 0x33, 0, 1, 0, 1])
        clock.advance(seconds: 2)
        _ = s.tick(now: clock.now)
        #expect(s.table.members(vlan: 10, group: Self.m1) == nil)
        #expect(s.table.members(vlan: 10, group: Self.m2) == MulticastPortSet([3]))
        #expect(version == 1 ? s.counters.mldv1Reports == 2 : s.counters.mldv2Reports == 3)
    }

    @Test func routerPorts() throws {
        var clock = TestClock()
        let s = try snooper(clock: clock)
        _ = s.setPort(7, flags: MulticastPortFlags(router: .permanent), now: clock.now)
        _ = s.setPort(8, flags: MulticastPortFlags(router: .disabled), now: clock.now)
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.1"), port: 1, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.igmpQuery(src: "198.18.0.1"), port: 8, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.ipv4Frame(src: "198.18.0.7", dst: "224.0.0.13", proto: 103, payload: [0x20, 0, 0, 0]), port: 4, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.igmpQuery(src: "0.0.0.0"), port: 5, vlan: 0, now: clock.now)
        #expect(s.table.routerPorts(vlan: 0) == MulticastPortSet([1, 4, 7]), "queries and PIM hellos; not mcast_router 0, not 0.0.0.0")
        clock.advance(seconds: 255)
        let out = s.tick(now: clock.now)
        #expect(out.events.contains(.routerPortExpired(vlan: 0, port: 1)))
        #expect(s.table.routerPorts(vlan: 0) == MulticastPortSet([7]), "permanent stays")
        #expect(s.counters.routerMessages == 1)
    }

    @Test func aFloodOfDistinctGroupsStaysBounded() throws {
        let clock = TestClock()
        let s = try snooper({ $0.maxGroups = 4_096 }, clock: clock)
        var events = 0
        for i in 0..<100_000 {
            let g = MulticastGroup(ipv4: 0xE800_0000 | UInt32(i))
            let out = s.receive(frame: Packets.igmpv2Report(g.description), port: i % 8, vlan: 0, now: clock.now)
            events += out.events.filter { if case .tableFull = $0 { return true } else { return false } }.count
        }
        #expect(s.table.statistics.groups == 4_096)
        #expect(s.groups.count == 4_096, "no state for refused groups")
        #expect(s.counters.joinsRefusedTableFull == 100_000 - 4_096)
        #expect(s.table.statistics.refusedFull == 100_000 - 4_096)
        #expect(events == 1, "the full table is logged once")
    }

    @Test func malformedInputIsCounted() throws {
        let clock = TestClock()
        let s = try snooper(clock: clock)
        var bad = Packets.igmpv2Report("239.1.1.1")
        bad[14 + 24 + 2] ^= 1
        _ = s.receive(frame: bad, port: 1, vlan: 0, now: clock.now)
        _ = s.receive(frame: Array(Packets.igmpv2Report("239.1.1.1")[0..<30]), port: 1, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.mldQuery(src: "2001:db8::1"), port: 1, vlan: 0, now: clock.now)
        _ = s.receive(frame: [], port: 1, vlan: 0, now: clock.now)
        #expect(s.counters.malformed == ["badChecksum": 1, "truncated": 2, "badQuerySource": 1])
        #expect(s.table.statistics.groups == 0)
        // Out-of-range ports and VLANs are ignored, not trapped on.
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 5_000, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 1, vlan: 4_095, now: clock.now)
        #expect(s.table.statistics.groups == 0 && s.counters.ignored == 2)
    }

    @Test func removingAPortAndTurningSnoopingOff() throws {
        var clock = TestClock()
        let s = try snooper(clock: clock)
        otherQuerier(s, &clock)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 0, now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 3, vlan: 0, now: clock.now)
        let out = s.removePort(2, now: clock.now)
        #expect(out.events.contains(.left(vlan: 0, group: Self.g1, port: 2, reason: .portRemoved)))
        #expect(s.table.members(vlan: 0, group: Self.g1) == MulticastPortSet([3]))
        var off = s.configuration
        off.snooping = false
        _ = try s.reconfigure(off, now: clock.now)
        #expect(s.table.statistics.groups == 0)
        #expect(!s.table.isSnoopingActive(vlan: 0, ipv6: false))
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 3, vlan: 0, now: clock.now)
        #expect(s.table.statistics.groups == 0, "nothing is snooped while off")
    }

    @Test func configurationIsChecked() {
        var c = MulticastSnoopingConfiguration()
        #expect(c.otherQuerierPresentInterval == .seconds(255))
        c.igmpVersion = 4
        #expect(throws: SnoopingConfigurationError.self) { try c.validate() }
        c = MulticastSnoopingConfiguration()
        c.querierIPv6 = IPAddress(parsing: "2001:db8::1")
        #expect(throws: SnoopingConfigurationError.self) { try c.validate() }
    }

    @Test func mdbShowText() throws {
        var clock = TestClock()
        let s = try snooper(querier: true, { $0.querierVLANs = [1] }, clock: clock)
        _ = s.tick(now: clock.now)
        _ = s.receive(frame: Packets.igmpv2Report("239.1.1.1"), port: 2, vlan: 1, now: clock.now)
        _ = s.receive(frame: Packets.mldv1Report("ff0e::1:1"), port: 3, vlan: 1, now: clock.now)
        _ = s.setPort(1, flags: MulticastPortFlags(router: .permanent), now: clock.now)
        clock.advance(seconds: 10)
        _ = s.tick(now: clock.now)
        let names = ["veth0", "veth1", "veth2", "veth3"]
        let st = s.status(now: clock.now, bridge: "br0") { names[$0] }
        let lines = MDBFormatter.lines(st)
        #expect(lines.contains("dev br0 port veth2 grp 239.1.1.1 temp vid 1"))
        #expect(lines.contains("dev br0 port veth3 grp ff0e::1:1 temp vid 1"))
        #expect(lines.contains("router ports on br0 vid 1: veth1"))
        #expect(lines.contains("querier on br0 vid 1 ipv4: self 0.0.0.0 (snooping active)"))
        #expect(lines.contains("querier on br0 vid 1 ipv6: none (flooding all multicast)"))
        let detailed = MDBFormatter.lines(st, details: true)
        #expect(detailed.contains("dev br0 port veth2 grp 239.1.1.1 temp vid 1 250.00"))
        #expect(detailed.contains { $0.hasPrefix("reports: igmpv1 0 igmpv2 1") })
        // Codable for `mdb show --json`.
        let data = try JSONEncoder().encode(st)
        #expect(try JSONDecoder().decode(MDBStatus.self, from: data) == st)
    }
}
