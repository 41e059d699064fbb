// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlProtocol: what `swbridge fdb|link|stats` and a running bridge say to each other over
// the control socket, as plain Codable values.
//
// Wire format: one JSON object per line (UTF-8, no newline inside: JSONEncoder escapes them).
// The client writes one request line, `{"version":1,"request":{"command":"fdb-add",...}}`; the
// server answers one response line and closes the connection. The version is read before the
// rest of the request, so a client from a newer release gets a clear "unsupported version"
// answer instead of a decoding error. Commands and result kinds are spelled as stable strings
// (not Swift's synthesized enum encoding) so the format does not change when a case is renamed.
//
// MAC addresses travel as strings: the server (the daemon's handler) parses and validates them,
// because the client may be an older or newer build, or `socat`.

import BridgeCore
import MulticastSnooping
import SpanningTree

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Constants and line codecs of the control protocol.
public enum ControlProtocol {
    /// The protocol version this build speaks.
    public static let version = 1

    /// Encodes a request as one line (with its trailing newline).
    public static func requestLine(_ request: ControlRequest) throws -> [UInt8] {
        try line(RequestMessage(version: version, request: request))
    }

    /// Encodes a response as one line (with its trailing newline).
    public static func responseLine(_ response: ControlResponse) throws -> [UInt8] {
        try line(response)
    }

    /// Decodes a request line (without its newline). Throws a message fit to send back.
    public static func decodeRequest(_ bytes: [UInt8]) throws(ControlProtocolError) -> ControlRequest {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        let data = Data(text.utf8)
        let decoder = JSONDecoder()
        // The version first: a newer request shape must not hide behind a decoding error.
        let version: Int
        do {
            version = try decoder.decode(VersionOnly.self, from: data).version
        } catch {
            throw .malformed(Self.describe(error))
        }
        guard version == Self.version else { throw .unsupportedVersion(version) }
        do {
            return try decoder.decode(RequestMessage.self, from: data).request
        } catch {
            throw .malformed(Self.describe(error))
        }
    }

    /// Decodes a response line (without its newline).
    public static func decodeResponse(_ bytes: [UInt8]) throws(ControlProtocolError) -> ControlResponse {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        do {
            return try JSONDecoder().decode(ControlResponse.self, from: Data(text.utf8))
        } catch {
            throw .malformed(Self.describe(error))
        }
    }

    /// A value as pretty JSON with sorted keys, for `--json` output and humans.
    public static func prettyJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static func line(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        // Sorted keys: the same request always produces the same bytes (tests, logs, diffs).
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = [UInt8](try encoder.encode(value))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// A decoding error in one line, without Foundation's debug noise.
    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return c.debugDescription
        case DecodingError.keyNotFound(let k, _): return "missing field '\(k.stringValue)'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type for '\(path)'"
        default: return "\(error)"
        }
    }

    private struct VersionOnly: Decodable { var version: Int }
    private struct RequestMessage: Codable {
        var version: Int
        var request: ControlRequest
    }
}

/// Why a control line could not be decoded.
public enum ControlProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case notUTF8
    case malformed(String)
    case unsupportedVersion(Int)

    public var description: String {
        switch self {
        case .notUTF8: return "malformed request: not UTF-8"
        case .malformed(let why): return "malformed message: \(why)"
        case .unsupportedVersion(let v): return "unsupported control protocol version \(v) (this bridge speaks \(ControlProtocol.version))"
        }
    }
}

// MARK: - Requests

