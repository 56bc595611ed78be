#define _GNU_SOURCE
#include "cshims.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/openat2.h>

// Kernel 6.13 added the *xattrat calls; the numbers are shared by all architectures.
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif

struct estuary_xattr_args { uint64_t value; uint32_t size; uint32_t flags; };

const uint64_t ESTUARY_RESOLVE_BENEATH = RESOLVE_BENEATH;
const uint64_t ESTUARY_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
const uint64_t ESTUARY_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
const int ESTUARY_O_PATH = O_PATH;
const int ESTUARY_O_NOATIME = O_NOATIME;
const int ESTUARY_O_DIRECT = O_DIRECT;
const int ESTUARY_AT_EMPTY_PATH = AT_EMPTY_PATH;
const long ESTUARY_UTIME_NOW = UTIME_NOW;
const long ESTUARY_UTIME_OMIT = UTIME_OMIT;

int estuary_openat2(int dirfd, const char *path, int flags, unsigned mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned)flags;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    long rc;
    do { rc = syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (rc < 0 && errno == EINTR);
    return (int)rc;
}

long estuary_getdents64(int fd, void *buf, size_t len) {
    return syscall(SYS_getdents64, fd, buf, len);
}

static int xattrat_unsupported = 0;

// Falls back to the /proc/self/fd form on kernels before 6.13; both refuse to follow a final symlink.
long estuary_listxattrat(int dirfd, const char *name, char *list, size_t size) {
    if (!__atomic_load_n(&xattrat_unsupported, __ATOMIC_RELAXED)) {
        long rc = syscall(SYS_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, list, size);
        if (rc >= 0 || errno != ENOSYS) return rc;
        __atomic_store_n(&xattrat_unsupported, 1, __ATOMIC_RELAXED);
    }
    char path[64 + 256];
    if (snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name) >= (int)sizeof path) { errno = ENAMETOOLONG; return -1; }
    return llistxattr(path, list, size);
}

long estuary_getxattrat(int dirfd, const char *name, const char *attr, void *value, size_t size) {
    if (!__atomic_load_n(&xattrat_unsupported, __ATOMIC_RELAXED)) {
        struct estuary_xattr_args args = { (uint64_t)(uintptr_t)value, (uint32_t)size, 0 };
        long rc = syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, &args, sizeof args);
        if (rc >= 0 || errno != ENOSYS) return rc;
        __atomic_store_n(&xattrat_unsupported, 1, __ATOMIC_RELAXED);
    }
    char path[64 + 256];
    if (snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name) >= (int)sizeof path) { errno = ENAMETOOLONG; return -1; }
    return lgetxattr(path, attr, value, size);
}

int estuary_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

int estuary_errno(void) { return errno; }
void estuary_set_errno(int value) { errno = value; }

#include <spawn.h>
#include <sys/socket.h>

const short ESTUARY_POSIX_SPAWN_SETSID = POSIX_SPAWN_SETSID;

int estuary_spawn_closefrom(void *actions, int low) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, low);
}

int estuary_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int estuary_peer_credentials(int fd, uint32_t *uid, int32_t *pid) {
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
    *uid = cred.uid;
    *pid = cred.pid;
    return 0;
}

int estuary_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int estuary_malloc_trim(void) { return malloc_trim(0); }
int estuary_dup_cloexec(int source, int target) { return dup3(source, target, O_CLOEXEC); }

int estuary_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}
int estuary_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}
long estuary_fgetxattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }
int estuary_fremovexattr(int fd, const char *name) { return fremovexattr(fd, name); }

int estuary_fallocate(int fd, int mode, int64_t offset, int64_t length) { return fallocate(fd, mode, offset, length); }
long estuary_copy_file_range(int fdIn, int64_t *offIn, int fdOut, int64_t *offOut, size_t length, unsigned flags) {
    loff_t a = *offIn, b = *offOut;
    long n = copy_file_range(fdIn, &a, fdOut, &b, length, flags);
    *offIn = a; *offOut = b;
    return n;
}
int estuary_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
// Spelled out here: older kernel headers lack <linux/mman.h>'s cachestat structs.
struct estuary_cachestat_range { uint64_t off, len; };
struct estuary_cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

