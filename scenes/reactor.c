/*
 * Scene: reactor against proactor on real sockets.
 *
 * A small TCP server on 127.0.0.1 answers a line-echo protocol and enough
 * HTTP/1.1 (keep-alive) for curl and wrk. It runs in one of two models:
 * a reactor (a libuv loop, epoll on Linux: readiness arrives and the loop
 * thread makes the recv and send calls itself) or a proactor (io_uring
 * through src/aio.c: the loop submits receives and sends and reaps
 * completions that carry the bytes; where io_uring is refused, a thread
 * pool emulates the completions). Built-in clients load it; anyone may
 * connect too, on the port the header shows.
 *
 * DESIGN
 * Who runs: a conductor thread owns the server: it starts the engine of
 * the scene's mode (N loop threads, each with its own listening socket,
 * SO_REUSEPORT when N > 1, on a port no other program listens on; proactor loops also own an aio
 * queue and, without io_uring, its pool and poller threads), samples the figures, emits the gauges,
 * and on request ('c' or compare=on) pauses the clients, swaps the engine for each model in turn,
 * measures, and puts the live one back. Two client threads each drive their share of the
 * connections with their own epoll set. The UI thread only reads published figures and sets flags.
 *
 * Who owns what: the listening sockets belong to the scene (start opens,
 * release closes) and outlive engine swaps, so the port never changes. A
 * loop thread owns its connections, buffers, uv loop or aio queue, and its
 * lane; a client thread owns its connections, latency histogram and lane;
 * the conductor owns the gauges and the engines (it joins a loop before
 * the next one for that lane starts). Counters are relaxed atomics added
 * with fetch_add by their threads and read by the conductor and the stats
 * hook, which want only a recent value; totals are exact once the threads
 * have been joined.
 *
 * Locks: res_lock guards the published window and comparison figures
 * (conductor writes, UI reads); nothing else is taken while it is held.
 * The aio pool has its own lock.
 *
 * Timeouts: each loop sweeps its connections every SWEEP_NS and closes
 * those idle longer than idle_ms or holding an incomplete request longer
 * than header_ms; when fewer than SRV_RESERVE slots are left after an
 * accept, it closes the connection idle the longest, so idle clients cannot
 * lock new ones out. The reactor closes with uv_close; the proactor cancels
 * the receive and frees the connection when the cancelled completion comes.
 *
 * Shutdown: stop() tells the clients to quit: each waits (at most a
 * second) for the answers it is owed, closes its sockets and returns, and
 * is joined. It then tells the conductor to quit; the conductor stops the
 * engine: reactor loops get a uv_async that closes every handle (and each
 * connection's socket), proactor loops cancel what is in flight, reap
 * until nothing is, close their connections and the queue (joining the
 * pool). release() closes the listening sockets and frees the memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "aio.h"
#include "hist.h"
#include "i18n.h"
#include "scene.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAX_LOOPS 8
#define LOOP_LANES 4
#define POOL_LANES 4
#define CLIENTS 2
#define MAX_CONNS 512      /* built-in connections */
#define MAX_SRV_CONNS 1024 /* per loop, external ones included */
#define MAX_SIZE 16384     /* request line */
#define INBUF 32768        /* a server connection's input buffer */
#define RX_POOL_MAX 64
#define SLICE_NS 20000000ull
#define SWEEP_NS 100000000ull /* how often a loop looks for timed-out connections */
#define SRV_RESERVE 32        /* free slots a loop keeps for new clients (evicting the stalest) */
#define SAMPLE_NS 10000000ull /* threads read their own rusage this often */
#define TICK_NS 50000000ull   /* the conductor's gauges */
#define WINDOW_TICKS 20       /* live figures over one second */
#define RLX memory_order_relaxed

enum {
    P_CONNS,
    P_SIZE,
    P_THINK,
    P_SLOW,
    P_SLOW_US,
    P_LOOPS,
    P_URING,
    P_POOL,
    P_PORT,
    P_COMPARE,
    P_CMP_MS,
    P_IDLE_MS,
    P_HEADER_MS,
};
enum { M_REACTOR, M_PROACTOR, M_COUNT };
enum {
    N_NONE,
    N_EPOLL,
    N_URING_WAIT,
    N_POOL_WAIT,
    N_HANDLE,
    N_SLOW,
    N_COMPLETION,
    N_RECV,
    N_SEND,
    N_ACCEPT,
    N_CLOSE,
    N_POOL_CALL,
    N_POLLER,
    N_CL_WAIT,
    N_CL_SEND,
    N_CL_THINK,
    N_CL_PAUSE,
    N_STOPPED,
};

static const char *const rx_notes[] = {
    [N_NONE] = "",
    [N_EPOLL] = N_("epoll_wait: which socket is ready?"),
    [N_URING_WAIT] = N_("io_uring_enter: submit, wait for completions"),
    [N_POOL_WAIT] = N_("waiting for completions (eventfd)"),
    [N_HANDLE] = N_("handling: parse the request, build the answer"),
    [N_SLOW] = N_("slow handler: CPU work in the callback, the loop is stuck"),
    [N_COMPLETION] = N_("completion: the bytes are already in the buffer"),
    [N_RECV] = N_("recv(): the loop copies the request in itself"),
    [N_SEND] = N_("send(): the loop copies the answer out itself"),
    [N_ACCEPT] = N_("accept(): a new connection"),
    [N_CLOSE] = N_("close(): the connection is over"),
    [N_POOL_CALL] = N_("pool thread: recv/send for the loop"),
    [N_POLLER] = N_("poller: readiness, handed to the pool"),
    [N_CL_WAIT] = N_("clients: waiting for answers"),
    [N_CL_SEND] = N_("clients: sending requests, checking answers"),
    [N_CL_THINK] = N_("clients: thinking"),
    [N_CL_PAUSE] = N_("clients: paused while the server changes model"),
    [N_STOPPED] = N_("stopped"),
};

static const char *const model_words[M_COUNT] = {N_("reactor"), N_("proactor")};

/* A lane and the state last emitted on it (by its one writer). */
struct rx_lane {
    int id;
    unsigned cur;
};

struct rx_state;
struct rx_loop;

/* One server connection, owned by its loop thread. */
struct rx_conn {
    uv_poll_t poll; /* reactor */
    struct rx_loop *L;
    int fd;
    uint32_t id;
    int events;   /* reactor: what the poll watches */
    int inflight; /* proactor: the operation in flight (OP_*), or 0 */
    bool close_after;
    bool cancelling; /* proactor: its receive was cancelled (timeout or eviction) */
    uint64_t t_last; /* ns: accepted, or the last bytes received */
    uint64_t t_req;  /* ns: the first bytes of the request still incomplete in `in` */
    char *in;
    size_t inlen;
    char *out;
    size_t outlen, outoff, outcap;
};

/* A thread's last rusage sample (its own). */
struct rx_sample {
    uint64_t t, cpu, csw;
};

/* Per loop index, across engines: what its threads add (relaxed fetch_add). */
struct rx_loop_stats {
    _Atomic uint64_t requests, syscalls, loop_io, cpu_ns, csw, accepted, open;
    _Atomic uint64_t timeouts, evicted;
};

enum { OP_NONE, OP_ACCEPT, OP_RECV, OP_SEND };
#define ACCEPT_ID 0xffffffu
#define TAG(id, op) ((uint64_t)(id) << 8 | (uint64_t)(op))

/* One loop thread of an engine. */
struct rx_loop {
    struct rx_state *st;
    int idx, model;
    int lfd;
    pthread_t th;
    int up;
    _Atomic int quit;
    struct rx_conn *conns[MAX_SRV_CONNS];
    uint32_t freeids[MAX_SRV_CONNS], nfree, nconns;
    uint32_t closing; /* connections being closed, their slots not yet free */
    struct rx_lane *lane, *kernel;
    struct rx_loop_stats *stats;
    struct rx_sample self, pool[RX_POOL_MAX + 1];
    uint64_t n_req, n_sys, n_io; /* not yet added to stats (the loop thread's) */
    uint64_t last_flush, last_sweep;
    /* reactor */
    uv_loop_t uv;
    uv_timer_t sweep;
    uv_poll_t lpoll;
    uv_async_t wake;
    uv_prepare_t prep;
    /* proactor */
    struct aio *aio;
    struct aio_counts aio_seen;
    int accepting;
    uint32_t gauge;
};

/* One built-in client connection. */
struct cl_conn {
    int fd;
    uint32_t id;
    uint64_t seq;
    int st;    /* CL_THINK, CL_SEND, CL_WAIT */
    bool wout; /* EPOLLOUT is in the epoll set */
    uint64_t due, t_sent;
    char *req, *resp;
    size_t cap, len, off, got;
};
enum { CL_THINK, CL_SEND, CL_WAIT };

struct rx_client {
    struct rx_state *st;
    int idx;
    pthread_t th;
    int up;
    int ep;
    struct cl_conn c[MAX_CONNS / CLIENTS];
    int n;
    struct hist lat; /* this thread's alone */
    _Atomic uint64_t sent, answered, bad, lost, outstanding;
    _Atomic int paused; /* 1 once it has drained and closed for a pause */
    struct rx_lane lane;
};

/* Figures over a window. */
struct rx_result {
    double rps, p50, p99, sys_pr, csw_pr, cpu_pr;
    int uring;
};

/* Cumulative counters at one instant. */
struct rx_snap {
    uint64_t t, requests, syscalls, cpu_ns, csw;
    uint64_t lat[HIST_BUCKETS];
};

