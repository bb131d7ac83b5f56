/*
 * aio: io_uring through raw system calls, or a thread pool, behind one queue.
 *
 * DESIGN
 * Who runs: the owner thread (the one that opened the queue) queues
 * operations, submits them and reaps completions. With io_uring nothing
 * else in user space runs: the kernel performs each operation when its file
 * or socket is ready and posts a completion. With the pool, `pool_threads`
 * threads take requests from a queue, do blocking write() calls (or
 * non-blocking socket calls) and post completions. Socket operations that
 * must wait are armed in the pool's own epoll set (one-shot); a poller
 * thread, started by the first socket operation, waits on that set and puts
 * what became ready back on the queue for a pool thread to perform.
 *
 * Who owns what: io_uring: the owner alone writes the SQ tail and the CQ
 * head; the kernel writes the SQ head and the CQ tail. Pool: the request
 * queue, the completion list and the socket-operation slots (state,
 * generation, cancel flag) sit under one mutex; `pending` (operations
 * queued but not yet handed to the pool) is the owner's alone. A slot's
 * epoll registration carries its generation, so a readiness event for a
 * slot that was cancelled or reused is recognised and ignored. The counters
 * are relaxed atomics: the owner's have one writer, the workers' are added
 * with fetch_add, and readers only want a recent value.
 *
 * Locks: one mutex (pool only), never held across a system call other than
 * the futex inside pthread_cond_wait.
 *
 * Shutdown: aio_close waits (bounded) until nothing is in flight, then the
 * pool threads and the poller are told to quit, woken and joined, or the
 * ring is unmapped and closed. Operations still in flight after the bound
 * are cancelled by the kernel when the ring closes (pool: dropped). An
 * owner with receives that may never complete (idle sockets) cancels them
 * first with aio_cancel and reaps the cancellations.
 */
#include "config.h"

#include "aio.h"

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RLX memory_order_relaxed
#define POOL_MAX 64

enum aio_op { OP_WRITE, OP_RECV, OP_SEND, OP_ACCEPT };

struct aio_req {
    int fd;
    int op;   /* enum aio_op */
    int slot; /* pool socket operations: index in slots[] once handed over, else -1 */
    void *buf;
    size_t len;
    uint64_t user;
};

/* Where a pool socket operation is (under mu). */
enum { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_ARMED };

struct aio_slot {
    struct aio_req r;
    int state;
    bool cancel;  /* the owner asked it to end */
    uint32_t gen; /* bumped each time the slot is freed */
};

struct aio;

struct aio_worker {
    struct aio *a;
    int idx;
};

struct aio {
    enum aio_backend backend;
    unsigned depth;    /* operations allowed at once */
    unsigned inflight; /* queued or in flight, not reaped (owner only) */
    _Atomic uint64_t submitted, completed, owner_syscalls;
    _Atomic uint64_t worker_writes, worker_syscalls, worker_cpu_ns;
    /* io_uring */
    int ring_fd;
    void *sq_ptr, *cq_ptr;
    size_t sq_sz, cq_sz;
    struct io_uring_sqe *sqes;
    size_t sqes_sz;
    _Atomic unsigned *sq_head, *sq_tail, *cq_head, *cq_tail;
    unsigned *sq_array, sq_mask, cq_mask, sq_entries;
    struct io_uring_cqe *cqes;
    unsigned to_submit; /* SQEs written since the last io_uring_enter */
    /* pool */
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct aio_req *q; /* ring of requests handed to the pool (under mu) */
    unsigned qhead, qtail;
    struct aio_done *done; /* ring of completions (under mu) */
    unsigned dhead, dtail;
    struct aio_req *pending; /* owner-private: queued, not yet handed over */
    unsigned npending;
    int quit; /* under mu */
    int efd;
    int nthreads;
    pthread_t threads[POOL_MAX];
    struct aio_worker workers[POOL_MAX];
    aio_worker_fn fn;
    void *fn_arg;
    /* pool socket operations (slots and free list under mu) */
    struct aio_slot *slots;
    unsigned *freelist, nfree;
    int pep;   /* the poller's epoll set */
    int pwake; /* eventfd that wakes the poller to quit */
    int poller_up;
    pthread_t poller;
};

