#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads for tests that compare a file with its model: from offset 0 whatever the
/// descriptor's position (a handle held across a move keeps its own), or by path.
enum WholeFile {
    static func read(fd: Int32) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(out.count)) }
            if n < 0 { throw TestFailure("pread: \(errno)") }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TestFailure("open \(path): \(errno)") }
        defer { close(fd) }
        return try read(fd: fd)
    }
}
