// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// A bridge that changes while it forwards: ports attached and detached (`link add|del`), port
// flags and VLANs changed (`link set`, `vlan add|del`), VLAN filtering switched, and a
// configuration file re-applied (`reload`). Every change is made under `changing` (one at a
// time, the supervisor's re-attaches included), builds the new configuration first and checks
// it whole, and only then touches sockets and workers; a refused change changes nothing. A
// change is in effect in every worker when the call returns (WorkerGroup.sendAndWait), so
// the frame that follows `link add` is forwarded. Ports that did not change keep their
// sockets, their learned entries and their traffic.

import BridgeControl
import BridgeCore
import Foundation
import PacketIO

#if canImport(Glibc)
import Glibc
#endif

/// A port claim: an exclusive flock on `<run dir>/ports/<netns>-<ifindex>.lock`, held while the
/// port is on this bridge, so two swbridges never take one interface. The kernel drops it
/// when the process ends, however it ends.
struct PortClaim {
    let fd: Int32
    let path: String

    func release() {
        unlink(path)
        Glibc.close(fd)
    }
}

extension Bridge {
    /// Checks that `name` can become a port (an Ethernet interface of this namespace, not a
    /// loopback, not enslaved to a kernel bridge or bond, not a port of another swbridge) and
    /// claims it. Throws a message for the user.
    static func admit(_ name: String, runDirectory: String) throws(BridgeError) -> PortClaim {
        let ifindex: Int32
        do { ifindex = try Interface.index(of: name) } catch {
            throw .invalid("port \(name): no such interface '\(name)' in this network namespace")
        }
        // As the kernel bridge's br_add_if: no loopback, nothing but Ethernet, nothing enslaved.
        do {
            if let refusal = try NetlinkSocket().bridgePortRefusal(name: name) { throw BridgeError.invalid(refusal.description) }
        } catch let e as BridgeError {
            throw e
        } catch {
            throw .invalid("\(name): \(error)")
        }
        let dir = runDirectory + "/ports"
        for d in [runDirectory, dir] where mkdir(d, 0o700) != 0 && errno != EEXIST {
            throw .invalid("cannot create \(d): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        let ns = stat("/proc/thread-self/ns/net", &st) == 0 ? UInt64(st.st_ino) : 0
        let path = "\(dir)/\(ns)-\(ifindex).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .invalid("cannot create \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw .invalid("\(name) is already a port of another swbridge")
        }
        return PortClaim(fd: fd, path: path)
    }

    // MARK: - Ports

    /// Attaches interface `port.name` as a new port. Returns its slot.
    @discardableResult
    func attachPort(_ port: PortConfiguration, backend: PortBackend?) throws(BridgeError) -> Int {
        try changing.withLock { _ throws(BridgeError) in try attachPortLocked(port, backend: backend) }
    }

    private func attachPortLocked(_ port: PortConfiguration, backend requested: PortBackend?) throws(BridgeError) -> Int {
        let backend = requested ?? options.defaultBackend
        let (existing, slot, count) = live.withLock { s in
            (s.index(of: port.name), s.config.ports.firstIndex(where: \.isVacant) ?? s.config.ports.count, s.portCount)
        }
        guard existing == nil else { throw .invalid("\(port.name) is already a port of bridge \(options.name)") }
        guard count < options.maxPorts, slot < PortSet.capacity else {
            throw .invalid("bridge \(options.name) has its maximum of \(options.maxPorts) ports")
        }
        guard backend == .afPacket || workers.count == 1 else {
            throw .invalid("backend=pcap ports work with one forwarding thread (libpcap has no fanout)")
        }
        var next = live.withLock { $0.config }
        if slot == next.ports.count { next.ports.append(port) } else { next.ports[slot] = port }
        do { try next.validate() } catch { throw .invalid(error.description) }
        let claim = try Self.admit(port.name, runDirectory: options.runDirectory)
        let opened: [any PortSocket]
        do {
            opened = try Self.openPorts(port.name, count: workers.count, backend: backend, options, ports: count + 1)  // closes them on failure
        } catch {
            claim.release()
            // The interface may have vanished between the check and the open.
            throw error as? BridgeError ?? .invalid("\(port.name): \(error)")
        }
        live.withLock { s in
            var rt = PortRuntime(attached: true)
            rt.ifindex = opened.first?.boundInterfaceIndex ?? 0
            rt.spanningTree = initialSpanningTreeGate()
            if slot == s.config.ports.count {
                s.config.ports.append(port)
                s.runtime.append(rt)
                s.claims.append(claim)
            } else {
                s.config.ports[slot] = port
                s.runtime[slot] = rt
                s.claims[slot] = claim
            }
            s.backends[port.name] = backend
        }
        let config = engineConfiguration()
        group.sendAndWait { w in [.attach(index: slot, PortHandoff(port: opened[w])), .apply(config)] }
        announcePort(slot)
        sendVLANView()
        logger.info("port \(port.name): attached (slot \(slot), \(backend.rawValue))")
        return slot
    }

    /// Detaches port `name`: no frame goes to or comes from it once this returns; its learned
    /// and static entries are gone, its captures stopped, its sockets closed.
    func detachPort(_ name: String) throws(BridgeError) {
        try changing.withLock { _ throws(BridgeError) in try detachPortLocked(name) }
    }

    private func detachPortLocked(_ name: String) throws(BridgeError) {
        guard let slot = live.withLock({ $0.index(of: name) }) else { throw .invalid("no port named '\(name)' on bridge \(options.name)") }
        let claim = live.withLock { s -> PortClaim? in
            let name = s.config.ports[slot].name
            s.config.ports[slot] = .vacant
            s.runtime[slot] = PortRuntime(attached: false)
            s.backends[name] = nil
            defer { s.claims[slot] = nil }
            return s.claims[slot]
        }
        let config = engineConfiguration()
        // Disabled first, then closed: no worker forwards to a socket another one closed.
        group.sendAndWait { _ in [.apply(config), .detach(index: slot)] }
        if controlPlane.isEnabled { controlPlane.send(.removePort(index: slot)) }
        captures.stopAll(index: slot)
        let flushed = table.flush(port: slot, includingStatic: true)
        claim?.release()
        logger.info("port \(name): detached (\(flushed) entries flushed)")
    }

    /// Changes the configuration (ports' flags, state, VLANs; VLAN filtering) with `change`,
    /// checks it whole, and makes the engines use it. Throws (changing nothing) if `change`
    /// throws or the result is invalid.
    func reconfigure(_ change: (inout BridgeConfiguration) throws(BridgeError) -> Void) throws(BridgeError) {
        try changing.withLock { _ throws(BridgeError) in try reconfigureLocked(change) }
    }

    private func reconfigureLocked(_ change: (inout BridgeConfiguration) throws(BridgeError) -> Void) throws(BridgeError) {
        let before = live.withLock { $0.config }
        var next = before
        try change(&next)
        do { try next.validate() } catch { throw .invalid(error.description) }
        guard next.ports.count == before.ports.count,
            zip(next.ports, before.ports).allSatisfy({ $0.name == $1.name })
        else { preconditionFailure("reconfigure must not add, remove or rename ports") }
        live.withLock { $0.config = next }
        let config = engineConfiguration()
        group.sendAndWait { _ in [.apply(config)] }
        sendVLANView()
        if next.vlanFiltering != before.vlanFiltering {
            // Learned entries are keyed by VLAN with filtering on and by VLAN 0 without: the old
            // keys would never match again.
            let flushed = table.flush()
            logger.info("VLAN filtering \(next.vlanFiltering ? "on" : "off"): \(flushed) learned entries flushed")
        }
    }

    // MARK: - Reload

    /// Re-reads the configuration file and applies the difference (or only reports it).
    func reload(check: Bool) throws(BridgeError) -> ReloadReport {
        guard let path = options.configFile else {
            throw .invalid("bridge \(options.name) was not started with --config: nothing to reload")
        }
        let file: BridgeFile
        do { file = try ConfigFile.load(path: path) } catch { throw .invalid("\(path): \(error)") }
        return try changing.withLock { _ throws(BridgeError) -> ReloadReport in
            let (running, ports, statics) = live.withLock { s -> (BridgeOptions, [ConfiguredPort], [ConfiguredStaticEntry]) in
                var o = options
                o.bridge = s.config
                let ports = s.config.ports.filter { !$0.isVacant }.map {
                    ConfiguredPort(port: $0, backend: s.backends[$0.name], spanningTree: s.spanningTreePorts[$0.name],
                                   multicast: s.multicastPorts[$0.name])
                }
                return (o, ports, s.fileStatics)
            }
            let diff = ConfigDiff(running: running, ports: ports, statics: statics, file: file)
            guard !diff.needsRestart.isEmpty || check else {
                return try applyLocked(diff, file: file, path: path)
            }
            if !diff.needsRestart.isEmpty && !check {
                throw .invalid("\(path): \(diff.needsRestart.joined(separator: ", ")) can change only with a restart; nothing was changed")
            }
            return ReloadReport(file: path, changes: diff.lines, applied: false)
        }
    }

    private func applyLocked(_ diff: ConfigDiff, file: BridgeFile, path: String) throws(BridgeError) -> ReloadReport {
        // Check the new port set before touching anything: admission failures are the likely ones.
        for p in diff.portsAdded {
            do { try Interface.index(of: p.port.name) } catch { throw .invalid("\(path): port \(p.port.name): no such interface; nothing was changed") }
        }
        // Multicast flags are kept by port name: set first, a port added below starts with them.
        for c in diff.multicastPortsChanged {
            try setMulticastPort(name: c.name, router: c.flags.router.rawValue, fastLeave: c.flags.fastLeave)
        }
        for e in diff.staticRemoved { _ = removeStatic(e) }
        for name in diff.portsRemoved { try detachPortLocked(name) }
        if !diff.portsChanged.isEmpty || diff.vlanFiltering != nil {
            try reconfigureLocked { config throws(BridgeError) in
                for c in diff.portsChanged {
                    guard let i = config.ports.firstIndex(where: { $0.name == c.name }) else { continue }
                    config.ports[i] = c.new
                }
                if let v = diff.vlanFiltering { config.vlanFiltering = v }
            }
        }
        for (name, st) in diff.spanningTreePortsChanged {
            live.withLock { $0.spanningTreePorts[name] = st }
            if let i = live.withLock({ $0.index(of: name) }), controlPlane.isEnabled { controlPlane.send(.spanningTreePort(index: i, st)) }
        }
        for p in diff.portsAdded {
            if let st = p.spanningTree { live.withLock { $0.spanningTreePorts[p.port.name] = st } }
            try attachPortLocked(p.port, backend: p.backend)
        }
        var failed: [String] = []
        for e in diff.staticAdded where !addStatic(e) { failed.append("\(e)") }
        live.withLock { $0.fileStatics = file.staticFDB.filter { e in !failed.contains("\(e)") } }
        logger.info("reloaded \(path): \(diff.lines.isEmpty ? "no change" : diff.lines.joined(separator: "; "))")
        if !failed.isEmpty { throw .invalid("\(path): applied, but these static entries were refused: \(failed.joined(separator: ", "))") }
        return ReloadReport(file: path, changes: diff.lines, applied: true)
    }

    private func staticKeys(_ e: ConfiguredStaticEntry) -> (Int, [UInt16])? {
        live.withLock { s in
            guard let i = s.index(of: e.dev) else { return nil }
            return (i, e.vlan.map { [$0] } ?? (s.config.vlanFiltering ? s.config.ports[i].vlans.members : [0]))
        }
    }

    private func addStatic(_ e: ConfiguredStaticEntry) -> Bool {
        guard let (i, vlans) = staticKeys(e) else { return false }
        do {
            for v in vlans { try table.addStatic(e.mac, vlan: v, port: i) }
        } catch {
            return false
        }
        return true
    }

    private func removeStatic(_ e: ConfiguredStaticEntry) -> Bool {
        guard let (i, vlans) = staticKeys(e) else { return false }
        var removed = false
        for v in vlans where table.lookup(e.mac, vlan: v) == i { removed = table.remove(e.mac, vlan: v) || removed }
        return removed
    }
}
