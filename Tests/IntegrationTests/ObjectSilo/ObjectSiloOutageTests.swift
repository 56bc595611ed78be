import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The S3 server going away under load: the bucket silo goes offline with the reason, its
/// files give EIO, the local silos keep serving, and when the server is back the silo comes
/// back by itself.
@Suite(.serialized)
struct ObjectSiloOutageTests {
    /// Polls `condition` for up to a minute (a bound on waiting, not a measured time).
    private func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<600 {
            if try condition() { return true }
            usleep(100_000)
        }
        return false
    }

    @Test func serverStoppedAndRestartedUnderLoad() throws {
        let server = try SeaweedServer.dedicated()
        defer { server.stop() }
        let s3 = try ObjectSiloPool(server: server)
        let cold = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try s3.put(["cold.bin": cold])
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        let local = Array("local data\n".utf8)
        try Data(local).write(to: URL(fileURLWithPath: s3.pool.path("local.txt")))

        // Load: a reader of the local file throughout.
        let stopLoad = LockedFlag()
        let failures = LockedCounter()
        let localPath = s3.pool.path("local.txt")
        let loader = Thread {
            while !stopLoad.value {
                let fd = open(localPath, O_RDONLY)
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = fd < 0 ? -1 : read(fd, &buffer, 64)
                if fd >= 0 { close(fd) }
                if n != local.count || Array(buffer[0..<local.count]) != local { failures.increment() }
                usleep(2_000)
            }
        }
        loader.start()
        defer { stopLoad.set() }

        server.halt()
        #expect(throws: (any Error).self) { try readWholeFile(s3.pool.path("cold.bin")) }
        #expect(try eventually {
            let status = try s3.pool.estuary(["status", s3.pool.mountpoint])
            return status.output.contains("offline") && status.output.contains("unreachable")
        })
        try server.launch()
        #expect(try eventually { (try? readWholeFile(s3.pool.path("cold.bin"))) == cold })
        #expect(try eventually { !(try s3.pool.estuary(["status", s3.pool.mountpoint]).output.contains("unreachable")) })
        stopLoad.set()
        while !loader.isFinished { usleep(10_000) }
        #expect(failures.value == 0)
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
    func set() { lock.lock(); flag = true; lock.unlock() }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func increment() { lock.lock(); count += 1; lock.unlock() }
}
