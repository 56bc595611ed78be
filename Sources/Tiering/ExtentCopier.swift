import CShims
import CXXHash
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The file a move copies from, read through the page cache with sequential readahead, and
/// which of its extents had pages in the page cache when the move began.
///
/// A chunk copied from an extent nobody had cached leaves the cache once copied: a moved-away
/// file's pages would only evict others', and, on this kind of machine above all, a copy that
/// keeps them makes the kernel find fresh memory for every page of the staging file instead
/// of reusing the source's (1 GiB cold, 4 workers: copy phase 0.8-0.9 s with the pages
/// dropped, 7-9 s with them kept; docs/decisions.md, "Moves at the speed of cp"). Asking the
/// page cache at copy time cannot tell: the readahead of the chunks before (8-16 MiB here)
/// has always cached part of the next one, so nearly nothing was dropped. Hence the snapshot.
struct SourceFile: Sendable {
    let fd: Int32
    /// Extents the snapshot covers; later ones (the file grew during the move) were written
    /// through the mount, so their pages are someone's and stay.
    private let covered: Int
    /// Per extent of `covered`, whether it had cached pages: nil when none had.
    private let warm: [Bool]?

    init(fd: Int32, extentSize: Int) {
        self.fd = fd
        let extent = Int64(max(1, extentSize))
        let size = (try? Sys.fstat(fd).size) ?? 0
        let count = Int((size + extent - 1) / extent)
        let whole = estuary_cached_bytes(fd, 0, 0)   // length 0: to the end of the file
        if whole == 0 {
            covered = count; warm = nil
        } else if whole < 0 {
            covered = 0; warm = nil   // no cachestat (before Linux 6.5): every page stays, as before it
        } else {
            covered = count
            warm = Self.warmExtents(fd, count: count, extentSize: extent)
        }
    }

    /// Asked a group of extents at a time, then extent by extent inside the groups with pages:
    /// a large file with a few cached regions costs few calls.
    private static func warmExtents(_ fd: Int32, count: Int, extentSize: Int64) -> [Bool] {
        var warm = [Bool](repeating: false, count: count)
        let group = 256
        for first in stride(from: 0, to: count, by: group) {
            let last = min(count, first + group)
            guard estuary_cached_bytes(fd, Int64(first) * extentSize, Int64(last - first) * extentSize) != 0 else { continue }
            for extent in first..<last { warm[extent] = estuary_cached_bytes(fd, Int64(extent) * extentSize, extentSize) != 0 }
        }
        return warm
    }

    /// Whether extent `index`'s pages go once copied.
    func dropsPages(of index: Int) -> Bool {
        guard index < covered else { return false }
        return !(warm?[index] ?? false)
    }

    func close() { Sys.close(fd) }
}

/// One thread's means of copying and hashing extents: a buffer and an XXH3 state. Extents pass
/// through in chunks of at most `chunkLimit` bytes, so memory per thread stays small whatever
/// the extent size; XXH3's streaming hash of the chunks equals its one-shot hash of the extent.
struct ExtentCopier: ~Copyable {
    static let chunkLimit = 4 << 20
    /// Page-aligned buffers: the kernel copies whole pages in and out of them.
    static let alignment = 4096

    let extentSize: Int
    private let chunk: Int
    private let buffer: UnsafeMutableRawPointer
    private let state: OpaquePointer

    init(extentSize: Int) {
        self.extentSize = extentSize
        chunk = min(extentSize, Self.chunkLimit)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: Self.alignment)
        state = XXH3_createState()!
    }

    deinit {
        XXH3_freeState(state)
        buffer.deallocate()
    }

    private func bounds(_ index: Int, size: Int64) -> (offset: Int64, limit: Int) {
        let offset = Int64(index) * Int64(extentSize)
        return (offset, Int(min(Int64(extentSize), max(0, size - offset))))
    }

    /// Copies extent `index` and returns (bytes read from the source, hash of those bytes).
    /// The hash is taken from what was read, before it is written, so the final check compares
    /// the destination with the source rather than with itself. A hole in the source (SEEK_DATA
    /// finds no data in the extent) is not read at all and stays a hole.
    /// Writers of one staging file take turns on `writeLock` rather than in the kernel: a file
    /// system serializes buffered writes to one file anyway (the inode lock), but that lock
    /// spins while another writer copies, taking the CPU the copy needs on a small machine;
    /// a mutex waiter sleeps. (Measured with two workers on two cores: the 1 GiB copy took
    /// 3.2 s with the kernel's lock alone, 1.6 s with this one.)
    mutating func copy(_ index: Int, from source: SourceFile, to staging: Int32, size: Int64,
                       writeLock: UnsafeMutablePointer<pthread_mutex_t>) throws(Errno) -> (Int, UInt64) {
        let (offset, limit) = bounds(index, size: size)
        XXH3_64bits_reset(state)
        let data = lseek(source.fd, off_t(offset), 3)   // SEEK_DATA
        if limit > 0 && ((data < 0 && errno == ENXIO) || (data >= 0 && Int64(data) >= offset + Int64(limit))) {
            memset(buffer, 0, min(chunk, limit))
            var left = limit
            while left > 0 { let n = min(chunk, left); estuary_xxh3_update(state, buffer, n); left -= n }
            _ = estuary_fallocate(staging, 0x01 | 0x02, offset, Int64(limit))   // KEEP_SIZE | PUNCH_HOLE
            return (0, XXH3_64bits_digest(state))
        }
        var done = 0
        while done < limit {
            let want = min(chunk, limit - done)
            let at = offset + Int64(done)
            // One that was cached when the move began stays for its readers (see SourceFile), and
            // so does one a writer dirtied since: dropping it would write it out first, for a
            // file that is deleted once the move ends.
            let cold = source.dropsPages(of: index) && estuary_dirty_bytes(source.fd, at, Int64(want)) == 0
            let n = try readBuffered(source.fd, from: 0, to: want, at: at)
            estuary_xxh3_update(state, buffer, n)
            if cold { _ = posix_fadvise(source.fd, off_t(at), off_t(n), POSIX_FADV_DONTNEED) }
            pthread_mutex_lock(writeLock)
            defer { pthread_mutex_unlock(writeLock) }
            var written = 0
            while written < n {
                written += try Sys.pwrite(staging, buffer + written, n - written, at + Int64(written))
            }
            // No writeback is started here: on one disk, writes mixed into the reads slowed the
            // copy (1 GiB cold, one thread: 3.8 s with sync_file_range behind every chunk, 2.6 s
            // without, cp + sync 2.75 s); the fsync before the check writes it all, as sync after cp.
            done += n
            if n < want { break }   // the source ended early: it changed, and its writer marked the extent dirty
        }
        return (done, XXH3_64bits_digest(state))
    }

    private func readBuffered(_ fd: Int32, from start: Int, to want: Int, at offset: Int64) throws(Errno) -> Int {
        var got = start
        while got < want {
            let n = try Sys.pread(fd, buffer + got, want - got, offset + Int64(got))
            if n == 0 { break }
            got += n
        }
        return got
    }

    /// Re-reads extent `index` of `fd` and hashes it.
    func verify(_ index: Int, of fd: Int32, size: Int64) throws(Errno) -> UInt64 {
        let (offset, limit) = bounds(index, size: size)
        XXH3_64bits_reset(state)
        var done = 0
        while done < limit {
            let want = min(chunk, limit - done)
            let n = try readBuffered(fd, from: 0, to: want, at: offset + Int64(done))
            estuary_xxh3_update(state, buffer, n)
            done += n
            if n < want { break }
        }
        return XXH3_64bits_digest(state)
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
