import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `umount M && mount M`, as fstab, `systemctl restart` and scripts do it: the new mount must
/// not trip over the daemon that is still finishing the old one.
@Suite(.serialized)
struct RemountTests {
    /// Blocks until no process holds the pool's lock (the last daemon has exited).
    private func waitForLockFree(_ pool: TestPool) {
        let fd = open(pool.root + "/state/lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = flock(fd, LOCK_EX)
        close(fd)
    }

    @Test(arguments: ["auto", "off"])
    func unmountThenMountAtOnceSucceedsEveryTime(ring: String) throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/kept.txt", "kept")
        defer { waitForLockFree(pool) }
        for cycle in 1...15 {
            // The background form mount(8) runs: it returns once the mount is up.
            let start = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-o", "io_uring=\(ring)"])
            try #require(start.status == 0, "mount \(cycle) after an unmount failed: \(start.output)")
            try Fixtures.write(pool.path("cycle\(cycle).txt"), "\(cycle)")
            #expect(try String(contentsOfFile: pool.path("kept.txt"), encoding: .utf8) == "kept")
            // EBUSY here means a process holds a file of the mount: another test's child between
            // fork and exec keeps copies of this process's descriptors (seen once in CI under
            // load). It passes; what is tested is the mount that follows.
            var stop = try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
            for _ in 0..<50 where stop.status != 0 && stop.output.contains("busy") {
                usleep(100_000)
                stop = try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
            }
            try #require(stop.status == 0, "unmount \(cycle): \(stop.output)")
        }
        // What each short-lived mount wrote reached its silo and the next mount's index.
        waitForLockFree(pool)
        try pool.mount()
        for cycle in 1...15 {
            #expect(try String(contentsOfFile: pool.path("cycle\(cycle).txt"), encoding: .utf8) == "\(cycle)")
        }
        #expect(try pool.unmount() == 0)
    }

    /// A mount that finds the pool held by a daemon whose mount is gone waits for it and says
    /// so, naming the process. (The holder here is a shell that declares itself stopping; it lets
    /// go once the message has been seen.)
    @Test func aMountWaitingForAStoppingDaemonSaysSoAndThenMounts() throws {
        let pool = try TestPool()
        try FileManager.default.createDirectory(atPath: pool.root + "/state", withIntermediateDirectories: true)
        let lock = pool.root + "/state/lock"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec 9>>'\(lock)'; flock 9; printf '%s stopping\\n' $$ > '\(lock)'; echo held; exec sleep 600"]
        let held = Pipe()
        holder.standardOutput = held
        try holder.run()
        defer { if holder.isRunning { holder.terminate() } }
        #expect(held.fileHandleForReading.readLine() == "held")

        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: Shell.estuaryfs)
        mount.arguments = [pool.configPath, pool.mountpoint]
        let errors = Pipe()
        mount.standardError = errors
        mount.standardOutput = FileHandle.nullDevice
        try mount.run()
        let line = errors.fileHandleForReading.readLine() ?? ""
        #expect(line.contains("waiting for process \(holder.processIdentifier) to finish stopping"), "\(line)")
        holder.terminate()
        holder.waitUntilExit()
        mount.waitUntilExit()
        #expect(mount.terminationStatus == 0)
        #expect(pool.isMounted)
        try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
        waitForLockFree(pool)
    }

    /// A pool held by a process that is not stopping (a mounted daemon, a scan) is refused at
    /// once, as before.
    @Test func aPoolInUseIsRefusedAtOnce() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-remount-\(getpid())").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        defer { rmdir(other) }
        let second = try Shell.run(Shell.estuaryfs, [pool.configPath, other])
        #expect(second.status == 1)
        #expect(second.stderr.contains("already mounted or being scanned by process \(pool.daemonPid ?? -1)"), "\(second.stderr)")
    }
}

extension FileHandle {
    /// One line, without its newline; nil at end of file.
    func readLine() -> String? {
        var bytes: [UInt8] = []
        while true {
            let byte = readData(ofLength: 1)
            if byte.isEmpty { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte[0] == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte[0])
        }
    }
}
