import Index
import Synchronization

/// Complete listings of recently used directories, changed in step with every name the
/// namespace adds or removes, so that opendir and name lookups in them ask the index nothing.
///
/// Why: reading 20,000 names from SQLite was most of an `ls` of such a directory, and every
/// create, and every rename onto a new name, first asked SQLite for a name that is not there.
/// A listing enters the cache complete (read whole from the index, or a directory made through
/// the mount, which starts empty) and stays complete because all name changes made through
/// the mount go through the namespace, which reports them here after the index took them. A
/// live scan drops the listings of the directories whose names it changed. A listing read from
/// the index is kept only if no name changed anywhere while it was read (`epoch`).
final class DirectoryListings: Sendable {
    enum Answer {
        case unknown
        case absent
        case present(ino: UInt64)
    }

    private struct Listing {
        var names: [ListedName] = []
        /// Built on the first lookup or change, not when the listing is read: a tree walk
        /// opens each directory once and never asks it for a name.
        var position: [[UInt8]: Int]? = nil
        var lastUse: UInt64 = 0

        /// Where `name` is in `names`, building the name index first if needed.
        mutating func slot(of name: [UInt8]) -> Int? {
            if position == nil {
                var built = [[UInt8]: Int](minimumCapacity: names.count)
                for (i, item) in names.enumerated() { built[item.name] = i }
                position = built
            }
            return position![name]
        }
    }

    private struct State {
        var listings: [UInt64: Listing] = [:]
        var totalNames = 0
        var clock: UInt64 = 0
        var epoch: UInt64 = 0
        /// Name lookups answered by the index in directories whose listing is not held.
        var misses: [UInt64: Int] = [:]
    }

    /// Lookups that went to the index in one directory before its whole listing is read.
    static let missesBeforeRead = 4
    /// After a listing too large to keep, this many more misses before it is tried again:
    /// as many as such a directory has names, so its reads cost about a row per lookup.
    static let missesAfterTooLarge = 1_000_000

    private let state = Mutex(State())
    /// Names held at most, over all listings: about 120 bytes each.
    let maxNames: Int
    /// Listings held at most.
    let maxListings: Int

    init(maxNames: Int = 200_000, maxListings: Int = 4_096) { self.maxNames = maxNames; self.maxListings = maxListings }

    /// Advances with every change; read before a listing is taken from the index.
    var epoch: UInt64 { state.withLock { $0.epoch } }

    /// The names of `dir` (in no particular order) when its listing is held.
    func names(of dir: UInt64) -> [ListedName]? {
        state.withLock { s in
            guard s.listings[dir] != nil else { return nil }
            s.clock += 1
            s.listings[dir]!.lastUse = s.clock
            return s.listings[dir]!.names
        }
    }

    /// Counts a name lookup in `dir` that its held listings could not answer; true when
    /// the directory has been asked often enough that reading its listing whole pays.
    ///
    /// Why: a path walk looks up every component, and with short or no kernel entry caches
    /// (or on every node of a shared index, where each miss is a round trip to the server)
    /// the directories above a file (the root first) are asked again for every file, though
    /// nobody lists them. Read once, they answer from memory like a listed directory.
    func missed(_ dir: UInt64) -> Bool {
        state.withLock { s in
            if s.misses.count >= maxListings { s.misses.removeAll(keepingCapacity: true) }
            let count = s.misses[dir, default: 0] + 1
            if count < Self.missesBeforeRead { s.misses[dir] = count; return false }
            s.misses[dir] = nil
            return true
        }
    }

    /// Keeps a listing read from the index, unless a name changed since `epoch` was read.
    func fill(_ dir: UInt64, _ names: [ListedName], readAt epoch: UInt64) {
        guard names.count <= maxNames / 4 else {
            // Too large to hold: reading it again on the next few misses would only cost.
            state.withLock { s in s.misses[dir] = Self.missesBeforeRead - Self.missesAfterTooLarge }
            return
        }
        state.withLock { s in
            guard s.epoch == epoch, s.listings[dir] == nil else { return }
            var listing = Listing(names: names)
            s.clock += 1
            listing.lastUse = s.clock
            s.listings[dir] = listing
            s.totalNames += names.count
            evict(&s, keeping: dir)
        }
    }

    /// A directory just made through the mount: empty, and so complete.
    func startEmpty(_ dir: UInt64) {
        state.withLock { s in
            s.epoch += 1
            s.clock += 1
            s.listings[dir] = Listing(lastUse: s.clock)
            evict(&s, keeping: dir)
        }
    }

    func lookup(_ dir: UInt64, _ name: UnsafeBufferPointer<UInt8>) -> Answer {
        state.withLock { s in
            guard s.listings[dir] != nil else { return .unknown }
            guard let i = s.listings[dir]!.slot(of: Array(name)) else { return .absent }
            return .present(ino: s.listings[dir]!.names[i].ino)
        }
    }

    /// `item` now names an entry in `dir` (replacing whatever that name held).
    func added(_ dir: UInt64, _ item: ListedName) {
        state.withLock { s in
            s.epoch += 1
            guard s.listings[dir] != nil else { return }
            if let i = s.listings[dir]!.slot(of: item.name) {
                s.listings[dir]!.names[i] = item
            } else {
                s.listings[dir]!.position![item.name] = s.listings[dir]!.names.count
                s.listings[dir]!.names.append(item)
                s.totalNames += 1
                evict(&s, keeping: dir)
            }
        }
    }

    /// `name` in `dir` is gone.
    func removed(_ dir: UInt64, _ name: [UInt8]) {
        state.withLock { s in
            s.epoch += 1
            guard s.listings[dir] != nil, let i = s.listings[dir]!.slot(of: name) else { return }
            s.listings[dir]!.position![name] = nil
            let last = s.listings[dir]!.names.count - 1
            if i != last {
                let moved = s.listings[dir]!.names[last]
                s.listings[dir]!.names[i] = moved
                s.listings[dir]!.position![moved.name] = i
            }
            s.listings[dir]!.names.removeLast()
            s.totalNames -= 1
        }
    }

    /// Forgets `dir`'s listing (the directory went, or changed behind the mount).
    func drop(_ dir: UInt64) {
        state.withLock { s in
            s.epoch += 1
            if let gone = s.listings.removeValue(forKey: dir) { s.totalNames -= gone.names.count }
        }
    }

    /// Over either limit, the least recently used listings go until a quarter of each limit
    /// is free again, so that a tree walk pays for a sort now and then, not a scan per opendir.
    /// `keeping` stays.
    private func evict(_ s: inout State, keeping: UInt64) {
        guard s.totalNames > maxNames || s.listings.count > maxListings else { return }
        let byAge = s.listings.lazy.filter { $0.key != keeping }.map { ($0.value.lastUse, $0.key) }.sorted { $0.0 < $1.0 }
        for (_, dir) in byAge {
            if s.totalNames <= maxNames * 3 / 4 && s.listings.count <= maxListings * 3 / 4 { break }
            if let gone = s.listings.removeValue(forKey: dir) { s.totalNames -= gone.names.count }
        }
    }
}
