// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// BPDU codec: the three BPDU formats of IEEE 802.1D-2004 clause 9 (the kernel's br_stp_bpdu.c
// does the same job for 802.1D-1998), read from and written to the bytes of an LLC frame.
//
//   Ethernet header: dst 01:80:c2:00:00:00, src = the port's MAC, 802.3 length (≤ 1500)
//   LLC:             DSAP 0x42, SSAP 0x42, control 0x03 (UI)
//   BPDU:            protocol id (2, zero), version (1), type (1), then by type:
//     0x00 Configuration (35 octets): flags, root id (8), root path cost (4), bridge id (8),
//          port id (2), message age, max age, hello time, forward delay (2 each, 1/256 s)
//     0x80 Topology Change Notification (4 octets): nothing more
//     0x02 RST (36 octets, version ≥ 2): the Configuration fields + Version 1 Length (1)
//
// Validation is clause 9.3.4's, exactly: protocol id 0; a Configuration BPDU needs 35 octets
// and Message Age < Max Age; a TCN needs 4; an RST BPDU needs version ≥ 2 and 36 octets.
// Everything else in the octets is accepted as is (a Configuration BPDU's version field, the
// Version 1 Length, trailing padding, MSTP's extra octets: an MST BPDU reads as an RST BPDU,
// as 802.1Q 14.4 intends). What fails is a typed `BPDUParseError`, never a trap. The loop-back
// test of 9.3.4 a) (our own bridge and port id) needs the port, so `SpanningTreeBridge` does it.
//
// Times stay in the wire's 1/256 s units here; the state machines work in whole seconds.

#if !SWBRIDGE_FUZZ_SINGLE_MODULE
import BridgeCore
#endif

/// A bridge identifier (802.1D 9.2.5): 4-bit priority, 12-bit system ID extension (zero here),
/// 48-bit MAC address. Numerically smaller is better.
public struct BridgeIdentifier: Hashable, Comparable, Sendable, TextCodedIdentifier {
    /// The identifier as the 8 octets on the wire, first octet most significant.
    public var rawValue: UInt64

    /// Wraps eight octets read from a BPDU.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `priority` is the 16-bit priority field (a multiple of 4096 plus the system ID extension).
    public init(priority: UInt16, address: MACAddress) {
        self.rawValue = UInt64(priority) << 48 | address.rawValue
    }

    /// The 16-bit priority field (priority and system ID extension).
    public var priority: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 48) }
    /// The bridge address.
    public var address: MACAddress { MACAddress(rawValue: rawValue) }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// mstpctl's form: priority nibble, system ID extension, address (`8.000.02:00:00:00:00:01`).
    public var description: String {
        let p = priority
        let ext = String(p & 0x0FFF, radix: 16)
        return "\(String(p >> 12, radix: 16)).\(String(repeating: "0", count: 3 - ext.count))\(ext).\(address)"
    }

    /// Reads `description`'s form back; nil if it is not one.
    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 1, parts[1].count == 3, let p = UInt16(parts[0], radix: 16),
            let ext = UInt16(parts[1], radix: 16), let mac = try? MACAddress(parsing: String(parts[2]))
        else { return nil }
        self.init(priority: p << 12 | ext, address: mac)
    }

    public static let textExample = "a bridge id like 8.000.02:00:00:00:00:01"
}

/// A port identifier (802.1D 9.2.7): 4-bit priority, 12-bit port number.
public struct PortIdentifier: Hashable, Comparable, Sendable, TextCodedIdentifier {
    /// The two octets on the wire.
    public var rawValue: UInt16

    /// Wraps two octets read from a BPDU.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `priority` is the 8-bit port priority (a multiple of 16); `number` is 1...4095.
    public init(priority: UInt8, number: UInt16) {
        self.rawValue = UInt16(priority & 0xF0) << 8 | (number & 0x0FFF)
    }

