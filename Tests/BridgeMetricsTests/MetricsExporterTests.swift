// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The exporter's conversion of `stats` (names, labels, HELP/TYPE, monotonic counters across a
// reset) and the HTTP server's answers (200/404/405, a slow client cut off), over loopback.

import BridgeControl
import BridgeMetrics
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

private func report(rx: UInt64, ring: UInt64? = 7, workers: Int = 2) -> StatsReport {
    var drops: [String: UInt64] = [:]
    for r in ["runt", "same-segment"] { drops[r] = 0 }
    drops["same-segment"] = rx / 10
    let ports = ["veth1", "veth2"].map {
        PortStatsRow(name: $0, rxFrames: rx, rxBytes: rx * 64, forwarded: rx / 2, flooded: rx / 4, txFrames: rx, txBytes: rx * 64,
                     txDropped: 1, drops: drops, ringPackets: ring.map { _ in rx }, ringDrops: ring)
    }
    let fdb = FDBStatsSection(learnedEntries: 3, staticEntries: 1, maxLearned: 100, learned: 5, moved: 1, aged: 2, evicted: 0,
                              refused: 0, staticConflicts: 0, flushed: 0)
    let w = (0..<workers).map { WorkerStatsRow(worker: $0, batches: rx, cpuSeconds: Double(rx) / 1000, worstGapMilliseconds: 1.5) }
    return StatsReport(bridge: "br0", uptimeSeconds: 12.5, vlanFiltering: false, ports: ports, fdb: fdb, workers: w)
}

