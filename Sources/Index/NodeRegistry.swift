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
    func lockLiveNodes(deadAfter: Int64) throws(IndexError) -> Set<String> { [] }
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
    /// Valid until the last heartbeat the database took plus `validity`: a node that could not
    /// beat that long may be dead to the others; it stops acting on its leases and fences the
    /// requests that use its backing descriptors (NodeFence.swift).
    public let fence: NodeFence
    /// What runs once a heartbeat lands after this node was past its validity (given the
    /// seconds since the previous beat landed): true when the node's handles and caches are
    /// level with the index again, so the fence may lift.
    private let recovery = Mutex<(@Sendable (Double) -> Bool)?>(nil)
    private let lastLanded = Atomic<Int64>(0)

    /// Nanoseconds a heartbeat keeps this node valid, from the moment it was sent. The others
    /// take it for dead only once the database's clock is past the beat's recorded second plus
    /// `deadAfter` (Leases.swift), which is after the send time plus `deadAfter`: `interval`
    /// seconds earlier leaves a margin of 2 s for clock rates and the next request's check.
    var validity: Int64 { Int64(deadAfter - NodeMembership.interval) * 1_000_000_000 }

    init(node: NodeRow, deadAfter: Int, session: any IndexSession, fence: NodeFence) throws(IndexError) {
        self.node = node
        self.deadAfter = max(NodeMembership.interval * 2, deadAfter)
        self.session = Mutex(session)
        self.fence = fence
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw IndexError(.failed, "cannot make the heartbeat's wake pipe") }
        wake = (fds[0], fds[1])
        let sent = NodeFence.now()
        try session.forgetPredecessors(of: node)
        try session.registerNode(node)
        fence.extend(to: sent + validity)
        lastLanded.store(NodeFence.now(), ordering: .relaxed)
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
    ///
    /// A beat that lands after this node's validity ran out (it was frozen, or cut off from the
    /// database, that long) may follow the others' verdict that it died: they may have moved
    /// files it holds open without asking it. The fence stays until the recovery put this
    /// node's handles on the index's current copies; the beat already landed, so a move that
    /// starts from now on asks this node, and one that started without it cannot switch the
    /// index any more (MoveExecution's switch checks that every live node was asked).
    private func beat(forget: Bool) {
        let sent = NodeFence.now()
        let renewed: Bool? = session.withLock { s in
            if forget { try? s.forgetNodes(silentFor: NodeMembership.forgetAfter) }
            switch try? s.renewNode(node.id, at: Int64(time(nil))) {
            case true?: return true
            case false?: return (try? s.registerNode(node)) != nil
            case nil: return nil
            }
        }
        guard renewed == true else { return }
        let landed = NodeFence.now()
        let previous = lastLanded.exchange(landed, ordering: .relaxed)
        if landed < fence.deadline { return fence.extend(to: sent + validity) }
        fence.fenced.add(1, ordering: .relaxed)
        let recovered = recovery.withLock { $0 }?(Double(landed - previous) / 1e9) ?? true
        // A recovery slower than the validity leaves the node fenced until the next beat.
        if recovered { fence.extend(to: sent + validity) }
    }

    /// Installs the recovery run after a silence longer than this node's validity.
    public func onSilence(_ recover: @escaping @Sendable (Double) -> Bool) { recovery.withLock { $0 = recover } }

    /// Whether the database took a heartbeat recently enough that the others still count
    /// this node alive (and no recovery is pending). Checked before acting under a lease; the
    /// lease rows fence the rest.
    public var isAlive: Bool { fence.isOpen }

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
    public func joinAsNode(host: String, pid: Int32, mountpoint: String, deadAfter: Int = NodeMembership.defaultDeadAfter,
                           fence: NodeFence = NodeFence()) throws(IndexError) -> NodeMembership? {
        guard engine.isShared else { return nil }
        // A fenced request waits for one heartbeat and the recovery, or an outage's wait.
        fence.setWait(seconds: max(Double(deadAfter), outageWait))
        let now = Int64(time(nil))
        let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        return try NodeMembership(node: NodeRow(id: id, host: host, pid: Int64(pid), mountpoint: mountpoint, started: now, heartbeat: now),
                                  deadAfter: deadAfter, session: try engine.openReader(), fence: fence)
    }

    /// The nodes mounting this pool (empty for an index only one daemon uses).
    public func nodes() throws(IndexError) -> [NodeRow] {
        try query { tx throws(IndexError) in try tx.session.nodes() }
    }
}
