// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlHandler: what a running bridge answers on its control socket, without the socket.
// It turns a `ControlRequest` into a `ControlResponse` against a `ControlledBridge` — the
// running Bridge, or a fake in tests — so the rules of each command (bridge(8)'s semantics for
// fdb add/del without `vlan`, name resolution, refusals) are tested without sockets or root.
// It runs on the control server's thread: it must be quick and must not block forwarding
// (the table's readers take no lock; captures wait, bounded, for the workers' acknowledgement).

import BridgeControl
import BridgeCore
import MulticastSnooping
import SpanningTree

/// What the control handler needs of a bridge.
protocol ControlledBridge: AnyObject, Sendable {
    var name: String { get }
    var table: MACTable { get }
    /// The configuration as it is now (ports, VLAN filtering).
    var configuration: BridgeConfiguration { get }
    var captures: CaptureRegistry { get }
    /// Whether port `index` has a `--mirror` (a capture cannot share it).
    func hasStaticMirror(port index: Int) -> Bool
    func linkRows() -> [LinkRow]
    func statistics() -> StatsReport
    /// Attaches an interface as a new port; in effect when it returns.
    func attachPort(_ port: PortConfiguration, backend: PortBackend?) throws(BridgeError) -> Int
    /// Detaches a port: its entries flushed, its sockets closed.
    func detachPort(_ name: String) throws(BridgeError)
    /// Applies a change to the configuration (no ports added or removed); in effect when it returns.
    func reconfigure(_ change: (inout BridgeConfiguration) throws(BridgeError) -> Void) throws(BridgeError)
    /// Re-reads the configuration file; applies the difference unless `check`.
    func reload(check: Bool) throws(BridgeError) -> ReloadReport
    /// The busiest source stations, from the workers' samplers.
    func talkers(limit: Int, now: Timestamp) -> TalkersReport
    /// The spanning tree's last snapshot; nil when none runs.
    func spanningTreeStatus() -> SpanningTreeStatus?
    /// Changes port `index`'s spanning-tree settings (already validated).
    func setSpanningTreePort(_ index: Int, _ settings: PortSettings) throws(BridgeError)
    // VXLAN ports (defaults below for bridges without them).
    func vxlanDestinations() -> [Int: [MACAddress: String]]
    func namespaceIdentity() -> String
    func attachVXLAN(_ port: PortConfiguration) throws(BridgeError)
    func detachVXLAN(_ name: String) throws(BridgeError)
    // Multicast snooping.
    /// `mdb show` (nil: snooping is off).
    func multicastStatus() -> MDBStatus?
    /// `mcast_router` / `mcast_fast_leave` of a port by name (nil: unchanged).
    func setMulticastPort(name: String, router: Int?, fastLeave: Bool?) throws(BridgeError)
}

extension ControlledBridge {
    /// A bridge without samplers (test fakes) has no talkers to report.
    func talkers(limit: Int, now: Timestamp) -> TalkersReport {
        TalkersReport(windowSeconds: 0, sampleEvery: 0, talkers: [])
    }
    /// Test fakes run no spanning tree.
    func spanningTreeStatus() -> SpanningTreeStatus? { nil }
    func setSpanningTreePort(_ index: Int, _ settings: PortSettings) throws(BridgeError) {
        throw .invalid("the spanning tree is off (start the bridge with --stp rstp or --stp stp)")
    }
    /// A bridge without snooping (test fakes).
    func multicastStatus() -> MDBStatus? { nil }
    func setMulticastPort(name: String, router: Int?, fastLeave: Bool?) throws(BridgeError) {
        throw .invalid("multicast snooping is off on bridge \(self.name)")
    }
}

// VXLAN ports (issue 17; the running bridge's side is Bridge+VXLAN.swift). Defaults for
// bridges without VXLAN support (test fakes): no remote VTEPs known, attaching refused.
extension ControlledBridge {
    /// Per port slot, the remote VTEP of each inner MAC the port's VXLAN device learned.
    func vxlanDestinations() -> [Int: [MACAddress: String]] { [:] }
    /// The identity of the bridge's network namespace (`VXLANNamespace.current()`).
    func namespaceIdentity() -> String { "" }
    /// Attaches VXLAN device `port.name` (refused for another kind of interface).
    func attachVXLAN(_ port: PortConfiguration) throws(BridgeError) { throw .invalid("this bridge has no VXLAN support") }
    /// Detaches VXLAN port `name` (refused for another kind of port).
    func detachVXLAN(_ name: String) throws(BridgeError) { throw .invalid("this bridge has no VXLAN support") }
}

struct ControlHandler: Sendable {
    let bridge: any ControlledBridge

