import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go: stderr until the daemon detaches, then the pool's log file.
final class LogSink: Sendable {
    static let shared = LogSink()
    private let fd = Mutex<Int32>(2)
    /// While a detaching daemon starts, warnings also go to the terminal that started it.
    private let warningsToStderr = Atomic<Bool>(false)

    func mirrorWarningsToStderr(_ on: Bool) { warningsToStderr.store(on, ordering: .relaxed) }

    /// Lines go to the pool's log file rather than to stderr.
    var writesToFile: Bool { fd.withLock { $0 } != 2 }

    func write(_ line: String, level: Logger.Level) {
        write(line)
        if level >= .warning && warningsToStderr.load(ordering: .relaxed) && fd.withLock({ $0 }) != 2 {
            writeStderr(line + "\n")
        }
    }

    func redirect(toFile path: String) {
        let newFD = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard newFD >= 0 else { return }
        let old = fd.withLock { current -> Int32 in let o = current; current = newFD; return o }
        if old > 2 { close(old) }
    }

    private let dropped = Atomic<Int>(0)

    /// One write per line, so lines from concurrent threads do not interleave. A reader that
    /// stops reading (a full pipe on stderr) must never stall the file system: lines that
    /// cannot be written at once are dropped and counted.
    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        fd.withLock { fd in
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLOUT) != 0 else {
                dropped.wrappingAdd(1, ordering: .relaxed)
                return
            }
            let lost = dropped.exchange(0, ordering: .relaxed)
            if lost > 0 {
                let note = Array("(\(lost) log lines dropped: the log reader was not keeping up)\n".utf8)
                _ = note.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
            }
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        }
    }
}

/// A plain line-per-record log handler writing to the shared sink.
struct SinkLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let level = event.level, message = event.message
        let details = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        LogSink.shared.write("\(timestamp()) \(level) \(label): \(message)\(details)", level: level)
    }

    private func timestamp() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}

enum LogSetup {
    /// The one place logging is bootstrapped, for the daemon process.
    static func bootstrap(level: String) {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in SinkLogHandler(label: label, logLevel: parsed) }
    }
}
