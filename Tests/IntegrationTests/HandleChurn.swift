import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Other programs opening and closing a file all the time: one thread opens (up to `depth`
/// descriptors), another closes them one at a time. While a tier move's switch holds opens
/// back, the closes (and so the daemon's RELEASEs) go on through it.
final class HandleChurn: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let queue = Mutex<[Int32]>([])
    private let threads: Mutex<[OSThread]> = Mutex([])

    init(_ path: String, depth: Int = 1500) {
        // The test process needs room for its own side; the daemon raises its own limit.
        var limit = rlimit()
        _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let wanted = rlim_t(depth * 4 + 1024)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted
            limit.rlim_max = max(limit.rlim_max, wanted)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let opener = OSThread.start { [self] in
            while !stopping.load(ordering: .relaxed) {
                if queue.withLock({ $0.count }) >= depth { usleep(200); continue }
                let r = open(path, O_RDONLY | O_CLOEXEC)
                if r >= 0 { queue.withLock { $0.append(r) } }
            }
        }
        let closer = OSThread.start { [self] in
            while !stopping.load(ordering: .relaxed) {
                if let r = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { close(r) }
                usleep(30)
            }
        }
        threads.withLock { $0 = [opener, closer] }
    }

    /// Stops both threads and closes what is still open.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        threads.withLock { $0 }.forEach { $0.join() }
        queue.withLock { q in q.forEach { close($0) }; q.removeAll() }
    }
}
