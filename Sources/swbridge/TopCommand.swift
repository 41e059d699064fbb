// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge top`: a live view of a running bridge over its control socket. Every interval it
// asks for `stats` and `talkers` and shows rates from the difference with the previous answer
// (rates use the bridge's own uptime as the clock, so a slow answer does not skew them).
//
// The screen is drawn with plain ANSI escapes (alternate screen, cursor home, clear to end of
// line): no curses, so it works in any terminal and over ssh. Keys are read from the terminal
// in non-canonical mode (termios; ISIG stays on so Ctrl-C still stops it); `q` quits and the
// terminal is restored on every way out. It fits the terminal (80×24 at least): ports beyond
// the rows left are summed up as "+N more ports". When stdout is not a terminal, or with
// `--batch`, it prints plain blocks of text instead, like `top -b`.

import ArgumentParser
import BridgeControl
import BridgeService
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM while `top` runs.
private nonisolated(unsafe) var topStop: sig_atomic_t = 0

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Watch a running bridge: per-port rates, drops, FDB, threads and top talkers, refreshed live.",
        discussion: "Keys: q quits. Without a terminal (or with --batch) it prints plain text blocks.")

    @OptionGroup var options: ControlOptions

    @Option(name: .long, help: "Seconds between refreshes.")
    var interval: Double = 1

    @Flag(name: .long, help: "Plain text blocks instead of a full-screen view (the default when stdout is not a terminal).")
    var batch = false

    @Option(name: .long, help: "Stop after this many refreshes.")
    var iterations: Int?

    @Option(name: .long, help: "Top talkers shown (at most).")
    var talkers: Int = 5

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be 0.1...3600 seconds") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        guard (0...100).contains(talkers) else { throw ValidationError("--talkers must be 0...100") }
    }

    func run() throws {
        let fullScreen = !batch && isatty(1) != 0
        var terminal = TerminalMode(fullScreen: fullScreen)
        signal(SIGINT) { _ in topStop = 1 }
        signal(SIGTERM) { _ in topStop = 1 }
        defer { terminal.restore() }
        var previous: StatsReport?
        var frame = 0
        while topStop == 0 {
            let stats: StatsReport
            var top: TalkersReport?
            do {
                guard case .stats(let s) = try options.send(.stats) else { throw CommandFailure("unexpected answer from the bridge") }
                stats = s
                if talkers > 0, case .talkers(let t) = try? options.send(.talkers(limit: talkers)) { top = t }
            } catch {
                terminal.restore()
                throw error
            }
            let size = fullScreen ? terminal.size() : (width: 80, height: 24)
            let lines = TopView.render(previous: previous, current: stats, talkers: top, interval: interval,
                                       width: size.width, height: fullScreen ? size.height : nil, keysHint: fullScreen)
            if fullScreen {
                // Home, each line cleared to its end, the rest of the screen cleared.
                terminal.write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
            } else {
                terminal.write(lines.joined(separator: "\n") + "\n\n")
            }
            previous = stats
            frame += 1
            if let iterations, frame >= iterations { break }
            if terminal.waitForQuit(seconds: interval) { break }
        }
    }
}

/// The terminal while `top` runs: alternate screen, hidden cursor, keys without echo.
private struct TerminalMode {
    let fullScreen: Bool
    private var saved: termios?
    private var restored = false

