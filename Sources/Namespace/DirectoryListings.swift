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
        var position: [[UInt8]: Int] = [:]
        var lastUse: UInt64 = 0
    }

    private struct State {
        var listings: [UInt64: Listing] = [:]
        var totalNames = 0
        var clock: UInt64 = 0
        var epoch: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Names held at most, over all listings: about 120 bytes each.
    let maxNames: Int

    init(maxNames: Int = 200_000) { self.maxNames = maxNames }

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

    /// Keeps a listing read from the index, unless a name changed since `epoch` was read.
    func fill(_ dir: UInt64, _ names: [ListedName], readAt epoch: UInt64) {
        guard names.count <= maxNames / 4 else { return }
        state.withLock { s in
            guard s.epoch == epoch, s.listings[dir] == nil else { return }
            var listing = Listing(names: names)
            listing.position.reserveCapacity(names.count)
            for (i, item) in names.enumerated() { listing.position[item.name] = i }
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
        let key = Array(name)
        return state.withLock { s in
            guard let listing = s.listings[dir] else { return .unknown }
            guard let i = listing.position[key] else { return .absent }
            return .present(ino: listing.names[i].ino)
        }
    }

    /// `item` now names an entry in `dir` (replacing whatever that name held).
    func added(_ dir: UInt64, _ item: ListedName) {
        state.withLock { s in
            s.epoch += 1
            guard s.listings[dir] != nil else { return }
            if let i = s.listings[dir]!.position[item.name] {
                s.listings[dir]!.names[i] = item
            } else {
                s.listings[dir]!.position[item.name] = s.listings[dir]!.names.count
                s.listings[dir]!.names.append(item)
                s.totalNames += 1
                if s.totalNames > maxNames { evict(&s, keeping: dir) }
            }
        }
    }

    /// `name` in `dir` is gone.
    func removed(_ dir: UInt64, _ name: [UInt8]) {
        state.withLock { s in
            s.epoch += 1
            guard s.listings[dir] != nil, let i = s.listings[dir]!.position.removeValue(forKey: name) else { return }
            let last = s.listings[dir]!.names.count - 1
            if i != last {
                let moved = s.listings[dir]!.names[last]
                s.listings[dir]!.names[i] = moved
                s.listings[dir]!.position[moved.name] = i
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

    /// Least recently used listings go until the names fit; `keeping` stays.
    private func evict(_ s: inout State, keeping: UInt64) {
        while s.totalNames > maxNames {
            guard let victim = s.listings.filter({ $0.key != keeping }).min(by: { $0.value.lastUse < $1.value.lastUse })?.key,
                  let gone = s.listings.removeValue(forKey: victim) else { return }
            s.totalNames -= gone.names.count
        }
    }
}
