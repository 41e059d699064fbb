// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlFrameQueue: how control frames (BPDUs, IGMP/MLD) leave a forwarding thread for the
// control plane (spanning tree, multicast snooping), which must not run on it. One producer (the
// forwarding thread's ForwardingPass), one consumer (the control-plane thread): a ring of
// fixed slots allocated at init, so a flood of reports costs at most the ring's memory and is
// counted (`puntDropped`) when it outruns the consumer. Copying a frame is a memcpy and a few
// atomic operations; nothing allocates or locks. The consumer is woken (the `wake` closure the
// bridge supplies: an eventfd write) only by the first frame after it last looked, so a burst
// costs one wake-up.

import Synchronization

/// Why a frame was handed to the control plane.
public enum PuntKind: UInt8, Sendable {
    case none
    /// A BPDU (destination 01:80:c2:00:00:00) for the spanning tree.
    case spanningTree
    /// An IGMP or MLD message (or PIM hello) for the multicast snooper.
    case multicast
}

/// A single-producer, single-consumer ring of copied control frames.
public final class ControlFrameQueue: @unchecked Sendable {
    /// Bytes a slot holds: a standard-MTU frame with two tags. Longer frames are refused.
    public static let slotSize = 1_536
    public let capacity: Int
    @usableFromInline let storage: UnsafeMutableRawPointer
    @usableFromInline let lengths: UnsafeMutablePointer<Int>
    @usableFromInline let ports: UnsafeMutablePointer<Int>
    @usableFromInline let vlans: UnsafeMutablePointer<UInt16>
    @usableFromInline let kinds: UnsafeMutablePointer<PuntKind>
    /// Next slot the producer writes / the consumer reads (both only grow).
    @usableFromInline let head = Atomic<Int>(0)
    @usableFromInline let tail = Atomic<Int>(0)
    /// True once the consumer has been woken and has not yet looked again.
    @usableFromInline let woken = Atomic<Bool>(false)
    @usableFromInline let wake: @Sendable () -> Void

    /// `capacity`: slots (at least 1). `wake`: tells the consumer there is something to drain
    /// (called on the producer's thread).
    public init(capacity: Int = 128, wake: @escaping @Sendable () -> Void = {}) {
        self.capacity = max(capacity, 1)
        self.wake = wake
        storage = .allocate(byteCount: self.capacity * Self.slotSize, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: self.capacity * Self.slotSize)
        lengths = .allocate(capacity: self.capacity)
        lengths.initialize(repeating: 0, count: self.capacity)
        ports = .allocate(capacity: self.capacity)
        ports.initialize(repeating: 0, count: self.capacity)
        vlans = .allocate(capacity: self.capacity)
        vlans.initialize(repeating: 0, count: self.capacity)
        kinds = .allocate(capacity: self.capacity)
        kinds.initialize(repeating: .none, count: self.capacity)
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        ports.deallocate()
        vlans.deallocate()
        kinds.deallocate()
    }

    /// Copies a frame in (producer only). False when the ring is full or the frame too long.
    @inlinable
    public func offer(_ bytes: UnsafeRawBufferPointer, port: Int, vlan: UInt16, kind: PuntKind) -> Bool {
        let h = head.load(ordering: .relaxed)
        guard h &- tail.load(ordering: .acquiring) < capacity, bytes.count <= Self.slotSize,
            let src = bytes.baseAddress
        else { return false }
        let slot = h % capacity
        (storage + slot * Self.slotSize).copyMemory(from: src, byteCount: bytes.count)
        lengths[slot] = bytes.count
        ports[slot] = port
        vlans[slot] = vlan
        kinds[slot] = kind
        head.store(h &+ 1, ordering: .sequentiallyConsistent)
        if !woken.exchange(true, ordering: .sequentiallyConsistent) { wake() }
        return true
    }

    /// Hands every queued frame to `body` in order (consumer only); returns how many. The
    /// bytes are valid only during the call.
    @discardableResult
    public func drain(_ body: (UnsafeRawBufferPointer, _ port: Int, _ vlan: UInt16, _ kind: PuntKind) -> Void) -> Int {
        // Re-arm the wake-up before looking: a frame queued after this store wakes us again.
        woken.store(false, ordering: .sequentiallyConsistent)
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .sequentiallyConsistent)
        var n = 0
        while t &+ n != h {
            let slot = (t &+ n) % capacity
            body(UnsafeRawBufferPointer(start: storage + slot * Self.slotSize, count: lengths[slot]), ports[slot], vlans[slot], kinds[slot])
            n += 1
            // Free each slot as soon as it is read, so a long drain does not starve the producer.
            tail.store(t &+ n, ordering: .releasing)
        }
        return n
    }

    /// Frames waiting.
    public var count: Int { head.load(ordering: .acquiring) &- tail.load(ordering: .acquiring) }
}
