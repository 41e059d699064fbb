// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MulticastTrial (`swbridge bench --trials multicast`): one sender (host 1), one group with one
// member (host 2, whose own kernel joins it with IP_ADD_MEMBERSHIP and answers the querier)
// among three hosts, and a host that did not join (host 3). Both bridges run their IGMP
// querier (the kernel bridge `mcast_snooping 1 mcast_querier 1`, swbridge `--mcast-querier`),
// since without a querier on the segment either floods every group. The trial first waits
// until the bridge restricts the group (probes of 20 datagrams until host 3 sees none, at most
// 40 s: the kernel floods for a query response interval after its querier starts), then sends
// N UDP datagrams as fast as one Python socket can and counts, on the hosts' interfaces (an
// AF_PACKET socket: whatever reached the interface), what was delivered to the member and what
// leaked to the non-member. A marker datagram to the always-flooded link-local group
// 224.0.0.250 ends each count: the frames of one sender leave a bridge in order. Bounded in
// count and time; the processes are the lab's and end with it.

import Foundation
import LabKit

enum MulticastTrial {
    static let group = "239.7.7.7"
    static let port = 5700

    static var hasPython3: Bool {
        (try? Lab.execute(["sh", "-c", "command -v python3"], timeout: .seconds(5)).status) == 0
    }

    static let member = #"""
        import socket, struct, sys, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(sys.argv[1]), socket.inet_aton(sys.argv[2])))
        print("joined", flush=True)
        time.sleep(float(sys.argv[3]))
        """#

    static let counter = #"""
        import socket, sys, time, json, select
        iface, secs, port, group = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)
        s.bind((iface, 0))
        print("ready", flush=True)
        n, first, last, marker, end = 0, 0.0, 0.0, False, time.time() + secs
        g = socket.inet_aton(group)
        while not marker and time.time() < end:
            r, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if not r:
                continue
            data, addr = s.recvfrom(2048)
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 38 or data[23] != 17:
                continue
            if data[30:34] == g:
                n += 1
                last = time.time()
                if n == 1: first = last
            elif data[30:34] == b"\xe0\x00\x00\xfa":
                marker = True
        print(json.dumps({"marker": marker, "count": n, "seconds": last - first}), flush=True)
        """#

    static let sender = #"""
        import socket, sys, time
        local, group, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
        payload = b"x" * 18
        t0 = time.time()
        for i in range(count):
            while True:
                try:
                    s.sendto(payload, (group, port)); break
                except BlockingIOError:
                    pass
        t1 = time.time()
        s.sendto(b"end", ("224.0.0.250", port + 1))
        print("%f" % (t1 - t0), flush=True)
        """#

    /// A process of the lab whose stdout goes to a file read while it runs.
    final class Captured {
        let process: ChildProcess
        let path: String
        init(_ arguments: [String], in ns: String) throws {
            path = FileManager.default.temporaryDirectory.path + "/swbridge-bench-mcast-\(UInt32.random(in: 0...UInt32.max)).out"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw BenchError.invalidOption("cannot create \(path)") }
            defer { close(fd) }
            process = try ChildProcess(["ip", "netns", "exec", ns] + arguments, standardOutput: fd)
        }
        deinit {
            if process.isRunning {
                process.terminate()
                _ = process.wait(timeout: .seconds(2))
            }
            unlink(path)
        }
        var output: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        /// Waits until the output contains `text` (false: exited first or timed out).
        func wait(for text: String, timeout: TimeInterval) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if output.contains(text) { return true }
                if !process.isRunning { return output.contains(text) }
                usleep(10_000)  // a poll interval
            }
            return false
        }
    }

    struct Count { var count: Int; var seconds: Double; var marker: Bool }

    /// Counts on hosts 2 and 3 while host 1 sends `count` datagrams; returns (sender seconds, counts).
    static func round(_ lab: CompareLab, count: Int) throws -> (Double, [Count]) {
        let counters = try [1, 2].map { h in
            try Captured(["python3", "-c", counter, "eth0", "60", "\(port)", group], in: lab.hostNamespaces[h])
        }
        for c in counters where !c.wait(for: "ready", timeout: 20) {
            throw BenchError.invalidOption("multicast trial: the interface counter did not start: \(c.output)")
        }
        let r = try lab.lab.mustRun(["python3", "-c", sender, lab.address(ofHost: 1), group, "\(port)", "\(count)"],
                                    in: lab.hostNamespaces[0], timeout: .seconds(120))
        let sendSeconds = Double(r.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        var counts: [Count] = []
        for c in counters {
            guard c.wait(for: "\"marker\"", timeout: 60),
                let line = c.output.split(separator: "\n").last(where: { $0.contains("\"marker\"") }),
                let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { throw BenchError.invalidOption("multicast trial: no count from a host: \(c.output)") }
            counts.append(Count(count: obj["count"] as? Int ?? 0, seconds: obj["seconds"] as? Double ?? 0,
                                marker: obj["marker"] as? Bool ?? false))
        }
        return (sendSeconds, counts)
    }

    /// The trial on the running bridge; `record` gets its values (and a note when the bridge
    /// never restricted the group).
    static func run(lab: CompareLab, quick: Bool, record: (String, [String: Double], String?) -> Void) throws {
        guard lab.hostCount >= 3 else { return }
        let member = try Captured(["python3", "-c", member, group, lab.address(ofHost: 2), "300"], in: lab.hostNamespaces[1])
        guard member.wait(for: "joined", timeout: 20) else { throw BenchError.invalidOption("multicast trial: host 2 did not join") }
        // Readiness: the bridge restricts the group once it knows a querier and the member.
        var restricted = false
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline {
            let (_, c) = try round(lab, count: 20)
            if c[0].count == 20 && c[1].count == 0 {
                restricted = true
                break
            }
            usleep(200_000)  // between probes
        }
        let n = quick ? 50_000 : 200_000
        let (sendSeconds, c) = try round(lab, count: n)
        let delivered = c[0], leaked = c[1]
        var values: [String: Double] = [
            "mcast_sent": Double(n), "mcast_delivered": Double(delivered.count), "mcast_leaked": Double(leaked.count),
            "mcast_offered_fps": sendSeconds > 0 ? Double(n) / sendSeconds : 0,
        ]
        if delivered.seconds > 0 { values["mcast_delivered_fps"] = Double(delivered.count) / delivered.seconds }
        var notes: [String] = []
        if !restricted { notes.append("the group was still flooded to the non-member after 40 s") }
        if !delivered.marker || !leaked.marker { notes.append("a marker datagram was lost: counts may be short") }
        record("multicast", values, notes.isEmpty ? nil : notes.joined(separator: "; "))
    }
}
