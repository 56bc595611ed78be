import CShims
import CXXHash
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Copies one extent from source to staging and hashes what was written. A hole in the source
/// stays a hole, so sparse files stay sparse.
struct ExtentCopier: ~Copyable {
    let extentSize: Int
    let buffer: UnsafeMutableRawPointer

    init(extentSize: Int) {
        self.extentSize = extentSize
        buffer = UnsafeMutableRawPointer.allocate(byteCount: extentSize, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Reads up to one extent of `fd` at `offset`, to end of file.
    func read(_ fd: Int32, at offset: Int64, limit: Int) throws(Errno) -> Int {
        var done = 0
        while done < limit {
            let n = try Sys.pread(fd, buffer + done, limit - done, offset + Int64(done))
            if n == 0 { break }
            done += n
        }
        return done
    }

    func hash(_ count: Int) -> UInt64 { XXH3_64bits(buffer, count) }

    /// Copies extent `index` and returns (bytes read from the source, hash of its content).
    /// A hole in the source (SEEK_DATA finds no data in the extent) is not read at all.
    func copy(_ index: Int, from source: Int32, to staging: Int32, size: Int64) throws(Errno) -> (Int, UInt64) {
        let offset = Int64(index) * Int64(extentSize)
        let limit = Int(min(Int64(extentSize), max(0, size - offset)))
        let data = lseek(source, off_t(offset), 3)   // SEEK_DATA
        if limit > 0 && ((data < 0 && errno == ENXIO) || (data >= 0 && Int64(data) >= offset + Int64(limit))) {
            memset(buffer, 0, limit)
            _ = estuary_fallocate(staging, 0x01 | 0x02, offset, Int64(limit))
            return (0, hash(limit))
        }
        // In-kernel copy first (no trip through our memory); the hash is then taken from the
        // staging file, which the page cache serves. Across file systems that refuse it, a
        // plain read and write.
        var inOffset = offset, outOffset = offset, copied = 0
        while copied < limit {
            let n = estuary_copy_file_range(source, &inOffset, staging, &outOffset, limit - copied, 0)
            if n <= 0 { break }
            copied += n
        }
        if copied == limit {
            return (limit, hash(try read(staging, at: offset, limit: limit)))
        }
        let count = try read(source, at: offset, limit: limit)
        var written = 0
        while written < count {
            written += try Sys.pwrite(staging, buffer + written, count - written, offset + Int64(written))
        }
        return (count, hash(count))
    }

    /// Re-reads extent `index` of `fd` and hashes it.
    func verify(_ index: Int, of fd: Int32, size: Int64) throws(Errno) -> UInt64 {
        let offset = Int64(index) * Int64(extentSize)
        let limit = Int(min(Int64(extentSize), max(0, size - offset)))
        return hash(try read(fd, at: offset, limit: limit))
    }
}

extension JobBits {
    static func set(_ bits: inout [UInt8], _ index: Int, count: Int) {
        let needed = (count + 7) / 8
        if bits.count < needed { bits.append(contentsOf: repeatElement(0, count: needed - bits.count)) }
        bits[index / 8] |= 1 << UInt8(index % 8)
    }

    static func clear(_ bits: inout [UInt8], _ index: Int) {
        if index / 8 < bits.count { bits[index / 8] &= ~(1 << UInt8(index % 8)) }
    }

    static func setHash(_ hashes: inout [UInt8], _ index: Int, _ value: UInt64) {
        let needed = (index + 1) * 8
        if hashes.count < needed { hashes.append(contentsOf: repeatElement(0, count: needed - hashes.count)) }
        for k in 0..<8 { hashes[index * 8 + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
    }

    static func appendLog(_ log: inout [UInt8], _ index: Int) {
        for k in 0..<4 { log.append(UInt8(truncatingIfNeeded: index >> (8 * k))) }
    }
}

enum JobBits {}
