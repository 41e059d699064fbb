// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PortSet: a set of bridge ports, up to the kernel bridge's 1,024 (BR_MAX_PORTS), as sixteen
// 64-bit words held inline (no allocation). It is the value the control path, tests and
// `Decision` use. The forwarding path never copies one per frame: the engine keeps its sets
// as word arrays and walks only the words a bridge's ports occupy (ForwardingEngine.swift).

/// A set of port indices 0..<1024.
public struct PortSet: Hashable, Sendable, Sequence, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The number of ports a bridge can have (the kernel bridge's BR_MAX_PORTS).
    public static let capacity = 1024
    /// 64-bit words in a set.
    public static let wordCount = capacity / 64

    public var words: InlineArray<16, UInt64>

    public static var empty: PortSet { PortSet() }
    /// Every port index the type can hold.
    public static var all: PortSet {
        var s = PortSet()
        for w in 0..<wordCount { s.words[w] = ~0 }
        return s
    }

    @inlinable public init() { words = InlineArray(repeating: 0) }
    @inlinable public init(port: Int) {
        self.init()
        insert(port)
    }
    public init(_ ports: some Sequence<Int>) {
        self.init()
        for p in ports { insert(p) }
    }
    public init(arrayLiteral ports: Int...) { self.init(ports) }

    @inlinable public func contains(_ port: Int) -> Bool {
        port >= 0 && port < Self.capacity && words[port >> 6] >> UInt64(port & 63) & 1 != 0
    }
    @inlinable public mutating func insert(_ port: Int) {
        precondition(port >= 0 && port < Self.capacity, "port index \(port) out of range")
        words[port >> 6] |= 1 << UInt64(port & 63)
    }
    @inlinable public mutating func remove(_ port: Int) {
        guard port >= 0 && port < Self.capacity else { return }
        words[port >> 6] &= ~(1 << UInt64(port & 63))
    }
    @inlinable public var isEmpty: Bool {
        for w in 0..<Self.wordCount where words[w] != 0 { return false }
        return true
    }
    @inlinable public var count: Int {
        var n = 0
        for w in 0..<Self.wordCount { n += words[w].nonzeroBitCount }
        return n
    }
    /// The lowest port in the set, or nil.
    @inlinable public var first: Int? {
        for w in 0..<Self.wordCount where words[w] != 0 { return w * 64 + words[w].trailingZeroBitCount }
        return nil
    }
    @inlinable public static func & (a: PortSet, b: PortSet) -> PortSet {
        var r = PortSet()
        for w in 0..<wordCount { r.words[w] = a.words[w] & b.words[w] }
        return r
    }
    @inlinable public static func | (a: PortSet, b: PortSet) -> PortSet {
        var r = PortSet()
        for w in 0..<wordCount { r.words[w] = a.words[w] | b.words[w] }
        return r
    }
    @inlinable public static prefix func ~ (a: PortSet) -> PortSet {
        var r = PortSet()
        for w in 0..<wordCount { r.words[w] = ~a.words[w] }
        return r
    }

    public static func == (a: PortSet, b: PortSet) -> Bool {
        for w in 0..<wordCount where a.words[w] != b.words[w] { return false }
        return true
    }
    public func hash(into hasher: inout Hasher) {
        for w in 0..<Self.wordCount { hasher.combine(words[w]) }
    }

    /// Iterates the ports in ascending order (no allocation).
    public struct Iterator: IteratorProtocol {
        @usableFromInline var set: PortSet
        @usableFromInline var word = 0
        @inlinable init(_ set: PortSet) { self.set = set }
        @inlinable public mutating func next() -> Int? {
            while word < PortSet.wordCount {
                let bits = set.words[word]
                if bits != 0 {
                    set.words[word] = bits & (bits &- 1)
                    return word * 64 + bits.trailingZeroBitCount
                }
                word += 1
            }
            return nil
        }
    }
    @inlinable public func makeIterator() -> Iterator { Iterator(self) }

    public var description: String { "{" + map(String.init).joined(separator: ",") + "}" }
}
