// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlPlane: the one thread that runs the bridge's protocols — the spanning tree
// (SpanningTree) and multicast snooping (MulticastSnooping) — off the forwarding path. It owns
// both protocol cores (neither is thread-safe); everything reaches it as a message:
// - control frames the engines punted (BPDUs, IGMP/MLD), copied by each forwarding thread into
//   its own ControlFrameQueue (a bounded ring: a flood is counted, never grows memory);
// - port and setting changes (`send`), from the control thread and the supervisor;
// - time: it sleeps until the next spanning-tree second or snooping deadline.
// What comes out: port states for the engines (through `ControlPlaneHost`, which recompiles
// the engines' configuration and, for a port that stops forwarding, waits until every worker
// has applied it, as 802.1D 17.21.3's disableForwarding requires before an agreement goes
// out), flushes of learned entries, frames to send (BPDUs, queries: one unbound packet socket,
// `FrameSender`), log lines, and snapshots for `stp show` / `mdb show` published after every
// input (the control thread never calls into the protocol cores).

import BridgeCore
import Logging
import MulticastSnooping
import PacketIO
import SpanningTree
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A port as the control plane knows it.
struct ControlPlanePort: Sendable {
    var name: String
    var ifindex: Int32
    var address: MACAddress
    var spanningTree: SpanningTreePortConfiguration
    var multicast: MulticastPortFlags
    var up: Bool
    /// The link's speed (Mb/s) for the automatic path cost; nil when the driver reports none (veth).
    var megabitsPerSecond: UInt64? = nil
    /// Full duplex (or unknown, as for veth): point-to-point for RSTP's `p2p auto`.
    var fullDuplex = true
}

/// A change for the control plane, from the control thread or the supervisor.
enum ControlPlaneCommand: Sendable {
    /// Port slot `index` joined the bridge (or its interface came back).
    case addPort(index: Int, ControlPlanePort)
    /// Port slot `index` left the bridge.
    case removePort(index: Int)
    /// The interface of port `index` went up or down, or got a new ifindex.
    case link(index: Int, ifindex: Int32, up: Bool)
    case spanningTreeConfiguration(SpanningTreeBridgeConfiguration)
    case spanningTreePort(index: Int, SpanningTreePortConfiguration)
    /// Clears a port's tripped BPDU guard (`link set dev X bpdu_guard_clear`).
    case clearBPDUGuard(index: Int)
    case multicastPort(index: Int, MulticastPortFlags)
    case multicastConfiguration(MulticastSnoopingConfiguration)
    /// The bridge's VLAN view changed (filtering, memberships): the snooper sends queries by it.
    case vlanView(ControlPlaneVLANView)
    case stop
}

/// What a query for a VLAN needs to know to leave the right ports, tagged or not.
struct ControlPlaneVLANView: Sendable {
    var vlanFiltering = false
    var vlanProtocol: UInt16 = EtherType.vlan
    /// Per port index: VLANs it is a member of and those it sends untagged.
    var members: [Int: (vlans: VLANSet, untagged: VLANSet)] = [:]
}

/// What the control plane asks of the bridge it serves.
protocol ControlPlaneHost: AnyObject, Sendable {
    /// The spanning tree's port states, for the engines. With `wait`, returns only when every
    /// forwarding thread runs with them.
    func applySpanningTreeStates(_ states: [(port: Int, gate: SpanningTreeGate)], wait: Bool)
    /// Flushes the learned (not static) entries of a port; returns how many went.
    func flushLearned(port: Int) -> Int
}

