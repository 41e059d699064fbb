// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Bridge: the supervisor of a running bridge process. It opens the ports, gives up every
// capability but CAP_NET_RAW before any thread starts, starts the forwarding workers, and
// answers on the control socket once they run. Then it supervises: ages the FDB in bounded
// slices, notices ports whose interface vanished (flushes their learned entries, marks them
// down, keeps forwarding among the others) and re-attaches an interface of that name when it
// comes back. `run()` blocks until `requestStop()` (a signal handler may call it), then shuts
// down cleanly: workers stopped, sockets closed (promiscuity ends with them), socket file
// removed. What the control socket answers is ControlHandler.swift; captures are
// CaptureRegistry.swift; `link show` and `stats` are Bridge+Inspection.swift.

import BridgeControl
import BridgeCore
import Foundation
import Logging
import MulticastSnooping
import PacketIO
import PcapIO
import SpanningTree
import Synchronization
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Errors starting or running a bridge.
public enum BridgeError: Error, CustomStringConvertible {
    case noPorts
    case invalid(String)
    case port(String, PacketIOError)
    case system(IOError)

    public var description: String {
        switch self {
        case .noPorts: return "a bridge needs at least one --port"
        case .invalid(let s): return s
        case .port(let name, let e): return "port \(name): \(e)"
        case .system(let e): return e.description
        }
    }
}

/// Everything `swbridge run` configures.
public struct BridgeOptions: Sendable {
    public var name: String = "br0"
    public var bridge = BridgeConfiguration()
    public var table = MACTable.Configuration()
    /// Forwarding threads; more than one uses PACKET_FANOUT.
    public var threads: Int = 1
    /// Spin on the rings instead of sleeping in poll (one full core per thread).
    public var busyPoll = false
    /// While traffic is continuous (wake-ups under 100 µs apart), keep checking the rings this
    /// long after the last frame before sleeping in poll (0: sleep at once). See ForwardingWorker.
    public var spinMicroseconds = 300
    public var ring = AFPacketPort.Configuration()
    /// Ports whose sockets get `ring` as configured; ports attached beyond get smaller rings
    /// (see `ringConfiguration`), so 1,024 ports stay well under 1 GiB.
    public var fullRingPorts = 8
    /// Packet I/O per port name (default `defaultBackend`).
    public var backends: [String: PortBackend] = [:]
    /// Packet I/O of ports attached without a backend.
    public var defaultBackend = PortBackend.afPacket
    /// Most ports the bridge takes.
    public var maxPorts = PortSet.capacity
    public var runDirectory = ControlServer.defaultRunDirectory
    /// MAC moves per second above which a loop is suspected and logged.
    public var loopMoveRate: Double = 100
    /// Port name -> pcap file: frames entering and leaving the port, written by a background
    /// thread (a slow disk drops mirrored frames, counted, never forwarded ones).
    public var mirrors: [String: String] = [:]
    /// Drop every capability but CAP_NET_RAW once the sockets are open.
    public var dropPrivileges = true
    /// How often to look for vanished ports' interfaces coming back without a link event
    /// (rtnetlink events re-attach at once; this is the fallback if events were lost).
    public var reattachInterval: Duration = .seconds(5)
    /// The configuration file the bridge was started from (`reload` re-reads it).
    public var configFile: String?
    /// Static entries to add at start (from the configuration file).
    public var staticFDB: [ConfiguredStaticEntry] = []
    /// `--metrics` / `metrics:` (ADDR:PORT): served by the command line (BridgeMetrics); kept
    /// here so that `reload` sees a change of it (a restart applies it).
    public var metrics: String?
    /// `--stp rstp|stp` (nil: `off`, the default, as the kernel bridge's stp_state 0).
    public var spanningTree: SpanningTreeBridgeConfiguration?
    /// Per port name: its spanning-tree settings (absent: the defaults).
    public var spanningTreePorts: [String: SpanningTreePortConfiguration] = [:]
    /// Multicast snooping's settings (nil: `--mcast-snooping off`).
    public var multicastSnooping: MulticastSnoopingConfiguration?
    /// Per port name: `mcast_router`, `mcast_fast_leave` (absent: the defaults).
    public var multicastPorts: [String: MulticastPortFlags] = [:]
    /// The `--mcast-*` options as given (a reload applies the file's `mcast_*` keys over them).
    public var multicastCommandLine = MulticastOptionValues()

