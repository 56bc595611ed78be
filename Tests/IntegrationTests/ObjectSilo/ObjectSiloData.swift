import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// File contents for the bucket tests: `count` bytes that differ with `seed` and do not
/// repeat at any power-of-two period, so a part or extent in the wrong place shows.
func objectPattern(_ count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ seed &+ $0 >> 13) }
}

/// The whole file at `path` (up to 1 GiB), read through whatever mount it is on.
func readWholeFile(_ path: String) throws -> [UInt8] {
    let fd = try Sys.open(path, flags: O_RDONLY)
    defer { close(fd) }
    return try Sys.readAll(fd, limit: 1 << 30)
}
