#if canImport(Glibc)
import Glibc
#endif

/// Lets idle threads sleep until something is queued for them, or a timeout passes.
public final class Doorbell: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let rang = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var pending = false   // guarded by mutex: rung since the last wait returned

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)   // a wall-clock step must not stretch a wait
        pthread_cond_init(rang, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_cond_destroy(rang)
        mutex.deallocate(); rang.deallocate()
    }

    public func ring() {
        pthread_mutex_lock(mutex)
        pending = true
        pthread_cond_broadcast(rang)
        pthread_mutex_unlock(mutex)
    }

    /// Returns once rung (a ring before the call counts) or after `seconds`.
    public func wait(seconds: Double) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nanoseconds = Int(now.tv_nsec) + Int(seconds * 1e9)
        var deadline = timespec(tv_sec: now.tv_sec + nanoseconds / 1_000_000_000, tv_nsec: nanoseconds % 1_000_000_000)
        pthread_mutex_lock(mutex)
        while !pending { if pthread_cond_timedwait(rang, mutex, &deadline) != 0 { break } }
        pending = false
        pthread_mutex_unlock(mutex)
    }
}
