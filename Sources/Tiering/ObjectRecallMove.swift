import CShims
import Index
import Namespace
import ObjectStore
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// A move out of a bucket: the object's version (its ETag, from a HEAD) is fetched with
/// ranged GETs, hottest extents first, into a staging file on the destination, checked
/// (every GET is If-Match; the whole copy against the ETag where the ETag is an MD5 the copy
/// can be checked against), given the file's attributes, renamed into place, and switched
/// like a local move, open handles included (they read the object until then), on every
/// node. The object is deleted last. Reads go on meanwhile; a write waits for the recall (see decisions.md).
extension MoveExecution {
    mutating func runRecall(_ source: Silo, _ destination: Silo) throws(MoveStop) {
        guard let bucket = source.bucket, let client = bucket.client else { throw .failed("silo offline; will retry when it returns") }
        if job.state == .renaming, try resumeRename(source, destination) { return }
        let row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file is gone") }
        if row.silo == destination.id { job.state = .done; return }
        guard row.kind == .regular else { throw .failed("only regular files are moved") }
        guard row.silo == source.id else { throw .failed("the file is no longer on silo '\(source.name)'") }
        let key: String
        do {
            guard let k = bucket.key(try namespace.relativePath(of: row)) else { throw Errno.invalidArgument }
            key = k
        } catch { throw .failed("cannot name the object: \(error)") }
        let info: ObjectInfo
        do { info = try client.head(key) } catch { throw .failed("the object \(key) cannot be read: \(error)") }

        let gate = namespace.beginMove(job.ino, extentSize: job.extentSize)
        defer { namespace.endMove(job.ino) }
        // Other nodes' handles read the object (or a local copy an upload left them on): they
        // are gated, held and switched to the recalled copy like this node's (MovePeers).
        var peers = MovePeers(mover: mover, job: job)
        defer { peers.release() }
        try peers.gate()
        let staging = try openStaging(destination)
        defer { Sys.close(staging.fd) }
        job.size = info.size; job.sourceMtime = row.mtimeNs
        job.done = []; job.hashes = []; job.log = []; job.bytesCopied = 0
        job.state = .copying
        try persist()
        if ftruncate(staging.fd, off_t(job.size)) != 0 { throw .failed("cannot size the staging file: \(Errno.current)") }
        try fetch(client, key: key, etag: info.etag, into: staging.fd, gate: gate)
        try checkCopy(staging.fd, info)
        try applyAttributes(row, to: staging.fd)
        gate.beginSwitch()
        defer { gate.endSwitch() }
        // Writes wait for the recall on every node (see Namespace.open and write), so nothing
        // is written meanwhile: the hold only holds opens and readies the other handles.
        _ = try peers.hold()
        // A chmod, chown, touch or tag change during the fetch went to the index (the file
        // was in the bucket): the copy takes the attributes as they are now that changes are
        // held back.
        if let now = try? namespace.currentRow(job.ino) { try applyAttributes(now, to: staging.fd) }
        let prepared: HandleSwitch
        do {
            prepared = try namespace.prepareHandleSwitch(job.ino) { flags throws(Errno) -> Int32 in
                let fd = withCPath(staging.name) { openat(staging.dir, $0, flags | O_CLOEXEC) }
                if fd < 0 { throw Errno.current }
                return fd
            }
        } catch { throw .failed("cannot reopen the file's open handles on the copy: \(error)") }
        job.state = .renaming
        try persist()
        try renameIntoPlace(staging, destination)
        try switchIndex(destination, stagingFD: staging.fd, handles: prepared, asked: peers.asked)
        try switchPeers(&peers)
        try finishSwitched(source)
        try? persist()
    }

