// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ControlServer: the running bridge's end of the control socket `/run/swbridge/<name>.sock`.
//
// What it promises:
// - One server per bridge name. If the socket file exists and a connect succeeds, another
//   bridge owns the name and `init` throws; if the connect is refused, the file is stale (a
//   crashed bridge) and is replaced. The directory is created 0700 and the socket is 0600:
//   root only (the daemon runs as root).
// - Its own thread (a pthread, never a forwarding thread) runs a poll loop over the listening
//   socket and up to `Limits.maxConnections` connections at once, all non-blocking. A client
//   that is slow, silent or sends too much delays nobody: each connection has a deadline to
//   deliver its request line (`requestDeadline`, 2 s) and a size bound (`maxRequestBytes`,
//   64 KiB); past either it gets an error response and is closed. Malformed, non-UTF-8 or
//   unknown requests get an error response. Nothing a client sends can crash the bridge.
// - The handler runs on the server thread, one request at a time, so it needs no locking
//   against other requests but must be quick (it holds up other clients while it runs).
// - `stop()` (and deinit) stops the thread, closes the socket and removes the socket file,
//   unless another server has since replaced it.

import Synchronization
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// The bridge's control socket server. See the file comment for its contract.
public final class ControlServer: Sendable {
    /// Answers one request. Runs on the server thread; must be quick and must not block.
    /// The thread keeps the handler alive until `stop()`, so a handler that captures the
    /// server keeps it alive too: call `stop()` explicitly rather than rely on deinit.
    public typealias Handler = @Sendable (ControlRequest) -> ControlResponse

    /// Where control sockets live unless told otherwise.
    public static let defaultRunDirectory = "/run/swbridge"

    /// Bounds on what one client may cost.
    public struct Limits: Sendable, Equatable {
        /// Time from accept to a complete request line.
        public var requestDeadline: Duration
        /// Time to write the whole response (a large `fdb show` to a client that reads).
        public var responseDeadline: Duration
        /// Longest request line accepted.
        public var maxRequestBytes: Int
        /// Connections served at once; more wait in the listen backlog.
        public var maxConnections: Int

        public init(
            requestDeadline: Duration = .seconds(2), responseDeadline: Duration = .seconds(10),
            maxRequestBytes: Int = 64 * 1024, maxConnections: Int = 16
        ) {
            precondition(requestDeadline > .zero && responseDeadline > .zero, "deadlines must be positive")
            precondition(maxRequestBytes > 0 && maxConnections > 0, "limits must be positive")
            self.requestDeadline = requestDeadline
            self.responseDeadline = responseDeadline
            self.maxRequestBytes = maxRequestBytes
            self.maxConnections = maxConnections
        }
    }

    /// The bridge name the server answers for.
    public let bridgeName: String
    /// The socket file.
    public let socketPath: String

    private struct ThreadState {
        var thread: pthread_t?
        /// The loop waiting for startServing() (never started yet).
        var pending: ControlLoop?
    }
    private let state = Mutex(ThreadState())
    private let wakeFD: Int32
    private let socketIdentity: (dev: UInt64, ino: UInt64)
    private let stopped = Mutex(false)
    private let signals = ControlLoop.Signals()

