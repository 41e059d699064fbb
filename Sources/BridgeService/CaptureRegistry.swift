// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CaptureRegistry: the captures `swbridge capture` starts on a running bridge. Each is a
// PcapMirror (a preallocated ring and a writer thread) switched onto one port's ingress,
// egress or both in every forwarding worker, and switched off again before it is closed: the
// workers acknowledge a switch (MirrorSwitch.setMirror returns once none of them uses the old
// mirror), so closing never races an offer. One capture per port at a time, and none on a
// port that `--mirror` already writes.

import BridgeControl
import PcapIO
import Synchronization

/// Puts a mirror on a port's traffic in every forwarding worker; returns once every worker
/// has let go of what was there before (bounded wait).
protocol MirrorSwitch: AnyObject, Sendable {
    func setMirror(index: Int, ingress: PcapMirror?, egress: PcapMirror?)
}

final class CaptureRegistry: Sendable {
    struct Capture: Sendable {
        let id: Int
        let index: Int
        let port: String
        let file: String
        let mirror: PcapMirror
    }

    private let captures = Mutex<[Int: Capture]>([:])
    private let nextID = Atomic<Int>(1)
    private let switcher: any MirrorSwitch

    init(switcher: any MirrorSwitch) {
        self.switcher = switcher
    }

    /// Starts capturing port `index` (called `name`) as `spec` says. `mirrored`: the port
    /// already has a `--mirror`.
    func start(_ spec: CaptureSpec, index: Int, mirrored: Bool) -> Result<CaptureStatus, ControlFailure> {
        guard ["in", "out", "both"].contains(spec.direction) else { return .failure("direction must be in, out or both") }
        guard !mirrored else { return .failure("port \(spec.port) is already mirrored by --mirror") }
        var config = PcapMirror.Configuration()
        config.filter = spec.filter
        config.frameLimit = spec.count
        if let maxBytes = spec.maxBytes {
            let keep = spec.keep ?? 2
            guard maxBytes >= 4096, keep >= 1 else { return .failure("--max-size must be at least 4 KiB and --rotate at least 1") }
            config.rotation = Rotation(maxBytes: maxBytes, keep: keep)
        }
        guard !captures.withLock({ $0.values.contains { $0.index == index } }) else {
            return .failure("port \(spec.port) is already being captured")
        }
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let mirror: PcapMirror
        do {
            mirror = try PcapMirror(path: spec.file, configuration: config)
        } catch {
            return .failure("\(error)")
        }
        let capture = Capture(id: id, index: index, port: spec.port, file: spec.file, mirror: mirror)
        // Checked again: two clients racing for one port get one capture.
        let added = captures.withLock { c -> Bool in
            guard !c.values.contains(where: { $0.index == index }) else { return false }
            c[id] = capture
            return true
        }
        guard added else {
            mirror.close()
            return .failure("port \(spec.port) is already being captured")
        }
        switcher.setMirror(index: index, ingress: spec.direction == "out" ? nil : mirror,
                           egress: spec.direction == "in" ? nil : mirror)
        return .success(Self.status(capture, complete: false))
    }

    func status(id: Int) -> CaptureStatus? {
        captures.withLock { $0[id] }.map { Self.status($0, complete: $0.mirror.isComplete) }
    }

    /// Switches the capture off in every worker, then closes its file.
    func stop(id: Int) -> CaptureStatus? {
        guard let c = captures.withLock({ $0.removeValue(forKey: id) }) else { return nil }
        switcher.setMirror(index: c.index, ingress: nil, egress: nil)
        c.mirror.close()
        return Self.status(c, complete: true)
    }

    /// Stops every capture on port `index` (the port is leaving the bridge).
    func stopAll(index: Int) {
        for id in captures.withLock({ $0.values.filter { $0.index == index }.map(\.id) }) { _ = stop(id: id) }
    }

    /// Closes every capture's file; only once the workers have stopped (nobody offers any more).
    func closeAllAfterWorkersStopped() {
        for c in captures.withLock({ c in defer { c.removeAll() }; return Array(c.values) }) { c.mirror.close() }
    }

    private static func status(_ c: Capture, complete: Bool) -> CaptureStatus {
        let s = c.mirror.statistics
        return CaptureStatus(
            id: c.id, port: c.port, file: c.file, offered: s.offered, filteredOut: s.filteredOut, written: s.written,
            dropped: s.droppedFull &+ s.droppedWriteError, complete: complete)
    }
}

/// A refusal to send back to the control client.
struct ControlFailure: Error, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    let message: String
    init(_ message: String) { self.message = message }
    init(stringLiteral value: String) { message = value }
    init(stringInterpolation: DefaultStringInterpolation) { message = String(stringInterpolation: stringInterpolation) }
}
