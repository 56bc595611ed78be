#if canImport(Glibc)
import Glibc
#endif

/// A bounded multi-producer queue: producers block while it is full, the consumer while it is
/// empty. Used between the per-silo walkers and the single index writer. Fullness is the sum
/// of the items' weights (a listing weighs its entries); an item heavier than the whole
/// capacity still goes in, alone.
final class BlockingQueue<Element>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Element] = []   // guarded by mutex
    private var head = 0                 // guarded by mutex
    private var producers: Int           // guarded by mutex: open producers; 0 means drained after empty
    private let capacity: Int
    private let weight: (Element) -> Int
    private var queuedWeight = 0          // guarded by mutex

    init(capacity: Int, producers: Int, weight: @escaping (Element) -> Int = { _ in 1 }) {
        self.capacity = capacity
        self.weight = weight
        self.producers = producers
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(notEmpty, nil)
        pthread_cond_init(notFull, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_cond_destroy(notEmpty); pthread_cond_destroy(notFull)
        mutex.deallocate(); notEmpty.deallocate(); notFull.deallocate()
    }

    func push(_ item: Element) {
        pthread_mutex_lock(mutex)
        let w = weight(item)
        while head < items.count && queuedWeight + w > capacity { pthread_cond_wait(notFull, mutex) }
        items.append(item)
        queuedWeight += w
        pthread_cond_signal(notEmpty)
        pthread_mutex_unlock(mutex)
    }

    /// A producer is done; once all are and the queue is empty, `pop` returns nil.
    func finishProducer() {
        pthread_mutex_lock(mutex)
        producers -= 1
        pthread_cond_broadcast(notEmpty)
        pthread_mutex_unlock(mutex)
    }

    /// The next item; nil once every producer finished and nothing is left. With `wait` false,
    /// returns nil at once when nothing is queued.
    func pop(wait: Bool = true) -> Element?? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == items.count {
            if producers == 0 { return .some(nil) }
            if !wait { return nil }
            pthread_cond_wait(notEmpty, mutex)
        }
        let item = items[head]
        head += 1
        queuedWeight -= weight(item)
        if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
        // Every waiting producer: the one woken alone might not fit where another would.
        pthread_cond_broadcast(notFull)
        return .some(item)
    }
}

extension BlockingQueue where Element == DirectoryBatch {
    /// Waits for the next listing, then takes whatever else is queued up to about `entries`
    /// entries, so one index transaction carries many small directories. `last` is true once
    /// every producer finished; an empty chunk means nothing is left.
    func popChunk(entries limit: Int = 20_000) -> (chunk: [DirectoryBatch], last: Bool) {
        guard case .some(let first) = pop(wait: true), let first else { return ([], true) }
        var chunk = [first]
        var entries = first.entries.count
        while entries < limit, case .some(let next) = pop(wait: false) {
            guard let next else { return (chunk, true) }
            chunk.append(next); entries += next.entries.count
        }
        return (chunk, false)
    }
}
