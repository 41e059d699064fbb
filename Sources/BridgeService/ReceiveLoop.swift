// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ReceiveLoop: what a forwarding thread does once it knows which ports have frames — the one
// loop the bridge's workers and the tests run. It is separate from *how* the thread learns
// that (ReadinessSource: poll(2) on the ports' sockets and a wake-up pipe in the bridge; the
// same in tests), so the forwarding, draining and spinning rules exist once.
//
// Rules: drain the ready ports in ForwardingPass passes until a pass finds nothing, at most 64
// passes (so the mailbox and other ports get their turn); then, if the traffic is continuous
// (SpinPolicy), keep reading every ring without sleeping until it pauses, the spin slice ends,
// or the caller has work (`interrupted`).

import BridgeCore
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
    mutating func serve(ready: PortMask, interrupted: () -> Bool) -> Int {
        let ready = busyPoll ? forwarder.attached : ready & forwarder.attached
        guard !ready.isEmpty else { return 0 }
        var last = MonotonicClock.now()
        let now = Timestamp(milliseconds: last / 1_000_000)
        var got = 0
        for _ in 0..<64 {
            let n = forwarder.runOnce(ready: ready, now: now)
            if n == 0 { break }
            got += n
            last = batchDone(since: last)
        }
        if got > 0 && !busyPoll && spin.trafficAfterWakeUp(at: MonotonicClock.now()) {
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
    /// traffic has paused long enough, the slice is over, or `interrupted()`.
    private mutating func spinAfterTraffic(interrupted: () -> Bool) {
        let start = MonotonicClock.now()
        var quietSince = start
        let all = forwarder.attached
        while !interrupted() {
            let t = MonotonicClock.now()
            if forwarder.runOnce(ready: all, now: Timestamp(milliseconds: t / 1_000_000)) > 0 {
                _ = batchDone(since: t)
                quietSince = t
                spin.trafficWhileSpinning(at: t)
            } else if spin.spinIsOver(start: start, quietSince: quietSince, now: t) {
                return
            }
            if t &- start >= SpinPolicy.sliceNanoseconds { return }
        }
    }
}

/// What woke a forwarding thread.
struct Readiness {
    /// Ports with frames to read.
    var ready = PortMask.empty
    /// Ports whose socket reported an error or hang-up (a vanished interface, a link down).
    var failed = PortMask.empty
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

/// poll(2) on the ports' sockets plus a wake-up descriptor (drained when it fires).
struct PollReadiness: ReadinessSource {
    private var pfds: [pollfd] = []
    private var index: [Int] = []
    private let wakeFD: Int32
    private var drain = [UInt8](repeating: 0, count: 64)

    /// `wakeFD`: a non-blocking descriptor others write to (-1: none).
    init(wakeFD: Int32) {
        self.wakeFD = wakeFD
        watch([])
    }

    mutating func watch(_ ports: [(index: Int, fileDescriptor: Int32)]) {
        pfds.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        if wakeFD >= 0 {
            pfds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            index.append(-1)
        }
        for p in ports {
            pfds.append(pollfd(fd: p.fileDescriptor, events: Int16(POLLIN), revents: 0))
            index.append(p.index)
        }
    }

    mutating func wait(timeoutMilliseconds: Int32) -> Readiness {
        var r = Readiness()
        let rc = pfds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMilliseconds) }
        if rc < 0 && errno != EINTR {
            // EINVAL (more descriptors than RLIMIT_NOFILE) or ENOMEM: do not spin on it.
            usleep(10_000)
        }
        guard rc > 0 else { return r }  // EINTR: look again on the next call
        for k in pfds.indices where pfds[k].revents != 0 {
            let ev = Int32(pfds[k].revents)
            let i = index[k]
            if i < 0 {
                while read(wakeFD, &drain, drain.count) > 0 {}
                r.woken = true
                continue
            }
            if ev & Int32(POLLIN) != 0 { r.ready.insert(i) }
            if ev & (Int32(POLLERR) | Int32(POLLHUP) | Int32(POLLNVAL)) != 0 { r.failed.insert(i) }
        }
        return r
    }
}
