// Bridge: the running bridge process. It opens the ports, starts the forwarding workers and
// the control socket, and supervises: ages the FDB in bounded slices, notices ports whose
// interface vanished (flushes their learned entries, marks them down, keeps forwarding among
// the others) and re-attaches an interface of that name when it comes back. `run()` blocks
// until `requestStop()` (a signal handler may call it), then shuts down cleanly: workers
// stopped, sockets closed (promiscuity ends with them), socket file removed.

import BridgeControl
import BridgeCore
import Foundation
import Logging
import PacketIO
import PcapIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Errors starting or running a bridge.
public enum BridgeError: Error, CustomStringConvertible {
    case noPorts
    case invalid(String)
    case port(String, PacketIOError)
    case system(String, Int32)

    public var description: String {
        switch self {
        case .noPorts: return "a bridge needs at least one --port"
        case .invalid(let s): return s
        case .port(let name, let e): return "port \(name): \(e)"
        case .system(let op, let e): return "\(op) failed: \(String(cString: strerror(e)))"
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

public final class Bridge: @unchecked Sendable {
    public let options: BridgeOptions
    public let table: MACTable
    private let logger: Logger
    private var workers: [ForwardingWorker] = []
    private var threads: [Thread] = []
    private var control: ControlServer?
    private var mirrors: [PcapMirror?] = []
    /// Captures started by `swbridge capture` (control thread; shutdown after the server stops).
    private struct Capture {
        let id: Int
        let index: Int
        let file: String
        let mirror: PcapMirror
    }
    private let captures = Mutex<[Int: Capture]>([:])
    private let nextCapture = Atomic<Int>(1)
    private let mirrorGeneration = Atomic<Int>(0)
    private let runtime: Mutex<[PortRuntime]>
    private let stopRequested = Atomic<Bool>(false)
    private let started = monotonicNow()

    /// Opens every port (failing clearly on an unknown interface) and the control socket.
    public init(options: BridgeOptions, logger: Logger) throws {
        guard !options.bridge.ports.isEmpty else { throw BridgeError.noPorts }
        guard options.threads >= 1 && options.threads <= 16 else { throw BridgeError.invalid("--threads must be 1...16") }
        try options.bridge.validate()
        self.options = options
        self.logger = logger
        table = MACTable(configuration: options.table)
        runtime = Mutex(Array(repeating: PortRuntime(attached: true), count: options.bridge.ports.count))

        // Ports first: an unknown interface must fail before anything is started.
        guard options.threads == 1 || !options.backends.values.contains(.pcap) else {
            throw BridgeError.invalid("backend=pcap ports work with one forwarding thread (libpcap has no fanout)")
        }
        // Each port's sockets, one per worker, in one fanout group; then regrouped per worker.
        let perPort = try options.bridge.ports.map { try Self.openPorts($0.name, count: options.threads, options) }
        let perWorker: [[(any BridgePort)?]] = (0..<options.threads).map { w in perPort.map { $0[w] } }
        for name in options.mirrors.keys where !options.bridge.ports.contains(where: { $0.name == name }) {
            throw BridgeError.invalid("--mirror \(name): no such port on this bridge")
        }
        for p in options.bridge.ports {
            guard let file = options.mirrors[p.name] else {
                mirrors.append(nil)
                continue
            }
            do {
                mirrors.append(try PcapMirror(path: file))
            } catch {
                throw BridgeError.invalid("--mirror \(p.name)=\(file): \(error)")
            }
        }
        runtime.withLock { rt in
            for i in rt.indices { rt[i].ifindex = perWorker[0][i]?.boundInterfaceIndex ?? 0 }
        }
        let storm = StormBudget()  // one per bridge: a port's rate holds across all workers
        for (w, ports) in perWorker.enumerated() {
            workers.append(try ForwardingWorker(id: w, table: table, configuration: options.bridge, ports: ports,
                                                busyPoll: options.busyPoll, spinMicroseconds: options.spinMicroseconds,
                                                mirrors: mirrors, stormBudget: storm, logger: logger))
        }
        if options.dropPrivileges {
            // Before any thread starts: threads inherit the reduced set.
            try Privileges.drop()
            logger.info("capabilities dropped: only CAP_NET_RAW kept (CapEff \(String(Privileges.effective() ?? 0, radix: 16)))")
        }
        control = try ControlServer(bridge: options.name, runDirectory: options.runDirectory) { [weak self] request in
            guard let self else { return .failure("bridge is shutting down") }
            return self.handle(request)
        }
    }

    /// Opens `count` sockets on port `name` (one per worker) with its backend; errors name the
    /// port. Several AF_PACKET sockets join one PACKET_FANOUT group whose id the kernel assigns
    /// (unique in the namespace, so two bridges never collide).
    static func openPorts(_ name: String, count: Int, _ options: BridgeOptions) throws -> [any BridgePort] {
        switch options.backends[name] ?? .afPacket {
        case .afPacket:
            do {
                return try AFPacketPort.openFanoutGroup(interface: name, count: count, configuration: options.ring)
            } catch {
                throw BridgeError.port(name, error)
            }
        case .pcap:
            // Only with one worker (checked in init): libpcap has no fanout.
            do {
                return [try PcapBridgePort(interface: name)]
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

    /// Starts the workers and supervises until `requestStop()`; then shuts down.
    public func run(stopWhen external: () -> Bool = { false }) {
        for w in workers {
            let t = Thread { w.run() }
            t.name = "swbridge-fwd\(w.id)"
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
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
        control?.stop()
        control = nil
        for w in workers { w.send(.stop) }
        let deadline = monotonicNow().milliseconds + 2_000
        while workers.contains(where: { !$0.isDone }) && monotonicNow().milliseconds < deadline { usleep(1_000) }
        collectFaults()
        for c in captures.withLock({ c in defer { c.removeAll() }; return Array(c.values) }) {
            c.mirror.close()  // the workers have stopped: nobody offers any more
        }
        for (i, m) in mirrors.enumerated() {
            guard let m else { continue }
            m.close()  // after the workers: nobody offers any more
            logger.info("mirror of \(options.bridge.ports[i].name): \(m.statistics)")
        }
        logger.info("bridge \(options.name) stopped")
    }

    /// Final statistics, for printing after `run()` returns.
    public func statisticsReport() -> StatsReport { makeStats() }

    /// Releases sockets (also done by deinit).
    public func close() {
        workers.removeAll()  // their deinit closes the sockets
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
            let opened: [any BridgePort]
            do {
                opened = try Self.openPorts(name, count: workers.count, options)  // closes them on failure
            } catch {
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

    // MARK: - Control requests

    private func portIndex(_ dev: String) -> Int? { options.bridge.ports.firstIndex { $0.name == dev } }

    private func handle(_ request: ControlRequest) -> ControlResponse {
        switch request {
        case .fdbShow:
            let now = monotonicNow()
            let rows = table.entries(now: now).map { e in
                FDBRow(e, dev: e.port < options.bridge.ports.count ? options.bridge.ports[e.port].name : "port\(e.port)",
                       vlanFiltering: options.bridge.vlanFiltering)
            }
            return .success(.fdb(rows))
        case .fdbAdd(let text, let dev, let vlan):
            return fdbChange(text, dev: dev, vlan: vlan) { mac, port, vid in
                guard let port else { return 0 }
                try table.addStatic(mac, vlan: vid, port: port)
                return 1
            }
        case .fdbDel(let text, let dev, let vlan):
            return fdbChange(text, dev: dev, vlan: vlan) { mac, port, vid in
                if let port, let holder = table.lookup(mac, vlan: vid), holder != port {
                    return 0  // bridge(8): the entry must be on the named device
                }
                return table.remove(mac, vlan: vid) ? 1 : 0
            }
        case .fdbFlush(let dev):
            if let dev {
                guard let i = portIndex(dev) else { return .failure("no port named '\(dev)' on bridge \(options.name)") }
                return .success(.changed(entries: table.flush(port: i)))
            }
            return .success(.changed(entries: table.flush()))
        case .linkShow:
            return .success(.links(makeLinks()))
        case .stats:
            return .success(.stats(makeStats()))
        case .captureStart(let spec):
            return startCapture(spec)
        case .captureStatus(let id):
            guard let c = captures.withLock({ $0[id] }) else { return .failure("no capture \(id) on bridge \(options.name)") }
            return .success(.capture(status(c, complete: c.mirror.isComplete)))
        case .captureStop(let id):
            guard let c = captures.withLock({ $0.removeValue(forKey: id) }) else {
                return .failure("no capture \(id) on bridge \(options.name)")
            }
            detachMirror(index: c.index)
            c.mirror.close()
            return .success(.capture(status(c, complete: true)))
        }
    }

    // MARK: - Captures

    private func status(_ c: Capture, complete: Bool) -> CaptureStatus {
        let s = c.mirror.statistics
        return CaptureStatus(
            id: c.id, port: options.bridge.ports[c.index].name, file: c.file, offered: s.offered,
            filteredOut: s.filteredOut, written: s.written, dropped: s.droppedFull &+ s.droppedWriteError, complete: complete)
    }

    private func startCapture(_ spec: CaptureSpec) -> ControlResponse {
        guard let index = portIndex(spec.port) else { return .failure("no port named '\(spec.port)' on bridge \(options.name)") }
        guard ["in", "out", "both"].contains(spec.direction) else { return .failure("direction must be in, out or both") }
        guard mirrors[index] == nil else { return .failure("port \(spec.port) is already mirrored by --mirror") }
        guard !captures.withLock({ $0.values.contains { $0.index == index } }) else {
            return .failure("port \(spec.port) is already being captured")
        }
        var config = PcapMirror.Configuration()
        config.filter = spec.filter
        config.frameLimit = spec.count
        if let maxBytes = spec.maxBytes {
            guard maxBytes >= 4096, let keep = spec.keep ?? Optional(2), keep >= 1 else {
                return .failure("--max-size must be at least 4 KiB and --rotate at least 1")
            }
            config.rotation = Rotation(maxBytes: maxBytes, keep: keep)
        }
        let mirror: PcapMirror
        do {
            mirror = try PcapMirror(path: spec.file, configuration: config)
        } catch {
            return .failure("\(error)")
        }
        let id = nextCapture.add(1, ordering: .relaxed).oldValue
        let capture = Capture(id: id, index: index, file: spec.file, mirror: mirror)
        captures.withLock { $0[id] = capture }
        let generation = mirrorGeneration.add(1, ordering: .relaxed).newValue
        let ingress = MirrorHandoff(mirror: spec.direction == "out" ? nil : mirror)
        let egress = MirrorHandoff(mirror: spec.direction == "in" ? nil : mirror)
        for w in workers { w.send(.setMirror(index: index, ingress: ingress, egress: egress, generation: generation)) }
        logger.info("capture \(id): \(spec.port) (\(spec.direction)) to \(spec.file)")
        return .success(.capture(status(capture, complete: false)))
    }

    /// Takes port `index`'s capture mirror away from every worker and waits (bounded) until
    /// all have let go, so the mirror can be closed safely.
    private func detachMirror(index: Int) {
        let generation = mirrorGeneration.add(1, ordering: .relaxed).newValue
        for w in workers {
            w.send(.setMirror(index: index, ingress: MirrorHandoff(mirror: nil), egress: MirrorHandoff(mirror: nil), generation: generation))
        }
        let deadline = monotonicNow().milliseconds + 2_000
        while workers.contains(where: { !$0.isDone && $0.appliedGeneration.load(ordering: .acquiring) < generation }),
            monotonicNow().milliseconds < deadline
        {
            usleep(1_000)
        }
    }

    /// Parses an fdb add/del request and applies `body` per VLAN: the named VLAN, or (as
    /// bridge(8) does without `vlan`) every VLAN of the port with filtering on, VLAN 0 without.
    private func fdbChange(
        _ text: String, dev: String?, vlan: UInt16?, _ body: (MACAddress, Int?, UInt16) throws -> Int
    ) -> ControlResponse {
        let mac: MACAddress
        do { mac = try MACAddress(parsing: text) } catch { return .failure(error.description) }
        var port: Int? = nil
        if let dev {
            guard let i = portIndex(dev) else { return .failure("no port named '\(dev)' on bridge \(options.name)") }
            port = i
        }
        var vlans: [UInt16]
        if let vlan {
            guard vlan >= 1 && vlan <= 4094 || (vlan == 0 && !options.bridge.vlanFiltering) else {
                return .failure("VLAN \(vlan) is out of range (1-4094)")
            }
            vlans = [vlan]
        } else if options.bridge.vlanFiltering, let port {
            vlans = options.bridge.ports[port].vlans.members
        } else {
            vlans = [0]
        }
        if !options.bridge.vlanFiltering && vlans != [0] {
            return .failure("VLAN filtering is off on \(options.name): entries have no VLAN")
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

    private func makeLinks() -> [LinkRow] {
        let rt = runtime.withLock { $0 }
        let interfaces = (try? Interface.all()) ?? []
        return options.bridge.ports.enumerated().map { i, p in
            // The sockets are bound to an ifindex and follow a renamed interface: describe the
            // interface behind that index, under whatever name it has now.
            let current = rt[i].attached ? (interfaces.first { $0.index == rt[i].ifindex }?.name ?? p.name) : p.name
            let state = try? Interface.state(of: current)
            var config = p
            if !rt[i].attached { config.state = .disabled }
            if current != p.name { config.name = "\(p.name) (now \(current))" }
            return LinkRow(
                index: (try? Interface.index(of: current)).map(Int.init) ?? 0, port: config, attached: rt[i].attached,
                operUp: state?.operationalUp ?? false, mtu: try? Interface.mtu(of: current),
                mac: try? Interface.macAddress(of: current), learnedEntries: table.learnedEntries(port: i),
                backend: (options.backends[p.name] ?? .afPacket) == .pcap ? "pcap" : "af_packet \(options.ring.ringVersion)")
        }
    }

    private func makeStats() -> StatsReport {
        let rt = runtime.withLock { $0 }
        var rows: [PortStatsRow] = []
        for (i, p) in options.bridge.ports.enumerated() {
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
            vlanFiltering: options.bridge.vlanFiltering, ports: rows,
            fdb: FDBStatsSection(table.statistics, maxLearned: options.table.maxLearned))
    }
}

extension Duration {
    /// Whole milliseconds (negative durations count as zero).
    var milliseconds: UInt64 {
        let (s, a) = components
        return s < 0 ? 0 : UInt64(s) * 1000 + UInt64(a / 1_000_000_000_000_000)
    }
}
