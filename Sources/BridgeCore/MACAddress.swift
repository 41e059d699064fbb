// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MACAddress: a 48-bit IEEE 802 address held in the low bits of a UInt64, most significant
// byte first (so `aa:bb:...` is 0xaabb_...). An integer compares, hashes and packs into the
// MAC table's slot words without touching memory.

/// A 48-bit Ethernet (IEEE 802) MAC address.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address in the low 48 bits, first octet most significant.
    public let rawValue: UInt64

    /// `ff:ff:ff:ff:ff:ff`.
    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    /// `00:00:00:00:00:00`.
    public static let zero = MACAddress(rawValue: 0)

    /// Creates an address from the low 48 bits of `rawValue`; higher bits are ignored.
    @inlinable
    public init(rawValue: UInt64) {
        self.rawValue = rawValue & 0xFFFF_FFFF_FFFF
    }

    /// Creates an address from six octets.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        var v = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24
        v |= UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
        self.rawValue = v
    }

    /// Reads six octets at `offset` of `bytes`. The caller guarantees `offset + 6 <= bytes.count`.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer, offset: Int) {
        let hi = UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        let lo = UInt64(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self)))
        self.rawValue = hi << 32 | lo
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (also `-` as separator; hex digits in either case).
    public init(parsing text: some StringProtocol) throws(MACAddressParseError) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 17 else { throw MACAddressParseError(input: String(text)) }
        let separator = utf8[2]
        guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else {
            throw MACAddressParseError(input: String(text))
        }
        var value: UInt64 = 0
        for octet in 0..<6 {
            let base = octet * 3
            if octet < 5 && utf8[base + 2] != separator { throw MACAddressParseError(input: String(text)) }
            guard let hi = Self.hexValue(utf8[base]), let lo = Self.hexValue(utf8[base + 1]) else {
                throw MACAddressParseError(input: String(text))
            }
            value = value << 8 | UInt64(hi << 4 | lo)
        }
        self.rawValue = value
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The six octets, first on the wire first.
    public var octets: [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * $0)) }
    }

    /// Writes the six octets at `offset` of `bytes`.
    public func write(to bytes: UnsafeMutableRawBufferPointer, offset: Int) {
        for i in 0..<6 { bytes[offset + i] = UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * i)) }
    }

    /// Lower-case, colon separated, as `ip link` and `bridge fdb` print it.
    public var description: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(17)
        for i in 0..<6 {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            let b = UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * i))
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `ff:ff:ff:ff:ff:ff`.
    @inlinable public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
    /// The I/G bit (least significant bit of the first octet) is set: multicast, broadcast included.
    @inlinable public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
    /// The U/L bit (second bit of the first octet) is set.
    @inlinable public var isLocallyAdministered: Bool { rawValue & 0x0200_0000_0000 != 0 }
    /// `00:00:00:00:00:00`.
    @inlinable public var isZero: Bool { rawValue == 0 }
    /// One of the IEEE 802.1D reserved link-local group addresses `01:80:c2:00:00:00`–`0f`
    /// (STP, pause, LACP, 802.1X, LLDP ...), which a bridge does not forward by default.
    @inlinable public var isLinkLocalGroup: Bool { rawValue & ~0xF == 0x0180_C200_0000 }
    /// An address a station may use as source: not multicast (broadcast included), not zero.
    @inlinable public var isValidSource: Bool { !isMulticast && !isZero }

    @inlinable
    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Text that is not a MAC address.
public struct MACAddressParseError: Error, Equatable, CustomStringConvertible {
    /// The text that failed to parse.
    public let input: String
    public var description: String {
        "invalid MAC address '\(input)': expected six hex octets like aa:bb:cc:dd:ee:ff"
    }
}
