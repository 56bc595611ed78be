import CShims
import Index
import Logging
import Namespace
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Why a job stopped before done.
enum MoveStop: Error {
    case cancelled
    case failed(String)
    /// Another node took the job's lease (this one was taken for dead): it runs the job now,
    /// so this node touches neither the job's row nor its staging file.
    case leaseLost
    /// Another node could not take its part in time (MovePeers): nothing switched, the job
    /// stays where it was and is tried again.
    case deferred(String)
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
        if source.isObjectStore || destination.isObjectStore {
            if job.state == .switched { return try finishSwitched(source) }
            guard source.isOnline, destination.isOnline else { throw .failed("silo offline; will retry when it returns") }
            return destination.isObjectStore ? try runUpload(source, destination) : try runRecall(source, destination)
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
        // The other nodes' writes go to the source too: their gates open before the copy.
        var peers = MovePeers(mover: mover, job: job)
        defer { peers.release() }
        try peers.gate()
        let staging = try openStaging(destination)
        defer { Sys.close(staging.fd) }
        let sourceFile = try openSource(source, row)
        defer { sourceFile.close() }
        let workers = ExtentWorkers(extentSize: job.extentSize, source: sourceFile, staging: staging.fd)
        defer { workers.stop() }   // before the descriptors close: declared after them

        let started = monotonicSeconds()
        try prepare(sourceFile.fd, staging.fd, workers)
        try copyAll(sourceFile.fd, staging.fd, workers, gate, peers)
        let copied = monotonicSeconds()
        gate.beginSwitch()
        defer { gate.endSwitch() }
        // link() passes the gate like a write: a name added during the copy points at the
        // source's inode, and switching would split one file into two (rsync -H, tar, git).
        if let now = try? namespace.currentRow(job.ino), now.nlink > 1 {
            throw .failed("the file gained a hard link during the move; hard-linked files stay where they are")
        }
        // Writers are held back, on every node: catch up the last changes, then verify and switch.
        let elsewhere = try peers.hold()
        try catchUp(sourceFile.fd, staging.fd, workers, gate, alsoDirty: elsewhere)
        let caughtUp = monotonicSeconds()
        try verify(staging.fd, workers)
        let verified = monotonicSeconds()
        try copyAttributes(from: sourceFile.fd, to: staging.fd)
        // Every open handle gets its descriptor on the copy now, while the source is still the
        // file: one that cannot be reopened stops the move here, with nothing to undo.
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
        let now = monotonicSeconds()
        // Where a move's time goes, beside the "moved" line: what tuning starts from.
        mover.logger.info("job \(job.id): copy \(Self.ms(copied - started)) ms, catch-up \(Self.ms(caughtUp - copied)) ms, fsync and verify \(Self.ms(verified - caughtUp)) ms, switch \(Self.ms(now - verified)) ms")
        // Recorded before the descriptors close: the source's last close frees its blocks,
        // which takes a while for a large file, and the move is complete without it.
        try? persist()
    }

    // MARK: steps

    /// A crash during the rename: if the staging file is gone and the destination holds the
    /// whole, verified copy, the rename happened and only the switch is left to do.
    mutating func resumeRename(_ source: Silo, _ destination: Silo) throws(MoveStop) -> Bool {
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
        // Handles open on the source, here or on other nodes (a node resuming a dead node's
        // job), follow the copy as in a whole run: gated, held, reopened, then switched.
        let gate = namespace.beginMove(job.ino, extentSize: job.extentSize)
        defer { namespace.endMove(job.ino) }
        var peers = MovePeers(mover: mover, job: job)
        defer { peers.release() }
        try peers.gate()
        gate.beginSwitch()
        defer { gate.endSwitch() }
        _ = try peers.hold(renamed: true)
        try requireUnchangedSource(source, row)
        let prepared: HandleSwitch
        do {
            prepared = try namespace.prepareHandleSwitch(job.ino) { flags throws(Errno) -> Int32 in
                try destination.open(path, flags: flags | O_CLOEXEC)
            }
        } catch { throw .failed("cannot reopen the file's open handles on the copy: \(error)") }
        try switchIndex(destination, stagingFD: fd, handles: prepared, asked: peers.asked)
        try switchPeers(&peers)
        try finishSwitched(source)
        return true
    }

