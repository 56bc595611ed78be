import Logging
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.0 server for `GET /metrics`, on one blocking thread: a scrape every few
/// seconds needs no event loop, and SwiftNIO would double the daemon's build time.
public final class MetricsServer: Sendable {
    private let address: MetricsAddress
    private let exporter: MetricsExporter
    private let logger: Logger
    private let listener = Atomic<Int32>(-1)
    private let thread = Mutex<OSThread?>(nil)
    private let clients = Atomic<Int>(0)
    /// More scrapers than this at once are turned away rather than queued behind a slow one.
    private static let maxClients = 8

    public struct StartFailure: Error, CustomStringConvertible { public var description: String }

    public init(address: MetricsAddress, exporter: MetricsExporter, logger: Logger) {
        self.address = address; self.exporter = exporter; self.logger = logger
    }

    public func start() throws(StartFailure) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartFailure(description: "metrics: socket: \(Errno.current)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = address.port.bigEndian
        guard inet_pton(AF_INET, address.host, &sin.sin_addr) == 1 else {
            close(fd); throw StartFailure(description: "metrics: '\(address.host)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let error = Errno.current
            close(fd)
            throw StartFailure(description: "metrics: cannot listen on \(address): \(error)")
        }
        listener.store(fd, ordering: .releasing)
        let t = OSThread.start { [self] in serve(fd) }
        thread.withLock { $0 = t }
        logger.info("metrics at http://\(address)/metrics")
    }

    public func stop() {
        let fd = listener.exchange(-1, ordering: .acquiring)
        guard fd >= 0 else { return }
        // shutdown wakes the accept; the thread closes nothing, so the number is ours to close.
        shutdown(fd, Int32(SHUT_RDWR))
        thread.withLock { $0 }?.join()
        close(fd)
    }

    private func serve(_ fd: Int32) {
        while listener.load(ordering: .acquiring) >= 0 {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            // Each client on its own thread: one that connects and sends nothing (or reads
            // slowly) must not hold up Prometheus's scrape behind it.
            if clients.add(1, ordering: .relaxed).newValue > MetricsServer.maxClients {
                clients.subtract(1, ordering: .relaxed)
                try? Sys.writeAll(client, Array("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
                close(client)
                continue
            }
            OSThread.start { [self] in
                answer(client)
                close(client)
                clients.subtract(1, ordering: .relaxed)
            }.detach()
        }
    }

    private func answer(_ client: Int32) {
        // A client that sends nothing must not hold the only thread for long.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let requestLine = readRequestHead(client) else { return }
        let parts = requestLine.split(separator: " ")
        let (status, type, body): (String, String, String)
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" {
            let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
            if path == "/metrics" {
                (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", exporter.render())
            } else if path == "/" {
                (status, type, body) = ("200 OK", "text/html", "<html><body><a href=\"/metrics\">metrics</a></body></html>\n")
            } else {
                (status, type, body) = ("404 Not Found", "text/plain", "not found; try /metrics\n")
            }
        } else {
            (status, type, body) = ("405 Method Not Allowed", "text/plain", "only GET\n")
        }
        let payload = Array(body.utf8)
        let head = "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if parts.first != "HEAD" { bytes += payload }
        try? Sys.writeAll(client, bytes)
    }

    /// Reads up to the blank line ending the request head and returns its first line.
    private func readRequestHead(_ client: Int32) -> String? {
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while head.count < 16_384 {
            let n = read(client, &chunk, chunk.count)
            if n <= 0 { return nil }
            head += chunk[..<n]
            if head.suffix(2) == [10, 10] || endsHead(head) { break }
        }
        guard let end = head.firstIndex(of: 10) else { return nil }
        var line = head[..<end]
        if line.last == 13 { line = line.dropLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// True once the bytes hold the blank line (CRLF CRLF) that ends an HTTP request head.
    private func endsHead(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        return (0...(bytes.count - 4)).contains { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }
    }
}
