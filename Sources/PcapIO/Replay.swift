// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Replay: a capture fed through the real ForwardingEngine offline, no sockets and no root.
// Frames go in capture order, in batches of the engine's size; the engine's clock is the
// capture's own timestamps (milliseconds), so learning and ageing follow the trace and the
// same file always gives the same verdicts.
//
// A capture does not say which bridge port a frame entered on. `IngressMap` decides:
//  - by source MAC (default): the first time a source address is seen it is given port
//    (distinct sources so far % N), and keeps it; so one station always talks from one port
//    and N stations spread over N ports;
//  - explicit: `MAC=PORT` pairs for the stations that matter; any other source falls back to
//    the rule above (counting only the unlisted sources).
// Frames whose source is not a station (multicast, zero) or that are too short to have one
// enter on port 0; the engine drops them anyway.
//
// With per-port writers, every frame an egress port would send is written to that port's
// file after its egress encoding (EgressFrame.write: VLAN tags inserted, stripped, replaced),
// stamped with the input frame's time. Engine time (frames/s) counts only `process` calls.

import BridgeCore

#if canImport(Glibc)
import Glibc
#endif

/// How a replayed frame's ingress port is chosen.
public struct IngressMap: Sendable, Equatable {
    /// Ports of listed stations.
    public var explicit: [MACAddress: Int]
    public init(_ explicit: [MACAddress: Int] = [:]) { self.explicit = explicit }

    /// Parses "MAC=PORT,MAC=PORT".
    public init(parsing text: String, ports: Int) throws(PcapError) {
        var map: [MACAddress: Int] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let port = Int(parts[1]), port >= 0, port < ports else {
                throw .invalidConfiguration("ingress map entry '\(item)' is not MAC=PORT with PORT in 0..<\(ports)")
            }
            do {
                map[try MACAddress(parsing: parts[0])] = port
            } catch {
                throw .invalidConfiguration("ingress map entry '\(item)': \(error)")
            }
        }
        explicit = map
    }
}

/// One frame's fate in a replay.
public struct ReplayVerdict: Equatable, Sendable, CustomStringConvertible {
    /// 1-based record number in the capture, as tcpdump and Wireshark count.
    public var frame: Int
    public var timestamp: CaptureTimestamp
    public var ingress: Int
    public var length: Int
    public var source: MACAddress?
    public var destination: MACAddress?
    public var action: Decision.Action
    public var vlan: UInt16

    public var description: String {
        let src = source.map(\.description) ?? "-"
        let dst = destination.map(\.description) ?? "-"
        let what: String
        switch action {
        case .drop(let r): what = "drop \(r.name)"
        case .forward(let p): what = "forward port\(p)"
        case .flood(let m): what = "flood " + m.map { "port\($0)" }.joined(separator: ",")
        }
        let vlanText = vlan != 0 ? " vlan \(vlan)" : ""
        return "\(frame) \(timestamp) port\(ingress) \(src) > \(dst) len \(length)\(vlanText): \(what)"
    }
}

/// What a replay did.
public struct ReplaySummary: Equatable, Sendable {
    public var frames = 0
    /// Frames the capture had cut short (replayed as captured).
    public var truncatedInCapture = 0
    public var forwarded: UInt64 = 0
    public var flooded: UInt64 = 0
    /// Frames dropped, by reason (`DropReason.rawValue`).
    public var dropped: [UInt64] = Array(repeating: 0, count: DropReason.allCases.count)
    /// Frames written per egress port (copies: a flood counts once per port).
    public var transmitted: [UInt64] = []
    /// Learned FDB entries at the end.
    public var learnedEntries = 0
    /// Ingress port given to each source station, in first-seen order.
    public var stations: [(MACAddress, Int)] = []
    /// Seconds spent in ForwardingEngine.process.
    public var engineSeconds: Double = 0

