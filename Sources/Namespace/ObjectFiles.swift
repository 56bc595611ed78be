import Index
import ObjectStore
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The readers behind open handles of files whose data is in a bucket, by handle number.
/// Such a handle's descriptor is a placeholder (/dev/null) that owns the number; a recall
/// that switches the handle puts the local copy on that number (dup3), and reads then go to
/// the descriptor like any other.
final class ObjectReads: Sendable {
    private let readers = Mutex<[Int32: ObjectReader]>([:])
    func add(_ fd: Int32, _ reader: ObjectReader) { readers.withLock { $0[fd] = reader } }
    func remove(_ fd: Int32) { _ = readers.withLock { $0.removeValue(forKey: fd) } }
    func reader(_ fd: Int32) -> ObjectReader? { readers.withLock { $0[fd] } }
}

extension Namespace {
    /// Installs the recall run before a file in a bucket is opened for writing: it moves the
    /// file (synchronously) to a writable tier and returns whether it did.
    public func onObjectWrite(_ handler: @escaping @Sendable (UInt64) -> Bool) { objectRecall.withLock { $0.function = handler } }

    /// Bytes per ranged GET: the extent size the tiering layer sets, 4 MiB until then.
    public func setObjectBlockSize(_ bytes: Int) { objectBlockSize.store(bytes, ordering: .relaxed) }

    /// Opens a file whose data is the object at its path: one HEAD takes the object's ETag
    /// (pinned for the handle's reads) and refreshes the attributes when the object changed
    /// behind the mount, as an open of a local file does from fstat.
    func openObject(_ row: inout EntryRow, silo: Silo, path: [UInt8], flags: Int32) throws(Errno) -> (fd: Int32, changed: Bool) {
        guard let bucket = silo.bucket, let client = bucket.client else { throw Errno.ioError }
        guard let wanted = bucket.key(path) else { throw Errno.ioError }
        let key: String, info: ObjectInfo
        do { (key, info) = try headFollowingRenames(client, silo: silo, key: wanted) } catch {
            if error.kind == .noSuchKey { throw Errno.noSuchFileOrDirectory }
            logger.error("silo '\(silo.name)' cannot serve \(displayName(path)): \(error)")
            throw Errno.ioError
        }
        var changed = false
        let version = ObjectBucket.versionHash(info.etag)
        if row.backingInode != version || row.size != info.size {
            changed = true
            row.size = info.size; row.blocks = (info.size + 511) / 512; row.backingInode = version
            row.mtimeNs = info.lastModified; row.ctimeNs = info.lastModified
            nodes.refresh(row)
            let updated = row
            do { try index.change { tx throws(IndexError) in try tx.update(updated) } }
            catch { logger.warning("could not record new attributes of \(displayName(path)): \(error)") }
            reportNow(attributesOf: row.ino)
        }
        let fd: Int32
        do { fd = try Sys.open("/dev/null", flags: O_RDONLY) } catch { throw error }
        objectReads.add(fd, ObjectReader(client: client, key: key, etag: info.etag, size: info.size,
                                         blockSize: objectBlockSize.load(ordering: .relaxed)))
        handles.add(row.ino, fd: fd, flags: flags & ~(O_CREAT | O_EXCL | O_TRUNC), silo: silo.id)
        return (fd, changed)
    }