    /// The blocks (extents) hottest first, several GETs in flight; then each extent's hash of
    /// the staging file, which the switch records and a resume after a crash checks.
    private mutating func fetch(_ client: S3Client, key: String, etag: String, into fd: Int32, gate: MoveGate) throws(MoveStop) {
        let heat = mover.heat.extentScores(job.ino)
        var order = Array(0..<job.extentCount)
        let wanted = Set(gate.takeWanted())
        order.sort { a, b in
            let wa = wanted.contains(a), wb = wanted.contains(b)
            if wa != wb { return wa }
            let ha = a < heat.count ? heat[a] : 0, hb = b < heat.count ? heat[b] : 0
            return ha > hb || (ha == hb && a < b)
        }
        let (mover, base) = (self.mover, self.job)
        do {
            try ObjectDownload(client: client, parallel: 4).download(key: key, etag: etag, size: job.size, blockSize: job.extentSize,
                                                                     order: order, into: fd) { _, bytes in
                mover.throttle.consume(bytes)
                mover.noteProgress(base)
            }
        } catch { throw .failed("recalling \(key): \(error)") }
        if Glibc.fsync(fd) != 0 { throw .failed("fsync of the staging file: \(Errno.current)") }
        let copier = ExtentCopier(extentSize: job.extentSize)
        for extent in 0..<job.extentCount {
            let hash: UInt64
            do { hash = try copier.verify(extent, of: fd, size: job.size) } catch { throw .failed("re-reading extent \(extent): \(error)") }
            JobBits.set(&job.done, extent, count: job.extentCount)
            JobBits.setHash(&job.hashes, extent, hash)
            JobBits.appendLog(&job.log, extent)
        }
        job.bytesCopied = job.size
        mover.noteProgress(job)
    }

    /// The copy's size, and its digest where the ETag is one this side can compute.
    private func checkCopy(_ fd: Int32, _ info: ObjectInfo) throws(MoveStop) {
        guard let stat = try? Sys.fstat(fd), stat.size == info.size else { throw .failed("the recalled copy has the wrong size") }
        let parts = info.etag.split(separator: "-").dropFirst().first.flatMap { Int($0) } ?? 1
        let expected: String?
        do { expected = try ObjectDownload.expectedETag(fd: fd, size: info.size, parts: parts) }
        catch { throw .failed("cannot re-read the recalled copy: \(error)") }
        if let expected, expected != info.etag, info.etag.count == 32 || info.etag.contains("-") {
            // A multipart ETag whose part size was guessed wrong proves nothing; an MD5 does.
            if parts <= 1 { throw .failed("the recalled copy's MD5 \(expected) is not the object's ETag \(info.etag)") }
        }
    }

    /// Owner, mode and times from the index (where a bucket's file keeps them).
    private func applyAttributes(_ row: EntryRow, to fd: Int32) throws(MoveStop) {
        if fchown(fd, row.uid, row.gid) != 0 { throw .failed("cannot set the copy's owner: \(Errno.current)") }
        if fchmod(fd, mode_t(row.mode & 0o7777)) != 0 { throw .failed("cannot set the copy's mode: \(Errno.current)") }
        var times = [timespec(tv_sec: Int(row.atimeNs / 1_000_000_000), tv_nsec: Int(row.atimeNs % 1_000_000_000)),
                     timespec(tv_sec: Int(row.mtimeNs / 1_000_000_000), tv_nsec: Int(row.mtimeNs % 1_000_000_000))]
        // Tags go on the local copy as on any silo's file, so a rescan finds them there.
        let tags = (try? index.query { tx throws(IndexError) in try tx.xattrs(of: row.ino) }) ?? []
        // Tags removed since an earlier pass go from the copy too.
        let kept = Set(tags.map(\.name))
        for stale in (try? Sys.userXattrs(fd: fd)) ?? [] where !kept.contains(stale.name) {
            _ = withCPath(stale.name) { estuary_fremovexattr(fd, $0) }
        }
        for tag in tags {
            let rc = withCPath(tag.name) { n in tag.value.withUnsafeBytes { estuary_fsetxattr(fd, n, $0.baseAddress, $0.count, 0) } }
            if rc != 0 && Errno.current == .notSupported { break }
        }
        if futimens(fd, &times) != 0 { throw .failed("cannot set the copy's times: \(Errno.current)") }
    }
}
