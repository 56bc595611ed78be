import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Fetches one version of an object into a file, block by block with ranged GETs in
/// parallel, in the order given (a recall passes the hottest blocks first). Every GET carries
/// If-Match, so the file receives bytes of that version only.
public struct ObjectDownload: Sendable {
    public let client: S3Client
    public var parallel: Int

    public init(client: S3Client, parallel: Int = 4) { self.client = client; self.parallel = max(1, parallel) }

    public func download(key: String, etag: String, size: Int64, blockSize: Int, order: [Int], into fd: Int32,
                         onBlock: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws(S3Error) {
        let client = self.client
        try ParallelTransfers.run(order, width: parallel) { block throws(S3Error) in
            let lower = Int64(block) * Int64(blockSize)
            let upper = min(size, lower + Int64(blockSize))
            guard lower < upper else { return }
            let count = Int(upper - lower)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 4096)
            defer { buffer.deallocate() }
            let n = try client.get(key, range: lower..<upper, ifMatch: etag, into: buffer)
            guard n == count else { throw S3Error(.invalid, message: "\(key): \(n) bytes for a range of \(count)") }
            var done = 0
            while done < count {
                let w = pwrite(fd, buffer.baseAddress! + done, count - done, off_t(lower + Int64(done)))
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else { throw S3Error(.invalid, message: "writing the recalled copy: errno \(errno)") }
                done += w
            }
            onBlock(block, count)
        }
    }

    /// The ETag an object of these bytes gets from a single PUT (MD5) or from a multipart
    /// upload of `partSize` parts, read back from `fd`: to check a recalled copy.
    public static func expectedETag(fd: Int32, size: Int64, parts: Int) throws(S3Error) -> String? {
        if parts <= 1 {
            guard size <= 1 << 30 else { return nil }
            let buffer = try ObjectUpload.readPart(fd, offset: 0, count: Int(size))
            defer { buffer.deallocate() }
            return Digests.hex(Digests.md5(UnsafeRawBufferPointer(start: buffer, count: Int(size))))
        }
        // The part size of a multipart upload is not in its ETag: the usual sizes are tried.
        for partSize in [16 << 20, 8 << 20, 5 << 20, 64 << 20] where Int((size + Int64(partSize) - 1) / Int64(partSize)) == parts {
            var md5s: [[UInt8]] = []
            var offset: Int64 = 0
            while offset < size {
                let count = Int(min(Int64(partSize), size - offset))
                let buffer = try ObjectUpload.readPart(fd, offset: offset, count: count)
                md5s.append(Digests.md5(UnsafeRawBufferPointer(start: buffer, count: count)))
                buffer.deallocate()
                offset += Int64(count)
            }
            return Digests.multipartETag(partMD5s: md5s)
        }
        return nil
    }
}
