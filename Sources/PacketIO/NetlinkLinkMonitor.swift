// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// LinkMonitor: interfaces followed through the kernel's link events (rtnetlink(7): the
// RTMGRP_LINK multicast group, RTM_NEWLINK / RTM_DELLINK), not by polling. The kernel sends an
// RTM_NEWLINK with the link's whole state whenever one appears, is renamed, goes up or down,
// gains or loses carrier (operstate, via linkwatch, up to ~1 s later), changes MTU or master;
// an RTM_DELLINK when it is deleted or leaves the namespace.
//
// The contract, for a consumer that keeps its own view of the links:
//   1. Create the monitor (it subscribes first), then `currentLinks()` (an RTM_GETLINK dump):
//      every change after the subscription is queued, so nothing falls between the two.
//   2. Put `fileDescriptor` (non-blocking) in a poll set; when readable, `drain()` and apply
//      the events in order. An event may predate the dump; applied in order they still end at
//      the current state, since each RTM_NEWLINK carries the whole state.
//   3. `.resyncNeeded` means the receive queue overflowed (ENOBUFS) and events were lost, or a
//      datagram did not parse: call `resync()` (a new dump), replace the view, keep draining.
// The socket belongs to the namespace of the thread that created the monitor. Kernel ≥ 2.6.
// Off the hot path: clarity before allocations.

#if canImport(Glibc)
import Glibc

/// Link events of one network namespace: a descriptor for a poll set, `drain()`, and the
/// dump that gives the current state.
public final class LinkMonitor {
    private let events: NetlinkSocket
    private let queries: NetlinkSocket
    /// Datagrams that did not parse (reported as `.resyncNeeded`). Expected to stay 0.
    public private(set) var malformedDatagrams = 0

    /// Readable when events are queued (non-blocking; poll it with POLLIN).
    public var fileDescriptor: Int32 { events.fileDescriptor }

    /// Subscribes to RTMGRP_LINK in the calling thread's namespace.
    /// - Parameter receiveBufferSize: the event socket's receive queue; link messages are ~1 KiB
    ///   each, so the default holds about a thousand events between two drains.
    public init(receiveBufferSize: Int = 1 << 20) throws(NetlinkError) {
        events = try NetlinkSocket(groups: Netlink.groupLink, nonBlocking: true, receiveBufferSize: receiveBufferSize)
        queries = try NetlinkSocket()
    }

    /// Closes both sockets. Idempotent.
    public func close() {
        events.close()
        queries.close()
    }

    /// Every link of the namespace now (an RTM_GETLINK dump), by index.
    public func currentLinks() throws(NetlinkError) -> [LinkInfo] { try queries.links() }

    /// After `.resyncNeeded`: the current state again (the same dump as `currentLinks()`).
    public func resync() throws(NetlinkError) -> [LinkInfo] { try queries.links() }

    /// The link with this index or name now (RTM_GETLINK).
    public func link(ifindex: Int32) throws(NetlinkError) -> LinkInfo { try queries.link(ifindex: ifindex) }
    public func link(name: String) throws(NetlinkError) -> LinkInfo { try queries.link(name: name) }

    /// The events queued now, in order; empty when none. Reads at most `maxDatagrams`
    /// datagrams so one call stays bounded (the descriptor stays readable if more are queued).
    /// An overflow or an unparsable datagram becomes one `.resyncNeeded` at its place.
    public func drain(maxDatagrams: Int = 256) throws(NetlinkError) -> [LinkEvent] {
        var result: [LinkEvent] = []
        for _ in 0..<maxDatagrams {
            switch try receiveEvents() {
            case .some(let batch): result += batch
            case .none: return result
            }
        }
        return result
    }

    /// Waits up to `timeoutMilliseconds` for the descriptor to become readable (poll). For
    /// callers without a poll loop of their own, and tests.
    public func waitForEvents(timeoutMilliseconds: Int32) -> Bool {
        var pfd = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&pfd, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }

    /// One datagram's events, or nil when nothing is queued.
    private func receiveEvents() throws(NetlinkError) -> [LinkEvent]? {
        let messages: [NetlinkMessage]
        do {
            switch try events.receive() {
            case .nothing: return nil
            case .overrun: return [.resyncNeeded]
            case .messages(let m): messages = m
            }
        } catch .malformed {
            malformedDatagrams += 1
            return [.resyncNeeded]
        }
        var batch: [LinkEvent] = []
        for message in messages {
            do {
                switch message.type {
                case Netlink.newLink: batch.append(.newLink(try LinkInfo(message: message)))
                case Netlink.deleteLink:
                    let link = try LinkInfo(message: message)
                    batch.append(.deletedLink(index: link.index, name: link.name))
                default: continue
                }
            } catch {
                malformedDatagrams += 1
                batch.append(.resyncNeeded)
            }
        }
        return batch
    }
}
#endif
