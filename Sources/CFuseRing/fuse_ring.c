// FUSE over io_uring beside libfuse 3.14. See fuse_ring.h for how it joins the session.
#define _GNU_SOURCE
#define FUSE_USE_VERSION 314
#include "fuse_ring.h"

#include <errno.h>
#include <fuse3/fuse_lowlevel.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

// Protocol 7.42 (linux/fuse.h); the installed kernel headers predate it.
enum { OPCODE_INIT = 26 };
enum { CMD_REGISTER = 1, CMD_COMMIT_AND_FETCH = 2 };
#define INIT_FLAG_EXT (1u << 30)
// Of the 64 INIT flag bits (flags2 holds the upper 32).
#define INIT_HANDLE_KILLPRIV_V2 (1ull << 28)
#define INIT_DIRECT_IO_ALLOW_MMAP (1ull << 36)
#define INIT_OVER_IO_URING (1ull << 41)

struct in_header {
    uint32_t len, opcode;
    uint64_t unique, nodeid;
    uint32_t uid, gid, pid;
    uint16_t total_extlen, padding;
};
struct out_header {
    uint32_t len;
    int32_t error;
    uint64_t unique;
};
struct ent_in_out {
    uint64_t flags, commit_id;
    uint32_t payload_sz, padding;
    uint64_t reserved;
};
// The entry's header buffer: in/out header, the operation's fixed argument, entry metadata.
struct req_header {
    char in_out[128];
    char op_in[128];
    struct ent_in_out ent;
};
// Lives in the 80-byte command area of a 128-byte SQE.
struct cmd_req {
    uint64_t flags, commit_id;
    uint16_t qid;
    uint8_t padding[6];
};
// Fields of fuse_init_in / fuse_init_out this file reads or sets, by byte offset.
enum { INIT_IN_FLAGS = 12, INIT_IN_FLAGS2 = 16 };
enum { INIT_OUT_FLAGS = 12, INIT_OUT_MAX_WRITE = 20, INIT_OUT_MAX_PAGES = 28, INIT_OUT_FLAGS2 = 32, INIT_OUT_MIN = 36 };

// Room before the payload for the in header and the operation's argument, so a request is
// handed to libfuse contiguous, as a /dev/fuse read lays it out, without copying the payload.
#define HEAD_ROOM 4096

struct entry {
    struct estuary_ring *ring;
    unsigned qid;
    pthread_t thread;
    int started;
    struct io_uring uring;
    struct req_header *header;
    char *region;  // HEAD_ROOM bytes, then the payload
    char *payload;
    struct iovec iov[2];
    _Atomic uint64_t unique; // the request this entry is serving; 0 between requests
    _Atomic int replied;
    pthread_mutex_t lock; // with `answered`: a reply sent from another thread than this entry's
    pthread_cond_t answered;
};

struct estuary_ring {
    struct fuse_session *session;
    void *userdata;
    int fd;
    unsigned queues, per_queue, count;
    struct entry *entries;
    int stop_fd;
    pthread_mutex_t lock; // guards go, created, failures, why, unregistered, abandoned
    pthread_cond_t changed;
    int go;               // 0 waiting for INIT, 1 register, -1 leave
    unsigned created;
    unsigned failures;
    char why[200];
    unsigned *unregistered; // per queue: entries that ended before taking any request
    int abandoned;          // the kernel was told to give up io_uring (see abandon_ring)
    const char *fault;      // ESTUARY_TEST_RING_FAULT, for tests
    _Atomic uint64_t init_unique;
    _Atomic uint64_t offered; // INIT flags the kernel offered
    _Atomic uint64_t wanted;  // of those, what the session's init asked for beyond libfuse 3.14
    _Atomic int active;
    _Atomic uint64_t requests;
    size_t payload_size;
};

static _Thread_local struct entry *current_entry;

// Sessions served by a ring, found by the userdata libfuse hands the I/O hooks.
#define MAX_RINGS 16
static _Atomic(struct estuary_ring *) rings[MAX_RINGS];