/// One command to a running bridge.
public enum ControlRequest: Equatable, Sendable {
    /// Every FDB entry (`bridge fdb show`).
    case fdbShow
    /// Adds a static entry on port `dev`. Without `vlan`, as bridge(8) does: in every VLAN of
    /// the port when VLAN filtering is on, in VLAN 0 when it is off.
    case fdbAdd(mac: String, dev: String, vlan: UInt16?)
    /// Removes an entry, static or learned. Without `dev`, whatever port holds it; without
    /// `vlan`, in every VLAN (VLAN 0 when filtering is off).
    case fdbDel(mac: String, dev: String?, vlan: UInt16?)
    /// Removes learned entries, of one port or of all.
    case fdbFlush(dev: String?)
    /// The ports (`bridge link show`).
    case linkShow
    /// Counters of ports and FDB.
    case stats
    /// Starts writing a port's frames to a pcap file on the bridge's machine.
    case captureStart(CaptureSpec)
    /// How a capture is doing (`id` from captureStart).
    case captureStatus(id: Int)
    /// Ends a capture and closes its file.
    case captureStop(id: Int)
    /// Attaches interface `dev` as a new port (`bridge link` words in `settings`).
    case linkAdd(dev: String, settings: PortSettings)
    /// Detaches port `dev`: its learned and static entries go, its sockets close.
    case linkDel(dev: String)
    /// Changes port `dev`'s flags or state.
    case linkSet(dev: String, settings: PortSettings)
    /// Adds VLANs to a port (`bridge vlan add`).
    case vlanAdd(VLANChange)
    /// Removes VLANs from a port (`bridge vlan del`).
    case vlanDel(VLANChange)
    /// The ports' VLANs (`bridge vlan show`), of one port or of all.
    case vlanShow(dev: String?)
    /// Changes bridge-wide settings (`ip link set br0 type bridge vlan_filtering 1`).
    case bridgeSet(BridgeSettings)
    /// Re-reads the configuration file and applies the difference (`check`: only reports it).
    case reload(check: Bool)
    /// The busiest source stations by sampled frames/s, at most `limit` (`swbridge top`).
    case talkers(limit: Int)
    /// The spanning tree: bridge and ports (`swbridge stp show`).
    case stpShow
    // VXLAN (issue 17): `swbridge vxlan add|del` creates or deletes the kernel device itself
    // (the bridge keeps only CAP_NET_RAW) and asks the bridge to attach or detach it.
    /// Attaches VXLAN device `dev` as a port; `namespace` is the network namespace the client
    /// created it in (`VXLANNamespace.current`), refused unless it is the bridge's.
    case vxlanAttach(dev: String, namespace: String, settings: PortSettings)
    /// Detaches VXLAN port `dev` (refused for another kind of port or another namespace).
    case vxlanDetach(dev: String, namespace: String)
    // Multicast snooping (issue 14).
    /// The multicast database, router ports and queriers (`bridge mdb show`).
    case mdbShow

    /// The command's wire name, also used in logs.
    public var command: String {
        switch self {
        case .fdbShow: return "fdb-show"
        case .fdbAdd: return "fdb-add"
        case .fdbDel: return "fdb-del"
        case .fdbFlush: return "fdb-flush"
        case .linkShow: return "link-show"
        case .stats: return "stats"
        case .captureStart: return "capture-start"
        case .captureStatus: return "capture-status"
        case .captureStop: return "capture-stop"
        case .linkAdd: return "link-add"
        case .linkDel: return "link-del"
        case .linkSet: return "link-set"
        case .vlanAdd: return "vlan-add"
        case .vlanDel: return "vlan-del"
        case .vlanShow: return "vlan-show"
        case .bridgeSet: return "bridge-set"
        case .reload: return "reload"
        case .talkers: return "talkers"
        case .stpShow: return "stp-show"
        case .vxlanAttach: return "vxlan-attach"
        case .vxlanDetach: return "vxlan-detach"
        // Multicast snooping.
        case .mdbShow: return "mdb-show"
        }
    }
}

/// Port settings of `link add` and `link set`, in bridge(8)'s words; nil leaves a setting as it
/// is (or at Linux's default for a new port).
public struct PortSettings: Codable, Equatable, Sendable {
    public var learning: Bool?
    public var flood: Bool?
    public var mcastFlood: Bool?
    public var bcastFlood: Bool?
    public var hairpin: Bool?
    public var isolated: Bool?
    /// `forwarding` or `disabled`.
    public var state: String?
    /// `af_packet` or `pcap` (link add only).
    public var backend: String?
    /// Spanning tree (`--stp`): `stp_cost` (0: from the link speed), `stp_priority`, `edge`,
    /// `auto_edge`, `p2p auto|on|off`, `bpdu_guard`, `root_guard`; `bpdu_guard_clear`
    /// re-enables a port its BPDU guard disabled.
    public var stpCost: UInt32?
    public var stpPriority: UInt8?
    public var edge: Bool?
    public var autoEdge: Bool?
    public var p2p: String?
    public var bpduGuard: Bool?
    public var rootGuard: Bool?
    public var bpduGuardClear: Bool?

    /// Removes every spanning-tree setting (what is left is for the engine).
    public mutating func clearSpanningTreeSettings() {
        stpCost = nil
        stpPriority = nil
        edge = nil
        autoEdge = nil
        p2p = nil
        bpduGuard = nil
        rootGuard = nil
        bpduGuardClear = nil
    }

    /// Whether any spanning-tree setting is given.
    public var hasSpanningTreeSettings: Bool {
        stpCost != nil || stpPriority != nil || edge != nil || autoEdge != nil || p2p != nil || bpduGuard != nil
            || rootGuard != nil || bpduGuardClear != nil
    }
    /// Multicast snooping: `mcast_router` 0 (never), 1 (learned), 2 (always).
    public var mcastRouter: Int?
    /// Multicast snooping: `mcast_fast_leave`.
    public var mcastFastLeave: Bool?

