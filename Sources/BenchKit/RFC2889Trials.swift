// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// RFC2889Trials: RFC 2889's address tests on one running bridge, with this project's own
// generator and capture over AF_PACKET in the lab's host namespaces (host 1 sends test frames,
// host 2 owns the addresses under test, host 3 is the "third host" that sees what is flooded):
//
// - address learning rate (RFC 2889 5.8): host 2 sends one frame from each of N new source
//   MACs at rate R; after a settle time host 1 sends one test frame to each at a modest rate;
//   a MAC is learned when its frame reached host 2 and not host 3. The highest R at which all
//   N are learned is searched (ThroughputSearch's NDR, learned counted as "delivered").
// - address caching capacity (5.7): the same with K MACs at a safe rate, K searched by
//   doubling and bisection (CountSearch) up to a bound (65,536 full, 4,096 quick).
// - flooding to a newly learned MAC stops after: host 1 streams frames to an unknown MAC X
//   (flooded, so host 3 sees them); host 2 sends one frame from X; the time from that frame
//   to the last frame to X seen at host 3 (by the send time stamped in that frame).
// - broadcast forwarding rate (5.9): host 1 sends broadcast test frames at its maximum rate;
//   frames/s delivered at host 2 and at host 3.
//
// Every trial uses fresh addresses (AddressBlock) and, where the bridge offers a way, starts
// from an empty address table (RunningBridge.flushAddresses). Every loop is bounded in count
// and time.

import BridgeCore
import Foundation
import LabKit
import PacketIO

/// Drains one port into a consumer on its own thread until finished (or a deadline).
final class CaptureThread: @unchecked Sendable {
    // @unchecked: the port and the consumer are used by the capture thread only, until
    // `finish` returns (the StopFlag's handshake orders it).
    private let port: AFPacketPort
    private let consume: (UnsafeBufferPointer<ReceivedFrame>, UInt64) -> Void
    private let stop = StopFlag()
    private let maximumNanoseconds: UInt64

    init(port: AFPacketPort, maximumSeconds: Double = 120, consume: @escaping (UnsafeBufferPointer<ReceivedFrame>, UInt64) -> Void) {
        self.port = port
        self.consume = consume
        maximumNanoseconds = UInt64(maximumSeconds * 1e9)
    }

    func start() {
        let deadline = MonotonicClock.now() &+ maximumNanoseconds
        let thread = Thread { [self] in
            let frames = UnsafeMutableBufferPointer<ReceivedFrame>.allocate(capacity: 256)
            frames.initialize(repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0))
            defer { frames.deallocate() }
            var pfd = pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0)
            while !stop.isSet && MonotonicClock.now() < deadline {
                _ = poll(&pfd, 1, 2)
                for _ in 0..<1024 {
                    let n = port.receive(into: frames, port: 0)
                    if n == 0 { break }
                    consume(UnsafeBufferPointer(rebasing: frames[0..<n]), MonotonicClock.now())
                    port.releaseReceived()
                }
            }
            stop.done()
        }
        thread.name = "bench capture"
        thread.start()
    }

    /// Waits `drainSeconds` for frames in flight, then stops the thread and waits for it.
    func finish(drainSeconds: Double) {
        usleep(UInt32(max(0, drainSeconds) * 1e6))
        stop.set()
        stop.waitDone()
    }
}

/// The RFC 2889 trials of one bridge in one round.
final class AddressTrials {
    let lab: CompareLab
    let bridge: RunningBridge
    let quick: Bool
    let progress: (String) -> Void
    let prefix: String
    private let tx1: AFPacketPort
    private let tx2: AFPacketPort
    private let rx2: AFPacketPort
    private let rx3: AFPacketPort
    private var nextTag = UInt32.random(in: 0..<0x80_0000)
    private var nextRun = UInt32.random(in: 1...UInt32.max / 2)
    /// Whether the table could be emptied between trials (else fresh addresses only).
    private(set) var flushes = true