    init(fullScreen: Bool) {
        self.fullScreen = fullScreen
        guard fullScreen else { return }
        if isatty(0) != 0 {
            var t = termios()
            if tcgetattr(0, &t) == 0 {
                saved = t
                // Keys one at a time without echo; ISIG stays, so Ctrl-C still reaches the handler.
                t.c_lflag &= ~tcflag_t(ICANON | ECHO)
                withUnsafeMutableBytes(of: &t.c_cc) { cc in
                    cc[Int(VMIN)] = 0
                    cc[Int(VTIME)] = 0
                }
                _ = tcsetattr(0, TCSANOW, &t)
            }
        }
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    mutating func restore() {
        guard fullScreen, !restored else { return }
        restored = true
        write("\u{1B}[?25h\u{1B}[?1049l")
        if var t = saved { _ = tcsetattr(0, TCSANOW, &t) }
    }

    func write(_ text: String) {
        var t = text
        t.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(1, buf.baseAddress! + off, buf.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }

    /// The terminal's size (80×24 when it cannot be read).
    func size() -> (width: Int, height: Int) {
        var w = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 else { return (80, 24) }
        return (Int(w.ws_col), Int(w.ws_row))
    }

    /// Waits `seconds` for the next refresh; true when `q` was pressed (or a stop signal came).
    func waitForQuit(seconds: Double) -> Bool {
        let deadline = ContinuousClockNow.milliseconds() + Int(seconds * 1000)
        while topStop == 0 {
            let left = deadline - ContinuousClockNow.milliseconds()
            if left <= 0 { return false }
            var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            // Without a terminal on stdin there are no keys to read: just the timeout.
            let r = saved == nil ? poll(nil, 0, Int32(left)) : poll(&p, 1, Int32(left))
            if r > 0 {
                var byte: UInt8 = 0
                let n = read(0, &byte, 1)
                if n == 1 && (byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q")) { return true }
                if n == 0 { return false }  // stdin closed: keep refreshing until the interval ends
            }
        }
        return true
    }
}

private enum ContinuousClockNow {
    static func milliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}

/// What `top` shows, as lines: pure, from two `stats` answers and a `talkers` answer.
enum TopView {
    /// `height` nil: no limit (batch mode). `keysHint`: say how to quit.
    static func render(previous: StatsReport?, current s: StatsReport, talkers: TalkersReport?, interval: Double,
                       width: Int, height: Int?, keysHint: Bool) -> [String] {
        let prev = previous.flatMap { p in p.bridge == s.bridge ? p : nil }
        let dt = prev.map { s.uptimeSeconds - $0.uptimeSeconds } ?? 0
        func rate(_ now: UInt64, _ before: UInt64?) -> Double? {
            guard let before, dt > 0 else { return nil }
            return now >= before ? Double(now - before) / dt : 0  // a reused port slot restarts lower
        }
        var head: [String] = []
        head.append("swbridge top - \(s.bridge)  up \(duration(s.uptimeSeconds))  every \(num(interval))s  \(s.ports.count) ports"
                    + (keysHint ? "  (q: quit)" : ""))
        let f = s.fdb
        let learn = rate(f.learned, prev?.fdb.learned), move = rate(f.moved, prev?.fdb.moved)
        head.append("FDB \(f.learnedEntries) learned \(f.staticEntries) static (max \(f.maxLearned))  learn \(fmt(learn))/s  move \(fmt(move))/s"
                    + "  aged \(f.aged) evicted \(f.evicted) refused \(f.refused)")
        if let workers = s.workers, !workers.isEmpty {
            let cells = workers.map { w -> String in
                let before = prev?.workers?.first { $0.worker == w.worker }
                let cpu = before.flatMap { b in dt > 0 ? (w.cpuSeconds - b.cpuSeconds) / dt * 100 : nil }
                return "#\(w.worker) cpu \(cpu.map { String(Int(max($0, 0).rounded())) + "%" } ?? "-") gap \(num(w.worstGapMilliseconds))ms"
            }
            head.append("threads: " + cells.joined(separator: "  "))
        }
        let columns = "PORT            RX f/s  RX bit/s    TX f/s  TX bit/s  FLOOD/s   DROP/s  RINGDROP"
        var portLines: [String] = []
        var dropRates: [String: Double] = [:]
        for p in s.ports {
            let b = prev?.ports.first { $0.name == p.name }
            var drops: Double? = nil
            if let b, dt > 0 {
                var sum = 0.0
                for (reason, n) in p.drops {
                    let r = rate(n, b.drops[reason] ?? 0) ?? 0
                    sum += r
                    if r > 0 { dropRates[reason, default: 0] += r }
                }
                drops = sum
            }
            let ringDrop = p.ringDrops.map { n in rate(n, b?.ringDrops).map { fmt($0) + "/s" } ?? String(n) } ?? "-"
            portLines.append(
                pad(p.name, 14) + right(fmt(rate(p.rxFrames, b?.rxFrames)), 8) + right(fmt(rate(p.rxBytes, b?.rxBytes).map { $0 * 8 }), 10)
                    + right(fmt(rate(p.txFrames, b?.txFrames)), 10) + right(fmt(rate(p.txBytes, b?.txBytes).map { $0 * 8 }), 10)
                    + right(fmt(rate(p.flooded, b?.flooded)), 9) + right(fmt(drops), 9) + right(ringDrop, 10))
        }
        var tail: [String] = []
        let reasons = dropRates.sorted { $0.value > $1.value }.map { "\($0.key) \(fmt($0.value))" }
        tail.append("drops/s by reason: " + (prev == nil ? "-" : reasons.isEmpty ? "none" : reasons.joined(separator: ", ")))
        if let t = talkers {
            tail.append("TOP TALKERS (1 frame in \(t.sampleEvery) sampled, last \(num(t.windowSeconds)) s)")
            if t.talkers.isEmpty {
                tail.append("  none sampled yet")
            } else {
                tail.append("  MAC                PORT              frames/s      bit/s")
                for r in t.talkers {
                    tail.append("  " + pad(r.mac, 19) + pad(r.dev, 14) + right(fmt(r.framesPerSecond), 12) + right(fmt(r.bitsPerSecond), 11))
                }
            }
        }
        var body = [columns]
        if let height {
            // The header, column titles and the tail come first; ports get the rows left.
            var tailShown = tail
            var room = height - head.count - 1 - tailShown.count
            while room < 2 && tailShown.count > 1 {
                tailShown.removeLast()
                room += 1
            }
            if portLines.count > max(room, 1) {
                let shown = max(room - 1, 0)
                body += portLines.prefix(shown) + ["+\(portLines.count - shown) more ports"]
            } else {
                body += portLines
            }
            tail = tailShown
        } else {
            body += portLines
        }
        let all = head + body + tail
        return all.map { String($0.prefix(max(width, 20))) }
    }

    static func fmt(_ v: Double?) -> String {
        guard let v else { return "-" }
        if v >= 1e9 { return String(format: "%.1fG", v / 1e9) }
        if v >= 1e6 { return String(format: "%.1fM", v / 1e6) }
        if v >= 1e4 { return String(format: "%.0fk", v / 1e3) }
        if v >= 1e3 { return String(format: "%.1fk", v / 1e3) }
        if v == 0 { return "0" }
        return v >= 10 ? String(format: "%.0f", v) : String(format: "%.1f", v)
    }

    static func num(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v) }

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(seconds, 0))
        if s >= 86_400 { return "\(s / 86_400)d\(s % 86_400 / 3600)h" }
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        return "\(s / 60)m\(String(format: "%02d", s % 60))s"
    }

    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? String(s.prefix(n - 1)) + " " : s + String(repeating: " ", count: n - s.count)
    }

    static func right(_ s: String, _ n: Int) -> String {
        s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s
    }
}
