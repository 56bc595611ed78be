/// Where a pool keeps index.db, control.sock and logs when the
/// configuration does not say.
extension PoolConfigLoader {
    /// Root: /var/lib/estuary/NAME. Others: $XDG_STATE_HOME/estuary/NAME,
    /// else $HOME/.local/state/estuary/NAME. ESTUARY_STATE_ROOT, when set,
    /// replaces the ".../estuary" part in both cases (tests rely on it).
    /// Errors carry "<environment>" as their file; loaders put the source there.
    public static func defaultStateDirectory(
        poolName: String, environment: [String: String], isRoot: Bool
    ) throws(ConfigError) -> String {
        let path = ConfigPath.joined(try stateRoot(environment: environment, isRoot: isRoot), poolName)
        do {
            return try ConfigPath.normalised(path)
        } catch {
            throw environmentError("the default state directory '\(path)' \(ConfigPath.explain(error))")
        }
    }

    private static func stateRoot(environment: [String: String], isRoot: Bool) throws(ConfigError) -> String {
        if let root = environment["ESTUARY_STATE_ROOT"], !root.isEmpty {
            guard root.hasPrefix("/") else {
                throw environmentError("ESTUARY_STATE_ROOT must be an absolute path, not '\(root)'")
            }
            return root
        }
        if isRoot { return "/var/lib/estuary" }
        // The XDG spec says relative values are invalid and must be ignored.
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return ConfigPath.joined(xdg, "estuary")
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return ConfigPath.joined(home, ".local", "state", "estuary")
        }
        throw environmentError(
            "cannot choose a state directory: set HOME or XDG_STATE_HOME to an absolute path, or set [pool] state_dir")
    }

    private static func environmentError(_ message: String) -> ConfigError {
        ConfigError(file: "<environment>", message: message)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A pool's state directory holds the index (every name and tag in the pool, also those inside
/// directories other users cannot open), the control socket and the log: it is private to the
/// daemon's user, whatever the umask and whoever made the directory first.
public enum StateDirectory {
    /// Why the directory could not be made private.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Sets `path` (an existing directory) to 0700 and takes the group
    /// and other bits off every file directly in it: a pool made before files were created
    /// private, or a directory the administrator created 0755, is tightened when it is opened.
    public static func makePrivate(_ path: String) throws(Problem) {
        var s = stat()
        guard stat(path, &s) == 0 else { throw Problem(description: "cannot stat state directory \(path): \(String(cString: strerror(errno)))") }
        guard s.st_mode & S_IFMT == S_IFDIR else { throw Problem(description: "state directory \(path) is not a directory") }
        if s.st_mode & 0o7777 != 0o700, chmod(path, 0o700) != 0 {
            throw Problem(description: "cannot make state directory \(path) private (mode 0700): \(String(cString: strerror(errno)))")
        }
        let dirFD = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0, let dir = fdopendir(dirFD) else {
            throw Problem(description: "cannot list state directory \(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            var f = stat()
            // Symlinks are left alone: chmod would follow them out of the directory.
            guard fstatat(dirFD, name, &f, AT_SYMLINK_NOFOLLOW) == 0, f.st_mode & S_IFMT != S_IFLNK,
                  f.st_mode & 0o077 != 0 else { continue }
            if fchmodat(dirFD, name, f.st_mode & 0o7700, 0) != 0 {
                throw Problem(description: "cannot make \(path)/\(name) private: \(String(cString: strerror(errno)))")
            }
        }
    }
}
