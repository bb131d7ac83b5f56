/*
 * aio: asynchronous I/O with completion notification. The owner thread
 * queues writes (and socket receives, sends and accepts) and reaps
 * completions; the work itself is done elsewhere: by the kernel through
 * io_uring (raw system calls, no library), or, where io_uring is
 * unavailable or not wanted, by a small pool of threads doing ordinary
 * blocking writes and posting completions through an eventfd (what libuv
 * does for files). Socket operations in the pool are emulated the way
 * Boost.Asio does on a reactor: a poller thread waits for readiness (epoll)
 * and a pool thread then makes the call and posts the completion.
 *
 * One owner thread calls everything except aio_counts, which any thread may
 * call. At most `depth` operations may be queued or in flight at once.
 */
#ifndef CONCTUI_AIO_H
#define CONCTUI_AIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum aio_backend { AIO_URING, AIO_POOL };

/* One finished operation: the caller's tag and the call's result (or -errno). */
struct aio_done {
    uint64_t user;
    int64_t res;
};

/* Work done so far, by whom (each a system call the module made). */
struct aio_counts {
    uint64_t submitted;       /* operations queued */
    uint64_t completed;       /* completions reaped */
    uint64_t owner_syscalls;  /* io_uring_enter, or ppoll + read of the eventfd */
    uint64_t worker_writes;   /* pool: write() calls made by the pool threads */
    uint64_t worker_syscalls; /* pool: writes plus eventfd notifications */
    uint64_t worker_cpu_ns;   /* pool: CPU time of the pool threads that have exited */
};

/* The pool's poller thread (started by the first socket operation) reports as this worker. */
#define AIO_POLLER 64
/* A tag the module keeps for itself: never pass it as `user`. */
#define AIO_USER_RESERVED UINT64_MAX

/* Told when a pool thread starts (busy = true) and finishes (false) an operation. */
typedef void (*aio_worker_fn)(void *arg, int worker, bool busy);

struct aio;

/*
 * Open a queue for `depth` operations. With want_uring, try io_uring first;
 * on failure *uring_err gets the reason (a positive errno) and the pool is
 * used. 0 or -errno.
 */
int aio_open(struct aio **out, unsigned depth, bool want_uring, int pool_threads, aio_worker_fn fn,
             void *arg, int *uring_err);
enum aio_backend aio_backend_of(const struct aio *a);
/* Queue a write of len bytes from buf (kept valid until it completes). 0 or -EAGAIN. */
int aio_write(struct aio *a, int fd, const void *buf, size_t len, uint64_t user);
/*
 * Socket operations (0 or -EAGAIN when `depth` are already queued). recv
 * and send complete with recv()'s and send()'s result (a send may be
 * short; it never raises SIGPIPE); accept completes with the new
 * descriptor (close-on-exec, blocking) or -errno. In the pool, sends are
 * tried at once; receives and accepts wait for readiness first, and each
 * descriptor may have one operation waiting at a time.
 */
int aio_recv(struct aio *a, int fd, void *buf, size_t len, uint64_t user);
int aio_send(struct aio *a, int fd, const void *buf, size_t len, uint64_t user);
int aio_accept(struct aio *a, int fd, uint64_t user);
/*
 * Ask that the queued or in-flight operation tagged user end now. It still
 * completes once: with -ECANCELED, or with its own result when it finished
 * first (an accepted descriptor must then be closed). 0 or -EAGAIN (the
 * submission queue is full: wait, then ask again).
 */
int aio_cancel(struct aio *a, uint64_t user);
/*
 * Hand queued operations over and wait up to timeout_ns for at least one
 * completion. Returns how many were stored in out (0 on timeout) or -errno.
 */
int aio_wait(struct aio *a, struct aio_done *out, int max, uint64_t timeout_ns);
/* Operations queued or in flight and not yet reaped. */
unsigned aio_inflight(const struct aio *a);
void aio_counts(const struct aio *a, struct aio_counts *c);
/*
 * Wait (at most drain_ns) for what is in flight, then stop the pool threads
 * or tear the ring down, and free everything; final (if not NULL) gets the
 * last counts.
 */
void aio_close(struct aio *a, uint64_t drain_ns, struct aio_counts *final);

#endif
