// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ForwardingWorker: one forwarding thread. It owns its engine, its ForwardingPass and its ports'
// sockets (with --threads N each thread has its own socket per interface, in one PACKET_FANOUT
// group), waits on them (EpollReadiness) and forwards with the ReceiveLoop (spinning only while
// traffic is continuous, SpinPolicy.swift, or always with --busy-poll). Nothing
// else touches what it owns: other threads talk to it through a mailbox and a wake-up pipe,
// and read what it publishes (counters are single-writer atomics; socket statistics are
// copied out under a lock every 250 ms, since reading them is a syscall that resets them).

import BridgeControl
import BridgeCore
import Logging
import PacketIO
import PcapIO
import Synchronization
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Moves a port to the thread that will own it. The sender gives it up: no aliasing.
struct PortHandoff: @unchecked Sendable {
    let port: any PortSocket
}

/// Something a worker must do between batches.
enum WorkerCommand: Sendable {
    case attach(index: Int, PortHandoff)
    case apply(BridgeConfiguration)
    /// Closes port `index`'s socket and forgets it (the port left the bridge).
    case detach(index: Int)
    /// The kernel announced a change of port `index`'s interface (RTM_NEWLINK): read its MTU again.
    case refreshMTU(index: Int)
    /// The kernel said an interface was deleted: if port `index`'s socket was bound to it,
    /// give the port up as vanished (its socket will never report it).
    case recheck(index: Int)
    /// Sets what port `index`'s frames are mirrored to (nil: nothing).
    case setMirror(index: Int, ingress: MirrorHandoff, egress: MirrorHandoff)
    /// Acknowledges every command before it through `appliedGeneration`, so the sender knows
    /// they are in effect (a new port forwards, an old mirror or socket is no longer used).
    case sync(generation: Int)
    case stop
}

/// A mirror (or none) handed to the workers; PcapMirror is thread-safe for offers.
struct MirrorHandoff: @unchecked Sendable {
    let mirror: PcapMirror?
}

/// A port the worker found broken: its interface vanished (or another fatal socket error).
struct PortFault: Sendable {
    let index: Int
    let port: PortHandoff
    let reason: String
}

final class ForwardingWorker: @unchecked Sendable {
    let id: Int
    let engine: ForwardingEngine
    let counters: CounterBlock
    private let forwarder: ForwardingPass
    /// This thread's source-station sampler (read by the control thread).
    var talkers: TalkerSampler { forwarder.talkers }
    private var ports: [(any PortSocket)?]
    private let busyPoll: Bool
    /// How long to keep reading the rings after traffic instead of sleeping (SpinPolicy.swift).
    private let spinMicroseconds: Int
    private let logger: Logger

