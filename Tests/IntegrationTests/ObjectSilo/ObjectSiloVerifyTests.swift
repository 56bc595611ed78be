import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `estuary verify` of files in a bucket: each object is there, is the version and size the
/// index holds, and its bytes give its ETag (the MD5, or multipart MD5, the upload checked);
/// an object replaced or removed behind the mount is reported, one line per problem.
@Suite(.serialized)
struct ObjectSiloVerifyTests {
    @Test func objectsChangedOrRemovedBehindTheMountAreReported() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        try FileManager.default.createDirectory(atPath: s3.pool.path("v"), withIntermediateDirectories: true)
        // Single-PUT objects and a multipart one (two 16 MiB parts), all uploaded by the mover.
        let files = ["v/intact": 70_000, "v/multipart": (16 << 20) + 4097, "v/replaced": 5000, "v/resized": 5000, "v/removed": 300]
        for (i, (name, size)) in files.sorted(by: { $0.key < $1.key }).enumerated() {
            try Data(objectPattern(size, seed: i)).write(to: URL(fileURLWithPath: s3.pool.path(name)))
        }
        let names = files.keys.sorted()
        let move = try s3.pool.estuary(["move"] + names.map { s3.pool.path($0) } + ["--to", "cold", "--wait"])
        #expect(move.status == 0, "\(move.output)")

        let clean = try s3.pool.estuary(["verify", s3.pool.path("v")])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("verified 5 file(s): 5 ok"), "\(clean.output)")

        // Behind the mount: same size other bytes, other size, and a deletion.
        try s3.put(["v/replaced": objectPattern(5000, seed: 99), "v/resized": objectPattern(5001, seed: 3)])
        try s3.server.boto("s3.delete_object(Bucket='\(s3.bucket)', Key='v/removed')")

        let out = try s3.pool.estuary(["verify", s3.pool.path("v")])
        #expect(out.status == 1, "\(out.output)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        func line(_ name: String) -> String? { lines.first { $0.contains(s3.pool.path(name) + " on archive") } }
        #expect(line("v/replaced")?.hasPrefix("MISMATCH") == true && line("v/replaced")?.contains("changed behind the mount") == true, "\(lines)")
        #expect(line("v/resized")?.hasPrefix("MISMATCH") == true, "\(lines)")
        #expect(line("v/removed")?.hasPrefix("MISSING") == true && line("v/removed")?.contains("v/removed is missing") == true, "\(lines)")
        #expect(line("v/intact")?.hasPrefix("OK") == true && line("v/multipart")?.hasPrefix("OK") == true, "\(lines)")
        #expect(out.stdout.contains("verified 5 file(s): 2 mismatch, 1 missing, 2 ok"), "\(out.stdout)")

        // --silo checks every file the index places in the bucket.
        let bySilo = try s3.pool.estuary(["verify", s3.pool.configPath, "--silo", "archive", "--json"])
        #expect(bySilo.status == 1, "\(bySilo.output)")
        #expect(bySilo.stdout.contains("\"missing\""), "\(bySilo.stdout)")
    }
}
