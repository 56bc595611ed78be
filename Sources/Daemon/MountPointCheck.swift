import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Checks a mount point before mounting, clearing the dead mount a killed daemon leaves behind.
enum MountPointCheck {
    static func prepare(_ path: String, log: (String) -> Void) throws {
        // statvfs always reaches the file system's daemon; stat may be answered from the
        // kernel's attribute cache even after the daemon died. While the kernel is still
        // tearing down a killed daemon's io_uring queues, requests fail with ECONNABORTED, or
        // with ECANCELED when the ring entry they were given is cancelled: asked again a
        // moment later, the connection says what it is.
        var fs = statvfs()
        var rc = statvfs(path, &fs), error = errno
        for _ in 0..<100 where rc != 0 && error == ECANCELED {
            usleep(20_000)
            rc = statvfs(path, &fs); error = errno
        }
        if rc != 0 && (error == ENOTCONN || error == ECONNABORTED || error == ECANCELED) { return try detachDead(path, log: log) }
        do {
            let stat = try Sys.statPath(path)
            guard stat.isDirectory else { throw DaemonError("mount point \(path) is not a directory") }
        } catch let error as Errno {
            switch error {
            case .socketNotConnected, .connectionAbort: return try detachDead(path, log: log)
            case .noSuchFileOrDirectory: throw DaemonError("mount point \(path) does not exist")
            case .permissionDenied: throw DaemonError("mount point \(path) cannot be accessed (permission denied)")
            default: throw DaemonError("mount point \(path): \(error)")
            }
        }
        if let existing = mountedAt(path) {
            throw DaemonError("mount point \(path) is in use: \(existing.source) is already mounted there (\(existing.type))")
        }
    }

    /// A silo inside the mount point would be hidden by the mount (the daemon's own descriptors
    /// would reach through it into the pool: scans fail, creates give EROFS), and a mount point
    /// inside a silo would make the pool show itself, its own accesses to that silo walking
    /// back into the mount. Both are refused, naming the silo; paths are compared with
    /// symlinks resolved.
    static func checkSilos(_ silos: [(name: String, path: String)], mountpoint: String) throws {
        let mount = resolved(mountpoint)
        for silo in silos {
            let path = resolved(silo.path)
            if path == mount {
                throw DaemonError("silo '\(silo.name)' (\(silo.path)) is the mount point itself; mount the pool on another directory")
            }
            if isInside(path, mount) {
                throw DaemonError("silo '\(silo.name)' (\(silo.path)) is inside the mount point \(mountpoint): the mount would hide it. " +
                                  "Move the silo out of \(mountpoint), or mount the pool elsewhere")
            }
            if isInside(mount, path) {
                throw DaemonError("the mount point \(mountpoint) is inside silo '\(silo.name)' (\(silo.path)): the pool would contain itself. " +
                                  "Mount the pool on a directory outside its silos")
            }
        }
    }

    private static func isInside(_ path: String, _ directory: String) -> Bool {
        directory == "/" ? path != "/" : path.hasPrefix(directory + "/")
    }

    /// The path with symlinks resolved, or as given when it cannot be (a silo that is offline).
    private static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    /// "Transport endpoint is not connected": a FUSE daemon died; detach its mount.
    private static func detachDead(_ path: String, log: (String) -> Void) throws {
        log("mount point \(path) holds a dead FUSE mount; detaching it")
        let status = run(["/bin/fusermount3", "-uz", path])
        if status != 0 { _ = umount2(path, Int32(MNT_DETACH)) }
        var fs = statvfs()
        if statvfs(path, &fs) != 0 && errno == ENOTCONN { throw DaemonError("mount point \(path) holds a dead FUSE mount that cannot be detached") }
        return try prepare(path, log: log)
    }

    /// The mount at exactly `path`, from /proc/self/mountinfo.
    static func mountedAt(_ path: String) -> (source: String, type: String)? {
        guard let fd = try? Sys.open("/proc/self/mountinfo", flags: O_RDONLY), let data = try? Sys.readAll(fd) else { return nil }
        Sys.close(fd)
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 9, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { continue }
            if unescape(String(fields[4])) == path {
                return (unescape(String(fields[dash + 2])), String(fields[dash + 1]))
            }
        }
        return nil
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    private static func unescape(_ field: String) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count,
               let v = UInt8(String(decoding: raw[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                bytes.append(v); i += 4
            } else {
                bytes.append(raw[i]); i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func run(_ argv: [String]) -> Int32 {
        var pid = pid_t()
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        guard posix_spawn(&pid, argv[0], nil, nil, &cArgv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return status
    }
}
