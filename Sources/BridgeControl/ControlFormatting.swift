// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlFormatting: the text `swbridge fdb show`, `link show` and `stats` print, in the style of
// iproute2's bridge(8), so that eyes and scripts used to the kernel bridge feel at home.
//
// Pure functions from result rows to text: no I/O, no clock, no locale (numbers are plain
// integers so they can be grepped and summed). Every returned string is a sequence of lines,
// each ending in a newline; an empty result is the empty string, as bridge(8) prints nothing.

import BridgeCore
import MulticastSnooping

/// Text renderings of control results.
public enum ControlFormatting {
    /// `bridge fdb show` lines: `aa:bb:cc:dd:ee:ff dev vethA vlan 1 master br0 permanent`.
    /// `vlan N` is left out when the row has no VLAN (VLAN filtering off); `dst IP` names the
    /// remote VTEP of a station behind a VXLAN port (as `bridge fdb show` does); learned entries
    /// carry nothing after `master br0`, static ones ` permanent`.
    public static func fdbShow(_ rows: [FDBRow], bridge: String) -> String {
        var out = ""
        for row in rows {
            out += "\(row.mac) dev \(row.dev)"
            if let vlan = row.vlan { out += " vlan \(vlan)" }
            if let dst = row.dst { out += " dst \(dst)" }
            out += " master \(bridge)"
            if row.isStatic { out += " permanent" }
            out += "\n"
        }
        return out
    }

    /// `bridge link show` lines: `1: vethA: <UP,LOWER_UP> mtu 1500 master br0 state forwarding`.
    /// The number is the port index in the bridge (not the ifindex). `<ABSENT>` marks a port
    /// whose interface does not exist. With `details` (like `bridge -d link show`), three
    /// indented lines follow: address and backend, the flags as `name on|off`, the VLANs.
    public static func linkShow(_ rows: [LinkRow], bridge: String, details: Bool = false) -> String {
        var out = ""
        for row in rows {
            let linkFlags = !row.attached ? "ABSENT" : row.operUp ? "UP,LOWER_UP" : "DOWN"
            out += "\(row.index): \(row.name): <\(linkFlags)>"
            if let mtu = row.mtu { out += " mtu \(mtu)" }
            out += " master \(bridge) state \(row.state)\n"
            guard details else { continue }
            out += "    link/ether \(row.mac ?? "none") backend \(row.backend) learned \(row.learnedEntries)"
            if let errors = row.txErrors { out += " tx_errors \(errors)" }
            out += "\n"
            if let p = row.peer {
                out += "    peer \(p.name ?? "?") ifindex \(p.ifindex)"
                if let ns = p.namespace { out += " netns \(ns)" } else if let id = p.namespaceID { out += " netnsid \(id)" }
                out += "\n"
            }
            // Every known flag with on/off, as `bridge -d link` does; unknown names (a newer
            // server) are kept rather than silently dropped.
            let known = PortFlags.names.map(\.0)
            var flags = known.map { "\($0) \(row.flags.contains($0) ? "on" : "off")" }
            flags += row.flags.filter { !known.contains($0) }.map { "\($0) on" }
            out += "    " + flags.joined(separator: " ") + "\n"
            let pvid = row.pvid.map(String.init) ?? "none"
            let vlans = row.vlans.isEmpty ? "none" : row.vlans
            let untagged = row.untaggedVLANs.isEmpty ? "none" : row.untaggedVLANs
            out += "    vlan pvid \(pvid) vlans \(vlans) untagged \(untagged)\n"
        }
        return out
    }

    /// `stats`: a header line, an aligned table of port counters, the drop reasons (non-zero
    /// ones, or all with `allDrops`) with their descriptions, and the FDB counters.
    public static func stats(_ report: StatsReport, allDrops: Bool = false) -> String {
        var out = "bridge \(report.bridge)  uptime \(duration(seconds: report.uptimeSeconds))"
        out += "  vlan_filtering \(report.vlanFiltering ? "on" : "off")\n\n"

        let header = [
            "port", "rx_frames", "rx_bytes", "forwarded", "flooded", "tx_frames", "tx_bytes", "tx_dropped",
            "dropped", "ring_packets", "ring_drops",
        ]
        let rows = report.ports.map { p -> [String] in
            [
                p.name, "\(p.rxFrames)", "\(p.rxBytes)", "\(p.forwarded)", "\(p.flooded)", "\(p.txFrames)",
                "\(p.txBytes)", "\(p.txDropped)", "\(p.droppedTotal)", p.ringPackets.map(String.init) ?? "-",
                p.ringDrops.map(String.init) ?? "-",
            ]
        }
        out += table([header] + rows, leftAligned: [0])

        var dropRows: [[String]] = []
        for p in report.ports {
            for (reason, count) in orderedDrops(p.drops) where allDrops || count != 0 {
                dropRows.append([p.name, reason, "\(count)", dropDescription(reason)])
            }
            // Egress drops (a frame too big for this port's MTU), after the ingress ones.
            for (reason, count) in (p.txDrops ?? [:]).sorted(by: { $0.key < $1.key }) where allDrops || count != 0 {
                dropRows.append([p.name, reason, "\(count)", TransmitDropReason.description(reason) ?? ""])
            }
        }
        if dropRows.isEmpty {
            out += "\ndrops: none\n"
        } else {
            out += "\ndrops:\n"
            out += table([["port", "reason", "count", "description"]] + dropRows, leftAligned: [0, 1, 3], indent: "  ")
        }

        let f = report.fdb
        out += "\nfdb:\n"
        out += table(
            [
                [
                    "learned_entries", "static_entries", "max_learned", "learned", "moved", "aged", "evicted",
                    "refused", "static_conflicts", "flushed",
                ],
                [
                    "\(f.learnedEntries)", "\(f.staticEntries)", "\(f.maxLearned)", "\(f.learned)", "\(f.moved)",
                    "\(f.aged)", "\(f.evicted)", "\(f.refused)", "\(f.staticConflicts)", "\(f.flushed)",
                ],
            ], leftAligned: [], indent: "  ")
        if let workers = report.workers, !workers.isEmpty {
            out += "\nworkers:\n"
            out += table(
                [["worker", "batches", "cpu_seconds", "worst_gap_ms"]]
                    + workers.map { w in
                        ["\(w.worker)", "\(w.batches)", decimal(w.cpuSeconds, places: 2), decimal(w.worstGapMilliseconds, places: 3)]
                    }, leftAligned: [], indent: "  ")
        }
        out += multicastStats(report)
        return out
    }

