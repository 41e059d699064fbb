// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PortMask: a set of up to 64 bridge ports as one word, so a flood set is computed with a few
// ANDs per frame and carried in a verdict without allocation.

/// A set of port indices 0..<64.
public struct PortMask: Hashable, Sendable, Sequence, CustomStringConvertible {
    public var rawValue: UInt64

    /// The number of ports a bridge can have.
    public static let capacity = 64
    public static let empty = PortMask(rawValue: 0)
    public static let all = PortMask(rawValue: ~0)

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(port: Int) { self.rawValue = 1 << UInt64(port) }
    public init(_ ports: some Sequence<Int>) {
        var v: UInt64 = 0
        for p in ports { v |= 1 << UInt64(p) }
        self.rawValue = v
    }

    @inlinable public func contains(_ port: Int) -> Bool { rawValue >> UInt64(port) & 1 != 0 }
    @inlinable public mutating func insert(_ port: Int) { rawValue |= 1 << UInt64(port) }
    @inlinable public mutating func remove(_ port: Int) { rawValue &= ~(1 << UInt64(port)) }
    @inlinable public var isEmpty: Bool { rawValue == 0 }
    @inlinable public var count: Int { rawValue.nonzeroBitCount }
    @inlinable public static func & (a: PortMask, b: PortMask) -> PortMask { PortMask(rawValue: a.rawValue & b.rawValue) }
    @inlinable public static func | (a: PortMask, b: PortMask) -> PortMask { PortMask(rawValue: a.rawValue | b.rawValue) }
    @inlinable public static prefix func ~ (a: PortMask) -> PortMask { PortMask(rawValue: ~a.rawValue) }

    /// Iterates the ports in ascending order (no allocation).
    public struct Iterator: IteratorProtocol {
        @usableFromInline var bits: UInt64
        @inlinable init(bits: UInt64) { self.bits = bits }
        @inlinable public mutating func next() -> Int? {
            guard bits != 0 else { return nil }
            let p = bits.trailingZeroBitCount
            bits &= bits &- 1
            return p
        }
    }
    @inlinable public func makeIterator() -> Iterator { Iterator(bits: rawValue) }

    public var description: String { "{" + map(String.init).joined(separator: ",") + "}" }
}
