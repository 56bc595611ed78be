import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for the metrics, `estuary top`, systemd and packaging tests.
enum Observe {
    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("bind to port 0 failed") }
        return UInt16(bigEndian: sin.sin_port)
    }

    /// GETs a URL with curl; nil when the server does not answer.
    static func get(_ url: String) -> String? {
        guard let result = try? Shell.run("/usr/bin/curl", ["-sf", "--max-time", "10", url], timeout: 20), result.status == 0 else { return nil }
        return result.stdout
    }

    /// Finds a Debian package's program, installing the package when it is missing; nil (with
    /// the reason printed) when it cannot be had, so the caller can skip.
    static func program(_ path: String, package: String) -> String? {
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        _ = try? Shell.sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \(package) >/dev/null 2>&1", timeout: 600)
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        print("skipped: \(path) is missing and the Debian package '\(package)' could not be installed")
        return nil
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass; the last value it saw.
    @discardableResult
    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try condition() { return true }
            usleep(100_000)
        } while Date() < deadline
        return try condition()
    }

    /// The value of the first sample of `name` (with every label in `labels`) in exposition text.
    static func sample(_ text: String, _ name: String, _ labels: [String] = []) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " ") else { continue }
            guard labels.allSatisfy({ line.contains($0) }) else { continue }
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    /// How many TCP sockets process `pid` listens on (its descriptors against /proc/net/tcp).
    static func listeningTCPSockets(of pid: Int32) throws -> Int {
        let fdDirectory = "/proc/\(pid)/fd"
        var inodes: Set<String> = []
        for fd in try FileManager.default.contentsOfDirectory(atPath: fdDirectory) {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDirectory + "/" + fd),
               target.hasPrefix("socket:[") { inodes.insert(String(target.dropFirst(8).dropLast())) }
        }
        let table = (procText("/proc/net/tcp") ?? "") + (procText("/proc/net/tcp6") ?? "")
        return table.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 9 && fields[3] == "0A" && inodes.contains(String(fields[9]))   // 0A: LISTEN
        }.count
    }

    /// Runs a program with /dev/null for its standard streams and waits for it (waitpid), for
    /// programs that leave a daemon behind (tmux).
    static func spawnAndWait(_ argv: [String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
        var pid: pid_t = 0
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(argv[0]): \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }
}
