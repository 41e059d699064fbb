// The one interface between the engine and the outside world: a port hands over batches of
// received frames and takes batches of frames to send. AF_PACKET, libpcap and in-memory ports
// all implement it; the forwarding path never sees a socket. Calls are per batch, so an
// existential here costs one dynamic call per port per batch, never one per frame.

/// A frame to send, as a view of received bytes plus the edit its egress port needs.
public struct EgressFrame {
    public var bytes: UnsafeRawBufferPointer
    public var encoding: EgressEncoding
    /// The `offload` of the received frame (AF_PACKET: its `virtio_net_hdr`).
    public var offload: UnsafeRawPointer?

    @inlinable public init(bytes: UnsafeRawBufferPointer, encoding: EgressEncoding, offload: UnsafeRawPointer? = nil) {
        self.bytes = bytes
        self.encoding = encoding
        self.offload = offload
    }

    /// Length on the wire after the encoding is applied.
    @inlinable public var wireLength: Int {
        switch encoding {
        case .asIs, .replaceOuterTag: return bytes.count
        case .stripOuterTag: return bytes.count - 4
        case .insertTag: return bytes.count + 4
        }
    }

    /// Writes the encoded frame into `out`, cut at `out.count` bytes (a capture slot may be
    /// shorter than the frame; tag edits need at least 16); returns the bytes written.
    /// For transports that copy (in-memory, pcap, TX rings); AF_PACKET uses iovecs instead.
    @inlinable
    public func write(into out: UnsafeMutableRawBufferPointer) -> Int {
        let n = bytes.count
        guard let src = bytes.baseAddress, let dst = out.baseAddress else { return 0 }
        let limit = out.count
        /// `count` bytes from `src + from` to `dst + to`, cut at `limit`.
        func copy(_ to: Int, _ from: Int, _ count: Int) {
            let c = Swift.min(count, limit - to)
            if c > 0 { (dst + to).copyMemory(from: src + from, byteCount: c) }
        }
        switch encoding {
        case .asIs:
            copy(0, 0, n)
        case .stripOuterTag:
            copy(0, 0, 12)
            copy(12, 16, n - 16)
        case .insertTag(let tag):
            copy(0, 0, 12)
            dst.storeBytes(of: UInt32(tag).bigEndian, toByteOffset: 12, as: UInt32.self)
            copy(16, 12, n - 12)
        case .replaceOuterTag(let tag):
            copy(0, 0, n)
            dst.storeBytes(of: UInt32(tag).bigEndian, toByteOffset: 12, as: UInt32.self)
        }
        return Swift.min(wireLength, limit)
    }
}

/// A bridge port as the forwarding path sees it.
public protocol Port: AnyObject {
    /// A name for logs and `link show`.
    var name: String { get }
    /// Writes up to `frames.count` received frames into `frames` (with `port` as their ingress
    /// index) and returns how many. Their bytes stay valid until `releaseReceived()`.
    func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int
    /// Everything received so far has been processed and sent: its memory may be reused.
    func releaseReceived()
    /// Sends the frames in order; returns how many were sent. The rest count as dropped.
    func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int
}