struct rx_state {
    struct scene_ctx *ctx;
    int nloops, port;
    int lfd[MAX_LOOPS];
    int uring_ok, uring_err; /* the probe: will the proactor get io_uring */
    struct rx_loop_stats lstats[MAX_LOOPS];
    struct rx_loop *loops[MAX_LOOPS]; /* the engine running (conductor's) */
    int engine;                       /* its model, -1 none */
    _Atomic int engine_uring;         /* 1 when the running proactor has io_uring */
    struct rx_client cl[CLIENTS];
    _Atomic int cl_quit, cl_pause;
    pthread_t conductor;
    int conductor_up;
    _Atomic int cd_quit, cmp_req;
    /* lanes */
    struct rx_lane loopl[LOOP_LANES], kernel[LOOP_LANES], pool[POOL_LANES], poller;
    struct rx_lane g_out, g_rps;
    pthread_mutex_t res_lock;
    struct rx_result live, cmp[M_COUNT];
    int live_valid, cmp_valid;
};

/* Emit only real transitions on a lane this run has. */
static void lane_set(struct rx_lane *l, unsigned state, unsigned note, uint32_t arg)
{
    unsigned w = state | TRACE_NOTE(note);
    if (!l || l->id < 0 || w == l->cur)
        return;
    l->cur = w;
    trace_emit(l->id, w, arg);
}

static void gauge_set(struct rx_lane *l, uint32_t v)
{
    if (!l || l->id < 0 || v == l->cur)
        return;
    l->cur = v;
    trace_emit(l->id, TRACE_GAUGE, v);
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
    if (v)
        atomic_fetch_add_explicit(c, v, RLX);
}

/* This thread's CPU time and context switches since the last sample, into the loop's stats. */
static void sample_self(struct rx_sample *s, struct rx_loop_stats *ls, bool force)
{
    uint64_t now = trace_now_ns();
    if (!force && now - s->t < SAMPLE_NS)
        return;
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return;
    uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                   (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
    uint64_t csw = (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
    add(&ls->cpu_ns, cpu - s->cpu);
    add(&ls->csw, csw - s->csw);
    s->t = now;
    s->cpu = cpu;
    s->csw = csw;
}

/* ---- the protocol: echo lines, or HTTP/1.1 requests ---- */

/* Make room for n more bytes of output. */
static bool out_reserve(struct rx_conn *c, size_t n)
{
    if (c->outlen + n <= c->outcap)
        return true;
    size_t cap = c->outcap ? c->outcap : 4096;
    while (cap < c->outlen + n)
        cap *= 2;
    char *p = realloc(c->out, cap);
    if (!p)
        return false;
    c->out = p;
    c->outcap = cap;
    return true;
}

static void out_put(struct rx_conn *c, const void *p, size_t n)
{
    if (out_reserve(c, n)) {
        memcpy(c->out + c->outlen, p, n);
        c->outlen += n;
    } else {
        c->close_after = true;
    }
}

/* Find s (len n) in buf (len len); offset or -1. */
static long find(const char *buf, size_t len, const char *s, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (buf[i] == s[0] && memcmp(buf + i, s, n) == 0)
            return (long)i;
    return -1;
}

/* A header's value in a header block (case-insensitive name), or NULL; *count
 * says how many times the header appears (the value is the first one's). */
static const char *header_n(const char *h, size_t len, const char *name, size_t *vlen, int *count)
{
    size_t n = strlen(name);
    const char *first = NULL;
    *count = 0;
    for (size_t i = 0; i + n + 1 < len;) {
        const char *eol = memchr(h + i, '\n', len - i);
        size_t end = eol ? (size_t)(eol - h) : len;
        if (end - i > n && strncasecmp(h + i, name, n) == 0 && h[i + n] == ':') {
            size_t v = i + n + 1;
            while (v < end && (h[v] == ' ' || h[v] == '\t'))
                v++;
            size_t e = end;
            while (e > v && (h[e - 1] == '\r' || h[e - 1] == ' ' || h[e - 1] == '\t'))
                e--;
            if (!first) {
                *vlen = e - v;
                first = h + v;
            }
            ++*count;
        }
        i = end + 1;
    }
    return first;
}

static const char *header(const char *h, size_t len, const char *name, size_t *vlen)
{
    int count;
    return header_n(h, len, name, vlen, &count);
}

/* The slow handler: CPU work in the callback, on the loop thread. */
static void handler_work(struct rx_loop *L)
{
    struct scene_ctx *ctx = L->st->ctx;
    if (!scene_param(ctx, P_SLOW))
        return;
    lane_set(L->lane, TRACE_RUN, N_SLOW, 0);
    scene_spin(ctx, (uint64_t)scene_param(ctx, P_SLOW_US) * 1000);
    lane_set(L->lane, TRACE_RUN, N_HANDLE, 0);
}

/*
 * An HTTP request at the start of the input: answer it; bytes used, 0 for
 * more, HTTP_BAD (400) or HTTP_UNSUPPORTED (501). As RFC 9112 asks, a
 * Content-Length that is not one plain number (two of them, "5, 5", "+5") is
 * refused, and so is a body in Transfer-Encoding (chunked), which this server
 * does not decode: guessing where such a request ends is how requests are
 * smuggled past a proxy.
 */
enum { HTTP_BAD = -1, HTTP_UNSUPPORTED = -2 };
static long http_request(struct rx_loop *L, struct rx_conn *c, size_t linelen)
{
    long hend = find(c->in, c->inlen, "\r\n\r\n", 4);
    if (hend < 0)
        return c->inlen >= INBUF ? HTTP_BAD : 0;
    size_t used = (size_t)hend + 4, vlen = 0, body = 0;
    int count;
    if (header_n(c->in, used, "Transfer-Encoding", &vlen, &count))
        return HTTP_UNSUPPORTED;
    const char *v = header_n(c->in, used, "Content-Length", &vlen, &count);
    if (v) {
        if (count > 1 || vlen == 0 || vlen > 9)
            return HTTP_BAD;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return HTTP_BAD;
            body = body * 10 + (size_t)(v[i] - '0');
        }
        if (body > INBUF / 2)
            return HTTP_BAD;
    }
    if (c->inlen < used + body)
        return c->inlen >= INBUF ? HTTP_BAD : 0;
    bool http10 = c->in[linelen - 2] == '0'; /* "... HTTP/1.0\r" */
    v = header(c->in, used, "Connection", &vlen);
    bool close = http10 ? !(v && vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
                        : (v && vlen == 5 && strncasecmp(v, "close", 5) == 0);
    const char *sp = memchr(c->in, ' ', linelen);
    const char *sp2 = sp ? memchr(sp + 1, ' ', linelen - (size_t)(sp + 1 - c->in)) : NULL;
    int mlen = sp ? (int)(sp - c->in) : 0, plen = sp && sp2 ? (int)(sp2 - sp - 1) : 0;
    if (plen > 200)
        plen = 200;
    handler_work(L);
    char bodytxt[320], head[256];
    int bn = snprintf(bodytxt, sizeof bodytxt, "conctui %s, loop %d: %.*s %.*s\n",
                      model_words[L->model], L->idx, mlen, c->in, plen, sp ? sp + 1 : "");
    bool headonly = mlen == 4 && memcmp(c->in, "HEAD", 4) == 0;
    int hn =
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n", bn,
                 close ? "Connection: close\r\n" : (http10 ? "Connection: keep-alive\r\n" : ""));
    out_put(c, head, (size_t)hn);
    if (!headonly)
        out_put(c, bodytxt, (size_t)bn);
    if (close)
        c->close_after = true;
    return (long)(used + body);
}

static void loop_flush(struct rx_loop *L, bool force);

/* Answer every complete request in the input; returns how many. */
static unsigned proto_feed(struct rx_loop *L, struct rx_conn *c)
{
    unsigned n = 0;
    size_t off = 0;
    while (!c->close_after && off < c->inlen) {
        char *p = c->in + off;
        size_t left = c->inlen - off;
        char *nl = memchr(p, '\n', left);
        if (!nl) {
            if (off == 0 && left >= INBUF) {
                static const char err[] = "ERR line too long\n";
                out_put(c, err, sizeof err - 1);
                c->close_after = true;
                n++;
            }
            break;
        }
        size_t linelen = (size_t)(nl - p);
        bool http =
            linelen >= 10 && p[linelen - 1] == '\r' && memcmp(p + linelen - 10, " HTTP/1.", 8) == 0;
        if (http) {
            if (off) {
                memmove(c->in, p, left);
                c->inlen = left;
                off = 0;
                p = c->in;
            }
            long used = http_request(L, c, linelen);
            if (used == 0)
                break;
            if (used < 0) {
                static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                          "Connection: close\r\n\r\n",
                                  unsupported[] = "HTTP/1.1 501 Not Implemented\r\n"
                                                  "Content-Length: 0\r\n"
                                                  "Connection: close\r\n\r\n";
                if (used == HTTP_UNSUPPORTED)
                    out_put(c, unsupported, sizeof unsupported - 1);
                else
                    out_put(c, bad, sizeof bad - 1);
                c->close_after = true;
                n++;
                break;
            }
            off += (size_t)used;
        } else {
            handler_work(L);
            out_put(c, p, linelen + 1); /* the echo, newline included */
            off += linelen + 1;
        }
        n++;
    }
    if (off) {
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
    }
    L->n_req += n;
    /* Published now, not only before the next wait: with a slow handler one
     * turn of the loop can answer many requests over seconds, and counted
     * all at once they would make a burst out of a steady rate (a second's
     * window saw 16 answers of 100 ms each). */
    if (n)
        loop_flush(L, false);
    return n;
}

/* ---- connections ---- */

static struct rx_conn *conn_new(struct rx_loop *L, int fd)
{
    if (L->nfree == 0)
        return NULL;
    struct rx_conn *c = calloc(1, sizeof *c);
    char *in = malloc(INBUF);
    if (!c || !in) {
        free(c);
        free(in);
        return NULL;
    }
    c->L = L;
    c->fd = fd;
    c->in = in;
    c->t_last = trace_now_ns();
    c->id = L->freeids[--L->nfree];
    L->conns[c->id] = c;
    L->nconns++;
    add(&L->stats->accepted, 1);
    add(&L->stats->open, 1);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    L->n_sys++;
    return c;
}

/* Close the socket and forget the connection (nothing of it may be in flight). */
static void conn_free(struct rx_conn *c)
{
    struct rx_loop *L = c->L;
    lane_set(L->lane, TRACE_KERNEL, N_CLOSE, c->id);
    close(c->fd);
    L->n_sys++;
    lane_set(L->lane, TRACE_RUN, N_HANDLE, 0);
    L->conns[c->id] = NULL;
    L->freeids[L->nfree++] = c->id;
    if (c->cancelling)
        L->closing--;
    L->nconns--;
    atomic_fetch_sub_explicit(&L->stats->open, 1, RLX);
    free(c->in);
    free(c->out);
    free(c);
}

/* Add what the loop counted to its stats, and sample its rusage. */
static void loop_flush(struct rx_loop *L, bool force)
{
    struct rx_loop_stats *s = L->stats;
    add(&s->requests, L->n_req);
    add(&s->syscalls, L->n_sys);
    add(&s->loop_io, L->n_io);
    L->n_req = L->n_sys = L->n_io = 0;
    if (L->aio) {
        struct aio_counts c;
        aio_counts(L->aio, &c);
        add(&s->syscalls, c.owner_syscalls - L->aio_seen.owner_syscalls + c.worker_syscalls -
                              L->aio_seen.worker_syscalls);
        L->aio_seen = c;
    }
    sample_self(&L->self, s, force);
}

/* Bytes came in on c: it is active, and a new request may have begun. */
static void conn_got(struct rx_conn *c, size_t before)
{
    c->t_last = trace_now_ns();
    if (before == 0)
        c->t_req = c->t_last;
}

static void conn_end(struct rx_conn *c); /* the engine's way to close a connection */

/*
 * Close what has been idle (no bytes, nothing owed) longer than idle_ms, or
 * has held an incomplete request longer than header_ms (a slow or stalled
 * client), as nginx's keepalive and client header timeouts do.
 */
static void loop_sweep(struct rx_loop *L)
{
    uint64_t now = trace_now_ns();
    L->last_sweep = now;
    uint64_t idle = (uint64_t)scene_param(L->st->ctx, P_IDLE_MS) * 1000000ull;
    uint64_t head = (uint64_t)scene_param(L->st->ctx, P_HEADER_MS) * 1000000ull;
    for (uint32_t id = 0; id < MAX_SRV_CONNS; id++) {
        struct rx_conn *c = L->conns[id];
        if (!c || c->outlen > c->outoff)
            continue;
        bool late = c->inlen ? now - c->t_req > head : now - c->t_last > idle;
        if (late && !c->cancelling) {
            add(&L->stats->timeouts, 1);
            conn_end(c);
        }
    }
}

/* The table is nearly full: close the connection idle the longest, to keep room for new ones. */
static void loop_evict(struct rx_loop *L)
{
    if (L->nfree + L->closing >= SRV_RESERVE)
        return; /* enough room once the closes under way are done */
    struct rx_conn *old = NULL;
    for (uint32_t id = 0; id < MAX_SRV_CONNS; id++) {
        struct rx_conn *c = L->conns[id];
        if (c && !c->cancelling && c->outlen <= c->outoff && (!old || c->t_last < old->t_last))
            old = c;
    }
    if (old) {
        add(&L->stats->evicted, 1);
        conn_end(old);
    }
}

/* Whether to take the next connection now: not while the room left waits for closes to finish. */
static bool loop_may_accept(const struct rx_loop *L)
{
    return L->nfree > SRV_RESERVE / 2 || L->closing == 0;
}

/* ---- the reactor: libuv, uv_poll on each socket, the loop does the calls ---- */

static void rc_on_closed(uv_handle_t *h)
{
    struct rx_conn *c = (struct rx_conn *)h;
    c->L->n_sys++; /* the epoll_ctl delete libuv made when the handle closed */
    conn_free(c);
}

static void rc_close(struct rx_conn *c)
{
    if (!c->cancelling)
        c->L->closing++;
    c->cancelling = true;
    if (!uv_is_closing((uv_handle_t *)&c->poll))
        uv_close((uv_handle_t *)&c->poll, rc_on_closed);
}

static void pr_cancel(struct rx_conn *c);

static void conn_end(struct rx_conn *c)
{
    if (c->L->model == M_REACTOR)
        rc_close(c);
    else
        pr_cancel(c);
}

static void rc_on_event(uv_poll_t *h, int status, int events);

/* Watch for ev (UV_READABLE or UV_WRITABLE) only. */
static void rc_watch(struct rx_conn *c, int ev)
{
    if (c->events != ev) {
        c->events = ev;
        uv_poll_start(&c->poll, ev, rc_on_event);
        c->L->n_sys++; /* the epoll_ctl (add or modify) libuv makes before its next wait */
    }
}

/* Send what is waiting; switch to writable when the socket cannot take it all. */
static void rc_flush(struct rx_conn *c)
{
    struct rx_loop *L = c->L;
    while (c->outoff < c->outlen) {
        lane_set(L->lane, TRACE_KERNEL, N_SEND, c->id);
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        L->n_sys++;
        L->n_io++;
        lane_set(L->lane, TRACE_RUN, N_HANDLE, c->id);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            rc_watch(c, UV_WRITABLE); /* lockstep: no more reading until it is out */
            return;
        }
        if (n <= 0) {
            rc_close(c);
            return;
        }
        c->outoff += (size_t)n;
    }
    c->outoff = c->outlen = 0;
    if (c->close_after)
        rc_close(c);
    else
        rc_watch(c, UV_READABLE);
}

