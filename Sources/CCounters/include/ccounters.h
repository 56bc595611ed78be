// Counters the serving threads bump on every FUSE request, and that the metrics exporter
// reads when it is scraped. Plain arrays of relaxed atomics: no lock, no allocation, no
// Swift runtime on the hot path. With metrics off (the default) a request pays one load of
// `estuary_metrics_on` and nothing else.
#ifndef ESTUARY_CCOUNTERS_H
#define ESTUARY_CCOUNTERS_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

/// The FUSE operations, in the order the exporter names them (`estuary_op_names`).
typedef enum {
    ESTUARY_OP_LOOKUP, ESTUARY_OP_GETATTR, ESTUARY_OP_SETATTR, ESTUARY_OP_READLINK, ESTUARY_OP_MKNOD,
    ESTUARY_OP_MKDIR, ESTUARY_OP_UNLINK, ESTUARY_OP_RMDIR, ESTUARY_OP_SYMLINK, ESTUARY_OP_RENAME,
    ESTUARY_OP_LINK, ESTUARY_OP_OPEN, ESTUARY_OP_READ, ESTUARY_OP_WRITE, ESTUARY_OP_FLUSH,
    ESTUARY_OP_RELEASE, ESTUARY_OP_FSYNC, ESTUARY_OP_OPENDIR, ESTUARY_OP_READDIR, ESTUARY_OP_READDIRPLUS,
    ESTUARY_OP_RELEASEDIR, ESTUARY_OP_FSYNCDIR, ESTUARY_OP_STATFS, ESTUARY_OP_SETXATTR, ESTUARY_OP_GETXATTR,
    ESTUARY_OP_LISTXATTR, ESTUARY_OP_REMOVEXATTR, ESTUARY_OP_ACCESS, ESTUARY_OP_CREATE, ESTUARY_OP_FALLOCATE,
    ESTUARY_OP_COPY_FILE_RANGE, ESTUARY_OP_LSEEK, ESTUARY_OP_IOCTL, ESTUARY_OP_POLL, ESTUARY_OP_OTHER,
    ESTUARY_OP_COUNT
} estuary_op;

enum {
    /// Latency buckets: the upper bounds in `estuary_latency_bounds_ns`, then one for slower.
    ESTUARY_LATENCY_BUCKETS = 20,
    /// Errno values counted one by one; larger ones share the last slot.
    ESTUARY_ERRNO_SLOTS = 136,
    /// Silos counted one by one (by their position in the pool); more share the last slot.
    ESTUARY_SILO_SLOTS = 64,
    /// Descriptors whose silo is remembered for byte counts.
    ESTUARY_FD_SLOTS = 1 << 16,
};

extern const char *const estuary_op_names[ESTUARY_OP_COUNT];
/// "ENOENT" for ENOENT; NULL for a number with no name.
const char *estuary_errno_name(int value);
extern const uint64_t estuary_latency_bounds_ns[ESTUARY_LATENCY_BUCKETS - 1];

extern int estuary_metrics_on;
extern uint64_t estuary_op_latency_count[ESTUARY_OP_COUNT][ESTUARY_LATENCY_BUCKETS];
extern uint64_t estuary_op_latency_sum_ns[ESTUARY_OP_COUNT][ESTUARY_LATENCY_BUCKETS];
extern uint64_t estuary_op_errors[ESTUARY_OP_COUNT][ESTUARY_ERRNO_SLOTS];
extern uint64_t estuary_silo_bytes_read[ESTUARY_SILO_SLOTS];
extern uint64_t estuary_silo_bytes_written[ESTUARY_SILO_SLOTS];
/// The silo (position + 1, 0 unknown) of each open backing descriptor, set when it is opened.
extern uint8_t estuary_fd_silo[ESTUARY_FD_SLOTS];
extern uint64_t estuary_commit_latency_count[ESTUARY_LATENCY_BUCKETS];
extern uint64_t estuary_commit_latency_sum_ns[ESTUARY_LATENCY_BUCKETS];

static inline int estuary_metrics_enabled(void) {
    return __atomic_load_n(&estuary_metrics_on, __ATOMIC_RELAXED);
}

static inline void estuary_metrics_enable(void) {
    __atomic_store_n(&estuary_metrics_on, 1, __ATOMIC_RELAXED);
}