final class ControlPlane: @unchecked Sendable {
    /// One per forwarding thread (its ForwardingPass is the producer).
    let queues: [ControlFrameQueue]
    let logger: Logger
    weak var host: (any ControlPlaneHost)?

    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let inbox = Mutex<[ControlPlaneCommand]>([])
    private let sender: FrameSender?
    private let done = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)

    // Owned by the control-plane thread.
    private var spanningTree: SpanningTreeBridge?
    var snooper: MulticastSnooper?
    var ports: [Int: ControlPlanePort] = [:]
    var vlanView = ControlPlaneVLANView()
    private var nextSpanningTreeTick: UInt64 = 0

    /// `stp show`: the last snapshot (nil: no spanning tree).
    let spanningTreeStatus = Mutex<SpanningTreeStatus?>(nil)
    /// Frames a protocol wanted sent that could not be (no such port, a send error).
    let sendFailures = Atomic<UInt64>(0)
    /// `mdb show` and the snooping counters (nil: no snooping); see ControlPlane+Multicast.
    let multicastSnapshot = Mutex<MulticastSnapshot?>(nil)
    /// When `multicastSnapshot` was last rebuilt (ms).
    let multicastPublished = Atomic<UInt64>(0)
    let bridgeName: String

    /// `spanningTree`: the bridge address and settings when a spanning tree runs.
    /// `snooping`: the snooper's settings when snooping runs (its table is `multicastTable`).
    init(bridge: String, workers: Int, spanningTree: (address: MACAddress, configuration: SpanningTreeBridgeConfiguration)?,
         snooping: MulticastSnoopingConfiguration?, multicastTable: MulticastGroupTable?, logger: Logger) throws {
        self.logger = logger
        bridgeName = bridge
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BridgeError.invalid("control plane: pipe: errno \(errno)") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
        let w = wakeWrite
        queues = (0..<workers).map { _ in
            ControlFrameQueue(capacity: 256) {
                var b: UInt8 = 1
                _ = write(w, &b, 1)
            }
        }
        let now = monotonicNow()
        if let st = spanningTree {
            do {
                self.spanningTree = try SpanningTreeBridge(address: st.address, configuration: st.configuration, now: now)
            } catch { throw BridgeError.invalid("spanning tree: \(error)") }
        }
        if let snooping {
            do {
                snooper = try MulticastSnooper(configuration: snooping, table: multicastTable, now: now)
            } catch { throw BridgeError.invalid("multicast snooping: \(error)") }
        }
        sender = (spanningTree != nil || snooping != nil) ? try FrameSender() : nil
        nextSpanningTreeTick = now.milliseconds + 1000
        publish(now: now)
    }

    deinit {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    var isEnabled: Bool { sender != nil }
    var isRunning: Bool { running.load(ordering: .acquiring) }
    var isDone: Bool { done.load(ordering: .acquiring) }

    /// Queues a change and wakes the thread.
    func send(_ command: ControlPlaneCommand) {
        inbox.withLock { $0.append(command) }
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    /// The thread body; returns after `.stop`.
    func run() {
        running.store(true, ordering: .releasing)
        var stopping = false
        while !stopping {
            let now = monotonicNow().milliseconds
            // Until the next spanning-tree second or snooping deadline; with neither, until
            // woken (an idle bridge without a tree costs no wake-ups).
            var timeout: UInt64? = spanningTree != nil ? (nextSpanningTreeTick > now ? nextSpanningTreeTick - now : 0) : nil
            if let d = snooper?.nextDeadline?.milliseconds { timeout = min(timeout ?? .max, d > now ? d - now : 0) }
            var pfd = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, timeout.map { Int32(min($0, 60_000)) } ?? -1)
            var sink = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &sink, sink.count) > 0 {}

            let commands = inbox.withLock { box -> [ControlPlaneCommand] in
                defer { box.removeAll() }
                return box
            }
            for c in commands {
                if case .stop = c { stopping = true; break }
                handle(c, now: monotonicNow())
            }
            if stopping { break }
            for q in queues {
                q.drain { bytes, port, vlan, kind in
                    let t = monotonicNow()
                    switch kind {
                    case .spanningTree:
                        if let st = spanningTree { apply(st.receive(frame: bytes, port: port, now: t)) }
                    case .multicast:
                        if let s = snooper { apply(s.receive(frame: bytes, port: port, vlan: vlan, now: t)) }
                    case .none: break
                    }
                }
            }
            let t = monotonicNow()
            if let st = spanningTree, t.milliseconds >= nextSpanningTreeTick {
                apply(st.tick(now: t))
                // The next whole second after this one (a late wake-up does not drift the grid).
                nextSpanningTreeTick += ((t.milliseconds - nextSpanningTreeTick) / 1000 + 1) * 1000
            }
            if let s = snooper, let d = s.nextDeadline, d.milliseconds <= t.milliseconds { apply(s.tick(now: t)) }
            publish(now: t)
        }
        done.store(true, ordering: .releasing)
    }

    private func handle(_ command: ControlPlaneCommand, now: Timestamp) {
        switch command {
        case .addPort(let index, let port):
            // An interface that came back is announced again: the tree keeps its port (a link
            // down while it was gone) and hears that its link is up.
            let known = ports[index]?.name == port.name
            ports[index] = port
            if let st = spanningTree {
                do {
                    if !known {
                        apply(try st.addPort(index, address: port.address, name: port.name, configuration: port.spanningTree, now: now))
                    }
                    apply(try st.setLink(index, up: port.up, pointToPoint: port.fullDuplex, megabitsPerSecond: port.megabitsPerSecond,
                                         now: now))
                } catch { logger.error("spanning tree: port \(port.name): \(error)") }
            }
            if let s = snooper, !known { apply(s.setPort(index, flags: port.multicast, now: now)) }
        case .removePort(let index):
            let name = ports[index]?.name ?? "\(index)"
            ports[index] = nil
            if let st = spanningTree {
                do { apply(try st.removePort(index, now: now)) } catch { logger.debug("spanning tree: port \(name): \(error)") }
            }
            if let s = snooper { apply(s.removePort(index, now: now)) }
        case .link(let index, let ifindex, let up):
            guard var p = ports[index] else { return }
            let changed = p.up != up
            p.ifindex = ifindex
            p.up = up
            ports[index] = p
            if changed, let st = spanningTree {
                do {
                    apply(try st.setLink(index, up: up, pointToPoint: p.fullDuplex, megabitsPerSecond: p.megabitsPerSecond, now: now))
                } catch { logger.debug("spanning tree: \(error)") }
            }
        case .spanningTreeConfiguration(let c):
            guard let st = spanningTree else { return }
            do { apply(try st.setConfiguration(c, now: now)) } catch { logger.error("spanning tree: \(error)") }
        case .spanningTreePort(let index, let c):
            ports[index]?.spanningTree = c
            guard let st = spanningTree, ports[index] != nil else { return }
            do { apply(try st.setPortConfiguration(index, c, now: now)) } catch { logger.error("spanning tree: \(error)") }
        case .clearBPDUGuard(let index):
            guard let st = spanningTree, ports[index] != nil else { return }
            do { apply(try st.clearBPDUGuard(index, now: now)) } catch { logger.error("spanning tree: \(error)") }
        case .multicastPort(let index, let flags):
            ports[index]?.multicast = flags
            if let s = snooper, ports[index] != nil { apply(s.setPort(index, flags: flags, now: now)) }
        case .multicastConfiguration(let c):
            guard let s = snooper else { return }
            do { apply(try s.reconfigure(c, now: now)) } catch { logger.error("multicast snooping: \(error)") }
        case .vlanView(let v):
            vlanView = v
        case .stop:
            break
        }
    }

    /// The spanning tree's output, in the contract's order: states (waiting for the workers
    /// when a port stops forwarding), flushes, frames, log lines.
    private func apply(_ out: SpanningTreeOutput) {
        if !out.stateChanges.isEmpty {
            let states = out.stateChanges.map { c -> (port: Int, gate: SpanningTreeGate) in
                switch c.state {
                case .discarding: return (c.port, .discarding)
                case .learning: return (c.port, .learning)
                case .forwarding: return (c.port, .forwarding)
                }
            }
            host?.applySpanningTreeStates(states, wait: out.stateChanges.contains { $0.state == .discarding })
        }
        for p in out.flushes {
            let n = host?.flushLearned(port: p) ?? 0
            if n > 0 { logger.info("spanning tree: port \(ports[p]?.name ?? "\(p)"): topology change, \(n) learned entries flushed") }
        }
        for t in out.transmissions { transmit(t.frame, port: t.port) }
        for e in out.events { logger.notice("spanning tree: \(portName(of: e).map { "\($0): " } ?? "")\(e)") }
    }

    /// The name of the port an event is about (the events count ports by slot).
    private func portName(of e: SpanningTreeEvent) -> String? {
        switch e {
        case .roleChanged(let p, _, _), .topologyChange(let p), .bpduGuardDisabled(let p), .rootGuardBlocking(let p),
            .rootGuardReleased(let p), .protocolMigrated(let p, _), .edgeChanged(let p, _):
            return ports[p]?.name
        case .newRoot, .iterationLimit: return nil
        }
    }

    private func apply(_ out: SnoopingOutput) {
        for t in out.transmissions { transmitQuery(t) }
        for e in out.events { logger.info("multicast: \(e)") }
    }

    /// Sends a query on its port, or on every port of its VLAN, tagged as the port sends that
    /// VLAN (untagged without VLAN filtering).
    private func transmitQuery(_ t: QueryTransmission) {
        let targets: [Int] = t.port.map { [$0] } ?? ports.keys.sorted()
        for p in targets {
            if !vlanView.vlanFiltering {
                transmit(t.frame, port: p)
                continue
            }
            guard let m = vlanView.members[p], m.vlans.contains(t.vlan) else { continue }
            if m.untagged.contains(t.vlan) {
                transmit(t.frame, port: p)
            } else if t.frame.count >= 14 {
                var tagged = Array(t.frame[0..<12])
                let tag = UInt32(vlanView.vlanProtocol) << 16 | UInt32(t.vlan)
                tagged += [UInt8(tag >> 24), UInt8(tag >> 16 & 0xFF), UInt8(tag >> 8 & 0xFF), UInt8(tag & 0xFF)]
                tagged += t.frame[12...]
                transmit(tagged, port: p)
            }
        }
    }

    private func transmit(_ frame: [UInt8], port: Int) {
        guard let sender, let p = ports[port], p.up else {
            sendFailures.add(1, ordering: .relaxed)
            return
        }
        do { try sender.send(frame, ifindex: p.ifindex) } catch {
            sendFailures.add(1, ordering: .relaxed)
            logger.debug("control plane: send on \(p.name): \(error)")
        }
    }

    private func publish(now: Timestamp) {
        if let st = spanningTree {
            let s = st.status()
            spanningTreeStatus.withLock { $0 = s }
        }
        publishMulticast(now: now)
    }
}
