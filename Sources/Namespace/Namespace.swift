import Index
import Logging
import Silos
import Syscalls
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// POSIX semantics over the index and the silos. Knows nothing of FUSE: every operation takes
/// plain values and returns a value or throws the errno to reply with.
public final class Namespace: Sendable {
    public let index: IndexStore
    public let silos: SiloSet
    let nodes = NodeTable()
    let directories = DirectoryHandles()
    let listings = DirectoryListings()
    let logger: Logger
    let placement: any PlacementPolicy
    let space = SiloSpace()
    let dirty = DirtyInodes()
    let moves = MoveGates()
    let handles = OpenHandles()
    /// Readers of handles on files in a bucket (see ObjectFiles).
    let objectReads = ObjectReads()
    let objectBlockSize = Atomic<Int>(4 << 20)
    /// Renames in buckets still copying, journaled in the index.
    public let bucketRenames: BucketRenames
    /// Attribute changes of files in buckets, written back to their objects' metadata.
    public let bucketAttributes: BucketAttributes
    /// Recalls a file from a bucket to a writable tier before it is opened for writing;
    /// installed by the tiering layer.
    let objectRecall = Mutex(HookSlot<@Sendable (UInt64) -> Bool>())
    /// Computed `user.estuary.*` attributes added by layers above (heat, move state).
    let attributeProviders = Mutex<[@Sendable (EntryRow, String) -> [UInt8]?]>([])
    /// Moves a file off a full silo; installed by the tiering layer.
    let spaceHandler = Mutex(HookSlot<@Sendable (UInt64, Int64) -> Bool>())
    /// Objective hooks, installed by the reconcile layer: a validator for directory objectives,
    /// the tier a new file should be created on, a callback when tags change.
    let objectiveValidator = Mutex(HookSlot<@Sendable (String) -> String?>())
    let creationTier = Mutex(HookSlot<@Sendable (String, String, UInt32, UInt32, [(String, String)]) -> String?>())
    let tagHooks = Mutex<[@Sendable () -> Void]>([])
    /// `user.estuary.objective` of directories, by inode, so creates consult them without SQL.
    let directoryObjectives = Mutex<[UInt64: String]>([:])
    /// Called when a file is pinned to a tier through `user.estuary.pin`.
    let pinHooks = Mutex<[@Sendable (EntryRow, String) -> Void]>([])
    /// Called with the inode of a file whose last name went, so layers above drop what they
    /// keep about it (heat) instead of holding it forever.
    let removalHooks = Mutex<[@Sendable (UInt64) -> Void]>([])
    /// Where changes found outside FUSE requests go, so the kernel drops what it cached.
    let kernelCache = Mutex<(any KernelCache)?>(nil)
    /// This node's validity among the nodes of a shared index: requests that use a backing
    /// descriptor wait while it is fenced (NodeFence.swift, FenceRecovery.swift).
    public let fence: NodeFence

    public init(index: IndexStore, silos: SiloSet, placement: any PlacementPolicy = FirstTierMostFree(),
                logger: Logger = Logger(label: "estuary.namespace"), bucketRenames: BucketRenames? = nil,
                bucketAttributes: BucketAttributes? = nil, fence: NodeFence = NodeFence()) {
        self.fence = fence
        self.bucketRenames = bucketRenames ?? BucketRenames(index: index, silos: silos)
        self.bucketAttributes = bucketAttributes ?? BucketAttributes(index: index, silos: silos)
        self.index = index
        self.silos = silos
        self.placement = placement
        self.logger = logger
        self.bucketAttributes.attach(moves: moves) { [weak self] row in self?.refreshAfterMove(row) }
    }

    // MARK: names

    /// Resolves `name` in `parent` and counts a kernel lookup of the result.
    public func lookup(parent: UInt64, name: UnsafeBufferPointer<UInt8>) throws(Errno) -> EntryRow {
        if name.count > 255 { throw Errno.fileNameTooLong }
        let row: EntryRow
        if name.count == 1 && name[0] == UInt8(ascii: ".") {
            row = try entry(parent)
        } else if name.count == 2 && name[0] == UInt8(ascii: ".") && name[1] == UInt8(ascii: ".") {
            let p = try entry(parent)
            row = try entry(p.ino == 1 ? 1 : p.parent)
        } else {
            guard let found = try existing(parent: parent, name: name) else { throw Errno.noSuchFileOrDirectory }
            row = found
        }
        return nodes.remember(row)
    }

    /// A scan changed names in `dir`: its held listing, if any, is no longer complete.
    public func namesChangedBehindTheMount(in dir: UInt64) { listings.drop(dir) }

    /// Whether the kernel holds `ino` (has looked it up and not forgotten it).
    public func kernelHolds(_ ino: UInt64) -> Bool { nodes.holds(ino) }

    /// Counts a lookup the kernel takes implicitly (a readdirplus entry).
    public func rememberLookup(_ row: EntryRow) { nodes.remember(row) }

    public func onRemoval(_ hook: @escaping @Sendable (UInt64) -> Void) { removalHooks.withLock { $0.append(hook) } }

    func removed(_ ino: UInt64) { for hook in removalHooks.withLock({ $0 }) { hook(ino) } }

    public func forget(_ ino: UInt64, count: UInt64) {
        if ino == 1 { return }
        nodes.forget(ino, count)
    }

    /// The attributes of `ino`, from memory when the kernel holds it, else from the index.
    public func getattr(_ ino: UInt64) throws(Errno) -> EntryRow { try entry(ino) }