    public init(
        learning: Bool? = nil, flood: Bool? = nil, mcastFlood: Bool? = nil, bcastFlood: Bool? = nil,
        hairpin: Bool? = nil, isolated: Bool? = nil, state: String? = nil, backend: String? = nil
    ) {
        self.learning = learning
        self.flood = flood
        self.mcastFlood = mcastFlood
        self.bcastFlood = bcastFlood
        self.hairpin = hairpin
        self.isolated = isolated
        self.state = state
        self.backend = backend
    }

    /// The flag settings by `PortFlags.names` name.
    public var flagValues: [(String, Bool)] {
        [("learning", learning), ("flood", flood), ("mcast_flood", mcastFlood), ("bcast_flood", bcastFlood),
         ("hairpin", hairpin), ("isolated", isolated)].compactMap { n, v in v.map { (n, $0) } }
    }

    public var isEmpty: Bool { flagValues.isEmpty && state == nil && backend == nil && !hasSpanningTreeSettings && !hasMulticast }
    /// Whether a multicast snooping setting is given.
    public var hasMulticast: Bool { mcastRouter != nil || mcastFastLeave != nil }
}

/// `vlan add|del dev IF vid N[-M] [pvid] [untagged]`.
public struct VLANChange: Codable, Equatable, Sendable {
    public var dev: String
    public var first: UInt16
    public var last: UInt16
    /// Add: the (single) VLAN becomes the port's PVID.
    public var pvid: Bool
    /// Add: the VLANs leave the port untagged.
    public var untagged: Bool

    public init(dev: String, first: UInt16, last: UInt16? = nil, pvid: Bool = false, untagged: Bool = false) {
        self.dev = dev
        self.first = first
        self.last = last ?? first
        self.pvid = pvid
        self.untagged = untagged
    }
}

/// Bridge-wide settings that change at runtime; nil leaves one as it is.
public struct BridgeSettings: Codable, Equatable, Sendable {
    public var vlanFiltering: Bool?
    /// FDB ageing time in seconds (0: never).
    public var ageing: Int?

    public init(vlanFiltering: Bool? = nil, ageing: Int? = nil) {
        self.vlanFiltering = vlanFiltering
        self.ageing = ageing
    }
}

/// What `swbridge capture` asks for.
public struct CaptureSpec: Codable, Equatable, Sendable {
    public var port: String
    public var file: String
    /// `in`, `out` or `both`.
    public var direction: String
    /// Stop after this many frames are written (nil: until stopped).
    public var count: UInt64?
    /// A BPF expression (tcpdump syntax).
    public var filter: String?
    /// Rotate the file at this size (bytes), keeping `keep` files.
    public var maxBytes: Int?
    public var keep: Int?

    public init(port: String, file: String, direction: String = "both", count: UInt64? = nil, filter: String? = nil,
                maxBytes: Int? = nil, keep: Int? = nil) {
        self.port = port
        self.file = file
        self.direction = direction
        self.count = count
        self.filter = filter
        self.maxBytes = maxBytes
        self.keep = keep
    }
}

/// A capture's progress.
public struct CaptureStatus: Codable, Equatable, Sendable {
    public var id: Int
    public var port: String
    public var file: String
    public var offered: UInt64
    public var filteredOut: UInt64
    public var written: UInt64
    /// Frames the capture could not keep up with (the bridge forwarded them all the same).
    public var dropped: UInt64
    /// The frame count was reached, or the capture was stopped.
    public var complete: Bool

    public init(id: Int, port: String, file: String, offered: UInt64, filteredOut: UInt64, written: UInt64,
                dropped: UInt64, complete: Bool) {
        self.id = id
        self.port = port
        self.file = file
        self.offered = offered
        self.filteredOut = filteredOut
        self.written = written
        self.dropped = dropped
        self.complete = complete
    }
}