static struct estuary_ring *ring_of(void *userdata) {
    for (int i = 0; i < MAX_RINGS; i++) {
        struct estuary_ring *r = atomic_load_explicit(&rings[i], memory_order_acquire);
        if (r && r->userdata == userdata) return r;
    }
    return NULL;
}

static int publish(struct estuary_ring *r) {
    for (int i = 0; i < MAX_RINGS; i++) {
        struct estuary_ring *expected = NULL;
        if (atomic_compare_exchange_strong(&rings[i], &expected, r)) return 0;
    }
    return -1;
}

static void unpublish(struct estuary_ring *r) {
    for (int i = 0; i < MAX_RINGS; i++) {
        struct estuary_ring *expected = r;
        atomic_compare_exchange_strong(&rings[i], &expected, NULL);
    }
}

static void set_go(struct estuary_ring *r, int go) {
    pthread_mutex_lock(&r->lock);
    if (r->go == 0) r->go = go;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static void note_failure(struct estuary_ring *r, const char *what, int err) {
    pthread_mutex_lock(&r->lock);
    r->failures++;
    if (!r->why[0]) snprintf(r->why, sizeof r->why, "%s: %s", what, strerror(err));
    pthread_mutex_unlock(&r->lock);
}

// MARK: the I/O hooks

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata) {
    ssize_t n = read(fd, buf, len);
    if (n >= (ssize_t)(sizeof(struct in_header) + INIT_IN_FLAGS2 + 4)) {
        const struct in_header *h = buf;
        struct estuary_ring *r;
        if (h->opcode == OPCODE_INIT && (r = ring_of(userdata)) && !atomic_load(&r->init_unique)) {
            const char *in = (const char *)buf + sizeof *h;
            uint32_t flags, flags2;
            memcpy(&flags, in + INIT_IN_FLAGS, 4);
            memcpy(&flags2, in + INIT_IN_FLAGS2, 4);
            uint64_t offered = flags;
            if (flags & INIT_FLAG_EXT) offered |= (uint64_t)flags2 << 32;
            atomic_store(&r->offered, offered);
            atomic_store(&r->init_unique, h->unique);
        }
    }
    return n;
}

static size_t round_up(size_t value, size_t to) { return (value + to - 1) / to * to; }

// The INIT reply grants what the session's init wanted beyond libfuse 3.14, and asks for
// io_uring when the kernel offered it and threads wait for it; the ring threads register once
// the kernel has processed the reply (it marks the connection initialized while taking it).
static ssize_t init_reply(struct estuary_ring *r, int fd, struct iovec *iov, int count) {
    const struct out_header *oh = iov[0].iov_base;
    uint64_t offered = atomic_load(&r->offered);
    uint64_t grant = offered & atomic_load(&r->wanted);
    int asked = 0;
    if (oh->error == 0 && count >= 2 && iov[1].iov_len >= INIT_OUT_MIN) {
        char *out = iov[1].iov_base;
        uint32_t flags, flags2, max_write;
        uint16_t max_pages;
        memcpy(&flags, out + INIT_OUT_FLAGS, 4);
        memcpy(&flags2, out + INIT_OUT_FLAGS2, 4);
        memcpy(&max_write, out + INIT_OUT_MAX_WRITE, 4);
        memcpy(&max_pages, out + INIT_OUT_MAX_PAGES, 2);
        // The kernel refuses a payload buffer smaller than max(8 KiB, max_write, max_pages pages);
        // 32 pages is its default when the reply sets no page limit. The buffers were made
        // before INIT, so that nothing can fail between asking for io_uring and registering
        // (the kernel holds every request until each queue has registered an entry).
        size_t need = max_write;
        if ((size_t)max_pages * 4096 > need) need = (size_t)max_pages * 4096;
        if (need < 32 * 4096) need = 32 * 4096;
        if (r->count > 0 && (offered & INIT_OVER_IO_URING) && need <= r->payload_size) {
            grant |= INIT_OVER_IO_URING;
            asked = 1;
        }
        if (grant) {
            flags |= INIT_FLAG_EXT | (uint32_t)grant;
            flags2 |= (uint32_t)(grant >> 32);
            memcpy(out + INIT_OUT_FLAGS, &flags, 4);
            memcpy(out + INIT_OUT_FLAGS2, &flags2, 4);
        }
    }
    ssize_t n = writev(fd, iov, count);
    int saved = errno;
    set_go(r, asked && n >= 0 ? 1 : -1);
    errno = saved;
    return n;
}

