// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// rtnetlink against the real kernel, in lab namespaces (random prefix, torn down on every
// path): a LinkMonitor opened inside a namespace sees a veth created, renamed, brought up
// (carrier, operstate UP), given a new MTU, taken down and deleted, each event waited for by
// polling its descriptor with a deadline, and one that leaves for another namespace is a
// deletion there; a receive queue too small for a burst of changes
// reports `.resyncNeeded` and the resync dump has the final state. A veth whose other end
// is in a named namespace resolves to that namespace's name, the peer's index and name (and
// in the same namespace, to no namespace id); loopback is not Ethernet; a port of a kernel
// bridge reports its master.

import Foundation
import LabKit
import PacketIO
import Testing

@Suite("rtnetlink", .serialized)
struct NetlinkTests {
    /// Events of a monitor, consumed in order: `next` drains until an event satisfies its
    /// predicate, polling the descriptor until the deadline; events after the match (from the
    /// same drain) stay queued for the next call.
    final class Events {
        let monitor: LinkMonitor
        private var queued: [LinkEvent] = []

        init(_ monitor: LinkMonitor) { self.monitor = monitor }

        @discardableResult
        func next(_ what: String, seconds: Double = 10, _ predicate: (LinkEvent) -> Bool) throws -> LinkEvent {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            var seen: [LinkEvent] = []
            while true {
                queued += try monitor.drain()
                while !queued.isEmpty {
                    let event = queued.removeFirst()
                    seen.append(event)
                    if predicate(event) { return event }
                }
                let left = deadline - ContinuousClock.now
                guard left > .zero else { break }
                _ = monitor.waitForEvents(timeoutMilliseconds: Int32(min(left / .milliseconds(1), 60_000)) + 1)
            }
            throw EventTimeout(what: what, seen: seen)
        }
    }

    struct EventTimeout: Error, CustomStringConvertible {
        var what: String
        var seen: [LinkEvent]
        var description: String { "no event '\(what)' within the deadline; seen: \(seen)" }
    }

    /// The LinkInfo of a `.newLink` event for `index`, or nil.
    static func link(_ event: LinkEvent, index: Int32) -> LinkInfo? {
        if case .newLink(let info) = event, info.index == index { return info }
        return nil
    }

    @Test("link events: create, rename, up, carrier, MTU, down, delete, leaving the namespace", .privileged, .timeLimit(.minutes(3)))
    func linkEvents() throws {
        let lab = try Lab()
        defer { lab.teardown() }
        let ns = try lab.addNamespace("nl")
        let monitor = try lab.withNetworkNamespace(ns) { try LinkMonitor() }
        defer { monitor.close() }
        let events = Events(monitor)
        let before = try monitor.currentLinks()
        #expect(before.contains { $0.name == "lo" && $0.isLoopback && $0.isUp })

        let a = try lab.interfaceName("a"), b = try lab.interfaceName("b"), renamed = try lab.interfaceName("r")
        try lab.addVethPair(a, in: ns, b, in: ns, up: false)
        let created = try events.next("\(a) created") {
            if case .newLink(let l) = $0 { return l.name == a } else { return false }
        }
        guard case .newLink(let info) = created else { return }
        #expect(info.isVeth && info.isEthernet && !info.isUp && !info.isRunning)
        #expect(info.mtu == 1500 && info.hardwareAddress.count == 6 && info.masterIndex == nil)
        #expect(info.linkNamespaceID == nil, "both ends are in one namespace")
        let bIndex = try monitor.link(name: b).index
        #expect(info.linkIndex == bIndex)
        let index = info.index
        #expect(try monitor.currentLinks().contains { $0.index == index && $0.name == a })

        try lab.mustRun(["ip", "link", "set", a, "name", renamed], in: ns)
        try events.next("renamed to \(renamed)") { Self.link($0, index: index)?.name == renamed }

        try lab.mustRun(["ip", "link", "set", renamed, "up"], in: ns)
        try events.next("\(renamed) up") { Self.link($0, index: index)?.isUp == true }
        // Carrier comes when the peer is up too; operstate follows through linkwatch.
        try lab.mustRun(["ip", "link", "set", b, "up"], in: ns)
        try events.next("\(renamed) running, operstate UP") {
            guard let l = Self.link($0, index: index) else { return false }
            return l.isRunning && l.hasCarrier && l.operState == .up
        }

        try lab.mustRun(["ip", "link", "set", renamed, "mtu", "1400"], in: ns)
        try events.next("MTU 1400") { Self.link($0, index: index)?.mtu == 1400 }

        try lab.mustRun(["ip", "link", "set", renamed, "down"], in: ns)
        try events.next("\(renamed) down") {
            guard let l = Self.link($0, index: index) else { return false }
            return !l.isUp && !l.isRunning && l.operState == .down
        }

        try lab.mustRun(["ip", "link", "del", renamed], in: ns)
        // Deleting one end deletes the pair: an RTM_DELLINK for each.
        var gone: Set<String> = []
        try events.next("\(renamed) and \(b) deleted") {
            if $0 == .deletedLink(index: index, name: renamed) || $0 == .deletedLink(index: bIndex, name: b) {
                if case .deletedLink(_, let name) = $0 { gone.insert(name) }
            }
            return gone.count == 2
        }
        // Leaving the namespace is a deletion here too (the interface lives on elsewhere).
        let other = try lab.addNamespace("nl2")
        let c = try lab.interfaceName("c"), d = try lab.interfaceName("d")
        try lab.addVethPair(c, in: ns, d, in: ns, up: false)
        let cIndex = try monitor.link(name: c).index
        try lab.mustRun(["ip", "link", "set", c, "netns", other], in: ns)
        try events.next("\(c) left for \(other)") { $0 == .deletedLink(index: cIndex, name: c) }
        #expect(try lab.withNetworkNamespace(other) { try LinkInfo.query(name: c).isVeth })

        let after = try monitor.currentLinks()
        #expect(!after.contains { $0.index == index || $0.index == bIndex })
        #expect(throws: NetlinkError.noSuchInterface(renamed)) { _ = try monitor.link(name: renamed) }
        #expect(throws: NetlinkError.noSuchInterface("ifindex \(index)")) { _ = try monitor.link(ifindex: index) }
    }

