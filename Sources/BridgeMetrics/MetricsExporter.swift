// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MetricsExporter: a running bridge's `stats` as Prometheus metrics, converted at scrape time.
//
// The promise: a bridge nobody scrapes pays nothing. No forwarding thread knows this module
// exists; a scrape calls the same `() -> StatsReport` that `swbridge stats` answers from (the
// workers' single-writer atomics, summed; the table's statistics; socket statistics the workers
// publish every 250 ms), then moves swift-prometheus collectors to the new values and lets the
// registry write the text exposition format (HELP and TYPE lines, label escaping).
//
// Counters stay monotonic whatever the bridge does to its own: a port's counters live in a slot
// that `link del` frees and a later `link add` reuses, and a re-opened socket starts its ring
// counters from zero. Each exported series remembers the raw value it last saw; a raw value
// that went down is taken as a counter reset, and only what came after it is added (what
// Prometheus's `rate()` would assume anyway, without the false reset in the series).
//
// Names follow Prometheus conventions: `swbridge_` prefix, `_total` on counters, base units
// (bytes, seconds), labels `bridge`, `port`, `reason`, `kind`, `worker`.

import BridgeControl
import Prometheus
import Synchronization

/// Turns a bridge's statistics into Prometheus text exposition on demand.
public final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let source: @Sendable () -> StatsReport?
    private let state = Mutex<State>(State())

    private struct State {
        /// Each counter series' collector and the raw value it last saw.
        var counters: [String: (counter: Counter, last: UInt64)] = [:]
        /// Counters of seconds (CPU time): the raw value last seen.
        var seconds: [String: (counter: Counter, last: Double)] = [:]
        var gauges: [String: Gauge] = [:]
    }

    /// An exporter of the report `source` returns at each scrape (nil: not ready yet, the
    /// server answers 503).
    public init(source: @escaping @Sendable () -> StatsReport?) {
        self.source = source
    }

    /// The metrics in Prometheus text format (version 0.0.4), or nil when the source has no
    /// report yet. Called by the HTTP server's thread, one scrape at a time.
    public func exposition() -> [UInt8]? {
        guard let report = source() else { return nil }
        return state.withLock { s in
            update(&s, from: report)
            return registry.emitToBuffer()
        }
    }

    /// The content type of `exposition()`.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private func update(_ s: inout State, from r: StatsReport) {
        let b = ("bridge", r.bridge)
        for p in r.ports {
            let labels = [b, ("port", p.name)]
            count(&s, "swbridge_port_rx_frames_total", labels, p.rxFrames, "Frames received on the port.")
            count(&s, "swbridge_port_rx_bytes_total", labels, p.rxBytes, "Bytes received on the port.")
            count(&s, "swbridge_port_forwarded_total", labels, p.forwarded, "Frames received on the port and forwarded to one known port.")
            count(&s, "swbridge_port_flooded_total", labels, p.flooded, "Frames received on the port and flooded.")
            count(&s, "swbridge_port_tx_frames_total", labels, p.txFrames, "Frames sent out of the port.")
            count(&s, "swbridge_port_tx_bytes_total", labels, p.txBytes, "Bytes sent out of the port.")
            count(&s, "swbridge_port_tx_dropped_total", labels, p.txDropped, "Frames the transport could not send out of the port.")
            // Sorted: a stable order of series in the output.
            for (reason, n) in p.drops.sorted(by: { $0.key < $1.key }) {
                count(&s, "swbridge_port_drops_total", labels + [("reason", reason)], n,
                      "Frames received on the port and dropped, by reason (swbridge stats --all-drops describes them).")
            }
            for (reason, n) in (p.txDrops ?? [:]).sorted(by: { $0.key < $1.key }) {
                count(&s, "swbridge_port_tx_drops_total", labels + [("reason", reason)], n,
                      "Frames the port did not send, by reason (too-big: larger than its MTU); part of tx_dropped.")
            }
            if let drops = p.ringDrops {
                count(&s, "swbridge_port_ring_drops_total", labels, drops, "Frames the kernel dropped because the port's receive ring was full.")
            }
            if let packets = p.ringPackets {
                count(&s, "swbridge_port_ring_packets_total", labels, packets, "Frames the kernel passed to the port's receive ring.")
            }
            // Multicast snooping.
            if r.multicast != nil {
                count(&s, "swbridge_port_snooped_total", labels, p.snooped ?? 0,
                      "Multicast frames received on the port and delivered by snooping (members and router ports) rather than flooded.")
                count(&s, "swbridge_port_punted_total", labels, p.punted ?? 0, "Control frames (IGMP/MLD, BPDUs) received on the port and handed to the control plane.")
                count(&s, "swbridge_port_punt_dropped_total", labels, p.puntDropped ?? 0,
                      "Control frames received on the port that the control plane's queue had no room for.")
            }
        }
        if let m = r.multicast { updateMulticast(&s, m, bridge: b) }
        let f = r.fdb
        gauge(&s, "swbridge_fdb_entries", [b, ("kind", "learned")], Double(f.learnedEntries), "FDB entries now, by kind.")
        gauge(&s, "swbridge_fdb_entries", [b, ("kind", "static")], Double(f.staticEntries), "FDB entries now, by kind.")
        gauge(&s, "swbridge_fdb_max_learned", [b], Double(f.maxLearned), "Most learned FDB entries the bridge keeps.")
        count(&s, "swbridge_fdb_learned_total", [b], f.learned, "Stations learned.")
        count(&s, "swbridge_fdb_moved_total", [b], f.moved, "Learned stations seen on another port.")
        count(&s, "swbridge_fdb_aged_total", [b], f.aged, "Learned entries aged out.")
        count(&s, "swbridge_fdb_evicted_total", [b], f.evicted, "Learned entries evicted for a new station (table full).")
        count(&s, "swbridge_fdb_refused_total", [b], f.refused, "Stations not learned (table full, or contention).")
        count(&s, "swbridge_fdb_static_conflicts_total", [b], f.staticConflicts, "Frames from a static entry's MAC on another port.")
        count(&s, "swbridge_fdb_flushed_total", [b], f.flushed, "Entries removed by flushes.")
        for w in r.workers ?? [] {
            let labels = [b, ("worker", String(w.worker))]
            seconds(&s, "swbridge_worker_cpu_seconds_total", labels, w.cpuSeconds, "CPU time of the forwarding thread.")
            count(&s, "swbridge_worker_batches_total", labels, w.batches, "Batches the forwarding thread forwarded.")
            gauge(&s, "swbridge_worker_worst_gap_seconds", labels, w.worstGapMilliseconds / 1000,
                  "Longest time the forwarding thread, with frames ready, went without finishing a batch, since it started.")
        }
        gauge(&s, "swbridge_uptime_seconds", [b], r.uptimeSeconds, "Seconds since the bridge started.")
    }

    /// Moves a counter series to `raw`, taking a decrease as a reset (see the header).
    /// Multicast snooping's counters and MDB size.
    private func updateMulticast(_ s: inout State, _ m: MulticastStatsSection, bridge b: (String, String)) {
        let c = m.counters
        for (version, n) in [("igmpv1", c.igmpv1Reports), ("igmpv2", c.igmpv2Reports), ("igmpv3", c.igmpv3Reports),
                             ("mldv1", c.mldv1Reports), ("mldv2", c.mldv2Reports)] {
            count(&s, "swbridge_mcast_reports_total", [b, ("version", version)], n, "IGMP/MLD membership reports snooped, by version.")
        }
        count(&s, "swbridge_mcast_leaves_total", [b], c.leaves, "IGMP leaves, MLD dones and INCLUDE {} records snooped.")
        for (family, rx, tx) in [("igmp", c.igmpQueriesReceived, c.igmpQueriesSent), ("mld", c.mldQueriesReceived, c.mldQueriesSent)] {
            count(&s, "swbridge_mcast_queries_received_total", [b, ("family", family)], rx, "Queries heard from other queriers.")
            count(&s, "swbridge_mcast_queries_sent_total", [b, ("family", family)], tx, "Queries our querier sent.")
        }
        count(&s, "swbridge_mcast_memberships_expired_total", [b], c.membershipsExpired, "Memberships that timed out.")
        count(&s, "swbridge_mcast_joins_refused_total", [b], c.joinsRefusedTableFull, "Joins refused because the MDB was full.")
        for (reason, n) in c.malformed.sorted(by: { $0.key < $1.key }) {
            count(&s, "swbridge_mcast_malformed_total", [b, ("reason", reason)], n, "Malformed IGMP/MLD frames, by reason.")
        }
        gauge(&s, "swbridge_mcast_groups", [b], Double(m.table.groups), "Multicast groups (VLAN, group) in the MDB now.")
        gauge(&s, "swbridge_mcast_max_groups", [b], Double(m.maxGroups), "The MDB's bound (--mcast-max-groups).")
    }

    private func count(_ s: inout State, _ name: String, _ labels: [(String, String)], _ raw: UInt64, _ help: String) {
        let key = Self.key(name, labels)
        guard var entry = s.counters[key] else {
            let c = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
            c.increment(by: Int64(clamping: raw))
            s.counters[key] = (c, raw)
            return
        }
        let delta = raw >= entry.last ? raw - entry.last : raw
        if delta > 0 { entry.counter.increment(by: Int64(clamping: delta)) }
        entry.last = raw
        s.counters[key] = entry
    }

    private func seconds(_ s: inout State, _ name: String, _ labels: [(String, String)], _ raw: Double, _ help: String) {
        let key = Self.key(name, labels)
        let value = raw.isFinite && raw > 0 ? raw : 0
        guard var entry = s.seconds[key] else {
            let c = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
            c.increment(by: value)
            s.seconds[key] = (c, value)
            return
        }
        let delta = value >= entry.last ? value - entry.last : value
        if delta > 0 { entry.counter.increment(by: delta) }
        entry.last = value
        s.seconds[key] = entry
    }

    private func gauge(_ s: inout State, _ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
        let key = Self.key(name, labels)
        let g: Gauge
        if let existing = s.gauges[key] {
            g = existing
        } else {
            g = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
            s.gauges[key] = g
        }
        g.set(to: value)
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        var k = name
        for (n, v) in labels { k += "\u{0}" + n + "=" + v }
        return k
    }
}