static void rc_on_event(uv_poll_t *h, int status, int events)
{
    struct rx_conn *c = (struct rx_conn *)h;
    struct rx_loop *L = c->L;
    lane_set(L->lane, TRACE_RUN, N_HANDLE, c->id);
    if (status < 0) {
        rc_close(c);
        return;
    }
    if (events & UV_WRITABLE) {
        rc_flush(c);
        return;
    }
    lane_set(L->lane, TRACE_KERNEL, N_RECV, c->id);
    ssize_t n = recv(c->fd, c->in + c->inlen, INBUF - c->inlen, 0);
    L->n_sys++;
    L->n_io++;
    lane_set(L->lane, TRACE_RUN, N_HANDLE, c->id);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        rc_close(c);
        return;
    }
    conn_got(c, c->inlen);
    c->inlen += (size_t)n;
    proto_feed(L, c);
    if (c->outlen > c->outoff || c->close_after)
        rc_flush(c);
}

static void rc_on_listen(uv_poll_t *h, int status, int events)
{
    struct rx_loop *L = h->data;
    (void)events;
    lane_set(L->lane, TRACE_RUN, N_HANDLE, 0);
    for (int k = 0; status == 0 && k < 64 && loop_may_accept(L); k++) {
        lane_set(L->lane, TRACE_KERNEL, N_ACCEPT, 0);
        int fd = accept4(L->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        L->n_sys++;
        lane_set(L->lane, TRACE_RUN, N_HANDLE, 0);
        if (fd < 0)
            break;
        struct rx_conn *c = conn_new(L, fd);
        if (!c || uv_poll_init(&L->uv, &c->poll, fd) != 0) {
            if (c) {
                conn_free(c);
            } else {
                close(fd);
                L->n_sys++;
            }
            continue;
        }
        /* uv_poll_init: epoll_ctl add and delete (a check) and ioctl(FIONBIO). */
        L->n_sys += 3;
        c->poll.data = c;
        rc_watch(c, UV_READABLE);
        loop_evict(L);
    }
}

static void rc_on_sweep(uv_timer_t *h)
{
    loop_sweep(h->data);
}

/* Before each epoll_wait: count it, publish the counts, show the wait. */
static void rc_on_prepare(uv_prepare_t *h)
{
    struct rx_loop *L = h->data;
    L->n_sys++; /* the epoll_wait libuv is about to make */
    loop_flush(L, false);
    lane_set(L->lane, TRACE_IO, N_EPOLL, L->nconns);
}

static void rc_close_walk(uv_handle_t *h, void *arg)
{
    struct rx_loop *L = arg;
    bool conn = h->type == UV_POLL && h != (uv_handle_t *)&L->lpoll;
    if (!uv_is_closing(h))
        uv_close(h, conn ? rc_on_closed : NULL);
}

/* Stop: close every handle; connections close their sockets as they go. */
static void rc_on_wake(uv_async_t *h)
{
    struct rx_loop *L = h->data;
    if (atomic_load_explicit(&L->quit, memory_order_acquire))
        uv_walk(&L->uv, rc_close_walk, L);
}

static void *reactor_main(void *p)
{
    struct rx_loop *L = p;
    uv_run(&L->uv, UV_RUN_DEFAULT);
    uv_loop_close(&L->uv);
    loop_flush(L, true);
    lane_set(L->lane, TRACE_DONE, N_STOPPED, 0);
    return NULL;
}

/* Set up the loop's handles (on the conductor; the thread runs them). 0 or -errno. */
static int reactor_init(struct rx_loop *L)
{
    int rc = uv_loop_init(&L->uv);
    if (rc)
        return rc;
    L->uv.data = L;
    uv_async_init(&L->uv, &L->wake, rc_on_wake);
    L->wake.data = L;
    uv_prepare_init(&L->uv, &L->prep);
    L->prep.data = L;
    uv_prepare_start(&L->prep, rc_on_prepare);
    uv_timer_init(&L->uv, &L->sweep);
    L->sweep.data = L;
    uv_timer_start(&L->sweep, rc_on_sweep, SWEEP_NS / 1000000, SWEEP_NS / 1000000);
    rc = uv_poll_init(&L->uv, &L->lpoll, L->lfd);
    if (rc == 0) {
        L->lpoll.data = L;
        uv_poll_start(&L->lpoll, UV_READABLE, rc_on_listen);
    }
    return rc;
}

/* ---- the proactor: aio (io_uring, or the pool), the loop only reaps completions ---- */

static void pr_recv(struct rx_conn *c)
{
    c->inflight = OP_RECV;
    if (aio_recv(c->L->aio, c->fd, c->in + c->inlen, INBUF - c->inlen, TAG(c->id, OP_RECV)) != 0)
        c->inflight = OP_NONE;
}

static void pr_send(struct rx_conn *c)
{
    c->inflight = OP_SEND;
    if (aio_send(c->L->aio, c->fd, c->out + c->outoff, c->outlen - c->outoff,
                 TAG(c->id, OP_SEND)) != 0)
        c->inflight = OP_NONE;
}

/* End a connection: cancel its receive; the cancelled completion frees it. */
static void pr_cancel(struct rx_conn *c)
{
    if (!c->cancelling && c->inflight == OP_RECV &&
        aio_cancel(c->L->aio, TAG(c->id, OP_RECV)) == 0) {
        c->cancelling = true;
        c->L->closing++;
    }
}

static void pr_accept(struct rx_loop *L)
{
    L->accepting = aio_accept(L->aio, L->lfd, TAG(ACCEPT_ID, OP_ACCEPT)) == 0;
}

/* What comes after a finished receive or send: the next operation, or the end. */
static void pr_next(struct rx_conn *c)
{
    if (c->outlen > c->outoff) {
        pr_send(c);
        return;
    }
    c->outoff = c->outlen = 0;
    if (c->close_after || c->inlen >= INBUF)
        c->inflight = OP_NONE;
    else
        pr_recv(c);
}

static void pr_complete(struct rx_loop *L, const struct aio_done *d)
{
    uint32_t id = (uint32_t)(d->user >> 8);
    int op = (int)(d->user & 0xff);
    if (op == OP_ACCEPT) {
        L->accepting = 0;
        if (d->res >= 0) {
            struct rx_conn *c =
                atomic_load_explicit(&L->quit, RLX) ? NULL : conn_new(L, (int)d->res);
            if (c) {
                pr_recv(c);
                loop_evict(L);
            } else {
                close((int)d->res);
                L->n_sys++;
            }
        }
        if (!atomic_load_explicit(&L->quit, RLX) && d->res != -ECANCELED && loop_may_accept(L))
            pr_accept(L);
        return;
    }
    struct rx_conn *c = id < MAX_SRV_CONNS ? L->conns[id] : NULL;
    if (!c)
        return;
    c->inflight = OP_NONE;
    if (atomic_load_explicit(&L->quit, RLX))
        return; /* closed after the reaping; a request that raced in stays unanswered */
    if (d->res <= 0 || c->cancelling) {
        conn_free(c);
        return;
    }
    if (op == OP_RECV) {
        conn_got(c, c->inlen);
        c->inlen += (size_t)d->res;
        proto_feed(L, c);
    } else {
        c->outoff += (size_t)d->res;
    }
    pr_next(c);
    if (c->inflight == OP_NONE)
        conn_free(c);
}

/* The aio pool's threads (and poller) report here: loop 0's get lanes; all are sampled. */
static void pr_pool_hook(void *arg, int worker, bool busy)
{
    struct rx_loop *L = arg;
    struct rx_state *st = L->st;
    int k = worker == AIO_POLLER ? RX_POOL_MAX : worker;
    if (k < 0 || k > RX_POOL_MAX)
        return;
    struct rx_lane *lane = NULL;
    if (L->idx == 0)
        lane =
            worker == AIO_POLLER ? &st->poller : (worker < POOL_LANES ? &st->pool[worker] : NULL);
    if (worker == AIO_POLLER)
        lane_set(lane, busy ? TRACE_RUN : TRACE_IO, busy ? N_POLLER : N_EPOLL, 0);
    else
        lane_set(lane, busy ? TRACE_KERNEL : TRACE_WAIT, busy ? N_POOL_CALL : N_NONE, 0);
    if (!busy)
        sample_self(&L->pool[k], L->stats, false);
}

static void *proactor_main(void *p)
{
    struct rx_loop *L = p;
    struct rx_state *st = L->st;
    struct scene_ctx *ctx = st->ctx;
    int uerr = 0;
    bool want = scene_param(ctx, P_URING) != 0;
    int rc = aio_open(&L->aio, 2 * MAX_SRV_CONNS + 4, want, (int)scene_param(ctx, P_POOL),
                      pr_pool_hook, L, &uerr);
    if (rc) {
        L->aio = NULL;
        scene_note(ctx, _("cannot open the completion queue: %s"), strerror(-rc));
        lane_set(L->lane, TRACE_DONE, N_STOPPED, 0);
        return NULL;
    }
    bool uring = aio_backend_of(L->aio) == AIO_URING;
    if (L->idx == 0) {
        atomic_store_explicit(&st->engine_uring, uring, RLX);
        if (!uring && want)
            scene_note(ctx,
                       _("io_uring refused (%s): a thread pool emulates the completions "
                         "(a poller waits, pool threads copy the bytes)"),
                       strerror(uerr));
        else if (!uring)
            scene_note(ctx, _("uring=off: a thread pool emulates the completions (a poller "
                              "waits, pool threads copy the bytes)"));
    }
    unsigned wait_note = uring ? N_URING_WAIT : N_POOL_WAIT;
    struct aio_done done[64];
    pr_accept(L);
    while (!atomic_load_explicit(&L->quit, memory_order_acquire)) {
        loop_flush(L, false);
        uint32_t fl = aio_inflight(L->aio);
        if (fl != L->gauge) {
            L->gauge = fl;
            gauge_set(L->kernel, fl);
        }
        lane_set(L->lane, TRACE_IO, wait_note, fl);
        int n = aio_wait(L->aio, done, 64, SLICE_NS);
        if (n > 0)
            lane_set(L->lane, TRACE_RUN, N_COMPLETION, (uint32_t)n);
        for (int i = 0; i < n; i++)
            pr_complete(L, &done[i]);
        if (!L->accepting && !atomic_load_explicit(&L->quit, RLX) && loop_may_accept(L))
            pr_accept(L);
        if (trace_now_ns() - L->last_sweep >= SWEEP_NS)
            loop_sweep(L);
    }
    /* Cancel what is in flight (idle receives never end by themselves) and reap it all. */
    lane_set(L->lane, TRACE_RUN, N_HANDLE, 0);
    if (L->accepting)
        while (aio_cancel(L->aio, TAG(ACCEPT_ID, OP_ACCEPT)) == -EAGAIN)
            aio_wait(L->aio, done, 0, 0);
    for (uint32_t id = 0; id < MAX_SRV_CONNS; id++) {
        struct rx_conn *c = L->conns[id];
        if (c && c->inflight)
            while (aio_cancel(L->aio, TAG(id, c->inflight)) == -EAGAIN)
                aio_wait(L->aio, done, 0, 0);
    }
    uint64_t t0 = trace_now_ns();
    while (aio_inflight(L->aio) > 0 && trace_now_ns() - t0 < 2000000000ull) {
        int n = aio_wait(L->aio, done, 64, SLICE_NS);
        for (int i = 0; i < n; i++)
            pr_complete(L, &done[i]);
    }
    for (uint32_t id = 0; id < MAX_SRV_CONNS; id++)
        if (L->conns[id])
            conn_free(L->conns[id]);
    struct aio_counts last;
    aio_close(L->aio, 0, &last);
    add(&L->stats->syscalls, last.owner_syscalls - L->aio_seen.owner_syscalls +
                                 last.worker_syscalls - L->aio_seen.worker_syscalls);
    L->aio = NULL;
    gauge_set(L->kernel, 0);
    loop_flush(L, true);
    lane_set(L->lane, TRACE_DONE, N_STOPPED, 0);
    return NULL;
}

/* ---- engines ---- */

/* Stop and free the running engine (the conductor's). */
static void engine_stop(struct rx_state *st)
{
    for (int k = 0; k < st->nloops; k++) {
        struct rx_loop *L = st->loops[k];
        if (!L)
            continue;
        /* Release pairs with the loop's acquire: it sees the request and leaves. */
        atomic_store_explicit(&L->quit, 1, memory_order_release);
        if (L->model == M_REACTOR)
            uv_async_send(&L->wake);
        if (L->up)
            pthread_join(L->th, NULL);
        else if (L->model == M_REACTOR) {
            uv_walk(&L->uv, rc_close_walk, L);
            uv_run(&L->uv, UV_RUN_DEFAULT);
            uv_loop_close(&L->uv);
        }
        free(L);
        st->loops[k] = NULL;
    }
    st->engine = -1;
}

/* Start N loop threads of a model on the scene's listening sockets. 0 or -errno. */
static int engine_start(struct rx_state *st, int model)
{
    int rc = 0;
    for (int k = 0; k < st->nloops && !rc; k++) {
        struct rx_loop *L = calloc(1, sizeof *L);
        if (!L) {
            rc = -ENOMEM;
            break;
        }
        st->loops[k] = L;
        L->st = st;
        L->idx = k;
        L->model = model;
        L->lfd = st->lfd[k];
        L->stats = &st->lstats[k];
        L->lane = k < LOOP_LANES ? &st->loopl[k] : NULL;
        L->kernel = k < LOOP_LANES ? &st->kernel[k] : NULL;
        if (L->lane)
            L->lane->cur = ~0u;
        if (L->kernel)
            L->kernel->cur = ~0u;
        for (uint32_t i = 0; i < MAX_SRV_CONNS; i++)
            L->freeids[L->nfree++] = MAX_SRV_CONNS - 1 - i;
        if (model == M_REACTOR && (rc = reactor_init(L)) != 0) {
            rc = rc < 0 ? rc : -EINVAL;
            uv_loop_close(&L->uv);
            free(L);
            st->loops[k] = NULL;
            break;
        }
        rc = -pthread_create(&L->th, NULL, model == M_REACTOR ? reactor_main : proactor_main, L);
        L->up = rc == 0;
    }
    st->engine = model;
    if (rc)
        engine_stop(st);
    return rc;
}

/* ---- the built-in clients ---- */

/* The request of a connection's next turn: "id seq" and filler, size bytes with the newline. */
static void cl_fill(struct cl_conn *c, size_t size)
{
    int n = snprintf(c->req, c->cap, "%u %llu ", c->id, (unsigned long long)c->seq);
    for (size_t i = (size_t)n; i + 1 < size; i++)
        c->req[i] = (char)('a' + (c->seq + i) % 26);
    c->req[size - 1] = '\n';
    c->len = size > (size_t)n + 1 ? size : (size_t)n + 1;
    c->req[c->len - 1] = '\n';
}

static int cl_open(struct rx_client *cl, struct cl_conn *c, uint32_t id)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl->st->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - cl->c)};
    if (epoll_ctl(cl->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    c->fd = fd;
    c->id = id;
    c->wout = false;
    c->st = CL_THINK;
    c->due = 0;
    return 0;
}

static void cl_close(struct rx_client *cl, struct cl_conn *c)
{
    if (c->st != CL_THINK) {
        add(&cl->lost, 1);
        c->st = CL_THINK;
    }
    close(c->fd);
    c->fd = -1;
}

/* Put the rest of the request on the wire; false if the connection broke. */
static bool cl_push(struct rx_client *cl, struct cl_conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->req + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                                     .data.u32 = (uint32_t)(c - cl->c)};
            if (!c->wout)
                epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev);
            c->wout = true;
            c->st = CL_SEND;
            return true;
        }
        if (n <= 0)
            return false;
        c->off += (size_t)n;
    }
    if (c->wout) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - cl->c)};
        epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->wout = false;
    }
    c->st = CL_WAIT;
    return true;
}

