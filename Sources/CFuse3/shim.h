#ifndef ESTUARY_CFUSE3_SHIM_H
#define ESTUARY_CFUSE3_SHIM_H
// Defined here because system-library targets cannot take cSettings. No _GNU_SOURCE: system
// headers seen with it differ from Swift's Glibc module, and a clean build then rejects them.
#define FUSE_USE_VERSION 314
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <fuse3/fuse_lowlevel.h>

// libfuse's version-gated macros and variadics are invisible to Swift; these wrappers are not.
static inline int estuary_fuse_want_splice_write(struct fuse_conn_info *conn) {
    if (conn->capable & FUSE_CAP_SPLICE_WRITE) { conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE; return 1; }
    return 0;
}
static inline void estuary_fuse_want(struct fuse_conn_info *conn, unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
}
static inline void estuary_fuse_unwant(struct fuse_conn_info *conn, unsigned cap) {
    conn->want &= ~cap;
}
// libfuse 3.14 passes write() the payload but drops the request's write_flags, where the kernel
// asks for setuid/setgid to be cleared (FUSE_WRITE_KILL_SUIDGID): on a write by an unprivileged
// caller, through a direct_io handle always, through the page cache once the file system handles
// it (FUSE_HANDLE_KILLPRIV_V2).
// Without splice reads (never enabled) the payload follows the protocol's 40-byte fuse_write_in
// in libfuse's receive buffer; its offset and size fields are checked against the request's
// before its flags are trusted, so a different layout reads as "no flag".
static inline int estuary_write_kills_suidgid(const void *payload, size_t size, off_t offset) {
    const unsigned char *in = (const unsigned char *)payload - 40;
    uint64_t in_offset; uint32_t in_size, write_flags;
    __builtin_memcpy(&in_offset, in + 8, 8);
    __builtin_memcpy(&in_size, in + 16, 4);
    __builtin_memcpy(&write_flags, in + 20, 4);
    if (in_offset != (uint64_t)offset || in_size != size) return 0;
    return (write_flags & (1u << 2)) != 0;
}
static inline unsigned estuary_cap_readdirplus(void) { return FUSE_CAP_READDIRPLUS; }
static inline unsigned estuary_cap_readdirplus_auto(void) { return FUSE_CAP_READDIRPLUS_AUTO; }
static inline unsigned estuary_cap_async_read(void) { return FUSE_CAP_ASYNC_READ; }
static inline unsigned estuary_cap_export_support(void) { return FUSE_CAP_EXPORT_SUPPORT; }
static inline unsigned estuary_cap_parallel_dirops(void) { return FUSE_CAP_PARALLEL_DIROPS; }
static inline unsigned estuary_cap_cache_symlinks(void) { return FUSE_CAP_CACHE_SYMLINKS; }
static inline unsigned estuary_cap_auto_inval_data(void) { return FUSE_CAP_AUTO_INVAL_DATA; }
static inline unsigned estuary_cap_atomic_o_trunc(void) { return FUSE_CAP_ATOMIC_O_TRUNC; }
static inline unsigned estuary_cap_handle_killpriv(void) { return FUSE_CAP_HANDLE_KILLPRIV; }
#endif
