import Index
import ObjectStore
import Silos
import Synchronization
import Syscalls

/// Lists an object-storage silo into directory batches, as `SiloWalker` walks a directory:
/// ListObjectsV2 with "/" as delimiter, objects becoming files and common prefixes
/// directories. Level by level, the prefixes of one level listed in parallel, so every
/// directory's batch is queued before its children's.
struct ObjectSiloLister {
    let silo: Silo
    let queue: BlockingQueue<DirectoryBatch>
    let report: @Sendable (ScanProblem) -> Void
    /// The index the scan merges into: objects it already holds at the same version need no
    /// HEAD for their attributes (nil: every object is asked).
    var index: IndexStore?
    var parallel = 8
    /// HEADs in flight for one directory's new objects.
    var headsInFlight = 16

    /// What files and directories from a bucket look like when the objects carry no
    /// attributes of ours (other clients made them): files 0644, directories 0755, owned by
    /// root, modified when the object was stored.
    static let fileMode: UInt32 = 0o100644
    static let directoryMode: UInt32 = 0o040755

    func run() {
        defer { queue.finishProducer() }
        if !silo.isOnline {
            do { try silo.attach() } catch {
                report(ScanProblem(silo: silo.name, path: "", message: error.problem))
                return
            }
        }
        guard let bucket = silo.bucket, let client = bucket.client else {
            report(ScanProblem(silo: silo.name, path: "", message: "the bucket has no client"))
            return
        }
        // A rename half done shows some objects under each name; the index already has the new one.
        bucket.waitForRenames(covering: nil)
        if let job = unfinishedRename() {
            // Outside the daemon (or with the job failing): listing now would bring the old names back.
            report(ScanProblem(silo: silo.name, path: "", message: "not scanned: rename job \(job) in this bucket is unfinished; mounting the pool finishes it"))
            return
        }
        var listed: [DirectoryBatch] = []
        var level: [[UInt8]] = [[]]
        var first = true
        while !level.isEmpty {
            let batches = Mutex<[Int: DirectoryBatch]>([:])
            let paths = level
            let isRoot = first
            do {
                try ParallelWork.run(paths.count, width: parallel) { i in
                    let batch = list(paths[i], client: client, bucket: bucket, root: isRoot)
                    batches.withLock { $0[i] = batch }
                }
            } catch {}
            var next: [[UInt8]] = []
            let done = batches.withLock { $0 }
            for i in paths.indices {
                guard let batch = done[i] else { continue }
                listed.append(batch)
                for entry in batch.entries where entry.stat.isDirectory { next.append(childPath(batch.path, entry.name)) }
            }
            level = next
            first = false
        }
        for batch in Self.withoutEmptyPrefixes(listed) { queue.push(batch) }
    }

    /// A prefix with no object anywhere below it is no directory: S3 has none, and servers
    /// that keep folders (SeaweedFS) drop empty ones only a while after their last object
    /// went. `batches` are in breadth-first order; a listing that failed counts as holding
    /// something, so nothing under it is taken as gone.
    static func withoutEmptyPrefixes(_ batches: [DirectoryBatch]) -> [DirectoryBatch] {
        func child(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] { parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name }
        var full = Set<[UInt8]>()
        for batch in batches.reversed() {
            let holds = !batch.complete || batch.entries.contains { !$0.stat.isDirectory || full.contains(child(batch.path, $0.name)) }
            if holds { full.insert(batch.path) }
        }
        return batches.compactMap { batch in
            guard batch.path.isEmpty || full.contains(batch.path) else { return nil }
            var kept = batch
            kept.entries.removeAll { $0.stat.isDirectory && !full.contains(child(batch.path, $0.name)) }
            return kept
        }
    }

    /// One directory's listing (every page). A failure leaves it incomplete: nothing under it
    /// is taken as gone.
    private func list(_ path: [UInt8], client: S3Client, bucket: ObjectBucket, root: Bool) -> DirectoryBatch {
        var batch = DirectoryBatch(silo: silo.id, path: path, entries: [], complete: true, rootStat: nil)
        if root { batch.rootStat = FileStat(mode: Self.directoryMode, nlink: 2) }
        guard let prefix = bucket.key(path).map({ path.isEmpty ? $0 : $0 + "/" }) else {
            report(problem(path, "not listed: the path is not UTF-8"))
            batch.complete = false
            return batch
        }
        var token: String?
        var directories = Set<[UInt8]>()
        var files: [ScannedEntry] = []
        repeat {
            let page: ListPage
            do { page = try client.list(prefix: prefix, continuation: token) } catch {
                report(problem(path, "listing stopped: \(error)"))
                batch.complete = false
                break
            }
            for common in page.prefixes {
                let name = Array(common.utf8.dropFirst(prefix.utf8.count).dropLast())
                if name.isEmpty || name.contains(UInt8(ascii: "/")) { continue }
                if root && name == Array(".estuary".utf8) { continue }
                if let reason = tooDeep(path, name) { report(problem(childPath(path, name), reason)); batch.complete = false; continue }
                directories.insert(name)
                batch.entries.append(ScannedEntry(name: name, stat: FileStat(mode: Self.directoryMode, nlink: 2), target: nil, tags: []))
            }
            for object in page.objects {
                let name = Array(object.key.utf8.dropFirst(prefix.utf8.count))
                // The prefix's own marker object ("dir/" as a key), made by consoles and some tools.
                if name.isEmpty { continue }
                if let reason = tooDeep(path, name) { report(problem(childPath(path, name), reason)); batch.complete = false; continue }
                var stat = FileStat(mode: Self.fileMode, size: object.size)
                stat.inode = ObjectBucket.versionHash(object.etag)
                stat.blocks = (object.size + 511) / 512
                stat.mtimeNs = object.lastModified; stat.ctimeNs = object.lastModified; stat.atimeNs = object.lastModified
                files.append(ScannedEntry(name: name, stat: stat, target: nil, tags: []))
            }
            token = page.continuation
        } while token != nil
        withAttributes(&files, path, client: client)
        for file in files {
            // "a" and "a/b" both as keys: a name cannot be a file and a directory at once.
            if directories.contains(file.name) {
                report(problem(childPath(path, file.name), "not added: the key is also a prefix of other keys (a directory)"))
                continue
            }
            batch.entries.append(file)
        }
        return batch
    }

