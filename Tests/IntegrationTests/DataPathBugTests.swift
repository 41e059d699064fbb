// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Regression tests for the data-path bugs of issue "Sound foundations" that need the kernel:
// ring slots given back while the caller still holds their frames (the Port contract), the
// MTU of a renamed interface, and PACKET_FANOUT group ids of two bridges side by side. Each
// failed before its fix. Each test owns its lab (random name prefix) and tears it down on
// every path; every wait polls for a state with a deadline.

import BridgeCore
import Foundation
import LabKit
import PacketIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Data-path bugs", .serialized)
struct DataPathBugIntegrationTests {
    /// Receives (without releasing) until `count` frames are held or `deadline` passes.
    static func receiveHeld(_ port: AFPacketPort, count: Int, deadline: Duration) -> [ReceivedFrame] {
        var held: [ReceivedFrame] = []
        var room = [ReceivedFrame](repeating: ReceivedFrame(bytes: UnsafeRawBufferPointer(start: nil, count: 0), port: 0), count: 64)
        let end = ContinuousClock.now + deadline
        while held.count < count && ContinuousClock.now < end {
            var p = pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 20)
            let n = room.withUnsafeMutableBufferPointer { port.receive(into: UnsafeMutableBufferPointer(rebasing: $0[0..<min(64, count - held.count)]), port: 0) }
            held += room[0..<n]
        }
        return held
    }

    @Test("a receive that returns nothing keeps the slots of frames still held (V2 ring)", .privileged, .timeLimit(.minutes(3)))
    func emptyReceiveKeepsHeldSlots() throws {
        let topo = try BridgeLab()
        // One block of 34 slots: small enough to fill, so the kernel wraps onto held slots.
        var c = AFPacketPort.Configuration()
        c.blockSize = 69_632
        c.frameCount = 2
        c.frameSize = 2048
        let port = try topo.lab.withNetworkNamespace(topo.br) { try AFPacketPort(interface: topo.brIf[0], configuration: c) }
        defer { port.close() }
        let slots = port.ringGeometry.slotCount
        #expect(slots == 34)
        let sender = try topo.lab.withNetworkNamespace(topo.h1) { try HostPacketSocket(interface: topo.h1If) }
        let src = WireFrame.mac(1, 1)
        for i in 0..<slots { try sender.send(.make(dst: WireFrame.broadcast, src: src, marker: "first-\(i)")) }
        let held = Self.receiveHeld(port, count: slots, deadline: .seconds(10))
        try #require(held.count == slots, "received \(held.count) of \(slots)")
        let copies = held.map { Array($0.bytes) }

        // Every slot is held: nothing more to hand out. The contract: the held frames stay valid.
        var room = [ReceivedFrame](repeating: held[0], count: 8)
        #expect(room.withUnsafeMutableBufferPointer { port.receive(into: $0, port: 0) } == 0)

        // More frames: a ring that gave the held slots back would write them over the held frames.
        for i in 0..<slots { try sender.send(.make(dst: WireFrame.broadcast, src: src, marker: "second-\(i)")) }
        let end = ContinuousClock.now + .seconds(10)
        var seen: UInt64 = 0
        repeat {
            seen = port.statistics().kernelPackets  // frames the socket saw, dropped ones included
        } while seen < UInt64(2 * slots) && ContinuousClock.now < end && poll(nil, 0, 5) == 0
        try #require(seen >= UInt64(2 * slots), "the kernel saw \(seen) frames")
        let overwritten = held.indices.filter { !held[$0].bytes.elementsEqual(copies[$0]) }
        #expect(overwritten.isEmpty, "\(overwritten.count) held frames were overwritten after an empty receive")
        #expect(port.statistics().kernelDrops >= UInt64(slots))
        port.releaseReceived()
    }

    @Test("a receive that returns nothing keeps the blocks of frames still held (V3 ring)", .privileged, .timeLimit(.minutes(3)))
    func emptyReceiveKeepsHeldBlocks() throws {
        let topo = try BridgeLab()
        // Two blocks, retired after 1 ms: every lone frame closes its block.
        var c = AFPacketPort.Configuration()
        c.ringVersion = .v3
        c.blockSize = 69_632
        c.blockCount = 2
        let port = try topo.lab.withNetworkNamespace(topo.br) { try AFPacketPort(interface: topo.brIf[0], configuration: c) }
        defer { port.close() }
        let sender = try topo.lab.withNetworkNamespace(topo.h1) { try HostPacketSocket(interface: topo.h1If) }
        let src = WireFrame.mac(1, 1)
        // A fills block 0; then a receive that finds nothing (block 1 is empty).
        try sender.send(.make(dst: WireFrame.broadcast, src: src, marker: "A"))
        let a = Self.receiveHeld(port, count: 1, deadline: .seconds(10))
        try #require(a.count == 1)
        let copy = Array(a[0].bytes)
        var room = [ReceivedFrame](repeating: a[0], count: 8)
        #expect(room.withUnsafeMutableBufferPointer { port.receive(into: $0, port: 0) } == 0)
        // B fills block 1, and is received too: both blocks are held now.
        try sender.send(.make(dst: WireFrame.broadcast, src: src, marker: "B"))
        let b = Self.receiveHeld(port, count: 1, deadline: .seconds(10))
        try #require(b.count == 1)
        // C: a ring that gave block 0 back at the empty receive would write C over A.
        try sender.send(.make(dst: WireFrame.broadcast, src: src, marker: "C"))
        let end = ContinuousClock.now + .seconds(10)
        var seen: UInt64 = 0
        repeat {
            seen = port.statistics().kernelPackets
        } while seen < 3 && ContinuousClock.now < end && poll(nil, 0, 5) == 0
        try #require(seen >= 3, "the kernel saw \(seen) frames")
        #expect(a[0].bytes.elementsEqual(copy), "the held frame A was overwritten after an empty receive")
        port.releaseReceived()
    }

    @Test("TX bytes are those of the frames sent, when a frame in the middle is skipped", .privileged, .timeLimit(.minutes(3)))
    func transmitReportsTheFramesThatWent() throws {
        let topo = try BridgeLab()
        let port = try topo.lab.withNetworkNamespace(topo.br) { try AFPacketPort(interface: topo.brIf[0]) }
        defer { port.close() }
        // 60 and 70 bytes go; 1,600 bytes without GSO metadata is over the 1,500-byte MTU.
        let frames = [60, 1_600, 70].map { n in
            WireFrame.make(dst: WireFrame.mac(9, 9), src: WireFrame.mac(1, 1), marker: "len\(n)").bytes + [UInt8](repeating: 0, count: n - 60)
        }
        let storage = frames.map { f -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: f.count, alignment: 16)
            p.copyBytes(from: f)
            return p
        }
        defer { for p in storage { p.deallocate() } }
        let egress = storage.map { EgressFrame(bytes: UnsafeRawBufferPointer($0), encoding: .asIs) }
        let result = egress.withUnsafeBufferPointer { port.transmitReporting($0) }
        #expect(result == TransmitResult(frames: 2, bytes: 130))
        #expect(port.statistics().transmitDroppedOversize == 1)
    }

    @Test("the MTU follows the interface the socket is bound to through a rename", .privileged, .timeLimit(.minutes(3)))
    func mtuFollowsTheIfindex() throws {
        let topo = try BridgeLab()
        let port = try topo.lab.withNetworkNamespace(topo.br) { try AFPacketPort(interface: topo.brIf[1]) }
        defer { port.close() }
        #expect(port.mtu == 1500)
        let renamed = try topo.lab.interfaceName("rn")
        // A rename needs the link down.
        try topo.lab.mustRun(["ip", "link", "set", topo.brIf[1], "down"], in: topo.br)
        try topo.lab.mustRun(["ip", "link", "set", topo.brIf[1], "name", renamed, "mtu", "1400"], in: topo.br)
        try topo.lab.mustRun(["ip", "link", "set", renamed, "up"], in: topo.br)
        try topo.lab.withNetworkNamespace(topo.br) {
            #expect(throws: PacketIOError.noSuchInterface(topo.brIf[1])) { _ = try Interface.index(of: topo.brIf[1]) }
            #expect(Interface.exists(index: port.interfaceIndex))
            #expect(try Interface.name(ofIndex: port.interfaceIndex) == renamed)
            try port.refreshMTU()
        }
        #expect(port.mtu == 1400)
        // Gone for good: the index no longer exists, and refreshing says so.
        try topo.lab.mustRun(["ip", "link", "del", renamed], in: topo.br)
        try topo.lab.withNetworkNamespace(topo.br) {
            #expect(!Interface.exists(index: port.interfaceIndex))
            #expect(throws: PacketIOError.self) { try port.refreshMTU() }
        }
    }

    @Test("sockets of one fanout group share a kernel-assigned id; two groups never collide", .privileged, .timeLimit(.minutes(3)))
    func fanoutGroupsAreKernelAssigned() throws {
        let topo = try BridgeLab()
        let groups = try topo.lab.withNetworkNamespace(topo.br) {
            try topo.brIf.map { try AFPacketPort.openFanoutGroup(interface: $0, count: 3) }
        }
        defer { for g in groups { for p in g { p.close() } } }
        let ids = groups.map { Set($0.map(\.fanoutGroupID)) }
        #expect(ids.allSatisfy { $0.count == 1 && !$0.contains(nil) }, "\(ids)")
        #expect(ids[0] != ids[1])
        // One socket: no group.
        let single = try topo.lab.withNetworkNamespace(topo.br) { try AFPacketPort.openFanoutGroup(interface: topo.brIf[0], count: 1) }
        #expect(single.count == 1 && single[0].fanoutGroupID == nil)
        single[0].close()
    }

    /// A wrapper that runs swbridge as PID 1 of a new PID namespace (same network namespace),
    /// so two bridges have the same process id: ids derived from it collide every time.
    static func samePIDWrapper(_ binary: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/swbridge-pid1-\(UInt32.random(in: 0...UInt32.max)).sh"
        let script = "#!/bin/sh\nexec unshare --pid --fork --kill-child=TERM '\(binary)' \"$@\"\n"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        guard chmod(path, 0o755) == 0 else { throw HarnessError("chmod \(path): errno \(errno)") }
        return path
    }

    /// The swbridge process under the wrapper's `unshare` (its PID in our namespace).
    static func child(of pid: Int32) -> Int32? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.flatMap { Int32($0) }
    }

    /// Stops a bridge started through the wrapper: swbridge itself first (SIGTERM, then
    /// SIGKILL), by PID, then the wrapper.
    static func stop(_ b: SwbridgeProcess, child: Int32?) {
        if let c = child {
            for sig in [SIGTERM, SIGKILL] {
                _ = kill(c, sig)
                let end = ContinuousClock.now + .seconds(3)
                while access("/proc/\(c)/task", F_OK) == 0 && ContinuousClock.now < end && poll(nil, 0, 5) == 0 {}
                if access("/proc/\(c)/task", F_OK) != 0 { break }
            }
        }
        b.kill()
        if !b.isRunning { try? FileManager.default.removeItem(atPath: b.socketPath) }
    }

    @Test("two bridges with --threads 2 side by side both open their ports and forward", .privileged, .timeLimit(.minutes(2)))
    func twoMultiThreadedBridgesSideBySide() throws {
        try withSwbridgeLab(hosts: 4) { topo in
            let wrapper = try Self.samePIDWrapper(topo.binary)
            defer { try? FileManager.default.removeItem(atPath: wrapper) }
            let a = try SwbridgeProcess(binary: wrapper, name: topo.name + "a", namespace: topo.br,
                                        arguments: ["--port", topo.ports[0], "--port", topo.ports[1], "--threads", "2"])
            let aChild = Self.child(of: a.pid)
            defer { Self.stop(a, child: aChild) }
            // Before the fix this one failed to open its first port: the same PID gave the same
            // group id as bridge a's first port, on another interface (EINVAL).
            let b = try SwbridgeProcess(binary: wrapper, name: topo.name + "b", namespace: topo.br,
                                        arguments: ["--port", topo.ports[2], "--port", topo.ports[3], "--threads", "2"])
            let bChild = Self.child(of: b.pid)
            defer { Self.stop(b, child: bChild) }
            #expect(aChild != nil && bChild != nil)
            let viaA = try topo.ping(from: 0, to: 1, count: 3)
            let viaB = try topo.ping(from: 2, to: 3, count: 3)
            #expect(viaA.allAnswered, "\(viaA): \(viaA.output)")
            #expect(viaB.allAnswered, "\(viaB): \(viaB.output)")
            #expect(a.isRunning && b.isRunning, "\(a.standardError)\(b.standardError)")
        }
    }
}