    public init() {}
}

/// Runtime state of a port slot (guarded by the bridge's lock).
struct PortRuntime {
    /// The interface is open on every worker (false: vanished, waiting to come back, or vacant).
    var attached: Bool
    var reason: String?
    /// Kernel ring counters of sockets already closed (re-attached ports start from these).
    var retired = PortIOStatistics()
    /// The ifindex the port's sockets are bound to (they follow the interface if it is renamed).
    var ifindex: Int32 = 0
    /// What the spanning tree lets the port do (`.forwarding` without one).
    var spanningTree: SpanningTreeGate = .forwarding
}

/// What changes while the bridge runs: the ports (slots; a detached port leaves a vacant slot
/// that the next attach reuses), their backends, their runtime state, and what the
/// configuration file last said (for `reload`).
struct LiveState {
    var config: BridgeConfiguration
    var backends: [String: PortBackend]
    var runtime: [PortRuntime]
    /// Static entries the configuration file added (a reload adds and removes only these).
    var fileStatics: [ConfiguredStaticEntry] = []
    /// Spanning-tree and snooping settings per port name (`link set` changes them).
    var spanningTreePorts: [String: SpanningTreePortConfiguration] = [:]
    var multicastPorts: [String: MulticastPortFlags] = [:]
    /// Each slot's claim on its interface (nil: vacant).
    var claims: [PortClaim?] = []

    func index(of name: String) -> Int? {
        guard !name.isEmpty else { return nil }
        return config.ports.firstIndex { $0.name == name }
    }

    var portCount: Int { config.ports.lazy.filter { !$0.isVacant }.count }
}

public final class Bridge: ControlledBridge, @unchecked Sendable {
    public let options: BridgeOptions
    public let table: MACTable
    let logger: Logger
    let workers: [ForwardingWorker]
    let group: WorkerGroup
    private var threads: [Thread] = []
    private var control: ControlServer?
    /// What the control server's handler answers for (weak: the server must not keep the bridge alive).
    private let handlerTarget: HandlerTarget
    /// `--mirror` files per port (nil: none); fixed for the bridge's life.
    let mirrors: [PcapMirror?]
    let captures: CaptureRegistry
    let live: Mutex<LiveState>
    /// Held by whoever changes ports or settings (the control thread, the supervisor), so two
    /// changes never interleave; readers use `live` alone.
    let changing = Mutex<Void>(())
    private let stopRequested = Atomic<Bool>(false)
    /// Link events of the bridge's namespace (RTMGRP_LINK): the supervisor sleeps on it, so an
    /// interface that comes back is re-attached at once rather than at the next poll.
    private let linkEvents: LinkMonitor?
    let started = monotonicNow()
    /// Spanning tree and multicast snooping (ControlPlane.swift); `isEnabled` false without either.
    let controlPlane: ControlPlane
    /// The MDB the engines read and the snooper writes (nil without snooping).
    let multicastTable: MulticastGroupTable?
    private var controlPlaneThread: Thread?