    @Test("an overflowing event queue says resync, and the resync dump has the final state", .privileged, .timeLimit(.minutes(3)))
    func overflowResync() throws {
        let lab = try Lab()
        defer { lab.teardown() }
        let ns = try lab.addNamespace("nl")
        let a = try lab.interfaceName("a"), b = try lab.interfaceName("b")
        try lab.addVethPair(a, in: ns, b, in: ns, up: false)
        // The smallest receive queue the kernel allows holds only a few link messages.
        let monitor = try lab.withNetworkNamespace(ns) { try LinkMonitor(receiveBufferSize: 1) }
        defer { monitor.close() }
        let events = Events(monitor)
        // 200 MTU changes in one `ip -batch`, none drained meanwhile.
        let batch = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)-mtu.batch")
        defer { try? FileManager.default.removeItem(at: batch) }
        try (0..<200).map { "link set \(a) mtu \(1300 + $0)" }.joined(separator: "\n")
            .write(to: batch, atomically: true, encoding: .utf8)
        try lab.mustRun(["ip", "-batch", batch.path], in: ns)
        try events.next("resync needed") { $0 == .resyncNeeded }
        #expect(monitor.malformedDatagrams == 0)
        let links = try monitor.resync()
        #expect(links.first { $0.name == a }?.mtu == 1499)
    }

    @Test("a veth's peer in a named namespace: its namespace, index and name", .privileged, .timeLimit(.minutes(3)))
    func vethPeerInNamedNamespace() throws {
        let lab = try Lab()
        defer { lab.teardown() }
        let br = try lab.addNamespace("br"), host = try lab.addNamespace("h1")
        let port = try lab.interfaceName("p0"), far = try lab.interfaceName("h0")
        try lab.addVethPair(port, in: br, far, in: host)
        let farIndex = try lab.withNetworkNamespace(host) { try LinkInfo.query(name: far).index }
        #expect(try lab.withNetworkNamespace(host) { NetworkNamespaceNames.current() } == host)

        let (info, byName, byIndex) = try lab.withNetworkNamespace(br) {
            let info = try LinkInfo.query(name: port)
            return (info, try VethPeer.query(name: port), try VethPeer.query(ifindex: info.index))
        }
        #expect(info.isVeth && info.linkIndex == farIndex && info.linkNamespaceID != nil)
        let all = try lab.withNetworkNamespace(br) { try LinkInfo.all() }
        #expect(all.map(\.name).contains(port) && all.contains { $0.name == "lo" } && all == all.sorted { $0.index < $1.index })
        let peer = try #require(byName)
        #expect(peer.ifindex == farIndex)
        #expect(peer.name == far)
        #expect(peer.namespaceName == host)
        #expect(peer.namespaceID == info.linkNamespaceID)
        #expect(byIndex == peer)

        // Both ends in one namespace: no namespace id, and the namespace is ours (by inode).
        let s = try lab.interfaceName("s0"), t = try lab.interfaceName("t0")
        try lab.addVethPair(s, in: br, t, in: br)
        let (local, tIndex, notVeth) = try lab.withNetworkNamespace(br) {
            (try VethPeer.query(name: s), try LinkInfo.query(name: t).index, try VethPeer.query(name: "lo"))
        }
        #expect(local == VethPeer(ifindex: tIndex, name: t, namespaceID: nil, namespaceName: br))
        #expect(notVeth == nil)
    }

    @Test("loopback is not Ethernet; a kernel bridge's port reports its master", .privileged, .timeLimit(.minutes(3)))
    func loopbackAndMaster() throws {
        let lab = try Lab()
        defer { lab.teardown() }
        let ns = try lab.addNamespace("nl")
        let a = try lab.interfaceName("a"), b = try lab.interfaceName("b"), bridge = try lab.interfaceName("kb")
        try lab.addVethPair(a, in: ns, b, in: ns)
        let monitor = try lab.withNetworkNamespace(ns) { try LinkMonitor() }
        defer { monitor.close() }
        let events = Events(monitor)

        let lo = try monitor.link(name: "lo")
        #expect(lo.isLoopback && !lo.isEthernet && lo.linkType == 772 && lo.kind == nil && lo.index == 1)
        #expect(try monitor.link(ifindex: 1) == lo)
        #expect(try monitor.link(name: a).masterIndex == nil)

        try lab.mustRun(["ip", "link", "add", bridge, "type", "bridge"], in: ns)
        try lab.mustRun(["ip", "link", "set", a, "master", bridge], in: ns)
        let master = try monitor.link(name: bridge)
        #expect(master.kind == "bridge" && master.isEthernet)
        let port = try monitor.link(name: a)
        #expect(port.masterIndex == master.index)
        #expect(port.portKind == "bridge")
        #expect(port.kind == "veth")
        // The enslaving is an event too.
        try events.next("\(a) enslaved") { Self.link($0, index: port.index)?.masterIndex == master.index }

        // What `swbridge run --port` can refuse with, as the kernel bridge does.
        let socket = try lab.withNetworkNamespace(ns) { try NetlinkSocket() }
        #expect(try socket.bridgePortRefusal(name: "lo") == .loopback(name: "lo"))
        #expect(try socket.bridgePortRefusal(name: b) == nil)
        let refusal = try socket.bridgePortRefusal(name: a)
        #expect(refusal == .enslaved(name: a, masterIndex: master.index, masterName: bridge, masterKind: "bridge"))
        #expect(refusal?.description == "'\(a)' is already enslaved to kernel bridge '\(bridge)' (ifindex \(master.index)): release it first (ip link set \(a) nomaster)")
        let tun = try lab.interfaceName("tun")
        try lab.mustRun(["ip", "tuntap", "add", "dev", tun, "mode", "tun"], in: ns)
        #expect(try socket.bridgePortRefusal(name: tun) == .notEthernet(name: tun, linkType: 0xFFFE))
        #expect(BridgePortRefusal.notEthernet(name: tun, linkType: 0xFFFE).description.contains("link/none"))
        try lab.mustRun(["ip", "tuntap", "add", "dev", tun + "e", "mode", "tap"], in: ns)
        #expect(try socket.bridgePortRefusal(name: tun + "e") == nil)

        #expect(throws: NetlinkError.noSuchInterface("swbnosuchif0")) { _ = try monitor.link(name: "swbnosuchif0") }
        #expect(throws: NetlinkError.noSuchInterface("a-name-longer-than-15")) { _ = try monitor.link(name: "a-name-longer-than-15") }
    }
}
