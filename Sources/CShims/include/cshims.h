#ifndef ESTUARY_CSHIMS_H
#define ESTUARY_CSHIMS_H
#include <stddef.h>
#include <stdint.h>


// Syscalls glibc 2.36 does not wrap, or wraps only under _GNU_SOURCE, which Swift's Glibc lacks.
// Each returns -1 and sets errno like the libc wrappers do.
int estuary_openat2(int dirfd, const char *path, int flags, unsigned mode, uint64_t resolve);
long estuary_getdents64(int fd, void *buf, size_t len);
long estuary_listxattrat(int dirfd, const char *name, char *list, size_t size);
long estuary_getxattrat(int dirfd, const char *name, const char *attr, void *value, size_t size);
int estuary_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags);
int estuary_errno(void);
void estuary_set_errno(int value);

extern const uint64_t ESTUARY_RESOLVE_BENEATH;
extern const uint64_t ESTUARY_RESOLVE_NO_MAGICLINKS;
extern const uint64_t ESTUARY_RESOLVE_NO_SYMLINKS;
extern const int ESTUARY_O_PATH;
extern const int ESTUARY_O_NOATIME;
extern const int ESTUARY_O_DIRECT;
extern const int ESTUARY_AT_EMPTY_PATH;
extern const long ESTUARY_UTIME_NOW;
extern const long ESTUARY_UTIME_OMIT;


// Socket and process helpers behind _GNU_SOURCE.
int estuary_accept_cloexec(int fd);
int estuary_peer_credentials(int fd, uint32_t *uid, int32_t *pid);
int estuary_pipe_cloexec(int fds[2]);
/// Returns freed heap memory to the system (glibc malloc_trim).
int estuary_malloc_trim(void);
/// Replaces what `target` refers to with `source`'s file, atomically, keeping `target` close-on-exec.
int estuary_dup_cloexec(int source, int target);
extern const short ESTUARY_POSIX_SPAWN_SETSID;
/// Closes every descriptor from `low` up in the spawned child (glibc 2.34+).
int estuary_spawn_closefrom(void *actions, int low);

// <sys/xattr.h> is not part of Swift's Glibc module.
int estuary_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
int estuary_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
long estuary_fgetxattr(int fd, const char *name, void *value, size_t size);
int estuary_fremovexattr(int fd, const char *name);
long estuary_flistxattr(int fd, char *list, size_t size);
int estuary_removexattr(const char *path, const char *name);

int estuary_fallocate(int fd, int mode, int64_t offset, int64_t length);
long estuary_copy_file_range(int fdIn, int64_t *offIn, int fdOut, int64_t *offOut, size_t length, unsigned flags);
/// sync_file_range(SYNC_FILE_RANGE_WRITE): starts writeback of the range and waits for none of it.
int estuary_start_writeback(int fd, int64_t offset, int64_t length);
/// Bytes of the range the page cache holds (cachestat, Linux 6.5+); -1 when that is unknown.
int64_t estuary_cached_bytes(int fd, int64_t offset, int64_t length);
/// Bytes of [offset, offset+length) that are dirty in the page cache, or -1 (no cachestat).
int64_t estuary_dirty_bytes(int fd, int64_t offset, int64_t length);
// fanotify, for following silos live (Linux 5.17+ for FAN_RENAME; 5.9+ for names).
/// A notification group reporting directory handles and names (FAN_REPORT_DFID_NAME), non-blocking.
/// `unlimited`: asks for FAN_UNLIMITED_QUEUE (CAP_SYS_ADMIN, as filesystem marks need); the
/// caller falls back to a bounded queue when that fails.
int estuary_fanotify_init(int unlimited);
/// Marks the whole file system holding `path` for the events a silo needs; retries without
/// FAN_RENAME on kernels that lack it. Returns 0 or -1 with errno.
int estuary_fanotify_mark_filesystem(int fanfd, const char *path, int add);
/// One name record of an event: the directory's handle (a struct file_handle) and the name.
struct estuary_fan_record {
    uint64_t fsid;
    const void *handle;
    uint32_t handle_size;   // bytes of the whole struct file_handle, header included
    const char *name;       // NUL-terminated, inside the event buffer
};
struct estuary_fan_event {
    uint64_t mask;
    int32_t pid;
    int32_t records;        // 0..2 (a FAN_RENAME event carries the old and the new name)
    struct estuary_fan_record record[2];
};
/// Decodes the event at `*offset` of `buffer` (as read from the group) and advances `*offset`.
/// Returns 1 for an event, 0 at the end, -1 for a malformed buffer.
int estuary_fanotify_next(const void *buffer, size_t length, size_t *offset, struct estuary_fan_event *event);
/// open_by_handle_at for a handle from a record.
int estuary_open_by_handle(int mount_fd, const void *handle, int flags);
/// The file system id fanotify reports (statfs f_fsid, packed as the event parser packs it).
int estuary_fsid(int fd, uint64_t *fsid);
/// The calling thread's nice value, and setting it (Linux nice is per thread); -1 and errno on failure.
int estuary_thread_nice(int *value);
int estuary_set_thread_nice(int value);
extern const uint64_t ESTUARY_FAN_Q_OVERFLOW;
extern const uint64_t ESTUARY_FAN_NAME_EVENTS;   // create, delete, moves and renames
extern const uint64_t ESTUARY_FAN_ONDIR;
#endif
