#ifndef ESTUARY_CSHIMS_H
#define ESTUARY_CSHIMS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Syscalls glibc 2.36 does not wrap, or wraps only under _GNU_SOURCE, which Swift's Glibc lacks.
// Each returns -1 and sets errno like the libc wrappers do.
int estuary_openat2(int dirfd, const char *path, int flags, unsigned mode, uint64_t resolve);
ssize_t estuary_getdents64(int fd, void *buf, size_t len);
ssize_t estuary_listxattrat(int dirfd, const char *name, char *list, size_t size);
ssize_t estuary_getxattrat(int dirfd, const char *name, const char *attr, void *value, size_t size);
int estuary_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags);
int estuary_errno(void);
void estuary_set_errno(int value);

extern const uint64_t ESTUARY_RESOLVE_BENEATH;
extern const uint64_t ESTUARY_RESOLVE_NO_MAGICLINKS;
extern const uint64_t ESTUARY_RESOLVE_NO_SYMLINKS;
extern const int ESTUARY_O_PATH;
extern const int ESTUARY_O_NOATIME;
extern const int ESTUARY_AT_EMPTY_PATH;
extern const long ESTUARY_UTIME_NOW;
extern const long ESTUARY_UTIME_OMIT;
#endif
