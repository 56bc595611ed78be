import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The pool's move bandwidth, shared by all mover threads: a token bucket.
final class Throttle: Sendable {
    private let bytesPerSecond: Double
    private let state = Mutex<(tokens: Double, stamp: Double)>((0, 0))

    init(bytesPerSecond: UInt64) {
        self.bytesPerSecond = Double(bytesPerSecond)
        state.withLock { $0 = (Double(bytesPerSecond) / 10, monotonicSeconds()) }
    }

    /// Waits until `bytes` may be moved. Unlimited when the rate is 0.
    func consume(_ bytes: Int) {
        guard bytesPerSecond > 0 else { return }
        let wait = state.withLock { s -> Double in
            let now = monotonicSeconds()
            s.tokens = min(bytesPerSecond, s.tokens + (now - s.stamp) * bytesPerSecond)
            s.stamp = now
            s.tokens -= Double(bytes)
            return s.tokens < 0 ? -s.tokens / bytesPerSecond : 0
        }
        if wait > 0 { usleep(UInt32(min(wait, 5) * 1_000_000)) }
    }
}

/// When the mount last served a read or write: the mover steps aside for foreground I/O.
public final class ForegroundActivity: Sendable {
    private let last = Atomic<Int64>(0)
    public init() {}

    @inline(__always)
    public func touch() { last.store(Int64(monotonicSeconds() * 1000), ordering: .relaxed) }

    /// Milliseconds since the last foreground operation.
    var idleMilliseconds: Int64 { Int64(monotonicSeconds() * 1000) - last.load(ordering: .relaxed) }
}