// Copies a reply into the entry's buffers; the entry's thread commits it to the kernel.
static ssize_t ring_reply(struct entry *e, const struct iovec *iov, int count, int same_thread) {
    struct out_header oh;
    memcpy(&oh, iov[0].iov_base, sizeof oh);
    size_t total = 0;
    for (int i = 1; i < count; i++) total += iov[i].iov_len;
    if (!same_thread) pthread_mutex_lock(&e->lock);
    if (total > e->ring->payload_size) {
        // Cannot happen within the limits the kernel set; fail the request, not the entry.
        oh.error = -EIO;
        oh.len = sizeof oh;
        total = 0;
    } else if (!(count == 2 && iov[1].iov_base == e->payload)) {
        char *p = e->payload;
        for (int i = 1; i < count; i++) {
            memmove(p, iov[i].iov_base, iov[i].iov_len);
            p += iov[i].iov_len;
        }
    }
    memcpy(e->header->in_out, &oh, sizeof oh);
    e->header->ent.payload_sz = (uint32_t)total;
    atomic_store(&e->replied, 1);
    if (!same_thread) {
        pthread_cond_signal(&e->answered);
        pthread_mutex_unlock(&e->lock);
    }
    return (ssize_t)(sizeof oh + total);
}

static struct entry *entry_serving(struct estuary_ring *r, uint64_t unique) {
    for (unsigned i = 0; i < r->count; i++)
        if (atomic_load(&r->entries[i].unique) == unique) return &r->entries[i];
    return NULL;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata) {
    const struct out_header *oh = iov[0].iov_base;
    if (oh->unique != 0) { // 0 is a notification: always /dev/fuse
        struct entry *e = current_entry;
        if (e && atomic_load(&e->unique) == oh->unique) return ring_reply(e, iov, count, 1);
        struct estuary_ring *r = ring_of(userdata);
        if (r) {
            if (atomic_load(&r->active) && (e = entry_serving(r, oh->unique))) return ring_reply(e, iov, count, 0);
            if (oh->unique == atomic_load(&r->init_unique)) return init_reply(r, fd, iov, count);
        }
    }
    return writev(fd, iov, count);
}

// MARK: giving up io_uring after INIT

// Once the INIT reply asked for io_uring, the kernel holds every new request until each queue
// has registered an entry. A queue whose every entry failed before its registration reached
// the kernel (io_uring_enter failing, say) would hold them forever: the mount hangs. A
// registration the kernel refuses makes it clear the connection's io_uring flag and release
// what it holds to /dev/fuse, which the session loop still serves; so one is sent on purpose,
// naming a queue past the last (checked before anything else is looked at).
static void abandon_ring(struct estuary_ring *r) {
    struct io_uring uring;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_SQE128;
    int rc = io_uring_queue_init_params(2, &uring, &params);
    if (rc < 0) {
        note_failure(r, "io_uring_setup to give up io_uring", -rc);
        return;
    }
    struct iovec unused[2] = { { NULL, 0 }, { NULL, 0 } };
    struct io_uring_sqe *sqe = io_uring_get_sqe(&uring);
    memset(sqe, 0, 128);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = r->fd;
    sqe->cmd_op = CMD_REGISTER;
    sqe->addr = (uint64_t)(uintptr_t)unused;
    sqe->len = 2;
    ((struct cmd_req *)sqe->cmd)->qid = UINT16_MAX;
    rc = io_uring_submit_and_wait(&uring, 1);
    struct io_uring_cqe *cqe;
    if (rc >= 0 && io_uring_peek_cqe(&uring, &cqe) == 0) {
        rc = cqe->res;  // -EINVAL: the kernel refused it, and let go of io_uring
        io_uring_cqe_seen(&uring, cqe);
    }
    io_uring_queue_exit(&uring);
    if (rc != -EINVAL) note_failure(r, "giving up io_uring", rc < 0 ? -rc : EPROTO);
}

