// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Test frames built from the RFC layouts (RFC 2236 2, RFC 3376 4, RFC 2710 3, RFC 3810 5),
// independently of the encoder under test: IPv4 with or without Router Alert, IPv6 with a
// hop-by-hop Router Alert header, checksums computed here.

import BridgeCore
@testable import MulticastSnooping

enum Packets {
    static let host = MACAddress(rawValue: 0x0200_0000_0A02)

    static func ip4(_ s: String) -> UInt32 { MulticastGroup(parsing: s)!.ipv4 }
    static func group(_ s: String) -> MulticastGroup { MulticastGroup(parsing: s)! }
    static func ip6(_ s: String) -> (UInt64, UInt64) { let g = MulticastGroup(parsing: s)!; return (g.high, g.low) }

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    static func be64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) } }

    static func checksum(_ b: [UInt8], initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var i = 0
        while i + 1 < b.count { sum += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
        if i < b.count { sum += UInt32(b[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func ethernet(dst: MACAddress, type: UInt16, src: MACAddress = host) -> [UInt8] {
        dst.octets + src.octets + be16(Int(type))
    }

    /// An IPv4 frame carrying `payload` with protocol `proto`; checksums filled in.
    static func ipv4Frame(src: String, dst: String, proto: UInt8 = 2, payload: [UInt8], routerAlert: Bool = true, ttl: UInt8 = 1, padTo: Int = 60) -> [UInt8] {
        let d = ip4(dst)
        let mac = MulticastGroup(ipv4: d).isMulticast ? MulticastGroup(ipv4: d).ethernetAddress : MACAddress(rawValue: 0x0200_0000_0001)
        let ihl = routerAlert ? 24 : 20
        var ip: [UInt8] = [UInt8(0x40 | ihl / 4), 0xC0] + be16(ihl + payload.count) + [0, 0, 0, 0, ttl, proto, 0, 0]
        ip += be32(ip4(src)) + be32(d)
        if routerAlert { ip += [0x94, 0x04, 0, 0] }
        let c = checksum(ip)
        ip[10] = UInt8(c >> 8); ip[11] = UInt8(c & 0xFF)
        var f = ethernet(dst: mac, type: 0x0800) + ip + payload
        while f.count < padTo { f.append(0) }  // Ethernet padding: not part of the datagram
        return f
    }

    /// An IGMP message: type, code, group, then `extra`; checksum filled in.
    static func igmp(type: UInt8, code: UInt8 = 0, group: String, extra: [UInt8] = []) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0] + be32(ip4(group)) + extra
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }

    static func igmpv2Report(_ g: String, src: String = "198.18.0.2") -> [UInt8] {
        ipv4Frame(src: src, dst: g, payload: igmp(type: 0x16, group: g))
    }
    static func igmpv1Report(_ g: String, src: String = "198.18.0.2") -> [UInt8] {
        ipv4Frame(src: src, dst: g, payload: igmp(type: 0x12, group: g), routerAlert: false)
    }
    static func igmpLeave(_ g: String, src: String = "198.18.0.2") -> [UInt8] {
        ipv4Frame(src: src, dst: "224.0.0.2", payload: igmp(type: 0x17, group: g))
    }
    static func igmpQuery(src: String, group: String? = nil, maxResponseTenths: UInt8 = 100) -> [UInt8] {
        ipv4Frame(src: src, dst: group ?? "224.0.0.1", payload: igmp(type: 0x11, code: maxResponseTenths, group: group ?? "0.0.0.0"))
    }
    /// IGMPv3 report with records (type, group, sources).
    static func igmpv3Report(_ records: [(UInt8, String, [String])], src: String = "198.18.0.2") -> [UInt8] {
        var body: [UInt8] = []
        for (t, g, sources) in records {
            body += [t, 0] + be16(sources.count) + be32(ip4(g))
            for s in sources { body += be32(ip4(s)) }
        }
        var m: [UInt8] = [0x22, 0, 0, 0, 0, 0] + be16(records.count) + body
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return ipv4Frame(src: src, dst: "224.0.0.22", payload: m)
    }

    /// An IPv6 frame with a hop-by-hop Router Alert header (unless `hopByHop` is false) and an
    /// ICMPv6 message whose checksum is filled in.
    static func ipv6Frame(src: String, dst: String, icmp: [UInt8], hopByHop: Bool = true, hopLimit: UInt8 = 1) -> [UInt8] {
        var m = icmp
        let (sh, sl) = ip6(src), (dh, dl) = ip6(dst)
        let addresses = be64(sh) + be64(sl) + be64(dh) + be64(dl)
        var pseudo: UInt32 = 0
        for i in stride(from: 0, to: 32, by: 2) { pseudo += UInt32(addresses[i]) << 8 | UInt32(addresses[i + 1]) }
        pseudo += UInt32(m.count) + 58
        let c = checksum(m, initial: pseudo)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        let ext: [UInt8] = hopByHop ? [58, 0, 5, 2, 0, 0, 1, 0] : []
        let ip: [UInt8] = [0x60, 0, 0, 0] + be16(ext.count + m.count) + [hopByHop ? 0 : 58, hopLimit] + addresses
        return ethernet(dst: MulticastGroup(ipv6High: dh, low: dl).ethernetAddress, type: 0x86DD) + ip + ext + m
    }

    static func mld(type: UInt8, group: String, maxDelay: Int = 0, extra: [UInt8] = []) -> [UInt8] {
        let (gh, gl) = ip6(group)
        return [type, 0, 0, 0] + be16(maxDelay) + [0, 0] + be64(gh) + be64(gl) + extra
    }
    static func mldv1Report(_ g: String, src: String = "fe80::2") -> [UInt8] { ipv6Frame(src: src, dst: g, icmp: mld(type: 131, group: g)) }
    static func mldDone(_ g: String, src: String = "fe80::2") -> [UInt8] { ipv6Frame(src: src, dst: "ff02::2", icmp: mld(type: 132, group: g)) }
    static func mldQuery(src: String, group: String? = nil, maxDelay: Int = 10_000, v2: Bool = false) -> [UInt8] {
        ipv6Frame(src: src, dst: group ?? "ff02::1", icmp: mld(type: 130, group: group ?? "::", maxDelay: maxDelay, extra: v2 ? [2, 125, 0, 0] : []))
    }
    static func mldv2Report(_ records: [(UInt8, String, [String])], src: String = "fe80::2") -> [UInt8] {
        var m: [UInt8] = [143, 0, 0, 0, 0, 0] + be16(records.count)
        for (t, g, sources) in records {
            let (gh, gl) = ip6(g)
            m += [t, 0] + be16(sources.count) + be64(gh) + be64(gl)
            for s in sources { let (h, l) = ip6(s); m += be64(h) + be64(l) }
        }
        return ipv6Frame(src: src, dst: "ff02::16", icmp: m)
    }
}

/// A clock the test advances.
struct TestClock {
    var now = Timestamp(milliseconds: 1_000_000)
    mutating func advance(ms: UInt64) { now = now.adding(milliseconds: ms) }
    mutating func advance(seconds: Double) { now = now.adding(milliseconds: UInt64(seconds * 1000)) }
}
