// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// SystemCalls: the one way swbridge calls the kernel, after SwiftNIO's `System.swift`.
// errno is read right after the call (any later call, even a log line, may change it);
// EINTR is retried; EBADF and EFAULT are programming errors (a closed descriptor or a bad
// pointer is a bug in swbridge, not a runtime condition) and stop the process with the call's
// name; every other failure is an `IOError` naming the call, what it was done on, and errno.
// PacketIO, the control socket, the bridge service and the lab all throw this one type.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: which call, on what, and errno. The one syscall error type of swbridge.
public struct IOError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call, as the man page names it (`setsockopt(PACKET_RX_RING)`, `bind`).
    public let call: String
    /// What it was done on (an interface, a path), or empty.
    public let subject: String
    public let errno: Int32

    public init(call: String, subject: String = "", errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        let on = subject.isEmpty ? "" : " on '\(subject)'"
        return "\(call)\(on) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// What a failed call's errno means for the caller.
@usableFromInline
func checkErrno(_ err: Int32, call: @autoclosure () -> String) {
    // Not runtime conditions: a descriptor we closed, or memory we passed wrongly.
    precondition(err != EBADF && err != EFAULT, "\(call()) failed with \(err == EBADF ? "EBADF" : "EFAULT"): a swbridge bug")
}

/// Runs a system call that returns -1 and sets errno on failure: retries EINTR, stops on
/// EBADF/EFAULT, throws `IOError` otherwise. Returns the call's non-negative result.
@inlinable
@discardableResult
public func systemCall<T: FixedWidthInteger>(
    _ call: @autoclosure () -> String, on subject: @autoclosure () -> String = "", _ body: () -> T
) throws(IOError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let err = errno
        if err == EINTR { continue }
        checkErrno(err, call: call())
        throw IOError(call: call(), subject: subject(), errno: err)
    }
}

/// Like `systemCall`, but `EAGAIN`/`EWOULDBLOCK` (and the errors listed in `expected`) are
/// not failures: the result is nil and the errno is returned, for non-blocking sockets and
/// the hot path, where "nothing now" is normal.
@inlinable
public func systemCallNonBlocking<T: FixedWidthInteger>(
    _ call: @autoclosure () -> String, on subject: @autoclosure () -> String = "",
    expected: (Int32) -> Bool = { _ in false }, _ body: () -> T
) throws(IOError) -> (result: T?, errno: Int32) {
    while true {
        let r = body()
        if r != -1 { return (r, 0) }
        let err = errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK || expected(err) { return (nil, err) }
        checkErrno(err, call: call())
        throw IOError(call: call(), subject: subject(), errno: err)
    }
}

/// The errno a C function that returns an error number (pthread_*, posix_spawn) gave, as an
/// IOError if it is not 0.
@inlinable
public func checkReturnCode(_ call: @autoclosure () -> String, on subject: @autoclosure () -> String = "", _ code: Int32) throws(IOError) {
    guard code != 0 else { return }
    checkErrno(code, call: call())
    throw IOError(call: call(), subject: subject(), errno: code)
}
