import Syscalls

/// The file system behind a FUSE session, one method per low-level opcode. Every method must
/// end in exactly one reply on `request` (the type system enforces at most one; the request's
/// deinit answers EIO if none was given). Methods run on libfuse worker threads, concurrently.
/// Operations a file system does not implement answer ENOSYS, which the kernel remembers.
public protocol FuseOperations: AnyObject, Sendable {
    func initialize(_ connection: inout ConnectionInfo)
    func destroy()
    func lookup(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>)
    func forget(_ ino: UInt64, count: UInt64)
    func getattr(_ request: consuming Request, ino: UInt64)
    func readlink(_ request: consuming Request, ino: UInt64)
    func open(_ request: consuming Request, ino: UInt64, flags: Int32)
    func read(_ request: consuming Request, ino: UInt64, size: Int, offset: Int64, handle: UInt64)
    func release(_ request: consuming Request, ino: UInt64, handle: UInt64)
    func opendir(_ request: consuming Request, ino: UInt64, flags: Int32)
    func readdir(_ request: consuming Request, ino: UInt64, size: Int, offset: Int64, handle: UInt64, plus: Bool)
    func releasedir(_ request: consuming Request, ino: UInt64, handle: UInt64)
    func statfs(_ request: consuming Request, ino: UInt64)
    func getxattr(_ request: consuming Request, ino: UInt64, name: UnsafeBufferPointer<UInt8>, size: Int)
    func listxattr(_ request: consuming Request, ino: UInt64, size: Int)

    // The write side.
    func create(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, flags: Int32)
    func mknod(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, rdev: UInt64)
    func mkdir(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32)
    func symlink(_ request: consuming Request, target: UnsafeBufferPointer<UInt8>, parent: UInt64, name: UnsafeBufferPointer<UInt8>)
    func link(_ request: consuming Request, ino: UInt64, newParent: UInt64, newName: UnsafeBufferPointer<UInt8>)
    func unlink(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>)
    func rmdir(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>)
    func rename(_ request: consuming Request, parent: UInt64, name: UnsafeBufferPointer<UInt8>, newParent: UInt64,
                newName: UnsafeBufferPointer<UInt8>, flags: UInt32)
    func setattr(_ request: consuming Request, ino: UInt64, changes: SetAttributes, handle: UInt64?)
    /// `killSetuid`: the kernel asks that setuid/setgid be cleared first (a write by a caller
    /// without CAP_FSETID; see `ConnectionInfo.fileSystemClearsSetuid`).
    func write(_ request: consuming Request, ino: UInt64, data: UnsafeRawBufferPointer, offset: Int64, handle: UInt64, killSetuid: Bool)
    func flush(_ request: consuming Request, ino: UInt64, handle: UInt64)
    func fsync(_ request: consuming Request, ino: UInt64, dataOnly: Bool, handle: UInt64)
    func fsyncdir(_ request: consuming Request, ino: UInt64, dataOnly: Bool, handle: UInt64)
    func fallocate(_ request: consuming Request, ino: UInt64, mode: Int32, offset: Int64, length: Int64, handle: UInt64)
    func copyFileRange(_ request: consuming Request, inputIno: UInt64, inputOffset: Int64, inputHandle: UInt64,
                       outputIno: UInt64, outputOffset: Int64, outputHandle: UInt64, length: Int, flags: Int32)
    func lseek(_ request: consuming Request, ino: UInt64, offset: Int64, whence: Int32, handle: UInt64)
    func setxattr(_ request: consuming Request, ino: UInt64, name: UnsafeBufferPointer<UInt8>, value: UnsafeRawBufferPointer, flags: Int32)
    func removexattr(_ request: consuming Request, ino: UInt64, name: UnsafeBufferPointer<UInt8>)
    /// access(2), faccessat(2) and chdir(2), sent only without `default_permissions`.
    func access(_ request: consuming Request, ino: UInt64, mask: Int32)
}

extension FuseOperations {
    public func initialize(_ connection: inout ConnectionInfo) {}
    public func destroy() {}
    /// ENOSYS: the kernel then allows every later access(2) without asking; only right for a
    /// file system mounted with `default_permissions`, where it never asks.
    public func access(_ request: consuming Request, ino: UInt64, mask: Int32) { request.reply(error: .noFunction) }
}
