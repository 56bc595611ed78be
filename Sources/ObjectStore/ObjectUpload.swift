import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Uploads a whole file from a descriptor as one object: one PUT when it fits in a part,
/// else a multipart upload with parts in parallel. Every part is checked by the server
/// against its Content-MD5, and the finished object's size and ETag are checked against the
/// MD5s of what was read, so the returned ETag names exactly these bytes.
public struct ObjectUpload: Sendable {
    public let client: S3Client
    /// Bytes per part (S3 wants at least 5 MiB for all but the last).
    public var partSize: Int = 16 << 20
    public var parallel: Int = 4

    public init(client: S3Client, partSize: Int = 16 << 20, parallel: Int = 4) {
        self.client = client; self.partSize = max(5 << 20, partSize); self.parallel = max(1, parallel)
    }

    /// The ETag the object gets, to be verified; `onPart` hears of each part done (bytes).
    public func upload(fd: Int32, size: Int64, key: String, metadata: [String: String],
                       onPart: @escaping @Sendable (Int) -> Void = { _ in }) throws(S3Error) -> String {
        if size <= Int64(partSize) {
            let buffer = try read(fd, offset: 0, count: Int(size))
            defer { buffer.deallocate() }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(size))
            let expected = Digests.hex(Digests.md5(bytes))
            let etag = try client.put(key, body: bytes, metadata: metadata)
            onPart(Int(size))
            try verify(key, size: size, expected: expected, returned: etag)
            return expected
        }
        let parts = Int((size + Int64(partSize) - 1) / Int64(partSize))
        let uploadID = try client.createMultipart(key, metadata: metadata)
        let results = Mutex<[Int: (etag: String, md5: [UInt8])]>([:])
        let (client, partSize) = (self.client, self.partSize)
        do {
            try ParallelTransfers.run(Array(0..<parts), width: parallel) { part throws(S3Error) in
                let offset = Int64(part) * Int64(partSize)
                let count = Int(min(Int64(partSize), size - offset))
                let buffer = try ObjectUpload.readPart(fd, offset: offset, count: count)
                defer { buffer.deallocate() }
                let bytes = UnsafeRawBufferPointer(start: buffer, count: count)
                let md5 = Digests.md5(bytes)
                let etag = try client.uploadPart(key, uploadID: uploadID, number: part + 1, body: bytes)
                guard etag.lowercased() == Digests.hex(md5) else {
                    throw S3Error(.invalid, message: "part \(part + 1) of \(key): the server's ETag \(etag) is not the MD5 of the part sent")
                }
                results.withLock { $0[part] = (etag, md5) }
                onPart(count)
            }
            let done = results.withLock { $0 }
            let list = (0..<parts).map { (number: $0 + 1, etag: done[$0]!.etag) }
            let etag = try client.completeMultipart(key, uploadID: uploadID, parts: list)
            let expected = Digests.multipartETag(partMD5s: (0..<parts).map { done[$0]!.md5 })
            try verify(key, size: size, expected: expected, returned: etag)
            return expected
        } catch {
            try? client.abortMultipart(key, uploadID: uploadID)
            throw error
        }
    }

    /// HEAD after the upload: the object there now must be the one just sent.
    private func verify(_ key: String, size: Int64, expected: String, returned: String) throws(S3Error) {
        let info = try client.head(key)
        guard info.size == size else {
            throw S3Error(.invalid, message: "\(key) holds \(info.size) bytes after the upload, not \(size)")
        }
        // Servers that compute multipart ETags their own way still answer the same ETag to the
        // HEAD as to the upload; a mismatch with both is another object.
        guard info.etag == expected || (info.etag == returned && !returned.isEmpty) else {
            throw S3Error(.invalid, message: "\(key) has ETag \(info.etag) after the upload, expected \(expected)")
        }
    }

    private func read(_ fd: Int32, offset: Int64, count: Int) throws(S3Error) -> UnsafeMutableRawPointer {
        try ObjectUpload.readPart(fd, offset: offset, count: count)
    }

    static func readPart(_ fd: Int32, offset: Int64, count: Int) throws(S3Error) -> UnsafeMutableRawPointer {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 4096)
        var done = 0
        while done < count {
            let n: Int
            do { n = try Sys.pread(fd, buffer + done, count - done, offset + Int64(done)) } catch {
                buffer.deallocate()
                throw S3Error(.invalid, message: "reading the source at \(offset + Int64(done)): \(error)")
            }
            if n == 0 { buffer.deallocate(); throw S3Error(.invalid, message: "the source is shorter than \(offset + Int64(count)) bytes") }
            done += n
        }
        return buffer
    }
}
