// AFPacketPort against the real kernel: two hosts in their own namespaces, joined through a
// Forwarder running on two AFPacketPorts in a third. Shows ping, VLAN tags surviving the
// kernel's strip-on-receive (802.1Q and 802.1ad, sent from AF_PACKET sockets since there is
// no 8021q module), and a large TCP transfer with veth's default offloads (GSO super-frames,
// CHECKSUM_PARTIAL) arriving with no checksum errors. Each test owns a Lab with a random name
// prefix and tears it down on every path; each is bounded by command timeouts.

import BridgeCore
import Foundation
import LabKit
import PacketIO
import Testing

@Suite("AFPacketPort", .serialized)
struct AFPacketPortTests {
    @Test("an unknown interface name is a thrown error")
    func unknownInterface() throws {
        #expect(throws: PacketIOError.noSuchInterface("swbnosuch0")) {
            _ = try AFPacketPort(interface: "swbnosuch0")
        }
        #expect(PacketIOError.noSuchInterface("swbnosuch0").description == "no such interface 'swbnosuch0'")
        #expect(throws: PacketIOError.noSuchInterface("x")) { _ = try Interface.mtu(of: "x") }
    }

    @Test("a port opened through a setns thread lives in the lab namespace", .privileged, .timeLimit(.minutes(1)))
    func portInNamespace() throws {
        let topo = try BridgeLab()
        let ports = try topo.openBridgePorts()
        // The bridge-side names exist only in the bridge namespace, not where the test runs.
        #expect(throws: PacketIOError.noSuchInterface(topo.brIf[0])) { _ = try Interface.index(of: topo.brIf[0]) }
        let seen = try topo.lab.withNetworkNamespace(topo.br) {
            try topo.brIf.map { try Interface.index(of: $0) }
        }
        #expect(ports.map(\.interfaceIndex) == seen)
        let (mtu, names) = try topo.lab.withNetworkNamespace(topo.br) {
            (try Interface.mtu(of: topo.brIf[0]), try Interface.all().map(\.name))
        }
        #expect(mtu == 1500)
        #expect(Set(names).isSuperset(of: topo.brIf + ["lo"]))
        // The operational state follows the carrier through linkwatch, which lags by up to 1 s.
        var state = (adminUp: false, operationalUp: false)
        for _ in 0..<40 where !state.operationalUp {
            state = try topo.lab.withNetworkNamespace(topo.br) { try Interface.state(of: topo.brIf[0]) }
            if !state.operationalUp { usleep(50_000) }
        }
        #expect(state.adminUp && state.operationalUp)
        // Promiscuity is a membership of the socket (a count, not the IFF_PROMISC user flag):
        // it comes with the socket and goes with it.
        let before = try topo.lab.mustRun(["ip", "-d", "link", "show", topo.brIf[0]], in: topo.br).standardOutput
        #expect(before.contains("promiscuity 1"), "\(before)")
        for p in ports { p.close() }
        let after = try topo.lab.mustRun(["ip", "-d", "link", "show", topo.brIf[0]], in: topo.br).standardOutput
        #expect(after.contains("promiscuity 0"), "\(after)")
    }

    @Test("ping crosses the bridge", .privileged, .timeLimit(.minutes(1)))
    func ping() throws {
        let topo = try BridgeLab()
        let ports = try topo.openBridgePorts()
        let loop = try topo.startForwarding(ports, maxDuration: .seconds(50))
        defer { loop.stop() }
        let r = try topo.lab.run(["ping", "-c", "200", "-i", "0.01", "-W", "1", "-q", BridgeLab.h2Address], in: topo.h1, timeout: .seconds(30))
        #expect(r.status == 0, "\(r.standardOutput)\(r.standardError)")
        #expect(r.standardOutput.contains(" 0% packet loss"), "\(r.standardOutput)")
        let rtt = r.standardOutput.split(separator: "\n").first { $0.hasPrefix("rtt") } ?? "no rtt line"
        print("ping through AFPacketPort forwarder (retire timeout 1 ms): \(rtt)")
        loop.stop()
        print("bridge ports: \(ports.map { "\($0.name): \($0.statistics())" })")
        #expect(ports.allSatisfy { $0.statistics().kernelDrops == 0 })
    }

    @Test("802.1Q and 802.1ad tags arrive intact", .privileged, .timeLimit(.minutes(1)))
    func vlanTags() throws {
        let topo = try BridgeLab()
        let ports = try topo.openBridgePorts()
        let loop = try topo.startForwarding(ports, maxDuration: .seconds(50))
        defer { loop.stop() }
        // Plain AF_PACKET sockets (no vnet header) on the host ends: one sends, one captures.
        var plain = AFPacketPort.Configuration()
        plain.vnetHeader = false
        let sender = try topo.lab.withNetworkNamespace(topo.h1) { try AFPacketPort(interface: topo.h1If, configuration: plain) }
        let receiver = try topo.lab.withNetworkNamespace(topo.h2) { try AFPacketPort(interface: topo.h2If, configuration: plain) }

        let frames: [[UInt8]] = [
            TestFrames.make(tags: [(0x8100, 0x2064)], etherType: 0x0800, payload: 46, seed: 1),  // 802.1Q VID 100 PCP 1
            TestFrames.make(tags: [(0x88A8, 0x00C8)], etherType: 0x0800, payload: 46, seed: 2),  // 802.1ad VID 200
            TestFrames.make(tags: [(0x88A8, 0x012C), (0x8100, 0x000A)], etherType: 0x0800, payload: 60, seed: 3),  // QinQ
            TestFrames.make(tags: [(0x8100, 0x0000)], etherType: 0x0806, payload: 28, seed: 4),  // priority tag
            TestFrames.make(tags: [], etherType: 0x88B5, payload: 100, seed: 5),  // untagged
        ]
        let sent = frames.withEgressFrames { sender.transmit($0) }
        #expect(sent == frames.count, "\(sender.statistics())")

        var got: [[UInt8]] = []
        let slots = UnsafeMutableBufferPointer<ReceivedFrame>.allocate(capacity: 64)
        defer { slots.deallocate() }
        let deadline = ContinuousClock.now + .seconds(5)
        while got.count < frames.count && ContinuousClock.now < deadline {
            var p = pollfd(fd: receiver.fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 20)
            let n = receiver.receive(into: slots, port: 0)
            for i in 0..<n { got.append(Array(slots[i].bytes)) }
            receiver.releaseReceived()
        }
        // Only our frames cross (IPv6 is off, nobody else speaks), in order, byte for byte.
        #expect(got == frames)
        #expect(receiver.statistics().vlanTagsReinserted == 4)
        loop.stop()
        #expect(ports[0].statistics().vlanTagsReinserted == 4)
    }

    @Test("TCP with default veth offloads: 1 GiB, no checksum errors", .privileged, .timeLimit(.minutes(2)))
    func tcpWithOffloads() throws {
        let topo = try BridgeLab()
        let features = try topo.lab.mustRun(["ethtool", "-k", topo.h1If], in: topo.h1).standardOutput
        #expect(features.contains("tcp-segmentation-offload: on"))
        let ports = try topo.openBridgePorts()
        let loop = try topo.startForwarding(ports, maxDuration: .seconds(90))
        defer { loop.stop() }
        try topo.lab.spawn(["iperf3", "-s", "-1", "-B", BridgeLab.h2Address], in: topo.h2)
        var result: CommandResult? = nil
        for _ in 0..<50 {  // the server needs a moment to listen
            let r = try topo.lab.run(
                ["iperf3", "-c", BridgeLab.h2Address, "-n", "1G", "-J", "--connect-timeout", "2000"], in: topo.h1,
                timeout: .seconds(60))
            if r.status == 0 { result = r; break }
            if !r.standardOutput.contains("Connection refused") { result = r; break }
            usleep(100_000)
        }
        let r = try #require(result)
        #expect(r.status == 0, "\(r.standardOutput.prefix(2000))")
        let json = try JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as? [String: Any]
        let end = json?["end"] as? [String: Any]
        let received = end?["sum_received"] as? [String: Any]
        // The receiver's figure stops at its last interval; the sender's counts every byte.
        let bytes = (end?["sum_sent"] as? [String: Any])?["bytes"] as? Double ?? 0
        let receivedBytes = received?["bytes"] as? Double ?? 0
        let bps = received?["bits_per_second"] as? Double ?? 0
        let retransmits = (end?["sum_sent"] as? [String: Any])?["retransmits"] as? Int ?? -1
        #expect(bytes >= 1024 * 1024 * 1024)
        #expect(receivedBytes >= 1000 * 1000 * 1000)
        let errors = try TestFrames.tcpInCsumErrors(topo.lab, topo.h2)
        #expect(errors == 0)
        loop.stop()
        print("TCP through AFPacketPort forwarder: \(Int(bytes)) bytes at \(String(format: "%.2f", bps / 1e9)) Gbit/s, "
              + "\(retransmits) retransmits, TcpInCsumErrors \(errors)")
        print("bridge ports: \(ports.map { "\($0.name): \($0.statistics())" })")
    }
}

