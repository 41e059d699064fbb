// swift-tools-version:6.1
// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

import PackageDescription

// Module lines follow where the OS begins (see docs/ARCHITECTURE.md):
// BridgeCore is pure Swift (no syscalls), CLinuxPacket only exposes Linux headers,
// PacketIO holds every socket, swbridge is the thin command line.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]
// The forwarding path's modules: in release builds, no dynamic exclusivity checks (a profile
// of the forwarding loop showed swift_beginAccess and its thread-local access set at ~4% of
// the bridge's CPU). Debug builds and tests keep the checks.
// SwiftPM will not build `unsafeFlags` in a package used as a (versioned) dependency, so a
// library product of these modules could never be used: the package exports the executable
// only, and its modules serve it and its tests.
let hotPath: [SwiftSetting] = strict + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "swbridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swbridge", targets: ["swbridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // `run --metrics`: the Prometheus registry and text format, served over NIOHTTP1.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "BridgeCore", swiftSettings: hotPath),
        .target(name: "CLinuxPacket"),
        // 802.1D-2004 RSTP with STP compatibility: BPDU codec and state machines, pure (no syscalls, no clock).
        .target(name: "SpanningTree", dependencies: ["BridgeCore"], swiftSettings: strict),
        // IGMP/MLD snooping and the querier: pure protocol logic over BridgeCore's multicast table.
        .target(name: "MulticastSnooping", dependencies: ["BridgeCore"], swiftSettings: strict),
        // One syscall wrapper and one error type (errno captured at once, EINTR retried).
        .target(name: "SystemCalls", swiftSettings: strict),
        // The control protocol, its client, server and text formatting: what `swbridge fdb show`
        // needs, without the data plane or libpcap.
        // The protocol carries `stp show` and `mdb show` snapshots as the protocol cores define them.
        .target(name: "BridgeControl", dependencies: ["BridgeCore", "SystemCalls", "SpanningTree", "MulticastSnooping"], swiftSettings: strict),
        // libpcap's headers (Debian libpcap-dev); PcapIO holds every pcap call.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .target(name: "PcapIO", dependencies: ["BridgeCore", "CPcap"], swiftSettings: strict),
        .target(
            name: "PacketIO",
            dependencies: ["BridgeCore", "CLinuxPacket", "SystemCalls"],
            swiftSettings: hotPath
        ),
        // Lab topologies (namespaces, veth) for integration tests and `swbridge bench`.
        .target(name: "LabKit", swiftSettings: strict),
        .target(name: "BenchKit", dependencies: ["BridgeCore", "BridgeControl", "PacketIO", "LabKit"], swiftSettings: strict),
        // `run --metrics`: scrape-time conversion of `stats` into Prometheus metrics and the HTTP
        // server for them. Kept apart from BridgeService so the data plane does not link NIO.
        .target(
            name: "BridgeMetrics",
            dependencies: [
                "BridgeControl", "SystemCalls",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The running bridge: ports, forwarding threads, the control socket.
        .target(
            name: "BridgeService",
            dependencies: [
                "BridgeCore", "BridgeControl", "PacketIO", "PcapIO", "CLinuxPacket", "SystemCalls", "SpanningTree",
                "MulticastSnooping", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: hotPath
        ),
        // One binary on purpose: `swbridge bench` measures this very executable (it runs
        // itself as the bridge under test), and BenchKit and LabKit (~0.45 MB of a 2.7 MB
        // release image) run nothing unless `swbridge bench` is asked for.
        .executableTarget(
            name: "swbridge",
            dependencies: [
                "BridgeCore", "BridgeControl", "PacketIO", "BridgeService", "LabKit", "BenchKit", "PcapIO", "BridgeMetrics",
                "SpanningTree", "MulticastSnooping",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "BridgeCoreTests", dependencies: ["BridgeCore"], swiftSettings: strict),
        .testTarget(name: "SpanningTreeTests", dependencies: ["SpanningTree", "BridgeCore"], swiftSettings: strict),
        .testTarget(name: "MulticastSnoopingTests", dependencies: ["MulticastSnooping", "BridgeCore"], swiftSettings: strict),
        .testTarget(name: "BridgeServiceTests", dependencies: ["BridgeService", "BridgeControl", "BridgeCore", "SpanningTree"], swiftSettings: strict),
        .testTarget(name: "BenchKitTests", dependencies: ["BenchKit", "BridgeCore", "PacketIO"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["BridgeCore", "BridgeControl", "PacketIO", "BridgeService", "LabKit", "BenchKit", "PcapIO", "CLinuxPacket"],
            swiftSettings: strict
        ),
        .testTarget(name: "BridgeMetricsTests", dependencies: ["BridgeMetrics", "BridgeControl"], swiftSettings: strict),
        .testTarget(name: "PacketIOTests", dependencies: ["PacketIO", "CLinuxPacket"], swiftSettings: strict),
        .testTarget(name: "PcapIOTests", dependencies: ["PcapIO", "BridgeCore", "LabKit"], swiftSettings: strict),
        .executableTarget(
            name: "BridgeCoreBenchmarks",
            dependencies: ["BridgeCore", "CLinuxPacket", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/BridgeCoreBenchmarks",
            swiftSettings: strict,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
