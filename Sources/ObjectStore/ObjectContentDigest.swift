import CCrypto

/// Re-reads an object and computes the ETag its bytes give (`estuary verify`): the MD5 of a
/// single-PUT object, or the MD5 of the parts' MD5s of a multipart one. The upload checked
/// the object against exactly this digest of what it read, so a difference now means the
/// stored bytes changed. Streamed in 1 MiB GETs (If-Match: that version only); no copy is
/// kept.
public enum ObjectContentDigest {
    /// Bytes per GET: divides every part size tried, so no GET straddles a part.
    static let chunk = 1 << 20
    /// The part sizes a multipart ETag is checked against (its own is not in the ETag):
    /// Estuary's upload parts first, then the common defaults of other tools.
    static let partSizes = [16 << 20, 8 << 20, 5 << 20, 64 << 20]

    /// The ETag computed from the bytes of version `etag` of `key`, in the form of `digest`
    /// (the ETag itself, or the content ETag an upload recorded before a server-side copy);
    /// nil when `digest` is no content digest (a server's own form, encryption) or its part
    /// size is not one tried.
    public static func etag(client: S3Client, key: String, etag: String, size: Int64, digest: String? = nil) throws(S3Error) -> String? {
        let digest = digest ?? etag
        let fields = digest.split(separator: "-", omittingEmptySubsequences: false)
        guard let hex = fields.first, hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return nil }
        let parts: Int
        if fields.count == 1 { parts = 1 } else if fields.count == 2, let n = Int(fields[1]), n >= 1 { parts = n } else { return nil }
        let candidates: [Int64] = parts == 1 && fields.count == 1 ? [max(size, 1)]
            : partSizes.map(Int64.init).filter { ($0 * Int64(parts - 1) < size || parts == 1) && $0 * Int64(parts) >= size }
        guard !candidates.isEmpty else { return nil }
        var digests = candidates.map { PartDigests(partSize: $0) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while offset < size {
            let count = Int(min(Int64(chunk), size - offset))
            let n = try client.get(key, range: offset..<(offset + Int64(count)), ifMatch: etag, into: buffer)
            guard n == count else { throw S3Error(.invalid, message: "\(key): \(n) bytes for a range of \(count)") }
            for i in digests.indices { digests[i].add(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), at: offset) }
            offset += Int64(count)
        }
        let results = digests.map { $0.finish(multipart: fields.count == 2) }
        // Where several part sizes fit the count, the one whose result is the ETag is the
        // upload's; otherwise the first says what the bytes give.
        return results.first { $0 == digest } ?? results.first
    }

    /// Running MD5s of one part size's parts.
    struct PartDigests {
        let partSize: Int64
        var done: [[UInt8]] = []
        var context: OpaquePointer?

        init(partSize: Int64) { self.partSize = partSize }

        mutating func add(_ bytes: UnsafeRawBufferPointer, at offset: Int64) {
            if context == nil || (offset % partSize == 0 && offset > 0) { close(); context = estuary_md5_begin() }
            _ = estuary_md5_update(context, bytes.baseAddress, bytes.count)
        }

        private mutating func close() {
            guard let context else { return }
            var out = [UInt8](repeating: 0, count: 16)
            _ = estuary_md5_end(context, &out)
            done.append(out)
            self.context = nil
        }

        consuming func finish(multipart: Bool) -> String {
            if context == nil && done.isEmpty { context = estuary_md5_begin() }   // an empty object
            close()
            return multipart ? Digests.multipartETag(partMD5s: done) : Digests.hex(done[0])
        }
    }
}