/* Add to a counter only its single writer touches. */
static void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

/* The smallest power of two >= n. */
static unsigned pow2(unsigned n)
{
    unsigned p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* The raw system calls (glibc has no wrappers). */
static int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                              const void *arg, size_t argsz)
{
    return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz);
}

/* Set up the rings; 0, or a positive errno saying why io_uring cannot be used. */
static int uring_open(struct aio *a)
{
#ifdef HAVE_VALGRIND_VALGRIND_H
    /*
     * Valgrind runs one thread at a time and does not know io_uring_enter
     * blocks: a wait for completions would hold every other thread, the
     * receivers that complete the writes among them. Use the pool instead.
     */
    if (RUNNING_ON_VALGRIND)
        return ENOSYS;
#endif
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = sys_io_uring_setup(pow2(a->depth), &p);
    if (fd < 0)
        return errno;
    a->ring_fd = fd;
    /* Waiting with a timeout needs IORING_ENTER_EXT_ARG (Linux 5.11). */
    if (!(p.features & IORING_FEAT_EXT_ARG)) {
        close(fd);
        a->ring_fd = -1;
        return ENOSYS;
    }
    a->sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    a->cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single)
        a->sq_sz = a->cq_sz = a->sq_sz > a->cq_sz ? a->sq_sz : a->cq_sz;
    a->sq_ptr = mmap(NULL, a->sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                     IORING_OFF_SQ_RING);
    if (a->sq_ptr == MAP_FAILED)
        goto fail;
    a->cq_ptr = single ? a->sq_ptr
                       : mmap(NULL, a->cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                              IORING_OFF_CQ_RING);
    if (a->cq_ptr == MAP_FAILED)
        goto fail;
    a->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
    a->sqes = mmap(NULL, a->sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                   IORING_OFF_SQES);
    if (a->sqes == MAP_FAILED)
        goto fail;
    char *sq = a->sq_ptr, *cq = a->cq_ptr;
    a->sq_head = (_Atomic unsigned *)(sq + p.sq_off.head);
    a->sq_tail = (_Atomic unsigned *)(sq + p.sq_off.tail);
    a->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    a->sq_entries = p.sq_entries;
    a->sq_array = (unsigned *)(sq + p.sq_off.array);
    a->cq_head = (_Atomic unsigned *)(cq + p.cq_off.head);
    a->cq_tail = (_Atomic unsigned *)(cq + p.cq_off.tail);
    a->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
    a->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
fail:;
    int err = errno;
    if (a->sqes && a->sqes != MAP_FAILED)
        munmap(a->sqes, a->sqes_sz);
    if (a->cq_ptr && a->cq_ptr != MAP_FAILED && a->cq_ptr != a->sq_ptr)
        munmap(a->cq_ptr, a->cq_sz);
    if (a->sq_ptr && a->sq_ptr != MAP_FAILED)
        munmap(a->sq_ptr, a->sq_sz);
    a->sq_ptr = a->cq_ptr = NULL;
    a->sqes = NULL;
    close(fd);
    a->ring_fd = -1;
    return err;
}

/* write() until everything is written or it fails; counts each call. */
static int64_t write_all(struct aio *a, const struct aio_req *r)
{
    size_t off = 0;
    while (off < r->len) {
        ssize_t n = write(r->fd, (const char *)r->buf + off, r->len - off);
        atomic_fetch_add_explicit(&a->worker_writes, 1, RLX);
        atomic_fetch_add_explicit(&a->worker_syscalls, 1, RLX);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return off ? (int64_t)off : -errno;
        off += (size_t)n;
    }
    return (int64_t)off;
}

/* Give a slot back (under mu): a late readiness event for it will not match. */
static void slot_free(struct aio *a, int k)
{
    a->slots[k].state = SLOT_FREE;
    a->slots[k].cancel = false;
    a->slots[k].gen++;
    a->freelist[a->nfree++] = (unsigned)k;
}

/* Post a completion (under mu). */
static void post_locked(struct aio *a, uint64_t user, int64_t res)
{
    a->done[a->dtail++ % a->depth] = (struct aio_done){user, res};
}

