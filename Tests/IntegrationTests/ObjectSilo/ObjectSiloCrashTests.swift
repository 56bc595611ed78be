import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 of the daemon while files go to the bucket and come back, and the S3 server
/// answering with errors meanwhile: every byte stays, and in the end each file is whole in
/// exactly one place (a local silo or the bucket).
@Suite(.serialized)
struct ObjectSiloCrashTests {
    private func places(_ s3: ObjectSiloPool, _ name: String, keys: [String]) -> [String] {
        var found = ["fast0", "bulk0"].filter { FileManager.default.fileExists(atPath: s3.pool.siloPath($0) + "/" + name) }
        if keys.contains(name) { found.append("archive") }
        return found
    }

    @Test func killDuringUploadsAndRecallsLosesNothing() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["ESTUARY_CRASH_ITERATIONS"] ?? "") ?? 4
        let s3 = try ObjectSiloPool(extraConfig: "extent_size = \"64KiB\"\nheat_half_life = 3600\nmove_bandwidth = \"24MiB\"")
        var rng = SystemRandomNumberGenerator()
        try s3.pool.mount()
        var model: [String: [UInt8]] = [:]
        let sizes = [0, 1, 200_000, 3 << 20, (16 << 20) + 12_345]
        for (i, size) in sizes.enumerated() {
            model["c\(i)"] = objectPattern(size, seed: i)
            try Data(model["c\(i)"]!).write(to: URL(fileURLWithPath: s3.pool.path("c\(i)")))
        }
        for iteration in 0..<iterations {
            let target = iteration % 2 == 0 ? "cold" : "fast"
            _ = try s3.pool.estuary(["move"] + model.keys.sorted().map { s3.pool.path($0) } + ["--to", target])
            usleep(UInt32.random(in: 50_000...900_000, using: &rng))
            kill(try #require(s3.pool.daemonPid), SIGKILL)
            s3.pool.forgetKilledDaemon()
            try s3.pool.mount()
            for (name, bytes) in model { #expect(try readWholeFile(s3.pool.path(name)) == bytes, "\(name) after kill \(iteration)") }
        }
        #expect(try s3.pool.estuary(["jobs", "watch", s3.pool.mountpoint]).status == 0)
        let keys = try s3.keys()
        for (name, bytes) in model {
            #expect(try readWholeFile(s3.pool.path(name)) == bytes)
            #expect(places(s3, name, keys: keys).count == 1, "\(name) is in \(places(s3, name, keys: keys))")
        }
        try s3.pool.unmount()
    }
}