/* Start the connection's next request. */
static bool cl_start(struct rx_client *cl, struct cl_conn *c)
{
    struct scene_ctx *ctx = cl->st->ctx;
    size_t size = (size_t)scene_param(ctx, P_SIZE);
    if (c->cap < size) {
        char *q = realloc(c->req, size), *r = realloc(c->resp, size);
        if (q)
            c->req = q;
        if (r)
            c->resp = r;
        if (!q || !r)
            return false;
        c->cap = size;
    }
    c->seq++;
    cl_fill(c, size);
    c->off = c->got = 0;
    c->t_sent = trace_now_ns();
    add(&cl->sent, 1);
    c->st = CL_SEND;
    return cl_push(cl, c);
}

/* Bytes of the answer arrived; false if the connection broke or lied. */
static bool cl_read(struct rx_client *cl, struct cl_conn *c, uint64_t now, uint64_t think)
{
    for (;;) {
        char extra[64];
        bool in_req = c->st == CL_WAIT && c->got < c->len;
        char *dst = in_req ? c->resp + c->got : extra;
        size_t room = in_req ? c->len - c->got : sizeof extra;
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        if (n <= 0)
            return false;
        if (!in_req) {
            add(&cl->bad, 1); /* bytes nobody asked for: an answer twice, or garbage */
            return false;
        }
        c->got += (size_t)n;
        if (c->got < c->len)
            continue;
        if (memcmp(c->req, c->resp, c->len) != 0) {
            add(&cl->bad, 1);
            return false;
        }
        hist_record(&cl->lat, now - c->t_sent);
        add(&cl->answered, 1);
        c->st = CL_THINK;
        c->due = now + think;
        return true;
    }
}

