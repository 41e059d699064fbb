// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Regression tests for the data-path bugs of issue "Sound foundations" (each failed before
// its fix): tag writes past the buffer, TX bytes of the wrong frames, storm-control budgets
// refilled by reconfiguration and multiplied by threads, views used past the Port contract.
import BridgeCore
import Testing

@Suite struct EgressWriteBoundsTests {
    /// A 64-byte buffer full of 0xEE; `out` is its first `limit` bytes.
    func write(_ e: EgressFrame, limit: Int) -> (written: Int, buffer: [UInt8]) {
        var buffer = [UInt8](repeating: 0xEE, count: 64)
        let n = buffer.withUnsafeMutableBytes { e.write(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<limit])) }
        return (n, buffer)
    }

    @Test func tagEditsNeverWritePastTheBuffer() {
        let f = frame(dst: station(1), src: station(2), tags: [VLANTag(vid: 7)])
        f.withUnsafeBytes { raw in
            for encoding in [EgressEncoding.insertTag(0x8100_0005), .replaceOuterTag(0x8100_0005)] {
                for limit in [0, 5, 12, 13, 14, 15, 16, 17] {
                    let (n, buffer) = write(EgressFrame(bytes: raw, encoding: encoding), limit: limit)
                    #expect(n == limit, "\(encoding) into \(limit) bytes")
                    #expect(buffer[limit...].allSatisfy { $0 == 0xEE }, "\(encoding) wrote past \(limit) bytes")
                }
            }
            // Cut inside the tag: the bytes that fit are the tag's first bytes.
            let (_, cut) = write(EgressFrame(bytes: raw, encoding: .insertTag(0x8100_0005)), limit: 14)
            #expect(Array(cut[12..<14]) == [0x81, 0x00])
        }
    }

    @Test func framesTooShortForTheirEditEncodeToNothing() {
        // 10 bytes: not even the two addresses. An edit would read past the frame.
        let short = [UInt8](repeating: 0x11, count: 10)
        short.withUnsafeBytes { raw in
            for encoding in [EgressEncoding.insertTag(0x8100_0005), .replaceOuterTag(0x8100_0005), .stripOuterTag] {
                let (n, buffer) = write(EgressFrame(bytes: raw, encoding: encoding), limit: 64)
                #expect(n == 0, "\(encoding) of a 10-byte frame wrote \(n) bytes")
                #expect(buffer.allSatisfy { $0 == 0xEE })
            }
            // As is, any length goes.
            #expect(write(EgressFrame(bytes: raw, encoding: .asIs), limit: 64).written == 10)
        }
    }
}

@Suite struct TransmitByteCountTests {
    @Test func bytesCountTheFramesThatWentNotThePrefix() throws {
        // Port 1 skips frames over 100 bytes in the middle of a batch (an MTU check).
        let mp = (0..<2).map { MemoryPort(name: "p\($0)") }
        let engine = makeEngine(BridgeConfiguration(ports: ports(2)))
        let f = ForwardingPass(engine: engine, ports: mp)
        mp[1].maxWireLength = 100
        let sizes = [60, 1_000, 70, 2_000, 80]
        for (i, payload) in sizes.enumerated() {
            try mp[0].inject(frame(dst: .broadcast, src: station(i + 1), payload: payload - 14))
        }
        #expect(f.runOnce(ready: .all, now: Timestamp(milliseconds: 1)) == 5)
        let c = engine.counters.snapshot(port: 1)
        #expect(c.txFrames == 3 && c.txDropped == 2)
        #expect(c.txBytes == 60 + 70 + 80, "counted \(c.txBytes) bytes")
        #expect(mp[1].sent.map(\.count) == [60, 70, 80])
    }
}

@Suite struct StormBudgetTests {
    func stormConfig() -> BridgeConfiguration {
        BridgeConfiguration(ports: ports(3) { i, p in
            if i == 0 { p.stormControl = StormControl(broadcast: 100) }  // burst: 100 ms = 10 frames
        })
    }

    @Test func reconfigurationDoesNotRefillTheBucket() throws {
        let e = makeEngine(stormConfig())
        var passed = 0
        for _ in 0..<20 where decide(e, frame(dst: .broadcast, src: station(1)), port: 0, now: 5_000).isFlood { passed += 1 }
        #expect(passed == 10)
        // A port fault or re-attach applies a configuration: the budget stays spent.
        try e.apply(stormConfig())
        #expect(decide(e, frame(dst: .broadcast, src: station(1)), port: 0, now: 5_000).action == .drop(.stormControl))
    }

    @Test func enginesOfOneBridgeShareOneBudget() throws {
        // Two forwarding threads' engines: the port's burst is 10 frames in all, not 10 each.
        let table = MACTable()
        let budget = StormBudget()
        let engines = try (0..<2).map { _ in try ForwardingEngine(table: table, configuration: stormConfig(), stormBudget: budget) }
        var passed = 0
        for k in 0..<40 where decide(engines[k % 2], frame(dst: .broadcast, src: station(1)), port: 0, now: 5_000).isFlood {
            passed += 1
        }
        #expect(passed == 10)
        // 100 ms later, 100 ms of the rate again, whichever engine asks.
        #expect(decide(engines[1], frame(dst: .broadcast, src: station(1)), port: 0, now: 5_100).isFlood)
    }

    @Test func concurrentTakersNeverExceedTheBurst() async {
        let budget = StormBudget()
        // Rate 10,000/s: a burst of 1,000 frames; 4 tasks try 1,000 each at the same instant.
        let passed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var n = 0
                    for _ in 0..<1_000 where budget.take(port: 3, class: 1, rate: 10_000, now: Timestamp(milliseconds: 7)) { n += 1 }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(passed == 1_000)
    }
}

@Suite struct PortContractTests {
    @Test func memoryPortPoisonsViewsHeldPastRelease() throws {
        let p = MemoryPort(name: "m", slotCount: 4)
        let original = frame(dst: station(1), src: station(2))
        try p.inject(original)
        var held = ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0)
        #expect(withUnsafeMutablePointer(to: &held) { p.receive(into: UnsafeMutableBufferPointer(start: $0, count: 1), port: 0) } == 1)
        #expect(Array(held.bytes) == original)
        // A second receive (nothing there) keeps the first one's bytes valid...
        var none = held
        #expect(withUnsafeMutablePointer(to: &none) { p.receive(into: UnsafeMutableBufferPointer(start: $0, count: 1), port: 0) } == 0)
        #expect(Array(held.bytes) == original)
        // ...until release: a caller still reading them sees poison, never the old frame.
        p.releaseReceived()
        #expect(Array(held.bytes) != original)
        #expect(held.bytes.allSatisfy { $0 == MemoryPort.poison })
    }
}
