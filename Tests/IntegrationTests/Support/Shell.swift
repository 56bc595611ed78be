import Foundation

/// Runs programs for the tests: the built estuary binaries and ordinary tools.
enum Shell {
    /// Directory holding the built executables: beside the test bundle.
    static let binDirectory: String = {
        if let env = ProcessInfo.processInfo.environment["ESTUARY_BIN_DIR"] { return env }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("estuaryfs").path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }()

    static var estuaryfs: String { binDirectory + "/estuaryfs" }
    static var estuary: String { binDirectory + "/estuary" }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutBytes: [UInt8] = []
        var output: String { stdout + stderr }
    }

    @discardableResult
    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        var out = Pipe(), err = Pipe()
        let process = try launch {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
            process.environment = env
            out = Pipe(); err = Pipe()
            process.standardOutput = out
            process.standardError = err
            return process
        }
        let (stdout, stderr) = (out, err)
        // Drain both pipes while waiting so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter(); DispatchQueue.global().async { outData = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData = stderr.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate(); throw TestFailure("\(program) \(arguments) timed out") }
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), stdoutBytes: Array(outData))
    }

    /// Starts the process `make` returns, with a fresh one for each of up to five tries. A spawn
    /// in this many-threaded test process fails now and then (CI saw "Bad file descriptor" once
    /// in a few thousand launches; Foundation reports a stale errno there, so the cause is not
    /// known); nothing started then, so trying again is safe. A program that is not there fails
    /// at once.
    static func launch(_ make: () -> Process) throws -> Process {
        for attempt in 1... {
            let process = make()
            do {
                try process.run()
                return process
            } catch {
                guard attempt < 5, let url = process.executableURL, access(url.path, X_OK) == 0 else { throw error }
                usleep(UInt32(attempt) * 50_000)
            }
        }
        fatalError("unreachable")
    }

    /// Runs a shell command line.
    @discardableResult
    static func sh(_ command: String, timeout: Double = 120) throws -> Result {
        try run("/bin/sh", ["-c", command], timeout: timeout)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
