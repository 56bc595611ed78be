import Config
import Index
import Pool

/// The name indexes a first scan left out (`Scanner`), built by the first name query on a
/// pool no daemon serves, once (a daemon builds them itself when it serves). Nothing happens
/// when the pool's lock is held (a daemon, a scan) or the index cannot be written by this
/// user: the query then reads every row, with the same answers.
enum OfflineSearchIndexes {
    static func build(_ config: PoolConfig) {
        let lock: PoolLock?
        if PoolIndex.isFile(config) {
            guard let held = try? PoolLock(path: PoolPaths(config).lock) else { return }
            lock = held
        } else {
            lock = nil   // a shared index: built concurrently, beside whatever nodes write
        }
        withExtendedLifetime(lock) {
            guard let store = try? IndexStore(engine: PoolIndex.engine(config)) else { return }
            _ = try? store.buildSearchIndexes()
        }
    }
}
