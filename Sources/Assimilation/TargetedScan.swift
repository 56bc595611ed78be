import Index
import Silos
import Syscalls
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a rescan of part of one silo looks at: names in directories (each name is stat'ed, and
/// taken as gone when it is absent), and whole directories (listed completely). Paths are
/// relative to the silo root, without a leading slash; the root is the empty path.
public struct RescanRequest: Sendable {
    public private(set) var names: [[UInt8]: Set<[UInt8]>] = [:]
    public private(set) var wholeDirectories: Set<[UInt8]> = []

    public init() {}

    public var isEmpty: Bool { names.isEmpty && wholeDirectories.isEmpty }
    public var count: Int { names.values.reduce(0) { $0 + $1.count } + wholeDirectories.count }

    public mutating func add(name: [UInt8], in directory: [UInt8]) { names[directory, default: []].insert(name) }
    public mutating func addDirectory(_ directory: [UInt8]) { wholeDirectories.insert(directory) }

    /// The entry naming `path` itself, in its parent (the root's own attributes for the root).
    public mutating func add(entry path: [UInt8]) {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else {
            if path.isEmpty { names[[], default: []] = names[[], default: []] } else { add(name: path, in: []) }
            return
        }
        add(name: Array(path[(slash + 1)...]), in: Array(path[..<slash]))
    }
}

/// Rescans the parts of one silo a `RescanRequest` names, through the same merge rules as a
/// full scan (so applying a change twice changes nothing the second time). A name or directory
/// the index does not have yet is looked at from its nearest ancestor the index has, and
/// directories new to the index are walked whole.
public struct TargetedScanner: Sendable {
    public let index: IndexStore
    public let silos: SiloSet

    public init(index: IndexStore, silos: SiloSet) { self.index = index; self.silos = silos }

    /// One directory to look at: its inode, the names (nil: all), and the subdirectories the
    /// index already has for this silo (not walked again).
    private struct Placed: Sendable {
        var path: [UInt8]
        var ino: UInt64
        var names: Set<[UInt8]>?
        var known: Set<[UInt8]>
    }

    /// Rescans what `requests` name, every silo's in one merge: removals wait until all are
    /// merged, so a file moved from one silo to another behind the mount keeps its inode
    /// number, as in a full scan.
    public func rescan(_ requests: [(silo: Silo, request: RescanRequest)], live: Bool = true,
                       nameChanged: ((_ parent: UInt64, _ name: [UInt8]) -> Void)? = nil) throws(IndexError) -> ScanSummary {
        let started = monotonicSeconds()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let wallStart = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - 20_000_000
        let placed = try index.query { tx throws(IndexError) -> [(Silo, [Placed])] in
            var placed: [(Silo, [Placed])] = []
            for (silo, request) in requests { placed.append((silo, try place(request, silo: silo.id, tx))) }
            return placed
        }
        let queue = BlockingQueue<DirectoryBatch>(capacity: 512, producers: 1)
        let problems = Mutex<[ScanProblem]>([])
        let thread = OSThread.start {
            defer { queue.finishProducer() }
            for (silo, targets) in placed {
                let walker = SiloWalker(silo: silo, queue: queue, report: { p in problems.withLock { $0.append(p) } })
                for target in targets { Self.look(at: target, walker) }
            }
        }
        let merger = IndexMerger(silos: silos)
        if live { merger.liveSince = wallStart }
        merger.touched = []
        merger.linksPossible = index.mayHoldLinks
        for (_, targets) in placed { for target in targets { merger.directories[target.path] = target.ino } }
        var uncommitted: [(UInt64, [UInt8])] = []
        if nameChanged != nil { merger.nameChanged = { uncommitted.append(($0, $1)) } }
        let deliver = {
            if let nameChanged { for (parent, name) in uncommitted { nameChanged(parent, name) } }
            uncommitted.removeAll()
        }
        merger.shadowsExist = try index.query { tx throws(IndexError) in try tx.shadowCount() } > 0
        var finished = false
        while !finished {
            let (chunk, last) = queue.popChunk()
            if chunk.isEmpty { break }
            finished = last
            let saved = (merger.summary, merger.directories, merger.pendingRemovals, merger.problems, merger.skipped)
            try index.write { tx throws(IndexError) in
                // A busy retry replays the chunk.
                (merger.summary, merger.directories, merger.pendingRemovals, merger.problems, merger.skipped) = saved
                uncommitted.removeAll()
                for batch in chunk { try merger.apply(batch, tx) }
            }
            deliver()
        }
        thread.join()
        let saved = (merger.summary, merger.pendingRemovals)
        try index.write { tx throws(IndexError) in
            (merger.summary, merger.pendingRemovals) = saved
            uncommitted.removeAll()
            try merger.finish(tx)
        }
        deliver()
        var summary = merger.summary
        summary.problems = problems.withLock { $0 } + merger.problems
        summary.touched = merger.touched
        summary.silos = requests.map(\.silo.name)
        summary.seconds = monotonicSeconds() - started
        return summary
    }

    /// Finds each requested directory in the index. One the index lacks (or has only from
    /// other silos) is looked at as a name in its parent, up to the root, which is always there.
    private func place(_ request: RescanRequest, silo s: SiloID, _ tx: ReadTransaction) throws(IndexError) -> [Placed] {
        var found: [[UInt8]: (ino: UInt64, names: Set<[UInt8]>?)] = [:]
        func resolve(_ path: [UInt8]) throws(IndexError) -> UInt64? {
            if path.isEmpty { return 1 }
            guard let row = try tx.resolve(path: path), row.kind == .directory, row.holds(silo: s) else { return nil }
            return row.ino
        }
        func add(_ path: [UInt8], names: Set<[UInt8]>?) throws(IndexError) {
            if let slot = found[path] {
                if let have = slot.names, let more = names { found[path]?.names = have.union(more) } else { found[path]?.names = nil }
                return
            }
            if let ino = try resolve(path) { found[path] = (ino, names); return }
            let slash = path.lastIndex(of: UInt8(ascii: "/"))
            let parent = slash.map { Array(path[..<$0]) } ?? []
            let name = slash.map { Array(path[($0 + 1)...]) } ?? path
            try add(parent, names: [name])
        }
        for directory in request.wholeDirectories { try add(directory, names: nil) }
        for (directory, names) in request.names { try add(directory, names: names) }
        var placed: [Placed] = []
        for (path, slot) in found {
            var known = Set<[UInt8]>()
            if let names = slot.names {
                for name in names {
                    if let row = try tx.entry(parent: slot.ino, name: name), row.kind == .directory, row.holds(silo: s) { known.insert(name) }
                }
            } else {
                for (name, row) in try tx.firstNames(in: slot.ino) where row.kind == .directory && row.holds(silo: s) { known.insert(name) }
            }
            placed.append(Placed(path: path, ino: slot.ino, names: slot.names, known: known))
        }
        // Parents before children, so that a directory a listing adds is known to its own listing.
        return placed.sorted { a, b in
            let da = a.path.count { $0 == UInt8(ascii: "/") } + (a.path.isEmpty ? 0 : 1)
            let db = b.path.count { $0 == UInt8(ascii: "/") } + (b.path.isEmpty ? 0 : 1)
            return da != db ? da < db : a.path.lexicographicallyPrecedes(b.path)
        }
    }

    /// Lists or stats one placed directory and walks the subdirectories new to the index. A
    /// directory gone meanwhile is passed over: its removal shows in its parent, which the
    /// same change reported too.
    private static func look(at target: Placed, _ walker: SiloWalker) {
        let silo = walker.silo
        guard let fd = try? silo.open(target.path, flags: O_RDONLY | O_DIRECTORY) else { return }
        let depth = target.path.isEmpty ? 0 : target.path.count { $0 == UInt8(ascii: "/") } + 1
        let rootStat = target.path.isEmpty ? try? Sys.fstat(fd) : nil
        guard let names = target.names else {
            walker.walk(directory: fd, path: target.path, depth: depth, rootStat: rootStat, known: target.known)
            return
        }
        defer { Sys.close(fd) }
        var batch = DirectoryBatch(silo: silo.id, path: target.path, entries: [], complete: false, rootStat: rootStat)
        for name in names where !name.isEmpty && name != [UInt8(ascii: ".")] {
            if target.path.isEmpty && name == Array(".estuary".utf8) { continue }
            if depth + 1 > Silo.deepestLevel || target.path.count + 1 + name.count > Silo.longestPath { continue }
            switch name.withUnsafeBufferPointer({ walker.examine(fd, $0, target.path) }) {
            case .found(let entry): batch.entries.append(entry)
            case .vanished: batch.gone.append(name)
            case .failed: break
            }
        }
        walker.queue.push(batch)
        for entry in batch.entries where entry.stat.isDirectory && !target.known.contains(entry.name) {
            let childFD = withCPath(entry.name) { Glibc.openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard childFD >= 0 else { continue }
            walker.walk(directory: childFD, path: walker.childPath(target.path, entry.name), depth: depth + 1)
        }
    }
}
