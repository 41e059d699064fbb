// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// What a running spanning tree costs frames that do not use it: the same known-unicast batch
// as "Engine batch of 256, known unicast, 1,000 MACs", with `spanningTree` on and every port
// forwarding (the engine tests the port's flag byte it already loads), and the cost of a
// batch arriving on a discarding port (dropped before learning).

import Benchmark
import BridgeCore

func spanningTreeFixture(known: Int, ingressGate: SpanningTreeGate) -> BatchFixture {
    let ports = 4
    let table = MACTable(configuration: .init(maxLearned: max(known, 1024)))
    for i in 0..<known { _ = table.learn(station(i), port: i % ports, now: Timestamp(milliseconds: 1_000)) }
    var config = BridgeConfiguration(ports: (0..<ports).map { PortConfiguration(name: "p\($0)") })
    config.spanningTree = true
    config.ports[0].spanningTree = ingressGate
    let engine = try! ForwardingEngine(table: table, configuration: config)
    var rng = SplitMix(seed: 42)
    var raw: [([UInt8], Int)] = []
    while raw.count < 256 {
        let s = Int(rng.next() % UInt64(known)), d = Int(rng.next() % UInt64(known))
        if s % ports == d % ports || d % ports == 0 { continue }
        raw.append((frameBytes(dst: station(d), src: station(s)), s % ports))
    }
    return BatchFixture(engine: engine, frames: raw)
}

func spanningTreeBenchmarks() {
    let forwarding = spanningTreeFixture(known: 1_000, ingressGate: .forwarding)
    Benchmark("Engine batch of 256, known unicast, 1,000 MACs, spanning tree on (all forwarding)",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { forwarding.run() }
    }
    let blocked = spanningTreeFixture(known: 1_000, ingressGate: .discarding)
    Benchmark("Engine batch of 256, known unicast, 1,000 MACs, spanning tree on (a quarter from a discarding port)",
              configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { blocked.run() }
    }
}
