// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MulticastSupport: the hosts' side of the multicast tests. Membership is the hosts' own
// kernels' business (a socket joined with IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP makes the kernel
// send IGMP/MLD reports and answer queries; closing it sends the leave), so every host runs
// small Python programs:
// - `receiver`: joins a group and prints "count N" per datagram (the application's view);
// - `counter`: an AF_PACKET socket on eth0 counting UDP datagrams to the test port by
//   destination group — what the interface saw, joined or not — until a marker datagram to the
//   link-local group 224.0.0.250 (always flooded) arrives: frames of one sender leave the bridge
//   in order, so once the marker is seen everything sent before it has been delivered or not;
// - `sender`: N datagrams to a group, then the marker;
// - `hostile`: hand-made IGMP frames for the malformed-input test only.
// Every program is bounded in time and count.

import Foundation
import LabKit

enum MulticastScripts {
    static let receiver = #"""
        import socket, struct, sys, time, select
        fam, group, local, port, secs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        if fam == "4":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
            s.bind((group, port))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(local)))
        else:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
            s.bind((group, port))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", socket.if_nametoindex(local)))
        print("joined", flush=True)
        n, end = 0, time.time() + secs
        while time.time() < end:
            r, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if r:
                s.recv(2048)
                n += 1
                print("count", n, flush=True)
        """#

    static let counter = #"""
        import socket, sys, time, json, select
        iface, secs, port = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
        s.bind((iface, 0))
        print("ready", flush=True)
        counts, marker, end = {}, False, time.time() + secs
        while not marker and time.time() < end:
            r, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if not r:
                continue
            data, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
                continue
            et = int.from_bytes(data[12:14], "big")
            if et == 0x0800 and len(data) >= 42 and data[23] == 17:
                ihl = (data[14] & 15) * 4
                dst = socket.inet_ntop(socket.AF_INET, data[30:34])
                dport = int.from_bytes(data[14 + ihl + 2:14 + ihl + 4], "big")
            elif et == 0x86DD and len(data) >= 62 and data[20] == 17:
                dst = socket.inet_ntop(socket.AF_INET6, data[38:54])
                dport = int.from_bytes(data[56:58], "big")
            else:
                continue
            if dport == port + 1 and dst == "224.0.0.250":
                marker = True
            elif dport == port:
                counts[dst] = counts.get(dst, 0) + 1
        print(json.dumps({"marker": marker, "counts": counts}), flush=True)
        """#

    static let sender = #"""
        import socket, sys
        fam, local4, ifname, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        groups = sys.argv[6:]
        for group in groups:
            if fam == "4":
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local4))
                dest = (group, port)
            else:
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                idx = socket.if_nametoindex(ifname)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
                dest = (group, port, 0, idx)
            for i in range(count):
                s.sendto(b"swbridge-mcast-%06d" % i, dest)
        m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        m.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local4))
        m.sendto(b"end", ("224.0.0.250", port + 1))
        print("sent", count * len(groups), flush=True)
        """#

    /// Hand-made IGMP frames from an AF_PACKET socket: `truncated N`, `badsum N`, `flood N`
    /// (N v2 reports, each for another group 239.x.y.z), `report GROUP` (one valid v2 report).
    static let hostile = #"""
        import socket, sys, struct
        iface, kind, arg = sys.argv[1], sys.argv[2], sys.argv[3]
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        src = open("/sys/class/net/%s/address" % iface).read().strip()
        srcmac = bytes(int(x, 16) for x in src.split(":"))
        def csum(b):
            if len(b) % 2: b += b"\0"
            t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
            while t >> 16: t = (t & 0xFFFF) + (t >> 16)
            return (~t) & 0xFFFF
        def frame(group, bad=False, truncate=None):
            g = socket.inet_aton(group)
            igmp = struct.pack("!BBH4s", 0x16, 0, 0, g)
            c = csum(igmp) ^ (0x5555 if bad else 0)
            igmp = struct.pack("!BBH4s", 0x16, 0, c, g)
            ip = struct.pack("!BBHHHBBH4s4s", 0x46, 0xC0, 32, 0, 0, 1, 2, 0, socket.inet_aton("198.18.0.1"), g) + b"\x94\x04\x00\x00"
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
            dst = bytes([1, 0, 0x5E, g[1] & 0x7F, g[2], g[3]])
            f = dst + srcmac + b"\x08\x00" + ip + igmp
            return f[:truncate] if truncate else f
        n = 0
        if kind == "report":
            s.send(frame(arg)); n = 1
        elif kind == "truncated":
            for i in range(int(arg)):
                s.send(frame("239.9.9.9", truncate=14 + 24 + 4)); n += 1
        elif kind == "badsum":
            for i in range(int(arg)):
                s.send(frame("239.9.9.9", bad=True)); n += 1
        elif kind == "flood":
            for i in range(int(arg)):
                g = "239.%d.%d.%d" % (100 + (i >> 16) % 100, (i >> 8) & 255, i & 255)
                while True:
                    try:
                        s.send(frame(g)); break
                    except BlockingIOError:
                        pass
                n += 1
        print("sent", n, flush=True)
        """#
}

/// What a host's interface saw, from `MulticastScripts.counter`.
struct InterfaceCounts {
    var marker: Bool
    var counts: [String: Int]
    func count(_ group: String) -> Int { counts[group] ?? 0 }
}

extension Lab {
    /// Starts the interface counter on `interface` in `ns` (UDP port `port`); returns once it listens.
    func startCounter(in ns: String, interface: String = "eth0", port: Int, seconds: Int = 60) throws -> LoggedProcess {
        let p = try LoggedProcess(["python3", "-c", MulticastScripts.counter, interface, "\(seconds)", "\(port)"], in: ns)
        try p.waitForOutput("ready")
        return p
    }

    /// The counter's result once it has seen the marker (or its time ran out).
    func counterResult(_ p: LoggedProcess, timeout: Duration = .seconds(60)) throws -> InterfaceCounts {
        let done = waitUntil(timeout: timeout) { p.standardOutput.contains("\"marker\"") }
        guard done, let line = p.standardOutput.split(separator: "\n").last(where: { $0.contains("\"marker\"") }),
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw HarnessError("interface counter gave no result: \(p.standardOutput) \(p.standardError)") }
        return InterfaceCounts(marker: obj["marker"] as? Bool ?? false, counts: obj["counts"] as? [String: Int] ?? [:])
    }

    /// A process in `ns` holding membership of `group` (IPv4: via `local`, IPv6: via eth0)
    /// until stopped; returns once it joined.
    func joinGroup(_ group: String, in ns: String, local: String, port: Int, seconds: Int = 90) throws -> LoggedProcess {
        let ipv6 = group.contains(":")
        let p = try LoggedProcess(["python3", "-c", MulticastScripts.receiver, ipv6 ? "6" : "4", group, ipv6 ? "eth0" : local,
                                   "\(port)", "\(seconds)"], in: ns)
        try p.waitForOutput("joined")
        return p
    }

    /// Sends `count` datagrams to each group from `ns`, then the marker; throws unless it exits 0.
    func sendMulticast(from ns: String, local: String, groups: [String], count: Int, port: Int) throws {
        let ipv6 = groups.first?.contains(":") ?? false
        try mustRun(["python3", "-c", MulticastScripts.sender, ipv6 ? "6" : "4", local, "eth0", "\(port)", "\(count)"] + groups,
                    in: ns, timeout: .seconds(60))
    }

    /// Turns IPv6 on in `ns` (the lab turns it off) without duplicate address detection, and
    /// waits for eth0's link-local address (MLD reports need it).
    func enableIPv6(in ns: String) throws {
        for key in ["all", "default", "eth0"] {
            try mustRun(["sysctl", "-q", "-w", "net.ipv6.conf.\(key).accept_dad=0"], in: ns)
            try mustRun(["sysctl", "-q", "-w", "net.ipv6.conf.\(key).disable_ipv6=0"], in: ns)
        }
        let ok = try waitUntil(timeout: .seconds(20)) {
            let out = try mustRun(["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"], in: ns).standardOutput
            return out.contains("fe80") && !out.contains("tentative")
        }
        guard ok else { throw HarnessError("no IPv6 link-local address on eth0 in \(ns)") }
    }

    /// Forces the IGMP (4) or MLD (6) version the host's kernel speaks (0: its default).
    func forceVersion(in ns: String, ipv6: Bool, _ version: Int) throws {
        for key in ["all", "eth0"] {
            let path = ipv6 ? "net.ipv6.conf.\(key).force_mld_version" : "net.ipv4.conf.\(key).force_igmp_version"
            try mustRun(["sysctl", "-q", "-w", "\(path)=\(version)"], in: ns)
        }
    }
}
