import CCrypto
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
    /// upload of `parts` parts, read back from `fd` in 8 MiB pieces: to check a copy.
    public static func expectedETag(fd: Int32, size: Int64, parts: Int) throws(S3Error) -> String? {
        if parts <= 1 { return Digests.hex(try streamedMD5(fd, from: 0, count: size)) }
        // The part size of a multipart upload is not in its ETag: the usual sizes are tried.
        for partSize in [16 << 20, 8 << 20, 5 << 20, 64 << 20] where Int((size + Int64(partSize) - 1) / Int64(partSize)) == parts {
            var md5s: [[UInt8]] = []
            var offset: Int64 = 0
            while offset < size {
                let count = min(Int64(partSize), size - offset)
                md5s.append(try streamedMD5(fd, from: offset, count: count))
                offset += count
            }
            return Digests.multipartETag(partMD5s: md5s)
        }
        return nil
    }

    static func streamedMD5(_ fd: Int32, from start: Int64, count: Int64) throws(S3Error) -> [UInt8] {
        guard let ctx = estuary_md5_begin() else { throw S3Error(.invalid, message: "OpenSSL has no MD5") }
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < count {
            let want = Int(min(Int64(chunk), count - done))
            let n = pread(fd, buffer, want, off_t(start + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                var sink = [UInt8](repeating: 0, count: 16)
                _ = estuary_md5_end(ctx, &sink)
                throw S3Error(.invalid, message: "the copy is shorter than \(start + count) bytes")
            }
            _ = estuary_md5_update(ctx, buffer, n)
            done += Int64(n)
        }
        var out = [UInt8](repeating: 0, count: 16)
        _ = estuary_md5_end(ctx, &out)
        return out
    }
}
