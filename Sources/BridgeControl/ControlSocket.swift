// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlSocket: what the control server and client share about the Unix socket itself: where
// it lives (`<run directory>/<bridge>.sock`), which bridge names are allowed (they become file
// names, so no `/` and no `..`), the errors users see, and thin wrappers over the Glibc calls
// both sides make (address building, EINTR retries, deadlines for poll).
//
// Glibc as imported by Swift lacks the GNU extensions (accept4, pipe2, SO_PEERCRED's struct):
// accepted sockets get FD_CLOEXEC with fcntl right after accept, and only file modes (directory
// 0700, socket 0600) keep non-root users out.

#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// Errors of the control socket, worded for the user of `swbridge`.
public enum ControlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name cannot be a bridge name (and so cannot be a socket file name).
    case invalidBridgeName(String)
    /// The socket path does not fit in `sockaddr_un.sun_path` (107 bytes).
    case socketPathTooLong(String)
    /// Another server answers on the socket.
    case alreadyRunning(bridge: String, socket: String)
    /// Something that is not a socket sits where the socket should be.
    case notASocket(String)
    /// No server answers: no socket file, or a stale one (`stale`).
    case notRunning(bridge: String, socket: String, stale: Bool)
    /// The socket or its directory is not accessible (it is root only).
    case permissionDenied(path: String)
    /// The bridge did not answer within the timeout.
    case timedOut(bridge: String, timeout: Duration)
    /// The bridge closed the connection without an answer.
    case connectionClosed(bridge: String)
    /// The answer was not a control response.
    case malformedResponse(bridge: String, reason: String)
    /// The answer exceeded the client's bound.
    case responseTooLarge(bridge: String, limit: Int)
    /// Any other failed system call.
    case system(IOError)

    public var description: String {
        switch self {
        case .invalidBridgeName(let n):
            return "invalid bridge name '\(n)': use 1-\(ControlSocket.maxNameLength) letters, digits, '.', '_' or '-', not starting with '.'"
        case .socketPathTooLong(let p): return "control socket path too long (at most \(ControlSocket.maxPathLength) bytes): \(p)"
        case .alreadyRunning(let b, let s): return "bridge '\(b)' is already running (socket \(s))"
        case .notASocket(let p): return "\(p) exists and is not a socket; remove it if no bridge uses it"
        case .notRunning(let b, let s, let stale):
            return stale
                ? "no bridge named '\(b)' is running (stale socket \(s))"
                : "no bridge named '\(b)' is running (no socket \(s))"
        case .permissionDenied(let p): return "permission denied on \(p): the control socket is for root only"
        case .timedOut(let b, let t): return "bridge '\(b)' did not answer within \(ControlSocket.describe(t))"
        case .connectionClosed(let b): return "bridge '\(b)' closed the connection without answering"
        case .malformedResponse(let b, let why): return "malformed response from bridge '\(b)': \(why)"
        case .responseTooLarge(let b, let limit): return "response from bridge '\(b)' exceeds \(limit) bytes"
        case .system(let e): return e.description
        }
    }
}

/// Shared plumbing of the control socket (internal).
enum ControlSocket {
    static let maxNameLength = 64
    /// `sun_path` holds 108 bytes including the terminating NUL.
    static let maxPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Throws unless `name` is a safe file name component.
    static func validate(bridge name: String) throws(ControlError) {
        let ok = !name.isEmpty && name.utf8.count <= maxNameLength && !name.hasPrefix(".")
            && name.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".")
                    || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            }
        guard ok else { throw .invalidBridgeName(name) }
    }

    /// `<runDirectory>/<name>.sock`.
    static func path(bridge name: String, runDirectory: String) -> String {
        var dir = runDirectory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        return (dir == "/" ? "" : dir) + "/" + name + ".sock"
    }

    static func address(_ path: String) throws(ControlError) -> sockaddr_un {
        let bytes = Array(path.utf8)
        guard bytes.count <= maxPathLength, !bytes.contains(0) else { throw .socketPathTooLong(path) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)  // the rest stays zero: NUL-terminated
        }
        return addr
    }

    /// Calls `body` with `addr` as a `sockaddr` pointer and its length.
    static func withSockaddr<R>(_ addr: sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var addr = addr
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A close-on-exec, non-blocking Unix stream socket.
    static func makeSocket(path: String) throws(ControlError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { throw .system(IOError(call: "socket", subject: path, errno: errno)) }
        return fd
    }

    /// Marks an accepted descriptor close-on-exec and non-blocking (accept4 is not imported).
    static func configureAccepted(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// `connect` on a non-blocking socket, retrying EINTR. Returns 0 or the errno. For Unix
    /// sockets EAGAIN means the listener's backlog is full: someone is listening.
    static func connect(_ fd: Int32, _ addr: sockaddr_un) -> Int32 {
        while true {
            let rc = withSockaddr(addr) { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return 0 }
            if errno != EINTR { return errno }
        }
    }

    /// Milliseconds until `deadline` for poll, rounded up; 0 once it has passed.
    static func pollTimeout(until deadline: ContinuousClock.Instant, now: ContinuousClock.Instant = .now) -> Int32 {
        guard deadline > now else { return 0 }
        let (s, atto) = (deadline - now).components
        let ms = s.multipliedReportingOverflow(by: 1000)
        // Headroom for the rounded-up millisecond added below.
        if ms.overflow || ms.partialValue > Int64(Int32.max) - 2000 { return Int32.max - 1000 }
        return Int32(ms.partialValue) + Int32((atto + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    /// `2 s`, `500 ms`.
    static func describe(_ d: Duration) -> String {
        let (s, atto) = d.components
        let ms = s * 1000 + atto / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    /// `poll` on one descriptor, retrying EINTR until `deadline`. Returns the revents, or 0 on timeout.
    static func wait(_ fd: Int32, for events: Int32, until deadline: ContinuousClock.Instant) -> Int16 {
        while true {
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&p, 1, pollTimeout(until: deadline))
            if n > 0 { return p.revents }
            if n == 0 {
                if ContinuousClock.now >= deadline { return 0 }
                continue  // woke early (rounding): wait the rest
            }
            if errno != EINTR { return Int16(POLLERR) }
        }
    }

    /// The (device, inode) of the file at `path`, or nil.
    static func identity(_ path: String) -> (dev: UInt64, ino: UInt64, mode: UInt32)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino), UInt32(st.st_mode))
    }
}
