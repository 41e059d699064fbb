// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MetricsServer: `/metrics` over HTTP/1.1 (SwiftNIO's NIOHTTP1 parser and encoder), on one
// event-loop thread of its own: no forwarding thread ever waits for it, and it waits for none
// (a scrape reads atomics and takes only the locks `swbridge stats` takes).
//
// Starting happens in two steps because of privileges: `bind` makes the listening socket while
// the process still has root's capabilities (a port below 1024 needs CAP_NET_BIND_SERVICE), and
// `start` runs NIO's thread on it after the bridge dropped to CAP_NET_RAW — capabilities are per
// thread and inherited at creation, so the server's thread never holds more than the bridge's.
//
// What a client can do: GET or HEAD `/metrics` (200, the exposition) and `/` (a pointer);
// any other path is 404, any other method 405; a malformed request gets NIO's 400 and the
// connection closes; headers over 80 KiB (NIO's limit) or a body over 8 KiB close it too. A
// request must be complete within `requestTimeout` of the connection (or of the previous
// response, on a keep-alive connection), else the connection closes, so a slow or silent client holds one socket for
// a bounded time; at most `maxConnections` are open at once, the rest are closed at accept.

import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Serves a `MetricsExporter` over HTTP.
public final class MetricsServer: Sendable {
    /// A listening socket made before privileges are dropped; closed when released unused.
    public final class BoundSocket: Sendable {
        private let fd: Int32
        private let taken = Atomic<Bool>(false)
        /// The address it listens on (`127.0.0.1:9477`; the port is the real one when 0 was asked).
        public let address: String

        fileprivate init(fd: Int32, address: String) {
            self.fd = fd
            self.address = address
        }

        /// The descriptor, handed over to the server (once).
        fileprivate func take() -> Int32 {
            precondition(!taken.exchange(true, ordering: .relaxed), "a bound metrics socket serves one server")
            return fd
        }

        deinit {
            if !taken.load(ordering: .relaxed) { _ = Glibc.close(fd) }
        }
    }

    /// Why the metrics socket could not be made.
    public enum BindError: Error, CustomStringConvertible, Equatable {
        public static func == (a: Self, b: Self) -> Bool { a.description == b.description }

        case badAddress(String)
        case system(SystemCalls.IOError)

        public var description: String {
            switch self {
            case .badAddress(let a): return "--metrics: '\(a)' is not ADDR:PORT (127.0.0.1:9477, [::1]:9477)"
            case .system(let e): return "--metrics: \(e)"
            }
        }
    }

    /// Limits of one client.
    public struct Limits: Sendable {
        /// A request must be whole (and a keep-alive connection used again) within this time.
        public var requestTimeout: TimeAmount = .seconds(5)
        /// Most connections open at once; more are closed at once.
        public var maxConnections = 32
        /// Largest request body accepted (scrapes have none).
        public var maxBodyBytes = 8 * 1024

        public init() {}
    }