extension ControlRequest: Codable {
    private enum CodingKeys: String, CodingKey { case command, mac, dev, vlan, capture, id, settings, check, limit, namespace }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let command = try c.decode(String.self, forKey: .command)
        switch command {
        case "fdb-show": self = .fdbShow
        case "fdb-add":
            self = .fdbAdd(
                mac: try c.decode(String.self, forKey: .mac), dev: try c.decode(String.self, forKey: .dev),
                vlan: try c.decodeIfPresent(UInt16.self, forKey: .vlan))
        case "fdb-del":
            self = .fdbDel(
                mac: try c.decode(String.self, forKey: .mac), dev: try c.decodeIfPresent(String.self, forKey: .dev),
                vlan: try c.decodeIfPresent(UInt16.self, forKey: .vlan))
        case "fdb-flush": self = .fdbFlush(dev: try c.decodeIfPresent(String.self, forKey: .dev))
        case "link-show": self = .linkShow
        case "stats": self = .stats
        case "capture-start": self = .captureStart(try c.decode(CaptureSpec.self, forKey: .capture))
        case "capture-status": self = .captureStatus(id: try c.decode(Int.self, forKey: .id))
        case "capture-stop": self = .captureStop(id: try c.decode(Int.self, forKey: .id))
        case "link-add":
            self = .linkAdd(dev: try c.decode(String.self, forKey: .dev), settings: try c.decode(PortSettings.self, forKey: .settings))
        case "link-del": self = .linkDel(dev: try c.decode(String.self, forKey: .dev))
        case "link-set":
            self = .linkSet(dev: try c.decode(String.self, forKey: .dev), settings: try c.decode(PortSettings.self, forKey: .settings))
        case "vlan-add": self = .vlanAdd(try c.decode(VLANChange.self, forKey: .vlan))
        case "vlan-del": self = .vlanDel(try c.decode(VLANChange.self, forKey: .vlan))
        case "vlan-show": self = .vlanShow(dev: try c.decodeIfPresent(String.self, forKey: .dev))
        case "bridge-set": self = .bridgeSet(try c.decode(BridgeSettings.self, forKey: .settings))
        case "reload": self = .reload(check: try c.decode(Bool.self, forKey: .check))
        case "talkers": self = .talkers(limit: try c.decode(Int.self, forKey: .limit))
        case "stp-show": self = .stpShow
        case "vxlan-attach":
            self = .vxlanAttach(
                dev: try c.decode(String.self, forKey: .dev), namespace: try c.decode(String.self, forKey: .namespace),
                settings: try c.decode(PortSettings.self, forKey: .settings))
        case "vxlan-detach":
            self = .vxlanDetach(dev: try c.decode(String.self, forKey: .dev), namespace: try c.decode(String.self, forKey: .namespace))
        // Multicast snooping.
        case "mdb-show": self = .mdbShow
        default:
            throw DecodingError.dataCorruptedError(forKey: .command, in: c, debugDescription: "unknown command '\(command)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command, forKey: .command)
        switch self {
        case .fdbShow, .linkShow, .stats, .stpShow: break
        case .fdbAdd(let mac, let dev, let vlan):
            try c.encode(mac, forKey: .mac)
            try c.encode(dev, forKey: .dev)
            try c.encodeIfPresent(vlan, forKey: .vlan)
        case .fdbDel(let mac, let dev, let vlan):
            try c.encode(mac, forKey: .mac)
            try c.encodeIfPresent(dev, forKey: .dev)
            try c.encodeIfPresent(vlan, forKey: .vlan)
        case .fdbFlush(let dev):
            try c.encodeIfPresent(dev, forKey: .dev)
        case .captureStart(let spec):
            try c.encode(spec, forKey: .capture)
        case .captureStatus(let id), .captureStop(let id):
            try c.encode(id, forKey: .id)
        case .linkAdd(let dev, let settings), .linkSet(let dev, let settings):
            try c.encode(dev, forKey: .dev)
            try c.encode(settings, forKey: .settings)
        case .linkDel(let dev):
            try c.encode(dev, forKey: .dev)
        case .vlanAdd(let change), .vlanDel(let change):
            try c.encode(change, forKey: .vlan)
        case .vlanShow(let dev):
            try c.encodeIfPresent(dev, forKey: .dev)
        case .bridgeSet(let settings):
            try c.encode(settings, forKey: .settings)
        case .reload(let check):
            try c.encode(check, forKey: .check)
        case .talkers(let limit):
            try c.encode(limit, forKey: .limit)
        case .vxlanAttach(let dev, let namespace, let settings):
            try c.encode(dev, forKey: .dev)
            try c.encode(namespace, forKey: .namespace)
            try c.encode(settings, forKey: .settings)
        case .vxlanDetach(let dev, let namespace):
            try c.encode(dev, forKey: .dev)
            try c.encode(namespace, forKey: .namespace)
        // Multicast snooping.
        case .mdbShow: break
        }
    }
}

// MARK: - Responses

/// The answer to one request: success with an optional result, or an error message.
public struct ControlResponse: Codable, Equatable, Sendable {
    /// The protocol version of the server.
    public var version: Int
    /// Whether the request was carried out.
    public var ok: Bool
    /// Why not, when `ok` is false: one line for the user.
    public var error: String?
    /// What the request asked for (nil for commands that only change state and report nothing).
    public var result: ControlResult?

    public init(ok: Bool, error: String? = nil, result: ControlResult? = nil) {
        self.version = ControlProtocol.version
        self.ok = ok
        self.error = error
        self.result = result
    }

