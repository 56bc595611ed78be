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
    /// Who clears setuid/setgid when an unprivileged caller writes or truncates (the daemon
    /// writes as root, so the backing file system keeps them). With FUSE_HANDLE_KILLPRIV_V2,
    /// granted through the session's INIT hook, the kernel flags those writes and truncates
    /// and the file system clears the bits; the kernel then also stops asking for
    /// security.capability before every cached write, a round trip each. Without it the kernel
    /// clears them itself and sends the mode change as a setattr. Returns true when the file
    /// system must clear them.
    public func fileSystemClearsSetuid() -> Bool {
        estuary_fuse_unwant(raw, estuary_cap_handle_killpriv())
        return estuary_ring_want_handle_killpriv_v2(userdata) != 0
    }
    /// Files opened with direct_io may still be mapped shared (FUSE_DIRECT_IO_ALLOW_MMAP, kernel
    /// 6.6+); without it such a mapping fails with ENODEV. The kernel then keeps the mapping's
    /// pages coherent with direct reads and writes. Granted through the session's INIT hook
    /// (`FuseSession.startRing`), since libfuse 3.14 cannot ask; returns whether it will be.
    public func allowSharedMappingsOfDirectIO() -> Bool { estuary_ring_want_direct_io_mmap(userdata) != 0 }
    /// O_TRUNC reaches open() instead of a separate setattr(size=0).
    public func enableAtomicTruncate() { estuary_fuse_want(raw, estuary_cap_atomic_o_trunc()) }
}
