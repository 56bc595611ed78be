import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Type=notify: the daemon tells systemd READY=1 only once the mount answers, pets the
/// watchdog while it serves, and says STOPPING=1 on the way out. The test stands in for systemd
/// with a datagram socket of its own.
@Suite(.serialized)
struct SystemdNotifyTests {
    /// A bound AF_UNIX datagram socket that collects notifications.
    final class FakeSystemd {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (i, byte) in path.utf8.enumerated() { buffer[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard fd >= 0, bound == 0 else { throw TestFailure("cannot bind \(path)") }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        /// The next notification, or nil when none came within 200 ms.
        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
        }

        /// Waits up to `seconds` for a notification containing `line`; returns it.
        func await(_ line: String, seconds: Double, onEach: (String) -> Void = { _ in }) -> String? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let message = receive() {
                    onEach(message)
                    if message.split(separator: "\n").contains(Substring(line)) { return message }
                }
            }
            return nil
        }

        deinit { close(fd); unlink(path) }
    }

    @Test func readyAfterTheMountAnswersWatchdogWhileServingStoppingOnUnmount() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/hello.txt", "hi")
        let systemd = try FakeSystemd(path: pool.root + "/notify.sock")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: Shell.estuaryfs)
        daemon.arguments = [pool.configPath, pool.mountpoint, "-f"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = systemd.path
        environment["WATCHDOG_USEC"] = "400000"
        daemon.environment = environment
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate() } }

        // Every notification before READY must come while the mount is not yet served.
        var early: [String] = []
        let ready = systemd.await("READY=1", seconds: 60) { message in
            if !message.contains("READY=1") { early.append(message) }
        }
        let readyMessage = try #require(ready, "no READY=1 from the daemon")
        // At READY the mount is up and answers: the root is inode 1, the file is there.
        var s = stat()
        #expect(pool.isMounted)
        #expect(stat(pool.mountpoint, &s) == 0 && s.st_ino == 1)
        #expect(try String(contentsOfFile: pool.path("hello.txt"), encoding: .utf8) == "hi")
        #expect(readyMessage.contains("MAINPID=\(daemon.processIdentifier)"), "\(readyMessage)")
        #expect(early.isEmpty, "notifications before READY: \(early)")

        // WATCHDOG_USEC=400 ms: a pet every 200 ms while the mount serves.
        var pets = 0
        _ = systemd.await("never", seconds: 2) { message in if message == "WATCHDOG=1" { pets += 1 } }
        #expect(pets >= 2, "watchdog pets in 2 s: \(pets)")

        // As TestPool.unmount: a process another test forks at that instant can hold the mount
        // busy for a moment, and a refused unmount sends nothing.
        var unmount = try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
        for _ in 0..<50 where pool.isMounted {
            usleep(100_000)
            unmount = try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
        }
        #expect(!pool.isMounted, "still mounted: \(unmount.output)")
        let stopping = systemd.await("STOPPING=1", seconds: 20)
        #expect(stopping != nil, "no STOPPING=1 after unmount")
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    @Test func noNotifySocketMeansNoNotifications() throws {
        // Outside systemd nothing is sent and the mount works as always (the other suites
        // mount without NOTIFY_SOCKET); a NOTIFY_SOCKET naming nothing must not stop the mount.
        let pool = try TestPool()
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: Shell.estuaryfs)
        daemon.arguments = [pool.configPath, pool.mountpoint, "-f"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = pool.root + "/nobody-listens.sock"
        daemon.environment = environment
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate() } }
        #expect(Observe.waitFor(60) { var s = stat(); return pool.isMounted && stat(pool.mountpoint, &s) == 0 && s.st_ino == 1 })
        try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }
}