    /// Opens every port (failing clearly on an unknown interface), drops privileges, prepares
    /// the workers and takes the control socket's name (served once `run()` has the workers going).
    public init(options: BridgeOptions, logger: Logger) throws {
        var initialised = false
        guard options.threads >= 1 && options.threads <= 16 else { throw BridgeError.invalid("--threads must be 1...16") }
        try options.bridge.validate()
        for name in options.mirrors.keys where !options.bridge.ports.contains(where: { $0.name == name }) {
            throw BridgeError.invalid("--mirror \(name): no such port on this bridge")
        }
        guard options.threads == 1 || !options.backends.values.contains(.pcap) else {
            throw BridgeError.invalid("backend=pcap ports work with one forwarding thread (libpcap has no fanout)")
        }
        self.options = options
        self.logger = logger
        table = MACTable(configuration: options.table)

        // Each port takes a socket per thread: 1,024 ports need more descriptors than the
        // usual soft limit of 1,024. Raise it to the hard limit (no privilege needed).
        Self.raiseDescriptorLimit(logger)
        // Ports first: an unknown interface must fail before anything is started.
        guard options.bridge.ports.count <= options.maxPorts else {
            throw BridgeError.invalid("\(options.bridge.ports.count) ports: the bridge takes at most \(options.maxPorts)")
        }
        // The control socket's name first: a second bridge of this name is refused before it
        // claims or opens anything. It listens now and answers once `run()` has the workers going.
        let target = HandlerTarget()
        let control = try ControlServer(bridge: options.name, runDirectory: options.runDirectory, serving: false) { request in
            guard let bridge = target.bridge else { return .failure("bridge is shutting down") }
            return ControlHandler(bridge: bridge).handle(request, now: monotonicNow())
        }
        defer { if !initialised { control.stop() } }
        self.control = control
        handlerTarget = target
        var claims: [PortClaim?] = []
        defer { if claims.count < options.bridge.ports.count || !initialised { for c in claims { c?.release() } } }
        for p in options.bridge.ports { claims.append(try Self.admit(p.name, runDirectory: options.runDirectory)) }
        var perWorker: [[(any PortSocket)?]] = Array(repeating: Array(repeating: nil, count: PortSet.capacity), count: options.threads)
        // Each port's sockets, one per worker, in one fanout group; then regrouped per worker.
        for (i, p) in options.bridge.ports.enumerated() {
            let sockets = try Self.openPorts(p.name, count: options.threads, backend: options.backends[p.name] ?? .afPacket, options,
                                             ports: options.bridge.ports.count)
            for w in 0..<options.threads { perWorker[w][i] = sockets[w] }
        }
        var runtime = Array(repeating: PortRuntime(attached: true), count: options.bridge.ports.count)
        for i in runtime.indices {
            runtime[i].ifindex = perWorker[0][i]?.boundInterfaceIndex ?? 0
            // With a spanning tree a port forwards only once the tree says so.
            if options.spanningTree != nil { runtime[i].spanningTree = .discarding }
        }
        var state = LiveState(config: options.bridge, backends: options.backends, runtime: runtime)
        state.config.spanningTree = options.spanningTree != nil
        state.config.multicastSnooping = options.multicastSnooping != nil
        state.fileStatics = options.staticFDB
        state.claims = claims
        state.spanningTreePorts = options.spanningTreePorts
        state.multicastPorts = options.multicastPorts
        let initialEngineConfiguration = Self.engineConfiguration(of: state)
        live = Mutex(state)
        linkEvents = try? LinkMonitor()
        if options.dropPrivileges {
            // Before any thread starts (mirror writers, workers, the control server): capabilities
            // are per thread, inherited when a thread is created.
            do { try Privileges.drop() } catch { throw BridgeError.system(error) }
            logger.info("capabilities dropped: only CAP_NET_RAW kept (CapEff \(String(Privileges.effective() ?? 0, radix: 16)))")
        }
        var mirrors: [PcapMirror?] = Array(repeating: nil, count: PortSet.capacity)
        for (i, p) in options.bridge.ports.enumerated() {
            guard let file = options.mirrors[p.name] else { continue }
            do {
                mirrors[i] = try PcapMirror(path: file)  // starts its writer thread
            } catch {
                for m in mirrors { m?.close() }
                throw BridgeError.invalid("--mirror \(p.name)=\(file): \(error)")
            }
        }
        self.mirrors = mirrors
        var workers: [ForwardingWorker] = []
        let storm = StormBudget()  // one per bridge: a port's rate holds across all workers
        let mdb = options.multicastSnooping.map { MulticastGroupTable(maxGroups: $0.maxGroups) }
        multicastTable = mdb
        let stpAddress = Self.spanningTreeAddress(ports: options.bridge.ports.map(\.name), bridge: options.name)
        controlPlane = try ControlPlane(bridge: options.name, workers: options.threads,
                                        spanningTree: options.spanningTree.map { (stpAddress, $0) },
                                        snooping: Self.multicastConfiguration(options, address: stpAddress), multicastTable: mdb, logger: logger)
        let queues = controlPlane.isEnabled ? controlPlane.queues : []
        for (w, ports) in perWorker.enumerated() {
            workers.append(try ForwardingWorker(id: w, table: table, configuration: initialEngineConfiguration, ports: ports,
                                                busyPoll: options.busyPoll, spinMicroseconds: options.spinMicroseconds,
                                                mirrors: mirrors, stormBudget: storm, multicastTable: mdb,
                                                controlFrames: queues.isEmpty ? nil : queues[w], logger: logger))
        }
        self.workers = workers
        group = WorkerGroup(workers)
        captures = CaptureRegistry(switcher: group)
        for e in options.staticFDB {
            guard let i = options.bridge.ports.firstIndex(where: { $0.name == e.dev }) else { continue }
            let vlans = e.vlan.map { [$0] } ?? (options.bridge.vlanFiltering ? options.bridge.ports[i].vlans.members : [0])
            for v in vlans {
                do { try table.addStatic(e.mac, vlan: v, port: i) } catch { throw BridgeError.invalid("static entry \(e): \(error)") }
            }
        }
        // Listening now (a second bridge of this name is refused before anything runs), answering
        // only once the workers run.
        handlerTarget.bridge = self
        initialised = true
    }

