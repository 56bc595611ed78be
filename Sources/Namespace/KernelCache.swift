import Index
import Synchronization

/// Something the kernel may hold in its caches that changed without a FUSE request telling it:
/// a scan found a name added or gone, or a file changed behind the mount.
public enum CachedChange: Sendable, Equatable {
    /// The name `name` in directory `parent` (a negative entry included).
    case name(parent: UInt64, name: [UInt8])
    /// The attributes of an inode.
    case attributes(UInt64)
    /// The attributes and the cached pages of a file.
    case contents(UInt64)
}

/// The kernel's caches, as the namespace sees them. The daemon installs one that sends FUSE
/// invalidations; without one (tools, tests of lower layers) nothing is cached.
///
/// Why: with invalidations, the kernel may keep names and attributes for a long time (see
/// docs/decisions.md, "Long kernel caches"): every change made through the mount updates the
/// kernel's cache on its way, and every change found any other way comes through here.
public protocol KernelCache: Sendable {
    /// Queues `changes`; they reach the kernel soon, on another thread. Only for changes
    /// already committed to the index: the kernel may look the name up again at once.
    func changed(_ changes: [CachedChange])
    /// Drops the cached attributes of `ino` before returning. Safe inside a request.
    func attributesChangedNow(_ ino: UInt64)
    /// Returns once everything queued so far has reached the kernel.
    func settle()
}

extension Namespace {
    public func useKernelCache(_ cache: any KernelCache) { kernelCache.withLock { $0 = cache } }

    /// Whether the kernel holds `ino` (it has looked it up and not forgotten it).
    public func kernelKnows(_ ino: UInt64) -> Bool { ino == 1 || nodes.holds(ino) }

    /// Passes on the changes the kernel can be holding: names in directories it knows, and
    /// inodes it knows.
    func report(_ changes: [CachedChange]) {
        guard let cache = kernelCache.withLock({ $0 }) else { return }
        let relevant = changes.filter { change in
            switch change {
            case .name(let parent, _): kernelKnows(parent)
            case .attributes(let ino), .contents(let ino): kernelKnows(ino)
            }
        }
        if !relevant.isEmpty { cache.changed(relevant) }
    }

    func reportNow(attributesOf ino: UInt64) {
        kernelCache.withLock { $0 }?.attributesChangedNow(ino)
    }

    /// Waits until reported changes have reached the kernel (after a scan, so that its caller
    /// sees the scan's result through the mount at once).
    public func settleKernelCache() { kernelCache.withLock { $0 }?.settle() }

    /// A directory that some caller may not search after a change of its mode or owners: the
    /// kernel must drop the names it holds below it, since a path walk through a cached name
    /// asks the daemon nothing (PermissionChecks in the daemon). Invalidating the directory's
    /// own entry drops them all. (The mount's root has no entry; a root some callers may not
    /// search keeps its children's names until their entry timeout.)
    static func searchNarrowed(from old: EntryRow, to new: EntryRow) -> CachedChange? {
        guard old.kind == .directory, new.kind == .directory, old.ino != 1, new.mode & 0o111 != 0o111,
              old.mode != new.mode || old.uid != new.uid || old.gid != new.gid else { return nil }
        return .name(parent: old.parent, name: old.name)
    }

    /// What the kernel must drop when a scan changed a row it may hold from `old` to `new`: the
    /// cached pages too whenever the file's data may differ. A rewrite that keeps size and
    /// mtime (`touch -r`, `tar x`, `rsync --inplace -t`) shows only in ctime or in another
    /// backing inode, and another silo's copy taking the visible place may differ at equal
    /// size and mtime; kept pages would serve the old bytes to every later open.
    static func scannedChange(from old: EntryRow, to new: EntryRow) -> CachedChange? {
        if old.kind == .regular && new.kind == .regular
            && (old.ctimeNs != new.ctimeNs || old.backingInode != new.backingInode || old.silo != new.silo) {
            return .contents(new.ino)
        }
        return cachedChange(from: old, to: new)
    }

    /// What the kernel must drop when a row it may hold changed from `old` to `new`.
    static func cachedChange(from old: EntryRow, to new: EntryRow) -> CachedChange? {
        if old.kind != new.kind { return .name(parent: old.parent, name: old.name) }
        if let narrowed = searchNarrowed(from: old, to: new) { return narrowed }
        if old.size != new.size || old.mtimeNs != new.mtimeNs { return .contents(new.ino) }
        return old.stat == new.stat ? nil : .attributes(new.ino)
    }
}