static void *client_main(void *p)
{
    struct rx_client *cl = p;
    struct rx_state *st = cl->st;
    struct scene_ctx *ctx = st->ctx;
    struct epoll_event ev[64];
    uint64_t quit_at = 0;
    for (;;) {
        bool quit = atomic_load_explicit(&st->cl_quit, memory_order_acquire);
        bool pause = atomic_load_explicit(&st->cl_pause, memory_order_acquire);
        uint64_t now = trace_now_ns();
        int waiting = 0;
        for (int i = 0; i < cl->n; i++)
            waiting += cl->c[i].fd >= 0 && cl->c[i].st != CL_THINK;
        atomic_store_explicit(&cl->outstanding, (uint64_t)waiting, RLX);
        if (quit || pause) {
            if (!quit_at)
                quit_at = now;
            /* Wait (a second at most) for what is owed, then close everything. */
            if (waiting == 0 || now - quit_at > 1000000000ull) {
                for (int i = 0; i < cl->n; i++)
                    if (cl->c[i].fd >= 0)
                        cl_close(cl, &cl->c[i]);
                cl->n = 0;
                atomic_store_explicit(&cl->outstanding, 0, RLX);
                if (quit)
                    break;
                /* Release pairs with the conductor's acquire: every socket is closed. */
                atomic_store_explicit(&cl->paused, 1, memory_order_release);
                lane_set(&cl->lane, TRACE_IDLE, N_CL_PAUSE, 0);
                while (atomic_load_explicit(&st->cl_pause, memory_order_acquire) &&
                       !atomic_load_explicit(&st->cl_quit, memory_order_acquire))
                    nanosleep(&(struct timespec){0, 2000000}, NULL);
                atomic_store_explicit(&cl->paused, 0, RLX);
                quit_at = 0;
                continue;
            }
        } else {
            /* Open or close connections to reach this thread's share. */
            int total = (int)scene_param(ctx, P_CONNS);
            int want = (total + CLIENTS - 1 - cl->idx) / CLIENTS;
            for (int i = 0; i < cl->n; i++)
                if (cl->c[i].fd < 0)
                    cl_open(cl, &cl->c[i], cl->c[i].id);
            while (cl->n < want) {
                struct cl_conn *c = &cl->c[cl->n];
                if (cl_open(cl, c, (uint32_t)(cl->n * CLIENTS + cl->idx)) != 0)
                    break;
                cl->n++;
            }
            while (cl->n > want && cl->c[cl->n - 1].st == CL_THINK) {
                cl_close(cl, &cl->c[cl->n - 1]);
                cl->n--;
            }
        }
        lane_set(&cl->lane, TRACE_RUN, N_CL_SEND, (uint32_t)waiting);
        uint64_t next = now + SLICE_NS;
        for (int i = 0; i < cl->n && !quit && !pause; i++) {
            struct cl_conn *c = &cl->c[i];
            if (c->fd < 0 || c->st != CL_THINK)
                continue;
            if (c->due <= now) {
                if (!cl_start(cl, c)) {
                    cl_close(cl, c);
                    cl_open(cl, c, c->id);
                }
            } else if (c->due < next) {
                next = c->due;
            }
        }
        waiting = 0;
        for (int i = 0; i < cl->n; i++)
            waiting += cl->c[i].fd >= 0 && cl->c[i].st != CL_THINK;
        lane_set(&cl->lane, waiting ? TRACE_IO : TRACE_SLEEP, waiting ? N_CL_WAIT : N_CL_THINK,
                 (uint32_t)waiting);
        int ms = (int)((next - now + 999999) / 1000000);
        int k = epoll_wait(cl->ep, ev, 64, ms);
        now = trace_now_ns();
        if (k > 0)
            lane_set(&cl->lane, TRACE_RUN, N_CL_SEND, (uint32_t)k);
        uint64_t think = (uint64_t)scene_param(ctx, P_THINK) * 1000;
        for (int j = 0; j < k; j++) {
            uint32_t i = ev[j].data.u32;
            if (i >= (uint32_t)cl->n)
                continue;
            struct cl_conn *c = &cl->c[i];
            if (c->fd < 0)
                continue;
            bool ok = true;
            if (c->st == CL_SEND && (ev[j].events & EPOLLOUT))
                ok = cl_push(cl, c);
            if (ok && (ev[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                ok = cl_read(cl, c, now, think);
            /* Flat out: the next request goes at once, without another pass. */
            if (ok && c->st == CL_THINK && think == 0 && !quit && !pause &&
                !atomic_load_explicit(&st->cl_pause, RLX) &&
                !atomic_load_explicit(&st->cl_quit, RLX))
                ok = cl_start(cl, c);
            if (!ok) {
                cl_close(cl, c);
                if (!quit && !pause)
                    cl_open(cl, c, c->id);
            }
        }
    }
    lane_set(&cl->lane, TRACE_DONE, N_STOPPED, 0);
    return NULL;
}

/* Pause the clients (drained, sockets closed) or let them go again. */
static bool clients_pause(struct rx_state *st, bool on)
{
    /* Release pairs with the clients' acquire loads of cl_pause. */
    atomic_store_explicit(&st->cl_pause, on, memory_order_release);
    if (!on)
        return true;
    uint64_t t0 = trace_now_ns();
    for (int i = 0; i < CLIENTS; i++)
        while (!atomic_load_explicit(&st->cl[i].paused, memory_order_acquire)) {
            if (trace_now_ns() - t0 > 3000000000ull || atomic_load_explicit(&st->cd_quit, RLX) ||
                atomic_load_explicit(&st->cl_quit, RLX))
                return false;
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    return true;
}

/* ---- figures ---- */

static void snap(struct rx_state *st, struct rx_snap *s)
{
    memset(s, 0, sizeof *s);
    s->t = trace_now_ns();
    for (int k = 0; k < st->nloops; k++) {
        struct rx_loop_stats *l = &st->lstats[k];
        s->requests += atomic_load_explicit(&l->requests, RLX);
        s->syscalls += atomic_load_explicit(&l->syscalls, RLX);
        s->cpu_ns += atomic_load_explicit(&l->cpu_ns, RLX);
        s->csw += atomic_load_explicit(&l->csw, RLX);
    }
    for (int i = 0; i < CLIENTS; i++)
        for (int b = 0; b < HIST_BUCKETS; b++)
            s->lat[b] += atomic_load_explicit(&st->cl[i].lat.b[b], RLX);
}

/* The latency below which a fraction p of the window's answers came, in us. */
static double window_pct(const struct rx_snap *a, const struct rx_snap *b, double p)
{
    uint64_t n = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        n += b->lat[i] - a->lat[i];
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)(n - 1)) + 1, seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += b->lat[i] - a->lat[i];
        if (seen >= rank)
            return (double)hist__bucket_mid(i) / 1000.0;
    }
    return 0;
}

static void window(const struct rx_snap *a, const struct rx_snap *b, struct rx_result *r)
{
    double secs = (double)(b->t - a->t) / 1e9;
    double req = (double)(b->requests - a->requests);
    r->rps = secs > 0 ? req / secs : 0;
    r->p50 = window_pct(a, b, 0.50);
    r->p99 = window_pct(a, b, 0.99);
    r->sys_pr = req > 0 ? (double)(b->syscalls - a->syscalls) / req : 0;
    r->csw_pr = req > 0 ? (double)(b->csw - a->csw) / req : 0;
    r->cpu_pr = req > 0 ? (double)(b->cpu_ns - a->cpu_ns) / req / 1000.0 : 0;
}

/* Sleep ns of real time in ticks, emitting the gauges; false if asked to quit. */
static bool cd_wait(struct rx_state *st, uint64_t ns, struct rx_snap *last, int *ticks)
{
    uint64_t end = trace_now_ns() + ns;
    while (!atomic_load_explicit(&st->cd_quit, memory_order_acquire)) {
        uint64_t now = trace_now_ns();
        if (now >= end)
            return true;
        uint64_t d = end - now < TICK_NS ? end - now : TICK_NS;
        nanosleep(&(struct timespec){(time_t)(d / 1000000000u), (long)(d % 1000000000u)}, NULL);
        uint64_t out = 0;
        for (int i = 0; i < CLIENTS; i++)
            out += atomic_load_explicit(&st->cl[i].outstanding, RLX);
        gauge_set(&st->g_out, (uint32_t)out);
        if (last && ++*ticks >= WINDOW_TICKS) {
            struct rx_snap now_s;
            snap(st, &now_s);
            /*
             * Once the scene is stopping, a slow handler's work is cut short
             * and the clients' last requests are answered at once: a window
             * with those answers would report a rate the handler never
             * allowed (100 ms of work a request read as 25 requests/s). The
             * snapshot came first, so what it holds was answered before.
             */
            if (scene_stopping(st->ctx))
                return false;
            struct rx_result r;
            window(last, &now_s, &r);
            r.uring = atomic_load_explicit(&st->engine_uring, RLX);
            *last = now_s;
            *ticks = 0;
            gauge_set(&st->g_rps, (uint32_t)(r.rps / 1000.0 + 0.5));
            pthread_mutex_lock(&st->res_lock);
            st->live = r;
            st->live_valid = 1;
            pthread_mutex_unlock(&st->res_lock);
        }
    }
    return false;
}

/* Swap the engine for model: clients drained and closed meanwhile. 0 or -1. */
static int swap_engine(struct rx_state *st, int model)
{
    if (!clients_pause(st, true)) {
        clients_pause(st, false); /* (frozen, or stopping): the running engine stays */
        return -1;
    }
    engine_stop(st);
    int rc = engine_start(st, model);
    clients_pause(st, false);
    return rc ? -1 : 0;
}

/* Both models back to back on the same load, measured the same way. */
static int run_compare(struct rx_state *st)
{
    struct scene_ctx *ctx = st->ctx;
    struct rx_result res[M_COUNT];
    for (int m = 0; m < M_COUNT; m++) {
        scene_note(ctx, _("comparing on the same load: %d of 2 (%s)..."), m + 1, _(model_words[m]));
        if (swap_engine(st, m))
            return -1;
        struct rx_snap *a = malloc(sizeof *a), *b = malloc(sizeof *b);
        bool ok = a && b && cd_wait(st, 300000000ull, NULL, NULL);
        if (ok) {
            snap(st, a);
            ok = cd_wait(st, (uint64_t)scene_param(ctx, P_CMP_MS) * 1000000ull, NULL, NULL);
            snap(st, b);
            window(a, b, &res[m]);
            res[m].uring = m == M_PROACTOR && atomic_load_explicit(&st->engine_uring, RLX);
        }
        free(a);
        free(b);
        if (!ok)
            return -1;
    }
    pthread_mutex_lock(&st->res_lock);
    memcpy(st->cmp, res, sizeof res);
    st->cmp_valid = 1;
    pthread_mutex_unlock(&st->res_lock);
    scene_note(ctx,
               _("compared: reactor %.0f req/s (p99 %.0f us), proactor%s %.0f req/s (p99 %.0f us); "
                 "see the cmp_ figures"),
               res[0].rps, res[0].p99, res[1].uring ? "" : _(" (pool)"), res[1].rps, res[1].p99);
    return swap_engine(st, ctx->mode);
}

static void *conductor_main(void *p)
{
    struct rx_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    struct rx_snap *last = malloc(sizeof *last);
    int ticks = 0, prev = 0;
    if (last)
        snap(st, last);
    while (last && !atomic_load_explicit(&st->cd_quit, memory_order_acquire)) {
        int cmp = (int)scene_param(ctx, P_COMPARE);
        if (cmp && !prev)
            atomic_store_explicit(&st->cmp_req, 1, RLX);
        prev = cmp;
        /* Acquire pairs with the key handler's release. */
        if (atomic_exchange_explicit(&st->cmp_req, 0, memory_order_acquire)) {
            if (run_compare(st) && !atomic_load_explicit(&st->cd_quit, memory_order_acquire)) {
                if (st->engine != ctx->mode)
                    swap_engine(st, ctx->mode);
                scene_note(ctx, _("comparison abandoned (the clients did not pause in time)"));
            }
            snap(st, last);
            ticks = 0;
        }
        cd_wait(st, TICK_NS, last, &ticks);
    }
    free(last);
    return NULL;
}

/* ---- the scene ---- */

static void lane_add(struct rx_lane *l, const char *name, enum trace_lane_kind kind, uint32_t max)
{
    l->id = trace_lane_add(name, kind, max);
    l->cur = ~0u;
}

/* The inode of a socket, 0 if unknown. */
static unsigned long sock_inode(int fd)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 ? (unsigned long)sb.st_ino : 0;
}