// An entry's thread ends after INIT asked for io_uring without having taken a request.
static void entry_unregistered(struct estuary_ring *r, unsigned qid) {
    pthread_mutex_lock(&r->lock);
    int abandon = ++r->unregistered[qid] == r->per_queue && !r->abandoned;
    if (abandon) r->abandoned = 1;
    pthread_mutex_unlock(&r->lock);
    if (abandon) abandon_ring(r);
}

// MARK: the ring threads

static void prepare_command(struct entry *e, uint32_t op, uint64_t commit_id) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&e->uring); // depth 4, at most 2 in flight
    memset(sqe, 0, 128);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = e->ring->fd;
    sqe->cmd_op = op;
    if (op == CMD_REGISTER) {
        sqe->addr = (uint64_t)(uintptr_t)e->iov;
        sqe->len = 2;
    }
    struct cmd_req *command = (struct cmd_req *)sqe->cmd;
    command->commit_id = commit_id;
    command->qid = (uint16_t)e->qid;
    io_uring_sqe_set_data(sqe, e);
}

// Hands one request to libfuse and waits for its reply (almost always given before
// fuse_session_process_buf returns, on this thread).
static void serve_request(struct entry *e) {
    struct estuary_ring *r = e->ring;
    struct in_header h;
    memcpy(&h, e->header->in_out, sizeof h);
    uint32_t payload_size = e->header->ent.payload_sz;
    uint64_t commit_id = e->header->ent.commit_id;
    long argument_size = (long)h.len - (long)sizeof h - (long)payload_size;
    atomic_store(&e->replied, 0);
    atomic_store(&e->unique, h.unique);
    if (!atomic_load_explicit(&r->active, memory_order_relaxed)) atomic_store(&r->active, 1);
    if (argument_size < 0 || argument_size > (long)sizeof e->header->op_in || payload_size > r->payload_size) {
        struct out_header oh = { sizeof oh, -EIO, h.unique };
        struct iovec iov = { &oh, sizeof oh };
        ring_reply(e, &iov, 1, 1);
    } else {
        char *start = e->payload - sizeof h - argument_size;
        memcpy(start, &h, sizeof h);
        memcpy(start + sizeof h, e->header->op_in, (size_t)argument_size);
        struct fuse_buf buf = { .size = h.len, .flags = 0, .mem = start, .fd = -1, .pos = 0 };
        current_entry = e;
        fuse_session_process_buf(r->session, &buf);
        current_entry = NULL;
        if (!atomic_load(&e->replied)) {
            pthread_mutex_lock(&e->lock);
            while (!atomic_load(&e->replied)) pthread_cond_wait(&e->answered, &e->lock);
            pthread_mutex_unlock(&e->lock);
        }
    }
    atomic_store(&e->unique, 0);
    atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
    prepare_command(e, CMD_COMMIT_AND_FETCH, commit_id);
}

static int wait_for_go(struct estuary_ring *r) {
    pthread_mutex_lock(&r->lock);
    while (r->go == 0) pthread_cond_wait(&r->changed, &r->lock);
    int go = r->go;
    pthread_mutex_unlock(&r->lock);
    return go;
}

