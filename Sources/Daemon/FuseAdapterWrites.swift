import CCounters
import FuseKit
import Index
import Namespace
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The write side of the adapter: each op is a namespace call and exactly one reply.
extension FuseAdapter {
    private func creator(_ request: borrowing Request) -> Creator {
        let caller = request.caller
        return Creator(uid: caller.uid, gid: caller.gid)
    }

    func create(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, flags: Int32) {
        do {
            let dir = try directory(parent, write: true, request)
            let (row, fd) = try namespace.create(parent: parent, name: name, mode: mode, flags: flags, creator: creator(request))
            noteBacking(fd: fd, ino: row.ino)
            if !request.reply(create: entryReply(row, in: dir), handle: UInt64(fd), directIO: directIO(flags, empty: true)) {
                namespace.release(row.ino, fd: fd)
                namespace.forget(row.ino, count: 1)
            }
        } catch {
            request.reply(error: error)
        }
    }

    func mknod(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, rdev: UInt64) {
        do {
            let dir = try directory(parent, write: true, request)
            request.reply(entry: entryReply(try namespace.mknod(parent: parent, name: name, mode: mode, rdev: rdev, creator: creator(request)), in: dir))
        }
        catch { request.reply(error: error) }
    }

    func mkdir(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32) {
        do {
            let dir = try directory(parent, write: true, request)
            request.reply(entry: entryReply(try namespace.mkdir(parent: parent, name: name, mode: mode, creator: creator(request)), in: dir))
        }
        catch { request.reply(error: error) }
    }

    func symlink(_ request: consuming Request, target: UnsafeBufferPointer<UInt8>, parent: UInt64, name: UnsafeBufferPointer<UInt8>) {
        do {
            let dir = try directory(parent, write: true, request)
            request.reply(entry: entryReply(try namespace.symlink(target: target, parent: parent, name: name, creator: creator(request)), in: dir))
        }
        catch { request.reply(error: error) }
    }

    func link(_ request: consuming Request, ino: UInt64, newParent: UInt64, newName: UnsafeBufferPointer<UInt8>) {
        do {
            try checkLink(ino, newParent: newParent, request)
            let row = try namespace.link(ino, newParent: newParent, newName: newName)
            request.reply(entry: entryReply(row, in: checksPermissions ? try? namespace.getattr(newParent) : nil))
        }
        catch { request.reply(error: error) }
    }

    func unlink(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>) {
        do {
            _ = try removable(parent, name, request)
            try namespace.unlink(parent: parent, name: name)
            request.replyOK()
        } catch {
            request.reply(error: error)
        }
    }

    func rmdir(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>) {
        do {
            _ = try removable(parent, name, request)
            try namespace.rmdir(parent: parent, name: name)
            request.replyOK()
        } catch {
            request.reply(error: error)
        }
    }

    func rename(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, newParent: UInt64,
                newName: UnsafeBufferPointer<UInt8>, flags: UInt32) {
        do {
            try checkRename(parent: parent, name: name, newParent: newParent, newName: newName, flags: flags, request)
            try namespace.rename(parent: parent, name: name, newParent: newParent, newName: newName, flags: flags)
            request.replyOK()
        } catch {
            request.reply(error: error)
        }
    }

    func setattr(_ request: consuming Request, ino: UInt64, changes asked: SetAttributes, handle: UInt64?) {
        func time(_ t: TimeChange) -> Int64?? {
            switch t { case .omit: nil; case .now: .some(nil); case .nanoseconds(let ns): .some(ns) }
        }
        do {
            let changes = try checkSetattr(ino, asked, handle: handle, request)
            var change = AttributeChange(mode: changes.mode, uid: changes.uid, gid: changes.gid, size: changes.size,
                                         atime: time(changes.atime), mtime: time(changes.mtime))
            // The kernel flags a truncate by an unprivileged caller, and every chown of a file.
            if changes.killSetuid && change.mode == nil {
                let current = try namespace.getattr(ino)
                let kill = setuidBitsToClear(current, request)
                if kill != 0 { change.mode = current.mode & ~kill }
            }
            let row = try namespace.setattr(ino, change, openFD: handle.map { Int32(truncatingIfNeeded: $0) })
            request.reply(attributes: row.stat, timeout: timeouts.attributes)
        } catch {
            request.reply(error: error)
        }
    }