    // MARK: Multicast snooping

    /// `swbridge mdb show` (MDBFormatter's lines: bridge(8)'s `dev br0 port veth2 grp 239.1.1.1
    /// temp`, router ports, queriers; `details` adds timers and counters).
    public static func mdbShow(_ status: MDBStatus, details: Bool = false) -> String {
        MDBFormatter.lines(status, details: details).map { $0 + "\n" }.joined()
    }

    /// The `multicast:` section of `stats` (empty without snooping): per port frames delivered
    /// by snooping and control frames handed over, then the snooper's counters.
    static func multicastStats(_ report: StatsReport) -> String {
        guard let m = report.multicast else { return "" }
        var out = "\nmulticast:\n"
        out += table(
            [["port", "snooped", "flooded", "punted", "punt_dropped"]]
                + report.ports.map { p in
                    [p.name, "\(p.snooped ?? 0)", "\(p.flooded)", "\(p.punted ?? 0)", "\(p.puntDropped ?? 0)"]
                }, leftAligned: [0], indent: "  ")
        let c = m.counters
        out += table(
            [
                ["groups", "max_groups", "joins_refused", "reports", "leaves", "fast_leaves", "expired", "queries_rx", "queries_tx", "malformed"],
                [
                    "\(m.table.groups)", "\(m.maxGroups)", "\(m.table.refusedFull)",
                    "\(c.igmpv1Reports + c.igmpv2Reports + c.igmpv3Reports + c.mldv1Reports + c.mldv2Reports)",
                    "\(c.leaves)", "\(c.fastLeaves)", "\(c.membershipsExpired)",
                    "\(c.igmpQueriesReceived + c.mldQueriesReceived)", "\(c.igmpQueriesSent + c.mldQueriesSent)",
                    "\(c.malformedTotal)",
                ],
            ], leftAligned: [], indent: "  ")
        out += "  reports: igmpv1 \(c.igmpv1Reports) igmpv2 \(c.igmpv2Reports) igmpv3 \(c.igmpv3Reports) mldv1 \(c.mldv1Reports) mldv2 \(c.mldv2Reports)\n"
        for (reason, n) in c.malformed.sorted(by: { $0.key < $1.key }) where n > 0 {
            out += "  malformed \(reason) \(n)\n"
        }
        return out
    }

    /// `x` with `places` decimals (no Foundation here), `-` when not finite.
    static func decimal(_ x: Double, places: Int) -> String {
        guard x.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((abs(x) * scale).rounded())
        let whole = scaled / Int64(scale)
        var frac = String(scaled % Int64(scale))
        while frac.count < places { frac = "0" + frac }
        return (x < 0 && scaled != 0 ? "-" : "") + "\(whole)" + (places > 0 ? "." + frac : "")
    }

    /// `3d4h5m6s`, leading zero units left out; under a minute, seconds with one decimal.
    public static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 60 {
            let tenths = Int((seconds * 10).rounded(.down))
            return "\(tenths / 10).\(tenths % 10)s"
        }
        var s = Int(seconds)
        let d = s / 86_400
        s %= 86_400
        let h = s / 3600
        s %= 3600
        let m = s / 60
        s %= 60
        if d > 0 { return "\(d)d\(h)h\(m)m\(s)s" }
        if h > 0 { return "\(h)h\(m)m\(s)s" }
        return "\(m)m\(s)s"
    }

    /// Drop reasons in `DropReason` order, then any names this build does not know, sorted.
    static func orderedDrops(_ drops: [String: UInt64]) -> [(String, UInt64)] {
        let known = DropReason.allCases.map(\.name)
        var result = known.compactMap { name in drops[name].map { (name, $0) } }
        result += drops.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return result
    }

    static func dropDescription(_ name: String) -> String {
        DropReason.allCases.first { $0.name == name }?.description ?? ""
    }

    /// Columns separated by two spaces, each as wide as its widest cell; numbers (columns not
    /// in `leftAligned`) right-aligned. Trailing spaces are trimmed.
    static func table(_ rows: [[String]], leftAligned: Set<Int>, indent: String = "") -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = indent
            for (i, cell) in row.enumerated() {
                if i > 0 { line += "  " }
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                line += leftAligned.contains(i) ? cell + pad : pad + cell
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// `vlan show`, as bridge(8) prints it: the port, then one VLAN per line with its flags.
    public static func vlanShow(_ rows: [VLANRow]) -> String {
        var out = "port              vlan-id\n"
        for r in rows {
            var first = true
            if r.vlans.isEmpty { out += r.dev.padding(18) + "(none)\n" }
            for v in r.vlans {
                var words = ["\(v)"]
                if r.pvid == v { words.append("PVID") }
                if r.untagged.contains(v) { words.append("Egress Untagged") }
                out += (first ? r.dev : "").padding(18) + words.joined(separator: " ") + "\n"
                first = false
            }
        }
        return out
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
