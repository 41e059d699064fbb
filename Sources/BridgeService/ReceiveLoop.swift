// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ReceiveLoop: what a forwarding thread does once it knows which ports have frames — the one
// loop the bridge's workers and the tests run. It is separate from *how* the thread learns
// that (ReadinessSource: epoll(7) on the ports' sockets and a wake-up pipe in the bridge; the
// same in tests), so the forwarding, draining and spinning rules exist once. epoll rather than
// poll(2): a wake-up costs the ports that have frames, not a scan of all 1,024 of them.
//
// Rules: drain the ready ports in ForwardingPass passes until a pass finds nothing, at most 64
// passes (so the mailbox and other ports get their turn); then, if the traffic is continuous
// (SpinPolicy), keep reading every ring without sleeping until it pauses, the spin slice ends,
// or the caller has work (`interrupted`).

import BridgeCore
import CLinuxPacket
import PacketIO

#if canImport(Glibc)
import Glibc
#endif

struct ReceiveLoop {
    let forwarder: ForwardingPass
    /// Spin on the rings instead of sleeping (every pass reads every port).
    let busyPoll: Bool
    private(set) var spin: SpinPolicy
    /// Batches that received at least one frame.
    private(set) var batches: UInt64 = 0
    /// The longest time (ns) from a wake-up with frames ready, or from a batch, to the next
    /// batch while frames kept coming: a stall of this thread shows here (ReceiveLoop measures
    /// it because it sees every batch; one clock read per batch).
    private(set) var worstGapNanoseconds: UInt64 = 0

    init(forwarder: ForwardingPass, busyPoll: Bool, spinMicroseconds: Int) {
        self.forwarder = forwarder
        self.busyPoll = busyPoll
        spin = SpinPolicy(spinMicroseconds: spinMicroseconds)
    }

    /// How long the readiness source may sleep (ms): 0 with busy polling; otherwise bounded so
    /// a stop or a statistics deadline is never late by more than that.
    var waitTimeoutMilliseconds: Int32 { busyPoll ? 0 : 100 }

    /// Forwards what the `ready` ports hold (every attached port with busy polling). Returns
    /// the frames received.
    @discardableResult
    mutating func serve(ready: UnsafeBufferPointer<Int32>, interrupted: () -> Bool) -> Int {
        guard busyPoll || !ready.isEmpty else { return 0 }
        var last = MonotonicClock.now()
        let now = Timestamp(milliseconds: last / 1_000_000)
        var got = 0
        for _ in 0..<64 {
            let n = busyPoll ? forwarder.runOnceOverAll(now: now) : forwarder.runOnce(ready: ready, now: now)
            if n == 0 { break }
            got += n
            last = batchDone(since: last)
        }
        // `last`: when the last batch finished, a moment ago (no second clock read).
        if got > 0 && !busyPoll && spin.trafficAfterWakeUp(at: last) {
            spinAfterTraffic(interrupted: interrupted)
        }
        return got
    }

    /// Counts a batch that started being waited for at `since`; returns now.
    private mutating func batchDone(since: UInt64) -> UInt64 {
        let t = MonotonicClock.now()
        batches &+= 1
        worstGapNanoseconds = max(worstGapNanoseconds, t &- since)
        return t
    }

    /// Checks every ring (no syscall: the rings' status words) until the spin policy says the
    /// traffic has paused long enough, the spin does not pay (too little of it forwarding), the
    /// slice is over, or `interrupted()`.
    private mutating func spinAfterTraffic(interrupted: () -> Bool) {
        let start = MonotonicClock.now()
        var quietSince = start
        var windowStart = start
        var busy: UInt64 = 0
        while !interrupted() {
            let t = MonotonicClock.now()
            if forwarder.runOnceOverAll(now: Timestamp(milliseconds: t / 1_000_000)) > 0 {
                busy &+= batchDone(since: t) &- t
                quietSince = t
                spin.trafficWhileSpinning(at: t)
            } else if spin.spinIsOver(start: start, quietSince: quietSince, now: t) {
                return
            }
            if t &- start >= SpinPolicy.sliceNanoseconds { return }
            if t &- windowStart >= SpinPolicy.windowNanoseconds {
                guard spin.spinWindowEnded(busy: busy, elapsed: t &- windowStart) else { return }
                windowStart = t
                busy = 0
            }
        }
    }
}