    func write(_ request: consuming Request, ino: UInt64, data: UnsafeRawBufferPointer, offset: Int64, handle: UInt64, killSetuid: Bool) {
        noteAccess(ino, offset: offset, length: data.count)
        do {
            let fd = Int32(truncatingIfNeeded: handle)
            if killSetuid { try clearSetuid(ino, openFD: fd, request) }
            let written = try namespace.write(ino, fd: fd, data: data, offset: offset)
            estuary_metrics_fd_bytes(fd, UInt64(written), 1)
            request.reply(written: written)
        } catch {
            request.reply(error: error)
        }
    }

    /// What ext4 clears when the kernel says setuid/setgid must go (a write or truncate by a
    /// caller without CAP_FSETID, any chown): setuid, and setgid when group-execute is set or
    /// an unprivileged caller is not in the file's group. The daemon acts as root, so the
    /// backing file system would keep them.
    func setuidBitsToClear(_ row: EntryRow, _ request: borrowing Request) -> UInt32 {
        var kill = row.mode & UInt32(S_ISUID)
        if row.mode & UInt32(S_ISGID) != 0 {
            let caller = request.caller
            if row.mode & UInt32(S_IXGRP) != 0
                || (caller.uid != 0 && caller.gid != row.gid && !request.callerGroups().contains(row.gid)) {
                kill |= UInt32(S_ISGID)
            }
        }
        return kill
    }

    func clearSetuid(_ ino: UInt64, openFD: Int32, _ request: borrowing Request) throws(Errno) {
        let kill = setuidBitsToClear(try namespace.getattr(ino), request)
        if kill != 0 { try namespace.clearModeBits(ino, kill, openFD: openFD) }
    }

    /// ENOSYS tells the kernel never to send FLUSH again, which takes one round trip off every
    /// close(). Nothing is lost: writes reach the backing file synchronously (no writeback
    /// cache), the kernel keeps POSIX locks itself, and release records sizes and times.
    func flush(_ request: consuming Request, ino: UInt64, handle: UInt64) {
        request.reply(error: .noFunction)
    }

    func fsync(_ request: consuming Request, ino: UInt64, dataOnly: Bool, handle: UInt64) {
        do { try namespace.fsync(ino, fd: Int32(truncatingIfNeeded: handle), dataOnly: dataOnly); request.replyOK() }
        catch { request.reply(error: error) }
    }

    func fsyncdir(_ request: consuming Request, ino: UInt64, dataOnly: Bool, handle: UInt64) {
        do { try namespace.fsyncDirectory(ino); request.replyOK() } catch { request.reply(error: error) }
    }

    func fallocate(_ request: consuming Request, ino: UInt64, mode: Int32, offset: Int64, length: Int64, handle: UInt64) {
        do {
            try namespace.fallocate(ino, fd: Int32(truncatingIfNeeded: handle), mode: mode, offset: offset, length: length)
            request.replyOK()
        } catch {
            request.reply(error: error)
        }
    }

    func copyFileRange(_ request: consuming Request, inputIno: UInt64, inputOffset: Int64, inputHandle: UInt64,
                       outputIno: UInt64, outputOffset: Int64, outputHandle: UInt64, length: Int, flags: Int32) {
        do {
            let n = try namespace.copyFileRange(from: Int32(truncatingIfNeeded: inputHandle), at: inputOffset, to: outputIno,
                                                Int32(truncatingIfNeeded: outputHandle), at: outputOffset, length: length)
            request.reply(written: n)
        } catch {
            request.reply(error: error)
        }
    }

    func lseek(_ request: consuming Request, ino: UInt64, offset: Int64, whence: Int32, handle: UInt64) {
        do { request.reply(offset: try namespace.seek(fd: Int32(truncatingIfNeeded: handle), offset: offset, whence: whence)) }
        catch { request.reply(error: error) }
    }

    func setxattr(_ request: consuming Request, ino: UInt64, name: UnsafeBufferPointer<UInt8>, value: UnsafeRawBufferPointer, flags: Int32) {
        do {
            try checkXattr(ino, name: name, write: true, request)
            try namespace.setxattr(ino, name: name, value: value, flags: flags)
            request.replyOK()
        }
        catch { request.reply(error: error) }
    }

    func removexattr(_ request: consuming Request, ino: UInt64, name: UnsafeBufferPointer<UInt8>) {
        do {
            try checkXattr(ino, name: name, write: true, request)
            try namespace.removexattr(ino, name: name)
            request.replyOK()
        } catch {
            request.reply(error: error)
        }
    }
}