    /// The id of a rename journaled for this silo (meta `bucket_renames`, lines of id, silo,
    /// old and new key; see BucketRenames in Namespace) that is not done.
    private func unfinishedRename() -> String? {
        guard let index, let text = try? index.query({ tx throws(IndexError) in try tx.meta("bucket_renames") }) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 4, fields[1] == Substring(String(silo.id)) { return String(fields[0]) }
        }
        return nil
    }

    /// Objects the index does not hold at this version get their attributes from a HEAD
    /// (`x-amz-meta-*`, see ObjectAttributes), several in flight; a failed HEAD leaves the
    /// defaults. A listing carries no metadata, so this is what a rebuild of the index from
    /// the bucket costs per new object.
    private func withAttributes(_ files: inout [ScannedEntry], _ path: [UInt8], client: S3Client) {
        let known = knownVersions(path)
        let asked = files.indices.filter { i in
            guard let version = known[files[i].name] else { return true }
            return version.hash != files[i].stat.inode || version.size != files[i].stat.size
        }
        guard !asked.isEmpty, let bucket = silo.bucket else { return }
        let found = Mutex<[Int: ObjectAttributes]>([:])
        let names = asked.map { childPath(path, files[$0].name) }
        do {
            try ParallelTransfers.run(Array(asked.indices), width: headsInFlight) { i throws(S3Error) in
                guard let key = bucket.key(names[i]), let info = try? client.head(key) else { return }
                found.withLock { $0[asked[i]] = ObjectAttributes(metadata: info.metadata) }
            }
        } catch {}
        for (i, attributes) in found.withLock({ $0 }) { Self.apply(attributes, to: &files[i]) }
    }

    static func apply(_ a: ObjectAttributes, to entry: inout ScannedEntry) {
        if let mode = a.mode { entry.stat.mode = (fileMode & ~0o7777) | mode }
        if let uid = a.uid { entry.stat.uid = uid }
        if let gid = a.gid { entry.stat.gid = gid }
        if let mtime = a.mtimeNs { entry.stat.mtimeNs = mtime }
        if let atime = a.atimeNs { entry.stat.atimeNs = atime }
        entry.inodeHint = a.ino
        entry.tags = a.tags.filter { !$0.name.starts(with: reservedTagPrefix) }
    }

    /// The version hash and size of each file of this silo the index holds in `path`.
    private func knownVersions(_ path: [UInt8]) -> [[UInt8]: (hash: UInt64, size: Int64)] {
        guard let index else { return [:] }
        let siloID = silo.id
        return (try? index.query { tx throws(IndexError) -> [[UInt8]: (hash: UInt64, size: Int64)] in
            var dir: UInt64 = 1
            for component in path.split(separator: UInt8(ascii: "/")) {
                guard let row = try tx.entry(parent: dir, name: Array(component)), row.kind == .directory else { return [:] }
                dir = row.ino
            }
            var versions: [[UInt8]: (hash: UInt64, size: Int64)] = [:]
            for (name, row) in try tx.firstNames(in: dir) where row.silo == siloID && row.kind == .regular {
                versions[name] = (row.backingInode, row.size)
            }
            return versions
        }) ?? [:]
    }

    private func tooDeep(_ path: [UInt8], _ name: [UInt8]) -> String? {
        let depth = path.isEmpty ? 1 : path.count(where: { $0 == UInt8(ascii: "/") }) + 2
        guard depth > Silo.deepestLevel || path.count + 1 + name.count > Silo.longestPath else { return nil }
        return "not added: deeper than Estuary serves (\(Silo.deepestLevel) levels, \(Silo.longestPath) bytes of path)"
    }

    private func childPath(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] {
        parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name
    }

    private func problem(_ path: [UInt8], _ message: String) -> ScanProblem {
        ScanProblem(silo: silo.name, path: displayName(path), message: message)
    }
}

/// `count` pieces of work on up to `width` threads.
enum ParallelWork {
    static func run(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) throws {
        let next = Atomic<Int>(0)
        let work: @Sendable () -> Void = {
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                body(i)
            }
        }
        let threads = (0..<max(0, min(width, count) - 1)).map { _ in OSThread.start(work) }
        work()
        threads.forEach { $0.join() }
    }
}
