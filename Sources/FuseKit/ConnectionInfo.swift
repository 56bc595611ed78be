import CFuse3
import CFuseRing

/// The capabilities negotiated in FUSE_INIT. Only valid inside `FuseOperations.initialize`.
public struct ConnectionInfo {
    let raw: UnsafeMutablePointer<fuse_conn_info>
    let userdata: UnsafeMutableRawPointer

    /// Lets read replies splice from the backing descriptor instead of copying through the daemon.
    @discardableResult public func enableSpliceWrite() -> Bool { estuary_fuse_want_splice_write(raw) != 0 }
    /// Readdirplus, adaptively (the kernel falls back to plain readdir when it does not help).
    public func enableReaddirplus() {
        estuary_fuse_want(raw, estuary_cap_readdirplus())
        estuary_fuse_want(raw, estuary_cap_readdirplus_auto())
    }
    public func enableParallelDirectoryOperations() { estuary_fuse_want(raw, estuary_cap_parallel_dirops()) }
    /// Lookups of "." and ".." by inode, which NFS re-export needs.
    public func enableExportSupport() { estuary_fuse_want(raw, estuary_cap_export_support()) }
    public func enableSymlinkCache() { estuary_fuse_want(raw, estuary_cap_cache_symlinks()) }
    public func enableAsyncRead() { estuary_fuse_want(raw, estuary_cap_async_read()) }
    public func enableAutoInvalidateData() { estuary_fuse_want(raw, estuary_cap_auto_inval_data()) }
    public var protocolMinor: UInt32 { raw.pointee.proto_minor }
    /// Largest write request the kernel may send; libfuse caps it at its buffer size.
    public func setMaxWrite(_ bytes: UInt32) { raw.pointee.max_write = bytes }
    /// Leaves clearing setuid/setgid on write, truncate and chown to the kernel, which then
    /// sends the mode change as a setattr: the daemon writes as root and would keep them.
    public func kernelClearsSetuid() { estuary_fuse_unwant(raw, estuary_cap_handle_killpriv()) }
    /// Files opened with direct_io may still be mapped shared (FUSE_DIRECT_IO_ALLOW_MMAP, kernel
    /// 6.6+); without it such a mapping fails with ENODEV. The kernel then keeps the mapping's
    /// pages coherent with direct reads and writes. Granted through the session's INIT hook
    /// (`FuseSession.startRing`), since libfuse 3.14 cannot ask; returns whether it will be.
    public func allowSharedMappingsOfDirectIO() -> Bool { estuary_ring_want_direct_io_mmap(userdata) != 0 }
    /// O_TRUNC reaches open() instead of a separate setattr(size=0).
    public func enableAtomicTruncate() { estuary_fuse_want(raw, estuary_cap_atomic_o_trunc()) }
}
