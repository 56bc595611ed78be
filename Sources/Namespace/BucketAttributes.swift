import Index
import Logging
import ObjectStore
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Attribute changes of files whose data is an object, written back to the object's
/// metadata so a rebuild of the index from the silos restores them. A chmod, chown, utimens
/// or tag change answers once the index holds it and, in the same transaction, a journal
/// line (meta keys `bucket_attributes.N`, lines "inode silo") says the object is behind.
/// A worker then rewrites the object's `x-amz-meta-*` on the server (CopyObject onto itself,
/// metadata replaced, If-Match on the ETag of the version the index holds), from what the
/// index holds at that moment: changes that arrive while one waits or runs make one copy.
/// The line goes only in a transaction that finds the index's attributes still equal to
/// what was written; otherwise the file runs again. A daemon killed meanwhile finds the
/// lines at the next mount and finishes them before the silos are rescanned.
public final class BucketAttributes: Sendable {
    /// The journal is spread over this many meta keys, so a change rewrites a short line list.
    static let shards: UInt64 = 16
    static func metaKey(_ ino: UInt64) -> String { "bucket_attributes.\(ino % shards)" }
    /// How long a change waits for more before its object is rewritten: a burst of changes
    /// to one file (cp -p, tar, rsync set mode, owner and times in a row) is one copy.
    static let settleNanoseconds: UInt64 = 200_000_000
    /// Copies in flight.
    static let width = 8

    enum Outcome { case done, again, retry(String) }

    let index: IndexStore
    let silos: SiloSet
    let logger: Logger
    private struct State {
        /// Files to write back, with their silo and the monotonic time they are due.
        var due: [UInt64: (silo: SiloID, at: UInt64)] = [:]
        var running = false
        /// Files whose last attempt failed (server away, another node's lease): a mount does
        /// not wait for them.
        var failing: Set<UInt64> = []
        var attempts: [UInt64: Int] = [:]
    }
    private let state = Mutex(State())
    private let hooks = Mutex<Hooks>(Hooks())
    private struct Hooks {
        var moves: MoveGates?
        var refresh: (@Sendable (EntryRow) -> Void)?
        var hold: (@Sendable (String) -> Bool)?
        var release: (@Sendable (String) -> Void)?
    }
    /// Objects rewritten (for tests and status).
    private let copies = Atomic<Int>(0)

    public init(index: IndexStore, silos: SiloSet, logger: Logger = Logger(label: "estuary.attributes")) {
        self.index = index; self.silos = silos; self.logger = logger
    }

    /// The namespace's move gates and its cache of rows, once it exists.
    func attach(moves: MoveGates, refresh: @escaping @Sendable (EntryRow) -> Void) {
        hooks.withLock { $0.moves = moves; $0.refresh = refresh }
    }

    /// With a shared index, a file is written back under the lease `attributes:<inode>`, so
    /// two nodes never copy one object from two different reads of the index.
    public func useLeases(hold: @escaping @Sendable (String) -> Bool, release: @escaping @Sendable (String) -> Void) {
        hooks.withLock { $0.hold = hold; $0.release = release }
    }

    /// Objects whose metadata was rewritten since the daemon started.
    public var rewritten: Int { copies.load(ordering: .relaxed) }

    /// Files whose write-back is queued or running.
    public var pending: Int { state.withLock { $0.due.count } }

    // MARK: the journal

    /// Adds the journal line of `ino` inside the transaction that changed its attributes.
    public static func record(_ ino: UInt64, silo: SiloID, _ tx: WriteTransaction) throws(IndexError) {
        let key = metaKey(ino)
        var lines = decode(try tx.meta(key) ?? "")
        guard !lines.contains(where: { $0.ino == ino }) else { return }
        lines.append((ino, silo))
        try tx.setMeta(key, encode(lines))
    }

    static func drop(_ ino: UInt64, _ tx: WriteTransaction) throws(IndexError) {
        let key = metaKey(ino)
        let lines = decode(try tx.meta(key) ?? "")
        guard lines.contains(where: { $0.ino == ino }) else { return }
        try tx.setMeta(key, encode(lines.filter { $0.ino != ino }))
    }

    static func encode(_ lines: [(ino: UInt64, silo: SiloID)]) -> String {
        lines.map { "\($0.ino) \($0.silo)" }.joined(separator: "\n")
    }

