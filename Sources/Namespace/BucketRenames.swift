import Index
import Logging
import ObjectStore
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Renames of files and directories in buckets, as jobs that survive a crash. An object
/// cannot be renamed, so a rename is a server-side copy of every object under the old name
/// and a delete of each old key. The rename answers once the index holds the new name and,
/// in the same transaction, a journal line (meta key `bucket_renames`) naming the old and new
/// keys; the copies run behind it, and whoever asks for a key the rename covers (an open, a
/// recall, another rename, a scan) waits until they are done. A daemon killed meanwhile
/// finds the line at the next mount and finishes the job before the silos are rescanned:
/// each step (copy a key, delete it) can run again, and what the listing under the old name
/// still shows is exactly what is left to do.
///
/// With a shared index (several nodes) each line is run under the lease `rename:<id>`, taken
/// before the line is committed: one node at a time copies a rename's keys (two running one
/// rename could land a late copy after a later rename of the same keys moved them on). A
/// node that dies keeps its leases until its heartbeat lapses; then the other nodes, which
/// look at the journal every few seconds, take its lines over (or it does at its next mount).
public final class BucketRenames: Sendable {
    public struct Entry: Sendable, Equatable {
        public let id: UInt64
        public let silo: SiloID
        public let from: String
        public let to: String
    }

    static let metaKey = "bucket_renames"
    /// Copies in flight for one directory's objects.
    static let width = 8

    let index: IndexStore
    let silos: SiloSet
    let logger: Logger
    /// Jobs to run, in order; whether the worker runs; jobs whose last attempt failed.
    private let state = Mutex<(queue: [Entry], running: Bool, failing: Set<UInt64>)>(([], false, []))
    /// This daemon's place among the nodes of a shared index; nil when it is the only one.
    private let membership = Mutex<NodeMembership?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let follower = Mutex<OSThread?>(nil)
    private let wake = Doorbell()
    /// The worker's pause between attempts, cut short by `stop`.
    private let rest = Doorbell()

    public init(index: IndexStore, silos: SiloSet, logger: Logger = Logger(label: "estuary.renames")) {
        self.index = index; self.silos = silos; self.logger = logger
    }

    private var node: NodeMembership? { membership.withLock { $0 } }

    /// Several nodes: renames run under leases. Set before `resume`.
    public func runAsNode(_ node: NodeMembership?) { membership.withLock { $0 = node } }

    /// A rename about to be committed: its keys are held from now (so nothing reads the new
    /// key before the copy), released by `start` or `abandon`. With other nodes, its lease is
    /// taken first: EIO when it cannot be (the database is away, or this node's heartbeat
    /// lapsed and the others may take its work).
    func prepare(silo: Silo, bucket: ObjectBucket, from: String, to: String) throws(Errno) -> Entry {
        let entry = Entry(id: UInt64.random(in: 1...UInt64.max), silo: silo.id, from: from, to: to)
        if let node, !node.hold(LeaseRow.rename(entry.id)) {
            logger.error("cannot take the lease of a rename in silo '\(silo.name)' (\(from) to \(to)); refused")
            throw Errno.ioError
        }
        bucket.beginRename(entry.id, from: from, to: to)
        return entry
    }

    /// The rename was not committed: nothing was copied, the keys are free again.
    func abandon(_ entries: [Entry]) {
        for entry in entries {
            silos[entry.silo]?.bucket?.endRename(entry.id)
            node?.release(LeaseRow.rename(entry.id))
        }
    }

    /// Adds the journal lines inside the transaction that renames in the index.
    static func record(_ entries: [Entry], _ tx: WriteTransaction) throws(IndexError) {
        guard !entries.isEmpty else { return }
        try tx.lockMeta(metaKey)
        let known = decode(try tx.meta(metaKey) ?? "")
        try tx.setMeta(metaKey, encode(known + entries))
    }

    /// Runs committed renames behind the caller.
    func start(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        let startWorker = state.withLock { s -> Bool in
            let queued = Set(s.queue.map(\.id))
            s.queue += entries.filter { !queued.contains($0.id) }
            if s.running { return false }
            s.running = true
            return true
        }
        if startWorker { _ = OSThread.start { [self] in work() } }
    }