    public var droppedTotal: UInt64 { dropped.reduce(0, +) }
    public func dropped(_ r: DropReason) -> UInt64 { dropped[Int(r.rawValue)] }
    /// Engine frames per second on this trace (0 when too fast to time).
    public var framesPerSecond: Double { engineSeconds > 0 ? Double(frames) / engineSeconds : 0 }

    public static func == (a: ReplaySummary, b: ReplaySummary) -> Bool {
        a.frames == b.frames && a.truncatedInCapture == b.truncatedInCapture && a.forwarded == b.forwarded
            && a.flooded == b.flooded && a.dropped == b.dropped && a.transmitted == b.transmitted
            && a.learnedEntries == b.learnedEntries && a.stations.map(\.0) == b.stations.map(\.0)
            && a.stations.map(\.1) == b.stations.map(\.1)
    }

    /// The summary as `swbridge replay` prints it.
    public var report: String {
        var lines = [
            "frames:          \(frames)" + (truncatedInCapture > 0 ? " (\(truncatedInCapture) cut short in the capture)" : ""),
            "learned MACs:    \(learnedEntries) (stations seen: \(stations.count))",
            "forwarded:       \(forwarded)",
            "flooded:         \(flooded)",
            "dropped:         \(droppedTotal)",
        ]
        for r in DropReason.allCases where dropped(r) > 0 {
            lines.append("  \(r.name): \(dropped(r))  (\(r.description))")
        }
        for (p, n) in transmitted.enumerated() { lines.append("port\(p) sent:      \(n)") }
        let rate = framesPerSecond
        lines.append(rate > 0
            ? "engine:          \(Int(rate.rounded())) frames/s (\(String(format: "%.3f", engineSeconds * 1000)) ms in process)"
            : "engine:          too fast to time")
        return lines.joined(separator: "\n")
    }
}

/// Runs captures through a ForwardingEngine.
public final class Replayer {
    public let engine: ForwardingEngine
    public let portCount: Int
    public let ingressMap: IngressMap
    private var assigned: [MACAddress: Int] = [:]
    private var unlistedCount = 0
    private var stations: [(MACAddress, Int)] = []

    /// A replayer for `configuration` (its port count is N); a fresh MACTable by default.
    public init(configuration: BridgeConfiguration, table: MACTable = MACTable(), ingressMap: IngressMap = IngressMap(),
                maxBatch: Int = 256) throws {
        guard !configuration.ports.isEmpty else { throw PcapError.invalidConfiguration("replay needs at least 1 port") }
        for (_, p) in ingressMap.explicit where p >= configuration.ports.count {
            throw PcapError.invalidConfiguration("ingress map names port \(p); the bridge has \(configuration.ports.count)")
        }
        engine = try ForwardingEngine(table: table, configuration: configuration, maxBatch: maxBatch)
        portCount = configuration.ports.count
        self.ingressMap = ingressMap
    }

    /// The ingress port of a frame, assigning new stations as the file comment says.
    public func ingressPort(for bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count >= 12 else { return 0 }
        let src = MACAddress(bytes: bytes, offset: 6)
        guard src.isValidSource else { return 0 }
        if let p = assigned[src] { return p }
        let p: Int
        if let listed = ingressMap.explicit[src] {
            p = listed
        } else {
            p = unlistedCount % portCount
            unlistedCount += 1
        }
        assigned[src] = p
        stations.append((src, p))
        return p
    }

