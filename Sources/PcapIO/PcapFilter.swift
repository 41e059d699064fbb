// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// PcapFilter: a BPF expression (tcpdump syntax) compiled once for Ethernet frames and run in
// user space with pcap_offline_filter, so a mirror can drop what nobody asked for before it
// costs a copy. Compiling is slow and allocates; matching allocates nothing and is safe from
// any one thread at a time (the program is read-only once built).

import CPcap

/// A compiled BPF filter for Ethernet frames.
public final class PcapFilter: @unchecked Sendable {
    /// The expression as given.
    public let expression: String
    @usableFromInline var program = bpf_program()

    /// Compiles `expression` (optimised, netmask unknown). An empty expression matches all.
    public init(_ expression: String, snapLength: Int32 = 262_144) throws(PcapError) {
        self.expression = expression
        guard let dead = pcap_open_dead(DLT_EN10MB, snapLength) else {
            throw .invalidFilter(expression: expression, message: "pcap_open_dead failed")
        }
        defer { pcap_close(dead) }
        if pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw .invalidFilter(expression: expression, message: errorString(pcap_geterr(dead)))
        }
    }

    deinit { pcap_freecode(&program) }

    /// True when the frame passes. `wireLength` is the frame's original length (as `len` in a
    /// pcap record; filters like `greater 100` test it); `bytes` may be a truncated copy.
    public func matches(_ bytes: UnsafeRawBufferPointer, wireLength: Int? = nil) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        var header = pcap_pkthdr()
        header.caplen = bpf_u_int32(bytes.count)
        header.len = bpf_u_int32(wireLength ?? bytes.count)
        return pcap_offline_filter(&program, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
    }

    /// `matches` for an array, for tests and tools.
    public func matches(_ frame: [UInt8]) -> Bool { frame.withUnsafeBytes { matches($0) } }
}
