import CShims
import Index
import Logging
import Namespace
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Why a job stopped before done.
enum MoveStop: Error {
    case cancelled
    case failed(String)
}

/// Runs one job: copy extents hottest first into a staging file in the destination's
/// `.estuary/staging`, verify every extent against its hash, take attributes and tags, rename
/// into place, switch the index and the open handles in one step, and only then delete the
/// source. Every step is recorded so a restart resumes where it stopped, and at every instant
/// the file is whole in at least one indexed place.
struct MoveExecution {
    let mover: Mover
    var job: JobRow
    var lastNote = 0.0
    var namespace: Namespace { mover.namespace }
    var index: IndexStore { mover.index }

    mutating func run() throws(MoveStop) {
        guard let source = mover.silos[job.source], let destination = mover.silos[job.destination] else {
            throw .failed("a silo of this job is no longer configured")
        }
        if job.state == .switched { return try finishSwitched(source) }
        guard source.isOnline, destination.isOnline else { throw .failed("silo offline; will retry when it returns") }
        if job.state == .renaming, try resumeRename(source, destination) { return }
        let row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file is gone") }
        if row.silo == destination.id { job.state = .done; return }
        guard row.kind == .regular else { throw .failed("only regular files are moved") }
        guard row.nlink <= 1 else { throw .failed("hard-linked files are not moved (they would need every name in the destination)") }
        guard row.silo == source.id else { throw .failed("the file is no longer on silo '\(source.name)'") }

        let gate = namespace.beginMove(job.ino, extentSize: job.extentSize)
        defer { namespace.endMove(job.ino) }
        let staging = try openStaging(destination)
        defer { Sys.close(staging.fd) }
        let sourceFD: Int32
        do { sourceFD = try source.open(try namespace.relativePath(of: row), flags: O_RDONLY | O_NOFOLLOW) }
        catch { throw .failed("cannot open the source: \(error)") }
        defer { Sys.close(sourceFD) }
        let copier = ExtentCopier(extentSize: job.extentSize)

        try prepare(sourceFD, staging.fd, copier)
        try copyAll(sourceFD, staging.fd, copier, gate)
        gate.beginSwitch()
        defer { gate.endSwitch() }
        // Writers are held back: catch up the last changes, then verify and switch.
        try catchUp(sourceFD, staging.fd, copier, gate)
        try verify(staging.fd, copier)
        try copyAttributes(from: sourceFD, to: staging.fd)
        job.state = .renaming
        try persist()
        try renameIntoPlace(staging, destination)
        try switchIndex(destination)
        try finishSwitched(source)
    }

    // MARK: steps

