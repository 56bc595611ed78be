import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The answer to a COMMIT lost with the connection to PostgreSQL, through the mount: a pin
/// (`user.estuary.pin`, committed before the answer) whose COMMIT the server carried out
/// succeeds, where it used to fail with EIO; one whose COMMIT never reached the server fails
/// with EIO and leaves nothing. The knob ESTUARY_TEST_PG_LOSE_COMMIT loses the answer of the
/// one COMMIT whose transaction wrote the pin (the trigger file's second line).
@Suite(.serialized)
struct DatabaseLostCommitTests {
    private func pin(_ moment: String, timeout: Int) throws -> (rc: Int32, errno: Int32, rows: String, read: String?, triggerLeft: Bool) {
        let pool = try TestPool(silos: [("fast0", "fast")], extraConfig: "index_timeout = \(timeout)", watch: false, engine: .postgresql)
        let trigger = pool.root + "/lose-commit"
        try pool.mount(environment: ["ESTUARY_TEST_PG_LOSE_COMMIT": trigger])
        defer { _ = try? pool.unmount() }
        let fd = open(pool.path("f"), O_CREAT | O_WRONLY, 0o644)
        guard fd >= 0 else { throw TestFailure("create: \(String(cString: strerror(errno)))") }
        close(fd)
        try "\(moment)\nxattrs\n".write(toFile: trigger, atomically: true, encoding: .utf8)
        let rc = LibcExtras.lsetxattr(pool.path("f"), "user.estuary.pin", Array("fast".utf8), 0)
        let error = rc == 0 ? 0 : errno
        let triggerLeft = FileManager.default.fileExists(atPath: trigger)
        let rows = try PostgresServer.get().sql("SELECT count(*) FROM xattrs WHERE name = convert_to('user.estuary.pin', 'UTF8')",
                                                database: try #require(pool.database))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { LibcExtras.lgetxattr(pool.path("f"), "user.estuary.pin", $0.baseAddress, $0.count) }
        let read = n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        #expect(pool.daemonPid.map { kill($0, 0) == 0 } == true, "the daemon died")
        return (rc, error, rows, read, triggerLeft)
    }

    @Test func aPinWhoseCommitWasCarriedOutSucceedsThoughTheAnswerWasLost() throws {
        // No wait for the database: the answer comes from asking it once it is reachable again.
        let result = try pin("after", timeout: 0)
        #expect(!result.triggerLeft, "no COMMIT lost its answer: the test tested nothing")
        #expect(result.rc == 0, "the pin failed with \(String(cString: strerror(result.errno))) though it committed")
        #expect(result.rows == "1")
        #expect(result.read == "fast")
    }

    @Test func aPinWhoseCommitNeverArrivedFailsAndLeavesNothing() throws {
        let result = try pin("before", timeout: 0)
        #expect(!result.triggerLeft, "no COMMIT lost its answer: the test tested nothing")
        #expect(result.rc == -1 && result.errno == EIO, "rc \(result.rc), \(String(cString: strerror(result.errno)))")
        #expect(result.rows == "0", "the pin is in the index though the call failed")
        #expect(result.read == nil)
    }

    /// Known rolled back, the pin is made again within index_timeout: it succeeds, once.
    @Test func aPinWhoseCommitNeverArrivedIsMadeAgainWithinTheTimeout() throws {
        let result = try pin("before", timeout: 10)
        #expect(!result.triggerLeft, "no COMMIT lost its answer: the test tested nothing")
        #expect(result.rc == 0, "the pin failed with \(String(cString: strerror(result.errno)))")
        #expect(result.rows == "1")
        #expect(result.read == "fast")
    }
}
