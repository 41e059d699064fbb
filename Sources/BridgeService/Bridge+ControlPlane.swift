// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The bridge's side of the control plane (ControlPlane.swift): what it tells the spanning tree
// and the snooper about ports, and how it applies what they decide.

import BridgeControl
import Foundation
import BridgeCore
import MulticastSnooping
import PacketIO
import SpanningTree

extension Bridge: ControlPlaneHost {
    /// The spanning tree's port states, compiled into the engines. Under `changing`, like every
    /// other change of the engines' configuration, so no older configuration overtakes it.
    func applySpanningTreeStates(_ states: [(port: Int, gate: SpanningTreeGate)], wait: Bool) {
        changing.withLock { _ in
            live.withLock { s in
                for (p, g) in states where s.runtime.indices.contains(p) { s.runtime[p].spanningTree = g }
            }
            if wait {
                let config = engineConfiguration()
                group.sendAndWait { _ in [.apply(config)] }
            } else {
                applyRuntimeStates()
            }
        }
    }

    func flushLearned(port: Int) -> Int { table.flush(port: port) }

    /// Tells the control plane about port slot `index` as it is now (nothing for a vacant or
    /// detached slot).
    func announcePort(_ index: Int) {
        guard controlPlane.isEnabled else { return }
        let port = live.withLock { s -> ControlPlanePort? in
            guard s.config.ports.indices.contains(index), !s.config.ports[index].isVacant, s.runtime[index].attached else { return nil }
            let name = s.config.ports[index].name
            return ControlPlanePort(name: name, ifindex: s.runtime[index].ifindex, address: MACAddress(rawValue: 0),
                                    spanningTree: s.spanningTreePorts[name] ?? .init(), multicast: s.multicastPorts[name] ?? .init(),
                                    up: false)
        }
        guard var port else { return }
        port.address = (try? Interface.macAddress(of: port.name)) ?? Self.spanningTreeAddress(ports: [], bridge: port.name)
        let state = try? Interface.state(of: port.name)
        port.up = state.map { $0.adminUp && $0.operationalUp } ?? false
        (port.megabitsPerSecond, port.fullDuplex) = Self.linkSpeed(port.name)
        controlPlane.send(.addPort(index: index, port))
    }

    /// The link's speed and duplex as the driver reports them in sysfs (the bridge's namespace
    /// has its own /sys under `ip netns exec`): nil speed and full duplex when it reports none,
    /// as veth does (the path cost is then 802.1D's default for 1 Gb/s).
    static func linkSpeed(_ name: String) -> (UInt64?, Bool) {
        func read(_ file: String) -> String? {
            (try? String(contentsOfFile: "/sys/class/net/\(name)/\(file)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let speed = read("speed").flatMap { Int64($0) }.flatMap { $0 > 0 ? UInt64($0) : nil }
        let duplex = read("duplex")
        return (speed, duplex != "half")
    }

    /// A new slot with a spanning tree starts discarding: only the tree lets it forward.
    func initialSpanningTreeGate() -> SpanningTreeGate { options.spanningTree != nil ? .discarding : .forwarding }

    /// The snooper's view of the VLANs (queries leave each port tagged as it sends the VLAN).
    func sendVLANView() {
        guard controlPlane.isEnabled else { return }
        let view = live.withLock { s -> ControlPlaneVLANView in
            var v = ControlPlaneVLANView(vlanFiltering: s.config.vlanFiltering, vlanProtocol: s.config.vlanProtocol)
            for (i, p) in s.config.ports.enumerated() where !p.isVacant { v.members[i] = (p.vlans, p.untaggedVLANs) }
            return v
        }
        controlPlane.send(.vlanView(view))
    }

    /// The bridge's address for its bridge identifier: the lowest MAC of its ports at start, as
    /// the kernel bridge picks it; a bridge started without ports gets a locally administered
    /// address made from its name (stable across restarts).
    static func spanningTreeAddress(ports: [String], bridge: String) -> MACAddress {
        let macs = ports.compactMap { try? Interface.macAddress(of: $0) }.filter { $0.rawValue != 0 }
        if let lowest = macs.min(by: { $0.rawValue < $1.rawValue }) { return lowest }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for b in bridge.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        // Locally administered, unicast.
        return MACAddress(rawValue: (h & 0xFFFF_FFFF_FFFF & ~0x0100_0000_0000) | 0x0200_0000_0000)
    }
}

extension Bridge {
    func spanningTreeStatus() -> SpanningTreeStatus? {
        options.spanningTree == nil ? nil : controlPlane.spanningTreeStatus.withLock { $0 }
    }

    /// `link set dev X stp_cost N ...`: checked here (a refusal changes nothing), kept per port
    /// name (a port that leaves and comes back keeps them), and handed to the spanning tree.
    func setSpanningTreePort(_ index: Int, _ settings: PortSettings) throws(BridgeError) {
        guard options.spanningTree != nil else {
            throw .invalid("bridge \(options.name) runs no spanning tree (start it with --stp rstp or --stp stp)")
        }
        let name = live.withLock { s in s.config.ports.indices.contains(index) ? s.config.ports[index].name : "" }
        guard !name.isEmpty else { throw .invalid("no port at index \(index)") }
        var c = live.withLock { $0.spanningTreePorts[name] } ?? SpanningTreePortConfiguration()
        try Self.apply(settings, to: &c)
        live.withLock { $0.spanningTreePorts[name] = c }
        controlPlane.send(.spanningTreePort(index: index, c))
        if settings.bpduGuardClear == true { controlPlane.send(.clearBPDUGuard(index: index)) }
    }

    /// The spanning-tree words of `settings` applied to `c`, validated.
    static func apply(_ settings: PortSettings, to c: inout SpanningTreePortConfiguration) throws(BridgeError) {
        if let cost = settings.stpCost { c.pathCost = cost == 0 ? .automatic : .fixed(cost) }
        if let p = settings.stpPriority { c.priority = p }
        if let e = settings.edge { c.adminEdge = e }
        if let e = settings.autoEdge { c.autoEdge = e }
        if let p = settings.p2p {
            guard let v = PointToPointSetting(rawValue: p) else { throw .invalid("p2p takes auto, on or off, not '\(p)'") }
            c.pointToPoint = v
        }
        if let g = settings.bpduGuard { c.bpduGuard = g }
        if let g = settings.rootGuard { c.rootGuard = g }
        do { try c.validate() } catch { throw .invalid("\(error)") }
    }
}
