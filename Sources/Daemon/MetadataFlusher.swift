import Namespace
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Writes the sizes and times that writes changed in memory to the index once a second, so a
/// write call never waits for a SQLite commit.
final class MetadataFlusher: Sendable {
    private let namespace: Namespace
    private let running = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    init(namespace: Namespace) { self.namespace = namespace }

    func start() {
        running.store(true, ordering: .relaxed)
        let t = OSThread.start { [self] in
            while running.load(ordering: .relaxed) {
                for _ in 0..<10 where running.load(ordering: .relaxed) { usleep(100_000) }
                namespace.flushMetadata()
            }
        }
        thread.withLock { $0 = t }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        thread.withLock { $0 }?.join()
        namespace.flushMetadata()
    }
}
