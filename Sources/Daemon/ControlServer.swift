import ControlProtocol
import Logging
import Synchronization
import Syscalls
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's control socket: newline-delimited JSON requests from the admin CLI. Only root
/// and the daemon's own user may talk to it (checked with SO_PEERCRED, and the socket is 0600).
final class ControlServer: Sendable {
    typealias Handler = @Sendable (ControlRequest, _ send: (ControlReply) -> Void) -> Void

    let path: String
    private let handler: Handler
    private let logger: Logger
    private let listener = Mutex<Int32>(-1)
    private let active = Atomic<Int>(0)
    /// Connections being served, so `stop` can end them; a connection leaves the set before its
    /// descriptor is closed, so `stop` never shuts down a number reused by something else.
    private let clients = Mutex<Set<Int32>>([])
    private let finished = Doorbell()
    private static let maximumClients = 64
    /// How long `stop` waits for requests in flight (a scan may take longer; it is left behind,
    /// its answers to a closed connection dropped).
    private static let stopWait = 5.0

    init(path: String, logger: Logger, handler: @escaping Handler) {
        self.path = path; self.logger = logger; self.handler = handler
    }

    func start() throws {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("cannot create the control socket: \(Errno.current)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw DaemonError("control socket path \(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let old = umask(0o177)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard rc == 0, listen(fd, 16) == 0 else {
            let e = Errno.current
            close(fd)
            throw DaemonError("cannot listen on the control socket \(path): \(e)")
        }
        listener.withLock { $0 = fd }
        OSThread.start { [self] in acceptLoop(fd) }
    }

    /// Stops taking requests and ends the connections being served, then waits (bounded) for
    /// their handlers to return: they use the pool, the namespace and the session's ring, which
    /// the daemon tears down next.
    func stop() {
        let fd = listener.withLock { fd -> Int32 in let old = fd; fd = -1; return old }
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
        clients.withLock { for client in $0 { shutdown(client, Int32(SHUT_RDWR)) } }
        let deadline = monotonicSeconds() + ControlServer.stopWait
        while active.load(ordering: .acquiring) > 0 && monotonicSeconds() < deadline { finished.wait(seconds: 0.1) }
        if active.load(ordering: .acquiring) > 0 {
            logger.warning("a control request was still running at unmount; its client gets no answer")
        }
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let client = estuary_accept_cloexec(fd)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return   // the listener was shut down
            }
            guard peerAllowed(client) else { close(client); continue }
            if active.wrappingAdd(1, ordering: .relaxed).newValue > ControlServer.maximumClients {
                active.wrappingSubtract(1, ordering: .relaxed)
                let socket = LineSocket(fd: client)
                _ = socket.send(line: ControlCoding.encode(ControlReply(error: "too many control clients; try again")))
                continue
            }
            let socket = LineSocket(fd: client)
            clients.withLock { _ = $0.insert(client) }
            OSThread.start { [self] in
                withExtendedLifetime(socket) {
                    serve(socket)
                    clients.withLock { _ = $0.remove(client) }
                }
                active.wrappingSubtract(1, ordering: .releasing)
                finished.ring()
            }
        }
    }

    private func peerAllowed(_ fd: Int32) -> Bool {
        var uid: UInt32 = 0, pid: Int32 = 0
        guard estuary_peer_credentials(fd, &uid, &pid) == 0 else { return false }
        if uid == 0 || uid == geteuid() { return true }
        logger.warning("refused a control client: uid \(uid), pid \(pid) is not root")
        return false
    }

    private func serve(_ socket: LineSocket) {
        socket.setReceiveTimeout(seconds: 30)
        guard let line = socket.readLine() else { return }
        let request: ControlRequest
        do { request = try ControlCoding.decode(ControlRequest.self, from: line) } catch {
            logger.warning("control request is not valid JSON: \(error)")
            _ = socket.send(line: ControlCoding.encode(ControlReply(error: "request is not a valid JSON control request")))
            return
        }
        handler(request) { reply in _ = socket.send(line: ControlCoding.encode(reply)) }
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
