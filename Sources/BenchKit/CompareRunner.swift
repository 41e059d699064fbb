// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CompareRunner: a whole `swbridge bench` run. It builds one CompareLab, then for each round
// starts every bridge in turn on it (A B A B ...: each comparison is a ratio measured side by
// side), runs the trials, stops the bridge, and finally summarises medians into a
// CompareReport. Frame trials use this project's own generator and receiver over AF_PACKET
// in the host namespaces: learning frames first (so unicast is not flooded), then max-rate
// runs per frame size, a fixed-rate run for one-way latency, an RFC 2544 zero-loss search for
// 64-byte frames (each of its trials kept as a point of the loss-versus-offered-load curve),
// RFC 2544 back-to-back bursts, and (full mode) latency at half the zero-loss rate; then the
// RFC 2889 address trials (RFC2889Trials.swift): learning rate, caching capacity, flooding
// stop time, broadcast forwarding rate. Bridges that cannot run here (OVS not installed) are
// skipped with a reason before the lab is built. Everything is bounded in time; the lab is torn
// down on every exit path.

import BridgeCore
import Foundation
import LabKit
import PacketIO

/// Groups of trials a run can be limited to (`swbridge bench --trials tcp,frames`).
public enum TrialGroup: String, CaseIterable, Sendable {
    /// CPU while idle.
    case idle
    /// Ping round trips.
    case ping
    /// iperf3, 1 and 4 streams.
    case tcp
    /// The generator's frame trials: max rate per size, one-way latency, RFC 2544 zero-loss
    /// search, back-to-back bursts, CPU per frame.
    case frames
    /// RFC 2889 address learning, caching capacity, flood stop, broadcast rate.
    case rfc2889
    /// One sender, a group with one member among three hosts: delivered frames/s and frames
    /// leaked to the non-member (MulticastTrial.swift); the bridges run their IGMP querier.
    case multicast
}

/// What to compare and how hard.
public struct CompareOptions: Sendable {
    public var bridges: [BridgeSpec] = [.kernel, .swbridge(arguments: [])]
    public var hosts = 3
    public var mtu = 1500
    public var offloads = OffloadProfile.defaults
    /// At most ~2 minutes for two bridges.
    public var quick = false
    /// Interleaved rounds (default 1 quick, 3 full).
    public var rounds: Int? = nil
    public var swbridgePath: String
    public var version = "dev"
    /// The trials to run (default: all).
    public var trials = Set(TrialGroup.allCases)

    public init(swbridgePath: String) { self.swbridgePath = swbridgePath }

    var effectiveRounds: Int { rounds ?? (quick ? 1 : 3) }
    var frameSizes: [FrameSize] { quick ? [64, 1518].map { FrameSize(wireLength: $0) } : FrameSize.rfc2544 }
    var trialSeconds: Double { quick ? 1 : 3 }
}

public final class CompareRunner {
    public let options: CompareOptions
    private let progress: (String) -> Void

    public init(options: CompareOptions, progress: @escaping (String) -> Void) {
        self.options = options
        self.progress = progress
    }

