import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The open flags a backing open may take from a FUSE open or create.
///
/// The kernel's flags carry bits of its own: an exec sets `__FMODE_EXEC` (0x20), and older
/// kernels leak `FMODE_NONOTIFY`. `open(2)` ignores unknown bits, but `openat2(2)` rejects them
/// with EINVAL, which made every program and script stored in the mount fail to run. Only the
/// bits below are meaningful for a backing file; creation, O_DIRECT (served uncached by the
/// mount instead) and the terminal are the kernel's business, and O_NOFOLLOW is always added.
public enum BackingOpenFlags {
    /// O_LARGEFILE (0o100000 on x86_64 and arm64) is implied on 64-bit and harmless.
    static let kept: Int32 = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | ESTUARY_O_NOATIME | 0o100000

    /// Flags for reopening a file the kernel opened with `flags` (O_TRUNC kept when asked).
    public static func open(_ flags: Int32, truncate: Bool) -> Int32 {
        (flags & kept) | (truncate ? flags & O_TRUNC : 0) | O_NOFOLLOW
    }
}
