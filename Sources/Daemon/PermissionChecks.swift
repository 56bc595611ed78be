import FuseKit
import Index
import Namespace
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// POSIX permission checks made by the daemon instead of the kernel's `default_permissions`.
///
/// Why: with `default_permissions` every change in a directory invalidates the directory's
/// attributes in the kernel, and the kernel's next permission check fetches them with a GETATTR:
/// one synchronous round trip more for every create, rename and unlink (docs/decisions.md,
/// "Permissions checked by the daemon"). Here the daemon checks with the rows it holds anyway.
///
/// What the kernel still checks without the option: execute permission of regular files (from
/// its cached attributes), the sticky bit and protected_* sysctls where they use only owners,
/// the xattr namespaces' own rules (trusted.*, user.* only on files and directories),
/// capabilities for security.*. What it no longer checks, and so this file does: search
/// permission along a path (LOOKUP, and the entry timeouts below), write and search permission
/// on a directory for every change in it, open modes, opendir, access(2) and chdir (ACCESS),
/// chmod/chown/utimens/truncate, user.* xattrs, and protected_hardlinks.
///
/// Root (uid 0) is taken to hold CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN, as a process of
/// root normally does; a process with some of those capabilities under another uid is checked
/// as that uid.
enum Want {
    static let read: UInt32 = 4, write: UInt32 = 2, execute: UInt32 = 1
}

/// `fs.protected_hardlinks`, read once at mount (the kernel's check needs the permission the
/// daemon now owns).
let protectedHardlinks: Bool = {
    let fd = open("/proc/sys/fs/protected_hardlinks", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return true }
    defer { close(fd) }
    var byte: UInt8 = 0
    return read(fd, &byte, 1) == 1 ? byte != UInt8(ascii: "0") : true
}()

extension FuseAdapter {
    /// Whether the caller of `request` has every access in `want` (rwx bits) to `row`. The
    /// supplementary groups (a read of /proc/PID/status by libfuse) are fetched only when the
    /// group class and the other class would answer differently.
    func permitted(_ row: EntryRow, _ want: UInt32, _ request: borrowing Request) -> Bool {
        let caller = request.caller
        if caller.uid == 0 {
            return want & Want.execute == 0 || row.kind == .directory || row.mode & 0o111 != 0
        }
        let mode = row.mode
        if caller.uid == row.uid { return (mode >> 6) & want == want }
        let group = (mode >> 3) & want, other = mode & want
        if caller.gid == row.gid { return group == want }
        if group == other { return other == want }
        return (inGroup(row.gid, request) ? group : other) == want
    }

    func inGroup(_ gid: UInt32, _ request: borrowing Request) -> Bool {
        request.caller.gid == gid || request.callerGroups().contains(gid)
    }

    /// Nobody is refused a search here, so the kernel may keep names below it as long as it
    /// likes: a path walk through a cached name asks the daemon nothing.
    func searchableByAll(_ directory: EntryRow) -> Bool { directory.mode & 0o111 == 0o111 }

    /// The entry of `row` in `parent`: names in a directory some caller may not search are
    /// given with entry timeout 0, so that every walk through them comes back to LOOKUP.
    func entryReply(_ row: EntryRow, in parent: EntryRow?) -> EntryReply {
        let entry = !checksPermissions || parent.map(searchableByAll) ?? true ? timeouts.entry : 0
        return EntryReply(attributes: row.stat, generation: generation, entryTimeout: entry, attrTimeout: timeouts.attributes)
    }

    func negativeTimeout(in parent: EntryRow?) -> Double {
        !checksPermissions || parent.map(searchableByAll) ?? true ? timeouts.negative : 0
    }

    /// The directory `parent` when the caller may search it (and, with `write`, change it).
    func directory(_ parent: UInt64, write: Bool, _ request: borrowing Request) throws(Errno) -> EntryRow {
        let row = try namespace.getattr(parent)
        guard checksPermissions else { return row }
        guard row.kind == .directory else { throw Errno.notDirectory }
        guard permitted(row, write ? Want.write | Want.execute : Want.execute, request) else { throw Errno.permissionDenied }
        return row
    }

    /// The sticky bit: in such a directory only the owner of an entry, the owner of the
    /// directory or root may remove or rename the entry.
    func stickyAllows(_ directory: EntryRow, _ entry: EntryRow, _ request: borrowing Request) -> Bool {
        guard checksPermissions, directory.mode & UInt32(S_ISVTX) != 0 else { return true }
        let uid = request.caller.uid
        return uid == 0 || uid == entry.uid || uid == directory.uid
    }

    /// May the caller remove (or rename away) `name` from `parent`? The entry when it exists.
    func removable(_ parent: UInt64, _ name: UnsafeBufferPointer<UInt8>, _ request: borrowing Request) throws(Errno) -> EntryRow? {
        let dir = try directory(parent, write: true, request)
        guard checksPermissions, let entry = try namespace.child(parent: parent, name: name) else { return nil }
        guard stickyAllows(dir, entry, request) else { throw Errno.notPermitted }
        return entry
    }