    static func decode(_ text: String) -> [(ino: UInt64, silo: SiloID)] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 2, let ino = UInt64(f[0]), let silo = SiloID(f[1]) else { return nil }
            return (ino, silo)
        }
    }

    // MARK: running

    /// A committed change of `ino` (journaled): its object is rewritten after the settle time.
    public func changed(_ ino: UInt64, silo: SiloID) { enqueue([(ino, silo)], after: BucketAttributes.settleNanoseconds) }

    /// Takes up the lines a stopped daemon left in the journal.
    public func resume() {
        let lines: [(ino: UInt64, silo: SiloID)]
        do {
            lines = try index.query { tx throws(IndexError) in
                var all: [(ino: UInt64, silo: SiloID)] = []
                for shard in 0..<BucketAttributes.shards { all += BucketAttributes.decode(try tx.meta("bucket_attributes.\(shard)") ?? "") }
                return all
            }
        } catch {
            logger.error("cannot read the journal of attribute write-backs: \(error)")
            return
        }
        guard !lines.isEmpty else { return }
        logger.info("writing back the attributes of \(lines.count) file(s) in buckets a stopped daemon left")
        enqueue(lines, after: 0)
    }

    /// Waits until nothing is queued but files whose bucket cannot be reached or whose last
    /// attempt failed (a mount must not hang on a server that refuses a copy).
    public func waitUntilDone() {
        while state.withLock({ s in
            s.due.contains { ino, entry in !s.failing.contains(ino) && (silos[entry.silo].map { $0.isOnline } ?? false) }
        }) {
            usleep(5_000)
        }
    }

    private func enqueue(_ files: [(ino: UInt64, silo: SiloID)], after delay: UInt64) {
        let at = BucketAttributes.now() + delay
        let startWorker = state.withLock { s -> Bool in
            // An earlier due time stays: a steady stream of changes does not postpone the copy.
            for file in files where s.due[file.ino] == nil { s.due[file.ino] = (file.silo, at) }
            if s.running { return false }
            s.running = true
            return true
        }
        if startWorker { _ = OSThread.start { [self] in work() } }
    }

    private func work() {
        while true {
            let now = BucketAttributes.now()
            let next = state.withLock { s -> (ready: [(UInt64, SiloID)], wait: UInt64)? in
                if s.due.isEmpty { s.running = false; return nil }
                let ready = s.due.filter { $0.value.at <= now }
                for ino in ready.keys { s.due.removeValue(forKey: ino) }
                let wait = s.due.values.map(\.at).min().map { $0 > now ? $0 - now : 0 } ?? 0
                return (ready.map { ($0.key, $0.value.silo) }, wait)
            }
            guard let next else { return }
            if next.ready.isEmpty {
                usleep(UInt32(min(next.wait / 1000 + 1, 1_000_000)))
                continue
            }
            let batch = next.ready
            try? ParallelTransfers.run(Array(batch.indices), width: BucketAttributes.width) { [self] i throws(S3Error) in
                let (ino, silo) = batch[i]
                settle(ino, silo, writeBack(ino, silo))
            }
        }
    }

    private func settle(_ ino: UInt64, _ silo: SiloID, _ outcome: Outcome) {
        switch outcome {
        case .done:
            state.withLock { s in s.failing.remove(ino); s.attempts.removeValue(forKey: ino) }
        case .again:
            enqueue([(ino, silo)], after: BucketAttributes.settleNanoseconds)
        case .retry(let reason):
            let attempt = state.withLock { s -> Int in
                s.failing.insert(ino)
                let n = (s.attempts[ino] ?? 0) + 1
                s.attempts[ino] = n
                return n
            }
            if attempt == 1 || attempt % 50 == 0 {
                logger.warning("attributes of inode \(ino) not yet written to its object (attempt \(attempt)): \(reason); retrying")
            }
            enqueue([(ino, silo)], after: UInt64(min(attempt, 30)) * 200_000_000)
        }
    }

    /// One file: the index's attributes (read after the changes waiting in the group-commit
    /// batch are committed) onto the version of the object the index holds.
    func writeBack(_ ino: UInt64, _ journaled: SiloID) -> Outcome {
        let snapshot: (row: EntryRow?, path: [UInt8]?, tags: [(name: [UInt8], value: [UInt8])])
        do {
            // A write transaction: it commits the group-commit batch first, so the snapshot
            // holds every change made so far (a reader's snapshot would not see the batch).
            snapshot = try index.write { wtx throws(IndexError) in
                let tx = wtx.reader
                guard let row = try tx.entry(ino) else { return (nil, nil, []) }
                return (row, try tx.path(of: ino), try tx.xattrs(of: ino))
            }
        } catch { return .retry("the index cannot be read: \(error)") }
        // Gone, or no longer in a bucket: a local copy carries its attributes itself, and a
        // later upload compares them at its switch (see ObjectUploadMove).
        guard let row = snapshot.row, let path = snapshot.path, row.kind == .regular,
              let silo = silos[row.silo], let bucket = silo.bucket else { return finish(ino, row: nil, written: nil, newVersion: nil) }
        guard silo.isOnline, let client = bucket.client else { return .retry("silo '\(silo.name)' is offline") }
        let (hold, release, moves, refresh) = hooks.withLock { ($0.hold, $0.release, $0.moves, $0.refresh) }
        let lease = "attributes:\(ino)"
        if let hold, !hold(lease) { return .retry("another node holds \(lease)") }
        defer { release?(lease) }
        // A move's switch waits for this write-back (and this one for a switch in progress).
        let gate = moves?.enter(ino)
        defer { moves?.exit(ino, gate) }
        guard let key = bucket.key(path) else { return finish(ino, row: nil, written: nil, newVersion: nil) }
        let attributes = BucketAttributes.attributes(row, snapshot.tags)
        let info: ObjectInfo
        do { info = try client.head(key) } catch {
            if error.kind == .noSuchKey {
                logger.warning("attributes of \(key) in silo '\(silo.name)' not written back: the object is gone")
                return finish(ino, row: nil, written: nil, newVersion: nil)
            }
            return .retry("\(error)")
        }
        guard ObjectBucket.versionHash(info.etag) == row.backingInode else {
            // Another object is at the key (written behind the mount): the index's attributes
            // do not describe it, and the next open or scan takes the new object's.
            logger.warning("attributes of \(key) in silo '\(silo.name)' not written back: the object changed behind the mount")
            return finish(ino, row: nil, written: nil, newVersion: nil)
        }
        let etag: String
        do { etag = try client.replaceMetadata(of: info, metadata: attributes.metadata) } catch {
            return .retry("\(error)")
        }
        copies.add(1, ordering: .relaxed)
        if etag != info.etag { bucket.noteRewritten(from: info.etag, to: etag) }
        let outcome = finish(ino, row: row, written: attributes, newVersion: ObjectBucket.versionHash(etag))
        if let updated = try? index.query({ tx throws(IndexError) in try tx.entry(ino) }), updated.backingInode != row.backingInode {
            refresh?(updated)
        }
        return outcome
    }

    /// Records the object's new version and drops the journal line, unless the attributes
    /// changed while the copy ran (then the file goes again). Without `written`, the line goes.
    private func finish(_ ino: UInt64, row: EntryRow?, written: ObjectAttributes?, newVersion: UInt64?) -> Outcome {
        do {
            return try index.write { tx throws(IndexError) -> Outcome in
                guard let written, let row, var current = try tx.reader.entry(ino) else {
                    try BucketAttributes.drop(ino, tx)
                    return .done
                }
                if let newVersion, current.silo == row.silo, current.backingInode == row.backingInode, newVersion != row.backingInode {
                    current.backingInode = newVersion
                    try tx.update(current)
                }
                guard current.silo == row.silo,
                      BucketAttributes.same(BucketAttributes.attributes(current, try tx.reader.xattrs(of: ino)), written) else { return .again }
                try BucketAttributes.drop(ino, tx)
                return .done
            }
        } catch { return .retry("the index cannot record the write-back: \(error)") }
    }

    // MARK: what an object carries

    /// The metadata of a file in a bucket, from its row and tags in the index. Estuary's
    /// reserved names are the index's own and stay out, as at upload.
    public static func attributes(_ row: EntryRow, _ tags: [(name: [UInt8], value: [UInt8])]) -> ObjectAttributes {
        let reserved = Array("user.estuary.".utf8)
        let kept = tags.filter { !$0.name.starts(with: reserved) }.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        return ObjectAttributes(mode: row.mode & 0o7777, uid: row.uid, gid: row.gid, mtimeNs: row.mtimeNs, atimeNs: row.atimeNs,
                                ino: row.ino, tags: kept)
    }

    /// Whether two sets of attributes agree on what a write-back is for (mode, owner, mtime,
    /// tags): an access time alone does not cost a copy.
    public static func same(_ a: ObjectAttributes, _ b: ObjectAttributes) -> Bool {
        func sorted(_ t: [(name: [UInt8], value: [UInt8])]) -> [[UInt8]] {
            t.sorted { $0.name.lexicographicallyPrecedes($1.name) }.flatMap { [$0.name, $0.value] }
        }
        return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtimeNs == b.mtimeNs && sorted(a.tags) == sorted(b.tags)
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
