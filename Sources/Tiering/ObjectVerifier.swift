import Index
import ObjectStore
import Silos

/// `estuary verify` of a file whose data is an object: the object must be there, be the
/// version the index holds (its ETag, whose hash the index keeps, and its size) and hold the
/// bytes that ETag is the digest of. The upload checked the object against the MD5 (or the
/// multipart MD5) of what it read and recorded that ETag as the file's version, so this is
/// the recorded checksum of a file in a bucket; objects other clients made are checked the
/// same way where their ETag is such a digest.
extension Verifier {
    func verifyObject(_ row: EntryRow, _ silo: Silo) -> VerifyResult {
        func result(_ outcome: VerifyResult.Outcome, _ detail: String) -> VerifyResult {
            VerifyResult(ino: row.ino, outcome: outcome, badExtents: [], detail: detail)
        }
        guard silo.isOnline, let bucket = silo.bucket, let client = bucket.client else {
            return result(.unreadable, "bucket silo '\(silo.name)' is offline: \(silo.health.reason ?? "not reachable")")
        }
        guard let path = try? namespace.relativePath(of: row), let key = bucket.key(path) else {
            return result(.unreadable, "the file has no object key (its path is not UTF-8)")
        }
        let info: ObjectInfo
        do { info = try client.head(key) } catch {
            if error.kind == .noSuchKey { return result(.missing, "object \(key) is missing from bucket '\(bucket.spec.bucket)'") }
            return result(.unreadable, "cannot HEAD object \(key): \(error)")
        }
        if ObjectBucket.versionHash(info.etag) != row.backingInode {
            return result(.mismatch, "object \(key) is another version than the index holds (ETag \(info.etag), \(info.size) bytes): changed behind the mount")
        }
        if info.size != row.size {
            return result(.mismatch, "object \(key) holds \(info.size) bytes, the index \(row.size)")
        }
        let computed: String?
        // After a server-side copy the ETag is the server's; the bytes are checked against the
        // one they gave at their upload, which the copy carried in the metadata.
        let expected = info.metadata[S3Client.contentETagKey] ?? info.etag
        do { computed = try ObjectContentDigest.etag(client: client, key: key, etag: info.etag, size: info.size, digest: expected) } catch {
            if error.kind == .changed { return result(.mismatch, "object \(key) changed while it was read") }
            return result(.unreadable, "cannot read object \(key): \(error)")
        }
        guard let computed else {
            return result(.ok, "object \(key): size and ETag match; its ETag \(expected) is no digest Estuary can recompute, bytes not re-hashed")
        }
        if computed != expected {
            return result(.mismatch, "object \(key): its bytes give ETag \(computed), not its recorded \(expected)")
        }
        return result(.ok, "object \(key): size, ETag and the MD5 of its bytes match")
    }
}