    /// A crash during the rename: if the staging file is gone and the destination holds the
    /// whole, verified copy, the rename happened and only the switch is left to do.
    private mutating func resumeRename(_ source: Silo, _ destination: Silo) throws(MoveStop) -> Bool {
        if let dir = try? destination.open(Array(".estuary/staging".utf8), flags: ESTUARY_O_PATH | O_DIRECTORY) {
            defer { Sys.close(dir) }
            var st = stat()
            if withCPath(Mover.stagingName(job.id), { fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 { return false }
        }
        guard let row = try? namespace.currentRow(job.ino),
              let path = try? namespace.relativePath(of: row),
              let fd = try? destination.open(path, flags: O_RDONLY | O_NOFOLLOW) else { return false }
        defer { Sys.close(fd) }
        let copier = ExtentCopier(extentSize: job.extentSize)
        for extent in 0..<job.extentCount where (try? copier.verify(extent, of: fd, size: job.size)) != job.hash(extent) {
            return false
        }
        try switchIndex(destination)
        try finishSwitched(source)
        return true
    }

    private func openStaging(_ destination: Silo) throws(MoveStop) -> (fd: Int32, dir: Int32, name: [UInt8]) {
        do {
            let root = try destination.open([], flags: ESTUARY_O_PATH | O_DIRECTORY)
            defer { Sys.close(root) }
            _ = mkdirat(root, ".estuary", 0o700)
            _ = mkdirat(root, ".estuary/staging", 0o700)
            let dir = try destination.open(Array(".estuary/staging".utf8), flags: ESTUARY_O_PATH | O_DIRECTORY | O_NOFOLLOW)
            let name = Mover.stagingName(job.id)
            let fd = withCPath(name) { openat(dir, $0, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            if fd < 0 { let e = Errno.current; Sys.close(dir); throw e }
            return (fd, dir, name)
        } catch {
            throw .failed("cannot create the staging file on silo '\(destination.name)': \(error)")
        }
    }

    /// Starts or resumes: a source changed while no daemon watched it invalidates the progress;
    /// extents recorded as copied are re-hashed on the staging file, which may have lost
    /// unsynced writes in a crash.
    private mutating func prepare(_ sourceFD: Int32, _ stagingFD: Int32, _ copier: borrowing ExtentCopier) throws(MoveStop) {
        guard let stat = try? Sys.fstat(sourceFD) else { throw .failed("cannot stat the source") }
        if job.state == .queued || stat.size != job.size || stat.mtimeNs != job.sourceMtime {
            if job.state != .queued && (stat.size != job.size || stat.mtimeNs != job.sourceMtime) {
                mover.logger.info("job \(job.id): source changed since the copy began; starting over")
            }
            job.size = stat.size; job.sourceMtime = stat.mtimeNs
            job.done = []; job.hashes = []; job.log = []; job.bytesCopied = 0
            _ = ftruncate(stagingFD, 0)
        } else {
            for extent in 0..<job.extentCount where job.isDone(extent) {
                let check = try? copier.verify(extent, of: stagingFD, size: job.size)
                if check != job.hash(extent) { JobBits.clear(&job.done, extent) }
            }
        }
        if ftruncate(stagingFD, off_t(job.size)) != 0 { throw .failed("cannot size the staging file: \(Errno.current)") }
        job.state = .copying
        try persist()
    }

    /// The copy loop: the next extent is one a reader or writer asked for, else the hottest
    /// not yet copied (the order is re-sorted by heat every second), else the lowest numbered.
    private mutating func copyAll(_ sourceFD: Int32, _ stagingFD: Int32, _ copier: borrowing ExtentCopier, _ gate: MoveGate) throws(MoveStop) {
        var lastPersist = monotonicSeconds()
        var wanted: [Int] = []
        var queue: [Int] = []
        var cursor = 0
        var sortedAt = -1.0
        while true {
            if mover.isCancelled(job.id) { throw .cancelled }
            for extent in gate.takeDirty() { JobBits.clear(&job.done, extent); wanted.append(extent) }
            try refreshSize(sourceFD, stagingFD)
            wanted.append(contentsOf: gate.takeWanted())
            let count = job.extentCount
            var next: Int?
            while let w = wanted.popLast() { if w < count && !job.isDone(w) { next = w; break } }
            if next == nil {
                if monotonicSeconds() - sortedAt > 1 || cursor >= queue.count {
                    let heat = mover.heat.extentScores(job.ino)
                    queue = (0..<count).filter { !job.isDone($0) }
                    queue.sort { a, b in
                        let ha = a < heat.count ? heat[a] : 0, hb = b < heat.count ? heat[b] : 0
                        return ha > hb || (ha == hb && a < b)
                    }
                    cursor = 0
                    sortedAt = monotonicSeconds()
                }
                while cursor < queue.count && (queue[cursor] >= count || job.isDone(queue[cursor])) { cursor += 1 }
                if cursor < queue.count { next = queue[cursor]; cursor += 1 }
            }
            guard let extent = next else {
                if (0..<count).allSatisfy(job.isDone) { return }
                sortedAt = -1   // extents became due again (a write or a size change): sort afresh
                continue
            }
            try copyOne(extent, sourceFD, stagingFD, copier)
            mover.yieldToForeground()
            if monotonicSeconds() - lastPersist > 0.5 { try persist(); lastPersist = monotonicSeconds() }
        }
    }

    private mutating func copyOne(_ extent: Int, _ sourceFD: Int32, _ stagingFD: Int32, _ copier: borrowing ExtentCopier) throws(MoveStop) {
        let (bytes, hash): (Int, UInt64)
        do { (bytes, hash) = try copier.copy(extent, from: sourceFD, to: stagingFD, size: job.size) }
        catch { throw .failed("copying extent \(extent): \(error)") }
        mover.throttle.consume(bytes)
        JobBits.set(&job.done, extent, count: job.extentCount)
        JobBits.setHash(&job.hashes, extent, hash)
        JobBits.appendLog(&job.log, extent)
        job.bytesCopied += Int64(bytes)
        if monotonicSeconds() - lastNote > 0.1 { mover.noteProgress(job); lastNote = monotonicSeconds() }
    }

    /// A write that extended or truncated the source changes the extent count.
    private mutating func refreshSize(_ sourceFD: Int32, _ stagingFD: Int32) throws(MoveStop) {
        guard let stat = try? Sys.fstat(sourceFD), stat.size != job.size else { return }
        let oldCount = job.extentCount
        let lastOld = max(0, oldCount - 1)
        job.size = stat.size
        if ftruncate(stagingFD, off_t(job.size)) != 0 { throw .failed("cannot resize the staging file: \(Errno.current)") }
        JobBits.clear(&job.done, lastOld)
        for extent in job.extentCount..<max(job.extentCount, oldCount) { JobBits.clear(&job.done, extent) }
        if job.extentCount > 0 { JobBits.clear(&job.done, job.extentCount - 1) }
    }

    private mutating func catchUp(_ sourceFD: Int32, _ stagingFD: Int32, _ copier: borrowing ExtentCopier, _ gate: MoveGate) throws(MoveStop) {
        for extent in gate.takeDirty() { JobBits.clear(&job.done, extent) }
        try refreshSize(sourceFD, stagingFD)
        for extent in 0..<job.extentCount where !job.isDone(extent) { try copyOne(extent, sourceFD, stagingFD, copier) }
        if let stat = try? Sys.fstat(sourceFD) { job.sourceMtime = stat.mtimeNs }
    }

    /// fsync, then every extent re-read from the staging file must match its recorded hash;
    /// the source is the reference, so a mismatch is copied again (twice at most).
    private mutating func verify(_ stagingFD: Int32, _ copier: borrowing ExtentCopier) throws(MoveStop) {
        if Glibc.fsync(stagingFD) != 0 { throw .failed("fsync of the staging file: \(Errno.current)") }
        for extent in 0..<job.extentCount {
            guard let check = try? copier.verify(extent, of: stagingFD, size: job.size) else { throw .failed("cannot re-read extent \(extent)") }
            if check != job.hash(extent) {
                mover.logger.error("job \(job.id): extent \(extent) does not match its hash on the destination")
                throw .failed("verification failed at extent \(extent)")
            }
        }
        mover.noteProgress(job)
    }

    private func copyAttributes(from sourceFD: Int32, to stagingFD: Int32) throws(MoveStop) {
        guard let stat = try? Sys.fstat(sourceFD) else { throw .failed("cannot stat the source") }
        _ = fchown(stagingFD, stat.uid, stat.gid)
        _ = fchmod(stagingFD, mode_t(stat.mode & 0o7777))
        for tag in (try? Sys.userXattrs(fd: sourceFD)) ?? [] {
            _ = withCPath(tag.name) { n in tag.value.withUnsafeBytes { estuary_fsetxattr(stagingFD, n, $0.baseAddress, $0.count, 0) } }
        }
        var times = [timespec(tv_sec: Int(stat.atimeNs / 1_000_000_000), tv_nsec: Int(stat.atimeNs % 1_000_000_000)),
                     timespec(tv_sec: Int(stat.mtimeNs / 1_000_000_000), tv_nsec: Int(stat.mtimeNs % 1_000_000_000))]
        _ = futimens(stagingFD, &times)
    }

    private func renameIntoPlace(_ staging: (fd: Int32, dir: Int32, name: [UInt8]), _ destination: Silo) throws(MoveStop) {
        defer { Sys.close(staging.dir) }
        let row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file was deleted during the move") }
        guard row.nlink > 0 else { throw .failed("the file was deleted during the move") }
        let parent: Int32
        do { parent = try namespace.parentDirectory(of: row, in: destination, create: true) }
        catch { throw .failed("cannot create the parent directory on '\(destination.name)': \(error)") }
        defer { Sys.close(parent) }
        // NOREPLACE: a same-named shadowed copy on the destination is never overwritten.
        let rc = withCPath(staging.name) { a in withCPath(row.name) { b in estuary_renameat2(staging.dir, a, parent, b, 1) } }
        if rc != 0 { throw .failed("cannot put the copy in place on '\(destination.name)': \(Errno.current)") }
        _ = Glibc.fsync(parent)
    }

    /// One transaction makes the destination copy the file: entry, job state and checksums.
    private mutating func switchIndex(_ destination: Silo) throws(MoveStop) {
        var row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file vanished at the switch") }
        row.silo = destination.id
        job.state = .switched
        job.updated = Int64(time(nil))
        let (finalRow, finalJob) = (row, job)
        do {
            try index.write { tx throws(IndexError) in
                try tx.update(finalRow)
                try tx.updateJob(finalJob)
                try tx.setChecksums(ino: finalRow.ino, silo: destination.id, size: finalJob.size, mtime: finalJob.sourceMtime,
                                    extentSize: finalJob.extentSize, hashes: finalJob.hashes)
            }
        } catch { throw .failed("index switch failed: \(error)") }
        do { try namespace.switchHandles(job.ino, to: finalRow) }
        catch { mover.logger.error("job \(job.id): could not move open handles to the new copy: \(error)") }
    }

    /// The destination is the file now; the source copy goes.
    private mutating func finishSwitched(_ source: Silo) throws(MoveStop) {
        guard let row = try? namespace.currentRow(job.ino) else { job.state = .done; return }
        if row.silo == job.source { throw .failed("index does not point at the destination") }
        guard source.isOnline else { throw .failed("source silo offline; the old copy will be removed when it returns") }
        if let parent = try? namespace.parentDirectory(of: row, in: source, create: false) {
            defer { Sys.close(parent) }
            if withCPath(row.name, { unlinkat(parent, $0, 0) }) != 0 && Errno.current != .noSuchFileOrDirectory {
                throw .failed("cannot remove the old copy: \(Errno.current)")
            }
        }
        job.state = .done
    }

    func persist() throws(MoveStop) {
        var copy = job
        copy.updated = Int64(time(nil))
        do { try index.write { tx throws(IndexError) in try tx.updateJob(copy) } }
        catch { throw .failed("cannot record progress: \(error)") }
    }
}