/*
 * Whether a socket not among ours listens on port (any local address) in a
 * /proc/net table: another program would share the connections (SO_REUSEPORT).
 */
static bool foreign_listener(const struct rx_state *st, const char *table, int port)
{
    FILE *f = fopen(table, "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    while (!found && fgets(line, sizeof line, f)) {
        char local[64];
        unsigned state;
        unsigned long inode;
        if (sscanf(line, "%*d: %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &state, &inode) != 3 ||
            state != 0x0A)
            continue;
        char *colon = strrchr(local, ':');
        if (!colon || strtol(colon + 1, NULL, 16) != port)
            continue;
        found = true;
        for (int k = 0; k < st->nloops && found; k++)
            if (st->lfd[k] >= 0 && sock_inode(st->lfd[k]) == inode)
                found = false;
    }
    fclose(f);
    return found;
}

/*
 * Open the listening sockets: 127.0.0.1 only, one per loop, on one port
 * (SO_REUSEPORT when there are several loops). The port must be the
 * scene's alone: a port given with port=N is first bound without
 * SO_REUSEPORT, which fails while anything listens there (with or without
 * it); one loop does not use SO_REUSEPORT at all, so nobody can join it;
 * with several, the listeners on the port are checked against ours.
 * 0 or -errno (-EADDRINUSE when the port is shared).
 */
static int listen_open(struct rx_state *st)
{
    int port = (int)scene_param(st->ctx, P_PORT);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (port) {
        int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return -errno;
        setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int rc = bind(probe, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno;
        close(probe);
        if (rc)
            return rc;
    }
    for (int k = 0; k < st->nloops; k++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return -errno;
        st->lfd[k] = fd;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (st->nloops > 1)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        sa.sin_port = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0)
            return -errno;
        socklen_t len = sizeof sa;
        if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
            return -errno;
        port = ntohs(sa.sin_port);
    }
    st->port = port;
    if (st->nloops > 1 && (foreign_listener(st, "/proc/self/net/tcp", port) ||
                           foreign_listener(st, "/proc/self/net/tcp6", port)))
        return -EADDRINUSE;
    return 0;
}

/* Will the proactor get io_uring? Ask once, with a tiny queue. */
static void probe_uring(struct rx_state *st)
{
    st->uring_ok = 0;
    st->uring_err = 0;
    if (!scene_param(st->ctx, P_URING))
        return;
    struct aio *a = NULL;
    if (aio_open(&a, 2, true, 1, NULL, NULL, &st->uring_err) == 0) {
        st->uring_ok = aio_backend_of(a) == AIO_URING;
        aio_close(a, 0, NULL);
    }
}

static void rx_stop(struct scene_ctx *ctx);

static int rx_start(struct scene_ctx *ctx)
{
    struct rx_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->engine = -1;
    st->nloops = (int)scene_param(ctx, P_LOOPS);
    pthread_mutex_init(&st->res_lock, NULL);
    for (int k = 0; k < MAX_LOOPS; k++)
        st->lfd[k] = -1;
    for (int i = 0; i < CLIENTS; i++)
        st->cl[i].ep = -1;
    struct rx_lane *all[] = {&st->poller, &st->g_out, &st->g_rps};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        all[k]->id = -1;
    for (int k = 0; k < LOOP_LANES; k++)
        st->loopl[k].id = st->kernel[k].id = -1;
    for (int k = 0; k < POOL_LANES; k++)
        st->pool[k].id = -1;
    int rc = listen_open(st);
    if (rc == -EADDRINUSE) {
        scene_note(ctx,
                   _("cannot listen on 127.0.0.1:%d: another program listens on that port (it "
                     "would share the connections); choose another port, or 0 for any free one"),
                   st->port ? st->port : (int)scene_param(ctx, P_PORT));
        rx_stop(ctx);
        return rc;
    }
    if (rc) {
        scene_note(ctx, _("cannot listen on 127.0.0.1:%d: %s"), (int)scene_param(ctx, P_PORT),
                   strerror(-rc));
        rx_stop(ctx);
        return rc;
    }
    probe_uring(st);
    char name[TRACE_NAME_MAX];
    bool pro = ctx->mode == M_PROACTOR;
    for (int k = 0; k < st->nloops && k < LOOP_LANES; k++) {
        snprintf(name, sizeof name, st->nloops > 1 ? N_("loop %d") : N_("loop"), k);
        lane_add(&st->loopl[k], name, TRACE_LANE_STATE, 0);
        if (pro) {
            snprintf(name, sizeof name,
                     st->nloops > 1 ? N_("in the kernel %d") : N_("in the kernel"), k);
            lane_add(&st->kernel[k], name, TRACE_LANE_GAUGE, 64);
        }
    }
    if (pro && !st->uring_ok) {
        lane_add(&st->poller, N_("poller"), TRACE_LANE_STATE, 0);
        for (int k = 0; k < POOL_LANES && k < scene_param(ctx, P_POOL); k++) {
            snprintf(name, sizeof name, N_("pool %d"), k);
            lane_add(&st->pool[k], name, TRACE_LANE_STATE, 0);
        }
    }
    for (int i = 0; i < CLIENTS; i++) {
        snprintf(name, sizeof name, N_("clients %d"), i);
        lane_add(&st->cl[i].lane, name, TRACE_LANE_STATE, 0);
    }
    lane_add(&st->g_out, N_("requests outstanding"), TRACE_LANE_GAUGE, 64);
    lane_add(&st->g_rps, N_("k requests/s"), TRACE_LANE_GAUGE, 100);
    if (!pro && scene_param(ctx, P_URING) && !st->uring_ok)
        scene_note(ctx, _("io_uring refused (%s): the proactor (c) would use a thread pool"),
                   strerror(st->uring_err));
    rc = engine_start(st, ctx->mode);
    for (int i = 0; i < CLIENTS && !rc; i++) {
        struct rx_client *cl = &st->cl[i];
        cl->st = st;
        cl->idx = i;
        hist_reset(&cl->lat);
        for (int j = 0; j < MAX_CONNS / CLIENTS; j++)
            cl->c[j].fd = -1;
        cl->ep = epoll_create1(EPOLL_CLOEXEC);
        if (cl->ep < 0) {
            rc = -errno;
            break;
        }
        rc = -pthread_create(&cl->th, NULL, client_main, cl);
        cl->up = rc == 0;
    }
    if (!rc) {
        rc = -pthread_create(&st->conductor, NULL, conductor_main, st);
        st->conductor_up = rc == 0;
    }
    if (rc) {
        scene_note(ctx, _("cannot start the server: %s"), strerror(-rc));
        rx_stop(ctx);
        return rc;
    }
    return 0;
}

/* Clients first (they collect what they are owed), then the conductor and its engine. */
static void rx_stop(struct scene_ctx *ctx)
{
    struct rx_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    /* Release pairs with the clients' acquire: they drain and leave. */
    atomic_store_explicit(&st->cl_quit, 1, memory_order_release);
    for (int i = 0; i < CLIENTS; i++) {
        if (st->cl[i].up)
            pthread_join(st->cl[i].th, NULL);
        st->cl[i].up = 0;
    }
    /* Release pairs with the conductor's acquire loads: it leaves and stops the engine. */
    atomic_store_explicit(&st->cd_quit, 1, memory_order_release);
    if (st->conductor_up)
        pthread_join(st->conductor, NULL);
    st->conductor_up = 0;
    engine_stop(st);
}

static void rx_free(struct scene_ctx *ctx)
{
    struct rx_state *st = ctx->priv;
    if (!st)
        return;
    for (int k = 0; k < MAX_LOOPS; k++)
        if (st->lfd[k] >= 0)
            close(st->lfd[k]);
    for (int i = 0; i < CLIENTS; i++) {
        struct rx_client *cl = &st->cl[i];
        if (cl->ep >= 0)
            close(cl->ep);
        for (int j = 0; j < MAX_CONNS / CLIENTS; j++) {
            free(cl->c[j].req);
            free(cl->c[j].resp);
        }
    }
    pthread_mutex_destroy(&st->res_lock);
    free(st);
    ctx->priv = NULL;
}

/* 'c': both models back to back; 'x': the slow handler on or off. */
static int rx_key(struct scene_ctx *ctx, int key)
{
    struct rx_state *st = ctx->priv;
    if (!st)
        return 0;
    if (key == 'c') {
        /* Release pairs with the conductor's acquire exchange. */
        atomic_store_explicit(&st->cmp_req, 1, memory_order_release);
        scene_note(ctx, _("comparison requested: reactor, then proactor, on the same load"));
        return 1;
    }
    if (key == 'x') {
        int64_t v = !scene_param(ctx, P_SLOW);
        atomic_store_explicit(&ctx->sh->param[P_SLOW], v, RLX);
        scene_note(ctx,
                   v ? _("slow handler on: %d us of CPU work in every callback")
                     : _("slow handler off (it was %d us)"),
                   (int)scene_param(ctx, P_SLOW_US));
        return 1;
    }
    return 0;
}

static void rx_status(struct scene_ctx *ctx, char *buf, unsigned len)
{
    struct rx_state *st = ctx->priv;
    if (st && st->port)
        snprintf(buf, len, "127.0.0.1:%d", st->port);
}

static void rx_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct rx_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_lock(&st->res_lock);
    struct rx_result live = st->live, cmp[M_COUNT];
    int live_valid = st->live_valid, cmp_valid = st->cmp_valid;
    memcpy(cmp, st->cmp, sizeof cmp);
    pthread_mutex_unlock(&st->res_lock);
    scene_stat(out, N_("loops"), st->nloops, "");
    scene_stat(out, N_("uring"), st->uring_ok, "");
    if (live_valid) {
        scene_stat(out, N_("rps"), live.rps, "req/s");
        scene_stat(out, N_("p50_us"), live.p50, "us");
        scene_stat(out, N_("p99_us"), live.p99, "us");
        scene_stat(out, N_("syscalls_per_req"), live.sys_pr, "");
        scene_stat(out, N_("ctxsw_per_req"), live.csw_pr, "");
        scene_stat(out, N_("cpu_us_per_req"), live.cpu_pr, "us");
    }
    uint64_t req = 0, io = 0, sys = 0, cpu = 0, csw = 0, acc = 0, open = 0, sent = 0, ans = 0,
             bad = 0, lost = 0, tmo = 0, evi = 0;
    for (int k = 0; k < st->nloops; k++) {
        req += atomic_load_explicit(&st->lstats[k].requests, RLX);
        io += atomic_load_explicit(&st->lstats[k].loop_io, RLX);
        sys += atomic_load_explicit(&st->lstats[k].syscalls, RLX);
        cpu += atomic_load_explicit(&st->lstats[k].cpu_ns, RLX);
        csw += atomic_load_explicit(&st->lstats[k].csw, RLX);
        acc += atomic_load_explicit(&st->lstats[k].accepted, RLX);
        open += atomic_load_explicit(&st->lstats[k].open, RLX);
        tmo += atomic_load_explicit(&st->lstats[k].timeouts, RLX);
        evi += atomic_load_explicit(&st->lstats[k].evicted, RLX);
    }
    for (int i = 0; i < CLIENTS; i++) {
        sent += atomic_load_explicit(&st->cl[i].sent, RLX);
        ans += atomic_load_explicit(&st->cl[i].answered, RLX);
        bad += atomic_load_explicit(&st->cl[i].bad, RLX);
        lost += atomic_load_explicit(&st->cl[i].lost, RLX);
    }
    scene_stat(out, N_("requests"), (double)req, "");
    scene_stat(out, N_("client_sent"), (double)sent, "");
    scene_stat(out, N_("client_answered"), (double)ans, "");
    scene_stat(out, N_("bad_answers"), (double)bad, "");
    scene_stat(out, N_("lost"), (double)lost, "");
    scene_stat(out, N_("loop_recv_send"), (double)io, "calls");
    scene_stat(out, N_("server_syscalls"), (double)sys, "");
    scene_stat(out, N_("server_cpu_ms"), (double)cpu / 1e6, "ms");
    scene_stat(out, N_("server_ctxsw"), (double)csw, "");
    scene_stat(out, N_("accepted"), (double)acc, "");
    scene_stat(out, N_("open_conns"), (double)open, "");
    scene_stat(out, N_("timed_out"), (double)tmo, "");
    scene_stat(out, N_("evicted"), (double)evi, "");
    for (int m = 0; cmp_valid && m < M_COUNT; m++) {
        char name[32];
        const char *w = model_words[m];
        snprintf(name, sizeof name, "cmp_%s_rps", w);
        scene_stat(out, name, cmp[m].rps, "req/s");
        snprintf(name, sizeof name, "cmp_%s_p50_us", w);
        scene_stat(out, name, cmp[m].p50, "us");
        snprintf(name, sizeof name, "cmp_%s_p99_us", w);
        scene_stat(out, name, cmp[m].p99, "us");
        snprintf(name, sizeof name, "cmp_%s_sys_req", w);
        scene_stat(out, name, cmp[m].sys_pr, "");
        snprintf(name, sizeof name, "cmp_%s_csw_req", w);
        scene_stat(out, name, cmp[m].csw_pr, "");
        snprintf(name, sizeof name, "cmp_%s_cpu_req", w);
        scene_stat(out, name, cmp[m].cpu_pr, "us");
    }
    if (cmp_valid)
        scene_stat(out, N_("cmp_proactor_uring"), cmp[M_PROACTOR].uring, "");
}

