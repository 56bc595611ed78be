import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// One daemon mounting a pool whose index is shared (issue 16 part 3).
public struct NodeRow: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int64
    public var mountpoint: String
    /// Unix seconds.
    public var started: Int64
    public var heartbeat: Int64

    public init(id: String, host: String, pid: Int64, mountpoint: String, started: Int64, heartbeat: Int64) {
        self.id = id; self.host = host; self.pid = pid; self.mountpoint = mountpoint; self.started = started; self.heartbeat = heartbeat
    }
}

extension IndexSession {
    func registerNode(_ node: NodeRow) throws(IndexError) { throw IndexError(.invalid, "this index has no node registry") }
    func renewNode(_ id: String, at time: Int64) throws(IndexError) -> Bool { throw IndexError(.invalid, "this index has no node registry") }
    func removeNode(_ id: String) throws(IndexError) {}
    func nodes() throws(IndexError) -> [NodeRow] { [] }
}

/// This daemon's row in the node registry, kept alive by a heartbeat thread on a session of
/// its own (so a long batch on the writer never delays it) until `leave`.
public final class NodeMembership: Sendable {
    /// Seconds between heartbeats; a node silent for several is taken for dead.
    public static let interval = 2
    public let node: NodeRow
    private let session: Mutex<any IndexSession>
    private let running = Atomic<Bool>(true)
    private let wake: (Int32, Int32)
    private let thread = Mutex<OSThread?>(nil)

    init(node: NodeRow, session: any IndexSession) throws(IndexError) {
        self.node = node
        self.session = Mutex(session)
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw IndexError(.failed, "cannot make the heartbeat's wake pipe") }
        wake = (fds[0], fds[1])
        try session.registerNode(node)
        let t = OSThread.start { [self] in
            while running.load(ordering: .relaxed) {
                var pause = pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)
                _ = poll(&pause, 1, Int32(NodeMembership.interval * 1000))
                guard running.load(ordering: .relaxed) else { break }
                // A failed beat (the server away) is retried at the next interval.
                self.session.withLock { s in
                    let now = Int64(time(nil))
                    if (try? s.renewNode(node.id, at: now)) == false {
                        var again = node
                        again.heartbeat = now
                        try? s.registerNode(again)
                    }
                }
            }
        }
        thread.withLock { $0 = t }
    }

    deinit { close(wake.0); close(wake.1) }

    /// Stops the heartbeat and removes the row: a clean stop is not a death.
    public func leave() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = write(wake.1, &byte, 1)
        thread.withLock { $0 }?.join()
        session.withLock { try? $0.removeNode(node.id) }
    }
}

extension IndexStore {
    /// Registers this daemon in a shared index's node registry and keeps its heartbeat; nil for
    /// an index only one daemon uses.
    public func joinAsNode(host: String, pid: Int32, mountpoint: String) throws(IndexError) -> NodeMembership? {
        guard engine.isShared else { return nil }
        let now = Int64(time(nil))
        let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        return try NodeMembership(node: NodeRow(id: id, host: host, pid: Int64(pid), mountpoint: mountpoint, started: now, heartbeat: now),
                                  session: try engine.openReader())
    }

    /// The nodes mounting this pool (empty for an index only one daemon uses).
    public func nodes() throws(IndexError) -> [NodeRow] {
        try query { tx throws(IndexError) in try tx.session.nodes() }
    }
}
