// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ChildProcess: starting programs without Foundation's Process. On Linux with Swift 6.3.1,
// `Process.run()` crashes intermittently (a 256-byte over-read of a `dirent` while it scans
// /proc/self/fd: swift-corelibs-foundation PR #5472, fixed after 6.3.1), about once per test
// run here, since the lab and the benchmark start hundreds of processes. This uses posix_spawn
// directly. The child starts with an empty signal mask and default signal dispositions, as
// from a shell, whatever the spawning thread blocks (a dispatch worker blocks SIGTERM).
//
// Why not swiftlang/swift-subprocess (1.0.2, in the package mirror), the maintained answer?
// Tried here on Swift 6.3.1 (November 2026): it builds, and 8 tasks spawning `echo` at once,
// 4,000 spawns, gave 0 failures (output checked); it also resets the child's signal mask. It does
// not fit these callers, though:
// - Its API is async and scoped: a child lives inside one `run { execution in ... }` call.
//   Lab.run, the benchmark and the tests are synchronous code on plain threads and
//   namespace threads, and they keep children (a swbridge under test, OVS daemons) across
//   calls. Bridging means blocking a thread on a semaphore until a task finishes; a test
//   that does so on the cooperative pool (2 threads on this 2-vCPU machine) can starve the
//   very task it waits for.
// - It always gives the child an empty signal mask; a test here starts swbridge with SIGTERM
//   blocked on purpose (`blockedSignals`) to prove the bridge unblocks it.
// - It adds swift-system and its own C shims to every CI build (~40 s of debug build here)
//   to replace ~150 lines that have no directory scan to over-read.
// Revisit when the callers become async, or if Foundation's Process on a fixed toolchain is
// wanted instead (corelibs-foundation PR #5472).

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A spawned program: wait for it, signal it, read how it ended.
public final class ChildProcess: @unchecked Sendable {
    /// Held while descriptors meant for one child exist without close-on-exec (pipe() then
    /// fcntl) and while spawning, so no other child inherits them (a reader would then wait for
    /// EOF until that other child exits).
    public static let spawnLock = NSRecursiveLock()

    /// Makes a pipe whose ends are close-on-exec; call it with `spawnLock` held.
    public static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    public let processIdentifier: Int32
    private let lock = NSLock()
    private var status: Int32? = nil

    /// Starts `arguments` (`arguments[0]` looked up in PATH) with stdin from /dev/null and stdout
    /// and stderr to the given descriptors (nil: /dev/null). `blockedSignals`: the child's
    /// signal mask (empty, as from a shell, unless a test wants otherwise).
    public init(_ arguments: [String], standardOutput: Int32? = nil, standardError: Int32? = nil,
                blockedSignals: [Int32] = []) throws {
        precondition(!arguments.isEmpty, "nothing to run")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let fd = standardOutput {
            posix_spawn_file_actions_adddup2(&actions, fd, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if let fd = standardError {
            posix_spawn_file_actions_adddup2(&actions, fd, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in blockedSignals { sigaddset(&mask, sig) }
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        Self.spawnLock.lock()
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        Self.spawnLock.unlock()
        guard rc == 0 else {
            throw LabError.commandFailed(command: arguments.joined(separator: " "), status: -1,
                                         output: "cannot start: \(String(cString: strerror(rc)))")
        }
        processIdentifier = pid
    }

    /// Reaps the child if it has exited (never blocks).
    private func poll() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var s: Int32 = 0
        let r = waitpid(processIdentifier, &s, WNOHANG)
        if r == processIdentifier {
            status = s
        } else if r < 0 && errno == ECHILD {
            status = 0  // reaped elsewhere: treat as gone
        }
        return status
    }

    public var isRunning: Bool { poll() == nil }

    /// The exit status (128 + signal for a killed child, as a shell reports it); -1 while running.
    public var terminationStatus: Int32 {
        guard let s = poll() else { return -1 }
        if s & 0x7F == 0 { return (s >> 8) & 0xFF }  // WIFEXITED / WEXITSTATUS
        return 128 + (s & 0x7F)
    }

    /// True when the child ended by a signal rather than an exit.
    public var wasSignalled: Bool {
        guard let s = poll() else { return false }
        return s & 0x7F != 0 && s & 0x7F != 0x7F
    }

    /// Sends SIGTERM (only to this child, by its PID, and only while it runs).
    public func terminate() { signal(SIGTERM) }

    /// Sends `sig` while the child runs.
    public func signal(_ sig: Int32) {
        if isRunning { kill(processIdentifier, sig) }
    }

    /// Waits until the child exits or `timeout` passes; returns whether it exited.
    @discardableResult
    public func wait(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            usleep(2_000)
        }
        return true
    }
}
