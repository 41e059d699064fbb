// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// SystemdNotify: the sd_notify protocol without libsystemd (sd_notify(3)): one datagram of
// `KEY=VALUE` lines to the Unix socket named by $NOTIFY_SOCKET (a path, or '@' for the
// abstract namespace). A bridge started by a `Type=notify` unit says READY=1 once its ports
// forward and its control socket answers, RELOADING=1 / READY=1 around a reload, and
// STOPPING=1 when it shuts down. Without $NOTIFY_SOCKET every call does nothing.

import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

public enum SystemdNotify {
    /// Sends `state` (e.g. "READY=1\nSTATUS=forwarding") if $NOTIFY_SOCKET is set. Returns
    /// whether a datagram was sent; failures are not fatal to a bridge and only reported.
    @discardableResult
    public static func send(_ state: String, socket path: String? = nil) throws(IOError) -> Bool {
        guard let path = path ?? getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return false }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw IOError(call: "sd_notify", subject: path, errno: ENAMETOOLONG)
        }
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // Abstract addresses are counted exactly (no trailing NUL); paths include it.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let fd = try systemCall("socket(AF_UNIX, SOCK_DGRAM)") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { close(fd) }
        let message = Array(state.utf8)
        try withUnsafePointer(to: &addr) { p throws(IOError) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(IOError) in
                try systemCall("sendto", on: path) { sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return true
    }
}
