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
import PacketIO
import PcapIO
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
    /// Packet I/O per port name (default AF_PACKET).
    public var backends: [String: PortBackend] = [:]
    public var runDirectory = ControlServer.defaultRunDirectory
    /// MAC moves per second above which a loop is suspected and logged.
    public var loopMoveRate: Double = 100
    /// Port name -> pcap file: frames entering and leaving the port, written by a background
    /// thread (a slow disk drops mirrored frames, counted, never forwarded ones).
    public var mirrors: [String: String] = [:]
    /// Drop every capability but CAP_NET_RAW once the sockets are open.
    public var dropPrivileges = true
    /// How often to look for vanished ports' interfaces coming back.
    public var reattachInterval: Duration = .milliseconds(500)

    public init() {}
}

/// Runtime state of a port (guarded by the bridge's lock).
struct PortRuntime {
    var attached: Bool
    var reason: String?
    /// Kernel ring counters of sockets already closed (re-attached ports start from these).
    var retired = PortIOStatistics()
    /// The ifindex the port's sockets are bound to (they follow the interface if it is renamed).
    var ifindex: Int32 = 0
}

public final class Bridge: ControlledBridge, @unchecked Sendable {
    public let options: BridgeOptions
    public let table: MACTable
    private let logger: Logger
    let workers: [ForwardingWorker]
    private var threads: [Thread] = []
    private var control: ControlServer?
    /// `--mirror` files per port (nil: none); fixed for the bridge's life.
    let mirrors: [PcapMirror?]
    let captures: CaptureRegistry
    let runtime: Mutex<[PortRuntime]>
    private let stopRequested = Atomic<Bool>(false)
    let started = monotonicNow()

    /// Opens every port (failing clearly on an unknown interface), drops privileges, prepares
    /// the workers and takes the control socket's name (served once `run()` has the workers going).
    public init(options: BridgeOptions, logger: Logger) throws {
        guard !options.bridge.ports.isEmpty else { throw BridgeError.noPorts }
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
        runtime = Mutex(Array(repeating: PortRuntime(attached: true), count: options.bridge.ports.count))

        // Ports first: an unknown interface must fail before anything is started.
        var perWorker: [[(any BridgePort)?]] = []
        for _ in 0..<options.threads {
            var ports: [(any BridgePort)?] = []
            for (i, p) in options.bridge.ports.enumerated() {
                ports.append(try Self.openPort(p.name, index: i, options))
            }
            perWorker.append(ports)
        }
        runtime.withLock { rt in
            for i in rt.indices { rt[i].ifindex = perWorker[0][i]?.boundInterfaceIndex ?? 0 }
        }
        if options.dropPrivileges {
            // Before any thread starts (mirror writers, workers, the control server): capabilities
            // are per thread, inherited when a thread is created.
            do { try Privileges.drop() } catch { throw BridgeError.system(error) }
            logger.info("capabilities dropped: only CAP_NET_RAW kept (CapEff \(String(Privileges.effective() ?? 0, radix: 16)))")
        }
        var mirrors: [PcapMirror?] = []
        for p in options.bridge.ports {
            guard let file = options.mirrors[p.name] else {
                mirrors.append(nil)
                continue
            }
            do {
                mirrors.append(try PcapMirror(path: file))  // starts its writer thread
            } catch {
                for m in mirrors { m?.close() }
                throw BridgeError.invalid("--mirror \(p.name)=\(file): \(error)")
            }
        }
        self.mirrors = mirrors
        var workers: [ForwardingWorker] = []
        for (w, ports) in perWorker.enumerated() {
            workers.append(try ForwardingWorker(id: w, table: table, configuration: options.bridge, ports: ports,
                                                busyPoll: options.busyPoll, spinMicroseconds: options.spinMicroseconds,
                                                mirrors: mirrors, logger: logger))
        }
        self.workers = workers
        captures = CaptureRegistry(switcher: WorkerMirrorSwitch(workers: workers))
        // Listening now (a second bridge of this name is refused before anything runs), answering
        // only once the workers run.
        control = try ControlServer(bridge: options.name, runDirectory: options.runDirectory, serving: false) {
            [weak self] request in
            guard let self else { return .failure("bridge is shutting down") }
            return ControlHandler(bridge: self).handle(request, now: monotonicNow())
        }
    }

    /// Opens `name` with its backend; errors name the port.
    static func openPort(_ name: String, index: Int, _ options: BridgeOptions) throws -> any BridgePort {
        switch options.backends[name] ?? .afPacket {
        case .afPacket:
            do {
                return try AFPacketPort(interface: name, configuration: ringConfiguration(options, port: index))
            } catch {
                throw BridgeError.port(name, error)
            }
        case .pcap:
            do {
                return try PcapBridgePort(interface: name)
            } catch let e as PacketIOError {
                throw BridgeError.port(name, e)
            } catch {
                throw BridgeError.invalid("port \(name): \(error)")
            }
        }
    }

    /// Each port's sockets (one per worker) join one fanout group when there are several
    /// workers. A group id is unique in the network namespace and bound to one interface, so
    /// each port gets its own: derived from the process id, so two bridges never collide.
    static func ringConfiguration(_ options: BridgeOptions, port: Int) -> AFPacketPort.Configuration {
        var c = options.ring
        if options.threads > 1 { c.fanoutGroup = UInt16(truncatingIfNeeded: Int(getpid()) &* 64 &+ port) }
        return c
    }

