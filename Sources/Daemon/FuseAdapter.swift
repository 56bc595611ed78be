import CCounters
import FuseKit
import Index
import Logging
import Namespace
import Synchronization
import Syscalls
import Tiering
#if canImport(Glibc)
import Glibc
#endif

/// Kernel cache timeouts, from the pool config or mount options.
struct CacheTimeouts: Sendable {
    var entry: Double
    var attributes: Double
    var negative: Double
}

/// Translates FUSE requests into namespace calls and their results into exactly one reply.
final class FuseAdapter: FuseOperations {
    let namespace: Namespace
    let timeouts: CacheTimeouts
    let generation: UInt64
    let heat: HeatTracker
    let foreground: ForegroundActivity
    let logger: Logger
    /// The daemon checks permissions (no `default_permissions`; PermissionChecks.swift).
    let checksPermissions: Bool
    /// Granted at INIT: files opened with direct_io may still be mapped shared.
    let directIOMappable = Atomic<Bool>(false)

    init(namespace: Namespace, timeouts: CacheTimeouts, generation: UInt64, heat: HeatTracker, foreground: ForegroundActivity,
         checksPermissions: Bool = true, logger: Logger) {
        self.namespace = namespace; self.timeouts = timeouts; self.generation = generation
        self.heat = heat; self.foreground = foreground; self.checksPermissions = checksPermissions; self.logger = logger
    }

    /// Every read and write counts toward heat; one under a move asks for its extents first.
    @inline(__always)
    func noteAccess(_ ino: UInt64, offset: Int64, length: Int) {
        foreground.touch()
        heat.record(ino, offset: offset, length: length)
        namespace.moveGate(ino)?.wantRead(offset: offset, length: Int64(length))
    }

    func initialize(_ connection: inout ConnectionInfo) {
        connection.enableSpliceWrite()
        connection.enableReaddirplus()
        connection.enableParallelDirectoryOperations()
        connection.enableExportSupport()
        connection.enableSymlinkCache()
        connection.enableAsyncRead()
        connection.enableAutoInvalidateData()
        connection.enableAtomicTruncate()
        _ = connection.fileSystemClearsSetuid()   // write and setattr follow the kernel's flags either way
        connection.setMaxWrite(Self.maxWrite)
        directIOMappable.store(connection.allowSharedMappingsOfDirectIO(), ordering: .releasing)
        logger.info("FUSE session initialised (protocol 7.\(connection.protocolMinor))")
    }

    func lookup(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>) {
        var directory: EntryRow?
        do {
            if checksPermissions { directory = try self.directory(parent, write: false, request) }
            let row = try namespace.lookup(parent: parent, name: name)
            request.reply(entry: entryReply(row, in: directory))
        } catch {
            let negative = negativeTimeout(in: directory)
            if error == .noSuchFileOrDirectory && negative > 0 {
                request.reply(entry: .negative(timeout: negative))
            } else {
                request.reply(error: error)
            }
        }
    }

    func forget(_ ino: UInt64, count: UInt64) { namespace.forget(ino, count: count) }

    func getattr(_ request: consuming Request, ino: UInt64) {
        do { request.reply(attributes: try namespace.getattr(ino).stat, timeout: timeouts.attributes) }
        catch { request.reply(error: error) }
    }

    func readlink(_ request: consuming Request, ino: UInt64) {
        do { request.reply(link: try namespace.readlink(ino)) } catch { request.reply(error: error) }
    }

    /// The largest write request the kernel sends (and so the io_uring payload buffer size).
    static let maxWrite: UInt32 = 1 << 20

    /// Which handles bypass the kernel's page cache (direct_io). Through the cache every write
    /// is copied once more (into the mount's pages, then to the daemon) and the data sits in
    /// memory twice (the mount's pages and the silo's). Write-only handles (cp, rsync, tar, shell
    /// redirections) go direct. So do read-write handles that begin on an empty file (created,
    /// truncated, or empty when opened: downloads, fio, an assembler's output, a new journal):
    /// there is nothing cached to keep, and what they write goes straight through. Read-write
    /// handles on a file with data (a database, a VM image) keep the page cache, because their
    /// reads would otherwise each be a round trip. A read-write handle goes direct only when the
    /// kernel granted shared mappings of direct_io files; without that, mmap of it fails. The
    /// kernel drops cached pages a direct write overlaps and writes back dirty mapped pages
    /// before a direct read, so other handles and mappings stay coherent (DirectHandleTests).
    func directIO(_ flags: Int32, empty: Bool) -> Bool {
        switch flags & O_ACCMODE {
        case O_WRONLY: true
        case O_RDWR: empty && directIOMappable.load(ordering: .acquiring)
        default: false
        }
    }

    func open(_ request: consuming Request, ino: UInt64, flags: Int32) {
        do throws(Errno) {
            try checkOpen(ino, flags: flags, request)
            let (fd, changed, empty, object) = try namespace.open(ino, flags: flags)
            // O_TRUNC truncates in the open (atomic_o_trunc); the kernel's flag asking for
            // setuid/setgid to go with it does not reach past libfuse 3.14, so the caller's uid
            // stands in for its lack of CAP_FSETID.
            if flags & O_TRUNC != 0 && request.caller.uid != 0 {
                do { try clearSetuid(ino, openFD: fd, request) }
                catch { namespace.release(ino, fd: fd); throw error }
            }
            noteBacking(fd: fd, ino: ino)
            // Cached pages stay valid across opens unless the backing file changed behind us.
            // A handle on a file in a bucket carries a flag above the descriptor's bits, so a
            // read tells it from a local one without a lookup.
            let handle = UInt64(fd) | (object ? Self.objectHandle : 0)
            if !request.reply(open: handle, keepCache: !changed, directIO: directIO(flags, empty: empty)) { namespace.release(ino, fd: fd) }
        } catch {
            request.reply(error: error)
        }
    }

