// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NetlinkSocket: an rtnetlink socket (AF_NETLINK, NETLINK_ROUTE; netlink(7), rtnetlink(7),
// RFC 3549) and the request/reply discipline on it. A request carries a fresh sequence number;
// replies are the kernel's messages (sender port id 0) with that number: a plain request ends
// with its ACK (an NLMSG_ERROR of 0, asked for with NLM_F_ACK) or an NLMSG_ERROR carrying the
// errno; a dump (NLM_F_DUMP) comes in as many datagrams as it needs and ends with NLMSG_DONE.
// A dump the kernel flags NLM_F_DUMP_INTR (the table changed while it was walked) is retried.
// A socket subscribed to multicast groups (RTMGRP_LINK) receives events instead; when its
// receive queue overflows the kernel drops events and the next recv fails with ENOBUFS, which
// `receive()` reports as `.overrun` so the caller can dump the state again.
//
// The socket belongs to the network namespace of the thread that created it, for its whole
// life (open it inside `Lab.withNetworkNamespace` to watch a lab namespace). Datagrams are read
// whole: their size is peeked first (MSG_PEEK | MSG_TRUNC) and the buffer grows to fit, so a
// large dump part is never cut. A blocking socket waits at most `replyTimeout` for a reply.
// Kernel ≥ 2.6.14 for all of this; IFLA_TARGET_NETNSID queries need ≥ 4.20.

#if canImport(Glibc)
import Glibc
import CLinuxPacket
import SystemCalls

/// A netlink failure: a system call (or a request the kernel refused: `call` names the
/// request, e.g. "RTM_GETLINK", and errno is the kernel's answer), a malformed reply, or a
/// name that does not exist.
public enum NetlinkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A syscall failed, or the kernel answered a request with an error.
    case system(IOError)
    /// The kernel's bytes did not parse (never expected; reported rather than trusted).
    case malformed(NetlinkParseError)
    /// No interface of that name or index in the socket's namespace.
    case noSuchInterface(String)
    /// A dump was interrupted by changes (NLM_F_DUMP_INTR) on every retry.
    case dumpInterrupted(request: String)
    /// No reply within the socket's reply timeout.
    case timedOut(request: String)

    public var description: String {
        switch self {
        case .system(let e): return e.description
        case .malformed(let e): return e.description
        case .noSuchInterface(let name): return "no such interface '\(name)'"
        case .dumpInterrupted(let r): return "\(r) dump kept changing under the walk (NLM_F_DUMP_INTR); try again"
        case .timedOut(let r): return "\(r): no reply from the kernel"
        }
    }
}

/// An rtnetlink socket: requests and dumps on a blocking one, events on a subscribed one.
public final class NetlinkSocket {
    /// The descriptor (non-blocking when asked): for a poll set.
    public private(set) var fileDescriptor: Int32
    /// The port id the kernel bound this socket to (nl_pid).
    public let portID: UInt32
    private var sequence: UInt32
    /// The receive buffer; grows to the largest datagram seen.
    private var buffer: [UInt8]

    /// What one `receive()` got.
    public enum Received {
        /// A datagram from the kernel, split into messages.
        case messages([NetlinkMessage])
        /// Nothing queued (non-blocking), or no reply within the timeout (blocking).
        case nothing
        /// The receive queue overflowed and the kernel dropped messages (ENOBUFS).
        case overrun
    }