static const struct scene_param rx_params[] = {
    [P_CONNS] = {"conns", N_("built-in client connections (live)"), 0, MAX_CONNS, 16, "", 0},
    [P_SIZE] = {"size", N_("request line, bytes (live)"), 24, MAX_SIZE, 64, "B", 0},
    [P_THINK] = {"think_us", N_("client think time between answer and next request (live)"), 0,
                 1000000, 1000, "us", 0},
    [P_SLOW] = {"slow", N_("slow handler: CPU work in every callback (the x key)"), 0, 1, 0, "",
                SCENE_P_BOOL},
    [P_SLOW_US] = {"slow_us", N_("the slow handler's CPU work per request"), 1, 100000, 500, "us",
                   0},
    [P_LOOPS] = {"loops", N_("loop threads, each with its own socket (SO_REUSEPORT)"), 1, MAX_LOOPS,
                 1, "", SCENE_P_RESTART},
    [P_URING] = {"uring", N_("proactor: io_uring (off: the thread-pool fallback)"), 0, 1, 1, "",
                 SCENE_P_BOOL | SCENE_P_RESTART},
    [P_POOL] = {"pool", N_("proactor fallback: pool threads per loop"), 1, RX_POOL_MAX, 4, "",
                SCENE_P_RESTART},
    [P_PORT] = {"port", N_("TCP port on 127.0.0.1 (0: any free one)"), 0, 65535, 0, "",
                SCENE_P_RESTART},
    [P_COMPARE] = {"compare", N_("run both models on the same load (as the c key)"), 0, 1, 0, "",
                   SCENE_P_BOOL},
    [P_CMP_MS] = {"cmp_ms", N_("comparison: how long each model is measured"), 100, 60000, 2000,
                  "ms", 0},
    [P_IDLE_MS] = {"idle_ms", N_("close a connection idle this long (keep-alive timeout)"), 100,
                   3600000, 60000, "ms", 0},
    [P_HEADER_MS] = {"header_ms",
                     N_("close a connection whose request is incomplete this long (slow clients)"),
                     100, 3600000, 10000, "ms", 0},
};