    /// Creates `<runDirectory>/<bridge>.sock` and starts serving it with `handler`.
    /// Throws `ControlError.alreadyRunning` if a live server owns the name.
    ///
    /// With `serving: false` the socket listens (so the name is taken and a second bridge of
    /// the same name is refused at once) but nothing is answered until `startServing()`:
    /// clients wait in the backlog. A bridge opens its control socket before it starts its
    /// workers and serves it once they run, so an answer means the bridge forwards.
    public init(
        bridge name: String, runDirectory: String = ControlServer.defaultRunDirectory, limits: Limits = Limits(),
        serving: Bool = true, handler: @escaping Handler
    ) throws(ControlError) {
        try ControlSocket.validate(bridge: name)
        let path = ControlSocket.path(bridge: name, runDirectory: runDirectory)
        let addr = try ControlSocket.address(path)
        try Self.makeDirectory(runDirectory)
        try Self.clearStaleSocket(bridge: name, path: path, addr: addr)

        let listenFD = try ControlSocket.makeSocket(path: path)
        var ok = false
        defer { if !ok { close(listenFD) } }
        if ControlSocket.withSockaddr(addr, { bind(listenFD, $0, $1) }) != 0 {
            switch errno {
            // Another server bound between our probe and our bind.
            case EADDRINUSE: throw .alreadyRunning(bridge: name, socket: path)
            case EACCES, EPERM: throw .permissionDenied(path: path)
            case let e: throw .system(IOError(call: "bind", subject: path, errno: e))
            }
        }
        // The directory is 0700 already; 0600 on the socket keeps it root only if it is not.
        guard chmod(path, 0o600) == 0, let id = ControlSocket.identity(path) else {
            let e = errno
            unlink(path)
            throw .system(IOError(call: "chmod", subject: path, errno: e))
        }
        guard listen(listenFD, 64) == 0 else {
            let e = errno
            unlink(path)
            throw .system(IOError(call: "listen", subject: path, errno: e))
        }

        // A socket pair wakes the poll loop on stop (pipe2 is not imported; this is as good).
        var pair: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, type, 0, &pair) == 0 else {
            let e = errno
            unlink(path)
            throw .system(IOError(call: "socketpair", subject: path, errno: e))
        }

        signals.open.store(serving, ordering: .releasing)
        let loop = ControlLoop(
            bridge: name, listenFD: listenFD, wakeFD: pair[1], limits: limits, signals: signals, handler: handler)
        ok = true  // the loop owns listenFD and pair[1] from here
        bridgeName = name
        socketPath = path
        wakeFD = pair[0]
        socketIdentity = (id.dev, id.ino)
        if serving {
            do throws(ControlError) {
                try Self.startThread(loop, state)
            } catch {
                loop.closeWithoutRunning()
                close(pair[0])
                unlink(path)
                throw error
            }
        } else {
            // The thread starts with startServing(): it is created then, with whatever
            // privileges the process has by then (a bridge drops them in between).
            state.withLock { $0.pending = loop }
        }
    }

    private static func startThread(_ loop: ControlLoop, _ state: borrowing Mutex<ThreadState>) throws(ControlError) {
        var tid = pthread_t()
        let context = Unmanaged.passRetained(loop).toOpaque()
        let rc = pthread_create(&tid, nil, { context in
            let loop = Unmanaged<ControlLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ControlLoop>.fromOpaque(context).release()
            throw .system(IOError(call: "pthread_create", subject: "control server", errno: rc))
        }
        state.withLock { $0.thread = tid }
    }

    deinit { stop() }

    /// Starts answering requests (see `init`'s `serving`): starts the server thread. Idempotent.
    public func startServing() throws(ControlError) {
        guard !signals.open.exchange(true, ordering: .acquiringAndReleasing) else { return }
        guard let loop = state.withLock({ s in defer { s.pending = nil }; return s.pending }) else { return }
        try Self.startThread(loop, state)
    }

    /// Stops serving: wakes and joins the server thread (which closes the listening socket and
    /// any open connections) and removes the socket file. Idempotent. Called from the handler,
    /// it returns at once and the thread ends after the handler returns.
    public func stop() {
        let first = stopped.withLock { s in
            defer { s = true }
            return !s
        }
        guard first else { return }
        signals.stop.store(true, ordering: .releasing)
        let (thread, pending) = state.withLock { s in
            defer { s.pending = nil }
            return (s.thread, s.pending)
        }
        pending?.closeWithoutRunning()  // never served
        if let thread {
            var byte: UInt8 = 1
            _ = send(wakeFD, &byte, 1, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if pthread_equal(pthread_self(), thread) != 0 {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        }
        close(wakeFD)  // the loop also ends on this end's hang-up
        // Only our own file: a successor may already have replaced a socket we left stale.
        if let id = ControlSocket.identity(socketPath), id.dev == socketIdentity.dev, id.ino == socketIdentity.ino {
            unlink(socketPath)
        }
    }

    /// Creates the run directory (and missing parents) mode 0700.
    private static func makeDirectory(_ dir: String) throws(ControlError) {
        var st = stat()
        if stat(dir, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw .system(IOError(call: "mkdir", subject: dir, errno: ENOTDIR)) }
            return
        }
        var prefix = dir.hasPrefix("/") ? "" : "."
        for component in dir.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 {
                let e = errno
                if e == EEXIST { continue }
                if e == EACCES || e == EPERM { throw .permissionDenied(path: prefix) }
                throw .system(IOError(call: "mkdir", subject: prefix, errno: e))
            }
            _ = chmod(prefix, 0o700)  // exactly 0700, whatever the umask
        }
    }

    /// Throws if a live server answers at `path`; removes a stale socket file.
    private static func clearStaleSocket(bridge: String, path: String, addr: sockaddr_un) throws(ControlError) {
        guard let id = ControlSocket.identity(path) else { return }
        guard id.mode & UInt32(S_IFMT) == UInt32(S_IFSOCK) else { throw .notASocket(path) }
        let probe = try ControlSocket.makeSocket(path: path)
        defer { close(probe) }
        switch ControlSocket.connect(probe, addr) {
        case 0, EAGAIN, EINPROGRESS: throw .alreadyRunning(bridge: bridge, socket: path)
        case ECONNREFUSED:
            if unlink(path) != 0 && errno != ENOENT { throw .system(IOError(call: "unlink (stale socket)", subject: path, errno: errno)) }
        case ENOENT: return  // went away meanwhile
        case EACCES, EPERM: throw .permissionDenied(path: path)
        case let e: throw .system(IOError(call: "connect", subject: path, errno: e))
        }
    }
}

