import Index
import ObjectStore
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Namespace changes of files in a bucket. Objects cannot be renamed: a rename copies on the
/// server (CopyObject) and deletes the old key, object by object for a directory; an unlink
/// deletes the key. The new key exists before the old one goes, so a crash in between leaves
/// a duplicate for the next scan to show, never a loss.
extension Namespace {
    /// The key of `name` in directory `dir`.
    func objectKey(_ bucket: ObjectBucket, _ dir: EntryRow, _ name: [UInt8]) throws(Errno) -> String {
        let parent = dir.ino == 1 ? [] : try relativePath(of: dir)
        guard let key = bucket.key(parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name) else { throw Errno.invalidArgument }
        return key
    }

    /// `renameIn` for a bucket: the object named, or every object under the directory named.
    func renameInBucket(_ silo: Silo, _ oldDir: EntryRow, _ name: [UInt8], _ newDir: EntryRow, _ newName: [UInt8], flags: UInt32) throws(Errno) {
        guard flags == 0 else { throw Errno.notSupported }   // an exchange has no server-side form
        guard silo.isOnline, let bucket = silo.bucket, let client = bucket.client else { throw Errno.ioError }
        let from = try objectKey(bucket, oldDir, name), to = try objectKey(bucket, newDir, newName)
        do throws(S3Error) {
            var moves: [(String, String)] = []
            if (try? client.head(from)) != nil {
                moves.append((from, to))
            } else {
                for object in try client.listAll(prefix: from + "/", delimiter: nil).objects {
                    moves.append((object.key, to + "/" + String(object.key.dropFirst(from.count + 1))))
                }
                // Nothing under it (a directory the bucket no longer holds): nothing to move.
            }
            for (a, b) in moves { try client.copy(from: a, to: b) }
            for (a, _) in moves { try client.delete(a) }
        } catch {
            if error.kind == .noSuchKey { throw Errno.noSuchFileOrDirectory }
            logger.error("cannot rename \(from) to \(to) in silo '\(silo.name)': \(error)")
            throw Errno.ioError
        }
    }

    /// unlink of a file whose data is an object: the key goes, then the name.
    func unlinkObject(_ row: EntryRow, _ parentRow: EntryRow, _ name: [UInt8], _ silo: Silo) throws(Errno) {
        guard silo.isOnline, let bucket = silo.bucket, let client = bucket.client else { throw Errno.ioError }
        var row = row
        if row.nlink <= 1 {
            for shadow in try shadows(of: row.ino) where shadow.silo != silo.id { try removeShadow(parentRow, name, on: shadow.silo) }
        }
        let key = try objectKey(bucket, parentRow, name)
        do { try client.delete(key) } catch {
            logger.error("cannot delete \(key) in silo '\(silo.name)': \(error)")
            throw Errno.ioError
        }
        row.nlink = row.nlink > 0 ? row.nlink - 1 : 0
        row.ctimeNs = wallClockNanoseconds()
        var parentAfter = parentRow
        parentAfter.mtimeNs = row.ctimeNs; parentAfter.ctimeNs = row.ctimeNs
        let (updated, parent, touched) = (row, parentRow.ino, parentAfter)
        do {
            try index.change { tx throws(IndexError) in
                try removeName(updated, parent: parent, name: name, tx)
                try storeTouched([touched], tx)
            }
        } catch { throw indexFailure(error, "unlink") }
        cacheTouched([touched])
        listings.removed(parent, name)
        nodes.update(row.ino) { $0.nlink = updated.nlink; $0.ctimeNs = updated.ctimeNs }
        if updated.nlink == 0 { removed(updated.ino) }
    }
}