    /// A resumed rename switches only to a copy of the source as it is: writes that reached the
    /// source after the copy (another node's, while no gate held them) make the copy stale.
    /// It is then removed, and the job fails with the source whole and still the file.
    private mutating func requireUnchangedSource(_ source: Silo, _ row: EntryRow) throws(MoveStop) {
        guard let path = try? namespace.relativePath(of: row), let fd = try? source.open(path, flags: ESTUARY_O_PATH | O_NOFOLLOW) else {
            return   // no source left: the copy is all there is
        }
        defer { Sys.close(fd) }
        guard let stat = try? Sys.fstat(fd), stat.size != job.size || stat.mtimeNs != job.sourceMtime else { return }
        if let destination = mover.silos[job.destination], let parent = try? namespace.parentDirectory(of: row, in: destination, create: false) {
            _ = withCPath(row.name) { unlinkat(parent, $0, 0) }
            Sys.close(parent)
        }
        job.state = .failed
        throw .failed("the source changed after the copy was renamed into place; the copy was removed and the source stays")
    }

    /// After the index switch, the other nodes' handles follow the copy; one that did not
    /// confirm may still use the source, which then stays.
    mutating func switchPeers(_ peers: inout MovePeers) throws(MoveStop) {
        do { try peers.switchOver() } catch {
            job.state = .failed
            throw error
        }
    }

