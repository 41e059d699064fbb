// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlClient: the `swbridge fdb|link|stats` end of the control socket. One request per
// connection: connect, write the request line, read the response line until the server
// closes, all within one overall timeout, and turn every way this can fail into a
// `ControlError` that tells the user what to do (is the bridge running? are you root?).

#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// Sends requests to a running bridge.
public enum ControlClient {
    /// Largest response accepted (an `fdb show` of millions of entries fits).
    public static let maxResponseBytes = 1 << 30

    /// Sends `request` to the bridge `name` and returns its response. The whole exchange
    /// (connect, write, read) must finish within `timeout`. Throws `ControlError`.
    public static func send(
        _ request: ControlRequest, bridge name: String, runDirectory: String = ControlServer.defaultRunDirectory,
        timeout: Duration
    ) throws -> ControlResponse {
        try ControlSocket.validate(bridge: name)
        let deadline = ContinuousClock.now + timeout
        let path = ControlSocket.path(bridge: name, runDirectory: runDirectory)
        let addr = try ControlSocket.address(path)
        let fd = try ControlSocket.makeSocket(path: path)
        defer { close(fd) }

        // A full backlog answers EAGAIN on a non-blocking Unix socket: retry until the deadline.
        while true {
            let e = ControlSocket.connect(fd, addr)
            if e == 0 { break }
            switch e {
            case ENOENT: throw ControlError.notRunning(bridge: name, socket: path, stale: false)
            case ECONNREFUSED: throw ControlError.notRunning(bridge: name, socket: path, stale: true)
            case EACCES, EPERM: throw ControlError.permissionDenied(path: path)
            case EAGAIN:
                guard ContinuousClock.now < deadline else { throw ControlError.timedOut(bridge: name, timeout: timeout) }
                usleep(5_000)
            default: throw ControlError.system(IOError(call: "connect", subject: path, errno: e))
            }
        }

        let line = try ControlProtocol.requestLine(request)
        var written = 0
        while written < line.count {
            let n = line.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + written, raw.count - written, Int32(MSG_NOSIGNAL))
            }
            if n >= 0 {
                written += n
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN:
                guard ControlSocket.wait(fd, for: Int32(POLLOUT), until: deadline) != 0 else {
                    throw ControlError.timedOut(bridge: name, timeout: timeout)
                }
            // The server may refuse and close before reading all (an oversized request): its
            // answer, if any, is still waiting to be read.
            case EPIPE, ECONNRESET: written = line.count
            case let e: throw ControlError.system(IOError(call: "send", subject: path, errno: e))
            }
        }

        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        reading: while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                response.append(contentsOf: chunk[0..<n])
                // One line is the whole answer; no need to wait for the close.
                if chunk[0..<n].contains(UInt8(ascii: "\n")) { break reading }
                guard response.count <= maxResponseBytes else {
                    throw ControlError.responseTooLarge(bridge: name, limit: maxResponseBytes)
                }
                continue
            }
            if n == 0 { break reading }
            switch errno {
            case EINTR: continue
            case EAGAIN:
                guard ControlSocket.wait(fd, for: Int32(POLLIN), until: deadline) != 0 else {
                    throw ControlError.timedOut(bridge: name, timeout: timeout)
                }
            case ECONNRESET: break reading
            case let e: throw ControlError.system(IOError(call: "read", subject: path, errno: e))
            }
        }
        if let newline = response.firstIndex(of: UInt8(ascii: "\n")) { response.removeSubrange(newline...) }
        guard !response.isEmpty else { throw ControlError.connectionClosed(bridge: name) }
        do {
            return try ControlProtocol.decodeResponse(response)
        } catch {
            throw ControlError.malformedResponse(bridge: name, reason: error.description)
        }
    }
}
