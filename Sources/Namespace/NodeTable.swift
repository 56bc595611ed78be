import Index
import Synchronization

/// An inode the kernel holds references to, with the index row it was last given.
struct Node {
    var row: EntryRow
    /// Kernel lookup count: incremented by every successful lookup/readdirplus entry/create,
    /// decremented by forget. The node leaves the table at zero.
    var lookups: UInt64
    /// Bumped by every change, so a reload from the index can tell it would undo a newer one.
    var version: UInt64 = 0
}

/// The inodes the kernel knows, sharded by inode number so that concurrent lookups and
/// getattrs on different files rarely meet on one lock. No lock is held across I/O.
final class NodeTable: Sendable {
    private static let shardCount = 32
    private final class Shard: Sendable { let nodes = Mutex<[UInt64: Node]>([:]) }
    private let shards: [Shard]

    init() { shards = (0..<NodeTable.shardCount).map { _ in Shard() } }

    @inline(__always)
    private func shard(_ ino: UInt64) -> Shard { shards[Int(ino % UInt64(NodeTable.shardCount))] }

    /// Counts one kernel lookup of `row` and returns the row to answer with. A node already
    /// known keeps its row: memory holds what writes changed before the index has it.
    @discardableResult
    func remember(_ row: EntryRow) -> EntryRow {
        shard(row.ino).nodes.withLock { table -> EntryRow in
            if table[row.ino] != nil {
                table[row.ino]!.lookups += 1
                return table[row.ino]!.row
            }
            table[row.ino] = Node(row: row, lookups: 1)
            return row
        }
    }

    func forget(_ ino: UInt64, _ count: UInt64) {
        shard(ino).nodes.withLock { table in
            guard let node = table[ino] else { return }
            if node.lookups <= count { table[ino] = nil } else { table[ino]!.lookups -= count }
        }
    }

    func row(_ ino: UInt64) -> EntryRow? { shard(ino).nodes.withLock { $0[ino]?.row } }

    /// Replaces the cached row, if the node is known; returns the row it replaced. A node
    /// `pending` says holds a write the index has not taken yet keeps its size, blocks and
    /// times: a row read from the index lacks them, and the flush that follows writes the
    /// cached row back (a remote change landing between a write here and its flush would
    /// otherwise put the old size in both).
    @discardableResult
    func refresh(_ row: EntryRow, keepingWritesOf pending: DirtyInodes? = nil) -> EntryRow? {
        shard(row.ino).nodes.withLock { table -> EntryRow? in
            guard let old = table[row.ino]?.row else { return nil }
            var new = row
            if let pending, pending.contains(row.ino) && old.kind == .regular && new.kind == .regular {
                new.size = old.size; new.blocks = old.blocks
                new.mtimeNs = old.mtimeNs; new.ctimeNs = max(old.ctimeNs, new.ctimeNs); new.atimeNs = old.atimeNs
            }
            table[row.ino]!.row = new; table[row.ino]!.version &+= 1
            return old
        }
    }

    func version(_ ino: UInt64) -> UInt64? { shard(ino).nodes.withLock { $0[ino]?.version } }

    /// Replaces the cached row only if nothing changed it since `version` was read; returns
    /// the row it replaced.
    @discardableResult
    func refresh(_ row: EntryRow, ifVersion version: UInt64) -> EntryRow? {
        shard(row.ino).nodes.withLock { table -> EntryRow? in
            guard let node = table[row.ino], node.version == version else { return nil }
            table[row.ino]!.row = row; table[row.ino]!.version &+= 1
            return node.row
        }
    }

    func holds(_ ino: UInt64) -> Bool { shard(ino).nodes.withLock { $0[ino] != nil } }

    /// Changes the cached row in place; returns the new row, or nil if the node is not known.
    @discardableResult
    func update(_ ino: UInt64, _ change: (inout EntryRow) -> Void) -> EntryRow? {
        shard(ino).nodes.withLock { table -> EntryRow? in
            guard table[ino] != nil else { return nil }
            change(&table[ino]!.row)
            table[ino]!.version &+= 1
            return table[ino]!.row
        }
    }

    func drop(_ ino: UInt64) { shard(ino).nodes.withLock { _ = $0.removeValue(forKey: ino) } }

    var knownInodes: [UInt64] { shards.flatMap { $0.nodes.withLock { Array($0.keys) } } }
    var count: Int { shards.reduce(0) { $0 + $1.nodes.withLock { $0.count } } }
}
