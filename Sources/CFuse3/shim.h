#ifndef ESTUARY_CFUSE3_SHIM_H
#define ESTUARY_CFUSE3_SHIM_H
// Defined here because system-library targets cannot take cSettings. No _GNU_SOURCE: system
// headers seen with it differ from Swift's Glibc module, and a clean build then rejects them.
#define FUSE_USE_VERSION 314
#include <stddef.h>
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
static inline int estuary_fuse_reply_fd(fuse_req_t req, int fd, off_t offset, size_t size) {
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buf.buf[0].fd = fd;
    buf.buf[0].pos = offset;
    return fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
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
