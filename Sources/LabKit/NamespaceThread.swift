// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// NamespaceThread: runs a Swift closure inside a network namespace, on a dedicated thread
// that setns()-es into /run/netns/NAME and then exits. Sockets opened by the closure belong
// to that namespace for their whole life, so a test process in the root namespace can open an
// AFPacketPort on an interface that only exists in a lab namespace. The calling thread and
// the rest of the process never change namespace.

import Foundation

extension Lab {
    /// Runs `body` in network namespace `name` (one this lab created) and returns its result.
    public func withNetworkNamespace<T>(_ name: String, _ body: () throws -> T) throws -> T {
        guard createdNamespaces.contains(name) else { throw LabError.unknownNamespace(name) }
        return try Lab.withNetworkNamespace(named: name, body)
    }

    /// Runs `body` in any named namespace (/run/netns/NAME) on a dedicated thread.
    public static func withNetworkNamespace<T>(named name: String, _ body: () throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { body in
            let box = ResultBox<T>(body)
            let done = DispatchSemaphore(value: 0)
            let thread = Thread { [box] in
                box.run(namespace: name)
                done.signal()
            }
            thread.name = "netns \(name)"
            thread.start()
            done.wait()
            return try box.take()
        }
    }
}

/// Hands the closure to the namespace thread and its result back. The semaphore orders the
/// accesses (the caller waits for the thread), hence @unchecked.
private final class ResultBox<T>: @unchecked Sendable {
    /// Cleared as soon as it ran: the closure must not outlive `withoutActuallyEscaping`,
    /// even while the finished Thread object still holds this box.
    var body: (() throws -> T)?
    var result: Result<T, any Error>?

    init(_ body: @escaping () throws -> T) { self.body = body }

    func run(namespace: String) {
        let body = self.body!
        self.body = nil
        let fd = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            result = .failure(LabError.unknownNamespace(namespace))
            return
        }
        defer { close(fd) }
        guard setNetworkNamespace(fd) == 0 else {
            result = .failure(LabError.setnsFailed(namespace: namespace, errno: errno))
            return
        }
        result = Result { try body() }
    }

    func take() throws -> T { try result!.get() }
}

/// setns(2) is behind _GNU_SOURCE, which Swift's Glibc module does not define: look it up.
private func setNetworkNamespace(_ fd: Int32) -> Int32 {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET
    guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "setns") else {
        errno = ENOSYS
        return -1
    }
    return unsafeBitCast(sym, to: SetNS.self)(fd, cloneNewNet)
}
