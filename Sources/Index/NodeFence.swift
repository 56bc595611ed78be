import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Whether this node may still trust what it holds of files: its handles' backing
/// descriptors, its cached rows and listings, the kernel's caches.
///
/// Why: the other nodes take a node whose heartbeat lapsed for dead and run moves without
/// asking it (MovePeers). A node frozen (SIGSTOP, a VM paused, a partition) past that point
/// still has descriptors on the move's source, which the mover deletes; woken, it would write
/// into a file nobody sees and read stale bytes. So every heartbeat the database took makes
/// this node valid until the beat's send time plus the dead time minus a margin, measured on
/// the boot clock (it runs on through a system suspend, as the database's clock does), and
/// requests that use a backing descriptor check that deadline first: one clock read and one
/// atomic load. Past it they wait until the node re-established its heartbeat and pointed its
/// handles at the index's current copies (`NodeMembership` runs the recovery), or fail with EIO.
///
/// An index only one daemon uses never fences (`validUntil` stays `Int64.max`, and the check
/// does not even read the clock).
public final class NodeFence: Sendable {
    /// Boot-clock nanoseconds until which this node counts as alive for the others.
    private let validUntil = Atomic<Int64>(Int64.max)
    /// How long a fenced request waits for the recovery before EIO, in milliseconds.
    private let waitMilliseconds = Atomic<Int>(10_000)
    /// Times this node found itself fenced, and the handles its recoveries pointed at a new copy.
    public let fenced = Atomic<Int>(0)
    public let handlesRepointed = Atomic<Int>(0)

    public init() {}

    /// Nanoseconds of CLOCK_BOOTTIME (monotonic, and counting a suspend, unlike CLOCK_MONOTONIC).
    @inline(__always)
    public static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_BOOTTIME, &t)
        return Int64(t.tv_sec) &* 1_000_000_000 &+ Int64(t.tv_nsec)
    }

    /// True while this node is valid. The hot path's check: no lock, no allocation.
    @inline(__always)
    public var isOpen: Bool {
        let until = validUntil.load(ordering: .acquiring)
        return until == Int64.max || NodeFence.now() < until
    }

    /// Returns at once while valid; else waits for the recovery, false when it did not come
    /// within the wait (the caller answers EIO).
    @inline(__always)
    public func pass() -> Bool { isOpen || waitForRecovery() }

    @inline(never)
    func waitForRecovery() -> Bool {
        let limit = Double(waitMilliseconds.load(ordering: .relaxed)) / 1000
        let start = monotonicSeconds()
        while !isOpen {
            if monotonicSeconds() - start >= limit { return false }
            usleep(2_000)
        }
        return true
    }

    /// The boot-clock deadline, for the heartbeat's bookkeeping.
    var deadline: Int64 { validUntil.load(ordering: .acquiring) }

    /// Valid until `until` (a heartbeat landed, or a recovery finished).
    func extend(to until: Int64) { validUntil.store(until, ordering: .releasing) }

    /// How long fenced requests wait for the recovery.
    public func setWait(seconds: Double) { waitMilliseconds.store(max(1, Int(seconds * 1000)), ordering: .relaxed) }
}