    /// The port priority (a multiple of 16).
    public var priority: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) & 0xF0 }
    /// The port number.
    public var number: UInt16 { rawValue & 0x0FFF }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// mstpctl's form: priority nibble and port number in hex (`8.001`).
    public var description: String {
        let n = String(number, radix: 16)
        return "\(String(priority >> 4, radix: 16)).\(String(repeating: "0", count: 3 - n.count))\(n)"
    }

    /// Reads `description`'s form back; nil if it is not one.
    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 1, parts[1].count == 3, let p = UInt8(parts[0], radix: 16),
            let n = UInt16(parts[1], radix: 16)
        else { return nil }
        self.init(priority: p << 4, number: n)
    }

    public static let textExample = "a port id like 8.001"
}

/// Identifiers that travel in JSON (`stp show --json`) as their `description` reads: what a
/// user compares with mstpctl's output.
public protocol TextCodedIdentifier: Codable, CustomStringConvertible {
    /// Reads `description`'s form back; nil if it is not one.
    init?(parsing text: String)
    /// What the form looks like, for the error when it is not one.
    static var textExample: String { get }
}

extension TextCodedIdentifier {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let id = Self(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not \(Self.textExample): '\(text)'")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A spanning tree priority vector (802.1D 17.5, 17.6) without its last component (the
/// receiving port), which only the root selection needs.
public struct PriorityVector: Hashable, Sendable, Codable {
    /// Root bridge identifier.
    public var rootBridge: BridgeIdentifier
    /// Root path cost.
    public var rootPathCost: UInt32
    /// Designated bridge identifier (the transmitting bridge).
    public var designatedBridge: BridgeIdentifier
    /// Designated port identifier (the transmitting port).
    public var designatedPort: PortIdentifier

    /// Creates a vector from its four components.
    public init(rootBridge: BridgeIdentifier, rootPathCost: UInt32, designatedBridge: BridgeIdentifier, designatedPort: PortIdentifier) {
        self.rootBridge = rootBridge
        self.rootPathCost = rootPathCost
        self.designatedBridge = designatedBridge
        self.designatedPort = designatedPort
    }

    /// All zero: what a TCN BPDU carries (nothing).
    public static let zero = PriorityVector(
        rootBridge: BridgeIdentifier(rawValue: 0), rootPathCost: 0,
        designatedBridge: BridgeIdentifier(rawValue: 0), designatedPort: PortIdentifier(rawValue: 0))

    /// Strictly better (17.6: numerically lower, component by component).
    public func isBetter(than other: Self) -> Bool {
        if rootBridge != other.rootBridge { return rootBridge < other.rootBridge }
        if rootPathCost != other.rootPathCost { return rootPathCost < other.rootPathCost }
        if designatedBridge != other.designatedBridge { return designatedBridge < other.designatedBridge }
        return designatedPort < other.designatedPort
    }

    /// 17.6's replacement rule: a message priority vector supersedes the port priority vector
    /// if it is better, or if it comes from the same designated bridge address and port
    /// number (that bridge may have worsened its own information). Equal vectors are
    /// superior too; `SpanningTreeBridge` tells them apart where it matters.
    public func isSuperior(to port: Self) -> Bool {
        isBetter(than: port) || self == port
            || (designatedBridge.address == port.designatedBridge.address
                && designatedPort.number == port.designatedPort.number)
    }
}

/// The four timer values of a BPDU in the wire's units of 1/256 s.
public struct BPDUTimes: Hashable, Sendable, Codable {
    /// Message Age, 1/256 s.
    public var messageAge: UInt16
    /// Max Age, 1/256 s.
    public var maxAge: UInt16
    /// Hello Time, 1/256 s.
    public var helloTime: UInt16
    /// Forward Delay, 1/256 s.
    public var forwardDelay: UInt16

    /// Creates times in 1/256 s units.
    public init(messageAge: UInt16, maxAge: UInt16, helloTime: UInt16, forwardDelay: UInt16) {
        self.messageAge = messageAge
        self.maxAge = maxAge
        self.helloTime = helloTime
        self.forwardDelay = forwardDelay
    }

    /// Creates times from whole seconds (values above 255 s saturate).
    public init(seconds t: TimerValues) {
        func wire(_ s: UInt16) -> UInt16 { s > 255 ? 0xFFFF : s << 8 }
        self.init(messageAge: wire(t.messageAge), maxAge: wire(t.maxAge), helloTime: wire(t.helloTime), forwardDelay: wire(t.forwardDelay))
    }

    /// Rounded to whole seconds, as the state machines hold them (17.19.22, 17.21.23).
    public var seconds: TimerValues {
        func s(_ v: UInt16) -> UInt16 { UInt16((UInt32(v) + 128) >> 8) }
        return TimerValues(messageAge: s(messageAge), maxAge: s(maxAge), helloTime: s(helloTime), forwardDelay: s(forwardDelay))
    }

    /// All zero (a TCN BPDU carries no times).
    public static let zero = BPDUTimes(messageAge: 0, maxAge: 0, helloTime: 0, forwardDelay: 0)
}

/// Timer values in whole seconds (802.1D 17.19.22 portTimes and friends).
public struct TimerValues: Hashable, Sendable, Codable {
    /// Message Age, s.
    public var messageAge: UInt16
    /// Max Age, s.
    public var maxAge: UInt16
    /// Hello Time, s.
    public var helloTime: UInt16
    /// Forward Delay, s.
    public var forwardDelay: UInt16

    /// Creates times in seconds.
    public init(messageAge: UInt16, maxAge: UInt16, helloTime: UInt16, forwardDelay: UInt16) {
        self.messageAge = messageAge
        self.maxAge = maxAge
        self.helloTime = helloTime
        self.forwardDelay = forwardDelay
    }
}

/// The port role a RST BPDU's flags convey (9.2.9).
public enum EncodedPortRole: UInt8, Sendable, Codable {
    /// Unknown: the BPDU is handled as a Configuration BPDU (9.2.9 note).
    case unknown = 0
    case alternateOrBackup = 1
    case root = 2
    case designated = 3
}

/// The flags octet (9.3.1, 9.3.3).
public struct BPDUFlags: OptionSet, Hashable, Sendable, Codable {
    /// The octet as on the wire.
    public var rawValue: UInt8
    /// Wraps a flags octet.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Topology Change (bit 1): Configuration and RST BPDUs.
    public static let topologyChange = BPDUFlags(rawValue: 0x01)
    /// Proposal (bit 2): RST only.
    public static let proposal = BPDUFlags(rawValue: 0x02)
    /// Learning (bit 5): RST only.
    public static let learning = BPDUFlags(rawValue: 0x10)
    /// Forwarding (bit 6): RST only.
    public static let forwarding = BPDUFlags(rawValue: 0x20)
    /// Agreement (bit 7): RST only.
    public static let agreement = BPDUFlags(rawValue: 0x40)
    /// Topology Change Acknowledgment (bit 8): Configuration BPDUs only.
    public static let topologyChangeAck = BPDUFlags(rawValue: 0x80)

    /// The role bits (2–3).
    public var role: EncodedPortRole {
        get { EncodedPortRole(rawValue: (rawValue >> 2) & 3) ?? .unknown }
        set { rawValue = rawValue & ~0x0C | newValue.rawValue << 2 }
    }
}

/// Why a received frame is not a valid BPDU (802.1D 9.3.4 and the frame around it).
public enum BPDUParseError: Error, Hashable, Sendable {
    /// Fewer octets than the header or the BPDU's type needs.
    case truncated(length: Int)
    /// The destination is not 01:80:c2:00:00:00.
    case notBridgeGroupAddress
    /// The length/type field is an EtherType, not an 802.3 length.
    case notLLCFrame(etherType: UInt16)
    /// The LLC header is not 42 42 03.
    case notSpanningTreeLLC
    /// The Protocol Identifier is not zero.
    case protocolIdentifier(UInt16)
    /// A BPDU type 9.3.4 does not know (or an RST type with a version below 2).
    case unknownType(type: UInt8, version: UInt8)
    /// A Configuration BPDU whose Message Age is not below its Max Age.
    case messageAgeNotBelowMaxAge
}

/// A Configuration, Topology Change Notification or RST BPDU.
public struct BPDU: Hashable, Sendable {
    /// The BPDU Type octet.
    public enum Kind: UInt8, Hashable, Sendable, Codable {
        case configuration = 0x00
        case rst = 0x02
        case topologyChangeNotification = 0x80
    }

    /// The LLC header of every BPDU.
    public static let llc: [UInt8] = [0x42, 0x42, 0x03]
    /// The Bridge Group Address, destination of every BPDU.
    public static let bridgeGroupAddress = MACAddress(rawValue: 0x0180_C200_0000)
    /// Octets of each kind after the LLC header.
    public static let configurationLength = 35, tcnLength = 4, rstLength = 36

    /// The BPDU Type.
    public var kind: Kind
    /// Protocol Version Identifier: 0 for STP, 2 for RSTP, 3 for MSTP (read as RST).
    public var version: UInt8
    /// The flags octet (zero in a TCN).
    public var flags: BPDUFlags
    /// Root, cost, bridge and port as sent (zero in a TCN).
    public var priority: PriorityVector
    /// Times in 1/256 s (zero in a TCN).
    public var times: BPDUTimes
    /// RST only: the Version 1 Length octet (zero as sent).
    public var version1Length: UInt8

    /// Creates a BPDU value; `version` defaults to the kind's own (0, or 2 for RST).
    public init(kind: Kind, version: UInt8? = nil, flags: BPDUFlags = [], priority: PriorityVector = .zero,
                times: BPDUTimes = .zero, version1Length: UInt8 = 0) {
        self.kind = kind
        self.version = version ?? (kind == .rst ? 2 : 0)
        self.flags = flags
        self.priority = priority
        self.times = times
        self.version1Length = version1Length
    }

    /// A Topology Change Notification.
    public static let topologyChangeNotification = BPDU(kind: .topologyChangeNotification)

    // MARK: Parsing

    /// Parses a BPDU from the octets after the Ethernet header (the LLC header first).
    public static func parse(llc bytes: UnsafeRawBufferPointer) throws(BPDUParseError) -> BPDU {
        guard bytes.count >= 3 else { throw .truncated(length: bytes.count) }
        guard bytes[0] == 0x42, bytes[1] == 0x42, bytes[2] == 0x03 else { throw .notSpanningTreeLLC }
        return try parse(bpdu: UnsafeRawBufferPointer(rebasing: bytes[3...]))
    }

    /// Parses a whole frame: Ethernet header (to 01:80:c2:00:00:00, 802.3 length), LLC, BPDU.
    /// Octets beyond the 802.3 length (padding) are ignored.
    public static func parse(frame bytes: UnsafeRawBufferPointer) throws(BPDUParseError) -> BPDU {
        guard bytes.count >= 14 else { throw .truncated(length: bytes.count) }
        guard MACAddress(bytes: bytes, offset: 0) == bridgeGroupAddress else { throw .notBridgeGroupAddress }
        let length = Int(bytes[12]) << 8 | Int(bytes[13])
        guard length <= 1500 else { throw .notLLCFrame(etherType: UInt16(length)) }
        guard bytes.count - 14 >= length else { throw .truncated(length: bytes.count) }
        return try parse(llc: UnsafeRawBufferPointer(rebasing: bytes[14..<(14 + length)]))
    }

    /// Parses the BPDU proper (after the LLC header), validating as 9.3.4 says.
    public static func parse(bpdu b: UnsafeRawBufferPointer) throws(BPDUParseError) -> BPDU {
        guard b.count >= tcnLength else { throw .truncated(length: b.count) }
        func u16(_ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) << 16 | UInt32(u16(i + 2)) }
        func u64(_ i: Int) -> UInt64 { UInt64(u32(i)) << 32 | UInt64(u32(i + 4)) }
        let protocolId = u16(0)
        guard protocolId == 0 else { throw .protocolIdentifier(protocolId) }
        let version = b[2], type = b[3]
        let kind: Kind
        switch type {
        case Kind.topologyChangeNotification.rawValue:
            return BPDU(kind: .topologyChangeNotification, version: version)
        case Kind.configuration.rawValue:
            guard b.count >= configurationLength else { throw .truncated(length: b.count) }
            kind = .configuration
        case Kind.rst.rawValue where version >= 2:
            guard b.count >= rstLength else { throw .truncated(length: b.count) }
            kind = .rst
        default:
            throw .unknownType(type: type, version: version)
        }
        let priority = PriorityVector(
            rootBridge: BridgeIdentifier(rawValue: u64(5)), rootPathCost: u32(13),
            designatedBridge: BridgeIdentifier(rawValue: u64(17)), designatedPort: PortIdentifier(rawValue: u16(25)))
        let times = BPDUTimes(messageAge: u16(27), maxAge: u16(29), helloTime: u16(31), forwardDelay: u16(33))
        if kind == .configuration && times.messageAge >= times.maxAge { throw .messageAgeNotBelowMaxAge }
        return BPDU(kind: kind, version: version, flags: BPDUFlags(rawValue: b[4]), priority: priority, times: times,
                    version1Length: kind == .rst ? b[35] : 0)
    }

    /// `parse(llc:)` over an array.
    public static func parse(llc bytes: [UInt8]) throws(BPDUParseError) -> BPDU {
        let result = bytes.withUnsafeBytes { raw in Result<BPDU, BPDUParseError> { () throws(BPDUParseError) in try parse(llc: raw) } }
        return try result.get()
    }

    /// `parse(frame:)` over an array.
    public static func parse(frame bytes: [UInt8]) throws(BPDUParseError) -> BPDU {
        let result = bytes.withUnsafeBytes { raw in Result<BPDU, BPDUParseError> { () throws(BPDUParseError) in try parse(frame: raw) } }
        return try result.get()
    }

    // MARK: Encoding

    /// The BPDU's own octets (35, 4 or 36), without LLC.
    public var encoded: [UInt8] {
        var out: [UInt8] = [0, 0, version, kind.rawValue]
        guard kind != .topologyChangeNotification else { return out }
        out.reserveCapacity(Self.rstLength)
        func put16(_ v: UInt16) { out.append(UInt8(v >> 8)); out.append(UInt8(truncatingIfNeeded: v)) }
        func put32(_ v: UInt32) { put16(UInt16(v >> 16)); put16(UInt16(truncatingIfNeeded: v)) }
        func put64(_ v: UInt64) { put32(UInt32(v >> 32)); put32(UInt32(truncatingIfNeeded: v)) }
        out.append(flags.rawValue)
        put64(priority.rootBridge.rawValue)
        put32(priority.rootPathCost)
        put64(priority.designatedBridge.rawValue)
        put16(priority.designatedPort.rawValue)
        put16(times.messageAge)
        put16(times.maxAge)
        put16(times.helloTime)
        put16(times.forwardDelay)
        if kind == .rst { out.append(version1Length) }
        return out
    }

    /// The whole frame as a port transmits it: to 01:80:c2:00:00:00 from `source`, 802.3
    /// length, LLC, the BPDU, zero padding to Ethernet's 60-octet minimum (without FCS).
    public func frame(source: MACAddress) -> [UInt8] {
        let body = encoded
        var out: [UInt8] = []
        out.reserveCapacity(60)
        out += Self.bridgeGroupAddress.octets
        out += source.octets
        let length = UInt16(Self.llc.count + body.count)
        out.append(UInt8(length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out += Self.llc
        out += body
        if out.count < 60 { out += [UInt8](repeating: 0, count: 60 - out.count) }
        return out
    }
}