/// Samples `name{labels}` from an exposition (labels in the order the exporter writes them).
private func sample(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

private final class Source: Sendable {
    let value = Mutex<StatsReport?>(nil)
}

@Suite struct MetricsExporterTests {
    @Test func namesLabelsAndTypes() throws {
        let exporter = MetricsExporter { report(rx: 100) }
        let text = String(decoding: try #require(exporter.exposition()), as: UTF8.self)
        #expect(text.contains("# TYPE swbridge_port_rx_frames_total counter"))
        #expect(text.contains("# HELP swbridge_port_rx_frames_total "))
        #expect(text.contains("# TYPE swbridge_fdb_entries gauge"))
        #expect(sample(text, #"swbridge_port_rx_frames_total{bridge="br0",port="veth1"}"#) == 100)
        #expect(sample(text, #"swbridge_port_rx_bytes_total{bridge="br0",port="veth2"}"#) == 6400)
        #expect(sample(text, #"swbridge_port_drops_total{bridge="br0",port="veth1",reason="same-segment"}"#) == 10)
        #expect(sample(text, #"swbridge_port_drops_total{bridge="br0",port="veth1",reason="runt"}"#) == 0)
        #expect(sample(text, #"swbridge_port_ring_drops_total{bridge="br0",port="veth1"}"#) == 7)
        #expect(sample(text, #"swbridge_fdb_entries{bridge="br0",kind="learned"}"#) == 3)
        #expect(sample(text, #"swbridge_fdb_entries{bridge="br0",kind="static"}"#) == 1)
        #expect(sample(text, #"swbridge_fdb_learned_total{bridge="br0"}"#) == 5)
        #expect(sample(text, #"swbridge_worker_cpu_seconds_total{bridge="br0",worker="1"}"#) == 0.1)
        #expect(sample(text, #"swbridge_worker_batches_total{bridge="br0",worker="0"}"#) == 100)
        #expect(sample(text, #"swbridge_worker_worst_gap_seconds{bridge="br0",worker="0"}"#) == 0.0015)
        #expect(sample(text, #"swbridge_uptime_seconds{bridge="br0"}"#) == 12.5)
    }

    @Test func countersStayMonotonicAcrossAReset() throws {
        let source = Source()
        let exporter = MetricsExporter { source.value.withLock { $0 } }
        #expect(exporter.exposition() == nil, "no report: nothing to expose")
        let series = #"swbridge_port_rx_frames_total{bridge="br0",port="veth1"}"#
        source.value.withLock { $0 = report(rx: 1000) }
        var text = String(decoding: try #require(exporter.exposition()), as: UTF8.self)
        #expect(sample(text, series) == 1000)
        // The port's slot was reused, its socket re-opened: the raw counter starts again.
        source.value.withLock { $0 = report(rx: 30) }
        text = String(decoding: try #require(exporter.exposition()), as: UTF8.self)
        #expect(sample(text, series) == 1030)
        source.value.withLock { $0 = report(rx: 50) }
        text = String(decoding: try #require(exporter.exposition()), as: UTF8.self)
        #expect(sample(text, series) == 1050)
        #expect(sample(text, #"swbridge_worker_cpu_seconds_total{bridge="br0",worker="0"}"#) == 1.05)
    }
}

// MARK: - The server over loopback

/// A blocking TCP client with a receive timeout: what a scraper (or a misbehaving one) does.
private struct Client {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(r == 0, "connect: errno \(errno)")
    }

    func send(_ text: String) {
        var t = text
        t.withUTF8 { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the server closes (or the 20 s receive timeout).
    func readAll() -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite struct MetricsServerTests {
    private func withServer(_ limits: MetricsServer.Limits = .init(), _ body: (Int) throws -> Void) throws {
        let socket = try MetricsServer.bind("127.0.0.1:0")
        let port = try #require(Int(socket.address.split(separator: ":").last ?? ""))
        let server = try MetricsServer(socket: socket, exporter: MetricsExporter { report(rx: 42) }, limits: limits)
        defer { server.shutdown() }
        try body(port)
    }

    private func request(_ port: Int, _ text: String) throws -> String {
        let c = try Client(port: port)
        defer { c.close() }
        c.send(text)
        return c.readAll()
    }

    @Test func parsesAddresses() throws {
        #expect(try MetricsServer.parse("127.0.0.1:9477") == ("127.0.0.1", 9477))
        #expect(try MetricsServer.parse("[::1]:9477") == ("::1", 9477))
        #expect(try MetricsServer.parse(":9477") == ("0.0.0.0", 9477))
        for bad in ["9477", "localhost:9477", "1.2.3.4:70000", "::1:9477", "[::1]9477", "1.2.3.4:x"] {
            #expect(throws: MetricsServer.BindError.badAddress(bad)) { try MetricsServer.parse(bad) }
        }
    }

    @Test func answersMetricsAndRefusesTheRest() throws {
        try withServer { port in
            let ok = try request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(ok.hasPrefix("HTTP/1.1 200 OK"))
            #expect(ok.contains("text/plain; version=0.0.4"))
            #expect(ok.contains(#"swbridge_port_rx_frames_total{bridge="br0",port="veth1"} 42"#))
            let head = try request(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 200 OK"))
            #expect(!head.contains("swbridge_port"))
            let root = try request(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(root.hasPrefix("HTTP/1.1 200 OK") && root.contains("/metrics"))
            #expect(try request(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 404"))
            let post = try request(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab")
            #expect(post.hasPrefix("HTTP/1.1 405"))
            #expect(post.contains("Allow: GET, HEAD"))
            #expect(try request(port, "BLAH\r\n\r\n").hasPrefix("HTTP/1.1 400"))
            let big = try request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 100_000) + "\r\n\r\n")
            #expect(!big.contains("200 OK"), "an oversized request is refused")
            // Keep-alive: two requests on one connection.
            let c = try Client(port: port)
            defer { c.close() }
            c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(c.readAll().components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        }
    }

    @Test func aSlowClientIsCutOffAndOthersAreServed() throws {
        var limits = MetricsServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        try withServer(limits) { port in
            let slow = try Client(port: port)
            defer { slow.close() }
            slow.send("GET /metrics HTTP/1.1\r\nHo")
            // Served meanwhile: the slow client holds no thread.
            #expect(try request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
            // The slow one is closed by the server (readAll returns at EOF, long before its 20 s timeout).
            let clock = ContinuousClock()
            let start = clock.now
            #expect(slow.readAll() == "")
            #expect(clock.now - start < .seconds(15))
        }
    }
}