    func handle(_ request: ControlRequest, now: Timestamp) -> ControlResponse {
        let config = bridge.configuration
        switch request {
        case .fdbShow:
            let destinations = bridge.vxlanDestinations()
            let rows = bridge.table.entries(now: now).map { e in
                var row = FDBRow(e, dev: e.port < config.ports.count ? config.ports[e.port].name : "port\(e.port)",
                                 vlanFiltering: config.vlanFiltering)
                row.dst = destinations[e.port]?[e.mac]
                return row
            }
            return .success(.fdb(rows))
        case .fdbAdd(let text, let dev, let vlan):
            return fdbChange(text, dev: dev, vlan: vlan, config) { mac, port, vid in
                guard let port else { return 0 }
                try bridge.table.addStatic(mac, vlan: vid, port: port)
                return 1
            }
        case .fdbDel(let text, let dev, let vlan):
            return fdbChange(text, dev: dev, vlan: vlan, config) { mac, port, vid in
                if let port, let holder = bridge.table.lookup(mac, vlan: vid), holder != port {
                    return 0  // bridge(8): the entry must be on the named device
                }
                return bridge.table.remove(mac, vlan: vid) ? 1 : 0
            }
        case .fdbFlush(let dev):
            if let dev {
                guard let i = index(of: dev, config) else { return noSuchPort(dev) }
                return .success(.changed(entries: bridge.table.flush(port: i)))
            }
            return .success(.changed(entries: bridge.table.flush()))
        case .linkShow:
            return .success(.links(bridge.linkRows()))
        case .stats:
            return .success(.stats(bridge.statistics()))
        case .captureStart(let spec):
            guard let i = index(of: spec.port, config) else { return noSuchPort(spec.port) }
            switch bridge.captures.start(spec, index: i, mirrored: bridge.hasStaticMirror(port: i)) {
            case .success(let status): return .success(.capture(status))
            case .failure(let f): return .failure(f.message)
            }
        case .captureStatus(let id):
            guard let s = bridge.captures.status(id: id) else { return .failure("no capture \(id) on bridge \(bridge.name)") }
            return .success(.capture(s))
        case .captureStop(let id):
            guard let s = bridge.captures.stop(id: id) else { return .failure("no capture \(id) on bridge \(bridge.name)") }
            return .success(.capture(s))
        case .linkAdd(let dev, let settings):
            var port = PortConfiguration(name: dev)
            var backend: PortBackend? = nil
            if let b = settings.backend {
                guard let parsed = PortBackend(rawValue: b) else { return .failure("backend must be af_packet or pcap") }
                backend = parsed
            }
            if let refusal = Self.apply(settings, to: &port) { return .failure(refusal) }
            return run { () throws(BridgeError) in
                // Kept by name first, so the port starts with them.
                if settings.hasMulticast {
                    try bridge.setMulticastPort(name: dev, router: settings.mcastRouter, fastLeave: settings.mcastFastLeave)
                }
                let slot = try bridge.attachPort(port, backend: backend)
                if settings.hasSpanningTreeSettings { try bridge.setSpanningTreePort(slot, settings) }
            }
        case .linkDel(let dev):
            return run { () throws(BridgeError) in try bridge.detachPort(dev) }
        case .linkSet(let dev, let settings):
            guard settings.backend == nil else { return .failure("a port's backend changes with link del and link add") }
            guard let i = index(of: dev, config) else { return noSuchPort(dev) }
            return run { () throws(BridgeError) in
                if settings.hasSpanningTreeSettings { try bridge.setSpanningTreePort(i, settings) }
                if settings.hasMulticast {
                    if let r = settings.mcastRouter, !(0...2).contains(r) { throw .invalid("mcast_router takes 0, 1 or 2, not \(r)") }
                    try bridge.setMulticastPort(name: dev, router: settings.mcastRouter, fastLeave: settings.mcastFastLeave)
                }
                var rest = settings
                rest.clearSpanningTreeSettings()
                rest.mcastRouter = nil
                rest.mcastFastLeave = nil
                guard !rest.isEmpty else { return }
                try bridge.reconfigure { c throws(BridgeError) in
                    if let refusal = Self.apply(settings, to: &c.ports[i]) { throw .invalid(refusal) }
                }
            }
        case .vlanAdd(let change), .vlanDel(let change):
            guard let i = index(of: change.dev, config) else { return noSuchPort(change.dev) }
            guard change.first >= 1, change.last <= 4094, change.first <= change.last else {
                return .failure("VLAN IDs are 1-4094 (a range N-M with N <= M)")
            }
            var adding = false
            if case .vlanAdd = request { adding = true }
            if adding && change.pvid && change.first != change.last { return .failure("pvid takes a single VLAN, not a range") }
            return run { () throws(BridgeError) in
                try bridge.reconfigure { c in
                    var p = c.ports[i]
                    for v in change.first...change.last {
                        if adding {
                            p.vlans.insert(v)
                            // As bridge(8): the flags given are the VLAN's flags from now on.
                            if change.untagged { p.untaggedVLANs.insert(v) } else { p.untaggedVLANs.remove(v) }
                            if change.pvid { p.pvid = v } else if p.pvid == v { p.pvid = nil }
                        } else {
                            p.vlans.remove(v)
                            p.untaggedVLANs.remove(v)
                            if p.pvid == v { p.pvid = nil }
                        }
                    }
                    c.ports[i] = p
                }
            }
        case .vlanShow(let dev):
            if let dev, index(of: dev, config) == nil { return noSuchPort(dev) }
            let rows = config.ports.filter { !$0.isVacant && (dev == nil || $0.name == dev) }.map {
                VLANRow(dev: $0.name, vlans: $0.vlans.members, pvid: $0.pvid, untagged: $0.untaggedVLANs.members)
            }
            return .success(.vlans(rows))
        case .bridgeSet(let settings):
            if settings.ageing != nil { return .failure("the ageing time changes only with a restart (or reload with a restart)") }
            guard let filtering = settings.vlanFiltering else { return .success(nil) }
            return run { () throws(BridgeError) in try bridge.reconfigure { $0.vlanFiltering = filtering } }
        case .talkers(let limit):
            guard (1...1000).contains(limit) else { return .failure("talkers: limit must be 1...1000") }
            return .success(.talkers(bridge.talkers(limit: limit, now: now)))
        case .stpShow:
            guard let status = bridge.spanningTreeStatus() else {
                return .failure("bridge \(bridge.name) runs no spanning tree (start it with --stp rstp or --stp stp)")
            }
            return .success(.spanningTree(status))
        // Multicast snooping.
        case .mdbShow:
            return .success(.mdb(bridge.multicastStatus() ?? MDBStatus(bridge: bridge.name, snooping: false, querier: false)))
        case .reload(let check):
            do {
                return .success(.reload(try bridge.reload(check: check)))
            } catch {
                return .failure(error.description)
            }
        case .vxlanAttach(let dev, let namespace, let settings):
            if let refusal = checkNamespace(namespace) { return refusal }
            guard settings.backend == nil || settings.backend == "af_packet" else { return .failure("a VXLAN port uses af_packet") }
            var port = PortConfiguration(name: dev)
            if let refusal = Self.apply(settings, to: &port) { return .failure(refusal) }
            return run { () throws(BridgeError) in try bridge.attachVXLAN(port) }
        case .vxlanDetach(let dev, let namespace):
            if let refusal = checkNamespace(namespace) { return refusal }
            return run { () throws(BridgeError) in try bridge.detachVXLAN(dev) }
        }
    }

