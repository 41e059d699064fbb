// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The machine's wake-up floor: what a sleeping thread costs to wake, with nothing else in
// the way. Two threads ping-pong one byte (a pipe each way) or one counter (an eventfd each
// way); an iteration is one round trip, that is two sleeps and two wake-ups. Every latency
// figure of a user-space bridge that sleeps (ping through swbridge: one wake-up of the
// forwarding thread per direction) sits on this floor; docs/PROFILE.md compares them.

import Benchmark
import CLinuxPacket
import Glibc

/// A partner thread that answers every message on `inbound` with one on `outbound`.
final class Echo: @unchecked Sendable {
    let inbound: Int32
    let outbound: Int32
    let eventfd: Bool

    init(inbound: Int32, outbound: Int32, eventfd: Bool) {
        self.inbound = inbound
        self.outbound = outbound
        self.eventfd = eventfd
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()  // lives as long as the process
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<Echo>.fromOpaque(context!).takeUnretainedValue().loop()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        pthread_detach(thread)
    }

    private func loop() {
        var v: UInt64 = 1
        let n = eventfd ? 8 : 1
        while true {
            guard read(inbound, &v, n) == n else { continue }
            _ = write(outbound, &v, n)
        }
    }
}

/// One end of a ping-pong: send, then wait for the answer (blocking reads: the thread sleeps).
struct PingPong {
    let out: Int32
    let back: Int32
    let size: Int

    static func pipes() -> PingPong {
        var a: [Int32] = [0, 0], b: [Int32] = [0, 0]
        precondition(pipe(&a) == 0 && pipe(&b) == 0)
        _ = Echo(inbound: a[0], outbound: b[1], eventfd: false)
        return PingPong(out: a[1], back: b[0], size: 1)
    }

    static func eventfds() -> PingPong {
        let a = eventfd(0, 0), b = eventfd(0, 0)
        precondition(a >= 0 && b >= 0)
        _ = Echo(inbound: a, outbound: b, eventfd: true)
        return PingPong(out: a, back: b, size: 8)
    }

    @inline(__always) func roundTrip() {
        var v: UInt64 = 1
        _ = write(out, &v, size)
        while read(back, &v, size) != size {}
    }
}

func wakeupFloorBenchmarks() {
    let pipes = PingPong.pipes()
    Benchmark("Wake-up floor: pipe ping-pong between two threads (one round trip = two wake-ups)",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .contextSwitches], scalingFactor: .one, maxIterations: 100_000)) { benchmark in
        for _ in benchmark.scaledIterations { pipes.roundTrip() }
    }
    // As a ping every 10 ms sees it: both threads asleep long enough for their vCPUs to halt.
    // The pause is outside the measurement.
    let idlePipes = PingPong.pipes()
    Benchmark("Wake-up floor: pipe ping-pong every 10 ms, idle in between (one round trip = two wake-ups)",
              configuration: .init(metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(6), maxIterations: 400)) { benchmark in
        usleep(10_000)  // the gap between requests being measured, not a synchronisation
        benchmark.startMeasurement()
        idlePipes.roundTrip()
        benchmark.stopMeasurement()
    }
    let events = PingPong.eventfds()
    Benchmark("Wake-up floor: eventfd ping-pong between two threads (one round trip = two wake-ups)",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .contextSwitches], scalingFactor: .one, maxIterations: 100_000)) { benchmark in
        for _ in benchmark.scaledIterations { events.roundTrip() }
    }
}
