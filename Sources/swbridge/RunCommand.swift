// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge run`: parse options into BridgeOptions, start the bridge in the foreground, stop
// cleanly on SIGINT/SIGTERM and print the final statistics.
import ArgumentParser
import Foundation
import BridgeCore
import BridgeControl
import BridgeMetrics
import BridgeService
import SpanningTree
import Logging
import PacketIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Shell completion of interface names: the interfaces of the completing shell's namespace.
let interfaceNames = "ls /sys/class/net 2>/dev/null"

/// Set by the signal handler (an atomic store is async-signal-safe), polled by `run`.
let stopSignal = Atomic<Int32>(0)
/// Set by SIGHUP: re-apply the configuration file.
let reloadSignal = Atomic<Int32>(0)

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a bridge between interfaces, in the foreground, until SIGINT or SIGTERM.",
        discussion: """
            Example: swbridge run --name br0 --port veth1 --port veth2:hairpin --ageing 300
            Inspect it from another shell with `swbridge fdb show`, `swbridge link show`, `swbridge stats`.
            """)

    @Option(name: .long, help: "Bridge name: the control socket is /run/swbridge/NAME.sock.")
    var name: String = "br0"

    @Option(name: .customLong("port"), help: ArgumentHelp("A bridge port (repeat for each).", discussion: PortSpec.help),
            completion: .shellCommand(interfaceNames))
    var ports: [String] = []

    @Option(name: .long, help: "FDB ageing time in seconds (0: never).")
    var ageing: Int = 300

    @Option(name: .long, help: "Maximum learned FDB entries (static ones not counted).")
    var maxLearned: Int = 65_536

    @Option(name: .long, help: "Maximum static FDB entries.")
    var maxStatic: Int = 4_096

    @Flag(name: .long, help: "Forward by VLAN: per-port PVID, member and untagged VLANs.")
    var vlanFiltering = false

    @Option(name: .long, help: "VLAN protocol used by VLAN filtering: 802.1Q or 802.1ad.", completion: .list(["802.1Q", "802.1ad"]))
    var vlanProtocol: String = "802.1Q"

    @Option(name: .long, help: "Linux group_fwd_mask: bit N forwards 01:80:c2:00:00:0N (bits 0-2 never).")
    var groupFwdMask: String = "0"

    @Option(name: .long, help: "Forwarding threads (PACKET_FANOUT shares each port's traffic among them).")
    var threads: Int = 1

    @Flag(name: .long, help: "Busy-poll the rings instead of sleeping (lower latency, one full core per thread).")
    var busyPoll = false

    @Option(name: .long, help: "While traffic is continuous (wake-ups under 50 µs apart), keep checking the rings this many µs after the last frame before sleeping, while at least a fifth of the time goes to forwarding (0: never spin).")
    var spinUs: Int = BridgeOptions().spinMicroseconds

    @Option(name: .long, help: "Packet I/O of ports without a backend= option: af_packet (rings, offloads) or pcap (libpcap, portable; needs offloads off for TCP).",
            completion: .list(["af_packet", "pcap"]))
    var backend: String = "af_packet"

    @Option(name: .long, help: "RX ring: v2 (per-frame hand-over, lowest latency) or v3 (block hand-over).",
            completion: .list(["v2", "v3"]))
    var ring: String = "v2"

    @Option(name: .long, help: "V2 ring: frame slots per port (its depth, in frames of any size).")
    var ringFrames: Int = AFPacketPort.Configuration().frameCount

    @Option(name: .long, help: "V2 ring: bytes per slot; larger frames (GSO super-frames) are read from the socket queue. 65696 or more: every frame in its slot.")
    var ringFrameSize: Int = AFPacketPort.Configuration().frameSize

    @Option(name: .long, help: "TX ring: slots per port (PACKET_TX_RING) for frames up to 2,000 bytes, sent with one call per batch; larger frames and 0 (no ring) use sendmmsg.")
    var txRingFrames: Int = AFPacketPort.Configuration().transmitRingFrames

    @Option(name: .long, help: "PORT=FILE: write the frames entering and leaving PORT to a pcap file (repeatable).")
    var mirror: [String] = []

    @Flag(name: .long, help: "Keep root's capabilities (by default only CAP_NET_RAW is kept once the sockets are open).")
    var keepPrivileges = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.",
            completion: .list(["trace", "debug", "info", "notice", "warning", "error", "critical"]))
    var logLevel: String = "info"

    @Option(name: .long, help: ArgumentHelp(
        "Serve Prometheus metrics at http://ADDR:PORT/metrics (in the bridge's network namespace), e.g. 127.0.0.1:9477. Off by default.",
        valueName: "ADDR:PORT"))
    var metrics: String?

    @Option(name: .long, help: "Multicast snooping (IGMP/MLD), as the kernel's mcast_snooping: on (the default) or off (all multicast flooded).",
            completion: .list(["on", "off"]))
    var mcastSnooping: String?

    @Flag(name: .long, help: "Send IGMP/MLD general queries when no better querier is heard (the kernel's mcast_querier 1). Without any querier on the segment, multicast is flooded.")
    var mcastQuerier = false

    @Option(name: .long, help: "Seconds between the querier's general queries (default 125).")
    var mcastQueryInterval: Double?

    @Option(name: .long, help: "Max response time of general queries, seconds (default 10).")
    var mcastQueryResponseInterval: Double?

    @Option(name: .long, help: "Group-specific queries after a leave (default 2).")
    var mcastLastMemberCount: Int?

    @Option(name: .long, help: "Seconds between them, and their max response time (default 1).")
    var mcastLastMemberInterval: Double?

    @Option(name: .long, help: "IGMP version of the querier's queries: 2 (default) or 3.")
    var mcastIgmpVersion: Int?

    @Option(name: .long, help: "MLD version of the querier's queries: 1 (default) or 2.")
    var mcastMldVersion: Int?

    @Option(name: .long, help: "Most multicast groups (VLAN, group) snooping tracks; joins beyond are refused and counted (default 4096, the kernel's hash_max).")
    var mcastMaxGroups: Int?

    @Option(name: .long, help: "IPv4 source of IGMP queries (default 0.0.0.0, as the kernel's querier on a bridge without an address).")
    var mcastQuerierIpv4: String?

    @Option(name: .long, help: "IPv6 link-local source of MLD queries (default: the EUI-64 address of the bridge's MAC).")
    var mcastQuerierIpv6: String?

    /// The `--mcast-*` values as given.
    var multicastValues: MulticastOptionValues {
        var v = MulticastOptionValues()
        v.snooping = mcastSnooping
        v.querier = mcastQuerier ? true : nil
        v.queryInterval = mcastQueryInterval
        v.queryResponseInterval = mcastQueryResponseInterval
        v.lastMemberCount = mcastLastMemberCount
        v.lastMemberInterval = mcastLastMemberInterval
        v.igmpVersion = mcastIgmpVersion
        v.mldVersion = mcastMldVersion
        v.maxGroups = mcastMaxGroups
        v.querierIPv4 = mcastQuerierIpv4
        v.querierIPv6 = mcastQuerierIpv6
        return v
    }

    @Option(name: .long, help: .hidden)
    var runDir: String = ControlServer.defaultRunDirectory

    @Option(name: .long, help: ArgumentHelp("Spanning tree: rstp (802.1D-2004, falls back to STP per port where legacy BPDUs are heard), stp (802.1D-1998 timers), or off (default, as the kernel bridge).",
        valueName: "rstp|stp|off"), completion: .list(["rstp", "stp", "off"]))
    var stp: String = "off"

    @Option(name: .long, help: "Spanning tree: bridge priority, 0-61440 in steps of 4096 (default 32768; the lowest bridge id is root).")
    var stpPriority: UInt16?

    @Option(name: .long, help: "Spanning tree: seconds between BPDUs, 1-2 (default 2).")
    var helloTime: UInt16?

    @Option(name: .long, help: "Spanning tree: forward delay in seconds, 4-30 (default 15).")
    var forwardDelay: UInt16?

    @Option(name: .long, help: "Spanning tree: max age in seconds, 6-40 (default 20).")
    var maxAge: UInt16?

    @Option(name: .long, help: "Spanning tree: BPDUs a port may send per hello time, 1-10 (default 6).")
    var txHoldCount: UInt16?

    @Option(name: .long, help: ArgumentHelp(
        "A YAML file describing the bridge (name, ports, VLANs, static entries; keys like these options with underscores). `swbridge reload` or SIGHUP re-applies it.",
        valueName: "FILE"), completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    /// Every argument is checked here, after parsing and before `run` touches anything (no port
    /// opened, no socket, no capability dropped): a mistake is a usage error, exit code 64.
    func validate() throws {
        _ = try options()
        _ = try logLevelValue()
    }

    /// `--stp` and the bridge's timers, checked as 802.1D-2004 17.14 bounds them.
    func spanningTreeOptions() throws -> SpanningTreeBridgeConfiguration? {
        let version: ProtocolVersion
        switch stp.lowercased() {
        case "off", "0", "no": return nil
        case "rstp", "on": version = .rstp
        case "stp": version = .stp
        default: throw ValidationError("--stp must be rstp, stp or off")
        }
        var c = SpanningTreeBridgeConfiguration()
        c.protocolVersion = version
        if let v = stpPriority { c.priority = v }
        if let v = helloTime { c.helloTime = v }
        if let v = forwardDelay { c.forwardDelay = v }
        if let v = maxAge { c.maxAge = v }
        if let v = txHoldCount { c.transmitHoldCount = v }
        do { try c.validate() } catch { throw ValidationError("--stp: \(error)") }
        return c
    }

    /// The parsed `--log-level`.
    func logLevelValue() throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }

    /// The bridge's options from the arguments; throws `ValidationError` for any invalid one.
    /// Pure checks only (it reads the file system for mirror directories, writes nothing).
    func options() throws -> BridgeOptions {
        var o = BridgeOptions()
        do {
            _ = try ControlServer.socketPath(bridge: name, runDirectory: runDir)
        } catch {
            throw ValidationError("--name: \(error)")
        }
        o.name = name
        guard let defaultBackend = PortBackend(rawValue: backend) else {
            throw ValidationError("--backend must be af_packet or pcap")
        }
        do {
            for spec in ports {
                let (port, b) = try PortSpec.parseWithBackend(spec)
                o.bridge.ports.append(port)
                o.backends[port.name] = b ?? defaultBackend
                if let st = try PortSpec.spanningTree(spec) { o.spanningTreePorts[port.name] = st }
                if let m = try PortSpec.multicastFlags(spec) { o.multicastPorts[port.name] = m }
            }
        } catch {
            throw ValidationError(error.description)
        }
        guard ageing >= 0 && ageing <= 1_000_000 else { throw ValidationError("--ageing must be 0...1000000 seconds") }
        guard maxLearned >= 1 && maxLearned <= 4_194_304 else { throw ValidationError("--max-learned must be 1...4194304") }
        guard maxStatic >= 0 && maxStatic <= 1_048_576 else { throw ValidationError("--max-static must be 0...1048576") }
        o.table = MACTable.Configuration(maxLearned: maxLearned, maxStatic: maxStatic, ageingTime: .seconds(ageing))
        o.bridge.vlanFiltering = vlanFiltering
        switch vlanProtocol.lowercased() {
        case "802.1q", "0x8100": o.bridge.vlanProtocol = EtherType.vlan
        case "802.1ad", "0x88a8": o.bridge.vlanProtocol = EtherType.qinq
        default: throw ValidationError("--vlan-protocol must be 802.1Q or 802.1ad")
        }
        let mask = groupFwdMask.lowercased()
        guard let m = mask.hasPrefix("0x") ? UInt16(mask.dropFirst(2), radix: 16) : UInt16(mask) else {
            throw ValidationError("--group-fwd-mask must be a 16-bit number like 0x4000")
        }
        o.bridge.groupForwardMask = m
        do { try o.bridge.validate() } catch { throw ValidationError(error.description) }
        o.spanningTree = try spanningTreeOptions()
        if o.spanningTree == nil && !o.spanningTreePorts.isEmpty {
            throw ValidationError("port options stp_cost, stp_priority, edge, auto_edge, p2p, bpdu_guard, root_guard need --stp rstp or --stp stp")
        }
        guard threads >= 1 && threads <= 16 else { throw ValidationError("--threads must be 1...16") }
        o.threads = threads
        o.busyPoll = busyPoll
        guard spinUs >= 0 && spinUs <= 100_000 else { throw ValidationError("--spin-us must be 0...100000") }
        o.spinMicroseconds = spinUs
        switch ring.lowercased() {
        case "v2": o.ring.ringVersion = .v2
        case "v3": o.ring.ringVersion = .v3
        default: throw ValidationError("--ring must be v2 or v3")
        }
        o.ring.frameCount = ringFrames
        o.ring.frameSize = ringFrameSize
        guard (0...65_536).contains(txRingFrames) else { throw ValidationError("--tx-ring-frames must be 0...65536") }
        o.ring.transmitRingFrames = txRingFrames
        if ringFrameSize > o.ring.blockSize {
            // Slots larger than a block: blocks big enough for a few of them.
            o.ring.blockSize = ((ringFrameSize * 4 + 4095) / 4096) * 4096
        }
        do { _ = try RingGeometry(o.ring) } catch { throw ValidationError("--ring-frames/--ring-frame-size: \(error)") }
        o.metrics = metrics
        o.runDirectory = runDir
        o.dropPrivileges = !keepPrivileges
        o.defaultBackend = defaultBackend
        var multicast = multicastValues
        if let config {
            // The file over the command line: it is what `reload` re-applies.
            let file: BridgeFile
            do { file = try ConfigFile.load(path: config) } catch { throw ValidationError("--config \(config): \(error)") }
            for p in file.ports where o.bridge.ports.contains(where: { $0.name == p.port.name }) {
                throw ValidationError("--config \(config): port \(p.port.name) is also given with --port")
            }
            o = file.applied(to: o)
            multicast = multicast.overridden(by: file.multicast)
            o.configFile = config.hasPrefix("/") ? config : FileManager.default.currentDirectoryPath + "/" + config
            o.staticFDB = file.staticFDB
            do {
                _ = try ControlServer.socketPath(bridge: o.name, runDirectory: runDir)
                try o.bridge.validate()
            } catch {
                throw ValidationError("--config \(config): \(error)")
            }
        }
        do {
            o.multicastSnooping = try multicast.configuration()
            o.multicastCommandLine = multicastValues
        } catch {
            throw ValidationError(error.description)
        }
        if let address = o.metrics {
            do { _ = try MetricsServer.parse(address) } catch {
                throw ValidationError(config != nil && metrics == nil ? "--config \(config ?? ""): \(error)" : error.description)
            }
        }
        if o.threads > 1 && o.backends.values.contains(.pcap) {
            throw ValidationError("backend=pcap ports work with --threads 1 (libpcap has no fanout)")
        }
        for m in mirror {
            let parts = m.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--mirror takes PORT=FILE, got '\(m)'")
            }
            guard o.bridge.ports.contains(where: { $0.name == parts[0] }) else {
                throw ValidationError("--mirror \(m): \(parts[0]) is not a --port of this bridge")
            }
            guard o.mirrors[parts[0]] == nil else { throw ValidationError("--mirror: port \(parts[0]) is mirrored twice") }
            try Self.checkWritableDirectory(of: parts[1], option: "--mirror \(m)")
            o.mirrors[parts[0]] = parts[1]
        }
        return o
    }

    func run() throws {
        let opts = try options()
        let level = try logLevelValue()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "swbridge.\(opts.name)")
        guard geteuid() == 0 else {
            throw ValidationError("swbridge run needs root (CAP_NET_RAW and CAP_NET_ADMIN) to open AF_PACKET sockets")
        }
        // VXLAN devices of the configuration file, created while root's capabilities are held
        // (the bridge keeps only CAP_NET_RAW once its ports are open), before they are opened.
        var createdDevices: [String] = []
        if let config, let file = try? ConfigFile.load(path: config) {
            for device in file.vxlan {
                do { try VXLANSetup.recreate(device) } catch {
                    printError("\(error)")
                    for name in createdDevices { try? VXLANSetup.delete(name) }
                    throw ExitCode.failure
                }
                createdDevices.append(device.name)
                logger.info("vxlan \(device.name): created (vni \(device.vni), local \(device.local))")
            }
        }
        // The metrics socket is bound while root's capabilities are still held (a port below
        // 1024 needs them); its server thread starts after the bridge dropped them.
        var metricsSocket: MetricsServer.BoundSocket? = nil
        if let address = opts.metrics {
            do { metricsSocket = try MetricsServer.bind(address) } catch {
                printError(error.description)
                throw ExitCode.failure
            }
        }
        let bridge: Bridge
        do {
            bridge = try Bridge(options: opts, logger: logger)
        } catch {
            printError("\(error)")
            // Best effort: once the bridge dropped CAP_NET_ADMIN this fails, and the next start re-creates them.
            for name in createdDevices { try? VXLANSetup.delete(name) }
            throw ExitCode.failure
        }
        var metricsServer: MetricsServer?
        if let socket = metricsSocket {
            do {
                metricsServer = try MetricsServer(socket: socket, exporter: MetricsExporter { bridge.statisticsReport() })
                logger.info("metrics: http://\(metricsServer?.address ?? "")/metrics")
            } catch {
                printError("--metrics: \(error)")
                bridge.close()
                throw ExitCode.failure
            }
        }
        signal(SIGINT) { _ in stopSignal.store(1, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopSignal.store(1, ordering: .relaxed) }
        signal(SIGHUP) { _ in reloadSignal.store(1, ordering: .relaxed) }
        signal(SIGPIPE, SIG_IGN)
        // A blocked signal mask survives exec: a parent that blocked SIGTERM (any thread of a
        // dispatch-based supervisor does) would make the bridge deaf to it. Unblock ours.
        var wanted = sigset_t()
        sigemptyset(&wanted)
        sigaddset(&wanted, SIGINT)
        sigaddset(&wanted, SIGTERM)
        sigaddset(&wanted, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
        bridge.run(
            stopWhen: { stopSignal.load(ordering: .relaxed) != 0 },
            reloadWhen: { reloadSignal.exchange(0, ordering: .relaxed) != 0 })
        metricsServer?.shutdown()
        print(ControlFormatting.stats(bridge.statisticsReport()))
        bridge.close()
    }
}

extension Run {
    /// Throws unless the directory `file` would be created in exists and is writable (the file
    /// itself is only created once the bridge starts).
    static func checkWritableDirectory(of file: String, option: String) throws {
        let slash = file.utf8.lastIndex(of: UInt8(ascii: "/"))
        let directory = slash.map { $0 == file.utf8.startIndex ? "/" : String(file[..<$0]) } ?? "."
        var st = stat()
        guard stat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw ValidationError("\(option): no directory \(directory)")
        }
        guard access(directory, W_OK) == 0 else { throw ValidationError("\(option): directory \(directory) is not writable") }
        if stat(file, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR { throw ValidationError("\(option): \(file) is a directory") }
    }
}

func printError(_ message: String) {
    var m = "swbridge: " + message + "\n"
    m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
