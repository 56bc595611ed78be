import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Renames in a bucket are jobs journaled in the index: the name changes at once, the copies
/// follow, and a daemon killed at any point finishes them at the next mount, so the bucket
/// ends with exactly the keys of one name (never both, never neither).
@Suite(.serialized)
struct ObjectSiloRenameTests {
    static let objects = 240

    private func content(_ i: Int) -> [UInt8] { Array(String(repeating: "\(i)-", count: 100).utf8) }
    private func relative(_ i: Int) -> String { "sub\(i % 4)/f\(i)" }

    /// Makes `objects` objects under `dir/` with boto3, in parallel.
    private func fill(_ s3: ObjectSiloPool, dir: String) throws {
        try s3.server.boto("""
        import concurrent.futures
        def put(i): s3.put_object(Bucket='\(s3.bucket)', Key='\(dir)/sub%d/f%d' % (i % 4, i), Body=(b'%d-' % i) * 100)
        with concurrent.futures.ThreadPoolExecutor(16) as ex: list(ex.map(put, range(\(Self.objects))))
        """)
    }

    @Test func killDuringDirectoryRenamesLeavesOneName() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["ESTUARY_CRASH_ITERATIONS"] ?? "") ?? 5
        let s3 = try ObjectSiloPool()
        try fill(s3, dir: "d0")
        try s3.pool.mount()
        var rng = SystemRandomNumberGenerator()
        var current = 0
        for iteration in 0..<iterations {
            let next = current + 1
            let (from, to) = (s3.pool.path("d\(current)"), s3.pool.path("d\(next)"))
            // The rename runs beside the kill, so the kill may land before, during or after it.
            let renamer = OSThread.start { _ = Glibc.rename(from, to) }
            usleep(UInt32.random(in: 0...400_000, using: &rng))
            kill(try #require(s3.pool.daemonPid), SIGKILL)
            renamer.join()
            s3.pool.forgetKilledDaemon()
            // Every other round a scan runs before the mount: it must not take the half-renamed
            // bucket's old keys for files.
            if iteration % 2 == 1 {
                let scan = try s3.pool.estuary(["scan", s3.pool.configPath])
                #expect(scan.status == 0 || scan.output.contains("rename job"), "\(scan.output)")
            }
            try s3.pool.mount()
            let names = try FileManager.default.contentsOfDirectory(atPath: s3.pool.mountpoint).filter { $0.hasPrefix("d") }
            #expect(names.count == 1, "after kill \(iteration): \(names)")
            guard let name = names.first else { break }
            current = Int(name.dropFirst()) ?? current
            // The mount finished (or never began) the rename before it served: exactly one
            // name's keys are in the bucket, all of them.
            let expected = (0..<Self.objects).map { "d\(current)/" + relative($0) }.sorted()
            let keys = Set(try s3.keys())
            let extra = keys.subtracting(expected).sorted(), missing = Set(expected).subtracting(keys).sorted()
            #expect(extra.isEmpty && missing.isEmpty, "after kill \(iteration): \(extra.count) extra keys \(extra.prefix(3)), \(missing.count) missing \(missing.prefix(3))")
            for i in stride(from: iteration, to: Self.objects, by: 37) {
                #expect(try readWholeFile(s3.pool.path("d\(current)/" + relative(i))) == content(i), "f\(i) after kill \(iteration)")
            }
        }
        #expect(current > 0, "no rename landed")
        try s3.pool.unmount()
    }

    @Test func renamedFilesReadAtOnceUnderTheNewName() throws {
        let s3 = try ObjectSiloPool()
        try fill(s3, dir: "a")
        try s3.server.boto("s3.put_object(Bucket='\(s3.bucket)', Key='one', Body=b'solo')\ns3.put_object(Bucket='\(s3.bucket)', Key='gone', Body=b'old')")
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        #expect(Glibc.rename(s3.pool.path("a"), s3.pool.path("b")) == 0)
        // Reads right after the rename wait for its copies, never failing.
        for i in stride(from: 0, to: Self.objects, by: 11) {
            #expect(try readWholeFile(s3.pool.path("b/" + relative(i))) == content(i))
        }
        #expect(Glibc.rename(s3.pool.path("one"), s3.pool.path("gone")) == 0, "a file over another in the bucket")
        #expect(try readWholeFile(s3.pool.path("gone")) == Array("solo".utf8))
        #expect(Glibc.rename(s3.pool.path("b/sub1"), s3.pool.path("s1")) == 0, "a rename right behind another")
        #expect(try readWholeFile(s3.pool.path("s1/f1")) == content(1))
        #expect(try s3.pool.estuary(["scan", s3.pool.mountpoint]).status == 0)
        let expected = ((0..<Self.objects).map { $0 % 4 == 1 ? "s1/f\($0)" : "b/" + relative($0) } + ["gone"]).sorted()
        #expect(try s3.keys() == expected)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s3.pool.mountpoint).sorted() == ["b", "gone", "s1"])
    }
}
