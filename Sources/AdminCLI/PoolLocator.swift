import ArgumentParser
import Config
import ControlProtocol
import Foundation
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Turns the POOL argument into a configuration.
///
/// POOL is, in this order: the mount point of a mounted pool; a config file; a pool name with a
/// config in /etc/estuary/NAME.toml; a zero-config spec (`/a=fast:/b=bulk`, or one silo
/// directory). Relative paths are taken from the current directory first, so `estuary status
/// mnt2` finds the pool mounted on ./mnt2. A name that is none of these is an error: a mistyped
/// pool never becomes a new zero-config pool.
enum PoolLocator {
    /// A pool source and, for a mounted pool, the user its daemon runs as.
    struct Source {
        var text: String
        /// From the mount's `user_id=` option: the daemon's default state directory is that
        /// user's (root's /var/lib/estuary), not the caller's.
        var daemonUser: uid_t?
        /// POOL named an existing directory that is not a mount point: taken as a one-silo spec,
        /// but most likely a mount point whose pool is not mounted.
        var unmountedDirectory: String?
    }

    static func config(for argument: String) throws -> PoolConfig {
        try load(try source(for: argument))
    }

    static func load(_ source: Source) throws -> PoolConfig {
        var environment = ProcessInfo.processInfo.environment
        var isRoot = geteuid() == 0
        if let user = source.daemonUser, user != geteuid() {
            isRoot = user == 0
            environment["XDG_STATE_HOME"] = nil
            environment["HOME"] = homeDirectory(of: user)
        }
        do { return try PoolConfigLoader.load(source: source.text, environment: environment, isRoot: isRoot) }
        catch { throw CommandFailure("\(error)") }
    }

    static func source(for argument: String) throws -> Source {
        guard !argument.isEmpty else { throw ValidationError("POOL is empty: give a mount point, a config file, a pool name or a spec") }
        let status = try? Sys.statPath(argument)
        if let status, status.isDirectory {
            if let resolved = realPath(argument), let mount = EstuaryMounts.list().first(where: { $0.mountpoint == resolved }) {
                return Source(text: mount.source, daemonUser: mount.daemonUser)
            }
            return Source(text: absoluteSpec(argument), unmountedDirectory: realPath(argument) ?? argument)   // one silo directory
        }
        if status != nil || argument.hasSuffix(".toml") { return Source(text: argument) }
        let named = "/etc/estuary/\(argument).toml"
        if !argument.contains("/") && !argument.contains(":") && (try? Sys.statPath(named)) != nil { return Source(text: named) }
        if argument.contains(":") || argument.contains("=") { return Source(text: absoluteSpec(argument)) }
        let name = argument.contains("/") ? "" : ", and no pool is named so (there is no \(Format.name(named)))"
        throw CommandFailure("no pool '\(Format.text(argument))': no such file, directory or mount point\(name)")
    }

    /// The spec with each relative silo path made absolute against the current directory.
    static func absoluteSpec(_ spec: String) -> String {
        guard let cwd = FileManager.default.currentDirectoryPath.nilIfEmpty else { return spec }
        return spec.split(separator: ":", omittingEmptySubsequences: false).map { item -> String in
            guard !item.isEmpty, !item.hasPrefix("/") else { return String(item) }
            return cwd + (cwd.hasSuffix("/") ? "" : "/") + item
        }.joined(separator: ":")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func homeDirectory(of uid: uid_t) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let dir = entry.pw_dir else { return nil }
        return String(cString: dir)
    }

    /// The mounted pool holding `path` (a file or directory on an Estuary mount), with the
    /// path made absolute and canonical.
    static func mountedPool(containing path: String) throws -> (config: PoolConfig, path: String) {
        do { _ = try Sys.statPath(path) } catch { throw CommandFailure("\(Format.name(path)): \(error)") }
        guard let resolved = realPath(path) else { throw CommandFailure("\(Format.name(path)): cannot resolve the path") }
        guard let mount = EstuaryMounts.containing(resolved, in: EstuaryMounts.list()) else {
            throw CommandFailure("\(Format.name(path)) is not on a mounted Estuary pool")
        }
        return (try load(Source(text: mount.source, daemonUser: mount.daemonUser)), resolved)
    }

    /// Opens the pool in this process, holding its lock until `body` returns; for a pool no
    /// daemon serves.
    static func withOfflinePool<R>(_ config: PoolConfig, _ body: (PoolContext) throws -> R) throws -> R {
        if case .forbidden(let why) = DaemonAccess.reach(config) { throw CommandFailure(why) }
        try DaemonAccess.checkWritable(config)
        try PoolContext.makeDirectory(PoolPaths(config).stateDirectory)
        let lock: PoolLock
        do { lock = try PoolLock(path: PoolPaths(config).lock) } catch let held as PoolLock.Held {
            throw CommandFailure("pool '\(config.name)' is held by process \(held.holder), but its control socket does not answer")
        }
        return try withExtendedLifetime(lock) { try body(try PoolContext(config: config)) }
    }

    /// The running daemon of a pool, or a clear error: these commands need it.
    static func requireDaemon(_ config: PoolConfig) throws -> LineSocket {
        switch DaemonAccess.reach(config) {
        case .answering(let socket): return socket
        case .forbidden(let why): throw CommandFailure(why)
        case .absent:
            throw CommandFailure("pool '\(config.name)' is not mounted (no daemon answers on \(PoolPaths(config).controlSocket))")
        }
    }

    /// A connection to the running daemon of `config`, or nil when none answers (or this user
    /// may not talk to it: `reach` tells which).
    static func daemon(_ config: PoolConfig) -> LineSocket? {
        if case .answering(let socket) = DaemonAccess.reach(config) { return socket }
        return nil
    }
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
