// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// AFPacketTraffic: the generator and receiver on real interfaces. A receive loop drains an
// AFPacketPort's ring into a TrafficReceiver (poll with a 1 ms timeout, so a stop request is
// seen within about a millisecond), and `LinkTrial.run` drives one trial: receiver on its own
// thread, generator on the caller's, then a drain period for frames still in flight.
//
// Receive time is one clock read per batch taken from the ring, right after `receive`
// returns: latency includes the kernel's hand-over to the ring and the wake-up from poll, as
// an application on the host would see it. The ports must already be open (in their lab
// namespaces, through `Lab.withNetworkNamespace`); a socket stays in the namespace it was
// opened in, whichever thread later uses it. Each port is used by one thread only.

#if canImport(Glibc)
import Glibc
import Foundation
import BridgeCore
import PacketIO

extension TrafficReceiver {
    /// Ends a running `receive(from:)` loop `drainNanoseconds` from now (from any thread).
    public func requestStop(afterNanoseconds drainNanoseconds: UInt64 = 0) {
        stopDeadline.store(MonotonicClock.now() &+ drainNanoseconds, ordering: .relaxed)
    }

    /// Receives from `port` until `requestStop`'s deadline or `deadline` (CLOCK_MONOTONIC ns),
    /// whichever is first. Returns the frames taken from the ring (test frames or not).
    @discardableResult
    public func receive(from port: AFPacketPort, batch: Int = 256, deadline: UInt64) -> UInt64 {
        precondition(batch > 0)
        let frames = UnsafeMutableBufferPointer<ReceivedFrame>.allocate(capacity: batch)
        frames.initialize(repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0))
        defer { frames.deallocate() }
        var pfd = pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0)
        var taken: UInt64 = 0
        while true {
            let now = MonotonicClock.now()
            if now >= deadline || now >= stopDeadline.load(ordering: .relaxed) { break }
            let n = port.receive(into: frames, port: 0)
            if n == 0 {
                _ = poll(&pfd, 1, 1)
                continue
            }
            let receivedAt = MonotonicClock.now()
            consume(UnsafeBufferPointer(rebasing: frames[0..<n]), receivedAt: receivedAt)
            port.releaseReceived()
            taken &+= UInt64(n)
        }
        return taken
    }
}

/// One trial over real interfaces: generator on one port, receiver on another.
public enum LinkTrial {
    /// Runs `generator` into `sender` while `receiver` counts what arrives on `receivePort`,
    /// then waits `drainNanoseconds` for frames in flight. Both ports must be open and not in
    /// use elsewhere. Returns both reports, with the receiver's loss taken against what the
    /// generator actually sent.
    public static func run(
        generator: TrafficGenerator, on sender: AFPacketPort,
        receiver: TrafficReceiver, on receivePort: AFPacketPort,
        drainNanoseconds: UInt64 = 50_000_000
    ) -> (generator: GeneratorReport, receiver: ReceiverReport) {
        let box = PortBox(receivePort)
        let done = DispatchSemaphore(value: 0)
        // The receive loop's own bound: the whole trial plus its drain and a second of slack.
        let deadline = MonotonicClock.now() &+ generator.configuration.durationNanoseconds &+ drainNanoseconds
            &+ 1_000_000_000
        let thread = Thread { [receiver] in
            receiver.receive(from: box.port, deadline: deadline)
            done.signal()
        }
        thread.name = "bench receiver"
        thread.start()
        let sent = generator.run(into: sender)
        receiver.requestStop(afterNanoseconds: drainNanoseconds)
        done.wait()
        return (sent, receiver.report(sentPerFlow: sent.sentPerFlow))
    }
}

/// Hands a port to the receive thread; the semaphore orders all accesses, hence @unchecked.
private final class PortBox: @unchecked Sendable {
    let port: AFPacketPort
    init(_ port: AFPacketPort) { self.port = port }
}
#endif

extension TrialResult {
    /// A trial's result from a generator's and a receiver's report: offered is what the
    /// generator got into the bridge, delivered the distinct test frames counted.
    public init(generator: GeneratorReport, receiver: ReceiverReport) {
        self.init(
            offered: generator.sent, delivered: Swift.min(receiver.total.unique, generator.sent),
            offeredRate: generator.sentRate)
    }
}
