// BridgeLab: the integration tests' standard topology, and a forwarding loop to drive it.
//
//   h1 namespace            br namespace (the bridge)             h2 namespace
//   [<p>h0 198.18.0.1] ===== [<p>b0]  Forwarder  [<p>b1] ===== [<p>h1 198.18.0.2]
//
// The two bridge-side veth ends are opened as AFPacketPorts from the test process through a
// setns thread; a Forwarder with a ForwardingEngine moves frames between them on a dedicated
// thread (poll on both sockets, bounded in time) until stopped. Everything lives in the Lab,
// whose teardown deletes the namespaces even when a test fails. PcapPortTests drives its
// libpcap ports with the same ForwardingLoop.

import BridgeCore
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

/// A forwarding thread: poll on the ports' descriptors, then Forwarder passes until nothing
/// is left, bounded by `maxDuration`. Drives AFPacketPorts (BridgeLab) and PcapPorts alike.
final class ForwardingLoop: @unchecked Sendable {
    let forwarder: Forwarder
    private let fds: [Int32]
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// A Forwarder with a fresh engine over `ports` (one bridge port each, by name), woken by
    /// `fileDescriptors` (the descriptors of what `ports` wrap, in the same order).
    init(ports: [any BridgeCore.Port], fileDescriptors: [Int32], maxDuration: Duration) throws {
        let config = BridgeConfiguration(ports: ports.map { PortConfiguration(name: $0.name) })
        forwarder = Forwarder(engine: try ForwardingEngine(table: MACTable(), configuration: config), ports: ports)
        fds = fileDescriptors
        let thread = Thread { [self] in
            self.run(deadline: ContinuousClock.now + maxDuration)
            self.finished.signal()
        }
        thread.name = "forwarding"
        thread.start()
    }

    private func run(deadline: ContinuousClock.Instant) {
        var pfds = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let all = PortMask(fds.indices)
        while !stopping.load(ordering: .relaxed) && ContinuousClock.now < deadline {
            // A short timeout bounds how late `stop` is seen; every pass asks every port, so a
            // partly read block is never left behind by an edge in poll's readiness.
            _ = poll(&pfds, nfds_t(pfds.count), 5)
            let now = Timestamp(milliseconds: MonotonicClock.now() / 1_000_000)
            while forwarder.runOnce(ready: all, now: now) > 0 {}
        }
    }

    /// Stops the loop and waits for it (at most a few poll timeouts). Idempotent.
    func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
    }
}
