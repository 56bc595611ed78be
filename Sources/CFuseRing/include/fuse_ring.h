#ifndef ESTUARY_FUSE_RING_H
#define ESTUARY_FUSE_RING_H
// FUSE over io_uring for a libfuse 3.14 low-level session (kernel 6.14+ protocol, which
// libfuse learned only in 3.18). Requests arrive on per-CPU queues, so a request is served by
// a thread on the CPU of the process that made it: no cross-CPU wake-up per round trip.
//
// How it joins libfuse: the session's custom I/O hooks see the INIT request and reply (to ask
// the kernel for io_uring, and for INIT flags libfuse 3.14 does not know), and every reply (to
// route it to the ring entry that carried its request). Requests from the ring are handed to
// fuse_session_process_buf in the layout a /dev/fuse read gives, so the operation handlers do
// not know which transport served them.
// Types are opaque here so Swift sees libfuse's types only through CFuse3.
#include <stddef.h>
#include <stdint.h>

struct estuary_ring;

/// Starts `threads_per_queue` threads per possible CPU, each with an io_uring of its own, and
/// installs the session's I/O hooks. With 0 threads requests stay on /dev/fuse and the hooks
/// only add the INIT flags the session's init wanted. `userdata` is what the session was
/// created with (libfuse hands it to the hooks); `max_write` is what the session's init sets,
/// and sizes each entry's payload buffer. Call after fuse_session_mount and before the loop runs.
/// Returns NULL and writes why into `why` when the threads or the hooks cannot start; the
/// session then stays on /dev/fuse untouched.
struct estuary_ring *estuary_ring_start(void *session, void *userdata, unsigned threads_per_queue, size_t max_write,
                                        char *why, size_t why_size);

/// Stops the ring threads and frees the ring. Call after the session loop returned; the
/// session's hooks keep working (they pass through to /dev/fuse) until the session is destroyed.
void estuary_ring_stop(struct estuary_ring *ring);

/// Inside the session's init callback: asks that files opened with direct_io may still be
/// mapped shared (FUSE_DIRECT_IO_ALLOW_MMAP, kernel 6.6+), which libfuse 3.14 cannot ask for.
/// Returns 1 when the kernel offered it, so the INIT reply grants it; 0 otherwise (also when no
/// hooks are installed for the session owning `userdata`).
int estuary_ring_want_direct_io_mmap(void *userdata);
/// Likewise for FUSE_HANDLE_KILLPRIV_V2 (kernel 5.12+): the file system clears setuid/setgid
/// when an unprivileged caller writes or truncates (the kernel flags those requests), and the
/// kernel stops asking for security.capability before every cached write.
int estuary_ring_want_handle_killpriv_v2(void *userdata);

/// 1 once the kernel accepted io_uring and every queue registered; 0 before, or if it refused.
int estuary_ring_active(const struct estuary_ring *ring);
/// 1 when a ring thread failed, with why; "given up after INIT" when a queue could not
/// register and the kernel was told to serve /dev/fuse instead (else the mount would hang).
/// The environment variable ESTUARY_TEST_RING_FAULT=register-queue-0, read at start, makes
/// queue 0's entries fail before registering, for the tests of that fallback.
int estuary_ring_failure(struct estuary_ring *ring, char *why, size_t why_size);
/// Queues (possible CPUs) and threads per queue.
unsigned estuary_ring_queues(const struct estuary_ring *ring);
unsigned estuary_ring_threads_per_queue(const struct estuary_ring *ring);
/// Requests served through the ring since start.
uint64_t estuary_ring_requests(const struct estuary_ring *ring);

/// Replies to a read with `size` bytes of `fd` at `offset`. On a ring thread the bytes are read
/// straight into the ring entry's payload buffer; otherwise they are spliced as before.
int estuary_ring_reply_fd(void *req, int fd, int64_t offset, size_t size);

#endif