    /// Runs everything; the lab is gone when it returns or throws.
    public func run() throws -> CompareReport {
        let o = options
        var skipped: [String] = []
        var bridges: [BridgeSpec] = []
        for spec in o.bridges {
            if let reason = spec.unavailableReason { skipped.append(reason) } else { bridges.append(spec) }
        }
        progress("building the lab: \(o.hosts) hosts, MTU \(o.mtu), offloads \(o.offloads.rawValue)")
        let lab = try CompareLab(hosts: o.hosts, mtu: o.mtu, offloads: o.offloads)
        defer { lab.teardown() }
        progress("lab \(lab.lab.prefix): namespaces \(lab.lab.prefix)-*, removed at the end")
        var trials: [BenchTrial] = []
        if o.hosts < 3 { skipped.append("RFC 2889 address trials: they need a third host (--hosts 3 or more)") }
        let iperf = CompareTrials.hasIperf3
        if !iperf { skipped.append("TCP: iperf3 is not installed (scripts/setup.sh installs it)") }
        let python3 = !o.trials.contains(.multicast) || MulticastTrial.hasPython3
        if !python3 { skipped.append("multicast: python3 is not installed (the hosts join groups with its sockets)") }
        if o.hosts < 3 && o.trials.contains(.multicast) { skipped.append("multicast: it needs a third host (--hosts 3 or more)") }
        for round in 1...o.effectiveRounds {
            for spec in bridges {
                let label = spec.label
                progress("round \(round)/\(o.effectiveRounds): \(label): starting")
                let bridge: RunningBridge
                do {
                    bridge = try RunningBridge.start(spec, on: lab, swbridgePath: o.swbridgePath,
                                                     multicastQuerier: o.trials.contains(.multicast))
                } catch {
                    skipped.append("\(label), round \(round): \(error)")
                    continue
                }
                defer { bridge.stop() }
                func record(_ kind: String, _ values: [String: Double], note: String? = nil, load: Double) {
                    trials.append(BenchTrial(bridge: label, round: round, kind: kind, loadAverageBefore: load, values: values, note: note))
                }
                if !o.trials.contains(.idle) {
                    // The idle trial doubles as settling time after start; without it, wait.
                    usleep(1_000_000)
                }
                var load = BenchEnvironment.loadAverage()
                if o.trials.contains(.idle) {
                    progress("round \(round): \(label): idle CPU")
                    let idle = CompareTrials.idleCPU(pid: bridge.pid, seconds: o.quick ? 1 : 2)
                    record("idle", ["idle_cpu_pct": idle.process * 100], load: load)
                }

                load = BenchEnvironment.loadAverage()
                if o.trials.contains(.ping) {
                    progress("round \(round): \(label): ping latency")
                    if let rtt = try CompareTrials.pingLatency(lab, count: o.quick ? 100 : 300) {
                        record("ping", ["ping_avg_us": rtt.average, "ping_p50_us": rtt.p50, "ping_p99_us": rtt.p99,
                                        "ping_max_us": rtt.maximum, "ping_lost": Double(rtt.lost)], load: load)
                    } else {
                        record("ping", [:], note: "no ping answered", load: load)
                    }
                }

                if iperf && o.trials.contains(.tcp) {
                    for streams in [1, 4] {
                        load = BenchEnvironment.loadAverage()
                        progress("round \(round): \(label): TCP, \(streams) stream(s)")
                        let key = streams == 1 ? "tcp1" : "tcpN"
                        do {
                            let t = try CompareTrials.tcp(lab, streams: streams, seconds: o.quick ? 3 : 5, bridgePID: bridge.pid)
                            var note: String? = nil
                            if t.gigabitsPerSecond == 0 {
                                note = "no TCP result (connection failed?)"
                                    + (t.checksumErrors > 0 ? "; \(t.checksumErrors) TcpInCsumErrors at the receiver" : "")
                            }
                            var values = ["\(key)_gbps": t.gigabitsPerSecond, "\(key)_retransmits": Double(t.retransmits),
                                          "tcp_csum_errors": Double(t.checksumErrors), "streams": Double(streams)]
                            values["\(key)_cpu_s_per_gb"] = t.systemCPUSecondsPerGigabyte
                            values["\(key)_bridge_cpu_s_per_gb"] = t.bridgeCPUSecondsPerGigabyte
                            record(key, values, note: note, load: load)
                        } catch {
                            // A TCP test that hangs (iperf3 killed at its deadline) is a result too.
                            record(key, ["\(key)_gbps": 0, "streams": Double(streams)],
                                   note: "TCP did not complete: iperf3 killed at its deadline (connection failed?)", load: load)
                        }
                    }
                }

                var offered64 = 0.0
                if o.trials.contains(.frames) {
                    do {
                        offered64 = try frameTrials(lab: lab, bridge: bridge, round: round, record: { kind, values, note, load in
                            record(kind, values, note: note, load: load)
                        })
                    } catch {
                        skipped.append("\(label), round \(round): frame trials failed: \(error)")
                    }
                }
                if o.hosts >= 3 && o.trials.contains(.rfc2889) {
                    do {
                        let address = try AddressTrials(lab: lab, bridge: bridge, quick: o.quick,
                                                        prefix: "round \(round): \(label)", progress: progress)
                        func rec(_ kind: String, _ values: [String: Double], _ note: String?) {
                            record(kind, values, note: note, load: BenchEnvironment.loadAverage())
                        }
                        // Without the frame trials there is no measured generator rate: search up to 400k/s.
                        address.learningRate(maximumRate: o.trials.contains(.frames) ? offered64 : 400_000, record: rec)
                        let learned = trials.last { $0.bridge == label && $0.round == round && $0.kind == "learning_rate" }?
                            .values["learn_rate_fps"]
                        address.floodStop(record: rec)
                        // Floods at the generator's maximum, then at the rate the kernel bridge
                        // forwarded them (its worst host, latest round so far): where the issue's
                        // loss goal is set. Without a kernel bridge measured before, that part is skipped.
                        for traffic in [AddressTrials.FloodTraffic.broadcast, .unknownUnicast] {
                            address.floodRate(traffic, rate: .maximum, seconds: o.trialSeconds, record: rec)
                            let key = traffic == .broadcast ? "bcast_min_fps" : "uflood_min_fps"
                            if let reference = trials.last(where: { $0.bridge == "kernel" && $0.values[key] != nil })?.values[key],
                                reference > 1000
                            {
                                address.floodRate(traffic, rate: .fixed(framesPerSecond: reference), seconds: o.trialSeconds, record: rec)
                            } else if round == 1 && spec.label != "kernel" && traffic == .broadcast {
                                skipped.append("\(label): flood loss at the kernel bridge's rate needs the kernel bridge measured first (--bridge kernel before it)")
                            }
                        }
                        address.cachingCapacity(learningRate: learned, record: rec)
                    } catch {
                        skipped.append("\(label), round \(round): RFC 2889 trials failed: \(error)")
                    }
                }
                if o.hosts >= 3 && python3 && o.trials.contains(.multicast) {
                    progress("round \(round): \(label): multicast, one member of three hosts")
                    load = BenchEnvironment.loadAverage()
                    do {
                        try MulticastTrial.run(lab: lab, quick: o.quick) { kind, values, note in record(kind, values, note: note, load: load) }
                    } catch {
                        skipped.append("\(label), round \(round): multicast trial failed: \(error)")
                    }
                }
            }
        }
        let labels = bridges.map(\.label)
        let env = BenchEnvironment.current(hosts: o.hosts, mtu: o.mtu, offloads: o.offloads, rounds: o.effectiveRounds,
                                           quick: o.quick, version: o.version)
        return CompareReport(environment: env, bridges: labels, trials: trials,
                             summaries: CompareReport.summarize(bridges: labels, trials: trials), skipped: skipped)
    }