    /// A VXLAN device is created by the client (`swbridge vxlan add`) in its own namespace: it
    /// must be the bridge's, or the bridge would attach (or the client delete) another
    /// interface of the same name.
    private func checkNamespace(_ client: String) -> ControlResponse? {
        let own = bridge.namespaceIdentity()
        guard client != own else { return nil }
        return .failure("swbridge vxlan must run in the network namespace of bridge \(bridge.name) (namespace \(own), the command runs in \(client.isEmpty ? "an unknown one" : client): use ip netns exec)")
    }

    /// Runs a change; its refusal becomes the answer.
    private func run(_ body: () throws(BridgeError) -> Void) -> ControlResponse {
        do {
            try body()
            return .success(nil)
        } catch {
            return .failure(error.description)
        }
    }

    /// Applies `link add|set` words to a port; returns a refusal, or nil.
    static func apply(_ settings: PortSettings, to port: inout PortConfiguration) -> String? {
        for (name, on) in settings.flagValues {
            guard let flag = PortFlags.names.first(where: { $0.0 == name })?.1 else { return "unknown flag \(name)" }
            if on { port.flags.insert(flag) } else { port.flags.remove(flag) }
        }
        switch settings.state {
        case nil: break
        case "forwarding"?: port.state = .forwarding
        case "disabled"?: port.state = .disabled
        case let s?: return "state must be forwarding or disabled, not '\(s)'"
        }
        return nil
    }

    private func index(of dev: String, _ config: BridgeConfiguration) -> Int? {
        config.ports.firstIndex { $0.name == dev }
    }

    private func noSuchPort(_ dev: String) -> ControlResponse {
        .failure("no port named '\(dev)' on bridge \(bridge.name)")
    }

    /// Parses an fdb add/del request and applies `body` per VLAN: the named VLAN, or (as
    /// bridge(8) does without `vlan`) every VLAN of the port with filtering on, VLAN 0 without.
    private func fdbChange(
        _ text: String, dev: String?, vlan: UInt16?, _ config: BridgeConfiguration,
        _ body: (MACAddress, Int?, UInt16) throws -> Int
    ) -> ControlResponse {
        let mac: MACAddress
        do { mac = try MACAddress(parsing: text) } catch { return .failure(error.description) }
        var port: Int? = nil
        if let dev {
            guard let i = index(of: dev, config) else { return noSuchPort(dev) }
            port = i
        }
        var vlans: [UInt16]
        if let vlan {
            guard vlan >= 1 && vlan <= 4094 || (vlan == 0 && !config.vlanFiltering) else {
                return .failure("VLAN \(vlan) is out of range (1-4094)")
            }
            vlans = [vlan]
        } else if config.vlanFiltering, let port {
            vlans = config.ports[port].vlans.members
        } else {
            vlans = [0]
        }
        if !config.vlanFiltering && vlans != [0] {
            return .failure("VLAN filtering is off on \(bridge.name): entries have no VLAN")
        }
        var changed = 0
        do {
            for v in vlans { changed += try body(mac, port, v) }
        } catch let e as FDBError {
            return .failure(e.description)
        } catch {
            return .failure("\(error)")
        }
        return .success(.changed(entries: changed))
    }
}
