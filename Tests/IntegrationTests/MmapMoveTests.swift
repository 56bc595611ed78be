import Foundation
import Synchronization
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Writes through a shared mapping while the file moves between tiers: the kernel writes the
/// mapping's dirty pages back whenever it likes (WRITE requests with no open() of their own),
/// so they may land before, during or after the switch to the new copy, and none may be lost.
@Suite(.serialized)
struct MmapMoveTests {
    /// How long the writer runs; `make soak` raises it (ESTUARY_MMAP_MOVE_SECONDS).
    static let seconds = Double(ProcessInfo.processInfo.environment["ESTUARY_MMAP_MOVE_SECONDS"] ?? "") ?? 10

    /// The bytes the mapping should hold, and the writer's switch: the writer holds the lock
    /// for each write, so whoever holds it sees the model and the mapping agree.
    final class Shared: Sendable {
        struct State { var model: [UInt8]; var writes = 0; var stop = false }
        let state: Mutex<State>
        init(_ model: [UInt8]) { state = Mutex(State(model: model)) }
    }

    private func readAll(_ path: String) throws -> [UInt8] {
        let fd = try Sys.open(path, flags: O_RDONLY)
        defer { close(fd) }
        return try Sys.readAll(fd, limit: 1 << 30)
    }

    /// The first offset where two byte arrays differ, and how many bytes differ in all.
    private func difference(_ a: [UInt8], _ b: [UInt8]) -> String? {
        if a.count != b.count { return "sizes \(a.count) and \(b.count)" }
        if a.withUnsafeBytes({ x in b.withUnsafeBytes { memcmp(x.baseAddress!, $0.baseAddress!, x.count) } }) == 0 { return nil }
        let pages = stride(from: 0, to: a.count, by: 4096).filter { a[$0..<min(a.count, $0 + 4096)] != b[$0..<min(b.count, $0 + 4096)] }
        return "\(pages.count) pages differ, the first at \(pages.first ?? -1)"
    }

    /// A 200 MiB file mapped MAP_SHARED takes random 1-8 KiB writes through the mapping while
    /// `estuary move` takes it back and forth between the tiers. After each move, a fresh open
    /// must read what the mapping holds; after msync, fsync and close, the backing file must
    /// hold every write.
    @Test func sharedMappingWritesSurviveMoves() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "extent_size = \"1MiB\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let size = 200 << 20
        let path = pool.path("mapped.bin")
        var initial = [UInt8](repeating: 0, count: size)
        for i in stride(from: 0, to: size, by: 4096) { initial[i] = UInt8(truncatingIfNeeded: i >> 12) }
        // Created and filled through the descriptor that is then mapped, as a program making
        // its own data file does: that handle began on an empty file, so it is a direct_io one.
        let fd = try Sys.open(path, flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o644)
        defer { close(fd) }
        try initial.withUnsafeBytes { raw throws in
            var done = 0
            while done < raw.count { done += try Sys.pwrite(fd, raw.baseAddress! + done, raw.count - done, Int64(done)) }
        }
        let shared = Shared(initial)
        initial = []

        guard let map = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw TestFailure("mmap: \(Errno.current)")
        }
        let base = UInt(bitPattern: map)
        let writer = OSThread.start {
            var rng = UInt64(0x9e37_79b9_7f4a_7c15)
            var chunk = [UInt8](repeating: 0, count: 8192)
            while true {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
                let length = 1024 + Int(rng % 7169)
                let offset = Int((rng >> 20) % UInt64(size - length))
                let stop = shared.state.withLock { s -> Bool in
                    if s.stop { return true }
                    s.writes += 1
                    let fill = UInt8(truncatingIfNeeded: s.writes) | 1
                    for k in 0..<length { chunk[k] = fill &+ UInt8(truncatingIfNeeded: k) }
                    chunk.withUnsafeBytes { src in
                        memcpy(UnsafeMutableRawPointer(bitPattern: base + UInt(offset))!, src.baseAddress!, length)
                        s.model.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + offset, src.baseAddress!, length) }
                    }
                    return false
                }
                if stop { return }
            }
        }

        // The kernel writes dirty pages back on its own only after 30 s; msync sends them now,
        // as a program that syncs its mapping does, so they reach the daemon during the moves.
        let syncer = OSThread.start {
            while !shared.state.withLock({ $0.stop }) {
                _ = msync(UnsafeMutableRawPointer(bitPattern: base), size, MS_SYNC)
                usleep(20_000)
            }
        }
        // Other programs open and close the file all the while (each close is a RELEASE that
        // may meet the switch of the open handles to the new copy).
        let churn = HandleChurn(path, depth: 600)
        // Whatever ends the test, the threads stop before the mount goes (a write into the
        // mapping of a vanished mount is a SIGBUS that would take the whole test run down).
        var running = true
        func stopAll() {
            guard running else { return }
            running = false
            shared.state.withLock { $0.stop = true }
            writer.join()
            syncer.join()
            churn.stop()
        }
        defer { stopAll() }
        let start = monotonicSeconds()
        var moves = 0
        var mismatches: [String] = []
        while moves < 3 || monotonicSeconds() - start < Self.seconds {
            let tier = moves % 2 == 0 ? "bulk" : "fast"
            // Asked twice, as an impatient admin does: the second request replaces the first
            // while a worker may already have taken it.
            for _ in 0..<2 {
                let move = try pool.estuary(["move", path, "--to", tier])
                #expect(move.status == 0, "move \(moves) to \(tier): \(move.output)")
            }
            let wait = try pool.estuary(["jobs", "watch", pool.mountpoint])
            #expect(wait.status == 0, "\(wait.output)")
            #expect(FileManager.default.fileExists(atPath: pool.siloPath(tier + "0") + "/mapped.bin"), "move \(moves) to \(tier)")
            moves += 1
            // With the writer held, a fresh open reads through the same page cache as the
            // mapping, so it must see every write made so far, as on a local file system.
            shared.state.withLock { s in
                if let diff = (try? readAll(path)).map({ difference($0, s.model) }) ?? "unreadable" {
                    mismatches.append("after move \(moves) (\(s.writes) writes): \(diff)")
                }
            }
        }
        stopAll()
        #expect(msync(map, size, MS_SYNC) == 0)
        #expect(fsync(fd) == 0)
        munmap(map, size)
        let model = shared.state.withLock { $0.model }
        let writes = shared.state.withLock { $0.writes }
        #expect(mismatches.isEmpty, "fresh opens saw old bytes: \(mismatches)")
        #expect(difference(try readAll(path), model) == nil, "through the mount after \(writes) writes and \(moves) moves")
        let silo = moves % 2 == 1 ? "bulk0" : "fast0"
        #expect(difference(try readAll(pool.siloPath(silo) + "/mapped.bin"), model) == nil, "the backing file on \(silo)")
    }
}
