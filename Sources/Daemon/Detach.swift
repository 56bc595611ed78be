import Syscalls
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Detaching from the terminal only once the mount is up, so `estuaryfs` (and `mount`) return
/// success only for a working mount and print the real error otherwise.
///
/// Forking a process that may already run threads is unsafe, so the parent instead re-executes
/// itself as the daemon child with a pipe on fd 3, and waits for one line on it: "ok" when the
/// mount is up, or the error to print.
enum Detach {
    static let childMarker = "ESTUARY_DAEMON_CHILD"
    static let readyFD: Int32 = 3

    static var isChild: Bool { getenv(childMarker) != nil }

    /// Runs in the parent: starts the child and returns the exit status to use.
    static func spawnChildAndWait(arguments: [String]) -> Int32 {
        var pipeFDs: [Int32] = [0, 0]
        guard estuary_pipe_cloexec(&pipeFDs) == 0 else { return fail("cannot create a pipe: \(Errno.current)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], readyFD)
        // Descriptors the caller leaked to us (a pipe a supervisor reads to its end, say) must not
        // live on in the daemon, or that reader would wait for as long as the mount stays up.
        _ = estuary_spawn_closefrom(&actions, readyFD + 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, ESTUARY_POSIX_SPAWN_SETSID)
        var environment = ProcessEnvironment.current().filter { !$0.hasPrefix(childMarker + "=") }
        environment.append("\(childMarker)=1")
        let argv = ["estuaryfs"] + arguments
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid = pid_t()
        // The kernel names a process after the file it executes: through /proc/self/exe every
        // daemon would be "exe" to pgrep, pidof, top and systemd. So the binary's own path is
        // run, and /proc/self/exe only when that path is gone (replaced by an upgrade, say).
        var rc = ENOENT
        if let path = executablePath() { rc = posix_spawn(&pid, path, &actions, &attributes, &cArgv, &cEnv) }
        if rc == ENOENT || rc == EACCES { rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, &cArgv, &cEnv) }
        close(pipeFDs[1])
        guard rc == 0 else { close(pipeFDs[0]); return fail("cannot start the daemon: \(Errno(rawValue: rc))") }
        let message = (try? Sys.readAll(pipeFDs[0], limit: 65536)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        close(pipeFDs[0])
        if message.hasPrefix("ok") { return 0 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        if message.isEmpty { return fail("the daemon exited before the mount was up (status \(status)); see the pool's estuaryfs.log") }
        writeStderr(message.hasSuffix("\n") ? message : message + "\n")
        return 1
    }

    /// The path /proc/self/exe points to, when it still names the running binary.
    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? nil : path
    }

    /// In a child started through /proc/self/exe: takes the name "estuaryfs" instead of "exe".
    /// Runs before any thread starts, as threads take their name from the thread creating them.
    static func nameProcess() {
        guard isChild else { return }
        let fd = open("/proc/self/comm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var current = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &current, current.count)
        guard n > 0, String(decoding: current.prefix(n), as: UTF8.self) == "exe\n" else { return }
        _ = pwrite(fd, "estuaryfs", 9, 0)
    }

    /// Runs in the child once the mount is up: tells the parent and lets go of the terminal.
    static func signalReady() {
        guard isChild else { return }
        _ = "ok\n".withCString { write(readyFD, $0, 3) }
        close(readyFD)
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2); if null > 2 { close(null) } }
        _ = chdir("/")
    }

    /// Reports a startup failure: to the waiting parent when detaching, to stderr otherwise.
    static func reportFailure(_ message: String) {
        let line = message.hasSuffix("\n") ? message : message + "\n"
        if isChild {
            _ = line.withCString { write(readyFD, $0, strlen($0)) }
        } else {
            writeStderr(line)
        }
    }

    private static func fail(_ message: String) -> Int32 {
        writeStderr("estuaryfs: \(message)\n")
        return 1
    }
}

func writeStderr(_ text: String) {
    _ = text.withCString { write(2, $0, strlen($0)) }
}

enum ProcessEnvironment {
    static func current() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }
}