    /// A success carrying `result`.
    public static func success(_ result: ControlResult? = nil) -> ControlResponse {
        ControlResponse(ok: true, result: result)
    }

    /// A failure with a message for the user.
    public static func failure(_ message: String) -> ControlResponse {
        ControlResponse(ok: false, error: message)
    }
}

/// The payload of a successful response, one kind per request.
public enum ControlResult: Equatable, Sendable {
    /// For `fdbShow`.
    case fdb([FDBRow])
    /// For `linkShow`.
    case links([LinkRow])
    /// For `stats`.
    case stats(StatsReport)
    /// For `fdbAdd`, `fdbDel`, `fdbFlush`: how many entries were added or removed.
    case changed(entries: Int)
    /// For the capture requests.
    case capture(CaptureStatus)
    /// For `vlanShow`.
    case vlans([VLANRow])
    /// For `reload`: the difference, one line per change, and whether it was applied.
    case reload(ReloadReport)
    /// For `talkers`.
    case talkers(TalkersReport)
    /// For `stpShow`.
    case spanningTree(SpanningTreeStatus)
    // Multicast snooping.
    /// For `mdbShow`.
    case mdb(MDBStatus)
}

/// The busiest source stations, estimated from sampled frames (TalkerSampler.swift).
public struct TalkersReport: Codable, Equatable, Sendable {
    /// The time the estimates cover at most, seconds.
    public var windowSeconds: Double
    /// One received frame in this many is sampled.
    public var sampleEvery: Int
    /// Busiest first.
    public var talkers: [TalkerRow]

    public init(windowSeconds: Double, sampleEvery: Int, talkers: [TalkerRow]) {
        self.windowSeconds = windowSeconds
        self.sampleEvery = sampleEvery
        self.talkers = talkers
    }
}

/// One source station of `talkers`.
public struct TalkerRow: Codable, Equatable, Sendable {
    /// `aa:bb:cc:dd:ee:ff`, lower case.
    public var mac: String
    /// The port it sends on.
    public var dev: String
    public var framesPerSecond: Double
    public var bitsPerSecond: Double

    public init(mac: String, dev: String, framesPerSecond: Double, bitsPerSecond: Double) {
        self.mac = mac
        self.dev = dev
        self.framesPerSecond = framesPerSecond
        self.bitsPerSecond = bitsPerSecond
    }
}

/// The other end of a veth port.
public struct LinkPeer: Codable, Equatable, Sendable {
    public var ifindex: Int32
    /// Its name, when the kernel tells it (the peer's namespace must have an id here).
    public var name: String?
    /// Its network namespace by name (from /run/netns); nil when unnamed or this namespace.
    public var namespace: String?
    /// Its namespace's id as this namespace numbers it (nil: the same namespace).
    public var namespaceID: Int32?

    public init(ifindex: Int32, name: String?, namespace: String?, namespaceID: Int32?) {
        self.ifindex = ifindex
        self.name = name
        self.namespace = namespace
        self.namespaceID = namespaceID
    }
}

/// One port of `vlan show`.
public struct VLANRow: Codable, Equatable, Sendable {
    public var dev: String
    /// Member VLANs in ascending order.
    public var vlans: [UInt16]
    public var pvid: UInt16?
    /// Members that leave untagged.
    public var untagged: [UInt16]

    public init(dev: String, vlans: [UInt16], pvid: UInt16?, untagged: [UInt16]) {
        self.dev = dev
        self.vlans = vlans
        self.pvid = pvid
        self.untagged = untagged
    }
}

/// What `reload` found and did.
public struct ReloadReport: Codable, Equatable, Sendable {
    /// The file that was read.
    public var file: String
    /// One line per change (`+ port veth3: ...`, `- port veth2`, `~ port veth1: pvid 1 -> 10`).
    public var changes: [String]
    public var applied: Bool

