// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The snooper's configuration, named as RFC 3376 8 / RFC 3810 9 name the timers and with the
// kernel bridge's defaults (ip-link(8) bridge options, net/bridge/br_multicast.c
// br_multicast_ctx_init): snooping on, querier off, IGMPv2 and MLDv1, robustness 2, query
// interval 125 s, query response interval 10 s, last member count 2 and interval 1 s,
// startup query count 2 and interval 31.25 s (a quarter of the query interval), at most
// 4,096 groups. The two intervals the RFCs derive are derived, not set:
//   group membership interval     = robustness × query interval + query response interval (260 s)
//   other querier present interval = robustness × query interval + query response interval / 2 (255 s)

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// How a port takes part in router-port detection: the kernel's `mcast_router` values.
public enum MulticastRouterMode: Int, Sendable, Codable, CaseIterable {
    /// 0: never a router port, even when queries are heard on it.
    case disabled = 0
    /// 1 (default): a router port while queries, PIM hellos or router advertisements are heard.
    case learned = 1
    /// 2: always a router port.
    case permanent = 2
}

/// Per-port snooping flags.
public struct MulticastPortFlags: Sendable, Equatable, Codable {
    /// `mcast_router`.
    public var router: MulticastRouterMode
    /// `mcast_fast_leave`: a leave removes the port from the group at once, without queries
    /// (for ports with one host behind them).
    public var fastLeave: Bool
    public init(router: MulticastRouterMode = .learned, fastLeave: Bool = false) {
        self.router = router
        self.fastLeave = fastLeave
    }
}

/// A refused configuration.
public struct SnoopingConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
}

/// The snooper's configuration; see the file comment for the defaults.
public struct MulticastSnoopingConfiguration: Sendable, Equatable {
    /// `--mcast-snooping on|off` (`mcast_snooping`). Off: nothing is snooped, all multicast floods.
    public var snooping: Bool = true
    /// `--mcast-querier` (`mcast_querier`): send general queries when no better querier is heard.
    public var querier: Bool = false
    /// Robustness variable (RFC 3376 8.1), also sent as QRV in v3/MLDv2 queries.
    public var robustness: Int = 2
    /// `mcast_query_interval`.
    public var queryInterval: Duration = .seconds(125)
    /// `mcast_query_response_interval`.
    public var queryResponseInterval: Duration = .seconds(10)
    /// `mcast_last_member_count`: group-specific queries sent after a leave.
    public var lastMemberCount: Int = 2
    /// `mcast_last_member_interval`: time between them.
    public var lastMemberInterval: Duration = .seconds(1)
    /// `mcast_startup_query_count`.
    public var startupQueryCount: Int = 2
    /// `mcast_startup_query_interval`.
    public var startupQueryInterval: Duration = .milliseconds(31_250)
    /// `mcast_igmp_version`: 2 or 3 (the queries the querier sends).
    public var igmpVersion: Int = 2
    /// `mcast_mld_version`: 1 or 2.
    public var mldVersion: Int = 1
    /// The IPv4 source of our queries (the kernel's default 0.0.0.0: such a querier defers to
    /// every other querier it hears). Overridden per VLAN by `querierIPv4PerVLAN`.
    public var querierIPv4: IPAddress = IPAddress(ipv4: 0)
    /// The IPv6 (link-local) source of our MLD queries; nil: no MLD querier (as the kernel,
    /// whose MLD querier needs an IPv6 address on the bridge).
    public var querierIPv6: IPAddress? = nil
    public var querierIPv4PerVLAN: [UInt16: IPAddress] = [:]
    public var querierIPv6PerVLAN: [UInt16: IPAddress] = [:]
    /// VLANs the querier sends queries in (0 when VLAN filtering is off).
    public var querierVLANs: [UInt16] = [0]
    /// The Ethernet source of our queries (the bridge's address).
    public var bridgeMAC: MACAddress = MACAddress(rawValue: 0x0200_0000_0001)
    /// `--mcast-max-groups` (`mcast_hash_max`): the size of the `MulticastGroupTable` to create.
    public var maxGroups: Int = MulticastGroupTable.defaultMaxGroups

    public init() {}

    /// Group membership interval (RFC 3376 8.4): robustness × QI + QRI.
    public var membershipInterval: Duration { queryInterval * robustness + queryResponseInterval }
    /// Other querier present interval (RFC 3376 8.5): robustness × QI + QRI / 2.
    public var otherQuerierPresentInterval: Duration { queryInterval * robustness + queryResponseInterval / 2 }

    /// The IPv4 querier address used in `vlan`.
    public func querierAddressIPv4(vlan: UInt16) -> IPAddress { querierIPv4PerVLAN[vlan] ?? querierIPv4 }
    /// The IPv6 querier address used in `vlan`, if any.
    public func querierAddressIPv6(vlan: UInt16) -> IPAddress? { querierIPv6PerVLAN[vlan] ?? querierIPv6 }

    /// Checks ranges; the snooper refuses a configuration that fails.
    public func validate() throws(SnoopingConfigurationError) {
        func fail(_ s: String) -> SnoopingConfigurationError { SnoopingConfigurationError(description: s) }
        guard igmpVersion == 2 || igmpVersion == 3 else { throw fail("IGMP version must be 2 or 3, not \(igmpVersion)") }
        guard mldVersion == 1 || mldVersion == 2 else { throw fail("MLD version must be 1 or 2, not \(mldVersion)") }
        guard (1...7).contains(robustness) else { throw fail("robustness must be 1 ... 7") }
        guard (1...255).contains(lastMemberCount) else { throw fail("last member count must be 1 ... 255") }
        guard (1...255).contains(startupQueryCount) else { throw fail("startup query count must be 1 ... 255") }
        let second = Duration.seconds(1), day = Duration.seconds(86_400)
        guard queryInterval >= second && queryInterval <= day else { throw fail("query interval must be 1 s ... 1 day") }
        guard startupQueryInterval >= second && startupQueryInterval <= day else { throw fail("startup query interval must be 1 s ... 1 day") }
        guard queryResponseInterval >= .milliseconds(100) && queryResponseInterval < queryInterval else {
            throw fail("query response interval must be at least 0.1 s and less than the query interval")
        }
        guard lastMemberInterval >= .milliseconds(100) && lastMemberInterval <= .seconds(25) else {
            throw fail("last member interval must be 0.1 ... 25 s")
        }
        guard (1...(1 << 20)).contains(maxGroups) else { throw fail("max groups must be 1 ... 1048576") }
        guard querierVLANs.allSatisfy({ $0 < 4095 }) else { throw fail("querier VLANs must be 0 ... 4094") }
        guard !querierIPv4.isIPv6 && querierIPv4PerVLAN.values.allSatisfy({ !$0.isIPv6 }) else { throw fail("IPv4 querier address expected") }
        for a in [querierIPv6].compactMap({ $0 }) + Array(querierIPv6PerVLAN.values) where !a.isIPv6LinkLocal {
            throw fail("the MLD querier address \(a) must be IPv6 link-local (RFC 3810 5.1.14)")
        }
    }
}

/// Milliseconds of a duration (negative: 0).
@inline(__always)
func milliseconds(_ d: Duration) -> UInt64 {
    let (s, a) = d.components
    guard s >= 0 else { return 0 }
    return UInt64(s) * 1000 + UInt64(a / 1_000_000_000_000_000)
}
