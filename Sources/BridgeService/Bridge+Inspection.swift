// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// What `link show` and `stats` report of a running bridge: the ports as the kernel sees them
// now (a renamed interface under its new name), and counters summed over the workers plus the
// kernel ring counters of sockets already closed.

import BridgeControl
import BridgeCore
import SpanningTree
import PacketIO

extension Bridge {
    /// One row per port. The interfaces are read with one RTM_GETLINK dump of the bridge's
    /// namespace and one per namespace the veth peers are in, not with calls per port: `link
    /// show` of 1,024 ports stays well under a second.
    func linkRows() -> [LinkRow] {
        let (config, rt, backends) = live.withLock { ($0.config, $0.runtime, $0.backends) }
        let netlink = try? NetlinkSocket()
        let dumped = netlink.flatMap { try? $0.links() }
        var byIndex: [Int32: LinkInfo] = [:]
        var byName: [String: LinkInfo] = [:]
        for l in dumped ?? [] {
            byIndex[l.index] = l
            byName[l.name] = l
        }
        // Peers live in few namespaces: each is dumped and named once.
        var peerLinks: [Int32: [Int32: LinkInfo]] = [:]
        var namespaceNames: [Int32: String?] = [:]
        func peer(of link: LinkInfo) -> VethPeer? {
            guard link.isVeth, let peerIndex = link.linkIndex, peerIndex > 0 else { return nil }
            guard let nsid = link.linkNamespaceID, nsid >= 0 else {
                return VethPeer(ifindex: peerIndex, name: byIndex[peerIndex]?.name, namespaceID: nil,
                                namespaceName: NetworkNamespaceNames.current())
            }
            if peerLinks[nsid] == nil {
                var m: [Int32: LinkInfo] = [:]
                for l in (netlink.flatMap { try? $0.links(targetNamespaceID: nsid) } ?? []) { m[l.index] = l }
                peerLinks[nsid] = m
            }
            if namespaceNames[nsid] == nil {
                namespaceNames[nsid] = .some(netlink.flatMap { try? NetworkNamespaceNames.name(ofNamespaceID: nsid, using: $0) })
            }
            return VethPeer(ifindex: peerIndex, name: peerLinks[nsid]?[peerIndex]?.name, namespaceID: nsid,
                            namespaceName: namespaceNames[nsid] ?? nil)
        }
        var stpPorts: [Int: SpanningTreeStatus.Port] = [:]
        for p in spanningTreeStatus()?.ports ?? [] { stpPorts[p.index] = p }
        return config.ports.enumerated().filter { !$0.element.isVacant }.map { i, p in
            // The sockets are bound to an ifindex and follow a renamed interface: describe the
            // interface behind that index, under whatever name it has now.
            let link = rt[i].attached ? byIndex[rt[i].ifindex] : byName[p.name]
            let current = link?.name ?? p.name
            var config = p
            if !rt[i].attached { config.state = .disabled }
            if current != p.name { config.name = "\(p.name) (now \(current))" }
            let mac = link.flatMap { l in
                l.hardwareAddress.count == 6 ? l.hardwareAddress.withUnsafeBytes { MACAddress(bytes: $0, offset: 0) } : nil
            }
            var row = LinkRow(
                index: link.map { Int($0.index) } ?? 0, port: config, attached: rt[i].attached,
                operUp: link?.isRunning ?? false, mtu: link?.mtu.map(Int.init), mac: mac,
                learnedEntries: table.learnedEntries(port: i),
                backend: (backends[p.name] ?? .afPacket) == .pcap ? "pcap" : "af_packet \(options.ring.ringVersion)")
            if rt[i].attached, let link, let peer = peer(of: link) {
                row.peer = LinkPeer(ifindex: peer.ifindex, name: peer.name, namespace: peer.namespaceName, namespaceID: peer.namespaceID)
            }
            // With a spanning tree, the state is the tree's, in bridge(8)'s words.
            if config.state == .forwarding, let st = stpPorts[i] { row.state = SpanningTreeStatus.linkStateWord(st) }
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
            var row = PortStatsRow(name: p.name, counters: c, ringPackets: ring.kernelPackets, ringDrops: ring.kernelDrops)
            row.txDrops = [TransmitDropReason.tooBig: ring.transmitOversize]
            rows.append(row)
        }
        let now = monotonicNow()
        return StatsReport(
            bridge: options.name, uptimeSeconds: Double(now.milliseconds - started.milliseconds) / 1000,
            vlanFiltering: config.vlanFiltering, ports: rows,
            fdb: FDBStatsSection(table.statistics, maxLearned: options.table.maxLearned),
            workers: workers.map { w in w.threadStatistics.withLock { $0 } }, multicast: multicastStatistics())
    }
}