/// Frames and counters for the tests.
enum TestFrames {
    /// dst 02:..:02, src 02:..:01 (seeded), the given tags, EtherType and payload.
    static func make(tags: [(UInt16, UInt16)], etherType: UInt16, payload: Int, seed: UInt8) -> [UInt8] {
        var f: [UInt8] = [0x02, 0, 0, 0, seed, 0x02, 0x02, 0, 0, 0, seed, 0x01]
        for (tpid, tci) in tags { f += [UInt8(tpid >> 8), UInt8(tpid & 0xFF), UInt8(tci >> 8), UInt8(tci & 0xFF)] }
        f += [UInt8(etherType >> 8), UInt8(etherType & 0xFF)]
        f += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
        return f
    }

    /// Tcp InCsumErrors of /proc/net/snmp in namespace `ns`.
    static func tcpInCsumErrors(_ lab: Lab, _ ns: String) throws -> Int {
        let snmp = try lab.mustRun(["cat", "/proc/net/snmp"], in: ns).standardOutput
        let tcp = snmp.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }
        guard tcp.count == 2 else { return -1 }
        let names = tcp[0].split(separator: " ")
        let values = tcp[1].split(separator: " ")
        guard let i = names.firstIndex(of: "InCsumErrors"), i < values.count else { return -1 }
        return Int(values[i]) ?? -1
    }
}

extension Array where Element == [UInt8] {
    /// Calls `body` with EgressFrames (asIs) viewing these frames.
    func withEgressFrames<R>(_ body: (UnsafeBufferPointer<EgressFrame>) -> R) -> R {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: reduce(0) { $0 + $1.count }, alignment: 16)
        defer { storage.deallocate() }
        var egress: [EgressFrame] = []
        var offset = 0
        for f in self {
            f.withUnsafeBytes { (storage + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            egress.append(EgressFrame(bytes: UnsafeRawBufferPointer(start: storage + offset, count: f.count), encoding: .asIs))
            offset += f.count
        }
        return egress.withUnsafeBufferPointer(body)
    }
}
