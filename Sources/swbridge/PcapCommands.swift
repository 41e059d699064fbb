// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// `swbridge replay`: a capture (pcap or pcapng) fed through the real forwarding engine
// offline, as a debugging tool and as an engine benchmark on a real trace. No root and no
// sockets: PcapIO's Replayer does the work; this file parses options and prints.

import ArgumentParser
import BridgeCore
import BridgeService
import Foundation
import PcapIO

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a capture through the forwarding engine offline and report what it decided.",
        discussion: """
            Ingress ports: a capture does not say where a frame entered, so by default the first time a \
            source MAC is seen it is given port (distinct sources so far % N) and keeps it. \
            --ingress-map MAC=PORT,... pins stations; unlisted ones follow the default rule. \
            The engine's clock is the capture's timestamps, so a replay is deterministic. \
            Only Ethernet captures are accepted.
            Example: swbridge replay trace.pcapng --ports 3 --out-dir /tmp/out --verbose
            """)

    @Argument(help: "Capture file (pcap or pcapng, Ethernet link type).")
    var file: String

    @Option(name: .long, help: "Bridge ports (default: the number of --port specs, else 2).")
    var ports: Int?

    @Option(name: .customLong("port"), help: ArgumentHelp(
        "Port spec, in port order (repeat for each; names are labels only).", discussion: PortSpec.help))
    var portSpecs: [String] = []

    @Option(name: .long, help: "Pin stations to ports: MAC=PORT,MAC=PORT (ports count from 0).")
    var ingressMap: String?

    @Option(name: .long, help: "Write what each port would send to DIR/portN.pcap (after VLAN edits).")
    var outDir: String?

    @Flag(name: .long, help: "Print every frame's verdict.")
    var verbose = false

    @Flag(name: .long, help: "Forward by VLAN (per-port PVID, member and untagged VLANs from --port specs).")
    var vlanFiltering = false

    @Option(name: .long, help: "VLAN protocol used by VLAN filtering: 802.1Q or 802.1ad.")
    var vlanProtocol: String = "802.1Q"

    @Option(name: .long, help: "Linux group_fwd_mask: bit N forwards 01:80:c2:00:00:0N.")
    var groupFwdMask: String = "0"

    func bridgeConfiguration() throws -> BridgeConfiguration {
        let count = ports ?? (portSpecs.isEmpty ? 2 : portSpecs.count)
        guard count >= 1 && count <= PortSet.capacity else {
            throw ValidationError("--ports must be 1...\(PortSet.capacity)")
        }
        guard portSpecs.isEmpty || portSpecs.count == count else {
            throw ValidationError("give one --port spec per port (\(count)), or none")
        }
        var config = BridgeConfiguration()
        do {
            config.ports = try (0..<count).map { i throws(ConfigurationError) in
                portSpecs.isEmpty ? PortConfiguration(name: "port\(i)") : try PortSpec.parse(portSpecs[i])
            }
        } catch {
            throw ValidationError(error.description)
        }
        config.vlanFiltering = vlanFiltering
        switch vlanProtocol.lowercased() {
        case "802.1q", "0x8100": config.vlanProtocol = EtherType.vlan
        case "802.1ad", "0x88a8": config.vlanProtocol = EtherType.qinq
        default: throw ValidationError("--vlan-protocol must be 802.1Q or 802.1ad")
        }
        let mask = groupFwdMask.lowercased()
        guard let m = mask.hasPrefix("0x") ? UInt16(mask.dropFirst(2), radix: 16) : UInt16(mask) else {
            throw ValidationError("--group-fwd-mask must be a 16-bit number like 0x4000")
        }
        config.groupForwardMask = m
        do { try config.validate() } catch { throw ValidationError(error.description) }
        return config
    }

    func run() throws {
        let config = try bridgeConfiguration()
        let n = config.ports.count
        do {
            let map = try ingressMap.map { text throws(PcapError) in try IngressMap(parsing: text, ports: n) } ?? IngressMap()
            let reader = try PcapReader(path: file)
            var outputs: [PcapWriter?] = []
            if let outDir {
                var isDir: ObjCBool = false
                if !FileManager.default.fileExists(atPath: outDir, isDirectory: &isDir) {
                    do {
                        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
                    } catch {
                        throw PcapError.cannotCreate(path: outDir, message: "cannot create the directory")
                    }
                } else if !isDir.boolValue {
                    throw PcapError.cannotCreate(path: outDir, message: "exists and is not a directory")
                }
                // Open every file first: an unwritable directory fails before any work.
                outputs = try (0..<n).map { p throws(PcapError) in
                    try PcapWriter(path: "\(outDir)/port\(p).pcap", precision: .nanosecond)
                }
            }
            let replayer = try Replayer(configuration: config, ingressMap: map)
            let summary = try replayer.run(reader, outputs: outputs,
                                           onVerdict: verbose ? { print($0.description) } : nil)
            for w in outputs { try w?.close() }
            if verbose { print("") }
            print("replay of \(file) through \(n) ports")
            print(summary.report)
            if !summary.stations.isEmpty && summary.stations.count <= 32 {
                print("ingress: " + summary.stations.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
            }
            if let outDir { print("per-port output: \(outDir)/port0.pcap ... port\(n - 1).pcap") }
        } catch let e as PcapError {
            printError(e.description)
            throw ExitCode.failure
        } catch let e as ConfigurationError {
            printError(e.description)
            throw ExitCode.failure
        }
    }
}
