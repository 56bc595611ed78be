#if canImport(Glibc)
import Glibc
#endif

/// Lets idle threads sleep until something is queued for them, or a timeout passes.
public final class Doorbell: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let rang = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by mutex. A ring wakes every thread waiting at that moment, and the next wait to
    // start if none was: each waiter compares the count with the one it started from, and a
    // ring nobody has seen yet (`rings > seen`) ends the next wait at once. (A single pending
    // flag let the first waiter to wake clear it, so the others slept out their timeout: a
    // mover with four workers took up to two seconds to stop.)
    private var rings: UInt64 = 0
    private var seen: UInt64 = 0

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
        rings &+= 1
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
        let start = rings > seen ? seen : rings
        while rings == start { if pthread_cond_timedwait(rang, mutex, &deadline) != 0 { break } }
        seen = rings
        pthread_mutex_unlock(mutex)
    }
}