    /// A read on a handle opened by `openObject`. Once a recall has switched the handle to a
    /// local copy, the descriptor is that copy and is read directly.
    public func readObject(_ ino: UInt64, fd: Int32, offset: Int64, size: Int) throws(Errno) -> [UInt8] {
        if var reader = objectReads.reader(fd), let silo = handles.silo(ino, fd: fd).flatMap({ silos[$0] }), silo.isObjectStore {
            var attempt = 0
            while true {
                attempt += 1
                // Our own metadata write-back may have given the object a new ETag (same
                // bytes): the handle follows it rather than failing.
                if let next = silo.bucket?.rewrittenVersion(of: reader.etag) {
                    reader = ObjectReader(client: reader.client, key: reader.key, etag: next, size: reader.size, blockSize: reader.blockSize)
                    objectReads.add(fd, reader)
                }
                do { return try reader.read(offset: offset, count: size) } catch {
                    if error.kind == .changed && attempt == 1 && silo.bucket?.rewrittenVersion(of: reader.etag) != nil { continue }
                    // The handle read a key a rename has since copied and deleted (this node's
                    // or another's): the same bytes are under the name the file has now.
                    if error.kind == .noSuchKey && attempt <= 3, let moved = renamedReader(reader, ino: ino, silo: silo) {
                        reader = moved
                        objectReads.add(fd, reader)
                        continue
                    }
                    // A recall that switched this handle and deleted the object while the GET was
                    // on its way: the descriptor is the local copy now.
                    let moved = handles.silo(ino, fd: fd).flatMap { silos[$0] }.map { !$0.isObjectStore } ?? false
                    if !moved {
                        logger.error("reading inode \(ino) from silo '\(silo.name)': \(error)")
                        throw error.kind == .changed ? Errno.staleNFSFileHandle : Errno.ioError
                    }
                    break
                }
            }
        }
        var buffer = [UInt8](repeating: 0, count: max(size, 1))
        let n = buffer.withUnsafeMutableBytes { b in Glibc.pread(fd, b.baseAddress!, size, off_t(offset)) }
        if n < 0 { throw Errno.current }
        buffer.removeLast(buffer.count - n)
        return buffer
    }
}

extension Namespace {
    /// HEAD of `key`; when there is no such object and renames in the journal cover the key
    /// (another node's rename whose copies are still running: this node learns of those only
    /// through the journal), the object under the old name, whose bytes are the file's until
    /// its copy is made. Asked again a few times: a copy and its delete can fall between two
    /// HEADs.
    func headFollowingRenames(_ client: S3Client, silo: Silo, key: String) throws(S3Error) -> (String, ObjectInfo) {
        var missing: S3Error
        do { return (key, try client.head(key)) } catch { missing = error }
        guard missing.kind == .noSuchKey else { throw missing }
        for _ in 0..<50 {
            let candidates = bucketRenames.candidateKeys(of: key, silo: silo.id)
            for candidate in candidates {
                do { return (candidate, try client.head(candidate)) } catch {
                    if error.kind != .noSuchKey { throw error }
                    missing = error
                }
            }
            if candidates.count == 1 { break }   // no rename covers it: the object is gone
            usleep(20_000)
        }
        throw missing
    }

    /// A reader for the object a handle reads, under the name the file has now, when its key
    /// went in a rename: the same size, the ETag the copy has.
    private func renamedReader(_ reader: ObjectReader, ino: UInt64, silo: Silo) -> ObjectReader? {
        guard let bucket = silo.bucket, let row = try? entry(ino), let path = try? relativePath(of: row),
              let wanted = bucket.key(path), let (key, info) = try? headFollowingRenames(reader.client, silo: silo, key: wanted),
              key != reader.key, info.size == reader.size else { return nil }
        return ObjectReader(client: reader.client, key: key, etag: info.etag, size: reader.size, blockSize: reader.blockSize)
    }

    /// A write through a handle that followed its file into a bucket (an upload reopened it
    /// read-only on the old local copy, so the write failed with EBADF): the file is recalled,
    /// on this node or by the node already recalling it, and the recall's switch puts the
    /// handle on the local copy. True when the handle is on a local copy now (write again).
    func recallForHandle(_ ino: UInt64, fd: Int32) -> Bool {
        guard let id = handles.silo(ino, fd: fd), let silo = silos[id], silo.isObjectStore,
              let recall = objectRecall.withLock({ $0.function }) else { return false }
        // A few rounds: the file may go back to the bucket between the recall and the write.
        for _ in 0..<3 {
            _ = recall(ino)
            guard let now = handles.silo(ino, fd: fd), let copy = silos[now] else { return false }
            if !copy.isObjectStore { return true }
        }
        logger.error("inode \(ino) is in bucket silo '\(silo.name)' and could not be recalled for a write through an open handle")
        return false
    }

    /// Takes `row` as current after a move that switched no handle (one into a bucket).
    public func refreshAfterMove(_ row: EntryRow) {
        if let old = nodes.refresh(row), let change = Namespace.cachedChange(from: old, to: row) { report([change]) }
    }
}
