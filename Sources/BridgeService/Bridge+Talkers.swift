// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The `talkers` request: the busiest source stations, from every forwarding thread's
// TalkerSampler (read without stopping the threads), named by port.

import BridgeControl
import BridgeCore

extension Bridge {
    /// How far back `talkers` looks.
    static let talkersWindowMilliseconds: UInt64 = 5_000

    func talkers(limit: Int, now: Timestamp) -> TalkersReport {
        let config = live.withLock { $0.config }
        let samplers = workers.map(\.talkers)
        // A bridge up for less than the window: its samples span only its uptime.
        let up = now.milliseconds > started.milliseconds ? now.milliseconds - started.milliseconds : 0
        let window = max(min(Self.talkersWindowMilliseconds, up), 100)
        let top = TalkerSampler.topTalkers(samplers, now: now, windowMilliseconds: window, limit: limit)
        let rows = top.map { t in
            TalkerRow(mac: t.mac.description, dev: config.ports.indices.contains(t.port) ? config.ports[t.port].name : "port\(t.port)",
                      framesPerSecond: t.framesPerSecond, bitsPerSecond: t.bytesPerSecond * 8)
        }
        return TalkersReport(windowSeconds: Double(window) / 1000, sampleEvery: samplers.first?.every ?? 0,
                             talkers: rows)
    }
}
