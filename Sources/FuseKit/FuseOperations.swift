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
}

extension FuseOperations {
    public func initialize(_ connection: inout ConnectionInfo) {}
    public func destroy() {}
}
