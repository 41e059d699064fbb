// MemoryPort: an in-memory port (SwiftNIO's EmbeddedChannel for a bridge). Tests and
// benchmarks inject frames and read what the bridge sent, with no kernel involved. Received
// frames live in a fixed arena of slots, so receiving allocates nothing; recording sent
// frames (on by default, for tests) allocates, and benchmarks turn it off.

/// A port backed by memory.
public final class MemoryPort: Port {
    public let name: String
    public let slotSize: Int
    public let slotCount: Int
    private let arena: UnsafeMutableRawPointer
    private var lengths: [Int]
    /// Queue of filled slots: [head, head + queued) modulo slotCount.
    private var head = 0
    private var queued = 0
    /// Slots handed out by `receive` and not yet released.
    private var lent = 0
    /// Record a copy of every sent frame in `sent`.
    public var recordsTransmitted: Bool
    /// Frames sent by the bridge on this port, after their egress encoding.
    public private(set) var sent: [[UInt8]] = []
    /// Frames sent in all, recorded or not.
    public private(set) var transmittedCount = 0
    /// Refuse (return fewer sent) after this many frames: a port that is "full".
    public var transmitLimit = Int.max
    private let scratch: UnsafeMutableRawBufferPointer

    public init(name: String, slotCount: Int = 1024, slotSize: Int = 2048, recordsTransmitted: Bool = true) {
        precondition(slotCount > 0 && slotSize >= 64)
        self.name = name
        self.slotCount = slotCount
        self.slotSize = slotSize
        self.recordsTransmitted = recordsTransmitted
        arena = .allocate(byteCount: slotCount * slotSize, alignment: 64)
        lengths = Array(repeating: 0, count: slotCount)
        scratch = .allocate(byteCount: slotSize + 4, alignment: 16)
    }

    deinit {
        arena.deallocate()
        scratch.deallocate()
    }

    /// Errors of `inject`.
    public enum InjectError: Error, Equatable {
        case full
        case tooLarge(Int)
    }

    /// Queues a frame for the bridge to receive (copied).
    public func inject(_ frame: [UInt8]) throws(InjectError) {
        guard frame.count <= slotSize else { throw .tooLarge(frame.count) }
        guard queued + lent < slotCount else { throw .full }
        let slot = (head + lent + queued) % slotCount
        frame.withUnsafeBytes { (arena + slot * slotSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        lengths[slot] = frame.count
        queued += 1
    }

    /// Frames waiting to be received.
    public var pendingCount: Int { queued }

    public func receive(into frames: UnsafeMutableBufferPointer<ReceivedFrame>, port: Int) -> Int {
        let n = Swift.min(frames.count, queued)
        for i in 0..<n {
            let slot = (head + lent) % slotCount
            frames[i] = ReceivedFrame(
                bytes: UnsafeRawBufferPointer(start: arena + slot * slotSize, count: lengths[slot]), port: port)
            lent += 1
            queued -= 1
        }
        return n
    }

    public func releaseReceived() {
        head = (head + lent) % slotCount
        lent = 0
    }

    /// Re-queues the frames just released (head moves back): replaying the same frames again
    /// without copying, for benchmarks.
    public func rewind(_ count: Int) {
        precondition(lent == 0 && count + queued <= slotCount)
        head = (head - count % slotCount + slotCount) % slotCount
        queued += count
    }

    public func transmit(_ frames: UnsafeBufferPointer<EgressFrame>) -> Int {
        let n = Swift.min(frames.count, Swift.max(transmitLimit - transmittedCount, 0))
        if recordsTransmitted {
            for i in 0..<n {
                let f = frames[i]
                if f.wireLength <= scratch.count {
                    let len = f.write(into: scratch)
                    sent.append(Array(UnsafeRawBufferPointer(rebasing: scratch[0..<len])))
                }
            }
        }
        transmittedCount += n
        return n
    }

    /// Forgets recorded frames.
    public func clearSent() { sent.removeAll() }
}