    /// Replays `reader` to its end. `outputs[p]`, when present, receives what port p sends.
    /// `onVerdict` sees every frame's verdict in order (for --verbose and tests).
    public func run(_ reader: PcapReader, outputs: [PcapWriter?] = [],
                    onVerdict: ((ReplayVerdict) -> Void)? = nil) throws(PcapError) -> ReplaySummary {
        var summary = ReplaySummary()
        summary.transmitted = Array(repeating: 0, count: portCount)
        let max = engine.maxBatch
        // Batch storage reused across batches: bytes packed in one buffer (grown when a batch
        // needs more), then viewed by the ReceivedFrames.
        var capacity = max * 2048
        var storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        var used = 0
        var offsets: [Int] = []
        var meta: [(wire: Int, ts: CaptureTimestamp, port: Int)] = []
        let frames = UnsafeMutableBufferPointer<ReceivedFrame>.allocate(capacity: max)
        frames.initialize(repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0))
        let verdicts = UnsafeMutableBufferPointer<Verdict>.allocate(capacity: max)
        verdicts.initialize(repeating: Verdict())
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 262_144 + 4, alignment: 16)
        defer {
            storage.deallocate()
            frames.deallocate()
            verdicts.deallocate()
            scratch.deallocate()
        }
        var lastAge: UInt64 = 0
        var done = false
        while !done {
            used = 0
            offsets.removeAll(keepingCapacity: true)
            meta.removeAll(keepingCapacity: true)
            while offsets.count < max, let f = try reader.next() {
                if used + f.bytes.count > capacity {
                    capacity = Swift.max(capacity * 2, used + f.bytes.count)
                    let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
                    grown.copyMemory(from: storage, byteCount: used)
                    storage.deallocate()
                    storage = grown
                }
                offsets.append(used)
                if let b = f.bytes.baseAddress { (storage + used).copyMemory(from: b, byteCount: f.bytes.count) }
                used += f.bytes.count
                meta.append((f.wireLength, f.timestamp, ingressPort(for: f.bytes)))
                if f.isTruncated { summary.truncatedInCapture += 1 }
            }
            done = offsets.count < max
            let n = offsets.count
            if n == 0 { break }
            // One batch shares one `now`: its first frame's time (the engine stamps learning).
            let now = Timestamp(milliseconds: meta[0].ts.milliseconds)
            if now.milliseconds >= lastAge + 1000 {
                _ = engine.table.age(now: now)
                lastAge = now.milliseconds
            }
            for i in 0..<n {
                let end = i + 1 < n ? offsets[i + 1] : used
                frames[i] = ReceivedFrame(bytes: UnsafeRawBufferPointer(start: storage + offsets[i], count: end - offsets[i]),
                                          port: meta[i].port)
            }
            let start = Self.monotonicSeconds()
            // The batch never exceeds maxBatch and the buffers are sized for it: cannot throw.
            try! engine.process(UnsafeBufferPointer(rebasing: frames[0..<n]), into: verdicts, now: now)
            summary.engineSeconds += Self.monotonicSeconds() - start
            for i in 0..<n {
                let v = engine.resolve(verdicts[i])
                let f = frames[i]
                summary.frames += 1
                switch v.action {
                case .drop(let r): summary.dropped[Int(r.rawValue)] += 1
                case .forward: summary.forwarded += 1
                case .flood: summary.flooded += 1
                }
                if let onVerdict {
                    onVerdict(ReplayVerdict(
                        frame: summary.frames, timestamp: meta[i].ts, ingress: f.port, length: meta[i].wire,
                        source: f.bytes.count >= 12 ? MACAddress(bytes: f.bytes, offset: 6) : nil,
                        destination: f.bytes.count >= 6 ? MACAddress(bytes: f.bytes, offset: 0) : nil,
                        action: v.action, vlan: v.vlan))
                }
                for p in v.egress where p < portCount {
                    summary.transmitted[p] += 1
                    guard p < outputs.count, let out = outputs[p] else { continue }
                    let e = EgressFrame(bytes: f.bytes, encoding: v.encoding(forPort: p))
                    guard e.wireLength <= scratch.count else { continue }
                    let len = e.write(into: scratch)
                    // A cut frame keeps its cut: the wire length moves with the edit.
                    let wire = meta[i].wire + (e.wireLength - f.bytes.count)
                    try out.write(UnsafeRawBufferPointer(rebasing: scratch[0..<len]), wireLength: wire, timestamp: meta[i].ts)
                }
            }
        }
        summary.learnedEntries = engine.table.statistics.learnedEntries
        summary.stations = stations
        return summary
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