    /// Takes up the renames a stopped daemon left in the journal (its buckets' keys held until
    /// each is done), but those another live node runs.
    public func resume() {
        let entries = adopt()
        if !entries.isEmpty { logger.info("finishing \(entries.count) rename(s) in buckets a stopped daemon left") }
    }

    /// Several nodes: looks at the journal every heartbeat interval for lines whose node died,
    /// until `stop`.
    public func followOtherNodes() {
        guard node != nil else { return }
        let thread = OSThread.start { [self] in
            while !stopping.load(ordering: .relaxed) {
                wake.wait(seconds: Double(NodeMembership.interval))
                guard !stopping.load(ordering: .relaxed) else { break }
                let taken = adopt()
                if !taken.isEmpty {
                    logger.warning("took over \(taken.count) rename(s) in buckets from a node that stopped: \(taken.map { "\($0.from) to \($0.to)" }.joined(separator: ", "))")
                }
            }
        }
        follower.withLock { $0 = thread }
    }

    /// Stops taking renames over and the worker after its current step; what is left stays
    /// in the journal for whoever takes the leases next (they pass as this node leaves).
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wake.ring()
        rest.ring()
        follower.withLock { $0 }?.join()
        while state.withLock({ $0.running }) { usleep(5_000) }
    }

    /// Queues the journal's lines this node may run (all of them for the only daemon; those
    /// whose lease it gets with other nodes), skipping those queued already. The lines queued.
    private func adopt() -> [Entry] {
        let entries: [Entry]
        do { entries = try journal() } catch {
            logger.error("cannot read the journal of renames in buckets: \(error)")
            return []
        }
        let queued = state.withLock { Set($0.queue.map(\.id)) }
        var taken: [Entry] = []
        for entry in entries where !queued.contains(entry.id) {
            if let node {
                guard node.hold(LeaseRow.rename(entry.id)) else { continue }
                // The line may have been finished (and its lease released) since it was read:
                // run it only if it is still in the journal.
                guard (try? journal().contains(entry)) == true else {
                    node.release(LeaseRow.rename(entry.id))
                    continue
                }
            }
            silos[entry.silo]?.bucket?.beginRename(entry.id, from: entry.from, to: entry.to)
            taken.append(entry)
        }
        start(taken)
        return taken
    }

    /// Where the object of `key` in `silo` may still be while renames run, newest name first:
    /// `key`, then for each journal line (newest first) whose new name covers the key, the key
    /// under its old name. Another node's rename is known here only through the journal, so a
    /// reader of the new name reads the old key until that object's copy is made.
    public func candidateKeys(of key: String, silo: SiloID) -> [String] {
        guard let lines = try? journal() else { return [key] }
        var keys = [key]
        var current = key
        for line in lines.reversed() where line.silo == silo {
            if current == line.to { current = line.from }
            else if current.hasPrefix(line.to + "/") { current = line.from + current.dropFirst(line.to.count) }
            else { continue }
            keys.append(current)
        }
        return keys
    }

    private func journal() throws(IndexError) -> [Entry] {
        try index.query { tx throws(IndexError) in BucketRenames.decode(try tx.meta(BucketRenames.metaKey) ?? "") }
    }

    /// Waits until no rename is left but those whose bucket cannot be reached or whose last
    /// attempt failed (a mount must not hang on a server that refuses a copy).
    public func waitUntilDone() {
        while true {
            let waiting = state.withLock { s in
                s.queue.contains { entry in !s.failing.contains(entry.id) && (silos[entry.silo].map { $0.isOnline } ?? false) }
            }
            if !waiting { return }
            usleep(5_000)
        }
    }

    /// Renames in flight (for status and tests).
    public var pending: Int { state.withLock { $0.queue.count } }

    private func work() {
        var failures = 0
        while let entry = state.withLock({ s -> Entry? in
            if let first = s.queue.first, !stopping.load(ordering: .relaxed) { return first }
            s.running = false
            return nil
        }) {
            guard let silo = silos[entry.silo], let bucket = silo.bucket else {
                // The silo left the configuration: the journal line can never be carried out.
                logger.error("rename of \(entry.from) to \(entry.to) dropped: silo \(entry.silo) is gone")
                finish(entry, bucket: nil)
                continue
            }
            // Another node took the rename over (this node's heartbeat lapsed): it is theirs.
            if let node, !node.hold(LeaseRow.rename(entry.id)) {
                logger.warning("rename of \(entry.from) to \(entry.to) passed to another node")
                drop(entry, bucket: bucket)
                continue
            }
            do throws(S3Error) {
                try run(entry, silo: silo, bucket: bucket)
                finish(entry, bucket: bucket)
                failures = 0
            } catch {
                if stopping.load(ordering: .relaxed) { continue }
                failures += 1
                bucket.setStalled(entry.id, true)
                state.withLock { _ = $0.failing.insert(entry.id) }
                if failures == 1 || failures % 50 == 0 {
                    logger.warning("rename of \(entry.from) to \(entry.to) in silo '\(silo.name)' (attempt \(failures)): \(error); retrying")
                }
                rest.wait(seconds: Double(min(failures, 30)) * 0.2)
                bucket.setStalled(entry.id, false)
            }
        }
    }

    /// Copies then deletes every object under the old name: the key itself (a file) and the
    /// keys below it (a directory).
    private func run(_ entry: Entry, silo: Silo, bucket: ObjectBucket) throws(S3Error) {
        guard silo.isOnline, let client = bucket.client else { throw S3Error(.unreachable, message: "silo '\(silo.name)' is offline") }
        var moves: [(from: ObjectInfo, to: String)] = []
        do {
            moves.append((try client.head(entry.from), entry.to))
        } catch where error.kind == .noSuchKey {}
        for object in try client.listAll(prefix: entry.from + "/", delimiter: nil).objects {
            moves.append((object, entry.to + "/" + String(object.key.dropFirst(entry.from.count + 1))))
        }
        let work = moves
        // By size: objects over the CopyObject limit are copied part by part.
        try ParallelTransfers.run(Array(work.indices), width: BucketRenames.width) { [self] i throws(S3Error) in
            if stopping.load(ordering: .relaxed) { throw S3Error(.unreachable, message: "the daemon is stopping") }
            try client.copy(work[i].from, to: work[i].to)
            try client.delete(work[i].from.key)
        }
    }

    /// The rename is done: its journal line goes (fenced by its lease with other nodes, so a
    /// node taken for dead cannot drop a line another node runs), then its lease.
    private func finish(_ entry: Entry, bucket: ObjectBucket?) {
        var attempt = 0
        let holder = node.map { (LeaseRow.rename(entry.id), $0.node.id) }
        while true {
            do {
                try index.write { tx throws(IndexError) in
                    if let holder { try tx.requireLease(holder.0, node: holder.1) }
                    try tx.lockMeta(BucketRenames.metaKey)
                    let left = BucketRenames.decode(try tx.meta(BucketRenames.metaKey) ?? "").filter { $0.id != entry.id }
                    try tx.setMeta(BucketRenames.metaKey, BucketRenames.encode(left))
                }
                break
            } catch {
                if error.kind == .conflict { break }
                attempt += 1
                // Left in the journal, the rename runs again at the next mount, which is harmless.
                if attempt >= 5 { logger.error("cannot drop a finished rename from the journal: \(error)"); break }
                usleep(100_000)
            }
        }
        node?.release(LeaseRow.rename(entry.id))
        drop(entry, bucket: bucket)
    }

    /// Forgets `entry` here: out of the queue, its keys free.
    private func drop(_ entry: Entry, bucket: ObjectBucket?) {
        state.withLock { s in s.queue.removeAll { $0.id == entry.id }; s.failing.remove(entry.id) }
        bucket?.endRename(entry.id)
    }

    // MARK: journal lines: id, silo, old key, new key (keys in hex: any byte may be in a key)

    static func encode(_ entries: [Entry]) -> String {
        entries.map { "\($0.id) \($0.silo) \(hex($0.from)) \(hex($0.to))" }.joined(separator: "\n")
    }

    static func decode(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 4, let id = UInt64(f[0]), let silo = SiloID(f[1]), let from = unhex(f[2]), let to = unhex(f[3]) else { return nil }
            return Entry(id: id, silo: silo, from: from, to: to)
        }
    }

    private static func hex(_ s: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in s.utf8 { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    private static func unhex(_ s: Substring) -> String? {
        let bytes = Array(s.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard let hi = value(bytes[i]), let lo = value(bytes[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return String(validating: out, as: UTF8.self)
    }
}