    private let mailbox = Mutex<[WorkerCommand]>([])
    private let pending = Atomic<Bool>(false)
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// Socket statistics per port as last published (nil: detached).
    let published: Mutex<[PortIOStatistics?]>
    /// Batches, CPU time and worst stall as last published (every 250 ms).
    let threadStatistics: Mutex<WorkerStatsRow>
    /// Ports this worker gave up on; the supervisor collects them.
    let faults = Mutex<[PortFault]>([])
    private let done = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)

    /// The MirrorPort wrapping each attached port (mirrors are switched on and off in place).
    private var mirrorPorts: [MirrorPort?] = []
    /// Mirror ingress/egress per port as last set (kept across re-attaches).
    private var currentMirrors: [(PcapMirror?, PcapMirror?)] = []
    /// The last `sync` generation this worker has applied.
    let appliedGeneration = Atomic<Int>(0)
    /// Ports whose socket reported an error while their interface still existed (a link
    /// down). Deleting an interface takes it down first, and the unregistration that follows
    /// reports nothing more on the socket, so these are looked at again every 250 ms.
    private var linkDown: Set<Int> = []

    init(id: Int, table: MACTable, configuration: BridgeConfiguration, ports: [(any PortSocket)?], busyPoll: Bool,
         spinMicroseconds: Int = 0, mirrors: [PcapMirror?] = [], stormBudget: StormBudget? = nil,
         multicastTable: MulticastGroupTable? = nil, controlFrames: ControlFrameQueue? = nil, logger: Logger) throws {
        self.spinMicroseconds = spinMicroseconds
        self.id = id
        counters = CounterBlock()
        engine = try ForwardingEngine(table: table, configuration: configuration, counters: counters, stormBudget: stormBudget,
                                      multicastTable: multicastTable)
        self.ports = ports
        let initial: [(PcapMirror?, PcapMirror?)] = ports.indices.map { i in
            let m = mirrors.indices.contains(i) ? mirrors[i] : nil
            return (m, m)
        }
        let wrapped: [MirrorPort?] = ports.indices.map { i in ports[i].map { MirrorPort($0, ingress: initial[i].0, egress: initial[i].1) } }
        currentMirrors = initial
        mirrorPorts = wrapped
        forwarder = ForwardingPass(engine: engine, ports: wrapped.map { $0 }, controlFrames: controlFrames)
        self.busyPoll = busyPoll
        self.logger = logger
        var fds: [Int32] = [0, 0]
        do { try systemCall("pipe") { pipe(&fds) } } catch { throw BridgeError.system(error) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
        published = Mutex(Array(repeating: nil, count: ports.count))
        threadStatistics = Mutex(WorkerStatsRow(worker: id, batches: 0, cpuSeconds: 0, worstGapMilliseconds: 0))
    }

    deinit {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
        for p in ports { p?.close() }
    }

    /// Queues a command and wakes the thread.
    func send(_ command: WorkerCommand) {
        mailbox.withLock { $0.append(command) }
        pending.store(true, ordering: .releasing)
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    var isDone: Bool { done.load(ordering: .acquiring) }
    /// The thread is in its loop (or past it): what "the bridge forwards" waits for.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Closes the ports' sockets; only when the thread is not running (never started, or stopped).
    func closePorts() {
        precondition(!isRunning || isDone, "closePorts while the worker runs")
        for i in ports.indices {
            ports[i]?.close()
            ports[i] = nil
        }
    }

    /// The thread body. Returns after `.stop`.
    func run() {
        let source = EpollReadiness(wakeFD: wakeRead)
        var loop = ReceiveLoop(forwarder: forwarder, busyPoll: busyPoll, spinMicroseconds: spinMicroseconds)
        func rebuild() {
            source.watch(ports.indices.compactMap { i in
                guard let p = ports[i], p.isOpen else { return nil }
                return (i, p.fileDescriptor)
            })
        }
        rebuild()
        running.store(true, ordering: .releasing)
        var lastPublish: UInt64 = 0
        var stopping = false
        while !stopping {
            if pending.load(ordering: .acquiring) {
                pending.store(false, ordering: .relaxed)
                stopping = applyMailbox()
                rebuild()
                if stopping { break }
            }
            let woke = source.wait(timeoutMilliseconds: loop.waitTimeoutMilliseconds)
            if !woke.failed.isEmpty {
                var changed = false
                for i in woke.failed where handleSocketError(port: Int(i)) { changed = true }
                if changed { rebuild() }
            }
            loop.serve(ready: woke.ready) { pending.load(ordering: .relaxed) }
            let t = monotonicNow().milliseconds
            if t &- lastPublish >= 250 {
                if !linkDown.isEmpty && giveUpDeletedWhileDown() { rebuild() }
                publishThreadStatistics(loop)
                publishStatistics()
                lastPublish = t
            }
        }
        publishThreadStatistics(loop)
        publishStatistics()
        done.store(true, ordering: .releasing)
    }

    /// Runs the queued commands; true when one was `.stop`.
    private func applyMailbox() -> Bool {
        let commands = mailbox.withLock { box -> [WorkerCommand] in
            defer { box.removeAll() }
            return box
        }
        var stop = false
        for c in commands {
            switch c {
            case .stop: stop = true
            case .apply(let config):
                do { try engine.apply(config) } catch { logger.error("worker \(id): \(error)") }
            case .attach(let index, let handoff):
                linkDown.remove(index)
                ports[index]?.close()
                ports[index] = handoff.port
                let wrapped = MirrorPort(handoff.port, ingress: currentMirrors[index].0, egress: currentMirrors[index].1)
                mirrorPorts[index] = wrapped
                forwarder.setPort(index, wrapped)
            case .refreshMTU(let index):
                refreshMTU(index)
            case .recheck(let index):
                if let p = ports[index], !p.boundInterfaceExists { giveUp(port: index, reason: "interface vanished") }
            case .detach(let index):
                linkDown.remove(index)
                ports[index]?.close()
                ports[index] = nil
                mirrorPorts[index] = nil
                currentMirrors[index] = (nil, nil)
                forwarder.setPort(index, nil)
                published.withLock { $0[index] = nil }
            case .setMirror(let index, let ingress, let egress):
                currentMirrors[index] = (ingress.mirror, egress.mirror)
                mirrorPorts[index]?.ingress = ingress.mirror
                mirrorPorts[index]?.egress = egress.mirror
            case .sync(let generation):
                appliedGeneration.store(max(appliedGeneration.load(ordering: .relaxed), generation), ordering: .releasing)
            }
        }
        return stop
    }

    /// A socket reported an error: tell a vanished interface (detach) from a link that went
    /// down (the kernel also reports ENETDOWN then; the socket recovers when it comes up).
    /// Returns true when the port was detached.
    private func handleSocketError(port i: Int) -> Bool {
        guard let p = ports[i] else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(p.fileDescriptor, SOL_SOCKET, SO_ERROR, &err, &len)  // also clears it
        // By index, not by name: a renamed interface is still there (and its socket works).
        let stillThere = p.boundInterfaceExists
        if stillThere && err != EBADF {
            logger.info("port \(p.name): socket reported errno \(err) (link down?); keeping it")
            linkDown.insert(i)
            return false
        }
        giveUp(port: i, reason: stillThere ? "socket error \(err)" : "interface vanished")
        return true
    }

    /// Stops using port `i`'s socket and hands it to the supervisor as a fault (it closes the
    /// socket, marks the port absent and re-attaches it when its interface is back).
    private func giveUp(port i: Int, reason: String) {
        guard let p = ports[i] else { return }
        linkDown.remove(i)
        forwarder.setPort(i, nil)
        ports[i] = nil
        mirrorPorts[i] = nil
        published.withLock { $0[i] = nil }
        faults.withLock { $0.append(PortFault(index: i, port: PortHandoff(port: p), reason: reason)) }
    }

    /// Ports whose link went down and whose interface has since been deleted are given up.
    /// Returns true when one was (the poll set must be rebuilt).
    private func giveUpDeletedWhileDown() -> Bool {
        var gone: [Int] = []
        for i in linkDown {
            guard let p = ports[i] else { gone.append(i); continue }
            if !p.boundInterfaceExists { gone.append(i) }
        }
        for i in gone {
            if ports[i] != nil { giveUp(port: i, reason: "interface vanished") } else { linkDown.remove(i) }
        }
        return !gone.isEmpty
    }

    private func publishThreadStatistics(_ loop: ReceiveLoop) {
        var cpu = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
        let row = WorkerStatsRow(worker: id, batches: loop.batches, cpuSeconds: Double(cpu.tv_sec) + Double(cpu.tv_nsec) / 1e9,
                                 worstGapMilliseconds: Double(loop.worstGapNanoseconds) / 1e6)
        threadStatistics.withLock { $0 = row }
    }

    private func refreshMTU(_ i: Int) {
        guard let p = ports[i] else { return }
        // Fails only when the interface is gone, which its socket's error reports.
        do { try p.updateMTU() } catch { logger.debug("port \(p.name): MTU not refreshed: \(error)") }
    }

    private func publishStatistics() {
        // A changed MTU arrives as a link event (`refreshMTU`, at once); every 5 s all ports
        // are read again anyway, in case an event was lost. Not at every publish: with 1,024
        // ports that was a thousand ioctls four times a second.
        publishes &+= 1
        if publishes % 20 == 0 { for i in ports.indices { refreshMTU(i) } }
        var stats: [PortIOStatistics?] = []
        stats.reserveCapacity(ports.count)
        for p in ports { stats.append(p?.ioStatistics()) }
        published.withLock { $0 = stats }
    }
    private var publishes = 0
}

/// The monotonic clock in milliseconds, as the engine and the table count time.
func monotonicNow() -> Timestamp {
    Timestamp(milliseconds: MonotonicClock.now() / 1_000_000)
}