static void *serve(void *argument) {
    struct entry *e = argument;
    struct estuary_ring *r = e->ring;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); // signals belong to the session loop
    cpu_set_t cpu;
    CPU_ZERO(&cpu);
    CPU_SET(e->qid, &cpu);
    (void)pthread_setaffinity_np(pthread_self(), sizeof cpu, &cpu); // an offline CPU stays unpinned

    // The ring is created here: with SINGLE_ISSUER only its creator may submit, and the
    // kernel queues a request's hand-over as work for the submitting thread.
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(4, &e->uring, &params);
    if (rc < 0) {
        note_failure(r, "io_uring_setup", -rc);
    } else {
        e->header = aligned_alloc(64, round_up(sizeof *e->header, 64));
        e->region = aligned_alloc(4096, HEAD_ROOM + r->payload_size);  // touched only as used
        if (!e->header || !e->region) note_failure(r, "ring buffers", ENOMEM);
    }
    // Failures are noted before the count, so the starter sees every one once all are counted.
    pthread_mutex_lock(&r->lock);
    r->created++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    if (rc < 0) return NULL;
    if (!e->header || !e->region || wait_for_go(r) < 0) goto leave;
    memset(e->header, 0, sizeof *e->header);
    e->payload = e->region + HEAD_ROOM;
    e->iov[0] = (struct iovec){ e->header, sizeof *e->header };
    e->iov[1] = (struct iovec){ e->payload, r->payload_size };

    struct io_uring_sqe *stop = io_uring_get_sqe(&e->uring);
    io_uring_prep_poll_add(stop, r->stop_fd, POLLIN);
    io_uring_sqe_set_data(stop, NULL);
    prepare_command(e, CMD_REGISTER, 0);
    int retries = 0, failed = 0;
    uint64_t served = 0;
    int injected = r->fault && !strcmp(r->fault, "register-queue-0") && e->qid == 0;
    for (;;) {
        rc = injected ? -EIO : io_uring_submit_and_wait(&e->uring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            note_failure(r, "io_uring_enter", -rc);
            failed = 1;
            break;
        }
        struct io_uring_cqe *cqe;
        int stopping = 0;
        while (io_uring_peek_cqe(&e->uring, &cqe) == 0) {
            struct entry *tagged = io_uring_cqe_get_data(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&e->uring, cqe);
            if (!tagged) { stopping = 1; break; }
            if (res == -EAGAIN && retries++ < 1000) { // the kernel has not finished INIT yet
                usleep(1000);
                prepare_command(e, CMD_REGISTER, 0);
                continue;
            }
            if (res < 0) { // ENOTCONN once unmounted; anything else ends this entry too
                if (res != -ENOTCONN && res != -ECONNABORTED && res != -ECANCELED) {
                    note_failure(r, "fuse ring command", -res);
                    failed = 1;
                }
                stopping = 1;
                break;
            }
            serve_request(e);
            served++;
        }
        if (stopping) break;
    }
    if (failed && !served) entry_unregistered(r, e->qid);
leave:
    io_uring_queue_exit(&e->uring);
    return NULL;
}

// MARK: life cycle

static unsigned possible_cpus(void) {
    // The kernel makes one queue per possible CPU and picks a request's queue by its CPU number.
    // The list ("0-3,8-11") is ascending, so its last number is the highest CPU.
    FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
    if (f) {
        char text[256];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = 0;
        long highest = -1;
        for (char *p = text; *p;) {
            if (*p >= '0' && *p <= '9') highest = strtol(p, &p, 10);
            else p++;
        }
        if (highest >= 0) return (unsigned)highest + 1;
    }
    long n = sysconf(_SC_NPROCESSORS_CONF);
    return n > 0 ? (unsigned)n : 1;
}

static void free_ring(struct estuary_ring *r) {
    for (unsigned i = 0; i < r->count; i++) {
        struct entry *e = &r->entries[i];
        free(e->header);
        free(e->region);
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->answered);
    }
    if (r->stop_fd >= 0) close(r->stop_fd);
    free(r->unregistered);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->changed);
    free(r->entries);
    free(r);
}

static void join_all(struct estuary_ring *r) {
    set_go(r, -1);
    uint64_t one = 1;
    if (write(r->stop_fd, &one, sizeof one) < 0) { /* the threads also end when the mount goes */ }
    for (unsigned i = 0; i < r->count; i++)
        if (r->entries[i].started) pthread_join(r->entries[i].thread, NULL);
}

