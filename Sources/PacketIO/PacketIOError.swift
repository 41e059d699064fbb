// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PacketIOError: every way opening or configuring a kernel port can fail, as a thrown value
// with a message an operator can act on. A failed system call is SystemCalls' `IOError` (the
// one syscall error type of swbridge: the call, the interface, errno), wrapped; the other two
// cases are not syscalls. The data path never throws: it counts drops instead.

#if canImport(Glibc)
import Glibc
import SystemCalls

/// A failure to open, configure or query a kernel port or interface.
public enum PacketIOError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No interface of that name (or index) in the calling thread's network namespace.
    case noSuchInterface(String)
    /// A system call failed: which call, on which interface, and errno.
    case system(IOError)
    /// A configuration value the port cannot work with.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .noSuchInterface(let name): return "no such interface '\(name)'"
        case .system(let e): return e.description
        case .invalidConfiguration(let text): return "invalid configuration: \(text)"
        }
    }

    /// The errno of a failed system call, nil for the other cases.
    public var errno: Int32? {
        if case .system(let e) = self { return e.errno }
        return nil
    }
}

/// `systemCall` (errno read at once, EINTR retried, EBADF/EFAULT a bug) for PacketIO's setup
/// calls, throwing `PacketIOError.system`. Not for the per-frame path (see Transmit.swift and
/// LargeFrameQueue.swift, which apply the same rules inline).
@inline(__always)
@discardableResult
func packetSystemCall<T: FixedWidthInteger>(
    _ call: @autoclosure () -> String, on subject: String, _ body: () -> T
) throws(PacketIOError) -> T {
    do {
        return try systemCall(call(), on: subject, body)
    } catch {
        throw .system(error)
    }
}
#endif