    // MARK: - Frame trials

    /// Ports of the generator (host 1) and the receiver (host 2), opened in their namespaces.
    /// The receiver must outrun every bridge: for throughput it uses a deep V3 ring (32 MiB,
    /// block hand-over); for latency a V2 ring (per-frame hand-over: no block timeout added).
    final class FramePorts: @unchecked Sendable {
        let tx: AFPacketPort
        let rx: AFPacketPort
        let lab: CompareLab
        init(_ lab: CompareLab) throws {
            self.lab = lab
            var bulk = AFPacketPort.Configuration()
            bulk.ringVersion = .v3
            bulk.blockSize = 1 << 20
            bulk.blockCount = 32
            bulk.vnetHeader = false
            tx = try lab.lab.withNetworkNamespace(lab.hostNamespaces[0]) { try AFPacketPort(interface: "eth0") }
            rx = try lab.lab.withNetworkNamespace(lab.hostNamespaces[1]) { try AFPacketPort(interface: "eth0", configuration: bulk) }
        }
        func latencyReceiver() throws -> AFPacketPort {
            var c = AFPacketPort.Configuration()
            c.vnetHeader = false
            return try lab.lab.withNetworkNamespace(lab.hostNamespaces[1]) { try AFPacketPort(interface: "eth0", configuration: c) }
        }
        deinit {
            tx.close()
            rx.close()
        }
    }

    /// Returns the offered rate at max rate for 64-byte frames (the generator's ceiling).
    private func frameTrials(lab: CompareLab, bridge: RunningBridge, round: Int,
                             record: (String, [String: Double], String?, Double) -> Void) throws -> Double {
        let o = options
        let ports = try FramePorts(lab)
        let flows = FlowSpec.standard(count: 16, tag: UInt8(truncatingIfNeeded: round))
        teachDestinations(ports.rx, flows: flows)
        let seconds = o.trialSeconds
        var run: UInt32 = UInt32.random(in: 1...UInt32.max / 2)

