// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Hot-path benchmarks of BridgeCore (ordo-one/benchmark). Run with
//   swift package --disable-sandbox benchmark --target BridgeCoreBenchmarks
// Every steady-state benchmark must report 0 mallocs: that is the proof that the forwarding
// path allocates nothing per frame. Fixtures are built once, outside the measured closures.
import Benchmark
import BridgeCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Pre-built frames in one buffer, and the descriptors and verdicts of a batch over them.
final class BatchFixture: @unchecked Sendable {
    let engine: ForwardingEngine
    let storage: UnsafeMutableRawPointer
    let frames: UnsafeMutableBufferPointer<ReceivedFrame>
    let verdicts: UnsafeMutableBufferPointer<Verdict>
    let now = Timestamp(milliseconds: 1_000)

    init(engine: ForwardingEngine, frames raw: [([UInt8], Int)]) {
        self.engine = engine
        storage = .allocate(byteCount: raw.count * 128, alignment: 64)
        frames = .allocate(capacity: raw.count)
        verdicts = .allocate(capacity: raw.count)
        verdicts.initialize(repeating: Verdict())
        for (i, (bytes, port)) in raw.enumerated() {
            let at = storage + i * 128
            bytes.withUnsafeBytes { at.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            frames[i] = ReceivedFrame(bytes: UnsafeRawBufferPointer(start: at, count: bytes.count), port: port)
        }
    }

    @inline(__always)
    func run() {
        try! engine.process(UnsafeBufferPointer(frames), into: verdicts, now: now)
    }
}

func station(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0000 | UInt64(n) &* 0x9E37) }

func frameBytes(dst: MACAddress, src: MACAddress, tag: VLANTag? = nil, length: Int = 64) -> [UInt8] {
    var b = dst.octets + src.octets
    if let tag { b += [UInt8(tag.tpid >> 8), UInt8(tag.tpid & 0xFF), UInt8(tag.tci >> 8), UInt8(tag.tci & 0xFF)] }
    b += [0x08, 0x00]
    return b + Array(repeating: 0x5A, count: max(0, length - b.count))
}

/// A bridge of `ports` ports whose table knows `known` stations (station i on port i % ports),
/// and a batch of 256 unicast frames between random known stations.
func knownUnicastFixture(known: Int, ports: Int = 4) -> BatchFixture {
    let table = MACTable(configuration: .init(maxLearned: max(known, 1024)))
    for i in 0..<known { _ = table.learn(station(i), port: i % ports, now: Timestamp(milliseconds: 1_000)) }
    let config = BridgeConfiguration(ports: (0..<ports).map { PortConfiguration(name: "p\($0)") })
    let engine = try! ForwardingEngine(table: table, configuration: config)
    var rng = SplitMix(seed: 42)
    var raw: [([UInt8], Int)] = []
    while raw.count < 256 {
        let s = Int(rng.next() % UInt64(known)), d = Int(rng.next() % UInt64(known))
        if s % ports == d % ports { continue }
        raw.append((frameBytes(dst: station(d), src: station(s)), s % ports))
    }
    return BatchFixture(engine: engine, frames: raw)
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class TableFixture: @unchecked Sendable {
    let table: MACTable
    let keys: [MACAddress]
    let missKeys: [MACAddress]
    var cursor = 0
    var fresh: UInt64 = 0
    init(known: Int, maxLearned: Int = 65_536) {
        table = MACTable(configuration: .init(maxLearned: maxLearned))
        var rng = SplitMix(seed: 7)
        keys = (0..<known).map { _ in MACAddress(rawValue: (rng.next() & 0xFEFF_FFFF_FFFF) | 0x0200_0000_0000) }
        missKeys = (0..<known).map { _ in MACAddress(rawValue: (rng.next() & 0xFEFF_FFFF_FFFF) | 0x0600_0000_0000) }
        for (i, k) in keys.enumerated() { _ = table.learn(k, port: i % 8, now: Timestamp(milliseconds: 1)) }
    }
}

/// A second thread for two-thread benchmarks, created once outside the measured closures (a
/// thread's creation allocates). `start()` sets it running `body` in a loop, `finish()` stops it
/// and waits: POSIX semaphores, so neither allocates.
final class Partner: @unchecked Sendable {
    private let go: UnsafeMutablePointer<sem_t> = .allocate(capacity: 1)
    private let done: UnsafeMutablePointer<sem_t> = .allocate(capacity: 1)
    private let stop = Atomic<Bool>(false)
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        sem_init(go, 0, 0)
        sem_init(done, 0, 0)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()  // the thread keeps it for the process's life
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<Partner>.fromOpaque(context!).takeUnretainedValue().loop()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        pthread_detach(thread)
    }

    private func loop() {
        while true {
            while sem_wait(go) != 0 {}
            while !stop.load(ordering: .relaxed) { body() }
            sem_post(done)
        }
    }

    func start() {
        stop.store(false, ordering: .relaxed)
        sem_post(go)
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        while sem_wait(done) != 0 {}
    }
}

