import CCounters
import CFuse3
#if canImport(Glibc)
import Glibc
#endif

/// Holds the file system for the C callbacks, which reach it through the session's userdata.
final class Dispatcher: Sendable {
    let operations: any FuseOperations
    init(_ operations: any FuseOperations) { self.operations = operations }
}

@inline(__always)
private func target(_ req: fuse_req_t?) -> any FuseOperations {
    Unmanaged<Dispatcher>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue().operations
}

@inline(__always)
private func nameBuffer(_ name: UnsafePointer<CChar>?) -> UnsafeBufferPointer<UInt8> {
    guard let name else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self), count: strlen(name))
}

/// The C operations table. Each entry is a closure literal capturing nothing, as C function
/// pointers must be; each hands the request to the Swift file system and returns.
func makeOperationsTable() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = { userdata, conn in
        guard let userdata, let conn else { return }
        var info = ConnectionInfo(raw: conn, userdata: userdata)
        Unmanaged<Dispatcher>.fromOpaque(userdata).takeUnretainedValue().operations.initialize(&info)
    }
    ops.destroy = { userdata in
        guard let userdata else { return }
        Unmanaged<Dispatcher>.fromOpaque(userdata).takeUnretainedValue().operations.destroy()
    }
    ops.lookup = { req, parent, name in
        target(req).lookup(Request(req!, ESTUARY_OP_LOOKUP), parent: UInt64(parent), name: nameBuffer(name))
    }
    ops.forget = { req, ino, count in
        target(req).forget(UInt64(ino), count: count)
        fuse_reply_none(req)
    }
    ops.forget_multi = { req, count, forgets in
        let fs = target(req)
        if let forgets {
            for i in 0..<count { fs.forget(UInt64(forgets[i].ino), count: forgets[i].nlookup) }
        }
        fuse_reply_none(req)
    }
    ops.getattr = { req, ino, _ in target(req).getattr(Request(req!, ESTUARY_OP_GETATTR), ino: UInt64(ino)) }
    ops.readlink = { req, ino in target(req).readlink(Request(req!, ESTUARY_OP_READLINK), ino: UInt64(ino)) }
    ops.open = { req, ino, fi in
        target(req).open(Request(req!, ESTUARY_OP_OPEN, fi), ino: UInt64(ino), flags: fi?.pointee.flags ?? O_RDONLY)
    }
    ops.read = { req, ino, size, offset, fi in
        target(req).read(Request(req!, ESTUARY_OP_READ), ino: UInt64(ino), size: size, offset: Int64(offset), handle: fi?.pointee.fh ?? 0)
    }
    ops.release = { req, ino, fi in
        target(req).release(Request(req!, ESTUARY_OP_RELEASE), ino: UInt64(ino), handle: fi?.pointee.fh ?? 0)
    }
    ops.opendir = { req, ino, fi in
        target(req).opendir(Request(req!, ESTUARY_OP_OPENDIR, fi), ino: UInt64(ino), flags: fi?.pointee.flags ?? 0)
    }
    ops.readdir = { req, ino, size, offset, fi in
        target(req).readdir(Request(req!, ESTUARY_OP_READDIR), ino: UInt64(ino), size: size, offset: Int64(offset), handle: fi?.pointee.fh ?? 0, plus: false)
    }
    ops.readdirplus = { req, ino, size, offset, fi in
        target(req).readdir(Request(req!, ESTUARY_OP_READDIRPLUS), ino: UInt64(ino), size: size, offset: Int64(offset), handle: fi?.pointee.fh ?? 0, plus: true)
    }
    ops.releasedir = { req, ino, fi in
        target(req).releasedir(Request(req!, ESTUARY_OP_RELEASEDIR), ino: UInt64(ino), handle: fi?.pointee.fh ?? 0)
    }
    ops.statfs = { req, ino in target(req).statfs(Request(req!, ESTUARY_OP_STATFS), ino: UInt64(ino)) }
    ops.getxattr = { req, ino, name, size in
        target(req).getxattr(Request(req!, ESTUARY_OP_GETXATTR), ino: UInt64(ino), name: nameBuffer(name), size: size)
    }
    ops.listxattr = { req, ino, size in target(req).listxattr(Request(req!, ESTUARY_OP_LISTXATTR), ino: UInt64(ino), size: size) }
    ops.create = { req, parent, name, mode, fi in
        target(req).create(Request(req!, ESTUARY_OP_CREATE, fi), parent: UInt64(parent), name: nameBuffer(name), mode: UInt32(mode), flags: fi?.pointee.flags ?? 0)
    }
    ops.mknod = { req, parent, name, mode, rdev in
        target(req).mknod(Request(req!, ESTUARY_OP_MKNOD), parent: UInt64(parent), name: nameBuffer(name), mode: UInt32(mode), rdev: UInt64(rdev))
    }
    ops.mkdir = { req, parent, name, mode in
        target(req).mkdir(Request(req!, ESTUARY_OP_MKDIR), parent: UInt64(parent), name: nameBuffer(name), mode: UInt32(mode))
    }
    ops.symlink = { req, link, parent, name in
        target(req).symlink(Request(req!, ESTUARY_OP_SYMLINK), target: nameBuffer(link), parent: UInt64(parent), name: nameBuffer(name))
    }
    ops.link = { req, ino, newParent, newName in
        target(req).link(Request(req!, ESTUARY_OP_LINK), ino: UInt64(ino), newParent: UInt64(newParent), newName: nameBuffer(newName))
    }
    ops.unlink = { req, parent, name in target(req).unlink(Request(req!, ESTUARY_OP_UNLINK), parent: UInt64(parent), name: nameBuffer(name)) }
    ops.rmdir = { req, parent, name in target(req).rmdir(Request(req!, ESTUARY_OP_RMDIR), parent: UInt64(parent), name: nameBuffer(name)) }
    ops.rename = { req, parent, name, newParent, newName, flags in
        target(req).rename(Request(req!, ESTUARY_OP_RENAME), parent: UInt64(parent), name: nameBuffer(name), newParent: UInt64(newParent),
                           newName: nameBuffer(newName), flags: flags)
    }
    ops.setattr = { req, ino, attr, toSet, fi in
        let changes = attr.map { SetAttributes($0.pointee, toSet) } ?? SetAttributes()
        target(req).setattr(Request(req!, ESTUARY_OP_SETATTR), ino: UInt64(ino), changes: changes, handle: fi?.pointee.fh)
    }
    ops.write = { req, ino, buf, size, offset, fi in
        let kill = buf.map { estuary_write_kills_suidgid($0, size, offset) != 0 } ?? false
        target(req).write(Request(req!, ESTUARY_OP_WRITE), ino: UInt64(ino), data: UnsafeRawBufferPointer(start: buf, count: size),
                          offset: Int64(offset), handle: fi?.pointee.fh ?? 0, killSetuid: kill)
    }
    ops.flush = { req, ino, fi in target(req).flush(Request(req!, ESTUARY_OP_FLUSH), ino: UInt64(ino), handle: fi?.pointee.fh ?? 0) }
    ops.fsync = { req, ino, datasync, fi in
        target(req).fsync(Request(req!, ESTUARY_OP_FSYNC), ino: UInt64(ino), dataOnly: datasync != 0, handle: fi?.pointee.fh ?? 0)
    }
    ops.fsyncdir = { req, ino, datasync, fi in
        target(req).fsyncdir(Request(req!, ESTUARY_OP_FSYNCDIR), ino: UInt64(ino), dataOnly: datasync != 0, handle: fi?.pointee.fh ?? 0)
    }
    ops.fallocate = { req, ino, mode, offset, length, fi in
        target(req).fallocate(Request(req!, ESTUARY_OP_FALLOCATE), ino: UInt64(ino), mode: mode, offset: Int64(offset), length: Int64(length), handle: fi?.pointee.fh ?? 0)
    }
    ops.copy_file_range = { req, inIno, inOffset, inFi, outIno, outOffset, outFi, length, flags in
        target(req).copyFileRange(Request(req!, ESTUARY_OP_COPY_FILE_RANGE), inputIno: UInt64(inIno), inputOffset: Int64(inOffset), inputHandle: inFi?.pointee.fh ?? 0,
                                  outputIno: UInt64(outIno), outputOffset: Int64(outOffset), outputHandle: outFi?.pointee.fh ?? 0,
                                  length: length, flags: flags)
    }
    ops.lseek = { req, ino, offset, whence, fi in
        target(req).lseek(Request(req!, ESTUARY_OP_LSEEK), ino: UInt64(ino), offset: Int64(offset), whence: whence, handle: fi?.pointee.fh ?? 0)
    }
    ops.setxattr = { req, ino, name, value, size, flags in
        target(req).setxattr(Request(req!, ESTUARY_OP_SETXATTR), ino: UInt64(ino), name: nameBuffer(name),
                             value: UnsafeRawBufferPointer(start: value, count: size), flags: flags)
    }
    ops.removexattr = { req, ino, name in target(req).removexattr(Request(req!, ESTUARY_OP_REMOVEXATTR), ino: UInt64(ino), name: nameBuffer(name)) }
    ops.access = { req, ino, mask in target(req).access(Request(req!, ESTUARY_OP_ACCESS), ino: UInt64(ino), mask: mask) }
    return ops
}