    /// Opens `count` sockets on port `name` (one per worker) with its backend; errors name the
    /// port. Several AF_PACKET sockets join one PACKET_FANOUT group whose id the kernel assigns
    /// (unique in the namespace, so two bridges never collide).
    static func raiseDescriptorLimit(_ logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.debug("open files limit raised from \(before) to \(limit.rlim_max)")
        }
    }

    /// The ring of a socket opened when the bridge has `ports` ports: `ring` as configured for
    /// the first `fullRingPorts`, then (fullRingPorts / ports)² of it, down to one 68 KiB block
    /// (34 slots of 2 KiB). The square keeps the sum bounded however many ports come (a ring is
    /// fixed when its socket opens, so ports attached early keep theirs): with 8 full rings of
    /// 8 MiB, 1,024 ports hold about 180 MiB of rings per forwarding thread, plus 32 KiB of TX
    /// ring each (1 MiB for the first 8).
    public static func ringConfiguration(_ options: BridgeOptions, ports: Int) -> AFPacketPort.Configuration {
        var c = options.ring
        let full = max(options.fullRingPorts, 1)
        guard ports > full else { return c }
        let smallestBlock = 69_632  // 17 pages: a 64 KiB frame and its headers (the ring's minimum)
        /// `size` scaled by (full / ports)².
        func scaled(_ size: Int) -> Int { Int(Double(size) * Double(full * full) / Double(ports * ports)) }
        // The TX ring shrinks the same way, down to 16 slots (32 KiB): past that a frame that
        // finds its ring busy waits for a slot as it would for a full socket buffer.
        if c.transmitRingFrames > 16 { c.transmitRingFrames = max(16, scaled(c.transmitRingFrames)) }
        switch c.ringVersion {
        case .v2:
            let page = Int(getpagesize())
            let blockSize = max(smallestBlock, (c.frameSize + page - 1) / page * page)
            let perBlock = blockSize / c.frameSize
            let frames = max(perBlock, scaled(c.frameCount) / perBlock * perBlock)
            guard frames < c.frameCount else { return c }
            c.blockSize = blockSize
            c.frameCount = frames
            c.largeFrameBuffers = max(4, min(c.largeFrameBuffers, frames / 8))
        case .v3:
            let blockSize = max(smallestBlock, min(c.blockSize, 1 << 17))
            let blocks = max(2, scaled(c.blockSize * c.blockCount) / blockSize)
            guard blocks * blockSize < c.blockSize * c.blockCount else { return c }
            c.blockSize = blockSize
            c.blockCount = blocks
        }
        return c
    }

    static func openPorts(_ name: String, count: Int, backend: PortBackend, _ options: BridgeOptions, ports: Int) throws -> [any PortSocket] {
        switch backend {
        case .afPacket:
            do {
                return try AFPacketPort.openFanoutGroup(interface: name, count: count,
                                                        configuration: ringConfiguration(options, ports: ports))
            } catch {
                throw BridgeError.port(name, error)
            }
        case .pcap:
            // Only with one worker (checked in init): libpcap has no fanout.
            do {
                return [try PcapPortSocket(interface: name)]
            } catch let e as PacketIOError {
                throw BridgeError.port(name, e)
            } catch {
                throw BridgeError.invalid("port \(name): \(error)")
            }
        }
    }

    /// Asks `run()` to return (async-signal-safe: one atomic store).
    public func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Starts the workers, serves the control socket once they run, and supervises until
    /// `requestStop()`; then shuts down.
    public func run(stopWhen external: () -> Bool = { false }, reloadWhen reload: () -> Bool = { false }) {
        for w in workers {
            let t = Thread { w.run() }
            t.name = "swbridge-fwd\(w.id)"
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
        if controlPlane.isEnabled {
            controlPlane.host = self
            let cp = controlPlane
            let t = Thread { cp.run() }
            t.name = "swbridge-ctl"
            t.stackSize = 1 << 20
            controlPlaneThread = t
            t.start()
            for i in live.withLock({ $0.config.ports.indices }) { announcePort(i) }
            sendVLANView()
        }
        // Ready means forwarding: answer control requests only once every worker is in its loop
        // (and the control plane, when there is one).
        while (workers.contains(where: { !$0.isRunning }) || (controlPlane.isEnabled && !controlPlane.isRunning))
            && !stopRequested.load(ordering: .relaxed)
        {
            sched_yield()
        }
        do {
            try control?.startServing()
        } catch {
            logger.critical("control socket: \(error); stopping")
            stopRequested.store(true, ordering: .relaxed)
        }
        let names = live.withLock { $0.config.ports.filter { !$0.isVacant }.map(\.name) }
        notifySystemd("READY=1\nSTATUS=forwarding between \(names.count) ports")
        logger.info("bridge \(options.name) forwarding between \(names.isEmpty ? "no ports yet" : names.joined(separator: ", ")) (\(options.ring.ringVersion), \(options.threads) thread(s))")
        var lastReattach = monotonicNow()
        var lastMoves = (time: monotonicNow(), count: table.statistics.moved)
        while !stopRequested.load(ordering: .relaxed) && !external() {
            if let linkEvents {
                // Sleep until a link event or 50 ms (ageing, faults and signals keep their pace).
                if linkEvents.waitForEvents(timeoutMilliseconds: 50) { handleLinkEvents(linkEvents) }
            } else {
                usleep(50_000)
            }
            let now = monotonicNow()
            // A full sweep of the table about once a second, in slices of bounded work.
            table.age(now: now, budget: max(table.capacity / 20, 1024))
            collectFaults()
            if reload() {
                // SIGHUP: as `swbridge reload`, answered in the log.
                notifySystemd("RELOADING=1")
                do {
                    let report = try self.reload(check: false)
                    logger.notice("SIGHUP: \(report.changes.isEmpty ? "no change" : report.changes.joined(separator: "; "))")
                } catch {
                    logger.error("SIGHUP: reload refused: \(error)")
                }
                notifySystemd("READY=1")
            }
            if now.milliseconds &- lastMoves.time.milliseconds >= 1000 {
                // Stations do not move between ports hundreds of times a second; a loop makes
                // every MAC it carries flap between the looped ports.
                let moved = table.statistics.moved
                let rate = Double(moved &- lastMoves.count) * 1000 / Double(now.milliseconds &- lastMoves.time.milliseconds)
                if rate >= options.loopMoveRate {
                    logger.warning("MAC moves at \(Int(rate))/s: a forwarding loop between ports? (storm control limits its floods; see swbridge stats)")
                }
                lastMoves = (now, moved)
            }
            if now.milliseconds &- lastReattach.milliseconds >= options.reattachInterval.milliseconds {
                changing.withLock { _ in reattachVanishedPorts() }
                lastReattach = now
            }
        }
        shutdown()
    }

    /// Stops workers, closes sockets, removes the control socket.
    private func shutdown() {
        notifySystemd("STOPPING=1")
        control?.stop()
        control = nil
        if controlPlaneThread != nil { controlPlane.send(.stop) }
        for w in workers { w.send(.stop) }
        let deadline = monotonicNow().milliseconds + 2_000
        while (workers.contains(where: { !$0.isDone }) || (controlPlaneThread != nil && !controlPlane.isDone))
            && monotonicNow().milliseconds < deadline
        {
            usleep(1_000)
        }
        collectFaults()
        captures.closeAllAfterWorkersStopped()
        for (i, m) in mirrors.enumerated() {
            guard let m else { continue }
            m.close()  // after the workers: nobody offers any more
            logger.info("mirror of port \(i): \(m.statistics)")
        }
        live.withLock { s in
            for c in s.claims { c?.release() }
            s.claims = []
        }
        logger.info("bridge \(options.name) stopped")
    }

    /// Final statistics, for printing after `run()` returns.
    public func statisticsReport() -> StatsReport { statistics() }

    /// Releases sockets (also done by the workers' deinit).
    public func close() {
        for w in workers { w.closePorts() }
    }

    /// Tells systemd (a `Type=notify` unit) how the bridge is doing; nothing without $NOTIFY_SOCKET.
    private func notifySystemd(_ state: String) {
        do { try SystemdNotify.send(state) } catch { logger.warning("sd_notify: \(error)") }
    }

    // MARK: - Port faults

    /// A port's interface appearing (or coming back up) re-attaches it now. A deleted one is
    /// given up by the workers: on its socket's error, or on the kernel's RTM_DELLINK here (a
    /// deletion takes the link down first, and a socket reports only that). A lost event (the
    /// socket overflowed) falls back to looking at every detached port.
    private func handleLinkEvents(_ monitor: LinkMonitor) {
        let events = (try? monitor.drain()) ?? [.resyncNeeded]
        var names: Set<String> = []
        var changed: Set<Int32> = []
        var deleted: Set<Int32> = []
        var all = false
        for e in events {
            switch e {
            case .newLink(let info):
                names.insert(info.name)
                changed.insert(info.index)
            case .deletedLink(let index, _): deleted.insert(index)
            case .resyncNeeded: all = true
            }
        }
        // A port's interface changed (MTU, state, name): the workers read its MTU again; the
        // spanning tree hears whether its link is up.
        if !changed.isEmpty {
            let ports = live.withLock { s in s.runtime.indices.filter { s.runtime[$0].attached && changed.contains(s.runtime[$0].ifindex) } }
            for i in ports { for w in workers { w.send(.refreshMTU(index: i)) } }
            if controlPlane.isEnabled {
                for e in events {
                    guard case .newLink(let info) = e,
                        let i = live.withLock({ s in s.runtime.indices.first { s.runtime[$0].attached && s.runtime[$0].ifindex == info.index } })
                    else { continue }
                    controlPlane.send(.link(index: i, ifindex: info.index, up: info.isUp && info.isRunning))
                }
            }
        }
        if !deleted.isEmpty || all {
            // After an overflow any port may have lost its interface: each worker checks.
            let ports = live.withLock { s in
                s.runtime.indices.filter { s.runtime[$0].attached && (all || deleted.contains(s.runtime[$0].ifindex)) }
            }
            for i in ports { for w in workers { w.send(.recheck(index: i)) } }
        }
        collectFaults()  // a deleted interface's fault first, so its new namesake is seen as back
        let wanted = live.withLock { s in
            Set(s.runtime.indices.filter { !s.runtime[$0].attached && !s.config.ports[$0].isVacant }.map { s.config.ports[$0].name })
        }
        if all || !wanted.isDisjoint(with: names) {
            changing.withLock { _ in reattachVanishedPorts() }
        }
    }

    private func collectFaults() {
        changing.withLock { _ in collectFaultsLocked() }
    }

    private func collectFaultsLocked() {
        for w in workers {
            let faults = w.faults.withLock { f -> [PortFault] in
                defer { f.removeAll() }
                return f
            }
            for f in faults {
                let final = f.port.port.ioStatistics()
                f.port.port.close()
                let (name, wasAttached) = live.withLock { s -> (String, Bool) in
                    // A port detached meanwhile (`link del`) has nothing left to mark.
                    guard s.runtime.indices.contains(f.index), !s.config.ports[f.index].isVacant else { return ("", false) }
                    let was = s.runtime[f.index].attached
                    s.runtime[f.index].attached = false
                    s.runtime[f.index].reason = f.reason
                    s.runtime[f.index].retired = s.runtime[f.index].retired + final
                    return (s.config.ports[f.index].name, was)
                }
                if wasAttached {
                    if controlPlane.isEnabled { controlPlane.send(.link(index: f.index, ifindex: 0, up: false)) }
                    let flushed = table.flush(port: f.index)
                    logger.warning("port \(name): \(f.reason); detached, \(flushed) learned entries flushed; forwarding goes on among the other ports")
                    applyRuntimeStates()
                }
            }
        }
    }

    private func reattachVanishedPorts() {
        let detached = live.withLock { s in
            s.runtime.indices.filter { !s.runtime[$0].attached && !s.config.ports[$0].isVacant }
                .map { ($0, s.config.ports[$0].name, s.backends[s.config.ports[$0].name] ?? .afPacket) }
        }
        guard !detached.isEmpty else { return }
        for (i, name, backend) in detached {
            guard (try? Interface.index(of: name)) != nil else { continue }
            // The interface is back (it may be a new one of the same name): open it on every worker.
            let opened: [any PortSocket]
            do {
                let ports = live.withLock { $0.config.ports.filter { !$0.isVacant }.count }
                opened = try Self.openPorts(name, count: workers.count, backend: backend, options, ports: ports)  // closes them on failure
            } catch {
                logger.debug("port \(name): not ready yet: \(error)")
                continue
            }
            // Any worker that still holds a socket on the old interface reports it as a fault;
            // a new one replaces it.
            for (w, p) in zip(workers, opened) { w.send(.attach(index: i, PortHandoff(port: p))) }
            live.withLock { s in
                s.runtime[i].attached = true
                s.runtime[i].reason = nil
                s.runtime[i].ifindex = opened.first?.boundInterfaceIndex ?? 0
            }
            applyRuntimeStates()
            if controlPlane.isEnabled { announcePort(i) }
            logger.info("port \(name): interface is back; re-attached")
        }
    }

    /// The configuration the engines run with: detached ports are disabled, so floods skip them
    /// and unicast to them is dropped as egress-blocked. Computed and queued under `live`, so
    /// two threads applying at once cannot leave the workers with the older one.
    func applyRuntimeStates() {
        live.withLock { s in
            let config = Self.engineConfiguration(of: s)
            for w in workers { w.send(.apply(config)) }
        }
    }

    /// The configuration as the engines must see it: detached ports disabled.
    func engineConfiguration() -> BridgeConfiguration {
        live.withLock { Self.engineConfiguration(of: $0) }
    }

    /// Detached ports disabled; each port's spanning-tree state.
    static func engineConfiguration(of s: LiveState) -> BridgeConfiguration {
        var config = s.config
        for i in config.ports.indices {
            if !s.runtime[i].attached { config.ports[i].state = .disabled }
            config.ports[i].spanningTree = s.runtime[i].spanningTree
        }
        return config
    }

    // MARK: - What the control handler reads

    /// The ports (with vacant slots) and bridge-wide settings as they are now.
    var configuration: BridgeConfiguration { live.withLock { $0.config } }
    var name: String { options.name }

    func hasStaticMirror(port index: Int) -> Bool { mirrors.indices.contains(index) && mirrors[index] != nil }
}