/// Fresh source MACs from a sequence of its own (one per thread).
final class FreshSources: @unchecked Sendable {
    var n: UInt64
    let salt: UInt64
    init(salt: UInt64) { self.salt = salt; n = 0 }
    @inline(__always) func next() -> MACAddress {
        n &+= 1
        return MACAddress(rawValue: 0x0200_0000_0000 | salt << 32 | (n &* 0x9E37_79B9) & 0xFFFF_FFFF)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 3,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    // MARK: MAC table

    let lookups = TableFixture(known: 65_536)
    Benchmark("MACTable lookup hit (65,536 MACs)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let keys = lookups.keys
        let mask = keys.count - 1
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(lookups.table.lookup(keys[i & mask]))
            i &+= 1  // keys are random MACs: sequential key reads, random table slots
        }
    }
    Benchmark("MACTable lookup miss (65,536 MACs)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let keys = lookups.missKeys
        let mask = keys.count - 1
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(lookups.table.lookup(keys[i & mask]))
            i &+= 1  // keys are random MACs: sequential key reads, random table slots
        }
    }
    Benchmark("MACTable learn refresh (known station, same port)", configuration: .init(scalingFactor: .mega)) { benchmark in
        let keys = lookups.keys
        let mask = keys.count - 1
        var i = 0
        let now = Timestamp(milliseconds: 5)
        for _ in benchmark.scaledIterations {
            let k = i & mask
            blackHole(lookups.table.learn(keys[k], port: k % 8, now: now))
            i &+= 1  // keys are random MACs: sequential key reads, random table slots
        }
    }
    let learner = TableFixture(known: 0, maxLearned: 65_536)
    Benchmark("MACTable learn new (full table evicts, as under MAC flooding)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let table = learner.table
        var n = learner.fresh
        for _ in benchmark.scaledIterations {
            n &+= 1
            blackHole(table.learn(MACAddress(rawValue: 0x0200_0000_0000 | (n &* 0x9E37_79B9) & 0xFFFF_FFFF), port: Int(n % 4), now: Timestamp(milliseconds: n)))
        }
        learner.fresh = n
    }

    // Bug 2 of "Sound foundations": a host spoofing a static entry's MAC, seen by two forwarding
    // threads at once. No lock may be taken (checked after the run), 0 mallocs.
    let spoofed = TableFixture(known: 0)
    let staticMAC = MACAddress(rawValue: 0x0200_5700_0001)
    try! spoofed.table.addStatic(staticMAC, port: 7)
    let spoofPartner = Partner { [table = spoofed.table] in
        for _ in 0..<64 { blackHole(table.learn(staticMAC, port: 1, now: Timestamp(milliseconds: 5))) }
    }
    Benchmark("MACTable learn, spoofed static MAC, 2 threads", configuration: .init(scalingFactor: .mega)) { benchmark in
        let table = spoofed.table
        let locks = table.controlLockAcquisitions
        spoofPartner.start()
        for _ in benchmark.scaledIterations { blackHole(table.learn(staticMAC, port: 2, now: Timestamp(milliseconds: 5))) }
        spoofPartner.finish()
        precondition(table.controlLockAcquisitions == locks, "a static conflict took the table's lock")
    }

    // Learning new stations into a full table (every learn evicts), one learn per iteration so
    // the percentiles are per-learn latencies (p100: the worst learn).
    let oneThread = TableFixture(known: 65_536)
    let sourcesA = FreshSources(salt: 1)
    Benchmark("MACTable learn new, full table, 1 thread (per learn)", configuration: .init(scalingFactor: .one, maxIterations: 200_000)) { benchmark in
        let table = oneThread.table
        for _ in benchmark.scaledIterations { blackHole(table.learn(sourcesA.next(), port: 1, now: Timestamp(milliseconds: 9))) }
    }
    let twoThreads = TableFixture(known: 65_536)
    let sourcesB = FreshSources(salt: 2), sourcesC = FreshSources(salt: 3)
    let learnPartner = Partner { [table = twoThreads.table] in
        for _ in 0..<64 { blackHole(table.learn(sourcesC.next(), port: 2, now: Timestamp(milliseconds: 9))) }
    }
    Benchmark("MACTable learn new, full table, 2 threads (per learn)", configuration: .init(scalingFactor: .one, maxIterations: 200_000)) { benchmark in
        let table = twoThreads.table
        learnPartner.start()
        for _ in benchmark.scaledIterations { blackHole(table.learn(sourcesB.next(), port: 1, now: Timestamp(milliseconds: 9))) }
        learnPartner.finish()
    }
    // Learning while another thread lists the full table (`fdb show`). The listing allocates
    // (it builds the rows), so this one reports no malloc count; its figure is the worst learn.
    let listed = TableFixture(known: 65_536)
    let sourcesD = FreshSources(salt: 4)
    let listingPartner = Partner { [table = listed.table] in blackHole(table.entries(now: Timestamp(milliseconds: 9)).count) }
    Benchmark("MACTable learn new while fdb show lists the full table (per learn)",
              configuration: .init(metrics: [.throughput, .wallClock, .cpuTotal], scalingFactor: .one, maxIterations: 200_000)) { benchmark in
        let table = listed.table
        listingPartner.start()
        for _ in benchmark.scaledIterations { blackHole(table.learn(sourcesD.next(), port: 1, now: Timestamp(milliseconds: 9))) }
        listingPartner.finish()
    }

    // MARK: Engine batches (256 frames per iteration: frames/s = 256 x throughput)

    let small = knownUnicastFixture(known: 1_000)
    Benchmark("Engine batch of 256, known unicast, 1,000 MACs", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { small.run() }
    }
    let large = knownUnicastFixture(known: 65_536)
    Benchmark("Engine batch of 256, known unicast, 65,536 MACs", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { large.run() }
    }

    let flood: BatchFixture = {
        let config = BridgeConfiguration(ports: (0..<8).map { PortConfiguration(name: "p\($0)") })
        let engine = try! ForwardingEngine(table: MACTable(), configuration: config)
        var raw: [([UInt8], Int)] = []
        for i in 0..<256 {
            let dst: MACAddress = i % 3 == 0 ? .broadcast : (i % 3 == 1 ? MACAddress(rawValue: 0x0100_5E00_0001) : station(100_000 + i))
            raw.append((frameBytes(dst: dst, src: station(i % 64)), i % 8))
        }
        return BatchFixture(engine: engine, frames: raw)
    }()
    Benchmark("Engine batch of 256, flood-heavy (broadcast, multicast, unknown unicast; 8 ports)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { flood.run() }
    }

    let vlan: BatchFixture = {
        // Port 0 is a trunk of VLANs 10-13; ports 1-4 are access ports of one VLAN each.
        var ports = [PortConfiguration(name: "trunk", pvid: nil, vlans: VLANSet([10, 11, 12, 13]), untaggedVLANs: VLANSet())]
        for v in 0..<4 {
            let vid = UInt16(10 + v)
            ports.append(PortConfiguration(name: "acc\(vid)", pvid: vid, vlans: VLANSet([vid]), untaggedVLANs: VLANSet([vid])))
        }
        let table = MACTable()
        for i in 0..<1_000 {
            let vid = UInt16(10 + i % 4)
            let onTrunk = (i / 4) % 2 == 0
            _ = table.learn(station(i), vlan: vid, port: onTrunk ? 0 : 1 + i % 4, now: Timestamp(milliseconds: 1))
        }
        let engine = try! ForwardingEngine(table: table, configuration: BridgeConfiguration(ports: ports, vlanFiltering: true))
        var raw: [([UInt8], Int)] = []
        var rng = SplitMix(seed: 3)
        while raw.count < 256 {
            let s = Int(rng.next() % 1_000), d = Int(rng.next() % 1_000)
            guard s % 4 == d % 4, (s / 4) % 2 != (d / 4) % 2 else { continue }  // same VLAN, trunk <-> access
            let vid = UInt16(10 + s % 4)
            if (s / 4) % 2 == 0 {
                raw.append((frameBytes(dst: station(d), src: station(s), tag: VLANTag(vid: vid)), 0))
            } else {
                raw.append((frameBytes(dst: station(d), src: station(s)), 1 + s % 4))
            }
        }
        return BatchFixture(engine: engine, frames: raw)
    }()
    Benchmark("Engine batch of 256, VLAN filtering (trunk and access ports)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { vlan.run() }
    }

    // MARK: Multicast snooping's per-frame path (MulticastBenchmarks.swift)

    multicastBenchmarks()
    spanningTreeBenchmarks()
    wakeupFloorBenchmarks()
    snoopingOverheadBenchmarks()

    // MARK: The whole pass: ports -> engine -> ports, in memory.

    final class PassFixture: @unchecked Sendable {
        let forwarder: ForwardingPass
        let input: MemoryPort
        init() {
            let ports = (0..<4).map { MemoryPort(name: "p\($0)", slotCount: 512, recordsTransmitted: false) }
            let table = MACTable()
            for i in 0..<1_000 { _ = table.learn(station(i), port: i % 4, now: Timestamp(milliseconds: 1)) }
            let engine = try! ForwardingEngine(table: table, configuration: BridgeConfiguration(ports: (0..<4).map { PortConfiguration(name: "p\($0)") }))
            forwarder = ForwardingPass(engine: engine, ports: ports)
            input = ports[0]
            for i in 0..<256 {
                let d = 1 + 4 * (i % 249)  // stations on ports 1 (known unicast)
                try! input.inject(frameBytes(dst: station(d), src: station(4 * (i % 250))))
            }
        }
    }
    let pass = PassFixture()
    Benchmark("ForwardingPass of 256 frames (memory ports, known unicast)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var ready: Int32 = 0
        for _ in benchmark.scaledIterations {
            let n = withUnsafePointer(to: &ready) { pass.forwarder.runOnce(ready: UnsafeBufferPointer(start: $0, count: 1), now: Timestamp(milliseconds: 2)) }
            pass.input.rewind(n)
        }
    }

    // MARK: 3 ports and 1,024: the cost follows the ports a frame goes to, not the bridge's size.

    /// A bridge of `count` memory ports; stations 0..<1000 learned on port 1 (and ports 1
    /// and 2 of 3 share VLAN 10 with port 0 when `vlanOf3`, the rest are in VLAN 20).
    final class SizedPass: @unchecked Sendable {
        let forwarder: ForwardingPass
        let input: MemoryPort
        init(ports count: Int, broadcast: Bool, vlanOf3: Bool = false) {
            let ports = (0..<count).map { MemoryPort(name: "p\($0)", slotCount: 512, recordsTransmitted: false) }
            let table = MACTable()
            for i in 0..<1_000 { _ = table.learn(station(1_000 + i), vlan: vlanOf3 ? 10 : 0, port: 1, now: Timestamp(milliseconds: 1)) }
            var config = BridgeConfiguration(ports: (0..<count).map { PortConfiguration(name: "p\($0)") })
            if vlanOf3 {
                config.vlanFiltering = true
                for i in 0..<count {
                    let vid: UInt16 = i < 3 ? 10 : 20
                    config.ports[i].pvid = vid
                    config.ports[i].vlans = VLANSet([vid])
                    config.ports[i].untaggedVLANs = VLANSet([vid])
                }
            }
            let engine = try! ForwardingEngine(table: table, configuration: config)
            forwarder = ForwardingPass(engine: engine, ports: ports)
            input = ports[0]
            for i in 0..<256 {
                try! input.inject(frameBytes(dst: broadcast ? .broadcast : station(1_000 + i % 1_000), src: station(i % 250)))
            }
        }
        func run() {
            var ready: Int32 = 0
            let n = withUnsafePointer(to: &ready) { forwarder.runOnce(ready: UnsafeBufferPointer(start: $0, count: 1), now: Timestamp(milliseconds: 2)) }
            input.rewind(n)
        }
    }
    let unicast3 = SizedPass(ports: 3, broadcast: false)
    let unicast1024 = SizedPass(ports: 1024, broadcast: false)
    let flood3 = SizedPass(ports: 3, broadcast: true)
    let flood1024InVLANOf3 = SizedPass(ports: 1024, broadcast: true, vlanOf3: true)
    let flood1024 = SizedPass(ports: 1024, broadcast: true)
    Benchmark("ForwardingPass, 256 known unicast, 3 ports", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { unicast3.run() }
    }
    Benchmark("ForwardingPass, 256 known unicast, 1,024 ports", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { unicast1024.run() }
    }
    Benchmark("ForwardingPass, 256 broadcasts, 3 ports (2 egress each)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { flood3.run() }
    }
    Benchmark("ForwardingPass, 256 broadcasts, 1,024 ports, VLAN of 3 (2 egress each)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations { flood1024InVLANOf3.run() }
    }
    Benchmark("ForwardingPass, 256 broadcasts, 1,024 ports (1,023 egress each)", configuration: .init(scalingFactor: .one, maxIterations: 2_000)) { benchmark in
        for _ in benchmark.scaledIterations { flood1024.run() }
    }
}
