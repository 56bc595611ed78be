import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Once the INIT reply asked for io_uring, the kernel holds every request until each queue has
/// registered. A queue that cannot register must not hang the mount: the daemon tells the
/// kernel to give io_uring up, and requests go through /dev/fuse. (The fault is injected with
/// ESTUARY_TEST_RING_FAULT: queue 0's entries fail as an io_uring_enter failure would, before
/// their registration reaches the kernel.)
@Suite(.serialized)
struct RingFallbackTests {
    private static let kernelHasRing = access("/sys/module/fuse/parameters/enable_uring", F_OK) == 0

    @Test func aQueueThatCannotRegisterFallsBackToDevFuse() throws {
        try #require(Self.kernelHasRing, "this kernel has no FUSE over io_uring")
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/hello.txt", "hello")
        let start = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-o", "io_uring=auto"],
                                  environment: ["ESTUARY_TEST_RING_FAULT": "register-queue-0"])
        try #require(start.status == 0, "\(start.output)")
        defer { _ = try? Shell.run("/bin/fusermount3", ["-u", pool.mountpoint]) }
        // In a child, with a bound: a hung mount would block this read for good.
        let read = try Shell.run("/bin/cat", [pool.path("hello.txt")], timeout: 60)
        #expect(read.status == 0 && read.stdout == "hello", "\(read.output)")
        try Fixtures.write(pool.path("written.txt"), "written")
        #expect(try String(contentsOfFile: pool.siloPath("fast0") + "/written.txt", encoding: .utf8) == "written")
        let status = try pool.estuary(["status", pool.mountpoint, "--json"])
        #expect(status.stdout.contains("io_uring failed: given up after INIT"), "\(status.output)")
    }
}