    static let objectHandle: UInt64 = 1 << 40

    func read(_ request: consuming Request, ino: UInt64, size: Int, offset: Int64, handle: UInt64) {
        noteAccess(ino, offset: offset, length: size)
        // A fenced node's handle may still read a copy another node's move replaced.
        guard namespace.fence.pass() else {
            request.reply(error: namespace.fenced("read", ino))
            return
        }
        if handle & Self.objectHandle != 0 {
            do { request.reply(bytes: try namespace.readObject(ino, fd: Int32(truncatingIfNeeded: handle), offset: offset, size: size)) }
            catch { request.reply(error: error) }
            return
        }
        estuary_metrics_fd_bytes(Int32(truncatingIfNeeded: handle), UInt64(size), 0)
        request.reply(fd: Int32(truncatingIfNeeded: handle), offset: offset, size: size)
    }

    func release(_ request: consuming Request, ino: UInt64, handle: UInt64) {
        namespace.flush(ino)
        namespace.release(ino, fd: Int32(truncatingIfNeeded: handle))
        request.replyOK()
    }

    func opendir(_ request: consuming Request, ino: UInt64, flags: Int32) {
        do {
            try checkOpenDirectory(ino, request)
            let handle = try namespace.openDirectory(ino)
            if !request.reply(open: handle) { namespace.releaseDirectory(handle) }
        } catch {
            request.reply(error: error)
        }
    }

    func readdir(_ request: consuming Request, ino: UInt64, size: Int, offset: Int64, handle: UInt64, plus: Bool) {
        let items: [DirectoryItem]
        do { items = try namespace.directoryItems(handle) } catch { request.reply(error: error); return }
        let directory = plus && checksPermissions ? try? namespace.getattr(ino) : nil
        var buffer = DirectoryBuffer(for: request, size: size)
        var position = Int(max(0, offset))
        while position < items.count {
            let item = items[position]
            let fits: Bool
            if plus && (position < 2 || namespace.kernelHolds(item.ino)) {
                // "." and ".." never become dentries, and an inode the kernel holds already has
                // attributes it keeps true by our invalidations: the name alone is enough, and
                // costs neither side a node lookup (docs/decisions.md, "Metadata against
                // mergerfs's man-page presets").
                fits = buffer.addPlusWithoutAttributes(name: item.name, inode: item.ino, type: item.kind, nextOffset: Int64(position + 1))
            } else if plus {
                // A name removed since the listing was taken is skipped, as a local file system would.
                guard let row = try? namespace.getattr(item.ino) else { position += 1; continue }
                fits = buffer.addPlus(name: item.name, entry: entryReply(row, in: directory), nextOffset: Int64(position + 1))
                // Every entry with attributes that reaches the kernel counts as a lookup.
                if fits { namespace.rememberLookup(row) }
            } else {
                fits = buffer.add(name: item.name, inode: item.ino, type: item.kind, nextOffset: Int64(position + 1))
            }
            if !fits { break }
            position += 1
        }
        request.reply(directory: buffer)
    }

    func releasedir(_ request: consuming Request, ino: UInt64, handle: UInt64) {
        namespace.releaseDirectory(handle)
        request.replyOK()
    }

    func statfs(_ request: consuming Request, ino: UInt64) {
        let c = namespace.statfs()
        var s = statvfs()
        s.f_bsize = UInt(c.blockSize); s.f_frsize = UInt(c.blockSize)
        s.f_blocks = fsblkcnt_t(c.blocks); s.f_bfree = fsblkcnt_t(c.free); s.f_bavail = fsblkcnt_t(c.available)
        s.f_files = fsfilcnt_t(c.files); s.f_ffree = fsfilcnt_t(c.freeFiles); s.f_favail = fsfilcnt_t(c.freeFiles)
        s.f_namemax = 255
        request.reply(statfs: s)
    }

    func getxattr(_ request: consuming Request, ino: UInt64, name: UnsafeBufferPointer<UInt8>, size: Int) {
        do {
            try checkXattr(ino, name: name, write: false, request)
            let value = try namespace.getxattr(ino, name: name)
            if size == 0 { request.reply(xattrSize: value.count) }
            else if value.count > size { request.reply(error: .outOfRange) }
            else { request.reply(bytes: value) }
        } catch {
            request.reply(error: error)
        }
    }

    func listxattr(_ request: consuming Request, ino: UInt64, size: Int) {
        do {
            var list: [UInt8] = []
            for name in try namespace.listxattr(ino) { list.append(contentsOf: name); list.append(0) }
            if size == 0 { request.reply(xattrSize: list.count) }
            else if list.count > size { request.reply(error: .outOfRange) }
            else { request.reply(bytes: list) }
        } catch {
            request.reply(error: error)
        }
    }
}
