// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// A plain pthread mutex for the MAC table's writers. Readers never take it. pthread (rather
// than a futex-based Mutex) so ThreadSanitizer sees the happens-before edges it creates.
// It counts its acquisitions, so tests and benchmarks can prove a path takes no lock.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

@usableFromInline
final class WriterLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// How many times the lock was taken (relaxed: a diagnostic, not a synchronisation).
    let acquisitions = Atomic<UInt64>(0)

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    @usableFromInline
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        acquisitions.wrappingAdd(1, ordering: .relaxed)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