static const struct scene_key rx_keys[] = {
    {'c', N_("compare: reactor then proactor on the same load, figures as cmp_*"), 0},
    {'x', N_("slow handler on/off: CPU work in every callback stalls the loop"), 0},
};

static const struct scene_mode rx_modes[] = {
    [M_REACTOR] =
        {"reactor", N_("reactor: tell me when I can (libuv, epoll)"),
         N_("A reactor: \"tell me when I can\". One libuv loop per thread waits in epoll_wait "
            "until some socket is ready, then its callback makes the calls itself: recv() "
            "copies the request into the loop's buffer, send() copies the answer out. "
            "Readiness is only a hint that a call will not block; the work and the copying "
            "still happen on the loop thread, one syscall each, so a request costs about "
            "three (epoll_wait shared, recv, send). This is libuv on Linux, Node.js, nginx, "
            "Java NIO: sockets on Linux are a reactor because epoll reports readiness, not "
            "completion. Turn on the slow handler (x): every connection on that loop waits "
            "for the CPU work in one callback, and p99 jumps. Connect yourself: "
            "curl http://127.0.0.1:PORT/ or nc 127.0.0.1 PORT and type lines."),
         .ns_per_col = SCENE_MS},
    [M_PROACTOR] =
        {"proactor", N_("proactor: tell me when it is done (io_uring)"),
         N_("A proactor: \"tell me when it is done\". The loop hands the kernel whole "
            "operations (accept, recv into this buffer, send that buffer) through the io_uring "
            "submission ring and later reaps completions that carry the result: the bytes are "
            "already in the buffer, and the kernel did the copying. One io_uring_enter submits "
            "a batch and waits for the next, so the syscalls per request fall below one when "
            "many connections are busy. Windows IOCP works the same way; io_uring brought the "
            "model to Linux sockets. The callback still runs on the loop thread: the slow "
            "handler (x) stalls it exactly as in the reactor. Where io_uring is refused "
            "(containers) or uring=off, a thread pool emulates it: a poller thread waits for "
            "readiness and pool threads make the calls, paying thread hops and context "
            "switches for the illusion."),
         .ns_per_col = SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure rx_figures[] = {
    {.name = "rps", .label = N_("throughput"), .flags = FIG_HEADLINE},
    {.name = "p99_us", .label = N_("latency p99"), .flags = FIG_HEADLINE},
    {.name = "syscalls_per_req", .label = N_("syscalls a request"), .flags = FIG_HEADLINE},
    {.name = "loops", .label = N_("loop threads"), .fmt = FIG_INT},
    {.name = "uring", .label = N_("io_uring"), .fmt = FIG_BOOL, .modes = FIG_MODE(M_PROACTOR)},
    {.name = "p50_us", .label = N_("latency p50")},
    {.name = "ctxsw_per_req", .label = N_("switches a request")},
    {.name = "cpu_us_per_req", .label = N_("CPU a request")},
    {.name = "requests", .label = N_("requests"), .fmt = FIG_INT},
    {.name = "client_sent", .label = N_("sent by clients"), .fmt = FIG_INT},
    {.name = "client_answered", .label = N_("answered"), .fmt = FIG_INT},
    {.name = "bad_answers", .label = N_("bad answers"), .fmt = FIG_INT},
    {.name = "lost", .label = N_("lost"), .fmt = FIG_INT},
    {.name = "loop_recv_send", .label = N_("recv and send calls"), .unit = "", .fmt = FIG_INT},
    {.name = "server_syscalls", .label = N_("server syscalls"), .fmt = FIG_INT},
    {.name = "server_cpu_ms", .label = N_("server CPU")},
    {.name = "server_ctxsw", .label = N_("server switches"), .fmt = FIG_INT},
    {.name = "accepted", .label = N_("connections accepted"), .fmt = FIG_INT},
    {.name = "open_conns", .label = N_("connections open"), .fmt = FIG_INT},
    {.name = "timed_out", .label = N_("connections timed out"), .fmt = FIG_INT},
    {.name = "evicted", .label = N_("connections evicted"), .fmt = FIG_INT},
    {.name = "cmp_*_rps", .label = N_("req/s"), .unit = "", .flags = FIG_COLUMN},
    {.name = "cmp_*_p50_us", .label = NULL, .flags = FIG_HIDE},
    {.name = "cmp_*_p99_us", .label = N_("p99"), .flags = FIG_COLUMN},
    {.name = "cmp_*_sys_req", .label = N_("syscalls/req"), .flags = FIG_COLUMN},
    {.name = "cmp_*_csw_req", .label = NULL, .flags = FIG_HIDE},
    {.name = "cmp_*_cpu_req", .label = N_("CPU/req"), .flags = FIG_COLUMN},
    {.name = "cmp_proactor_uring", .label = NULL, .flags = FIG_HIDE},
};

const struct scene_entry scene_reactor = {
    .name = "reactor",
    .title = N_("Reactor vs proactor on real sockets"),
    .summary = N_("a TCP server on 127.0.0.1: readiness (epoll) against completion (io_uring)"),
    .modes = rx_modes,
    .nmodes = M_COUNT,
    .params = rx_params,
    .nparams = (int)(sizeof rx_params / sizeof rx_params[0]),
    .keys = rx_keys,
    .nkeys = (int)(sizeof rx_keys / sizeof rx_keys[0]),
    .notes = rx_notes,
    .nnotes = (int)(sizeof rx_notes / sizeof rx_notes[0]),
    .start = rx_start,
    .stop = rx_stop,
    .release = rx_free,
    .key = rx_key,
    .stats = rx_stats,
    .figures = rx_figures,
    .nfigures = (int)(sizeof rx_figures / sizeof rx_figures[0]),
    .status = rx_status,
};