    /// Frames/s of the test (probe) frames, modest so a userspace bridge does not drop them.
    let probeRate = 20_000.0
    var settleSeconds: Double { quick ? 0.3 : 0.5 }

    init(lab: CompareLab, bridge: RunningBridge, quick: Bool, prefix: String, progress: @escaping (String) -> Void) throws {
        precondition(lab.hostCount >= 3, "RFC 2889 trials need a third host")
        self.lab = lab
        self.bridge = bridge
        self.quick = quick
        self.prefix = prefix
        self.progress = progress
        var plain = AFPacketPort.Configuration()
        plain.vnetHeader = false
        var bulk = plain
        bulk.ringVersion = .v3
        bulk.blockSize = 1 << 20
        bulk.blockCount = 16
        let ns = lab.hostNamespaces
        tx1 = try lab.lab.withNetworkNamespace(ns[0]) { try AFPacketPort(interface: "eth0", configuration: plain) }
        tx2 = try lab.lab.withNetworkNamespace(ns[1]) { try AFPacketPort(interface: "eth0", configuration: plain) }
        rx2 = try lab.lab.withNetworkNamespace(ns[1]) { try AFPacketPort(interface: "eth0", configuration: bulk) }
        rx3 = try lab.lab.withNetworkNamespace(ns[2]) { try AFPacketPort(interface: "eth0", configuration: bulk) }
    }

    deinit {
        for p in [tx1, tx2, rx2, rx3] { p.close() }
    }

    private func freshBlock(_ count: Int) -> AddressBlock {
        nextTag = (nextTag &+ 1) & 0x7F_FFFF
        return AddressBlock(tag: nextTag, count: count)
    }

    private func freshRun() -> UInt32 {
        nextRun &+= 1
        return nextRun
    }

    /// Sends one minimum-size frame (not a test frame) from `source` to `destination`.
    private func sendOne(_ port: AFPacketPort, from source: MACAddress, to destination: MACAddress) {
        let bytes = destination.octets + source.octets + [0x88, 0xB5] + [UInt8](repeating: 0, count: 46)
        bytes.withUnsafeBytes { raw in
            var e = EgressFrame(bytes: raw, encoding: .asIs)
            for _ in 0..<5 {  // a full queue refuses (ENOBUFS): retry briefly
                if withUnsafePointer(to: &e, { port.transmit(UnsafeBufferPointer(start: $0, count: 1)) }) == 1 { break }
                usleep(1_000)
            }
        }
    }

    /// An empty table (when the bridge can), then the station at host 1 learned.
    private func prepare() {
        if !bridge.flushAddresses() { flushes = false }
        sendOne(tx1, from: AddressBlock.station(), to: .broadcast)
        usleep(50_000)
    }

    private func send(_ flows: [FlowSpec], run: UInt32, rate: Double, on port: AFPacketPort) -> GeneratorReport {
        let seconds = min(Double(flows.count) / rate * 3 + 1, 30)
        var c = GeneratorConfiguration(frameSize: FrameSize(wireLength: 64), flows: flows, run: run, rate: .fixed(framesPerSecond: rate),
                                       frameLimit: UInt64(flows.count), durationNanoseconds: UInt64(seconds * 1e9))
        c.maxBatch = 64
        return TrafficGenerator(configuration: c).run(into: port)
    }

    struct LearnResult {
        var count: Int
        var learned: Int
        var flooded: Int
        var delivered: Int
        var learningRate: Double
        var passed: Bool { learned == count }
    }