    public init(file: String, changes: [String], applied: Bool) {
        self.file = file
        self.changes = changes
        self.applied = applied
    }
}

extension ControlResult: Codable {
    private enum CodingKeys: String, CodingKey {
        case kind, fdb, links, stats, changed, capture, vlans, reload, talkers, stp
        // Multicast snooping.
        case mdb
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        switch kind {
        case "fdb": self = .fdb(try c.decode([FDBRow].self, forKey: .fdb))
        case "links": self = .links(try c.decode([LinkRow].self, forKey: .links))
        case "stats": self = .stats(try c.decode(StatsReport.self, forKey: .stats))
        case "changed": self = .changed(entries: try c.decode(Int.self, forKey: .changed))
        case "capture": self = .capture(try c.decode(CaptureStatus.self, forKey: .capture))
        case "vlans": self = .vlans(try c.decode([VLANRow].self, forKey: .vlans))
        case "reload": self = .reload(try c.decode(ReloadReport.self, forKey: .reload))
        case "talkers": self = .talkers(try c.decode(TalkersReport.self, forKey: .talkers))
        case "stp": self = .spanningTree(try c.decode(SpanningTreeStatus.self, forKey: .stp))
        // Multicast snooping.
        case "mdb": self = .mdb(try c.decode(MDBStatus.self, forKey: .mdb))
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown result kind '\(kind)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .fdb(let rows):
            try c.encode("fdb", forKey: .kind)
            try c.encode(rows, forKey: .fdb)
        case .links(let rows):
            try c.encode("links", forKey: .kind)
            try c.encode(rows, forKey: .links)
        case .stats(let report):
            try c.encode("stats", forKey: .kind)
            try c.encode(report, forKey: .stats)
        case .changed(let n):
            try c.encode("changed", forKey: .kind)
            try c.encode(n, forKey: .changed)
        case .capture(let status):
            try c.encode("capture", forKey: .kind)
            try c.encode(status, forKey: .capture)
        case .vlans(let rows):
            try c.encode("vlans", forKey: .kind)
            try c.encode(rows, forKey: .vlans)
        case .reload(let report):
            try c.encode("reload", forKey: .kind)
            try c.encode(report, forKey: .reload)
        case .talkers(let report):
            try c.encode("talkers", forKey: .kind)
            try c.encode(report, forKey: .talkers)
        case .spanningTree(let status):
            try c.encode("stp", forKey: .kind)
            try c.encode(status, forKey: .stp)
        // Multicast snooping.
        case .mdb(let status):
            try c.encode("mdb", forKey: .kind)
            try c.encode(status, forKey: .mdb)
        }
    }
}

// MARK: - Result rows

/// One line of `fdb show`.
public struct FDBRow: Codable, Equatable, Sendable {
    /// `aa:bb:cc:dd:ee:ff`, lower case.
    public var mac: String
    /// The port's name.
    public var dev: String
    /// The entry's VLAN; nil when VLAN filtering is off (every entry is then in VLAN 0).
    public var vlan: UInt16?
    /// Added by `fdb add`: never ages, never moves.
    public var isStatic: Bool
    /// Time since the station was last seen (0 for static entries).
    public var idleSeconds: Double
    /// For a station behind a VXLAN port: the remote VTEP the kernel's VXLAN device learned it
    /// behind (`dst IP` in `bridge fdb show`); nil otherwise or not (yet) known.
    public var dst: String?

    public init(mac: String, dev: String, vlan: UInt16?, isStatic: Bool, idleSeconds: Double, dst: String? = nil) {
        self.mac = mac
        self.dev = dev
        self.vlan = vlan
        self.isStatic = isStatic
        self.idleSeconds = idleSeconds
        self.dst = dst
    }

    /// The row for a table entry on the port named `dev`.
    public init(_ entry: FDBEntry, dev: String, vlanFiltering: Bool) {
        self.init(
            mac: entry.mac.description, dev: dev, vlan: vlanFiltering ? entry.vlan : nil,
            isStatic: entry.isStatic, idleSeconds: Double(entry.idleMilliseconds) / 1000)
    }
}

/// One port of `link show`.
public struct LinkRow: Codable, Equatable, Sendable {
    /// The port's index in the bridge configuration.
    public var index: Int
    public var name: String
    /// `forwarding` or `disabled` (the port's configured state).
    public var state: String
    /// Whether the interface exists and the bridge holds it open.
    public var attached: Bool
    /// Whether the interface's link is up (IFF_RUNNING).
    public var operUp: Bool
    /// Interface MTU; nil when not attached.
    public var mtu: Int?
    /// Interface address; nil when not attached.
    public var mac: String?
    /// Names of the set `PortFlags`, as `PortFlags.names` spells them, in that order.
    public var flags: [String]
    /// VLAN of untagged ingress; nil when untagged frames are dropped.
    public var pvid: UInt16?
    /// Member VLANs, `1,10-20`.
    public var vlans: String
    /// VLANs that leave untagged, `1`.
    public var untaggedVLANs: String
    /// FDB entries learned on this port.
    public var learnedEntries: Int
    /// The packet I/O in use (`af_packet`, `memory`, ...).
    public var backend: String
    /// Transmit errors the transport saw, when it counts them.
    public var txErrors: UInt64?
    /// For a veth port: the other end (`ethtool -S IF | grep peer_ifindex`, with its name and namespace).
    public var peer: LinkPeer?