    /// Splits `ADDR:PORT` (IPv6 in brackets). Throws `BindError.badAddress`.
    public static func parse(_ text: String) throws(BindError) -> (host: String, port: Int) {
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .badAddress(text)
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .badAddress(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw .badAddress(text) }
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port),
            (try? SocketAddress(ipAddress: String(host), port: port)) != nil
        else { throw .badAddress(text) }
        return (String(host), port)
    }

    /// Makes the listening socket for `ADDR:PORT` (call it before privileges are dropped).
    public static func bind(_ text: String) throws(BindError) -> BoundSocket {
        let (host, port) = try parse(text)
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: host, port: port) } catch { throw .badAddress(text) }
        let family = address.protocol.rawValue
        do throws(SystemCalls.IOError) {
            let fd = try systemCall("socket", on: text) {
                socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            }
            do throws(SystemCalls.IOError) {
                var one: Int32 = 1
                try systemCall("setsockopt(SO_REUSEADDR)", on: text) {
                    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                }
                try systemCall("bind", on: text) { address.withSockAddr { Glibc.bind(fd, $0, socklen_t($1)) } }
                try systemCall("listen", on: text) { listen(fd, 64) }
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
            let bound = Self.localPort(fd) ?? port
            return BoundSocket(fd: fd, address: host.contains(":") ? "[\(host)]:\(bound)" : "\(host):\(bound)")
        } catch {
            throw .system(error)
        }
    }

    /// The port the socket is bound to (the kernel's choice when 0 was asked).
    private static func localPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { p -> Int? in
            guard p.withMemoryRebound(to: sockaddr.self, capacity: 1, { getsockname(fd, $0, &length) }) == 0 else { return nil }
            switch Int32(p.pointee.ss_family) {
            case AF_INET: return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            case AF_INET6: return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            default: return nil
            }
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// Where the server listens.
    public let address: String

    /// Serves `exporter` on `socket` from a new event-loop thread (started here: after the
    /// privilege drop, it inherits the reduced capabilities).
    public init(socket: BoundSocket, exporter: MetricsExporter, limits: Limits = Limits()) throws {
        address = socket.address
        let fd = socket.take()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = ConnectionCount()
        do {
            channel = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard open.n.wrappingAdd(1, ordering: .relaxed).newValue <= limits.maxConnections else {
                            open.n.wrappingSubtract(1, ordering: .relaxed)
                            channel.close(promise: nil)
                            return
                        }
                        channel.closeFuture.whenComplete { _ in open.n.wrappingSubtract(1, ordering: .relaxed) }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            MetricsHTTPHandler(exporter: exporter, limits: limits))
                    }
                }
                .withBoundSocket(fd)
                .wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Closes the socket and stops the thread.
    public func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Connections open now.
private final class ConnectionCount: Sendable {
    let n = Atomic<Int>(0)
}

/// One connection: requests in, responses out, within the limits.
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let exporter: MetricsExporter
    private let limits: MetricsServer.Limits
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    /// Closes the connection unless the current request completes (or, idle, a new one starts) in time.
    private var deadline: Scheduled<Void>?

    init(exporter: MetricsExporter, limits: MetricsServer.Limits) {
        self.exporter = exporter
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    private func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: limits.requestTimeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            bodyBytes = 0
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > limits.maxBodyBytes {
                head = nil
                respond(context, status: .payloadTooLarge, body: "request body too large\n", keepAlive: false, headOnly: false)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            handle(context, h)
        }
    }

    private func handle(_ context: ChannelHandlerContext, _ h: HTTPRequestHead) {
        let path = h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? h.uri
        let keepAlive = h.isKeepAlive
        guard path == "/metrics" || path == "/" else {
            respond(context, status: .notFound, body: "not found: try /metrics\n", keepAlive: keepAlive, headOnly: h.method == .HEAD)
            return
        }
        guard h.method == .GET || h.method == .HEAD else {
            respond(context, status: .methodNotAllowed, body: "only GET and HEAD\n", keepAlive: keepAlive, headOnly: false,
                    extra: [("Allow", "GET, HEAD")])
            return
        }
        if path == "/" {
            respond(context, status: .ok, body: "swbridge metrics: GET /metrics (Prometheus text format)\n",
                    keepAlive: keepAlive, headOnly: h.method == .HEAD)
            return
        }
        guard let bytes = exporter.exposition() else {
            respond(context, status: .serviceUnavailable, body: "the bridge is starting\n", keepAlive: keepAlive, headOnly: h.method == .HEAD)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        send(context, status: .ok, contentType: MetricsExporter.contentType, body: buffer, keepAlive: keepAlive,
             headOnly: h.method == .HEAD)
    }

    private func respond(
        _ context: ChannelHandlerContext, status: HTTPResponseStatus, body: String, keepAlive: Bool, headOnly: Bool,
        extra: [(String, String)] = []
    ) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        send(context, status: status, contentType: "text/plain; charset=utf-8", body: buffer, keepAlive: keepAlive,
             headOnly: headOnly, extra: extra)
    }

    private func send(
        _ context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String, body: ByteBuffer,
        keepAlive: Bool, headOnly: Bool, extra: [(String, String)] = []
    ) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.readableBytes))])
        for (n, v) in extra { headers.add(name: n, value: v) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !headOnly { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let channel = context.channel
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if keepAlive {
            // The next request has the same time to arrive whole.
            arm(context)
        } else {
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
