// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// BridgeLab: the integration tests' standard topology, and a forwarding loop to drive it.
//
//   h1 namespace            br namespace (the bridge)             h2 namespace
//   [<p>h0 198.18.0.1] ===== [<p>b0]  ForwardingPass  [<p>b1] ===== [<p>h1 198.18.0.2]
//
// The two bridge-side veth ends are opened as AFPacketPorts from the test process through a
// setns thread; a ForwardingPass with a ForwardingEngine moves frames between them on a dedicated
// thread (poll on both sockets, bounded in time) until stopped. Everything lives in the Lab,
// whose teardown deletes the namespaces even when a test fails. PcapPortTests drives its
// libpcap ports with the same ForwardingLoop.

import BridgeCore
@testable import BridgeService
import Foundation
import LabKit
import PacketIO
import Synchronization

final class BridgeLab {
    let lab: Lab
    let h1: String
    let h2: String
    let br: String
    let h1If: String
    let h2If: String
    let brIf: [String]
    static let h1Address = "198.18.0.1"
    static let h2Address = "198.18.0.2"

    init() throws {
        lab = try Lab()
        do {
            h1 = try lab.addNamespace("h1")
            h2 = try lab.addNamespace("h2")
            br = try lab.addNamespace("br")
            h1If = try lab.interfaceName("h0")
            h2If = try lab.interfaceName("h1")
            brIf = [try lab.interfaceName("b0"), try lab.interfaceName("b1")]
            try lab.addVethPair(h1If, in: h1, brIf[0], in: br)
            try lab.addVethPair(h2If, in: h2, brIf[1], in: br)
            try lab.setAddress("\(BridgeLab.h1Address)/24", on: h1If, in: h1)
            try lab.setAddress("\(BridgeLab.h2Address)/24", on: h2If, in: h2)
        } catch {
            lab.teardown()
            throw error
        }
    }

    deinit { lab.teardown() }

    /// Opens the two bridge ports inside the bridge namespace.
    func openBridgePorts(_ configuration: AFPacketPort.Configuration = .init()) throws -> [AFPacketPort] {
        try lab.withNetworkNamespace(br) {
            try brIf.map { try AFPacketPort(interface: $0, configuration: configuration) }
        }
    }

    /// Starts forwarding between `ports`; stop it with `ForwardingLoop.stop()`.
    func startForwarding(_ ports: [AFPacketPort], maxDuration: Duration = .seconds(120)) throws -> ForwardingLoop {
        try ForwardingLoop(ports: ports, fileDescriptors: ports.map(\.fileDescriptor), maxDuration: maxDuration)
    }
}

/// A forwarding thread running the bridge's own receive loop (BridgeService's ReceiveLoop,
/// woken by EpollReadiness on the ports' descriptors and a wake-up pipe, exactly as a
/// ForwardingWorker is), bounded by `maxDuration`. Drives AFPacketPorts (BridgeLab) and
/// PcapPorts alike.
final class ForwardingLoop: @unchecked Sendable {
    let forwarder: ForwardingPass
    private let fds: [Int32]
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let wake: (read: Int32, write: Int32)

    /// A ForwardingPass with a fresh engine over `ports` (one bridge port each, by name), woken by
    /// `fileDescriptors` (the descriptors of what `ports` wrap, in the same order).
    init(ports: [any BridgeCore.Port], fileDescriptors: [Int32], maxDuration: Duration) throws {
        let config = BridgeConfiguration(ports: ports.map { PortConfiguration(name: $0.name) })
        forwarder = ForwardingPass(engine: try ForwardingEngine(table: MACTable(), configuration: config), ports: ports)
        fds = fileDescriptors
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw HarnessError("pipe: errno \(errno)") }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        wake = (pipeFDs[0], pipeFDs[1])
        let thread = Thread { [self] in
            self.run(deadline: ContinuousClock.now + maxDuration)
            self.finished.signal()
        }
        thread.name = "forwarding"
        thread.start()
    }

    deinit {
        close(wake.read)
        close(wake.write)
    }

    private func run(deadline: ContinuousClock.Instant) {
        let source = EpollReadiness(wakeFD: wake.read)
        source.watch(fds.enumerated().map { ($0.offset, $0.element) })
        var loop = ReceiveLoop(forwarder: forwarder, busyPoll: false, spinMicroseconds: 300)
        while !stopping.load(ordering: .relaxed) && ContinuousClock.now < deadline {
            let woke = source.wait(timeoutMilliseconds: loop.waitTimeoutMilliseconds)
            loop.serve(ready: woke.ready) { stopping.load(ordering: .relaxed) }
        }
    }

    /// Stops the loop and waits for it (at most a few poll timeouts). Idempotent.
    func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
    }
}