int64_t estuary_cached_bytes(int fd, int64_t offset, int64_t length) {
    struct estuary_cachestat_range range = { (uint64_t)offset, (uint64_t)length };
    struct estuary_cachestat stat;
    if (syscall(SYS_cachestat, fd, &range, &stat, 0) != 0) return -1;
    return (int64_t)(stat.nr_cache * (uint64_t)sysconf(_SC_PAGESIZE));
}
int64_t estuary_dirty_bytes(int fd, int64_t offset, int64_t length) {
    struct estuary_cachestat_range range = { (uint64_t)offset, (uint64_t)length };
    struct estuary_cachestat stat;
    if (syscall(SYS_cachestat, fd, &range, &stat, 0) != 0) return -1;
    return (int64_t)(stat.nr_dirty * (uint64_t)sysconf(_SC_PAGESIZE));
}
long estuary_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
int estuary_removexattr(const char *path, const char *name) { return removexattr(path, name); }

#include <sys/fanotify.h>

#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

const uint64_t ESTUARY_FAN_Q_OVERFLOW = FAN_Q_OVERFLOW;
const uint64_t ESTUARY_FAN_NAME_EVENTS = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_RENAME;
const uint64_t ESTUARY_FAN_ONDIR = FAN_ONDIR;

int estuary_fanotify_init(int unlimited) {
    unsigned flags = FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK | (unlimited ? FAN_UNLIMITED_QUEUE : 0);
    return fanotify_init(flags, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
}

int estuary_fanotify_mark_filesystem(int fanfd, const char *path, int add) {
    // Content (modify, close_write), metadata and xattrs (attrib), and every name change.
    uint64_t mask = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | FAN_MODIFY
                  | FAN_CLOSE_WRITE | FAN_ONDIR;
    unsigned flags = (add ? FAN_MARK_ADD : FAN_MARK_REMOVE) | FAN_MARK_FILESYSTEM;
    int rc = fanotify_mark(fanfd, flags, mask | FAN_RENAME, AT_FDCWD, path);
    if (rc != 0 && errno == EINVAL) rc = fanotify_mark(fanfd, flags, mask, AT_FDCWD, path);
    return rc;
}

int estuary_fanotify_next(const void *buffer, size_t length, size_t *offset, struct estuary_fan_event *event) {
    const char *base = (const char *)buffer + *offset;
    size_t left = length - *offset;
    if (left == 0) return 0;
    const struct fanotify_event_metadata *m = (const struct fanotify_event_metadata *)base;
    if (left < sizeof *m || m->event_len < sizeof *m || m->event_len > left) return -1;
    memset(event, 0, sizeof *event);
    event->mask = m->mask;
    event->pid = m->pid;
    size_t at = m->metadata_len;
    while (at + sizeof(struct fanotify_event_info_header) <= m->event_len) {
        const struct fanotify_event_info_header *h = (const void *)(base + at);
        if (h->len < sizeof *h || at + h->len > m->event_len) return -1;
        int kind = h->info_type;
        if ((kind == FAN_EVENT_INFO_TYPE_DFID_NAME || kind == FAN_EVENT_INFO_TYPE_DFID
             || kind == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME || kind == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
            && event->records < 2 && h->len >= sizeof(struct fanotify_event_info_fid) + sizeof(struct file_handle)) {
            const struct fanotify_event_info_fid *fid = (const void *)h;
            const struct file_handle *fh = (const void *)fid->handle;
            size_t handle_size = sizeof *fh + fh->handle_bytes;
            size_t room = h->len - sizeof *fid;
            if (handle_size > room) return -1;
            struct estuary_fan_record *r = &event->record[event->records++];
            uint64_t a = (uint32_t)fid->fsid.val[0], b = (uint32_t)fid->fsid.val[1];
            r->fsid = a | (b << 32);
            r->handle = fh;
            r->handle_size = (uint32_t)handle_size;
            // The name follows the handle, NUL-terminated within the record; a bare DFID has none.
            const char *name = (const char *)fh + handle_size;
            r->name = (kind != FAN_EVENT_INFO_TYPE_DFID && memchr(name, 0, room - handle_size)) ? name : "";
        }
        at += h->len;
    }
    *offset += m->event_len;
    return 1;
}

#include <sys/vfs.h>
int estuary_fsid(int fd, uint64_t *fsid) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    uint64_t a = (uint32_t)s.f_fsid.__val[0], b = (uint32_t)s.f_fsid.__val[1];
    *fsid = a | (b << 32);
    return 0;
}

int estuary_open_by_handle(int mount_fd, const void *handle, int flags) {
    return open_by_handle_at(mount_fd, (struct file_handle *)handle, flags);
}

int estuary_thread_nice(int *value) {
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (now == -1 && errno != 0) return -1;
    *value = now;
    return 0;
}

int estuary_set_thread_nice(int value) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), value);
}
