#if canImport(Glibc)
import Glibc
#endif

/// A joinable OS thread running `body`. Background work (scans, the control socket) runs on
/// these rather than on the FUSE worker threads.
public final class OSThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    private init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    @discardableResult
    public static func start(_ body: @escaping @Sendable () -> Void) -> OSThread {
        let t = OSThread(body)
        let context = Unmanaged.passRetained(t).toOpaque()
        let rc = pthread_create(&t.thread, nil, { raw in
            let me = Unmanaged<OSThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return t
    }

    public func join() { pthread_join(thread, nil) }

    /// For a thread nobody will join: its resources go when it ends.
    public func detach() { pthread_detach(thread) }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
