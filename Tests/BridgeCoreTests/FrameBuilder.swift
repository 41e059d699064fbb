// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Builds raw Ethernet frames for tests.
import BridgeCore

func mac(_ s: String) -> MACAddress { try! MACAddress(parsing: s) }

/// A station address from a small number: 02:00:00:00:xx:xx (locally administered unicast).
func station(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0000 | UInt64(n)) }

func frame(dst: MACAddress, src: MACAddress, tags: [VLANTag] = [], etherType: UInt16 = 0x0800, payload: Int = 46) -> [UInt8] {
    var b: [UInt8] = dst.octets + src.octets
    for t in tags {
        b += [UInt8(t.tpid >> 8), UInt8(t.tpid & 0xFF), UInt8(t.tci >> 8), UInt8(t.tci & 0xFF)]
    }
    b += [UInt8(etherType >> 8), UInt8(etherType & 0xFF)]
    b += (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
    return b
}

/// Runs one frame through `engine` and returns the verdict.
func decide(_ engine: ForwardingEngine, _ bytes: [UInt8], port: Int, now: UInt64 = 1000) -> Decision {
    bytes.withUnsafeBytes { raw in
        engine.resolve(engine.decide(ReceivedFrame(bytes: raw, port: port), now: Timestamp(milliseconds: now)))
    }
}

func ports(_ n: Int, _ configure: (Int, inout PortConfiguration) -> Void = { _, _ in }) -> [PortConfiguration] {
    (0..<n).map { i in
        var p = PortConfiguration(name: "p\(i)")
        configure(i, &p)
        return p
    }
}

func makeEngine(_ config: BridgeConfiguration, table: MACTable = MACTable()) -> ForwardingEngine {
    try! ForwardingEngine(table: table, configuration: config)
}