/// The bridge the control handler serves, set once the bridge is whole.
final class HandlerTarget: @unchecked Sendable {
    weak var bridge: Bridge?
}

/// The forwarding workers as one: commands to all, and a wait until all have applied them
/// (one generation counter for every kind of command, so acknowledgements never mix).
final class WorkerGroup: MirrorSwitch {
    let workers: [ForwardingWorker]
    private let generation = Atomic<Int>(0)

    init(_ workers: [ForwardingWorker]) {
        self.workers = workers
    }

    /// Sends `commands` to every worker (each gets its own copy of `make(worker index)`), then
    /// waits (at most 2 s) until each running worker has applied them.
    func sendAndWait(_ make: (Int) -> [WorkerCommand]) {
        let g = generation.add(1, ordering: .relaxed).newValue
        for (i, w) in workers.enumerated() {
            for c in make(i) { w.send(c) }
            w.send(.sync(generation: g))
        }
        let deadline = monotonicNow().milliseconds + 2_000
        while workers.contains(where: { !$0.isDone && $0.appliedGeneration.load(ordering: .acquiring) < g }),
            monotonicNow().milliseconds < deadline
        {
            usleep(200)
        }
    }

    func setMirror(index: Int, ingress: PcapMirror?, egress: PcapMirror?) {
        sendAndWait { _ in
            [.setMirror(index: index, ingress: MirrorHandoff(mirror: ingress), egress: MirrorHandoff(mirror: egress))]
        }
    }
}

extension Duration {
    /// Whole milliseconds (negative durations count as zero).
    var milliseconds: UInt64 {
        let (s, a) = components
        return s < 0 ? 0 : UInt64(s) * 1000 + UInt64(a / 1_000_000_000_000_000)
    }
}