        func trial(size: FrameSize, rate: SendRate, duration: Double, rx: AFPacketPort? = nil,
                   limit: UInt64? = nil) -> (GeneratorReport, ReceiverReport, CPUSample) {
            let rxBox = ReceivePortBox(port: rx ?? ports.rx)
            run &+= 1
            let receiver = TrafficReceiver(flowCount: flows.count, run: run)
            let stop = StopFlag()
            let rxThread = Thread {
                var frames = [ReceivedFrame](repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0), count: 256)
                let rxPort = rxBox.port
                var pfd = pollfd(fd: rxPort.fileDescriptor, events: Int16(POLLIN), revents: 0)
                while !stop.isSet {
                    _ = poll(&pfd, 1, 20)
                    while true {
                        let n = frames.withUnsafeMutableBufferPointer { rxPort.receive(into: $0, port: 0) }
                        if n == 0 { break }
                        frames.withUnsafeBufferPointer { receiver.consume(UnsafeBufferPointer(rebasing: $0[0..<n]), receivedAt: MonotonicClock.now()) }
                        rxPort.releaseReceived()
                    }
                }
                stop.done()
            }
            rxThread.start()
            let before = CPUSample.read(pid: bridge.pid)
            let generator = TrafficGenerator(configuration: GeneratorConfiguration(
                frameSize: size, flows: flows, run: run, rate: rate, frameLimit: limit, durationNanoseconds: UInt64(duration * 1e9)))
            let g = generator.run(into: ports.tx)
            let cpu = CPUSample.read(pid: bridge.pid) - before
            usleep(200_000)  // frames still in flight through the bridge
            stop.set()
            stop.waitDone()
            return (g, receiver.report(sentPerFlow: g.sentPerFlow), cpu)
        }

        // Max offered rate, per frame size.
        var maxDelivered64 = 0.0
        var maxOffered64 = 0.0
        for size in o.frameSizes {
            let load = BenchEnvironment.loadAverage()
            progress("round \(round): \(bridge.spec.label): \(size.wireLength) B frames at max rate for \(seconds) s")
            let (g, r, cpu) = trial(size: size, rate: .maximum, duration: seconds)
            let elapsed = Double(g.elapsedNanoseconds) / 1e9
            let delivered = Double(r.total.unique)
            var values: [String: Double] = [
                "size": Double(size.wireLength), "max_rate": 1, "offered_fps": g.sentRate,
                "delivered_fps": elapsed > 0 ? delivered / elapsed : 0,
                "loss_pct": r.total.expected > 0 ? 100 * Double(r.total.lost) / Double(r.total.expected) : 0,
                "reordered": Double(r.total.reordered),
            ]
            if size.wireLength == 64 {
                maxDelivered64 = values["delivered_fps"] ?? 0
                maxOffered64 = values["offered_fps"] ?? 0
                values["frames64_offered_fps"] = values["offered_fps"]
                values["frames64_delivered_fps"] = values["delivered_fps"]
                values["frames64_loss_pct"] = values["loss_pct"]
                if delivered > 0 {
                    values["cpu_us_per_frame64"] = cpu.systemBusy / delivered * 1e6
                    if bridge.pid != nil { values["bridge_cpu_us_per_frame64"] = cpu.process / delivered * 1e6 }
                }
            }
            record("frames", values, nil, load)
        }

        // One-way latency at a modest fixed rate (64 B, 10,000 frames/s).
        let load = BenchEnvironment.loadAverage()
        progress("round \(round): \(bridge.spec.label): one-way latency at 10,000 frames/s")
        let latencyPort = try ports.latencyReceiver()
        defer { latencyPort.close() }
        let (_, lat, _) = trial(size: FrameSize(wireLength: 64), rate: .fixed(framesPerSecond: 10_000), duration: seconds, rx: latencyPort)
        if let s = lat.latency.summary {
            record("latency", ["oneway_p50_us": Double(s.p50) / 1000, "oneway_p99_us": Double(s.p99) / 1000,
                               "oneway_avg_us": s.average / 1000, "oneway_loss_pct": lat.total.lossRatio * 100], nil, load)
        }

        // RFC 2544 zero-loss throughput of 64 B frames, searched below what was delivered at
        // max rate (it cannot be higher); fewer trials in quick mode.
        let ceiling = max(maxDelivered64 * 1.05, 20_000)
        let search = ThroughputSearch(minimumRate: 5_000, maximumRate: ceiling, resolution: .relative(o.quick ? 0.15 : 0.03),
                                      maximumTrials: o.quick ? 5 : 12)
        progress("round \(round): \(bridge.spec.label): RFC 2544 zero-loss search, 64 B")
        let found = search.run { rate in
            let load = BenchEnvironment.loadAverage()
            let (g, r, _) = trial(size: FrameSize(wireLength: 64), rate: .fixed(framesPerSecond: rate), duration: o.quick ? 0.5 : 2)
            // Each search trial is a point of the loss-versus-offered-load curve.
            let elapsed = Double(g.elapsedNanoseconds) / 1e9
            record("frames", ["size": 64, "search": 1, "target_fps": rate, "offered_fps": g.sentRate,
                              "delivered_fps": elapsed > 0 ? Double(r.total.unique) / elapsed : 0,
                              "loss_pct": r.total.expected > 0 ? 100 * Double(r.total.lost) / Double(r.total.expected) : 0], nil, load)
            return TrialResult(offered: g.sent, delivered: r.total.unique, offeredRate: g.sentRate)
        }
        var ndr: [String: Double] = ["ndr_trials": Double(found.trials.count)]
        if let rate = found.ndr.rate { ndr["ndr64_fps"] = rate }
        if let rate = found.pdr.rate { ndr["pdr64_fps"] = rate }
        record("ndr", ndr, found.ndr.rate == nil ? "no zero-loss rate found down to \(Int(search.minimumRate)) frames/s" : nil,
               BenchEnvironment.loadAverage())

