import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A pool over temporary silos, mounted by the real `estuaryfs` binary in the foreground, for
/// one test. Kernel caches keep the defaults users get (long timeouts, with the daemon
/// invalidating what changes behind the kernel), so every test also checks that the kernel's
/// cached view stays true.
final class TestPool {
    let root: String
    let silos: [(name: String, tier: String)]
    let mountpoint: String
    let configPath: String
    /// The PostgreSQL database keeping the index (`engine: .postgresql`), nil for SQLite.
    let database: String?
    private var daemon: Process?
    private var logPipe: Pipe?

    /// `watch: false` turns live assimilation off in every silo, for tests of what a scan finds.
    /// `engine: .postgresql` keeps the index in a fresh database on the test process's
    /// throwaway PostgreSQL server (`[pool] index`).
    init(silos: [(name: String, tier: String)] = [("fast0", "fast"), ("bulk0", "bulk"), ("bulk1", "bulk")],
         extraConfig: String = "", watch: Bool = true, engine: TestEngine = .sqlite, server: PostgresServer? = nil) throws {
        let id = UUID().uuidString.prefix(8)
        root = NSTemporaryDirectory() + "estuary-test-" + id
        self.silos = silos
        var indexLine = ""
        if engine == .postgresql {
            let server = try server ?? PostgresServer.get()
            let name = "pool_" + id.lowercased()
            try server.ensureDatabase(name)
            database = name
            indexLine = "index = \"\(server.uri(name))\"\n"
        } else {
            database = nil
        }
        mountpoint = root + "/mnt"
        configPath = root + "/pool.toml"
        let fm = FileManager.default
        try fm.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        var toml = """
        [pool]
        name = "test"
        state_dir = "\(root)/state"
        \(indexLine)\(extraConfig)

        """
        for silo in silos {
            try fm.createDirectory(atPath: siloPath(silo.name), withIntermediateDirectories: true)
            toml += "[[silo]]\nname = \"\(silo.name)\"\npath = \"\(siloPath(silo.name))\"\ntier = \"\(silo.tier)\"\n\(watch ? "" : "watch = false\n")\n"
        }
        try toml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func siloPath(_ name: String) -> String { root + "/silos/" + name }
    func path(_ relative: String) -> String { mountpoint + "/" + relative }

    /// Starts the daemon in the foreground and waits until the mount is up (answers stat).
    /// `environment` is added to the test process's for the daemon (test knobs).
    func mount(options: [String] = [], environment: [String: String] = [:]) throws {
        var pipe = Pipe()
        let process = try Shell.launch {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Shell.estuaryfs)
            process.arguments = [configPath, mountpoint, "-f"] + options
            if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = FileHandle.nullDevice
            return process
        }
        daemon = process
        logPipe = pipe
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            // statvfs reaches the daemon: a dead mount left by a killed one fails it (ENOTCONN).
            var s = stat(), fs = statvfs()
            if isMounted && statvfs(mountpoint, &fs) == 0 && stat(mountpoint, &s) == 0 && s.st_ino == 1 { return }
            if !process.isRunning {
                let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw TestFailure("estuaryfs exited with \(process.terminationStatus): \(log)")
            }
            usleep(20_000)
        }
        throw TestFailure("mount did not come up in 60 s")
    }

    var isMounted: Bool {
        let mounts = procText("/proc/self/mounts") ?? ""
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == mountpoint }
    }

    var daemonPid: Int32? { daemon?.processIdentifier }

    /// After a test killed the daemon: reap it, leaving its dead mount in place.
    func forgetKilledDaemon() {
        daemon?.waitUntilExit()
        daemon = nil
    }

    /// Unmounts as a user would (`fusermount3 -u`) and waits for the daemon to exit cleanly.
    @discardableResult
    func unmount() throws -> Int32 {
        guard let process = daemon else { return 0 }
        var tries = 0
        while isMounted && tries < 50 {
            try Shell.run("/bin/fusermount3", ["-u", mountpoint])
            if isMounted { usleep(100_000) }
            tries += 1
        }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate(); throw TestFailure("daemon did not exit after unmount") }
        daemon = nil
        let log = logPipe?.fileHandleForReading.readDataToEndOfFile() ?? Data()
        // ESTUARY_TEST_LOGS=DIR keeps each daemon's log, for chasing a failure.
        if let dir = ProcessInfo.processInfo.environment["ESTUARY_TEST_LOGS"] {
            try? log.write(to: URL(fileURLWithPath: dir + "/estuaryfs-\(process.processIdentifier).log"))
        }
        return process.terminationStatus
    }

    func estuary(_ arguments: [String]) throws -> Shell.Result { try Shell.run(Shell.estuary, arguments) }

    deinit {
        if isMounted { _ = try? Shell.run("/bin/fusermount3", ["-uz", mountpoint]) }
        if let daemon, daemon.isRunning { daemon.terminate() }
        _ = try? Shell.run("/bin/rm", ["-rf", root])
    }
}

/// Which engine keeps a test pool's index; suites parameterised over both take `allCases`.
enum TestEngine: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite, postgresql
    var description: String { rawValue }
}