/// The server thread's state; touched by that thread only (hence unchecked Sendable: it is
/// handed over once, at thread creation).
final class ControlLoop: @unchecked Sendable {
    /// What the server tells its thread, besides the wake-up byte that makes it look.
    final class Signals: Sendable {
        let open = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
    }

    private struct Connection {
        var fd: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        var writing = false
        var deadline: ContinuousClock.Instant
    }

    private let bridge: String
    private let listenFD: Int32
    private let wakeFD: Int32
    private let limits: ControlServer.Limits
    private let handler: ControlServer.Handler
    private let signals: Signals
    private var connections: [Connection] = []
    /// Set when accept ran out of descriptors or memory: the listening socket stays readable,
    /// so polling it again at once would spin.
    private var acceptPausedUntil: ContinuousClock.Instant?
    private var buffer: [UInt8]

    init(
        bridge: String, listenFD: Int32, wakeFD: Int32, limits: ControlServer.Limits, signals: Signals,
        handler: @escaping ControlServer.Handler
    ) {
        self.signals = signals
        self.bridge = bridge
        self.listenFD = listenFD
        self.wakeFD = wakeFD
        self.limits = limits
        self.handler = handler
        buffer = Array(repeating: 0, count: 16 * 1024)
    }

    /// Closes what `run` would have closed, for a server stopped before it served.
    func closeWithoutRunning() {
        close(listenFD)
        close(wakeFD)
    }

    func run() {
        defer {
            for c in connections { close(c.fd) }
            connections.removeAll()
            close(listenFD)
            close(wakeFD)
        }
        var fds: [pollfd] = []
        while true {
            let now = ContinuousClock.now
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            // At capacity, new clients wait in the backlog rather than costing memory here.
            if let until = acceptPausedUntil, now >= until { acceptPausedUntil = nil }
            let accepting = connections.count < limits.maxConnections && acceptPausedUntil == nil
                && signals.open.load(ordering: .acquiring)
            fds.append(pollfd(fd: accepting ? listenFD : -1, events: Int16(POLLIN), revents: 0))
            var timeout: Int32 = acceptPausedUntil.map { ControlSocket.pollTimeout(until: $0, now: now) } ?? -1
            for c in connections {
                fds.append(pollfd(fd: c.fd, events: Int16(c.writing ? POLLOUT : POLLIN), revents: 0))
                let t = ControlSocket.pollTimeout(until: c.deadline, now: now)
                timeout = timeout < 0 ? t : min(timeout, t)
            }
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 {
                if errno == EINTR { continue }
                // EINVAL/ENOMEM: nothing sensible to do but not spin.
                usleep(10_000)
                continue
            }
            if fds[0].revents != 0 {
                // stop() wrote or hung up; or startServing() wrote: drain and look again.
                if signals.stop.load(ordering: .acquiring) || fds[0].revents & Int16(POLLHUP | POLLERR) != 0 { return }
                var drain = [UInt8](repeating: 0, count: 16)
                _ = recv(wakeFD, &drain, drain.count, Int32(MSG_DONTWAIT))
                continue
            }

            // Connections first (their indices match fds[2...]), then new ones.
            var closed: [Int] = []
            let now2 = ContinuousClock.now
            for i in connections.indices {
                let revents = fds[i + 2].revents
                if revents != 0 {
                    if !(connections[i].writing ? writable(&connections[i]) : readable(&connections[i])) {
                        closed.append(i)
                        continue
                    }
                }
                if now2 >= connections[i].deadline && !expire(&connections[i]) { closed.append(i) }
            }
            for i in closed.reversed() {
                close(connections[i].fd)
                connections.remove(at: i)
            }
            if accepting && fds[1].revents != 0 { acceptAll() }
        }
    }

