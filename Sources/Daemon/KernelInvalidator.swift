import FuseKit
import Logging
import Namespace
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Delivers the namespace's cache invalidations to the kernel, from a thread of its own.
///
/// Why a thread: invalidating a name takes the directory's lock in the kernel. A request in
/// flight on that directory holds it while its handler may wait for a lock the reporter holds
/// (the index writer, during a scan), so the reporter must never notify the kernel itself.
final class KernelInvalidator: KernelCache {
    private struct State {
        var queue: [CachedChange] = []
        var queued = 0
        var delivered = 0
        var session: FuseSession?
    }
    private let state = Mutex(State())
    private let bell = Doorbell()
    private let delivered = Doorbell()
    private let running = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)
    private let logger = Logger(label: "estuary.kernel-cache")

    /// Starts delivering to `session`, which must be mounted. Before this, changes are dropped:
    /// a kernel that has not mounted the pool caches nothing of it.
    func start(_ session: FuseSession) {
        state.withLock { $0.session = session }
        running.store(true, ordering: .relaxed)
        let t = OSThread.start { [self] in
            while running.load(ordering: .relaxed) {
                bell.wait(seconds: 1)
                deliverQueued()
            }
        }
        thread.withLock { $0 = t }
    }

    /// Stops the thread; call before the session is unmounted.
    func stop() {
        running.store(false, ordering: .relaxed)
        bell.ring()
        thread.withLock { $0 }?.join()
        state.withLock { $0.session = nil; $0.delivered = $0.queued; $0.queue.removeAll() }
        delivered.ring()
    }

    func changed(_ changes: [CachedChange]) {
        let accepted = state.withLock { s -> Bool in
            guard s.session != nil else { return false }
            s.queue.append(contentsOf: changes)
            s.queued += changes.count
            return true
        }
        if accepted { bell.ring() }
    }

    func attributesChangedNow(_ ino: UInt64) {
        guard let session = state.withLock({ $0.session }) else { return }
        session.invalidateInode(ino, contents: false)
    }

    /// Waits for what is queued now, at most 10 s: a kernel stuck on a directory lock must not
    /// hang the scan that asked (the entries then expire with their timeout).
    func settle() {
        let target = state.withLock { $0.queued }
        let deadline = monotonicSeconds() + 10
        while state.withLock({ $0.delivered }) < target {
            if monotonicSeconds() > deadline {
                logger.warning("the kernel has not taken every cache invalidation after 10 s; cached names may show old state until they expire")
                return
            }
            delivered.wait(seconds: 0.1)
        }
    }

    private func deliverQueued() {
        while true {
            let (batch, session) = state.withLock { s -> ([CachedChange], FuseSession?) in
                let batch = s.queue
                s.queue.removeAll(keepingCapacity: true)
                return (batch, s.session)
            }
            guard !batch.isEmpty else { return }
            if let session { for change in batch { deliver(change, to: session) } }
            state.withLock { $0.delivered += batch.count }
            delivered.ring()
        }
    }

    private func deliver(_ change: CachedChange, to session: FuseSession) {
        let result: Int32
        switch change {
        case .name(let parent, let name): result = session.invalidateEntry(parent: parent, name: name)
        case .attributes(let ino): result = session.invalidateInode(ino, contents: false)
        case .contents(let ino): result = session.invalidateInode(ino, contents: true)
        }
        // -ENOENT: the kernel no longer holds it, which is as good.
        if result != 0 && result != -ENOENT {
            logger.debug("cache invalidation \(change) answered \(result)")
        }
    }
}