    /// Asks `run()` to return (async-signal-safe: one atomic store).
    public func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Starts the workers, serves the control socket once they run, and supervises until
    /// `requestStop()`; then shuts down.
    public func run(stopWhen external: () -> Bool = { false }) {
        for w in workers {
            let t = Thread { w.run() }
            t.name = "swbridge-fwd\(w.id)"
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
        // Ready means forwarding: answer control requests only once every worker is in its loop.
        while workers.contains(where: { !$0.isRunning }) && !stopRequested.load(ordering: .relaxed) {
            sched_yield()
        }
        control?.startServing()
        notifySystemd("READY=1\nSTATUS=forwarding between \(options.bridge.ports.count) ports")
        logger.info("bridge \(options.name) forwarding between \(options.bridge.ports.map(\.name).joined(separator: ", ")) (\(options.ring.ringVersion), \(options.threads) thread(s))")
        var lastReattach = monotonicNow()
        var lastMoves = (time: monotonicNow(), count: table.statistics.moved)
        while !stopRequested.load(ordering: .relaxed) && !external() {
            usleep(50_000)
            let now = monotonicNow()
            // A full sweep of the table about once a second, in slices of bounded work.
            table.age(now: now, budget: max(table.capacity / 20, 1024))
            collectFaults()
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
                reattachVanishedPorts()
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
        for w in workers { w.send(.stop) }
        let deadline = monotonicNow().milliseconds + 2_000
        while workers.contains(where: { !$0.isDone }) && monotonicNow().milliseconds < deadline { usleep(1_000) }
        collectFaults()
        captures.closeAllAfterWorkersStopped()
        for (i, m) in mirrors.enumerated() {
            guard let m else { continue }
            m.close()  // after the workers: nobody offers any more
            logger.info("mirror of \(options.bridge.ports[i].name): \(m.statistics)")
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

    private func collectFaults() {
        for w in workers {
            let faults = w.faults.withLock { f -> [PortFault] in
                defer { f.removeAll() }
                return f
            }
            for f in faults {
                let final = f.port.port.ioStatistics()
                f.port.port.close()
                let name = options.bridge.ports[f.index].name
                let wasAttached = runtime.withLock { rt -> Bool in
                    let was = rt[f.index].attached
                    rt[f.index].attached = false
                    rt[f.index].reason = f.reason
                    rt[f.index].retired = rt[f.index].retired + final
                    return was
                }
                if wasAttached {
                    let flushed = table.flush(port: f.index)
                    logger.warning("port \(name): \(f.reason); detached, \(flushed) learned entries flushed; forwarding goes on among the other ports")
                    applyRuntimeStates()
                }
            }
        }
    }

    private func reattachVanishedPorts() {
        let detached = runtime.withLock { rt in rt.indices.filter { !rt[$0].attached } }
        guard !detached.isEmpty else { return }
        for i in detached {
            let name = options.bridge.ports[i].name
            guard (try? Interface.index(of: name)) != nil else { continue }
            // The interface is back (it may be a new one of the same name): open it on every worker.
            var opened: [any BridgePort] = []
            do {
                for _ in workers.indices { opened.append(try Self.openPort(name, index: i, options)) }
            } catch {
                for p in opened { p.close() }
                logger.debug("port \(name): not ready yet: \(error)")
                continue
            }
            // Any worker that still holds a socket on the old interface reports it as a fault;
            // a new one replaces it.
            for (w, p) in zip(workers, opened) { w.send(.attach(index: i, PortHandoff(port: p))) }
            runtime.withLock { rt in
                rt[i].attached = true
                rt[i].reason = nil
                rt[i].ifindex = opened.first?.boundInterfaceIndex ?? 0
            }
            applyRuntimeStates()
            logger.info("port \(name): interface is back; re-attached")
        }
    }

    /// The configuration the engines run with: detached ports are disabled, so floods skip them
    /// and unicast to them is dropped as egress-blocked.
    private func applyRuntimeStates() {
        var config = options.bridge
        let rt = runtime.withLock { $0 }
        for i in config.ports.indices where !rt[i].attached { config.ports[i].state = .disabled }
        for w in workers { w.send(.apply(config)) }
    }

    // MARK: - What the control handler reads

    /// The port list and filtering (fixed while the bridge runs).
    var configuration: BridgeConfiguration { options.bridge }
    var name: String { options.name }

    func hasStaticMirror(port index: Int) -> Bool { mirrors.indices.contains(index) && mirrors[index] != nil }
}

/// Switches capture mirrors in every worker and waits (bounded) for each to acknowledge, so
/// the previous mirror can be closed safely.
final class WorkerMirrorSwitch: MirrorSwitch {
    private let workers: [ForwardingWorker]
    private let generation = Atomic<Int>(0)

    init(workers: [ForwardingWorker]) {
        self.workers = workers
    }

    func setMirror(index: Int, ingress: PcapMirror?, egress: PcapMirror?) {
        let g = generation.add(1, ordering: .relaxed).newValue
        for w in workers {
            w.send(.setMirror(index: index, ingress: MirrorHandoff(mirror: ingress), egress: MirrorHandoff(mirror: egress), generation: g))
        }
        let deadline = monotonicNow().milliseconds + 2_000
        while workers.contains(where: { !$0.isDone && $0.appliedGeneration.load(ordering: .acquiring) < g }),
            monotonicNow().milliseconds < deadline
        {
            usleep(1_000)
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