/* Tell the owner that completions are waiting. */
static void post_wake(struct aio *a)
{
    uint64_t one = 1;
    if (write(a->efd, &one, sizeof one) < 0) {
        /* eventfd writes only fail on overflow, which 2^64 - 1 posts would need. */
    }
    atomic_fetch_add_explicit(&a->worker_syscalls, 1, RLX);
}

/* Arm a slot's socket in the poller's set, one-shot, tagged with its generation. */
static void slot_arm(struct aio *a, int fd, int op, int k, uint32_t gen, _Atomic uint64_t *count)
{
    struct epoll_event ev = {.events = (op == OP_SEND ? EPOLLOUT : EPOLLIN) | EPOLLONESHOT,
                             .data.u64 = (uint64_t)gen << 32 | (uint32_t)k};
    int rc = epoll_ctl(a->pep, EPOLL_CTL_MOD, fd, &ev);
    atomic_fetch_add_explicit(count, 1, RLX);
    if (rc < 0 && errno == ENOENT) {
        epoll_ctl(a->pep, EPOLL_CTL_ADD, fd, &ev);
        atomic_fetch_add_explicit(count, 1, RLX);
    }
}

/* One non-blocking socket call for a pool slot: its result, or -EAGAIN. */
static int64_t sock_call(struct aio *a, const struct aio_req *r)
{
    ssize_t n;
    do {
        if (r->op == OP_RECV)
            n = recv(r->fd, r->buf, r->len, MSG_DONTWAIT);
        else if (r->op == OP_SEND)
            n = send(r->fd, r->buf, r->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            n = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC); /* blocking, as io_uring's */
        atomic_fetch_add_explicit(&a->worker_syscalls, 1, RLX);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : (int64_t)n;
}

/* A pool thread's turn at a socket slot: perform it, or arm it again if it must wait. */
static void pool_sock(struct aio *a, int idx, int k)
{
    pthread_mutex_lock(&a->mu);
    struct aio_slot *s = &a->slots[k];
    if (s->cancel) {
        post_locked(a, s->r.user, -ECANCELED);
        slot_free(a, k);
        pthread_mutex_unlock(&a->mu);
        post_wake(a);
        return;
    }
    s->state = SLOT_RUNNING;
    struct aio_req r = s->r;
    uint32_t gen = s->gen;
    pthread_mutex_unlock(&a->mu);
    if (a->fn)
        a->fn(a->fn_arg, idx, true);
    int64_t res = sock_call(a, &r);
    if (a->fn)
        a->fn(a->fn_arg, idx, false);
    pthread_mutex_lock(&a->mu);
    bool arm = res == -EAGAIN && !s->cancel;
    if (arm) {
        s->state = SLOT_ARMED;
    } else {
        post_locked(a, r.user, res == -EAGAIN ? -ECANCELED : res);
        slot_free(a, k);
    }
    pthread_mutex_unlock(&a->mu);
    if (arm)
        slot_arm(a, r.fd, r.op, k, gen, &a->worker_syscalls);
    else
        post_wake(a);
}

/* A pool thread: take a request, do the blocking write or the socket call, post the completion. */
static void *pool_main(void *p)
{
    struct aio_worker *w = p;
    struct aio *a = w->a;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->quit && a->qhead == a->qtail)
            pthread_cond_wait(&a->work, &a->mu);
        if (a->quit) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        struct aio_req r = a->q[a->qhead++ % a->depth];
        pthread_mutex_unlock(&a->mu);
        if (r.slot >= 0) {
            pool_sock(a, w->idx, r.slot);
            continue;
        }
        if (a->fn)
            a->fn(a->fn_arg, w->idx, true);
        int64_t res = write_all(a, &r);
        if (a->fn)
            a->fn(a->fn_arg, w->idx, false);
        pthread_mutex_lock(&a->mu);
        post_locked(a, r.user, res);
        pthread_mutex_unlock(&a->mu);
        post_wake(a);
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    atomic_fetch_add_explicit(&a->worker_cpu_ns,
                              (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, RLX);
    return NULL;
}

/* The poller: wait for armed sockets to become ready, queue them for the pool threads. */
static void *poller_main(void *p)
{
    struct aio *a = p;
    struct epoll_event ev[64];
    for (;;) {
        int n = epoll_wait(a->pep, ev, 64, -1);
        atomic_fetch_add_explicit(&a->worker_syscalls, 1, RLX);
        if (n < 0 && errno != EINTR)
            break;
        if (a->fn)
            a->fn(a->fn_arg, AIO_POLLER, true);
        pthread_mutex_lock(&a->mu);
        int quit = a->quit, woke = 0;
        for (int i = 0; i < n && !quit; i++) {
            if (ev[i].data.u64 == AIO_USER_RESERVED)
                continue;
            unsigned k = (uint32_t)ev[i].data.u64;
            if (k >= a->depth)
                continue;
            struct aio_slot *s = &a->slots[k];
            if (s->gen != (uint32_t)(ev[i].data.u64 >> 32) || s->state != SLOT_ARMED)
                continue; /* cancelled or reused since it was armed */
            s->state = SLOT_QUEUED;
            a->q[a->qtail++ % a->depth] = (struct aio_req){.slot = (int)k};
            woke++;
        }
        if (woke)
            pthread_cond_broadcast(&a->work);
        pthread_mutex_unlock(&a->mu);
        if (a->fn)
            a->fn(a->fn_arg, AIO_POLLER, false);
        if (quit)
            break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    atomic_fetch_add_explicit(&a->worker_cpu_ns,
                              (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, RLX);
    return NULL;
}

/* The first socket operation in the pool: the slots, the epoll set and the poller. 0 or -errno. */
static int pool_sock_open(struct aio *a)
{
    if (a->poller_up)
        return 0;
    if (!a->slots) {
        a->slots = calloc(a->depth, sizeof *a->slots);
        a->freelist = calloc(a->depth, sizeof *a->freelist);
        if (!a->slots || !a->freelist)
            return -ENOMEM;
        for (unsigned k = 0; k < a->depth; k++)
            a->freelist[a->nfree++] = a->depth - 1 - k;
    }
    if (a->pep < 0 && (a->pep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -errno;
    if (a->pwake < 0) {
        if ((a->pwake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            return -errno;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = AIO_USER_RESERVED};
        if (epoll_ctl(a->pep, EPOLL_CTL_ADD, a->pwake, &ev) < 0)
            return -errno;
    }
    int rc = pthread_create(&a->poller, NULL, poller_main, a);
    if (rc)
        return -rc;
    a->poller_up = 1;
    return 0;
}

/* Start the pool: 0 or -errno. */
static int pool_open(struct aio *a, int nthreads)
{
    a->q = calloc(a->depth, sizeof *a->q);
    a->done = calloc(a->depth, sizeof *a->done);
    a->pending = calloc(a->depth, sizeof *a->pending);
    if (!a->q || !a->done || !a->pending)
        return -ENOMEM;
    a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->efd < 0)
        return -errno;
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > POOL_MAX)
        nthreads = POOL_MAX;
    for (int i = 0; i < nthreads; i++) {
        a->workers[i] = (struct aio_worker){a, i};
        int rc = pthread_create(&a->threads[i], NULL, pool_main, &a->workers[i]);
        if (rc)
            return -rc;
        a->nthreads++;
    }
    return 0;
}

/* Try io_uring when asked, else (or on failure) start the pool. */
int aio_open(struct aio **out, unsigned depth, bool want_uring, int pool_threads, aio_worker_fn fn,
             void *arg, int *uring_err)
{
    struct aio *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->depth = depth ? depth : 1;
    a->ring_fd = -1;
    a->efd = -1;
    a->pep = -1;
    a->pwake = -1;
    a->fn = fn;
    a->fn_arg = arg;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->work, NULL);
    int err = want_uring ? uring_open(a) : 0;
    if (uring_err)
        *uring_err = err;
    if (want_uring && err == 0) {
        a->backend = AIO_URING;
        *out = a;
        return 0;
    }
    a->backend = AIO_POOL;
    int rc = pool_open(a, pool_threads);
    if (rc) {
        aio_close(a, 0, NULL);
        return rc;
    }
    *out = a;
    return 0;
}

/* Which of the two does the work. */
enum aio_backend aio_backend_of(const struct aio *a)
{
    return a->backend;
}

/* Write one SQE for op into the ring; 0 or -EAGAIN when the ring is full. */
static int uring_prep(struct aio *a, int op, int fd, void *buf, size_t len, uint64_t user)
{
    unsigned tail = atomic_load_explicit(a->sq_tail, RLX); /* only we write it */
    /* Acquire pairs with the kernel's release of sq_head: the slot is free. */
    if (tail - atomic_load_explicit(a->sq_head, memory_order_acquire) >= a->sq_entries)
        return -EAGAIN;
    unsigned idx = tail & a->sq_mask;
    struct io_uring_sqe *sqe = &a->sqes[idx];
    memset(sqe, 0, sizeof *sqe);
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = (uint32_t)len;
    sqe->user_data = user;
    switch (op) {
    case OP_WRITE:
        sqe->opcode = IORING_OP_WRITE;
        sqe->off = (uint64_t)-1; /* the file's own position (pipes have none) */
        break;
    case OP_RECV:
        sqe->opcode = IORING_OP_RECV;
        break;
    case OP_SEND:
        sqe->opcode = IORING_OP_SEND;
        sqe->msg_flags = MSG_NOSIGNAL;
        break;
    case OP_ACCEPT:
        sqe->opcode = IORING_OP_ACCEPT;
        sqe->accept_flags = SOCK_CLOEXEC;
        break;
    default: /* a cancellation: buf holds the tag of the operation to cancel */
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->fd = -1;
        break;
    }
    a->sq_array[idx] = idx;
    /* Release pairs with the kernel's acquire of sq_tail: it sees the whole SQE. */
    atomic_store_explicit(a->sq_tail, tail + 1, memory_order_release);
    a->to_submit++;
    return 0;
}

/* Queue one operation: an SQE in the ring, or a request kept until the next wait. */
static int queue_op(struct aio *a, int op, int fd, void *buf, size_t len, uint64_t user)
{
    if (a->inflight >= a->depth || user == AIO_USER_RESERVED)
        return -EAGAIN;
    if (a->backend == AIO_URING) {
        int rc = uring_prep(a, op, fd, buf, len, user);
        if (rc)
            return rc;
    } else {
        a->pending[a->npending++] = (struct aio_req){fd, op, -1, buf, len, user};
    }
    a->inflight++;
    bump(&a->submitted, 1);
    return 0;
}

int aio_write(struct aio *a, int fd, const void *buf, size_t len, uint64_t user)
{
    return queue_op(a, OP_WRITE, fd, (void *)(uintptr_t)buf, len, user);
}

int aio_recv(struct aio *a, int fd, void *buf, size_t len, uint64_t user)
{
    return queue_op(a, OP_RECV, fd, buf, len, user);
}

int aio_send(struct aio *a, int fd, const void *buf, size_t len, uint64_t user)
{
    return queue_op(a, OP_SEND, fd, (void *)(uintptr_t)buf, len, user);
}

int aio_accept(struct aio *a, int fd, uint64_t user)
{
    return queue_op(a, OP_ACCEPT, fd, NULL, 0, user);
}

/* io_uring: an ASYNC_CANCEL for the tag. Pool: end it wherever it is. */
int aio_cancel(struct aio *a, uint64_t user)
{
    if (a->backend == AIO_URING)
        return uring_prep(a, -1, -1, (void *)(uintptr_t)user, 0, AIO_USER_RESERVED);
    int rc = -ENOENT, fd = -1;
    pthread_mutex_lock(&a->mu);
    for (unsigned i = 0; i < a->npending; i++) {
        if (a->pending[i].user == user) {
            /* Not handed over yet: it completes cancelled, in the done list. */
            post_locked(a, user, -ECANCELED);
            a->pending[i] = a->pending[--a->npending];
            rc = 0;
            break;
        }
    }
    for (unsigned i = 0; rc && a->slots && i < a->depth; i++) {
        struct aio_slot *s = &a->slots[i];
        if (s->state == SLOT_FREE || s->r.user != user || s->cancel)
            continue;
        rc = 0;
        if (s->state == SLOT_ARMED) {
            post_locked(a, user, -ECANCELED);
            fd = s->r.fd;
            slot_free(a, (int)i);
        } else {
            s->cancel = true; /* queued or running: the pool thread posts it */
        }
        break;
    }
    pthread_mutex_unlock(&a->mu);
    if (fd >= 0) {
        /* Disarm it (a readiness event already on its way no longer matches the generation). */
        epoll_ctl(a->pep, EPOLL_CTL_DEL, fd, NULL);
        bump(&a->owner_syscalls, 1);
    }
    return rc;
}

/* Copy out what the kernel has completed; returns how many. */
static int uring_reap(struct aio *a, struct aio_done *out, int max)
{
    unsigned head = atomic_load_explicit(a->cq_head, RLX); /* only we write it */
    /* Acquire pairs with the kernel's release of cq_tail: the CQEs are written. */
    unsigned tail = atomic_load_explicit(a->cq_tail, memory_order_acquire);
    int n = 0;
    while (head != tail && n < max) {
        const struct io_uring_cqe *c = &a->cqes[head & a->cq_mask];
        if (c->user_data != AIO_USER_RESERVED) /* a cancellation's own completion */
            out[n++] = (struct aio_done){c->user_data, c->res};
        head++;
    }
    /* Release: the kernel may reuse the slots once it sees the new head. */
    atomic_store_explicit(a->cq_head, head, memory_order_release);
    return n;
}

/* Submit what is queued and wait for completions in one io_uring_enter. */
static int uring_wait(struct aio *a, struct aio_done *out, int max, uint64_t timeout_ns)
{
    int n = uring_reap(a, out, max);
    if (n > 0 && a->to_submit == 0)
        return n;
    struct __kernel_timespec ts = {(long long)(timeout_ns / 1000000000u),
                                   (long long)(timeout_ns % 1000000000u)};
    struct io_uring_getevents_arg ga;
    memset(&ga, 0, sizeof ga);
    ga.sigmask_sz = _NSIG / 8;
    ga.ts = (uint64_t)(uintptr_t)&ts;
    unsigned flags = IORING_ENTER_EXT_ARG | (n == 0 ? IORING_ENTER_GETEVENTS : 0);
    /* One call hands every new SQE over and, if nothing is ready yet, waits. */
    int rc = sys_io_uring_enter(a->ring_fd, a->to_submit, n == 0 ? 1 : 0, flags, &ga, sizeof ga);
    bump(&a->owner_syscalls, 1);
    if (rc < 0 && errno != ETIME && errno != EINTR && errno != EBUSY)
        return -errno;
    if (rc >= 0)
        a->to_submit -= (unsigned)rc < a->to_submit ? (unsigned)rc : a->to_submit;
    return n + uring_reap(a, out + n, max - n);
}

/* Hand the pending requests to the pool and collect what it finished. */
static int pool_wait(struct aio *a, struct aio_done *out, int max, uint64_t timeout_ns)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool sock = false;
        for (unsigned i = 0; i < a->npending && !sock; i++)
            sock = a->pending[i].op != OP_WRITE;
        if (sock && pool_sock_open(a) != 0) {
            /* No poller: the socket operations fail rather than wait forever. */
            for (unsigned i = 0; i < a->npending;) {
                if (a->pending[i].op == OP_WRITE) {
                    i++;
                    continue;
                }
                pthread_mutex_lock(&a->mu);
                post_locked(a, a->pending[i].user, -ENOMEM);
                pthread_mutex_unlock(&a->mu);
                a->pending[i] = a->pending[--a->npending];
            }
        }
        int arm[64], narm = 0;
        struct aio_req armed[64];
        uint32_t gens[64];
        pthread_mutex_lock(&a->mu);
        unsigned keep = 0;
        for (unsigned i = 0; i < a->npending; i++) {
            struct aio_req r = a->pending[i];
            if (r.op != OP_WRITE) {
                bool wait_first = r.op != OP_SEND;
                if (wait_first && narm == 64) {
                    a->pending[keep++] = r; /* armed at the next wait */
                    continue;
                }
                int k = (int)a->freelist[--a->nfree];
                r.slot = k;
                a->slots[k].r = r;
                a->slots[k].cancel = false;
                if (wait_first) {
                    /* Receives and accepts wait for readiness first: the owner arms them. */
                    a->slots[k].state = SLOT_ARMED;
                    armed[narm] = r;
                    gens[narm] = a->slots[k].gen;
                    arm[narm++] = k;
                    continue;
                }
                a->slots[k].state = SLOT_QUEUED;
            }
            a->q[a->qtail++ % a->depth] = r;
        }
        if (a->npending > keep)
            pthread_cond_broadcast(&a->work);
        a->npending = keep;
        while (a->dhead != a->dtail && n < max)
            out[n++] = a->done[a->dhead++ % a->depth];
        pthread_mutex_unlock(&a->mu);
        for (int i = 0; i < narm; i++)
            slot_arm(a, armed[i].fd, armed[i].op, arm[i], gens[i], &a->owner_syscalls);
        if (n > 0 || pass == 1)
            break;
        /* Nothing yet: sleep on the eventfd the pool threads write. */
        struct pollfd pfd = {a->efd, POLLIN, 0};
        struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
        int rc = ppoll(&pfd, 1, &ts, NULL);
        bump(&a->owner_syscalls, 1);
        if (rc <= 0)
            break;
        uint64_t cnt;
        if (read(a->efd, &cnt, sizeof cnt) < 0) {
            /* EAGAIN: another wake-up already took the count; the list is what matters. */
        }
        bump(&a->owner_syscalls, 1);
    }
    return n;
}

/* Submit, wait, reap: whichever backend. */
int aio_wait(struct aio *a, struct aio_done *out, int max, uint64_t timeout_ns)
{
    int n = a->backend == AIO_URING ? uring_wait(a, out, max, timeout_ns)
                                    : pool_wait(a, out, max, timeout_ns);
    if (n > 0) {
        a->inflight -= (unsigned)n;
        bump(&a->completed, (uint64_t)n);
    }
    return n;
}

/* Queued or in flight, not yet reaped. */
unsigned aio_inflight(const struct aio *a)
{
    return a->inflight;
}

/* A recent copy of the counters (any thread). */
void aio_counts(const struct aio *a, struct aio_counts *c)
{
    c->submitted = atomic_load_explicit(&a->submitted, RLX);
    c->completed = atomic_load_explicit(&a->completed, RLX);
    c->owner_syscalls = atomic_load_explicit(&a->owner_syscalls, RLX);
    c->worker_writes = atomic_load_explicit(&a->worker_writes, RLX);
    c->worker_syscalls = atomic_load_explicit(&a->worker_syscalls, RLX);
    c->worker_cpu_ns = atomic_load_explicit(&a->worker_cpu_ns, RLX);
}

/* Drain (bounded), then stop the pool or close the ring, and free. */
void aio_close(struct aio *a, uint64_t drain_ns, struct aio_counts *final)
{
    if (!a)
        return;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct aio_done scratch[64];
    while (a->inflight > 0 && (a->ring_fd >= 0 || a->nthreads > 0)) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t spent =
            (uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t.tv_nsec - t0.tv_nsec);
        if (spent >= drain_ns)
            break;
        if (aio_wait(a, scratch, 64, 10000000) < 0)
            break;
    }
    if (a->backend == AIO_POOL) {
        if (a->nthreads || a->poller_up) {
            pthread_mutex_lock(&a->mu);
            a->quit = 1;
            pthread_cond_broadcast(&a->work);
            pthread_mutex_unlock(&a->mu);
            for (int i = 0; i < a->nthreads; i++)
                pthread_join(a->threads[i], NULL);
        }
        if (a->poller_up) {
            uint64_t one = 1;
            if (write(a->pwake, &one, sizeof one) < 0) {
                /* cannot overflow: written once */
            }
            pthread_join(a->poller, NULL);
        }
        if (a->pep >= 0)
            close(a->pep);
        if (a->pwake >= 0)
            close(a->pwake);
        if (a->efd >= 0)
            close(a->efd);
    } else {
        munmap(a->sqes, a->sqes_sz);
        if (a->cq_ptr != a->sq_ptr)
            munmap(a->cq_ptr, a->cq_sz);
        munmap(a->sq_ptr, a->sq_sz);
        close(a->ring_fd);
    }
    if (final)
        aio_counts(a, final);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->work);
    free(a->q);
    free(a->done);
    free(a->pending);
    free(a->slots);
    free(a->freelist);
    free(a);
}
