import Index
import Namespace
import ObjectStore
import Silos
import Syscalls
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A move into a bucket: the file is uploaded whole to its key (multipart, parts in
/// parallel, each checked by the server), the object's size and ETag are checked against
/// what was read, and only then, with writers held back and nothing changed meanwhile, does
/// the index point at the object and the local copy go.
///
/// Crash safety, by the job's state: before `.renaming` the index points at the local file
/// and a restart uploads again (a half-done multipart upload makes no object); at `.renaming`
/// the object may be complete: a restart checks it against the local file and switches, or
/// deletes it and starts over; at `.switched` only the local copy's removal is left.
extension MoveExecution {
    mutating func runUpload(_ source: Silo, _ destination: Silo) throws(MoveStop) {
        guard let bucket = destination.bucket, let client = bucket.client else { throw .failed("silo offline; will retry when it returns") }
        let row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file is gone") }
        if row.silo == destination.id { job.state = .done; return }
        guard row.kind == .regular else { throw .failed("only regular files are moved") }
        let path: [UInt8]
        do { path = try namespace.relativePath(of: row) } catch { throw .failed("cannot name the file: \(error)") }
        guard row.nlink <= 1 else { throw MoveExecution.hardLinked(path, row.nlink, destination) }
        guard row.silo == source.id else { throw .failed("the file is no longer on silo '\(source.name)'") }
        guard let key = bucket.key(path) else { throw .failed("the path is not UTF-8, which object keys must be") }

        let gate = namespace.beginMove(job.ino, extentSize: job.extentSize)
        defer { namespace.endMove(job.ino) }
        let fd: Int32
        do { fd = try source.open(path, flags: O_RDONLY | O_NOFOLLOW) } catch { throw .failed("cannot open the source: \(error)") }
        defer { Sys.close(fd) }
        if job.state == .renaming, try resumeUpload(client, key, fd, source, destination, gate: gate, path: path) { return }

        var etag = ""
        var uploaded = ObjectAttributes()
        var attempts = 0
        // Other nodes' writes go to the same local file: each attempt gates them before the
        // file is read and holds them with this node's before the check (MovePeers).
        var peers = MovePeers(mover: mover, job: job)
        defer { peers.release() }
        // An object made by an attempt that then stopped before the switch is removed: the
        // file stays local, and a scan must not find a second copy of it in the bucket.
        var made = false
        defer { if made && job.state == .copying { try? client.delete(key) } }
        while true {
            attempts += 1
            guard attempts <= 3 else { throw .failed("the file kept changing during the upload; it stays on '\(source.name)'") }
            if mover.isCancelled(job.id) { throw .cancelled }
            try peers.gate()
            _ = gate.takeDirty()
            guard let stat = try? Sys.fstat(fd) else { throw .failed("cannot stat the source") }
            job.size = stat.size; job.sourceMtime = stat.mtimeNs
            job.done = []; job.hashes = []; job.log = []; job.bytesCopied = 0
            job.state = .copying
            try persist()
            (etag, uploaded) = try upload(client, key: key, fd: fd, stat: stat)
            made = true
            // Writers are held back from here, on every node: a write during the upload (here
            // or through another node) means another round.
            gate.beginSwitch()
            let elsewhere: [Int]?
            do { elsewhere = try peers.hold() } catch { gate.endSwitch(); throw error }
            let after = try? Sys.fstat(fd)
            if gate.takeDirty().isEmpty, elsewhere?.isEmpty == true, let after, after.size == stat.size, after.mtimeNs == stat.mtimeNs { break }
            gate.endSwitch()
            peers.release()
            peers = MovePeers(mover: mover, job: job)
            mover.logger.info("job \(job.id): the file changed during its upload; uploading again")
        }
        defer { gate.endSwitch() }
        // link() passes the gate like a write, so a name added during the upload is seen here.
        if let now = try? namespace.currentRow(job.ino), now.nlink > 1 {
            throw MoveExecution.hardLinked(path, now.nlink, destination)
        }
        let prepared = try followingHandles(source, path)
        job.state = .renaming
        try persist()
        try switchToObject(destination, etag: etag, uploaded: uploaded, handles: prepared, asked: peers.asked)
        try switchPeers(&peers)
        try finishSwitched(source)
        try? persist()
    }

    /// Open handles follow the file into the bucket: each is reopened read-only on the local
    /// copy, which holds the object's bytes (nothing was written since the upload read them)
    /// and stays readable through the handle after its name goes. A write through such a
    /// handle fails on the descriptor (EBADF) and brings the file back first
    /// (`Namespace.write`), as an open for writing of a file in a bucket does; the recall's
    /// switch then puts the handle on the recalled copy.
    private func followingHandles(_ source: Silo, _ path: [UInt8]) throws(MoveStop) -> HandleSwitch {
        do {
            return try namespace.prepareHandleSwitch(job.ino) { _ throws(Errno) -> Int32 in
                try source.open(path, flags: O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            }
        } catch { throw .failed("cannot reopen the file's open handles read-only: \(error)") }
    }

    /// An object has one key, so a file with several names cannot live in a bucket.
    static func hardLinked(_ path: [UInt8], _ links: UInt64, _ destination: Silo) -> MoveStop {
        .failed("'\(String(decoding: path, as: UTF8.self))' has \(links) hard links and an object in bucket silo '\(destination.name)' can have only one name; remove the other links to move it")
    }

    /// Uploads the file, its attributes and tags riding along as object metadata.
    private mutating func upload(_ client: S3Client, key: String, fd: Int32, stat: FileStat) throws(MoveStop) -> (String, ObjectAttributes) {
        var attributes = ObjectAttributes(mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, mtimeNs: stat.mtimeNs,
                                          atimeNs: stat.atimeNs, ino: job.ino)
        if let tags = try? Sys.userXattrs(fd: fd) { attributes.tags = tags.filter { !$0.name.starts(with: Array("user.estuary.".utf8)) } }
        let metadata = attributes.metadata
        let progress = Atomic<Int64>(0)
        let (mover, base) = (self.mover, self.job)
        let uploader = ObjectUpload(client: client, partSize: max(16 << 20, job.extentSize), parallel: 4)
        do {
            let etag = try uploader.upload(fd: fd, size: stat.size, key: key, metadata: metadata) { bytes in
                var snapshot = base
                snapshot.bytesCopied = progress.add(Int64(bytes), ordering: .relaxed).newValue
                mover.throttle.consume(bytes)
                mover.noteProgress(snapshot)
            }
            return (etag, attributes)
        } catch {
            throw .failed("uploading to \(key): \(error)")
        }
    }

    /// After a crash at `.renaming`: the object, if there, is the file when its ETag is that of
    /// the unchanged local copy; otherwise it goes and the upload starts over. Other nodes'
    /// writers are held (and this node's) while that is checked and the index switched.
    private mutating func resumeUpload(_ client: S3Client, _ key: String, _ fd: Int32, _ source: Silo, _ destination: Silo,
                                       gate: MoveGate, path: [UInt8]) throws(MoveStop) -> Bool {
        var peers = MovePeers(mover: mover, job: job)
        defer { peers.release() }
        try peers.gate()
        gate.beginSwitch()
        defer { gate.endSwitch() }
        _ = try peers.hold()
        guard let stat = try? Sys.fstat(fd), stat.size == job.size, stat.mtimeNs == job.sourceMtime,
              let info = try? client.head(key), info.size == job.size else { return false }
        let parts = info.etag.split(separator: "-").dropFirst().first.flatMap { Int($0) } ?? 1
        guard let expected = try? ObjectDownload.expectedETag(fd: fd, size: stat.size, parts: parts), expected == info.etag else {
            try? client.delete(key)
            return false
        }
        let prepared = try followingHandles(source, path)
        try switchToObject(destination, etag: info.etag, uploaded: ObjectAttributes(metadata: info.metadata), handles: prepared,
                           asked: peers.asked)
        try switchPeers(&peers)
        try finishSwitched(source)
        return true
    }

    /// One transaction: the row names the bucket and the object's version, the job is switched.
    /// Attributes or tags changed since the upload read them (a chmod or setxattr during the
    /// upload, which went to the local copy) are journaled in the same transaction for a
    /// write-back to the object's metadata (see BucketAttributes): the index is the truth
    /// from the switch on. This runs with changes held back by the gate, so none falls between.
    private mutating func switchToObject(_ destination: Silo, etag: String, uploaded: ObjectAttributes,
                                         handles: consuming HandleSwitch?, asked: Set<String>) throws(MoveStop) {
        var row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file vanished at the switch") }
        row.silo = destination.id
        row.backingInode = ObjectBucket.versionHash(etag)
        // The object is the file as the upload read it, unchanged since (checked with every
        // writer held): its size and mtime are the row's, whatever this node's cache held of
        // another node's writes.
        row.size = job.size
        row.mtimeNs = job.sourceMtime
        row.blocks = (row.size + 511) / 512
        job.state = .switched
        job.updated = Int64(time(nil))
        // A node taken for dead must not switch under the job's new holder (as a local move).
        if let node = mover.node, !node.isAlive { throw .leaseLost }
        let (finalRow, finalJob) = (row, job)
        let node = mover.node
        let behind: Bool
        var unasked: String?
        do {
            behind = try index.write { tx throws(IndexError) -> Bool in
                if let node {
                    try tx.requireLease(LeaseRow.job(finalJob.id), node: node.node.id)
                    // A node that came back after it was taken for dead holds handles nobody
                    // switched: the object stays, and the next run asks it (resumeUpload).
                    do throws(IndexError) { try tx.requireOnlyAsked(asked, me: node.node.id, deadAfter: node.deadAfter) }
                    catch { unasked = error.message; throw error }
                }
                try tx.update(finalRow)
                try tx.updateJob(finalJob)
                let now = BucketAttributes.attributes(finalRow, try tx.reader.xattrs(of: finalRow.ino))
                guard !BucketAttributes.same(now, uploaded) else { return false }
                try BucketAttributes.record(finalRow.ino, silo: destination.id, tx)
                return true
            }
        } catch {
            if let unasked { throw .deferred(unasked) }
            if error.kind == .conflict { throw .leaseLost }
            throw .failed("index switch failed: \(error)")
        }
        if behind { namespace.bucketAttributes.changed(finalRow.ino, silo: destination.id) }
        guard let handles = handles.take() else { return }
        let failed = namespace.switchHandles(handles, to: finalRow)
        if failed > 0 {
            // Those handles still write to the local copy: it must stay (as for a local move).
            job.state = .failed
            throw .failed("\(failed) open handle(s) could not follow the file into the bucket; the local copy stays on '\(mover.silos[job.source]?.name ?? "?")'")
        }
    }

    /// Removes the object of `row` from a bucket: the recalled copy is the file now.
    func deleteObject(of row: EntryRow, in source: Silo) throws(MoveStop) {
        guard let bucket = source.bucket, let client = bucket.client else { throw .failed("source silo offline; the object will be removed when it returns") }
        guard let path = try? namespace.relativePath(of: row), let key = bucket.key(path) else { return }
        do { try client.delete(key) } catch { throw .failed("cannot remove the object \(key): \(error)") }
    }
}
