// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge capture`: ask a running bridge to write one port's frames to a pcap file (like
// tcpdump -w, but of what the bridge itself receives and sends, VLAN tags included), until
// --count frames, --duration seconds or Ctrl-C. The bridge writes the file; capturing never
// stalls forwarding (a slow disk drops captured frames, counted).
import ArgumentParser
import BridgeControl
import BridgeService
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let captureInterrupted = Atomic<Bool>(false)

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture a port of a running bridge to a pcap file (tcpdump and Wireshark read it).")

    @OptionGroup var control: ControlOptions

    @Option(name: .long, help: "The bridge port to capture.", completion: .shellCommand(interfaceNames))
    var port: String

    @Option(name: .long, help: "The pcap file to write (on the bridge's machine).", completion: .file(extensions: ["pcap"]))
    var file: String

    @Option(name: .long, help: "in (frames the port receives), out (frames the bridge sends on it) or both.")
    var direction: String = "both"

    @Option(name: .long, help: "Stop after this many frames.")
    var count: UInt64?

    @Option(name: .long, help: "A BPF filter expression (tcpdump syntax).")
    var filter: String?

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Double?

    @Option(name: .long, help: "Rotate the file at this size in MB (with --rotate K files kept).")
    var maxSize: Int?

    @Option(name: .long, help: "Files kept when rotating (default 2).")
    var rotate: Int?

    func validate() throws {
        guard ["in", "out", "both"].contains(direction) else { throw ValidationError("--direction must be in, out or both") }
        if let count, count == 0 { throw ValidationError("--count must be at least 1") }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
        if let maxSize, maxSize < 1 { throw ValidationError("--max-size must be at least 1 MB") }
        if let rotate, rotate < 1 { throw ValidationError("--rotate must be at least 1") }
        if rotate != nil && maxSize == nil { throw ValidationError("--rotate needs --max-size") }
    }

    func run() throws {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        let spec = CaptureSpec(port: port, file: absolute, direction: direction, count: count, filter: filter,
                               maxBytes: maxSize.map { $0 << 20 }, keep: rotate)
        guard case .capture(let started) = try control.send(.captureStart(spec)) else {
            throw CommandFailure("unexpected answer from the bridge")
        }
        signal(SIGINT) { _ in captureInterrupted.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in captureInterrupted.store(true, ordering: .relaxed) }
        FileHandle.standardError.write(Data("capturing \(port) (\(direction)) to \(absolute); Ctrl-C stops\n".utf8))
        let deadline = duration.map { Date().addingTimeInterval($0) }
        var last = started
        while !captureInterrupted.load(ordering: .relaxed) {
            if let deadline, Date() >= deadline { break }
            usleep(100_000)
            guard case .capture(let s) = try control.send(.captureStatus(id: started.id)) else { break }
            last = s
            if s.complete { break }
        }
        if case .capture(let s) = try control.send(.captureStop(id: started.id)) { last = s }
        print("\(last.written) frames written to \(last.file) (\(last.offered) seen, \(last.filteredOut) filtered out, \(last.dropped) dropped by a slow writer)")
    }
}
