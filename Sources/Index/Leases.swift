import Synchronization

/// A lease of a shared index: something only one node may do at a time (`reconcile`, the
/// leader's pass; `watch`, the live watch and rescans of the silos; `job:<id>`, a running move;
/// `rename:<id>`, a journaled rename in a bucket). It has no expiry of its own: it is valid while
/// its holder's heartbeat is, so one heartbeat renews all of a node's leases, and a node whose
/// heartbeat lapsed past the dead time loses every lease to the first node that asks.
public struct LeaseRow: Sendable, Equatable {
    public var name: String
    public var node: String
    /// When the holder took it (the database's unix seconds).
    public var taken: Int64

    public init(name: String, node: String, taken: Int64) { self.name = name; self.node = node; self.taken = taken }

    public static func job(_ id: Int64) -> String { "job:\(id)" }
    /// A journaled rename in a bucket (BucketRenames in Namespace).
    public static func rename(_ id: UInt64) -> String { "rename:\(id)" }
    public static let reconcile = "reconcile"
    public static let watch = "watch"
    /// Meta keys of rescans asked of the watching node (a node whose batch the index lost
    /// cannot rescan itself while another watches): counters, a rescan owed while `wanted`
    /// is ahead of `done`.
    public static let rescanWanted = "rescan_wanted"
    public static let rescanDone = "rescan_done"
}

extension NodeMembership {
    /// Takes `name` or confirms this node still holds it. False when another live node holds
    /// it, when this node's own heartbeat has lapsed (the others may have taken its leases),
    /// or when the database cannot be asked.
    public func hold(_ name: String) -> Bool {
        guard isAlive else { return false }
        return session.withLock { s in (try? s.takeLease(name, node: node.id, deadAfter: Int64(deadAfter))) ?? false }
    }

    /// As `hold`, but nil when the database cannot be asked while this node's heartbeat is
    /// still good: a holder keeps what it runs through a short outage rather than stopping
    /// and starting over.
    public func tryHold(_ name: String) -> Bool? {
        guard isAlive else { return false }
        return session.withLock { s in try? s.takeLease(name, node: node.id, deadAfter: Int64(deadAfter)) }
    }

    public func release(_ name: String) {
        session.withLock { s in try? s.releaseLease(name, node: node.id) }
    }

    /// The live node other than this one that holds `name`, if any.
    public func holder(of name: String) -> NodeRow? {
        session.withLock { s -> NodeRow? in
            guard let now = try? s.serverClock(), let nodes = try? s.nodes(), let leases = try? s.leases(),
                  let lease = leases.first(where: { $0.name == name && $0.node != node.id }) else { return nil }
            return nodes.first { $0.id == lease.node && $0.heartbeat >= now - Int64(deadAfter) }
        }
    }

    /// The lease names held by other nodes that are alive.
    public func heldElsewhere() -> Set<String> {
        session.withLock { s -> Set<String> in
            guard let now = try? s.serverClock(), let nodes = try? s.nodes(), let leases = try? s.leases() else { return [] }
            let alive = Set(nodes.filter { $0.heartbeat >= now - Int64(deadAfter) && $0.id != node.id }.map(\.id))
            return Set(leases.filter { alive.contains($0.node) }.map(\.name))
        }
    }
}

extension WriteTransaction {
    /// The fence of a change made under a lease: throws `conflict` when `node` no longer holds
    /// `name`, so a node that was taken for dead cannot overwrite what the new holder records.
    /// The row stays share-locked until the write commits: nobody takes the lease meanwhile.
    public func requireLease(_ name: String, node: String) throws(IndexError) {
        guard try session.holdsLease(name, node: node) else {
            throw IndexError(.conflict, "the lease '\(name)' passed to another node")
        }
    }
}

extension WriteTransaction {
    /// The fence of a move's switch against nodes it did not ask: throws `conflict` when a
    /// node other than `me` and those in `asked` is alive now. A node taken for dead when the
    /// move began and back since (its heartbeat landed) may have written to the source
    /// without a gate; the switch waits for a run that asks it. The registry rows stay locked
    /// until the switch commits, so a heartbeat landing meanwhile comes after it, and the node
    /// that sent it then finds the switch in the index (FenceRecovery in Namespace).
    public func requireOnlyAsked(_ asked: Set<String>, me: String, deadAfter: Int) throws(IndexError) {
        let unasked = try session.lockLiveNodes(deadAfter: Int64(deadAfter)).subtracting(asked).subtracting([me])
        guard unasked.isEmpty else {
            throw IndexError(.conflict, "node(s) \(unasked.sorted().joined(separator: ", ")) came back during the move without being asked")
        }
    }
}

/// The node registry as `estuary status` shows it.
public struct NodeStatus: Sendable {
    public var node: NodeRow
    public var alive: Bool
    /// Seconds since the last heartbeat, by the database's clock.
    public var silentFor: Int64
    public var leases: [String]
}

extension ReadTransaction {
    /// Every registered node with whether it is alive (a heartbeat within `deadAfter`
    /// seconds of the database's clock) and the leases it holds; empty for an index only one
    /// daemon uses.
    public func nodeStatus(deadAfter: Int) throws(IndexError) -> [NodeStatus] {
        let nodes = try session.nodes()
        guard !nodes.isEmpty else { return [] }
        let now = try session.serverClock()
        let leases = try session.leases()
        return nodes.map { node in
            NodeStatus(node: node, alive: node.heartbeat >= now - Int64(deadAfter), silentFor: max(0, now - node.heartbeat),
                       leases: leases.filter { $0.node == node.id }.map(\.name))
        }
    }
}
