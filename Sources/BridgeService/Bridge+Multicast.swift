// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The bridge's multicast snooping as the control socket sees it: `mdb show` and the `stats`
// section read the snapshot the control plane publishes (ControlPlane+Multicast.swift), never
// the snooper; `link add|set ... mcast_router N mcast_fast_leave on|off` keeps the per-port
// flags in the live state (so a port that comes back gets them again) and tells the control
// plane. The snooper's configuration gets the bridge's own address here, at start.

import BridgeControl
import BridgeCore
import MulticastSnooping

extension Bridge {
    /// The snooper's configuration for this bridge (nil: snooping off): queries from the
    /// bridge's address (and its EUI-64 link-local address for MLD unless one is configured),
    /// in every VLAN of the ports when VLAN filtering is on.
    static func multicastConfiguration(_ options: BridgeOptions, address: MACAddress) -> MulticastSnoopingConfiguration? {
        guard let c = options.multicastSnooping else { return nil }
        var vlans: Set<UInt16> = []
        if options.bridge.vlanFiltering {
            for p in options.bridge.ports { vlans.formUnion(p.vlans.members) }
        }
        return c.forBridge(address: address, vlans: Array(vlans))
    }

    /// `mdb show`: nil when snooping is off.
    func multicastStatus() -> MDBStatus? {
        guard options.multicastSnooping != nil else { return nil }
        return controlPlane.multicastSnapshot.withLock { $0?.status }
            ?? MDBStatus(bridge: options.name, snooping: true, querier: options.multicastSnooping?.querier ?? false)
    }

    /// The `stats` section (nil when snooping is off).
    func multicastStatistics() -> MulticastStatsSection? {
        guard let c = options.multicastSnooping else { return nil }
        let snap = controlPlane.multicastSnapshot.withLock { $0 }
        return MulticastStatsSection(counters: snap?.counters ?? .init(), table: multicastTable?.statistics ?? snap?.table ?? .init(),
                                     maxGroups: c.maxGroups, querier: c.querier)
    }

    /// `mcast_router` / `mcast_fast_leave` of port `name` (nil: unchanged). Kept by name, so a
    /// port attached later (`link add`) starts with them.
    func setMulticastPort(name: String, router: Int?, fastLeave: Bool?) throws(BridgeError) {
        var mode: MulticastRouterMode? = nil
        if let router {
            guard let m = MulticastRouterMode(rawValue: router) else {
                throw .invalid("mcast_router takes 0 (never), 1 (learned) or 2 (always), not \(router)")
            }
            mode = m
        }
        let (index, flags) = live.withLock { s -> (Int?, MulticastPortFlags) in
            var f = s.multicastPorts[name] ?? MulticastPortFlags()
            if let mode { f.router = mode }
            if let fastLeave { f.fastLeave = fastLeave }
            s.multicastPorts[name] = f
            let i = s.config.ports.indices.first { s.config.ports[$0].name == name && s.runtime[$0].attached }
            return (i, f)
        }
        if let index, controlPlane.isEnabled { controlPlane.send(.multicastPort(index: index, flags)) }
    }
}