    /// RFC 2889's learn-then-probe trial: `count` fresh MACs learned from host 2 at `rate`,
    /// then one test frame to each from host 1.
    func learnAndProbe(count: Int, rate: Double) -> LearnResult {
        prepare()
        let block = freshBlock(count)
        let station = AddressBlock.station()
        let learning = send(block.learningFlows(to: station), run: freshRun(), rate: rate, on: tx2)
        usleep(UInt32(settleSeconds * 1e6))
        let run = freshRun()
        let at2 = FrameTally(run: run, flowCount: count), at3 = FrameTally(run: run, flowCount: count)
        let c2 = CaptureThread(port: rx2, consume: at2.consume), c3 = CaptureThread(port: rx3, consume: at3.consume)
        c2.start()
        c3.start()
        _ = send(block.testFlows(from: station), run: run, rate: probeRate, on: tx1)
        c2.finish(drainSeconds: 0.2)
        c3.finish(drainSeconds: 0)
        var learned = 0
        for i in 0..<count where at2.saw(flow: i) && !at3.saw(flow: i) { learned += 1 }
        return LearnResult(count: count, learned: learned, flooded: at3.distinctFlows, delivered: at2.distinctFlows,
                           learningRate: learning.sentRate)
    }

    typealias Record = (_ kind: String, _ values: [String: Double], _ note: String?) -> Void

    /// Address learning rate: the highest rate at which all N new MACs are learned.
    func learningRate(maximumRate: Double, record: Record) {
        let n = quick ? 2_048 : 8_192
        progress("\(prefix): RFC 2889 address learning rate (\(n) MACs)")
        let top = max(maximumRate, 20_000)
        let search = ThroughputSearch(minimumRate: 1_000, maximumRate: top, resolution: .relative(quick ? 0.2 : 0.05),
                                      partialDropTolerance: 0.001, maximumTrials: quick ? 4 : 10)
        let found = search.run { rate in
            let r = learnAndProbe(count: n, rate: rate)
            record("learning", ["learn_trial_rate": rate, "learn_offered_fps": r.learningRate, "learn_addresses": Double(n),
                                "learned": Double(r.learned), "flooded": Double(r.flooded), "probe_delivered": Double(r.delivered)], nil)
            return TrialResult(offered: UInt64(n), delivered: UInt64(r.learned), offeredRate: r.learningRate)
        }
        var values: [String: Double] = ["learn_addresses": Double(n), "learn_trials": Double(found.trials.count)]
        var note: String? = nil
        if let rate = found.ndr.rate {
            values["learn_rate_fps"] = found.ndr.result?.offeredRate ?? rate
            if found.ndr.lowestFailingRate == nil { values["learn_rate_fps_bounded"] = 1 }
        } else {
            let lowest = Int(found.trials.map(\.rate).min() ?? search.minimumRate)
            note = lowest <= Int(search.minimumRate)
                ? "not all \(n) addresses were learned even at \(lowest) frames/s"
                : "not all \(n) addresses were learned at any rate tried (lowest \(lowest) frames/s, \(found.trials.count) trials)"
        }
        record("learning_rate", values, note)
    }

    /// Address caching capacity: how many MACs the bridge holds before it floods.
    func cachingCapacity(learningRate: Double?, record: Record) {
        let bound = quick ? 4_096 : AddressBlock.maximumCount
        let rate = min(10_000, max(1_000, (learningRate ?? 10_000) / 2))
        progress("\(prefix): RFC 2889 address caching capacity (up to \(bound) MACs)")
        let search = CountSearch(start: quick ? 1_024 : 2_048, bound: bound, maximumTrials: quick ? 4 : 10, resolution: quick ? 0.1 : 0.02)
        var learnedAtFirstFail: Int? = nil
        let found = search.run { k in
            progress("\(prefix): RFC 2889 address caching capacity: \(k) MACs")
            let r = learnAndProbe(count: k, rate: rate)
            record("capacity", ["capacity_trial": Double(k), "learned": Double(r.learned), "flooded": Double(r.flooded),
                                "probe_delivered": Double(r.delivered), "learn_offered_fps": r.learningRate], nil)
            if !r.passed, learnedAtFirstFail == nil { learnedAtFirstFail = r.learned }
            return r.passed
        }
        var values: [String: Double] = ["capacity_trials": Double(found.trialCount), "capacity_bound": Double(bound),
                                        "capacity_learning_fps": rate]
        var note: String? = nil
        if let k = found.largestPass {
            values["mac_capacity"] = Double(k)
            if found.reachedBound { values["mac_capacity_bounded"] = 1 }
        } else {
            note = "flooding already with \(found.trials.keys.min() ?? 0) addresses"
        }
        if let l = learnedAtFirstFail { values["capacity_learned_at_fail"] = Double(l) }
        if !flushes { note = (note.map { $0 + "; " } ?? "") + "address table not flushed between trials (no way to for this bridge)" }
        record("capacity_result", values, note)
    }