    private func acceptAll() {
        while connections.count < limits.maxConnections {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EAGAIN: return  // none left
                default:  // EMFILE, ENFILE, ENOBUFS, ENOMEM: try again a little later
                    acceptPausedUntil = .now + .milliseconds(100)
                    return
                }
            }
            ControlSocket.configureAccepted(fd)
            connections.append(Connection(fd: fd, deadline: .now + limits.requestDeadline))
        }
    }

    /// Reads what is there; answers once a line is complete. False: close the connection.
    private func readable(_ c: inout Connection) -> Bool {
        // Never hold more than the bound plus one byte: one more proves "too large".
        let room = limits.maxRequestBytes + 1 - c.input.count
        let n = buffer.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, min(room, $0.count)) }
        if n < 0 { return errno == EINTR || errno == EAGAIN }
        if n == 0 {
            // EOF: a client that half-closes without a newline still gets its answer.
            guard !c.input.isEmpty else { return false }
            respond(&c, to: c.input)
            return writable(&c)
        }
        let start = c.input.count
        c.input.append(contentsOf: buffer[0..<n])
        if let newline = c.input[start...].firstIndex(of: UInt8(ascii: "\n")) {
            guard newline <= limits.maxRequestBytes else {
                return reply(&c, .failure("request larger than \(limits.maxRequestBytes) bytes"))
            }
            respond(&c, to: Array(c.input[..<newline]))
            return writable(&c)
        }
        if c.input.count > limits.maxRequestBytes {
            return reply(&c, .failure("request larger than \(limits.maxRequestBytes) bytes"))
        }
        return true
    }

    /// Decodes, handles and queues the response to one request line.
    private func respond(_ c: inout Connection, to line: [UInt8]) {
        var line = line
        if line.last == UInt8(ascii: "\r") { line.removeLast() }  // `socat` on a terminal
        let response: ControlResponse
        do {
            response = handler(try ControlProtocol.decodeRequest(line))
        } catch {
            response = .failure(error.description)
        }
        queue(&c, response)
    }

    private func queue(_ c: inout Connection, _ response: ControlResponse) {
        c.input = []
        c.writing = true
        c.deadline = .now + limits.responseDeadline
        c.written = 0
        do {
            c.output = try ControlProtocol.responseLine(response)
        } catch {
            // Only a non-finite Double could get here; say so rather than send nothing.
            c.output = (try? ControlProtocol.responseLine(.failure("cannot encode the response: \(error)"))) ?? []
        }
    }

    /// Queues an error response and tries to send it at once. False: close the connection.
    private func reply(_ c: inout Connection, _ response: ControlResponse) -> Bool {
        queue(&c, response)
        _ = shutdown(c.fd, Int32(SHUT_RD))  // whatever else it sends is not read
        return writable(&c)
    }

    /// Writes what the socket takes. False: done or failed, close the connection.
    private func writable(_ c: inout Connection) -> Bool {
        while c.written < c.output.count {
            let n = c.output.withUnsafeBytes { raw in
                send(c.fd, raw.baseAddress! + c.written, raw.count - c.written, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN  // wait for POLLOUT; anything else (EPIPE): give up
            }
            c.written += n
        }
        return false
    }

    /// The connection's deadline passed. False: close it.
    private func expire(_ c: inout Connection) -> Bool {
        if c.writing { return false }  // the client does not read its answer: give up
        let seconds = ControlSocket.describe(limits.requestDeadline)
        return reply(&c, .failure("no complete request within \(seconds)"))
    }
}
