// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// What `link show` and `stats` report of a running bridge: the ports as the kernel sees them
// now (a renamed interface under its new name), and counters summed over the workers plus the
// kernel ring counters of sockets already closed.

import BridgeControl
import BridgeCore
import PacketIO

extension Bridge {
    func linkRows() -> [LinkRow] {
        let (config, rt, backends) = live.withLock { ($0.config, $0.runtime, $0.backends) }
        let interfaces = (try? Interface.all()) ?? []
        let netlink = try? NetlinkSocket()
        return config.ports.enumerated().filter { !$0.element.isVacant }.map { i, p in
            // The sockets are bound to an ifindex and follow a renamed interface: describe the
            // interface behind that index, under whatever name it has now.
            let current = rt[i].attached ? (interfaces.first { $0.index == rt[i].ifindex }?.name ?? p.name) : p.name
            let state = try? Interface.state(of: current)
            var config = p
            if !rt[i].attached { config.state = .disabled }
            if current != p.name { config.name = "\(p.name) (now \(current))" }
            var row = LinkRow(
                index: (try? Interface.index(of: current)).map(Int.init) ?? 0, port: config, attached: rt[i].attached,
                operUp: state?.operationalUp ?? false, mtu: try? Interface.mtu(of: current),
                mac: try? Interface.macAddress(of: current), learnedEntries: table.learnedEntries(port: i),
                backend: (backends[p.name] ?? .afPacket) == .pcap ? "pcap" : "af_packet \(options.ring.ringVersion)")
            if rt[i].attached, let netlink, let link = try? netlink.link(ifindex: rt[i].ifindex),
                let peer = try? VethPeer.of(link, using: netlink)
            {
                row.peer = LinkPeer(ifindex: peer.ifindex, name: peer.name, namespace: peer.namespaceName, namespaceID: peer.namespaceID)
            }
            return row
        }
    }

    func statistics() -> StatsReport {
        let (config, rt) = live.withLock { ($0.config, $0.runtime) }
        var rows: [PortStatsRow] = []
        for (i, p) in config.ports.enumerated() where !p.isVacant {
            var c = PortCounters()
            var ring = rt[i].retired
            for w in workers {
                c += w.counters.snapshot(port: i)
                if let s = w.published.withLock({ $0[i] }) { ring = ring + s }
            }
            rows.append(PortStatsRow(name: p.name, counters: c, ringPackets: ring.kernelPackets, ringDrops: ring.kernelDrops))
        }
        let now = monotonicNow()
        return StatsReport(
            bridge: options.name, uptimeSeconds: Double(now.milliseconds - started.milliseconds) / 1000,
            vlanFiltering: config.vlanFiltering, ports: rows,
            fdb: FDBStatsSection(table.statistics, maxLearned: options.table.maxLearned),
            workers: workers.map { w in w.threadStatistics.withLock { $0 } })
    }
}
