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

    private static func realPath(_ path: String) -> String? {
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

    /// A connection to the running daemon of `config`, or nil when none answers.
    static func daemon(_ config: PoolConfig) -> LineSocket? {
        LineSocket.connect(path: PoolPaths(config).controlSocket)
    }

    /// Sends `request` and hands every reply line to `handle`; returns the final reply.
    static func call(_ socket: LineSocket, _ request: ControlRequest, progress: (ScanProgressReport) -> Void = { _ in }) throws -> ControlReply {
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
