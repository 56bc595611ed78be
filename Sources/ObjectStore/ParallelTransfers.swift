import Synchronization
import Syscalls

/// Runs `count` transfers on up to `width` threads, handing out indexes in the order given;
/// the first failure stops the hand-out and is thrown once all running ones end.
public enum ParallelTransfers {
    public static func run(_ order: [Int], width: Int, _ body: @escaping @Sendable (Int) throws(S3Error) -> Void) throws(S3Error) {
        let next = Atomic<Int>(0)
        let failure = Mutex<S3Error?>(nil)
        let items = order
        let work: @Sendable () -> Void = {
            while failure.withLock({ $0 == nil }) {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < items.count else { return }
                do throws(S3Error) { try body(items[i]) } catch { failure.withLock { if $0 == nil { $0 = error } } }
            }
        }
        let threads = (0..<max(1, min(width, items.count)) - 1).map { _ in OSThread.start(work) }
        work()
        threads.forEach { $0.join() }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