    func openStaging(_ destination: Silo) throws(MoveStop) -> (fd: Int32, dir: Int32, name: [UInt8]) {
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

    /// The source, read through the page cache: sequential readahead keeps the disk streaming
    /// (the copy drops the pages it brought in; see `ExtentCopier.copy`).
    private func openSource(_ source: Silo, _ row: EntryRow) throws(MoveStop) -> SourceFile {
        let fd: Int32
        do { fd = try source.open(try namespace.relativePath(of: row), flags: O_RDONLY | O_NOFOLLOW) }
        catch { throw .failed("cannot open the source: \(error)") }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        return SourceFile(fd: fd, extentSize: job.extentSize)
    }

    /// Starts or resumes: a source changed while no daemon watched it invalidates the progress;
    /// extents recorded as copied are re-hashed on the staging file, which may have lost
    /// unsynced writes in a crash.
    private mutating func prepare(_ sourceFD: Int32, _ stagingFD: Int32, _ workers: ExtentWorkers) throws(MoveStop) {
        guard let stat = try? Sys.fstat(sourceFD) else { throw .failed("cannot stat the source") }
        if job.state == .queued || stat.size != job.size || stat.mtimeNs != job.sourceMtime {
            if job.state != .queued && (stat.size != job.size || stat.mtimeNs != job.sourceMtime) {
                mover.logger.info("job \(job.id): source changed since the copy began; starting over")
            }
            job.size = stat.size; job.sourceMtime = stat.mtimeNs
            job.done = []; job.hashes = []; job.log = []; job.bytesCopied = 0
            _ = ftruncate(stagingFD, 0)
        } else {
            let recorded = (0..<job.extentCount).filter(job.isDone).map { ExtentTask(kind: .hash, extent: $0, size: job.size) }
            workers.run(recorded) { outcome in
                if outcome.error != nil || outcome.hash != job.hash(outcome.extent) { JobBits.clear(&job.done, outcome.extent) }
            }
        }
        if ftruncate(stagingFD, off_t(job.size)) != 0 { throw .failed("cannot size the staging file: \(Errno.current)") }
        job.state = .copying
        try persist()
    }

    /// The copy loop: the next extent is one a reader or writer asked for, else the hottest
    /// not yet copied (the order is re-sorted by heat every second), else the lowest numbered.
    /// Each worker has one extent in flight; one written to meanwhile is copied again.
    /// Writes faster than the copy (a mapping synced over and over) could keep extents due
    /// for ever: after twice the file's extents have been copied, what is still due is left
    /// to `catchUp`, which copies it with writers held back, so every move ends.
    private mutating func copyAll(_ sourceFD: Int32, _ stagingFD: Int32, _ workers: ExtentWorkers, _ gate: MoveGate,
                                  _ peers: MovePeers) throws(MoveStop) {
        var flight = Flight()
        var queue: [Int] = []
        var cursor = 0
        var sortedAt = -1.0
        var submitted = 0
        while true {
            if mover.isCancelled(job.id) { throw .cancelled }
            if submitted > 2 * job.extentCount + 2 * workers.count {
                while workers.inFlight > 0 { try collect(workers, &flight) }
                return
            }
            // Written here, or on another node (reported during the copy).
            var written = Array(gate.takeDirty())
            written += peers.takeDirty() ?? Array(0..<job.extentCount)
            for extent in written {
                JobBits.clear(&job.done, extent)
                flight.wanted.append(extent)
                if flight.copying.contains(extent) { flight.stale.insert(extent) }
            }
            if let stat = try? Sys.fstat(sourceFD), stat.size != job.size {
                // The extents change bounds: copies in flight land first, under the old ones.
                while workers.inFlight > 0 { try collect(workers, &flight) }
                try refreshSize(sourceFD, stagingFD)
            }
            flight.wanted.append(contentsOf: gate.takeWanted())
            let count = job.extentCount
            var next: Int?
            if workers.hasRoom {
                while let w = flight.wanted.popLast() { if w < count && !job.isDone(w) && !flight.copying.contains(w) { next = w; break } }
            }
            if workers.hasRoom && next == nil {
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
                while cursor < queue.count && (queue[cursor] >= count || job.isDone(queue[cursor]) || flight.copying.contains(queue[cursor])) {
                    cursor += 1
                }
                if cursor < queue.count { next = queue[cursor]; cursor += 1 }
            }
            if let extent = next {
                workers.submit(ExtentTask(kind: .copy, extent: extent, size: job.size))
                flight.copying.insert(extent)
                submitted += 1
                continue
            }
            if workers.inFlight > 0 {
                try collect(workers, &flight)
                mover.yieldToForeground()
                if monotonicSeconds() - flight.lastPersist > 0.5 { try persist(); flight.lastPersist = monotonicSeconds() }
                continue
            }
            if (0..<count).allSatisfy(job.isDone) { return }
            sortedAt = -1   // extents became due again (a write or a size change): sort afresh
        }
    }

    /// What the copy loop tracks besides the job: extents asked for (newest last), extents in
    /// flight, and those of them written to since they were handed out.
    private struct Flight {
        var wanted: [Int] = []
        var copying = Set<Int>()
        var stale = Set<Int>()
        var lastPersist = monotonicSeconds()
    }

    /// Takes one finished copy: recorded, or when stale, asked for again.
    private mutating func collect(_ workers: ExtentWorkers, _ flight: inout Flight) throws(MoveStop) {
        let outcome = workers.collect()
        flight.copying.remove(outcome.extent)
        if flight.stale.remove(outcome.extent) != nil { flight.wanted.append(outcome.extent); return }
        try record(outcome)
    }

    private mutating func record(_ outcome: ExtentOutcome) throws(MoveStop) {
        if let error = outcome.error { throw .failed("copying extent \(outcome.extent): \(error)") }
        mover.throttle.consume(outcome.bytes)
        JobBits.set(&job.done, outcome.extent, count: job.extentCount)
        JobBits.setHash(&job.hashes, outcome.extent, outcome.hash)
        JobBits.appendLog(&job.log, outcome.extent)
        job.bytesCopied += Int64(outcome.bytes)
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

    /// With writers held back, nothing is written meanwhile: the due extents are just copied.
    /// `alsoDirty`: extents other nodes wrote (nil: any of them).
    private mutating func catchUp(_ sourceFD: Int32, _ stagingFD: Int32, _ workers: ExtentWorkers, _ gate: MoveGate,
                                  alsoDirty: [Int]?) throws(MoveStop) {
        for extent in gate.takeDirty() { JobBits.clear(&job.done, extent) }
        for extent in alsoDirty ?? Array(0..<job.extentCount) { JobBits.clear(&job.done, extent) }
        try refreshSize(sourceFD, stagingFD)
        let due = (0..<job.extentCount).filter { !job.isDone($0) }.map { ExtentTask(kind: .copy, extent: $0, size: job.size) }
        try workers.run(due) { outcome throws(MoveStop) in try record(outcome) }
        if let stat = try? Sys.fstat(sourceFD) { job.sourceMtime = stat.mtimeNs }
    }

    /// fsync, and every extent re-read from the staging file must match the hash of what was
    /// read from the source; the switch waits for both. They run side by side: the re-reads
    /// come from the page cache, whose pages the fsync is writing out, so neither waits for
    /// the other (the check took 0.2-0.4 s of a 1 GiB move after the fsync's 1.4 s).
    private mutating func verify(_ stagingFD: Int32, _ workers: ExtentWorkers) throws(MoveStop) {
        let synced = Mutex<Errno?>(nil)
        let flusher = OSThread.start {
            let rc = Glibc.fsync(stagingFD)
            let failure = rc == 0 ? nil : Errno.current
            synced.withLock { $0 = failure }
        }
        var joined = false
        defer { if !joined { flusher.join() } }
        let all = (0..<job.extentCount).map { ExtentTask(kind: .hash, extent: $0, size: job.size) }
        try workers.run(all) { outcome throws(MoveStop) in
            if outcome.error != nil { throw .failed("cannot re-read extent \(outcome.extent)") }
            if outcome.hash != job.hash(outcome.extent) {
                mover.logger.error("job \(job.id): extent \(outcome.extent) does not match its hash on the destination")
                throw .failed("verification failed at extent \(outcome.extent)")
            }
        }
        flusher.join()
        joined = true
        if let failure = synced.withLock({ $0 }) { throw .failed("fsync of the staging file: \(failure)") }
        mover.noteProgress(job)
    }

    func renameIntoPlace(_ staging: (fd: Int32, dir: Int32, name: [UInt8]), _ destination: Silo) throws(MoveStop) {
        defer { Sys.close(staging.dir) }
        let row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file was deleted during the move") }
        guard row.nlink > 0 else { throw .failed("the file was deleted during the move") }
        let parent: Int32
        do { parent = try namespace.parentDirectory(of: row, in: destination, create: true) }
        catch { throw .failed("cannot create the parent directory on '\(destination.name)': \(error)") }
        defer { Sys.close(parent) }
        // A node silent past its validity may have been taken for dead, and the job's new
        // holder may be copying into this same staging file: putting it in place now would
        // leave a copy under the file's name that the index does not name.
        if let node = mover.node, !node.isAlive { throw .leaseLost }
        // NOREPLACE: a same-named shadowed copy on the destination is never overwritten.
        let rc = withCPath(staging.name) { a in withCPath(row.name) { b in estuary_renameat2(staging.dir, a, parent, b, 1) } }
        if rc != 0 { throw .failed("cannot put the copy in place on '\(destination.name)': \(Errno.current)") }
        // The rename is on disk before the index names the copy and the source goes. `parent`
        // is an O_PATH descriptor, which fsync refuses (EBADF): the directory is opened for it.
        // A directory that cannot be synced takes the copy back to staging, where the failed
        // job's cleanup removes it, and the source stays the file.
        if let failure = Self.syncDirectory(parent) {
            _ = withCPath(row.name) { b in withCPath(staging.name) { a in estuary_renameat2(parent, b, staging.dir, a, 1) } }
            throw .failed("cannot sync the directory of the copy on '\(destination.name)': \(failure)")
        }
    }

    /// fsync of the directory `dir` (any descriptor of it, O_PATH included); nil when done.
    static func syncDirectory(_ dir: Int32) -> Errno? {
        let fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return Errno.current }
        defer { Sys.close(fd) }
        return Glibc.fsync(fd) == 0 ? nil : Errno.current
    }

    /// One transaction makes the destination copy the file: entry, job state and checksums;
    /// then the open handles follow. `copyFD` is the new copy, for its backing inode and blocks:
    /// taken into the row now, a fresh open does not mistake the move for a change behind the
    /// mount and drop the kernel's cached pages of the file.
    mutating func switchIndex(_ destination: Silo, stagingFD copyFD: Int32, handles: consuming HandleSwitch?,
                              asked: Set<String>) throws(MoveStop) {
        var row: EntryRow
        do { row = try namespace.currentRow(job.ino) } catch { throw .failed("the file vanished at the switch") }
        row.silo = destination.id
        if let stat = try? Sys.fstat(copyFD) { row.backingInode = stat.inode; row.blocks = stat.blocks }
        job.state = .switched
        job.updated = Int64(time(nil))
        if let node = mover.node {
            // Other nodes' writes reached the source as well: the size and times are the copy's.
            if let stat = try? Sys.fstat(copyFD) { row.size = stat.size; row.mtimeNs = stat.mtimeNs }
            // A node taken for dead must not switch under the job's new holder (the fence the
            // other nodes' gates rely on: once the lease is not the mover's, no switch follows).
            if !node.isAlive { throw .leaseLost }
        }
        let (finalRow, finalJob) = (row, job)
        let node = mover.node
        var unasked: String?
        do throws(IndexError) {
            try index.write { tx throws(IndexError) in
                if let node {
                    try tx.requireLease(LeaseRow.job(finalJob.id), node: node.node.id)
                    do throws(IndexError) { try tx.requireOnlyAsked(asked, me: node.node.id, deadAfter: node.deadAfter) }
                    catch { unasked = error.message; throw error }
                }
                try tx.update(finalRow)
                try tx.updateJob(finalJob)
                try tx.setChecksums(ino: finalRow.ino, silo: destination.id, size: finalJob.size, mtime: finalJob.sourceMtime,
                                    extentSize: finalJob.extentSize, hashes: finalJob.hashes)
            }
        } catch {
            // The copy stays in place with the job in `renaming`: the next run asks every node
            // and switches only if the source is still as copied (resumeRename).
            if let unasked { throw .deferred(unasked) }
            if error.kind == .conflict { throw .leaseLost }
            throw .failed("index switch failed: \(error)")
        }
        guard let handles = handles.take() else { return }
        let failed = namespace.switchHandles(handles, to: finalRow)
        if failed > 0 {
            // Those handles still write to the source: it must stay. The file is the new copy;
            // the old one is left for the next scan to find as a shadowed duplicate.
            job.state = .failed
            throw .failed("\(failed) open handle(s) could not be moved to the new copy; the old copy stays on '\(mover.silos[job.source]?.name ?? "?")'")
        }
    }

    /// The destination is the file now; the source copy goes, unless an open handle still
    /// reads or writes it (its switch failed): then deleting it would lose those writes.
    mutating func finishSwitched(_ source: Silo) throws(MoveStop) {
        guard let row = try? namespace.currentRow(job.ino) else { job.state = .done; return }
        if row.silo == job.source { throw .failed("index does not point at the destination") }
        let stillOpen = namespace.handles(of: job.ino, on: source.id)
        if stillOpen > 0 {
            job.state = .failed
            throw .failed("\(stillOpen) open handle(s) still use the old copy on '\(source.name)'; it is kept")
        }
        guard source.isOnline else { throw .failed("source silo offline; the old copy will be removed when it returns") }
        if source.isObjectStore {
            try deleteObject(of: row, in: source)
            job.state = .done
            return
        }
        if let parent = try? namespace.parentDirectory(of: row, in: source, create: false) {
            defer { Sys.close(parent) }
            if withCPath(row.name, { unlinkat(parent, $0, 0) }) != 0 && Errno.current != .noSuchFileOrDirectory {
                throw .failed("cannot remove the old copy: \(Errno.current)")
            }
        }
        job.state = .done
    }

    private static func ms(_ seconds: Double) -> Int { Int(seconds * 1000) }

    func persist() throws(MoveStop) {
        // A finished job leaves the live table before the index says so: whoever sees the job
        // done (`estuary move --wait`) then reads a settled user.estuary.state.
        if job.state.isFinished { mover.forgetProgress(job.ino) }
        var copy = job
        copy.updated = Int64(time(nil))
        let node = mover.node
        // A node that could not beat for most of the dead time stops before the others may
        // take its lease, rather than racing the new holder on the staging file.
        if let node, !node.isAlive { throw .leaseLost }
        do {
            try index.write { tx throws(IndexError) in
                if let node { try tx.requireLease(LeaseRow.job(copy.id), node: node.node.id) }
                try tx.updateJob(copy)
            }
        } catch {
            if error.kind == .conflict { throw .leaseLost }
            throw .failed("cannot record progress: \(error)")
        }
        if job.state.isFinished { mover.noteFinished() }
    }
}
