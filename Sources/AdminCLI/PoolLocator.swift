import Config
import ControlProtocol
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Turns the POOL argument into a configuration and, if the daemon runs, a control connection.
enum PoolLocator {
    static func config(for argument: String) throws -> PoolConfig {
        let source = try source(for: argument)
        do { return try PoolConfigLoader.load(source: source) } catch { throw CommandFailure("\(error)") }
    }

    static func source(for argument: String) throws -> String {
        if let stat = try? Sys.statPath(argument), stat.isDirectory, let resolved = realPath(argument),
           let mounted = mountedSource(resolved) { return mounted }
        let named = "/etc/estuary/\(argument).toml"
        if !argument.contains("/") && !argument.contains(":") && (try? Sys.statPath(named)) != nil { return named }
        return argument
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The source of the estuaryfs mount at `path`, from the mount table.
    private static func mountedSource(_ path: String) -> String? {
        guard let fd = try? Sys.open("/proc/self/mounts", flags: O_RDONLY), let data = try? Sys.readAll(fd) else { return nil }
        Sys.close(fd)
        let target = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 3, fields[2] == "fuse.estuaryfs", fields[1] == target { return String(fields[0]) }
        }
        return nil
    }

    /// The mounted pool holding `path` (a file or directory on an Estuary mount), with the
    /// path made absolute and canonical.
    static func mountedPool(containing path: String) throws -> (config: PoolConfig, path: String) {
        guard let resolved = realPath(path) else { throw CommandFailure("\(path): no such file or directory") }
        guard let fd = try? Sys.open("/proc/self/mounts", flags: O_RDONLY), let data = try? Sys.readAll(fd) else {
            throw CommandFailure("cannot read the mount table")
        }
        Sys.close(fd)
        var best: (mountpoint: String, source: String)?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[2] == "fuse.estuaryfs" else { continue }
            let mountpoint = String(fields[1])
            if resolved == mountpoint || resolved.hasPrefix(mountpoint == "/" ? "/" : mountpoint + "/") {
                if best == nil || mountpoint.count > best!.mountpoint.count { best = (mountpoint, String(fields[0])) }
            }
        }
        guard let best else { throw CommandFailure("\(path) is not on a mounted Estuary pool") }
        return (try config(for: best.source), resolved)
    }

    /// Opens the pool in this process, holding its lock until `body` returns; for a pool no
    /// daemon serves.
    static func withOfflinePool<R>(_ config: PoolConfig, _ body: (PoolContext) throws -> R) throws -> R {
        try PoolContext.makeDirectory(PoolPaths(config).stateDirectory)
        let lock: PoolLock
        do { lock = try PoolLock(path: PoolPaths(config).lock) } catch let held as PoolLock.Held {
            throw CommandFailure("pool '\(config.name)' is held by process \(held.holder), but its control socket does not answer")
        }
        return try withExtendedLifetime(lock) { try body(try PoolContext(config: config)) }
    }

    /// The running daemon of a pool, or a clear error: these commands need it.
    static func requireDaemon(_ config: PoolConfig) throws -> LineSocket {
        guard let socket = daemon(config) else {
            throw CommandFailure("pool '\(config.name)' is not mounted (no daemon answers on \(PoolPaths(config).controlSocket))")
        }
        return socket
    }

    /// A connection to the running daemon of `config`, or nil when none answers.
    static func daemon(_ config: PoolConfig) -> LineSocket? {
        LineSocket.connect(path: PoolPaths(config).controlSocket)
    }

    /// Sends `request` and hands every reply line to `handle`; returns the final reply. A daemon
    /// busy with many clients is asked again, a few times, before giving up.
    static func call(_ socket: LineSocket, _ request: ControlRequest, progress: (ScanProgressReport) -> Void = { _ in }) throws -> ControlReply {
        var socket = socket
        for attempt in 0..<40 {
            do { return try callOnce(socket, request, progress: progress) } catch let failure as CommandFailure where failure.description.hasPrefix("too many control clients") {
                usleep(UInt32(100_000 * min(attempt + 1, 10)))
                guard let again = LineSocket.connect(path: socket.path) else { throw failure }
                socket = again
            }
        }
        return try callOnce(socket, request, progress: progress)
    }

    private static func callOnce(_ socket: LineSocket, _ request: ControlRequest, progress: (ScanProgressReport) -> Void) throws -> ControlReply {
        guard socket.send(line: ControlCoding.encode(request)) else { throw CommandFailure("the daemon closed its control socket") }
        while let line = socket.readLine() {
            let reply = try ControlCoding.decode(ControlReply.self, from: line)
            if let p = reply.progress { progress(p); continue }
            if let error = reply.error { throw CommandFailure(error) }
            return reply
        }
        throw CommandFailure("the daemon hung up before answering")
    }
}