        // RFC 2544 latency at a fraction (half) of the zero-loss rate; full mode.
        if !o.quick, let rate = found.ndr.rate {
            let load = BenchEnvironment.loadAverage()
            progress("round \(round): \(bridge.spec.label): one-way latency at 50% of the zero-loss rate")
            let (_, lat, _) = trial(size: FrameSize(wireLength: 64), rate: .fixed(framesPerSecond: rate / 2), duration: seconds, rx: latencyPort)
            if let s = lat.latency.summary {
                record("latency_ndr50", ["ndr50_rate_fps": rate / 2, "ndr50_oneway_p50_us": Double(s.p50) / 1000,
                                         "ndr50_oneway_p99_us": Double(s.p99) / 1000, "ndr50_oneway_avg_us": s.average / 1000,
                                         "ndr50_oneway_loss_pct": lat.total.lossRatio * 100], nil, load)
            }
        }

        // RFC 2544 back-to-back: the longest burst at max rate delivered without loss.
        progress("round \(round): \(bridge.spec.label): RFC 2544 back-to-back bursts, 64 B")
        let burstSearch = CountSearch(start: 1_024, bound: o.quick ? 32_768 : 1 << 19, maximumTrials: o.quick ? 6 : 14,
                                      resolution: o.quick ? 0.1 : 0.02)
        let bursts = burstSearch.run { n in
            let load = BenchEnvironment.loadAverage()
            let (g, r, _) = trial(size: FrameSize(wireLength: 64), rate: .maximum, duration: 10, limit: UInt64(n))
            let passed = g.sent == UInt64(n) && r.total.lost == 0
            record("burst", ["burst_frames": Double(n), "burst_sent": Double(g.sent), "burst_lost": Double(r.total.lost),
                             "burst_offered_fps": g.sentRate], nil, load)
            return passed
        }
        var b2b: [String: Double] = ["b2b_trials": Double(bursts.trialCount), "b2b_bound": Double(burstSearch.bound)]
        if let n = bursts.largestPass { b2b["b2b64_frames"] = Double(n) }
        if bursts.reachedBound { b2b["b2b64_frames_bounded"] = 1 }
        record("back_to_back", b2b, bursts.largestPass == nil ? "a burst of \(burstSearch.start) frames already lost frames" : nil,
               BenchEnvironment.loadAverage())
        return maxOffered64
    }

    /// Sends one broadcast frame from every destination MAC out of the receiver's port, so
    /// the bridge learns them there and test traffic is unicast (RFC 2889 learning frames).
    private func teachDestinations(_ port: AFPacketPort, flows: [FlowSpec]) {
        let buffers: [[UInt8]] = flows.map { f in
            MACAddress.broadcast.octets + f.destination.octets + [0x88, 0xB5] + [UInt8](repeating: 0, count: 46)
        }
        for b in buffers {
            b.withUnsafeBytes { raw in
                var e = EgressFrame(bytes: raw, encoding: .asIs)
                _ = withUnsafePointer(to: &e) { port.transmit(UnsafeBufferPointer(start: $0, count: 1)) }
            }
        }
        usleep(100_000)
    }
}

/// Hands a port to the receive thread, which alone uses it until the trial ends.
struct ReceivePortBox: @unchecked Sendable {
    let port: AFPacketPort
}

/// A one-shot stop flag with a completion handshake between two threads.
final class StopFlag: @unchecked Sendable {
    private let lock = NSCondition()
    private var stopped = false
    private var finished = false
    var isSet: Bool { lock.withLock { stopped } }
    func set() { lock.withLock { stopped = true } }
    func done() {
        lock.lock()
        finished = true
        lock.broadcast()
        lock.unlock()
    }
    func waitDone() {
        lock.lock()
        let deadline = Date().addingTimeInterval(5)
        while !finished && lock.wait(until: deadline) {}
        lock.unlock()
    }
}