struct estuary_ring *estuary_ring_start(void *session, void *userdata, unsigned threads_per_queue, size_t max_write,
                                        char *why, size_t why_size) {
    struct fuse_session *se = session;
    struct estuary_ring *r = calloc(1, sizeof *r);
    if (!r) { snprintf(why, why_size, "out of memory"); return NULL; }
    r->session = se;
    r->userdata = userdata;
    r->fd = fuse_session_fd(se);
    r->queues = possible_cpus();
    r->per_queue = threads_per_queue;
    r->count = r->queues * threads_per_queue;
    r->payload_size = round_up(max_write > 32 * 4096 ? max_write : 32 * 4096, 4096);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    r->stop_fd = eventfd(0, EFD_CLOEXEC);
    r->entries = calloc(r->count ? r->count : 1, sizeof *r->entries);
    r->unregistered = calloc(r->queues, sizeof *r->unregistered);
    // Tests make queue 0's registration fail, as an io_uring_enter failure would.
    r->fault = getenv("ESTUARY_TEST_RING_FAULT");
    if (r->stop_fd < 0 || !r->entries || !r->unregistered) {
        snprintf(why, why_size, "cannot allocate the ring: %s", strerror(errno));
        free_ring(r);
        return NULL;
    }
    unsigned started = 0;
    for (unsigned i = 0; i < r->count; i++) {
        struct entry *e = &r->entries[i];
        e->ring = r;
        e->qid = i / threads_per_queue;
        pthread_mutex_init(&e->lock, NULL);
        pthread_cond_init(&e->answered, NULL);
        int rc = pthread_create(&e->thread, NULL, serve, e);
        if (rc != 0) { note_failure(r, "pthread_create", rc); break; }
        e->started = 1;
        started++;
    }
    pthread_mutex_lock(&r->lock);
    while (r->created < started) pthread_cond_wait(&r->changed, &r->lock);
    int failed = r->failures > 0;
    pthread_mutex_unlock(&r->lock);
    if (!failed && publish(r) != 0) { note_failure(r, "too many rings in one process", EBUSY); failed = 1; }
    if (!failed) {
        struct fuse_custom_io io = { .writev = hook_writev, .read = hook_read };
        int rc = fuse_session_custom_io(se, &io, r->fd);
        if (rc != 0) { unpublish(r); note_failure(r, "fuse_session_custom_io", rc < 0 ? -rc : EINVAL); failed = 1; }
    }
    if (failed) {
        join_all(r);
        snprintf(why, why_size, "%s", r->why);
        free_ring(r);
        return NULL;
    }
    return r;
}

void estuary_ring_stop(struct estuary_ring *r) {
    if (!r) return;
    join_all(r);
    unpublish(r);
    free_ring(r);
}

static int want(void *userdata, uint64_t flag) {
    struct estuary_ring *r = ring_of(userdata);
    if (!r || !(atomic_load(&r->offered) & flag)) return 0;
    atomic_fetch_or(&r->wanted, flag);
    return 1;
}

int estuary_ring_want_direct_io_mmap(void *userdata) { return want(userdata, INIT_DIRECT_IO_ALLOW_MMAP); }
int estuary_ring_want_handle_killpriv_v2(void *userdata) { return want(userdata, INIT_HANDLE_KILLPRIV_V2); }

int estuary_ring_active(const struct estuary_ring *r) { return r && atomic_load(&((struct estuary_ring *)r)->active); }

int estuary_ring_failure(struct estuary_ring *r, char *why, size_t why_size) {
    if (!r) return 0;
    pthread_mutex_lock(&r->lock);
    int failed = r->failures > 0;
    if (failed) snprintf(why, why_size, "%s%s", r->abandoned ? "given up after INIT: " : "", r->why);
    pthread_mutex_unlock(&r->lock);
    return failed;
}
unsigned estuary_ring_queues(const struct estuary_ring *r) { return r ? r->queues : 0; }
unsigned estuary_ring_threads_per_queue(const struct estuary_ring *r) { return r ? r->per_queue : 0; }
uint64_t estuary_ring_requests(const struct estuary_ring *r) {
    return r ? atomic_load_explicit(&((struct estuary_ring *)r)->requests, memory_order_relaxed) : 0;
}

int estuary_ring_reply_fd(void *request, int fd, int64_t offset, size_t size) {
    fuse_req_t req = request;
    struct entry *e = current_entry;
    if (e && size <= e->ring->payload_size) {
        size_t done = 0;
        while (done < size) {
            ssize_t n = pread(fd, e->payload + done, size - done, offset + (off_t)done);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (done > 0) break;
                return fuse_reply_err(req, errno);
            }
            if (n == 0) break;
            done += (size_t)n;
        }
        return fuse_reply_buf(req, e->payload, done);
    }
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buf.buf[0].fd = fd;
    buf.buf[0].pos = offset;
    return fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}
