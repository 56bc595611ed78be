import Index
import ObjectStore
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Namespace changes of files in a bucket. Objects cannot be renamed: a rename is a job that
/// copies on the server (CopyObject) and deletes the old keys (BucketRenames); an unlink
/// deletes the key.
extension Namespace {
    /// The key of `name` in directory `dir`.
    func objectKey(_ bucket: ObjectBucket, _ dir: EntryRow, _ name: [UInt8]) throws(Errno) -> String {
        let parent = dir.ino == 1 ? [] : try relativePath(of: dir)
        guard let key = bucket.key(parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name) else { throw Errno.invalidArgument }
        return key
    }

    /// `renameIn` for a bucket: holds the keys of the object named, or of every object under
    /// the directory named, and returns the job that copies them once the index has the new
    /// name (see BucketRenames).
    func renameInBucket(_ silo: Silo, _ oldDir: EntryRow, _ name: [UInt8], _ newDir: EntryRow, _ newName: [UInt8], flags: UInt32) throws(Errno) -> BucketRenames.Entry {
        guard flags == 0 else { throw Errno.notSupported }   // an exchange has no server-side form
        guard silo.isOnline, let bucket = silo.bucket, bucket.client != nil else { throw Errno.ioError }
        // Computing the keys waits for an earlier rename that covers either of them.
        let from = try objectKey(bucket, oldDir, name), to = try objectKey(bucket, newDir, newName)
        return try bucketRenames.prepare(silo: silo, bucket: bucket, from: from, to: to)
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
        try commitRemoval(of: row, parent: parentRow.ino, name: name, parentAfter: parentAfter, timing: .beforeReply)
    }
}