static inline uint64_t estuary_monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/// When a request starts: its clock reading, or 0 when metrics are off.
static inline uint64_t estuary_metrics_start(void) {
    return estuary_metrics_enabled() ? estuary_monotonic_ns() : 0;
}

static inline uint64_t estuary_counter_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static inline void estuary_counter_add(uint64_t *counter, uint64_t amount) {
    __atomic_fetch_add(counter, amount, __ATOMIC_RELAXED);
}

static inline int estuary_latency_bucket(uint64_t ns) {
    int i = 0;
    while (i < ESTUARY_LATENCY_BUCKETS - 1 && ns > estuary_latency_bounds_ns[i]) i++;
    return i;
}

/// A request was answered with `error` (0 for success); `start` is its estuary_metrics_start.
static inline void estuary_metrics_request_done(int op, uint64_t start, int error) {
    if (start == 0 || op < 0 || op >= ESTUARY_OP_COUNT) return;
    uint64_t elapsed = estuary_monotonic_ns() - start;
    int bucket = estuary_latency_bucket(elapsed);
    estuary_counter_add(&estuary_op_latency_count[op][bucket], 1);
    estuary_counter_add(&estuary_op_latency_sum_ns[op][bucket], elapsed);
    if (error != 0) {
        int slot = error < 0 ? -error : error;
        if (slot >= ESTUARY_ERRNO_SLOTS) slot = ESTUARY_ERRNO_SLOTS - 1;
        estuary_counter_add(&estuary_op_errors[op][slot], 1);
    }
}

/// Remembers which silo (its position in the pool) backs descriptor `fd`.
static inline void estuary_metrics_note_fd(int fd, int silo) {
    if (!estuary_metrics_enabled() || fd < 0 || fd >= ESTUARY_FD_SLOTS) return;
    int slot = silo < 0 ? 0 : (silo >= ESTUARY_SILO_SLOTS ? ESTUARY_SILO_SLOTS : silo + 1);
    __atomic_store_n(&estuary_fd_silo[fd], (uint8_t)slot, __ATOMIC_RELAXED);
}

/// Counts `bytes` read (`written` 0) or written through descriptor `fd`, against its silo.
static inline void estuary_metrics_fd_bytes(int fd, uint64_t bytes, int written) {
    if (!estuary_metrics_enabled() || fd < 0 || fd >= ESTUARY_FD_SLOTS) return;
    int slot = __atomic_load_n(&estuary_fd_silo[fd], __ATOMIC_RELAXED);
    if (slot == 0) return;
    uint64_t *counters = written ? estuary_silo_bytes_written : estuary_silo_bytes_read;
    estuary_counter_add(&counters[slot - 1], bytes);
}

/// The index committed a batch that began at `start` (an estuary_metrics_start reading).
static inline void estuary_metrics_commit_done(uint64_t start) {
    if (start == 0) return;
    uint64_t elapsed = estuary_monotonic_ns() - start;
    int bucket = estuary_latency_bucket(elapsed);
    estuary_counter_add(&estuary_commit_latency_count[bucket], 1);
    estuary_counter_add(&estuary_commit_latency_sum_ns[bucket], elapsed);
}

// Readers for the exporter (C arrays import into Swift as tuples, awkward to index).
static inline const char *estuary_op_name(int op) { return estuary_op_names[op]; }
static inline uint64_t estuary_latency_bound_ns(int bucket) { return estuary_latency_bounds_ns[bucket]; }
static inline uint64_t estuary_read_op_count(int op, int bucket) { return estuary_counter_load(&estuary_op_latency_count[op][bucket]); }
static inline uint64_t estuary_read_op_sum_ns(int op, int bucket) { return estuary_counter_load(&estuary_op_latency_sum_ns[op][bucket]); }
static inline uint64_t estuary_read_op_errors(int op, int slot) { return estuary_counter_load(&estuary_op_errors[op][slot]); }
static inline uint64_t estuary_read_silo_bytes(int silo, int written) {
    return estuary_counter_load(written ? &estuary_silo_bytes_written[silo] : &estuary_silo_bytes_read[silo]);
}
static inline uint64_t estuary_read_commit_count(int bucket) { return estuary_counter_load(&estuary_commit_latency_count[bucket]); }
static inline uint64_t estuary_read_commit_sum_ns(int bucket) { return estuary_counter_load(&estuary_commit_latency_sum_ns[bucket]); }

#endif
