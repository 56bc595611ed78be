import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The whole text of a /proc file. Foundation's `String(contentsOfFile:)` stops after its first
/// read, which a seq_file answers with one page (about 4 KiB): on a busy machine
/// /proc/self/mounts and /proc/net/tcp were cut short there, and a mounted pool or a listening
/// socket went unseen. Read until end of file instead.
func procText(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
        bytes.append(contentsOf: chunk[0..<n])
    }
}
