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
    func serverClock() throws(IndexError) -> Int64 { Int64(time(nil)) }
    func forgetNodes(silentFor seconds: Int64) throws(IndexError) {}
    func forgetPredecessors(of node: NodeRow) throws(IndexError) {}
    func takeLease(_ name: String, node: String, deadAfter: Int64) throws(IndexError) -> Bool { true }
    func holdsLease(_ name: String, node: String) throws(IndexError) -> Bool { true }
    func releaseLease(_ name: String, node: String) throws(IndexError) {}
    func leases() throws(IndexError) -> [LeaseRow] { [] }
    func signal(_ payload: String) throws(IndexError) {}
    func lockedEntry(_ ino: UInt64) throws(IndexError) -> EntryRow? { try entry(ino) }
}

/// This daemon's row in the node registry, kept alive by a heartbeat thread on a session of
/// its own (so a long batch on the writer never delays it) until `leave`. The leases this
/// node holds live as long as the heartbeat (Leases.swift).
public final class NodeMembership: Sendable {
    /// Seconds between heartbeats.
    public static let interval = 2
    /// A node silent this long is dead for the others: its leases pass on.
    public static let defaultDeadAfter = 10
    /// Rows of nodes silent this long are removed from the registry (dead ones are listed
    /// as dead until then).
    static let forgetAfter: Int64 = 3600
    public let node: NodeRow
    public let deadAfter: Int
    let session: Mutex<any IndexSession>
    private let running = Atomic<Bool>(true)
    private let wake: (Int32, Int32)
    private let thread = Mutex<OSThread?>(nil)
    /// Monotonic milliseconds of the last heartbeat the database took: a node that could not
    /// beat for `deadAfter` is dead to the others and must stop acting on its leases.
    private let lastBeat = Atomic<Int64>(0)

    init(node: NodeRow, deadAfter: Int, session: any IndexSession) throws(IndexError) {
        self.node = node
        self.deadAfter = max(NodeMembership.interval * 2, deadAfter)
        self.session = Mutex(session)
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw IndexError(.failed, "cannot make the heartbeat's wake pipe") }
        wake = (fds[0], fds[1])
        try session.forgetPredecessors(of: node)
        try session.registerNode(node)
        lastBeat.store(Self.nowMilliseconds(), ordering: .relaxed)
        let t = OSThread.start { [self] in
            var beats = 0
            while running.load(ordering: .relaxed) {
                var pause = pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)
                _ = poll(&pause, 1, Int32(NodeMembership.interval * 1000))
                guard running.load(ordering: .relaxed) else { break }
                beat(forget: beats % 30 == 0)
                beats += 1
            }
        }
        thread.withLock { $0 = t }
    }

    deinit { close(wake.0); close(wake.1) }

    /// One heartbeat. A failed beat (the server away) is retried at the next interval; a row
    /// another node removed (this node was silent for an hour) is registered again.
    private func beat(forget: Bool) {
        let now = Self.nowMilliseconds()
        let renewed: Bool? = session.withLock { s in
            if forget { try? s.forgetNodes(silentFor: NodeMembership.forgetAfter) }
            switch try? s.renewNode(node.id, at: Int64(time(nil))) {
            case true?: return true
            case false?: return (try? s.registerNode(node)) != nil
            case nil: return nil
            }
        }
        if renewed == true { lastBeat.store(now, ordering: .relaxed) }
    }

    /// Whether the database took a heartbeat recently enough that the others still count
    /// this node alive. Checked before acting under a lease; the lease rows fence the rest.
    public var isAlive: Bool {
        Self.nowMilliseconds() - lastBeat.load(ordering: .relaxed) < Int64(deadAfter - NodeMembership.interval) * 1000
    }

    static func nowMilliseconds() -> Int64 { Int64(monotonicSeconds() * 1000) }

    /// Stops the heartbeat and removes the row and its leases: a clean stop is not a death,
    /// and what it held passes at once.
    public func leave() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = write(wake.1, &byte, 1)
        thread.withLock { $0 }?.join()
        session.withLock { s in
            for lease in (try? s.leases()) ?? [] where lease.node == node.id { try? s.releaseLease(lease.name, node: node.id) }
            try? s.removeNode(node.id)
        }
    }
}

extension IndexStore {
    /// Registers this daemon in a shared index's node registry and keeps its heartbeat; nil for
    /// an index only one daemon uses.
    public func joinAsNode(host: String, pid: Int32, mountpoint: String,
                           deadAfter: Int = NodeMembership.defaultDeadAfter) throws(IndexError) -> NodeMembership? {
        guard engine.isShared else { return nil }
        let now = Int64(time(nil))
        let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        return try NodeMembership(node: NodeRow(id: id, host: host, pid: Int64(pid), mountpoint: mountpoint, started: now, heartbeat: now),
                                  deadAfter: deadAfter, session: try engine.openReader())
    }

    /// The nodes mounting this pool (empty for an index only one daemon uses).
    public func nodes() throws(IndexError) -> [NodeRow] {
        try query { tx throws(IndexError) in try tx.session.nodes() }
    }
}