    func checkRename(parent: UInt64, name: UnsafeBufferPointer<UInt8>, newParent: UInt64,
                     newName: UnsafeBufferPointer<UInt8>, flags: UInt32, _ request: borrowing Request) throws(Errno) {
        guard checksPermissions else { return }
        let source = try removable(parent, name, request)
        let target = try removable(newParent, newName, request)
        guard parent != newParent else { return }
        // A directory changing parent rewrites its "..": write permission on the directory
        // (and on the other one too when they are exchanged).
        if let source, source.kind == .directory, !permitted(source, Want.write, request) { throw Errno.permissionDenied }
        if flags & Namespace.renameExchange != 0, let target, target.kind == .directory, !permitted(target, Want.write, request) {
            throw Errno.permissionDenied
        }
    }

    /// fs.protected_hardlinks: a link to a file one does not own needs a regular file that is
    /// neither setuid nor executable setgid, readable and writable by the caller.
    func checkLink(_ ino: UInt64, newParent: UInt64, _ request: borrowing Request) throws(Errno) {
        guard checksPermissions else { return }
        _ = try directory(newParent, write: true, request)
        let file = try namespace.getattr(ino)
        let uid = request.caller.uid
        guard protectedHardlinks, uid != 0, uid != file.uid else { return }
        let safe = file.kind == .regular && file.mode & UInt32(S_ISUID) == 0
            && file.mode & UInt32(S_ISGID | S_IXGRP) != UInt32(S_ISGID | S_IXGRP)
            && permitted(file, Want.read | Want.write, request)
        if !safe { throw Errno.notPermitted }
    }

    /// The access an open asks for: its mode, O_TRUNC writing; an open for execve
    /// (__FMODE_EXEC, 0x20) needs execute permission. Without `default_permissions` the kernel
    /// checks only that some execute bit is set (any of u, g, o), so the class is checked here.
    func checkOpen(_ ino: UInt64, flags: Int32, _ request: borrowing Request) throws(Errno) {
        guard checksPermissions, request.caller.uid != 0 else { return }
        var want: UInt32
        switch flags & O_ACCMODE {
        case O_WRONLY: want = Want.write
        case O_RDWR: want = Want.read | Want.write
        default: want = flags & 0x20 != 0 ? Want.execute : Want.read
        }
        if flags & O_TRUNC != 0 { want |= Want.write }
        if want != 0, !permitted(try namespace.getattr(ino), want, request) { throw Errno.permissionDenied }
    }

    func checkOpenDirectory(_ ino: UInt64, _ request: borrowing Request) throws(Errno) {
        guard checksPermissions, request.caller.uid != 0 else { return }
        if !permitted(try namespace.getattr(ino), Want.read, request) { throw Errno.permissionDenied }
    }

    /// The rules of chown(2), chmod(2), utimensat(2) and truncate(2), as the kernel applies
    /// them before a local file system sees the change. Returns the change to make (chmod by
    /// someone outside the file's group drops setgid).
    func checkSetattr(_ ino: UInt64, _ changes: SetAttributes, handle: UInt64?, _ request: borrowing Request) throws(Errno) -> SetAttributes {
        guard checksPermissions, request.caller.uid != 0 else { return changes }
        let row = try namespace.getattr(ino)
        let uid = request.caller.uid
        let owner = uid == row.uid
        var changes = changes
        if changes.size != nil && handle == nil && !permitted(row, Want.write, request) { throw Errno.permissionDenied }
        if let newUID = changes.uid, !(owner && newUID == row.uid) { throw Errno.notPermitted }
        if let newGID = changes.gid, !(owner && (newGID == row.gid || inGroup(newGID, request))) { throw Errno.notPermitted }
        if let mode = changes.mode {
            guard owner else { throw Errno.notPermitted }
            if mode & UInt32(S_ISGID) != 0 && !inGroup(changes.gid ?? row.gid, request) { changes.mode = mode & ~UInt32(S_ISGID) }
        }
        // Both times "now" (utimes(NULL), touch) needs write permission; any other time needs
        // ownership.
        if changes.atime == .now && changes.mtime == .now {
            if !owner && !permitted(row, Want.write, request) { throw Errno.permissionDenied }
        } else if changes.atime != .omit || changes.mtime != .omit {
            if !owner { throw Errno.notPermitted }
        }
        return changes
    }

    /// user.* attributes (and any namespace the kernel leaves to the file system's permission
    /// check) need read permission to read and write permission to change. trusted.*,
    /// security.* and system.* the kernel decides by capability.
    func checkXattr(_ ino: UInt64, name: UnsafeBufferPointer<UInt8>, write: Bool, _ request: borrowing Request) throws(Errno) {
        guard checksPermissions, request.caller.uid != 0 else { return }
        for prefix in ["trusted.", "security.", "system."] where name.starts(with: prefix.utf8) { return }
        let row = try namespace.getattr(ino)
        // In a sticky directory only its owner may change user.* attributes (xattr(7)); the
        // kernel's own check does not reach a FUSE mount.
        if write && row.kind == .directory && row.mode & UInt32(S_ISVTX) != 0 && request.caller.uid != row.uid
            && name.starts(with: "user.".utf8) {
            throw Errno.notPermitted
        }
        if !permitted(row, write ? Want.write : Want.read, request) { throw Errno.permissionDenied }
    }

    func access(_ request: consuming Request, ino: UInt64, mask: Int32) {
        do throws(Errno) {
            let row = try namespace.getattr(ino)
            let want = UInt32(mask) & 7
            if want != 0 && !permitted(row, want, request) { throw Errno.permissionDenied }
            request.replyOK()
        } catch {
            request.reply(error: error)
        }
    }
}
