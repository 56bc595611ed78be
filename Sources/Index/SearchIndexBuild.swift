extension IndexStore {
    /// Builds the name-search indexes when they are missing, and says whether it did.
    ///
    /// A first scan loads the index without them (`Scanner`): built at its end they were a
    /// fifth to a quarter of its time, spent before the mount could serve. The daemon calls
    /// this on a thread of its own once it serves; until it returns, `estuary find` answers
    /// name tests by reading every row (`FindPlanner`), with the same results. SQLite builds
    /// inside one write transaction (namespace changes wait for it, about 1.3 µs per entry);
    /// PostgreSQL builds concurrently on a connection of its own, holding no writer up.
    public func buildSearchIndexes() throws(IndexError) -> Bool {
        guard try !query({ tx throws(IndexError) in try tx.hasSearchIndexes() }) else { return false }
        if engine.isShared, try engine.openReader().buildSearchIndexesBesideWriters() { return true }
        try write { tx throws(IndexError) in try tx.setSearchIndexes(true) }
        return true
    }
}