    /// Flooding to a newly learned MAC stops after ... ms (median of the repetitions).
    func floodStop(record: Record) {
        let repetitions = quick ? 1 : 3
        let window = quick ? 0.6 : 1.0
        progress("\(prefix): flooding to a newly learned MAC stops after ...")
        var times: [Double] = []
        var notStopped = 0
        var notes: [String] = []
        // A V2 ring here: per-frame hand-over, no block timeout added to the arrival time.
        var plain = AFPacketPort.Configuration()
        plain.vnetHeader = false
        guard let rx = try? lab.lab.withNetworkNamespace(lab.hostNamespaces[2], { try AFPacketPort(interface: "eth0", configuration: plain) })
        else {
            record("flood_stop", [:], "could not open a capture port on host 3")
            return
        }
        defer { rx.close() }
        for _ in 0..<repetitions {
            prepare()
            let x = freshBlock(1).address(0)
            let station = AddressBlock.station()
            let run = freshRun()
            let tally = FrameTally(run: run, flowCount: 1)
            let capture = CaptureThread(port: rx, consume: tally.consume)
            capture.start()
            let generator = TrafficGenerator(configuration: GeneratorConfiguration(
                frameSize: FrameSize(wireLength: 64), flows: [FlowSpec(source: station, destination: x)], run: run,
                rate: .fixed(framesPerSecond: probeRate), durationNanoseconds: UInt64(window * 1e9)))
            let done = DispatchSemaphore(value: 0)
            let box = SenderBox(port: tx1, generator: generator)
            let thread = Thread {
                _ = box.generator.run(into: box.port)
                done.signal()
            }
            thread.start()
            usleep(100_000)  // X is unknown: its frames are flooded, host 3 sees them
            let learnedAt = MonotonicClock.now()
            sendOne(tx2, from: x, to: station)
            if done.wait(timeout: .now() + window + 5) == .timedOut { generator.stop(); _ = done.wait(timeout: .now() + 2) }
            let streamEnd = MonotonicClock.now()
            capture.finish(drainSeconds: 0.05)
            if tally.firstArrival == 0 || tally.firstArrival > learnedAt {
                notes.append("no flooding to the unknown MAC seen before it was learned")
                continue
            }
            // The last flooded frame by its send stamp: a capture thread woken late (2 cores, 3
            // busy threads) would otherwise add its own delay to the figure.
            let f = FloodStop(learnedAt: learnedAt, lastFlooded: tally.lastSendTime, streamEnd: streamEnd)
            times.append(f.milliseconds)
            if f.didNotStop { notStopped += 1 }
        }
        guard !times.isEmpty else {
            record("flood_stop", [:], notes.first)
            return
        }
        var values: [String: Double] = ["flood_stop_ms": median(times), "flood_stop_repetitions": Double(times.count),
                                        "flood_stop_window_ms": window * 1000, "flood_stop_max_ms": times.max() ?? 0]
        if notStopped * 2 > times.count {
            values["flood_stop_ms_bounded"] = 1
            notes.append("flooding did not stop within the \(Int(window * 1000)) ms window")
        }
        record("flood_stop", values, notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    /// What a flood trial sends: broadcast (RFC 2889 5.9) or unicast to a MAC nobody has, which
    /// every bridge floods to all other ports as it does broadcast.
    enum FloodTraffic: String {
        case broadcast
        case unknownUnicast = "uflood"
    }

    /// Flood forwarding: host 1 sends 64-byte frames of `traffic` at `rate` (its maximum, or a
    /// fixed rate: the kernel bridge's lossless flood rate, so bridges compare at the same
    /// load) for `seconds`; frames/s delivered and loss at hosts 2 and 3, the worst host's
    /// loss being the figure. Keys: `bcast_*` / `uflood_*`, with `_ref` for a fixed rate.
    func floodRate(_ traffic: FloodTraffic, rate: SendRate, seconds: Double, record: Record) {
        // Metric keys: bcast_fps, bcast_loss_pct ... (max rate), bcast_ref_... (fixed rate).
        let key = (traffic == .broadcast ? "bcast" : "uflood") + (rate == .maximum ? "" : "_ref")
        let what = traffic == .broadcast ? "broadcast" : "unknown-unicast flood"
        progress("\(prefix): RFC 2889 \(what) forwarding at \(rate) for \(seconds) s")
        prepare()
        let run = freshRun()
        // Unknown destinations: a fresh block, never sent from, so never learned.
        let unknown = freshBlock(4)
        let flows = (0..<4).map {
            FlowSpec(source: AddressBlock.station($0 + 1), destination: traffic == .broadcast ? .broadcast : unknown.address($0))
        }
        let r2 = TrafficReceiver(flowCount: flows.count, run: run), r3 = TrafficReceiver(flowCount: flows.count, run: run)
        let c2 = CaptureThread(port: rx2, consume: r2.consume), c3 = CaptureThread(port: rx3, consume: r3.consume)
        c2.start()
        c3.start()
        let countersBefore = bridge.lossCounters()
        let cpuBefore = CPUSample.read(pid: bridge.pid)
        let g = TrafficGenerator(configuration: GeneratorConfiguration(
            frameSize: FrameSize(wireLength: 64), flows: flows, run: run, rate: rate,
            durationNanoseconds: UInt64(seconds * 1e9))).run(into: tx1)
        let cpu = CPUSample.read(pid: bridge.pid) - cpuBefore
        c2.finish(drainSeconds: 0.2)
        c3.finish(drainSeconds: 0)
        let elapsed = Double(g.elapsedNanoseconds) / 1e9
        let reports = [r2.report(sentPerFlow: g.sentPerFlow), r3.report(sentPerFlow: g.sentPerFlow)]
        let rates = reports.map { elapsed > 0 ? Double($0.total.unique) / elapsed : 0 }
        let losses = reports.map { $0.total.lossRatio * 100 }
        var values = ["\(key)_offered_fps": g.sentRate, "\(key)_fps": rates.reduce(0, +) / Double(rates.count),
                      "\(key)_min_fps": rates.min() ?? 0, "\(key)_h2_fps": rates[0], "\(key)_h3_fps": rates[1],
                      "\(key)_loss_pct": losses.max() ?? 0]
        // CPUs busy (machine) and the bridge process's share: who had the cores.
        if cpu.wall > 0 {
            values["\(key)_system_cpus"] = cpu.systemBusy / cpu.wall
            if bridge.pid != nil { values["\(key)_bridge_cpus"] = cpu.process / cpu.wall }
        }
        // Where a swbridge lost them: its receive rings (it fell behind) or its sends.
        if let a = countersBefore, let b = bridge.lossCounters() {
            values["\(key)_bridge_ring_drops"] = b.ringDrops - a.ringDrops
            values["\(key)_bridge_tx_drops"] = b.transmitDrops - a.transmitDrops
        }
        record(traffic == .broadcast && rate == .maximum ? "broadcast" : key, values, nil)
    }
}

/// Hands a sender port and its generator to a sending thread.
private struct SenderBox: @unchecked Sendable {
    let port: AFPacketPort
    let generator: TrafficGenerator
}
