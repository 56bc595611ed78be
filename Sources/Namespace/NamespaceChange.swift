import Index
import Syscalls

/// What one namespace operation (create, link, rename, exchange, unlink, rmdir) changed beyond
/// its silo calls, as one value: the directories it touched, the names that appeared and went,
/// and what the node table must learn. `Namespace.commit` applies it the same way for every
/// operation: the index first (the touched directories stored in the same change as the
/// operation's rows), then, once the index took it, the node table, the listings and the
/// removal listeners. Other nodes and the kernel's caches on them hear of it from the index's
/// own change notices at commit (RemoteChanges); the kernel that made the request already
/// knows. Before this each operation ended with its own copy of "index, then four caches".
struct NamespaceChange {
    /// Directories whose times or link counts changed, as they are now.
    var touched: [EntryRow] = []
    /// Names now in a directory, each replacing what that name held.
    var added: [(directory: UInt64, entry: ListedName)] = []
    /// Names gone from a directory.
    var removed: [(directory: UInt64, name: [UInt8])] = []
    /// Directories whose listing must be read again (or that went).
    var droppedListings: [UInt64] = []
    /// New directories, known to be empty.
    var emptyListings: [UInt64] = []
    /// Node-table changes, in order.
    var nodes: [NodeChange] = []

    enum NodeChange {
        /// A new node the kernel is told of (counts its lookup).
        case remember(EntryRow)
        /// The node's whole row, where it is known.
        case refresh(EntryRow)
        /// The node's first name moved.
        case named(UInt64, parent: UInt64, name: [UInt8])
        /// The node's name moved, with the time of the change.
        case renamed(UInt64, parent: UInt64, name: [UInt8], ctimeNs: Int64)
        /// The node's link count, and the time of the change when it has one.
        case links(UInt64, nlink: UInt64, ctimeNs: Int64?)
        /// The inode's last name went: its removal listeners run (heat, jobs).
        case gone(UInt64)
    }
}

/// When the operation's rows reach the index.
enum IndexTiming {
    /// In the group-commit batch, before the reply (the reply needs the index's answer).
    case beforeReply
    /// Queued after the reply: the result is known without the index (`IndexStore.changeLater`).
    case afterReply
    /// In a transaction of its own, durable before the reply (a journal line must be on disk
    /// before the work it describes starts).
    case durable
}

extension Namespace {
    /// The one path of a namespace change: `rows` and the touched directories go to the index
    /// as one change at `timing`, then `effects` of the result reach the caches. With
    /// `.afterReply`, `known` is the result and `rows`' own is dropped. An index failure is
    /// thrown as it is, for the caller to undo its silo calls and map it (`indexFailure`).
    @discardableResult
    func commit<R>(_ change: NamespaceChange, timing: IndexTiming = .beforeReply, known: R? = nil,
                   rows: @escaping @Sendable (WriteTransaction) throws(IndexError) -> R,
                   effects: (R, inout NamespaceChange) -> Void = { _, _ in }) throws(IndexError) -> R {
        let touched = change.touched
        let result: R
        switch timing {
        case .afterReply:
            guard let known else { preconditionFailure("an index change after the reply needs its result known") }
            index.changeLater { [self] tx throws(IndexError) in
                _ = try rows(tx)
                try storeTouched(touched, tx)
            }
            result = known
        case .beforeReply:
            result = try index.change { [self] tx throws(IndexError) -> R in
                let r = try rows(tx)
                try storeTouched(touched, tx)
                return r
            }
        case .durable:
            result = try index.write { [self] tx throws(IndexError) -> R in
                let r = try rows(tx)
                try storeTouched(touched, tx)
                return r
            }
        }
        var final = change
        effects(result, &final)
        apply(final)
        return result
    }

    /// The caches learn a change the index holds.
    func apply(_ change: NamespaceChange) {
        cacheTouched(change.touched)
        for (directory, name) in change.removed { listings.removed(directory, name) }
        for (directory, entry) in change.added { listings.added(directory, entry) }
        for directory in change.droppedListings { listings.drop(directory) }
        for directory in change.emptyListings { listings.startEmpty(directory) }
        for node in change.nodes {
            switch node {
            case .remember(let row): nodes.remember(row)
            case .refresh(let row): nodes.refresh(row)
            case .named(let ino, let parent, let name):
                nodes.update(ino) { $0.parent = parent; $0.name = name }
            case .renamed(let ino, let parent, let name, let ctime):
                nodes.update(ino) { $0.parent = parent; $0.name = name; $0.ctimeNs = ctime }
            case .links(let ino, let nlink, let ctime):
                nodes.update(ino) { $0.nlink = nlink; if let ctime { $0.ctimeNs = ctime } }
            case .gone(let ino): removed(ino)
            }
        }
    }
}
