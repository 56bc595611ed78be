import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A connected Unix stream socket read and written as lines. Lines are capped so a client
/// sending endless garbage cannot grow the daemon's memory.
public final class LineSocket: @unchecked Sendable {
    public let fd: Int32
    /// The socket's path when this side connected to it.
    public private(set) var path = ""
    private var pending: [UInt8] = []
    public static let maximumLine = 1 << 20

    public init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// Connects to the socket at `path`; nil when nothing listens there.
    public static func connect(path: String) -> LineSocket? {
        if case .connected(let socket) = attempt(path: path) { return socket }
        return nil
    }

    /// What connecting gave: the socket, or the errno that refused it (ENOENT: no socket,
    /// ECONNREFUSED: nobody listens, EACCES: the socket or its directory is another user's).
    public enum Outcome {
        case connected(LineSocket)
        case refused(Int32)
    }

    public static func attempt(path: String) -> Outcome {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .refused(errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); return .refused(ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 { let e = errno; close(fd); return .refused(e) }
        let socket = LineSocket(fd: fd)
        socket.path = path
        return .connected(socket)
    }

    public func send(line: [UInt8]) -> Bool {
        var data = line
        data.append(UInt8(ascii: "\n"))
        var sent = 0
        while sent < data.count {
            let n = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, data.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            sent += n
        }
        return true
    }

    /// The next line without its newline; nil at end of stream, on error, or if a line is too long.
    public func readLine() -> [UInt8]? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                return line
            }
            if pending.count > LineSocket.maximumLine { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            pending.append(contentsOf: chunk[..<n])
        }
    }

    /// Sets a receive timeout so a client that hangs up mid-request cannot hold a thread forever.
    public func setReceiveTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
