// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// MirrorPort: port mirroring as a `Port` decorator. It wraps any port and offers what the
// port receives (after `receive`, before the engine sees it) and what it sends (as encoded
// for the wire, in `transmit`) to PcapMirrors, stamped once per batch with the wall clock.
// The forwarding path only sees another `Port`; the mirror's queue never blocks, so a slow
// capture disk costs mirrored frames, never forwarded ones.
//
// Frames are mirrored in "in" as the transport delivers them: AF_PACKET strips the outer VLAN
// tag on receive and keeps it in metadata, so a transport that re-inserts tags late must be
// wrapped after it has (AFPacketPort and PcapPort hand over frames with their tags). Sent
// frames appear in "out" whether or not the transport then managed to send them (the mirror
// shows what the bridge decided); frames it failed to send are in the port's own counters.

import BridgeCore

/// A port whose traffic is copied to capture files.
public final class MirrorPort: Port, @unchecked Sendable {
    public let inner: any Port
    /// Receives frames entering the bridge through `inner` (nil: not mirrored).
    public var ingress: PcapMirror?
    /// Receives frames leaving through `inner`, after their egress encoding.
    public var egress: PcapMirror?

    /// `ingress` and `egress` may be the same mirror (`--direction both`).
    public init(_ inner: any Port, ingress: PcapMirror? = nil, egress: PcapMirror? = nil) {
        self.inner = inner
        self.ingress = ingress
        self.egress = egress
    }

    public var name: String { inner.name }

    public func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        let n = inner.receive(into: frames, port: port)
        if n > 0, let m = ingress {
            let now = CaptureTimestamp.now()
            for i in 0..<n { m.offer(frames[i].bytes, timestamp: now) }
        }
        return n
    }

    public func releaseReceived() { inner.releaseReceived() }

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int { transmitReporting(frames).frames }

    /// The inner port's answer: which frames it sent, whatever it skipped.
    public func transmitReporting(_ frames: UnsafeBufferPointer<EgressFrame>) -> TransmitResult {
        if !frames.isEmpty, let m = egress {
            let now = CaptureTimestamp.now()
            for f in frames { m.offer(f, timestamp: now) }
        }
        return inner.transmitReporting(frames)
    }
}