    public init(
        index: Int, name: String, state: String, attached: Bool, operUp: Bool, mtu: Int?, mac: String?,
        flags: [String], pvid: UInt16?, vlans: String, untaggedVLANs: String, learnedEntries: Int,
        backend: String, txErrors: UInt64? = nil
    ) {
        self.index = index
        self.name = name
        self.state = state
        self.attached = attached
        self.operUp = operUp
        self.mtu = mtu
        self.mac = mac
        self.flags = flags
        self.pvid = pvid
        self.vlans = vlans
        self.untaggedVLANs = untaggedVLANs
        self.learnedEntries = learnedEntries
        self.backend = backend
        self.txErrors = txErrors
    }

    /// The row for port `index` with configuration `port`; the rest comes from the interface.
    public init(
        index: Int, port: PortConfiguration, attached: Bool, operUp: Bool, mtu: Int?, mac: MACAddress?,
        learnedEntries: Int, backend: String, txErrors: UInt64? = nil
    ) {
        self.init(
            index: index, name: port.name, state: port.state.description, attached: attached, operUp: operUp,
            mtu: mtu, mac: mac?.description, flags: Self.flagNames(port.flags), pvid: port.pvid,
            vlans: port.vlans.description, untaggedVLANs: port.untaggedVLANs.description,
            learnedEntries: learnedEntries, backend: backend, txErrors: txErrors)
    }

    /// The names of the flags set in `flags`, in `PortFlags.names` order.
    public static func flagNames(_ flags: PortFlags) -> [String] {
        PortFlags.names.filter { flags.contains($0.1) }.map(\.0)
    }
}

/// One port's counters in `stats`.
public struct PortStatsRow: Codable, Equatable, Sendable {
    public var name: String
    public var rxFrames: UInt64
    public var rxBytes: UInt64
    public var forwarded: UInt64
    public var flooded: UInt64
    public var txFrames: UInt64
    public var txBytes: UInt64
    public var txDropped: UInt64
    /// Received frames dropped, by `DropReason.name`; every reason is present, zeros included.
    public var drops: [String: UInt64]
    /// Packets the kernel passed to the ring (PACKET_STATISTICS `tp_packets`); nil without a kernel ring.
    public var ringPackets: UInt64?
    /// Packets the kernel dropped because the ring was full (`tp_drops`); nil without a kernel ring.
    public var ringDrops: UInt64?
    /// Multicast frames received here and delivered by snooping (members and router ports)
    /// rather than flooded (absent in answers of older bridges).
    public var snooped: UInt64?
    /// Control frames (IGMP/MLD, BPDUs) received here and handed to the control plane.
    public var punted: UInt64?
    /// Control frames received here the control plane's queue had no room for.
    public var puntDropped: UInt64?
    /// Frames this port did not send, by `TransmitDropReason` name (`too-big`: larger than
    /// the interface's MTU); also counted in `txDropped`. Nil from bridges that do not say.
    public var txDrops: [String: UInt64]?

    public init(
        name: String, rxFrames: UInt64, rxBytes: UInt64, forwarded: UInt64, flooded: UInt64, txFrames: UInt64,
        txBytes: UInt64, txDropped: UInt64, drops: [String: UInt64], ringPackets: UInt64? = nil, ringDrops: UInt64? = nil
    ) {
        self.name = name
        self.rxFrames = rxFrames
        self.rxBytes = rxBytes
        self.forwarded = forwarded
        self.flooded = flooded
        self.txFrames = txFrames
        self.txBytes = txBytes
        self.txDropped = txDropped
        self.drops = drops
        self.ringPackets = ringPackets
        self.ringDrops = ringDrops
    }

    /// The row for port `name` from its (summed) counters and, for kernel rings, PACKET_STATISTICS.
    public init(name: String, counters c: PortCounters, ringPackets: UInt64? = nil, ringDrops: UInt64? = nil) {
        var drops: [String: UInt64] = [:]
        for reason in DropReason.allCases { drops[reason.name] = c.dropped(reason) }
        self.init(
            name: name, rxFrames: c.rxFrames, rxBytes: c.rxBytes, forwarded: c.forwarded, flooded: c.flooded,
            txFrames: c.txFrames, txBytes: c.txBytes, txDropped: c.txDropped, drops: drops,
            ringPackets: ringPackets, ringDrops: ringDrops)
        snooped = c.snooped
        punted = c.punted
        puntDropped = c.puntDropped
    }

    /// All received frames dropped, whatever the reason.
    public var droppedTotal: UInt64 { drops.values.reduce(0, +) }
}

/// Why a port did not send a frame it was given (egress drops; `DropReason` is ingress).
public enum TransmitDropReason {
    /// Larger than the egress interface's MTU (+ Ethernet header, + one VLAN tag) and not a
    /// GSO super-frame the kernel segments: e.g. a 1,500-byte host MTU into a VXLAN port of 1,450.
    public static let tooBig = "too-big"