    /// Opens and binds a NETLINK_ROUTE socket in the calling thread's namespace.
    /// - Parameters:
    ///   - groups: multicast groups to join (`Netlink.groupLink` for link events), 0 for none.
    ///   - nonBlocking: O_NONBLOCK, for a poll set.
    ///   - receiveBufferSize: SO_RCVBUF (SO_RCVBUFFORCE when privileged); nil keeps the default.
    ///   - replyTimeout: how long a blocking socket waits for a reply (SO_RCVTIMEO).
    public init(groups: UInt32 = 0, nonBlocking: Bool = false, receiveBufferSize: Int? = nil,
                replyTimeout: Duration = .seconds(5)) throws(NetlinkError) {
        var type = Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd: Int32
        do {
            fd = try systemCall("socket(AF_NETLINK, NETLINK_ROUTE)") { socket(AF_NETLINK, type, NETLINK_ROUTE) }
        } catch { throw .system(error) }
        do {
            if let receiveBufferSize {
                var size = Int32(clamping: receiveBufferSize)
                // FORCE goes past net.core.rmem_max (needs CAP_NET_ADMIN); the plain option is capped.
                if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                    try systemCall("setsockopt(SO_RCVBUF)") {
                        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                    }
                }
            }
            if !nonBlocking {
                let (seconds, attoseconds) = replyTimeout.components
                var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
                try systemCall("setsockopt(SO_RCVTIMEO)") {
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                }
            }
            var address = sockaddr_nl()
            address.nl_family = sa_family_t(AF_NETLINK)
            address.nl_groups = groups
            _ = try withUnsafePointer(to: &address) { (p) throws(IOError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(IOError) in
                    try systemCall("bind(AF_NETLINK)") { bind(fd, sa, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
                }
            }
            var bound = sockaddr_nl()
            var length = socklen_t(MemoryLayout<sockaddr_nl>.size)
            _ = try withUnsafeMutablePointer(to: &bound) { (p) throws(IOError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(IOError) in
                    try systemCall("getsockname(AF_NETLINK)") { getsockname(fd, sa, &length) }
                }
            }
            portID = bound.nl_pid
        } catch {
            Glibc.close(fd)
            throw .system(error)
        }
        fileDescriptor = fd
        // Any start works (replies are matched on it and on our port id); a per-socket start
        // keeps two sockets' traces apart in `nlmon` captures.
        sequence = UInt32(truncatingIfNeeded: MonotonicClock.now() / 1000)
        buffer = [UInt8](repeating: 0, count: 32 * 1024)
    }

    deinit { close() }

    /// Closes the socket. Idempotent.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    /// Reads one datagram, whole. Messages not from the kernel (port id 0) are dropped: only
    /// the kernel speaks on rtnetlink, but a local process could unicast to our port id.
    public func receive() throws(NetlinkError) -> Received {
        precondition(fileDescriptor >= 0, "NetlinkSocket used after close")
        let fd = fileDescriptor
        while true {
            // MSG_TRUNC with MSG_PEEK returns the datagram's real length without consuming it.
            let peeked: (result: Int?, errno: Int32)
            do {
                peeked = try systemCallNonBlocking("recv(netlink, MSG_PEEK)", expected: { $0 == ENOBUFS }) {
                    recv(fd, &buffer, buffer.count, Int32(MSG_PEEK | MSG_TRUNC))
                }
            } catch { throw .system(error) }
            guard let size = peeked.result else { return peeked.errno == ENOBUFS ? .overrun : .nothing }
            if size > buffer.count {
                buffer = [UInt8](repeating: 0, count: (size + 4095) & ~4095)
            }
            var sender = sockaddr_nl()
            var senderLength = socklen_t(MemoryLayout<sockaddr_nl>.size)
            let received: (result: Int?, errno: Int32)
            do {
                received = try withUnsafeMutablePointer(to: &sender) { (p) throws(IOError) in
                    try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(IOError) in
                        try systemCallNonBlocking("recvfrom(netlink)", expected: { $0 == ENOBUFS }) {
                            recvfrom(fd, &buffer, buffer.count, 0, sa, &senderLength)
                        }
                    }
                }
            } catch { throw .system(error) }
            guard let count = received.result else { return received.errno == ENOBUFS ? .overrun : .nothing }
            guard sender.nl_pid == 0 else { continue }
            let parsed = buffer.withUnsafeBytes { raw in
                Result { () throws(NetlinkParseError) in
                    try NetlinkParser.messages(in: UnsafeRawBufferPointer(rebasing: raw[..<count]))
                }
            }
            switch parsed {
            case .success(let messages): return .messages(messages)
            case .failure(let error): throw .malformed(error)
            }
        }
    }