/// What woke a forwarding thread: lists of port indices, valid until the next `wait`.
struct Readiness {
    /// Ports with frames to read.
    var ready = UnsafeBufferPointer<Int32>(start: nil, count: 0)
    /// Ports whose socket reported an error or hang-up (a vanished interface, a link down).
    var failed = UnsafeBufferPointer<Int32>(start: nil, count: 0)
    /// Someone wrote to the wake-up descriptor (the mailbox has commands).
    var woken = false
}

/// Tells a forwarding thread which ports have frames.
protocol ReadinessSource {
    /// Which ports to wait on: port index and the descriptor that becomes readable.
    mutating func watch(_ ports: [(index: Int, fileDescriptor: Int32)])
    /// Waits up to `timeoutMilliseconds` (0: just look) for frames, errors or a wake-up.
    mutating func wait(timeoutMilliseconds: Int32) -> Readiness
}

/// epoll(7) on the ports' sockets plus a wake-up descriptor (drained when it fires).
/// Level-triggered, as poll(2): a port with frames left in its ring is reported again. `watch`
/// changes only the ports whose descriptor changed, so attaching the 1,000th port costs two
/// epoll_ctl calls, not a thousand.
final class EpollReadiness: ReadinessSource {
    private let epollFD: Int32
    private let wakeFD: Int32
    /// The descriptor each port index is registered with (-1: none).
    private var registered: [Int32] = []
    private let events: UnsafeMutablePointer<epoll_event>
    private let eventCapacity: Int
    private let readyList: UnsafeMutablePointer<Int32>
    private let failedList: UnsafeMutablePointer<Int32>
    private var drain = [UInt8](repeating: 0, count: 64)
    private static let wakeToken = UInt64.max

    /// `wakeFD`: a non-blocking descriptor others write to (-1: none).
    init(wakeFD: Int32) {
        self.wakeFD = wakeFD
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollFD >= 0, "epoll_create1: errno \(errno)")
        eventCapacity = PortSet.capacity + 1
        events = .allocate(capacity: eventCapacity)
        readyList = .allocate(capacity: eventCapacity)
        failedList = .allocate(capacity: eventCapacity)
        registered = Array(repeating: -1, count: PortSet.capacity)
        if wakeFD >= 0 {
            var ev = epoll_event()
            ev.events = EPOLLIN.rawValue
            ev.data.u64 = Self.wakeToken
            _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &ev)
        }
    }

    deinit {
        Glibc.close(epollFD)
        events.deallocate()
        readyList.deallocate()
        failedList.deallocate()
    }

    func watch(_ ports: [(index: Int, fileDescriptor: Int32)]) {
        var wanted = Array(repeating: Int32(-1), count: PortSet.capacity)
        for p in ports where p.index >= 0 && p.index < PortSet.capacity { wanted[p.index] = p.fileDescriptor }
        for i in 0..<PortSet.capacity where wanted[i] != registered[i] {
            // A closed descriptor left the epoll set by itself; removing it again fails harmlessly.
            if registered[i] >= 0 { _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, registered[i], nil) }
            registered[i] = -1
            guard wanted[i] >= 0 else { continue }
            var ev = epoll_event()
            ev.events = EPOLLIN.rawValue
            ev.data.u64 = UInt64(i)
            if epoll_ctl(epollFD, EPOLL_CTL_ADD, wanted[i], &ev) == 0 { registered[i] = wanted[i] }
        }
    }

    func wait(timeoutMilliseconds: Int32) -> Readiness {
        var r = Readiness()
        let rc = epoll_wait(epollFD, events, Int32(eventCapacity), timeoutMilliseconds)
        if rc < 0 && errno != EINTR {
            usleep(10_000)  // do not spin on an unexpected error
        }
        guard rc > 0 else { return r }  // EINTR: look again on the next call
        var nReady = 0
        var nFailed = 0
        for k in 0..<Int(rc) {
            let ev = events[k].events
            let token = events[k].data.u64
            if token == Self.wakeToken {
                while read(wakeFD, &drain, drain.count) > 0 {}
                r.woken = true
                continue
            }
            let i = Int32(truncatingIfNeeded: token)
            if ev & EPOLLIN.rawValue != 0 {
                readyList[nReady] = i
                nReady += 1
            }
            if ev & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                failedList[nFailed] = i
                nFailed += 1
            }
        }
        r.ready = UnsafeBufferPointer(start: readyList, count: nReady)
        r.failed = UnsafeBufferPointer(start: failedList, count: nFailed)
        return r
    }
}