    /// The one-line description `stats` prints.
    public static func description(_ name: String) -> String? {
        switch name {
        case tooBig: return "frame larger than the egress port's MTU (not sent; also in tx_dropped): lower the senders' MTU"
        default: return nil
        }
    }
}

/// The FDB section of `stats`: sizes, bound and life counters.
public struct FDBStatsSection: Codable, Equatable, Sendable {
    public var learnedEntries: Int
    public var staticEntries: Int
    public var maxLearned: Int
    public var learned: UInt64
    public var moved: UInt64
    public var aged: UInt64
    public var evicted: UInt64
    public var refused: UInt64
    public var staticConflicts: UInt64
    public var flushed: UInt64

    public init(
        learnedEntries: Int, staticEntries: Int, maxLearned: Int, learned: UInt64, moved: UInt64, aged: UInt64,
        evicted: UInt64, refused: UInt64, staticConflicts: UInt64, flushed: UInt64
    ) {
        self.learnedEntries = learnedEntries
        self.staticEntries = staticEntries
        self.maxLearned = maxLearned
        self.learned = learned
        self.moved = moved
        self.aged = aged
        self.evicted = evicted
        self.refused = refused
        self.staticConflicts = staticConflicts
        self.flushed = flushed
    }

    /// The section for a table's statistics and its configured bound.
    public init(_ s: FDBStatistics, maxLearned: Int) {
        self.init(
            learnedEntries: s.learnedEntries, staticEntries: s.staticEntries, maxLearned: maxLearned,
            learned: s.learned, moved: s.moved, aged: s.aged, evicted: s.evicted, refused: s.refused,
            staticConflicts: s.staticConflicts, flushed: s.flushed)
    }
}

/// One forwarding thread in `stats`: how much it worked and its longest stall.
public struct WorkerStatsRow: Codable, Equatable, Sendable {
    /// The worker's number (thread `swbridge-fwdN`).
    public var worker: Int
    /// Batches forwarded (passes that received at least one frame).
    public var batches: UInt64
    /// The thread's CPU time (CLOCK_THREAD_CPUTIME_ID), seconds.
    public var cpuSeconds: Double
    /// The longest time this thread, with frames ready, went without finishing a batch, since
    /// it started (ms): from its wake-up to its first batch, or from one batch to the next while
    /// it keeps finding frames. A thread that waits for another (a lock, a slow table operation)
    /// shows it here.
    public var worstGapMilliseconds: Double

    public init(worker: Int, batches: UInt64, cpuSeconds: Double, worstGapMilliseconds: Double) {
        self.worker = worker
        self.batches = batches
        self.cpuSeconds = cpuSeconds
        self.worstGapMilliseconds = worstGapMilliseconds
    }
}

/// Everything `stats` prints.
public struct StatsReport: Codable, Equatable, Sendable {
    /// The bridge's name (`--name`).
    public var bridge: String
    /// Seconds since the bridge started.
    public var uptimeSeconds: Double
    public var vlanFiltering: Bool
    /// One row per port, in port order.
    public var ports: [PortStatsRow]
    public var fdb: FDBStatsSection
    /// One row per forwarding thread (absent in answers of older bridges).
    public var workers: [WorkerStatsRow]?
    /// Multicast snooping's counters and table (nil: snooping off, or an older bridge).
    public var multicast: MulticastStatsSection?

    public init(bridge: String, uptimeSeconds: Double, vlanFiltering: Bool, ports: [PortStatsRow], fdb: FDBStatsSection,
                workers: [WorkerStatsRow]? = nil, multicast: MulticastStatsSection? = nil) {
        self.multicast = multicast
        self.bridge = bridge
        self.uptimeSeconds = uptimeSeconds
        self.vlanFiltering = vlanFiltering
        self.ports = ports
        self.fdb = fdb
        self.workers = workers
    }
}

/// The multicast snooping section of `stats`: what the snooper counted and its table.
public struct MulticastStatsSection: Codable, Equatable, Sendable {
    /// Reports, leaves, queries received and sent, malformed input by reason, expiries.
    public var counters: MulticastSnoopingCounters
    /// Groups held, inserted, removed, joins refused because the table was full.
    public var table: MulticastTableStatistics
    /// `--mcast-max-groups`.
    public var maxGroups: Int
    /// Whether our querier is enabled (`--mcast-querier`).
    public var querier: Bool

    public init(counters: MulticastSnoopingCounters, table: MulticastTableStatistics, maxGroups: Int, querier: Bool) {
        self.counters = counters
        self.table = table
        self.maxGroups = maxGroups
        self.querier = querier
    }
}