    /// Sends a request and returns its replies (without the ACK). `label` names the request in
    /// errors ("RTM_GETLINK"); `subject` what it was about (an interface name). `flags` are
    /// added to NLM_F_REQUEST | NLM_F_ACK (NLM_F_CREATE | NLM_F_EXCL for a new object).
    public func request(_ type: UInt16, label: String, subject: String = "", flags: UInt16 = 0,
                        _ fill: (inout NetlinkMessageBuilder) -> Void) throws(NetlinkError) -> [NetlinkMessage] {
        try exchange(type, dump: false, label: label, subject: subject, extraFlags: flags, fill)
    }

    /// Sends a dump request (NLM_F_DUMP) and returns every message of the dump. Retried up to
    /// 5 times when the kernel flags it interrupted (the table changed during the walk).
    public func dump(_ type: UInt16, label: String,
                     _ fill: (inout NetlinkMessageBuilder) -> Void) throws(NetlinkError) -> [NetlinkMessage] {
        for _ in 0..<5 {
            do {
                return try exchange(type, dump: true, label: label, subject: "", fill)
            } catch .dumpInterrupted {
                continue
            }
        }
        throw .dumpInterrupted(request: label)
    }

    private func exchange(_ type: UInt16, dump: Bool, label: String, subject: String, extraFlags: UInt16 = 0,
                          _ fill: (inout NetlinkMessageBuilder) -> Void) throws(NetlinkError) -> [NetlinkMessage] {
        sequence &+= 1
        let seq = sequence
        var builder = NetlinkMessageBuilder(
            type: type, flags: Netlink.flagRequest | (dump ? Netlink.flagDump : Netlink.flagAck) | extraFlags, sequence: seq)
        fill(&builder)
        try send(builder.finish(), label: label, subject: subject)
        var replies: [NetlinkMessage] = []
        var interrupted = false
        while true {
            let messages: [NetlinkMessage]
            switch try receive() {
            case .messages(let m): messages = m
            case .nothing: throw .timedOut(request: label)
            case .overrun: throw .system(IOError(call: label, subject: subject, errno: ENOBUFS))
            }
            // Stale replies (a request that timed out earlier) carry another sequence number.
            for message in messages where message.sequence == seq {
                if message.flags & Netlink.flagDumpInterrupted != 0 { interrupted = true }
                switch message.type {
                case Netlink.error:
                    let code: Int32
                    do { code = try message.errorCode() } catch { throw .malformed(error) }
                    if code == 0 { return replies }  // the ACK
                    throw .system(IOError(call: label, subject: subject, errno: -code))
                case Netlink.done:
                    // NLMSG_DONE may carry the dump's error (an int, negative errno).
                    if let code = try? message.errorCode(), code < 0 {
                        throw .system(IOError(call: label, subject: subject, errno: -code))
                    }
                    if interrupted { throw .dumpInterrupted(request: label) }
                    return replies
                case Netlink.noop:
                    continue
                default:
                    replies.append(message)
                }
            }
        }
    }

    private func send(_ message: [UInt8], label: String, subject: String) throws(NetlinkError) {
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let fd = fileDescriptor
        do throws(IOError) {
            let sent = try message.withUnsafeBytes { raw in
                Result { () throws(IOError) -> Int in
                    try withUnsafePointer(to: &kernel) { (p) throws(IOError) in
                        try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(IOError) in
                            try systemCall("sendto(\(label))", on: subject) {
                                sendto(fd, raw.baseAddress, raw.count, 0, sa, socklen_t(MemoryLayout<sockaddr_nl>.size))
                            }
                        }
                    }
                }
            }.get()
            // A datagram socket sends all or nothing; anything else is a kernel surprise.
            guard sent == message.count else { throw IOError(call: "sendto(\(label))", subject: subject, errno: EMSGSIZE) }
        } catch { throw .system(error) }
    }
}
#endif
