#define _GNU_SOURCE
#include <string.h>
#include "ccounters.h"

const char *const estuary_op_names[ESTUARY_OP_COUNT] = {
    "lookup", "getattr", "setattr", "readlink", "mknod",
    "mkdir", "unlink", "rmdir", "symlink", "rename",
    "link", "open", "read", "write", "flush",
    "release", "fsync", "opendir", "readdir", "readdirplus",
    "releasedir", "fsyncdir", "statfs", "setxattr", "getxattr",
    "listxattr", "removexattr", "access", "create", "fallocate",
    "copy_file_range", "lseek", "ioctl", "poll", "other",
};

// 10 µs to 10 s, roughly 1-2.5-5 per decade: a local round trip sits near the bottom, a
// spun-down disk waking near the top.
const uint64_t estuary_latency_bounds_ns[ESTUARY_LATENCY_BUCKETS - 1] = {
    10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000u, 5000000000u, 10000000000u,
};

int estuary_metrics_on = 0;
uint64_t estuary_op_latency_count[ESTUARY_OP_COUNT][ESTUARY_LATENCY_BUCKETS];
uint64_t estuary_op_latency_sum_ns[ESTUARY_OP_COUNT][ESTUARY_LATENCY_BUCKETS];
uint64_t estuary_op_errors[ESTUARY_OP_COUNT][ESTUARY_ERRNO_SLOTS];
uint64_t estuary_silo_bytes_read[ESTUARY_SILO_SLOTS];
uint64_t estuary_silo_bytes_written[ESTUARY_SILO_SLOTS];
uint8_t estuary_fd_silo[ESTUARY_FD_SLOTS];
uint64_t estuary_commit_latency_count[ESTUARY_LATENCY_BUCKETS];
uint64_t estuary_commit_latency_sum_ns[ESTUARY_LATENCY_BUCKETS];

const char *estuary_errno_name(int value) { return strerrorname_np(value); }
