import Index
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The index is checked with `PRAGMA quick_check` when the daemon did not stop cleanly last
/// time (a kill -9, a power cut), not on every mount: on a large index the check takes seconds.
public enum IndexHealth {
    static let cleanKey = "clean_stop"

    /// Each node of a shared index (several daemons) keeps its own mark, by host and state
    /// directory: one node starting while another runs is not the other's unclean stop.
    static func key(_ pool: PoolContext) -> String {
        guard pool.index.engine.isShared else { return cleanKey }
        var host = [CChar](repeating: 0, count: 256)
        let name = gethostname(&host, host.count - 1) == 0 ? String(cString: host) : "unknown"
        return "\(cleanKey):\(name):\(pool.paths.stateDirectory)"
    }

    /// Returns whether the last run ended without a clean stop (the caller then rescans: the
    /// last group-commit batch of namespace changes may be missing from the index).
    @discardableResult
    public static func checkAfterUncleanStop(_ pool: PoolContext, logger: Logger) throws -> Bool {
        let key = key(pool)
        let previous = try pool.index.query { tx throws(IndexError) in try tx.meta(key) }
        if previous == "0" {
            logger.warning("the daemon did not stop cleanly last time; checking the index")
            try check(pool)
        }
        try pool.index.write { tx throws(IndexError) in try tx.setMeta(key, "0") }
        return previous == "0"
    }

    public static func markClean(_ pool: PoolContext) {
        let key = key(pool)
        try? pool.index.write { tx throws(IndexError) in try tx.setMeta(key, "1") }
    }

    /// Throws a message with the rebuild advice when SQLite finds damage.
    public static func check(_ pool: PoolContext) throws {
        let problems: [String]
        do { problems = try pool.index.quickCheck() } catch {
            throw PoolError(damaged(pool, [error.message]))
        }
        if !problems.isEmpty { throw PoolError(damaged(pool, problems)) }
    }

    static func damaged(_ pool: PoolContext, _ problems: [String]) -> String {
        "the index \(pool.index.path) is damaged (\(problems.prefix(3).joined(separator: "; "))). " +
            "Move it aside and run `estuary scan \(pool.config.source)` to rebuild it from the silos: " +
            "tags come back from the files' xattrs, and files carrying an inode hint keep their inode numbers."
    }
}
