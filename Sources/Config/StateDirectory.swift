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
