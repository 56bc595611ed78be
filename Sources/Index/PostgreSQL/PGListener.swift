import CLibPQ
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The other writers' changes, delivered by PostgreSQL at their commit (`NOTIFY`, in commit
/// order) on a connection of its own that only `LISTEN`s. A thread waits in poll on the
/// connection's socket and a wake pipe (for `stop`).
///
/// A lost connection loses the notifications sent meanwhile: the handler then gets nil (read
/// everything again), and the listener reconnects once a second until the server is back.
final class PGListener: IndexListener, @unchecked Sendable {
    static let channel = "estuary_inval"
    private let connection: PGConnection
    private let wake: (Int32, Int32)
    private let running = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    init(_ connection: PGConnection) throws(IndexError) {
        self.connection = connection
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw IndexError(.failed, "\(connection.location): cannot make the listener's wake pipe") }
        wake = (fds[0], fds[1])
        try connection.execute("LISTEN \(PGListener.channel)")
    }

    deinit { close(wake.0); close(wake.1) }

    func start(_ handler: @escaping @Sendable (String?) -> Void) {
        guard !running.exchange(true, ordering: .relaxed) else { return }
        let t = OSThread.start { [self] in
            while running.load(ordering: .relaxed) {
                let socket = PQsocket(connection.conn)
                var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 2, socket < 0 ? 1000 : -1)
                guard running.load(ordering: .relaxed) else { break }
                if socket < 0 || PQconsumeInput(connection.conn) == 0 || PQstatus(connection.conn) == CONNECTION_BAD {
                    reconnect(handler)
                    continue
                }
                while let notice = PQnotifies(connection.conn) {
                    let payload = String(cString: notice.pointee.extra)
                    PQfreemem(notice)
                    handler(payload)
                }
            }
        }
        thread.withLock { $0 = t }
    }

    /// After a lost connection: wait a second, connect again, LISTEN again, and tell the
    /// handler that changes may have been missed.
    private func reconnect(_ handler: @Sendable (String?) -> Void) {
        var pause = pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)
        _ = poll(&pause, 1, 1000)
        guard running.load(ordering: .relaxed) else { return }
        PQreset(connection.conn)
        guard PQstatus(connection.conn) == CONNECTION_OK, (try? connection.execute("LISTEN \(PGListener.channel)")) != nil else { return }
        handler(nil)
    }

    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = write(wake.1, &byte, 1)
        thread.withLock { $0 }?.join()
    }
}
