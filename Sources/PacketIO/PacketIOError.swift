// PacketIOError: every way opening or configuring a kernel port can fail, as a thrown value
// with a message an operator can act on. The data path never throws: it counts drops instead.

#if canImport(Glibc)
import Glibc

/// A failure to open, configure or query a kernel port or interface.
public enum PacketIOError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No interface of that name in the calling thread's network namespace.
    case noSuchInterface(String)
    /// A system call failed: what was being done, on which interface, and errno.
    case systemCall(operation: String, interface: String, errno: Int32)
    /// A configuration value the port cannot work with.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .noSuchInterface(let name): return "no such interface '\(name)'"
        case .systemCall(let op, let name, let e):
            return "\(op) on '\(name)' failed: \(String(cString: strerror(e))) (errno \(e))"
        case .invalidConfiguration(let text): return "invalid configuration: \(text)"
        }
    }
}
#endif