    /// The entry `name` in `parent`, if any, without counting a kernel lookup (permission checks).
    public func child(parent: UInt64, name: UnsafeBufferPointer<UInt8>) throws(Errno) -> EntryRow? {
        try existing(parent: parent, name: name)
    }

    func entry(_ ino: UInt64) throws(Errno) -> EntryRow {
        if let row = nodes.row(ino) { return row }
        let found: EntryRow?
        do { found = try index.query { tx throws(IndexError) in try tx.entry(ino) } }
        catch { throw indexFailure(error, "getattr") }
        guard let found else { throw Errno.noSuchFileOrDirectory }
        // The kernel never looks the root up, so it would never be held; every change in a
        // top-level directory read it from the index. Held once, it stays (forget(1) is a no-op).
        if ino == 1 { return nodes.remember(found) }
        return found
    }

    /// The path of `ino` relative to a silo root: walked through the kernel's known nodes,
    /// which always include the ancestors of a node it holds, with the index as fallback.
    public func relativePath(of row: EntryRow) throws(Errno) -> [UInt8] {
        var components: [[UInt8]] = []
        var current = row
        var length = 0
        while current.ino != 1 {
            components.append(current.name)
            length += current.name.count + 1
            if components.count > Silo.deepestLevel || length - 1 > Silo.longestPath { throw Errno.fileNameTooLong }
            if current.parent == 1 { break }
            current = try entry(current.parent)
        }
        var path: [UInt8] = []
        path.reserveCapacity(length)
        for component in components.reversed() {
            if !path.isEmpty { path.append(UInt8(ascii: "/")) }
            path.append(contentsOf: component)
        }
        return path
    }

    public func readlink(_ ino: UInt64) throws(Errno) -> [UInt8] {
        let row = try entry(ino)
        guard row.kind == .symlink else { throw Errno.invalidArgument }
        return row.target ?? []
    }

    // MARK: directories

    /// Snapshots the listing of `ino`, "." and ".." first, and returns a handle for readdir.
    public func openDirectory(_ ino: UInt64) throws(Errno) -> UInt64 {
        let row = try entry(ino)
        guard row.kind == .directory else { throw Errno.notDirectory }
        var children: [ListedName]
        if let held = listings.names(of: ino) {
            children = held
        } else {
            let epoch = listings.epoch
            do { children = try index.query { tx throws(IndexError) in try tx.listing(of: ino) } }
            catch { throw indexFailure(error, "opendir") }
            listings.fill(ino, children, readAt: epoch)
        }
        var items: [DirectoryItem] = [DirectoryItem(name: Array(".".utf8), ino: row.ino, kind: .directory)]
        items.reserveCapacity(children.count + 2)
        items.append(DirectoryItem(name: Array("..".utf8), ino: ino == 1 ? 1 : row.parent, kind: .directory))
        items.append(contentsOf: children)
        return directories.open(items)
    }

    /// Items from `offset` on; an item's offset for the next call is its position + 1.
    public func directoryItems(_ handle: UInt64) throws(Errno) -> [DirectoryItem] {
        guard let items = directories.items(handle) else { throw Errno.badFileDescriptor }
        return items
    }

    public func releaseDirectory(_ handle: UInt64) { directories.release(handle) }

    // MARK: file system

    public struct Capacity: Sendable {
        public var blocks: UInt64, free: UInt64, available: UInt64, files: UInt64, freeFiles: UInt64, blockSize: UInt64
    }

    public func statfs() -> Capacity {
        let t = silos.totalCapacity()
        return Capacity(blocks: t.blocks, free: t.free, available: t.available, files: t.files, freeFiles: t.freeFiles, blockSize: t.blockSize)
    }

    /// Re-reads nodes the kernel holds from the index, after a scan changed them underneath,
    /// and tells the kernel what changed: the attributes of those nodes and `changedNames`.
    /// `touched` limits the reload to the inodes a scan wrote (a live batch names them), so a
    /// batch costs what it changed rather than every node the kernel holds; nil reloads all.
    public func reloadFromIndex(changedNames: [(parent: UInt64, name: [UInt8])] = [], touched: Set<UInt64>? = nil) {
        flushMetadata()
        let inodes: [UInt64] = touched.map { $0.filter { nodes.holds($0) } } ?? nodes.knownInodes
        // A rename or move that lands while the index is read must not be undone by it.
        var versions: [UInt64: UInt64] = [:]
        for ino in inodes { if let v = nodes.version(ino) { versions[ino] = v } }
        let rows: [UInt64: EntryRow]
        do { rows = try indexRows(inodes) } catch {
            logger.error("could not reload cached attributes: \(error)")
            return
        }
        var changes = changedNames.map { CachedChange.name(parent: $0.parent, name: $0.name) }
        for ino in inodes {
            guard let row = rows[ino], let v = versions[ino], let old = nodes.refresh(row, ifVersion: v) else { continue }
            if let change = Namespace.scannedChange(from: old, to: row) { changes.append(change) }
        }
        report(changes)
    }

    /// The index's rows of `inodes` (those it has), read in one transaction.
    func indexRows(_ inodes: some Sequence<UInt64>) throws(IndexError) -> [UInt64: EntryRow] {
        try index.read { tx throws(IndexError) -> [UInt64: EntryRow] in
            var rows: [UInt64: EntryRow] = [:]
            for ino in inodes { if let row = try tx.entry(ino) { rows[ino] = row } }
            return rows
        }
    }

    func indexFailure(_ error: IndexError, _ operation: String) -> Errno {
        logger.error("index failure during \(operation): \(error)")
        return error.errno
    }
}
