// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import Testing
@testable import BridgeService

@Suite struct SpinPolicyTests {
    /// Feeds wake-ups that found frames at `times`; returns whether each one armed the spin.
    static func wakeUps(_ p: inout SpinPolicy, at times: [UInt64]) -> [Bool] {
        times.map { p.trafficAfterWakeUp(at: $0) }
    }

    @Test("spinning arms after 4 wake-ups in a row within 50 µs of the previous frames, and only then")
    func armsOnContinuousTraffic() {
        var p = SpinPolicy(spinMicroseconds: 300)
        let t: UInt64 = 1_000_000_000
        // The first frames ever (no history), then 40 µs apart: the 4th continuous one arms it,
        // it stays armed while traffic goes on (45 µs), a 100 µs pause ends the streak.
        let armed = Self.wakeUps(&p, at: [t, t + 40_000, t + 80_000, t + 120_000, t + 160_000, t + 205_000, t + 305_000])
        #expect(armed == [false, false, false, false, true, true, false])
        #expect(p.streak == 0)
    }

    @Test("10,000 frames/s, one wake-up every 100 µs, never arms it")
    func tenThousandFramesPerSecondNeverArms() {
        var p = SpinPolicy(spinMicroseconds: 300)
        let times = (0..<1_000).map { 2_000_000_000 + UInt64($0) * 100_000 }
        #expect(!Self.wakeUps(&p, at: times).contains(true))
    }

    @Test("a ping every 10 ms with its reply 50 µs later never arms it")
    func requestResponseNeverArms() {
        var p = SpinPolicy(spinMicroseconds: 300)
        let times = (0..<100).flatMap { i -> [UInt64] in
            let request = 5_000_000_000 + UInt64(i) * 10_000_000
            return [request, request + 50_000]
        }
        #expect(!Self.wakeUps(&p, at: times).contains(true))
    }

    @Test("a spin ends after the quiet time or the slice; frames seen while spinning move the clock")
    func spinEnds() {
        var p = SpinPolicy(spinMicroseconds: 300)
        let start: UInt64 = 1_000_000
        #expect(!p.spinIsOver(start: start, quietSince: start, now: start + 299_999))
        #expect(p.spinIsOver(start: start, quietSince: start, now: start + 300_000))
        // Traffic throughout: the slice still hands back to the poll loop.
        let late = start + SpinPolicy.sliceNanoseconds
        #expect(p.spinIsOver(start: start, quietSince: late - 1_000, now: late))
        p.trafficWhileSpinning(at: late)
        #expect(p.lastTraffic == late)
    }

    @Test("a spin that forwards less than a fifth of its time stops, and the streak starts over")
    func spinMustPay() {
        var p = SpinPolicy(spinMicroseconds: 300)
        let t: UInt64 = 3_000_000_000
        #expect(Self.wakeUps(&p, at: (0...4).map { t + UInt64($0) * 20_000 }).last == true)
        // Full load: forwarding 600 of every 1,000 µs goes on; the streak is untouched.
        let fullLoad = p.spinWindowEnded(busy: 600_000, elapsed: 1_000_000)
        let aFifth = p.spinWindowEnded(busy: 200_000, elapsed: 1_000_000)
        #expect(fullLoad && aFifth)
        #expect(p.streak >= SpinPolicy.streakToArm)
        // 10,000 64-byte frames/s: ~3 µs of forwarding per 100 µs. Stop, and disarm: even a
        // wake-up that finds frames 20 µs after the spin's last ones does not spin again.
        p.trafficWhileSpinning(at: t + 1_100_000)
        let sparse = p.spinWindowEnded(busy: 30_000, elapsed: 1_000_000)
        #expect(!sparse)
        #expect(p.streak == 0)
        let again = p.trafficAfterWakeUp(at: t + 1_120_000)
        #expect(!again)
    }

    @Test("--spin-us 0 never spins")
    func disabled() {
        var p = SpinPolicy(spinMicroseconds: 0)
        let times = (1...10).map { UInt64($0) * 1_000 }
        #expect(!Self.wakeUps(&p, at: times).contains(true))
    }
}
