// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Privileges: least privilege for the running bridge. Once its sockets are open the bridge
// needs only CAP_NET_RAW (to open AF_PACKET sockets again when a vanished interface comes
// back); every other capability of root goes, for this thread and every thread it starts
// afterwards (capabilities are per thread and inherited at creation). The uid stays 0, so the
// root-owned control directory stays usable through its owner bits, not through
// CAP_DAC_OVERRIDE. no_new_privs keeps anything exec'd from regaining more.

import CLinuxPacket
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

public enum Privileges {
    /// Capability numbers kept.
    public static let netRaw: UInt32 = 13
    public static let netAdmin: UInt32 = 12

    /// Keeps only `keep` (capability numbers) for the calling thread and threads it creates.
    public static func drop(keeping keep: [UInt32] = [netRaw]) throws(IOError) {
        var mask: UInt32 = 0
        for c in keep { mask |= 1 << c }
        try systemCall("prctl(PR_SET_NO_NEW_PRIVS)") { clp_set_no_new_privs() }
        try systemCall("capset") { clp_capset_low(mask) }
    }

    /// The calling thread's effective capability set (from /proc/thread-self/status).
    public static func effective() -> UInt64? {
        guard let f = fopen("/proc/thread-self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if s.hasPrefix("CapEff:") {
                return UInt64(s.dropFirst(7).trimmingCharacters(in: " \t\n"), radix: 16)
            }
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return s
    }
}
