// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// End to end over the kernel: two host namespaces joined by one veth pair (no bridge), the
// generator on an AFPacketPort in one, the receiver on an AFPacketPort in the other, 10,000
// frames/s for 1 s. Over a bare veth nothing should be lost and one-way latency should be well
// under a millisecond typically; the bounds here are loose (a loaded 2-core machine) but catch
// a broken stamp, clock or accounting. Needs root: skipped with a message otherwise, failed
// when SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1. The Lab deletes both namespaces on every path.

import BenchKit
import BridgeCore
import Foundation
import LabKit
import PacketIO
import Testing

extension Trait where Self == ConditionTrait {
    /// Runs the test as root, or when SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1; skips it otherwise.
    static var privileged: Self {
        .enabled(if: Lab.shouldRunPrivilegedTests, Comment(rawValue: Lab.skipMessage))
    }
}

@Suite("BenchKit over veth", .serialized)
struct VethSmokeTests {
    @Test("10,000 frames/s for 1 s across a veth pair: no loss, plausible latency", .privileged, .timeLimit(.minutes(3)))
    func vethPair() throws {
        let lab = try Lab()
        defer { lab.teardown() }
        let nsA = try lab.addNamespace("ga")
        let nsB = try lab.addNamespace("gb")
        let ifA = try lab.interfaceName("ga")
        let ifB = try lab.interfaceName("gb")
        try lab.addVethPair(ifA, in: nsA, ifB, in: nsB)
        // Both ends must be operationally up before frames are offered (linkwatch lags; a
        // generous deadline for a loaded machine).
        let deadline = ContinuousClock.now + .seconds(60)
        var up = false
        while !up && ContinuousClock.now < deadline {
            up = try lab.withNetworkNamespace(nsA) { try Interface.state(of: ifA).operationalUp }
                && lab.withNetworkNamespace(nsB) { try Interface.state(of: ifB).operationalUp }
            if !up { usleep(20_000) }  // a poll interval
        }
        #expect(up, "veth ends not operationally up within 60 s")
        let tx = try lab.withNetworkNamespace(nsA) { try AFPacketPort(interface: ifA) }
        let rx = try lab.withNetworkNamespace(nsB) { try AFPacketPort(interface: ifB) }
        defer {
            tx.close()
            rx.close()
        }

        let flows = FlowSpec.standard(count: 4, tag: 0x5A)
        let generator = TrafficGenerator(configuration: GeneratorConfiguration(
            frameSize: FrameSize(wireLength: 64), flows: flows, run: 0x5A5A,
            rate: .fixed(framesPerSecond: 10_000), durationNanoseconds: 1_000_000_000))
        let receiver = TrafficReceiver(flowCount: flows.count, run: 0x5A5A)
        let (sent, got) = LinkTrial.run(generator: generator, on: tx, receiver: receiver, on: rx)
        let lat = try #require(got.latency.summary)
        print("BenchKit veth smoke: sent \(sent.sent) at \(Int(sent.sentRate))/s, received \(got.total.unique), lost \(got.total.lost), "
              + "reordered \(got.total.reordered), duplicated \(got.total.duplicated), foreign \(got.foreign); latency ns "
              + "min \(lat.minimum) avg \(Int(lat.average)) p50 \(lat.p50) p99 \(lat.p99) max \(lat.maximum)")

        TimingBounds.expect(abs(sent.sentRate - 10_000) / 10_000 < 0.10, "veth smoke: sent at \(sent.sentRate)/s (bound 10,000 ±10%)")
        #expect(sent.sendFailures == 0)
        #expect(got.total.expected == sent.sent)
        #expect(got.total.lossRatio <= 0.001, "lost \(got.total.lost) of \(got.total.expected)")
        #expect(got.total.duplicated == 0 && got.stale == 0 && got.unknownFlow == 0)
        #expect(got.clockAnomalies == 0)
        #expect(lat.minimum > 0)
        TimingBounds.expect(lat.p50 < 5_000_000 && lat.maximum < 1_000_000_000,
                            "veth smoke: latency p50 \(lat.p50) ns, max \(lat.maximum) ns (bounds 5 ms, 1 s)")
        #expect(TrialResult(generator: sent, receiver: got).lossRatio <= 0.001)
    }
}
