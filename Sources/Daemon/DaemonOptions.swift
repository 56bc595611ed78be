import Config

/// The command line of `estuaryfs`, in the calling convention of mount.fuse3:
/// `estuaryfs SOURCE MOUNTPOINT [-o opt,opt...] [-f] [-d]`.
struct DaemonOptions: Equatable {
    var source = ""
    var mountpoint = ""
    var foreground = false
    var debug = false
    var fuseOptions: [String] = []
    var entryTimeout: Double?
    var attrTimeout: Double?
    var negativeTimeout: Double?
    var threads = 16
    var ring = RingMode.auto
    var scanOnMount = true
    /// `-o ro`: besides the kernel refusing writes through the mount, the daemon writes nothing
    /// to any silo (no moves, no markers, no reconcile).
    var readOnly = false
    /// `-o default_permissions`: the kernel checks permissions (one GETATTR more per change in
    /// a directory) instead of the daemon (PermissionChecks.swift).
    var kernelChecksPermissions = false
    var logLevel = "info"
    var showHelp = false
    var showVersion = false
    /// `-o metrics=HOST:PORT`: serve Prometheus metrics there (overrides `[pool] metrics`).
    var metrics: String?
    /// `-o index=URI`: the pool's index in that PostgreSQL database (overrides `[pool] index`).
    var index: String?

    static let usage = """
    usage: estuaryfs SOURCE MOUNTPOINT [-o OPTIONS] [-f] [-d]

    SOURCE is a pool config (TOML file) or a zero-config spec /a=fast:/b=bulk:/c.

    options:
      -f                     stay in the foreground (logs to stderr)
      -d                     foreground with FUSE request debugging
      -o entry_timeout=SEC   kernel name cache timeout (default from the pool config, 60)
      -o attr_timeout=SEC    kernel attribute cache timeout (default from the pool config, 60)
      -o negative_timeout=SEC  kernel cache timeout of absent names (default from the pool config, 60)
      -o threads=N           maximum FUSE worker threads (default 16)
      -o io_uring=MODE       auto: serve requests through io_uring on the caller's CPU when the
                             kernel has it (default); off: /dev/fuse only
      -o noscan              do not scan new silos before mounting
      -o log_level=LEVEL     trace, debug, info, notice, warning, error
      -o metrics=HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics (PORT alone:
                             127.0.0.1; default from the pool config; off: not served)
      -o index=URI           keep the index in PostgreSQL: postgresql://USER@HOST:PORT/DB?sslmode=...
                             (default from the pool config; the password from ~/.pgpass)
      -o ro                  read-only: nothing is written to any silo (no moves, no markers)
      -o allow_other, ...    passed to the kernel as for any FUSE file system
    """

    /// Mount-helper options that mean something to mount(8) or systemd, never to the kernel.
    static let helperOnly: Set<String> = ["defaults", "auto", "noauto", "user", "nouser", "users", "_netdev", "nofail",
                                          "owner", "group", "comment", "sw", "rw"]

    struct UsageError: Error, CustomStringConvertible { var description: String }

    static func parse(_ arguments: [String]) throws(UsageError) -> DaemonOptions {
        var options = DaemonOptions()
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            switch arg {
            case "-h", "--help": options.showHelp = true
            case "-V", "--version": options.showVersion = true
            case "-f": options.foreground = true
            case "-d", "-odebug": options.debug = true; options.foreground = true
            case "-s": options.threads = 1
            case "-o":
                i += 1
                guard i < arguments.count else { throw UsageError(description: "-o needs an option list") }
                try options.apply(optionList: arguments[i])
            default:
                if arg.hasPrefix("-o") { try options.apply(optionList: String(arg.dropFirst(2))) }
                else if arg.hasPrefix("-") && arg.count > 1 { throw UsageError(description: "unknown flag \(arg)") }
                else { positional.append(arg) }
            }
            i += 1
        }
        if options.showHelp || options.showVersion { return options }
        guard positional.count == 2 else {
            throw UsageError(description: positional.count < 2 ? "SOURCE and MOUNTPOINT are required" : "unexpected argument \(positional[2])")
        }
        options.source = positional[0]
        options.mountpoint = positional[1]
        return options
    }

    private mutating func apply(optionList: String) throws(UsageError) {
        for option in optionList.split(separator: ",").map(String.init) where !option.isEmpty {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0], value = parts.count > 1 ? parts[1] : nil
            func seconds() throws(UsageError) -> Double {
                guard let value, let v = Double(value), v >= 0, v <= 86_400 else {
                    throw UsageError(description: "option \(key) needs a number of seconds between 0 and 86400, not '\(value ?? "")'")
                }
                return v
            }
            switch key {
            case "entry_timeout": entryTimeout = try seconds()
            case "attr_timeout": attrTimeout = try seconds()
            case "negative_timeout": negativeTimeout = try seconds()
            case "threads":
                guard let value, let n = Int(value), (1...256).contains(n) else {
                    throw UsageError(description: "option threads needs a number between 1 and 256")
                }
                threads = n
            case "noscan": scanOnMount = false
            case "io_uring":
                guard let value, let mode = RingMode(rawValue: value) else {
                    throw UsageError(description: "option io_uring must be auto or off, not '\(value ?? "")'")
                }
                ring = mode
            case "log_level":
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard let value, levels.contains(value) else {
                    throw UsageError(description: "option log_level must be one of \(levels.joined(separator: ", "))")
                }
                logLevel = value
            case "metrics":
                guard let value, !value.isEmpty else { throw UsageError(description: "option metrics needs HOST:PORT, like 127.0.0.1:9567") }
                metrics = value
            case "index":
                // The value may carry a password: the error never quotes it.
                guard let value else { throw UsageError(description: "option index needs a URI, like postgresql://estuary@db:5432/pool") }
                if let problem = IndexLocation.problem(value) { throw UsageError(description: "option index \(problem)") }
                index = value
            case "debug": debug = true; foreground = true
            case "ro": readOnly = true; fuseOptions.removeAll { $0 == "ro" }; fuseOptions.append("ro")
            case "rw": readOnly = false; fuseOptions.removeAll { $0 == "ro" }
            case "default_permissions": kernelChecksPermissions = true
            case "subtype", "fsname": break   // always set by estuaryfs itself
            default:
                if DaemonOptions.helperOnly.contains(key) || key.hasPrefix("x-") || key.hasPrefix("comment=") { continue }
                fuseOptions.append(option)
            }
        }
    }
}
