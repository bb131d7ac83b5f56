/*
 * Scene: parallel sum - one problem (1 + 2 + ... + N) on one thread, on T
 * threads in five shapes, on T processes, with OpenMP, with SIMD and on the
 * GPU, every result checked against N(N+1)/2.
 *
 * DESIGN
 * Who runs: one coordinator thread (the 'main' lane) runs rounds, and a
 * pool of workers made at start serves them: 2 x cores threads (enough for
 * the sweep), or as many forked children in mode 6, forked before any other
 * thread of ours exists. For a round the coordinator writes the round's
 * description (mode, T, N, source) into shared memory and bumps the
 * generation word `gen` with a futex wake; workers 0..T-1 sum their chunks
 * and count themselves in `finished`; the coordinator waits for T of them,
 * adds the partial sums, checks the total against N(N+1)/2, records the
 * figures, pauses and goes again. OpenMP rounds use OpenMP's own team
 * instead (the coordinator is its thread 0), and GPU rounds a kernel the
 * coordinator launches. Just before every round the coordinator times the
 * same sum on itself with the scalar loop (the baseline): each speedup is
 * that round's baseline over that round's time, the two measured side by
 * side, and the figures show the median of the recent rounds with their
 * range. For the array source it first fills the array and measures the
 * read bandwidth once, with a pool round of vector loads. The sweep (key c,
 * or sweep=on) is a run of SWEEP_ROUNDS such pairs for each T = 1 .. 2 x
 * cores between two ordinary rounds; Amdahl's serial fraction (Karp-Flatt)
 * comes only from medians of at least SWEEP_ROUNDS rounds. The UI thread
 * only reads figures and sets the sweep request.
 *
 * Who owns what: struct ps_shm (MAP_SHARED, made before any fork) holds
 * what workers share: gen, finished, the round description (written by the
 * coordinator only while no round runs, published by gen's release), one
 * slot per worker for its partial sum and, in the false-sharing mode, one
 * counter per worker (each written by its worker only, published by the
 * worker's release on `finished`). The array is mapped at start (shared in
 * mode 6 so children see it), written only by the coordinator before the
 * first round that reads it, read-only after. Worker lane k is written by
 * pool worker k or, in OpenMP rounds, by OpenMP thread k (the rounds are
 * ordered by the coordinator's waits); 'main' and 'gpu' by the coordinator;
 * 'GIL' as src/gil.c says.
 *
 * Locks: acc_mu guards the shared accumulator of the locked mode (workers;
 * the coordinator reads it after the round); fig_mu guards the figures
 * (coordinator writes, UI reads); the GIL's own locks (src/gil.c). No code
 * path holds two of them.
 *
 * Shutdown: stop() sets the stop flag and bumps gen with a wake, so idle
 * workers wake and leave; busy ones check the flag every chunk of up to
 * STEP elements (every block when locked, every eval-breaker tick under the
 * GIL, where gil_drop lets a waiter in to see the flag too) and leave. The
 * coordinator re-checks the flag every WAIT_NS while it waits and leaves;
 * stop() joins it and every pool thread and reaps every child (SIGKILL after
 * a two-second grace). A round cut short is not checked or counted.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "futex.h"
#include "gil.h"
#include "rounds.h"
#include "pix.h"
#include "scene.h"
#include "i18n.h"
#include "scenes/scenes.h"
#include "trace.h"

#ifdef HAVE_CUDA
#include "gpu/reduce.h"
#endif

#define MAXT 16              /* workers at most (and the sweep's top) */
#define STEP (1u << 20)      /* elements between stop checks */
#define GIL_TICK 256         /* elements per "bytecode" under the GIL */
#define PAD 16               /* padded counters: 16 x 8 bytes = 128 bytes apart */
#define N_MAX 6000000000ll   /* N(N+1)/2 < 2^64 up to about 6.07e9 */
#define MIB_ELEMS (1u << 17) /* uint64 values per MiB */
#define BW_PASSES 3          /* bandwidth: best of this many passes */
#define WAIT_NS 20000000ull  /* the coordinator re-checks the stop flag this often */
#define GEN_SHIFT 5          /* gen's low bits hold T (<= MAXT < 32) */
#define SWEEP_ROUNDS 3       /* baseline/parallel pairs per T in the sweep; points need this many */

enum { P_N, P_THREADS, P_ARRAY, P_SIZE, P_PADDED, P_BLOCK, P_PAUSE, P_SWEEP };
enum { M_SERIAL, M_THREADS, M_LOCKED, M_FALSE, M_GIL, M_PROCS, M_OMP, M_SIMD, M_CUDA, M_COUNT };
#define M_BW M_COUNT /* internal: the bandwidth pass (vector loads, no lanes) */
enum {
    N_SUMMING = GIL_N_COUNT,
    N_LOCKWAIT,
    N_FINISHED,
    N_WAITING,
    N_WAKING,
    N_JOINING,
    N_CHECKING,
    N_PAUSE,
    N_BASELINE,
    N_FILLING,
    N_BANDWIDTH,
    N_OMP,
    N_GPU_WAIT,
    N_KERNEL,
    N_UPLOAD,
    N_STOPPED,
    N_NEXT_ROUND,
    N_OMP_BARRIER,
    N_OMP_NEXT,
};

static const char *const ps_notes[] = {
    GIL_NOTE_WORDS,
    [N_SUMMING] = N_("summing its chunk"),
    [N_LOCKWAIT] = N_("waiting for the accumulator lock"),
    [N_FINISHED] = N_("finished, partial sum reported"),
    [N_WAITING] = N_("waiting for the first round"),
    [N_WAKING] = N_("handing out the chunks, waking the workers"),
    [N_JOINING] = N_("joining: waiting for every worker"),
    [N_CHECKING] = N_("adding partial sums, checking N(N+1)/2"),
    [N_PAUSE] = N_("pause between rounds"),
    [N_BASELINE] = N_("baseline: the same sum on this one thread, just before the round"),
    [N_FILLING] = N_("filling the array"),
    [N_BANDWIDTH] = N_("measuring memory bandwidth (all cores)"),
    [N_OMP] = N_("in the OpenMP region (also worker 0)"),
    [N_GPU_WAIT] = N_("waiting for the GPU"),
    [N_KERNEL] = N_("kernel running on the GPU"),
    [N_UPLOAD] = N_("copying the array to the GPU"),
    [N_STOPPED] = N_("stopped"),
    [N_NEXT_ROUND] = N_("partial sum reported; waiting for the next round"),
    [N_OMP_BARRIER] = N_("at the region's barrier: the other threads still sum"),
    [N_OMP_NEXT] = N_("waiting for the next parallel region"),
};

/* One worker's report; in shared memory so that a child process can write it. */
struct ps_slot {
    _Alignas(128) _Atomic uint64_t partial; /* relaxed; published by `finished` */
    _Atomic int done;                       /* whole chunk summed (not stopped) */
};

/* A round as the workers see it: written before gen's release, read after its acquire. */
struct ps_round_desc {
    int mode, t, use_arr, padded;
    uint64_t n, block;
};

/* Everything workers share; MAP_SHARED, made before any fork. */
struct ps_shm {
    /*
     * Round number << GEN_SHIFT | T: bumped (release) by the coordinator to
     * start a round and by stop(); workers acquire it. T rides in the word so
     * that workers not in the round never read rd, which the coordinator may
     * rewrite for the next round while they are still waking.
     */
    _Alignas(64) _Atomic uint32_t gen;
    /* Bumped (release) by each worker of the round when done; the coordinator acquires. */
    _Alignas(64) _Atomic uint32_t finished;
    struct ps_round_desc rd;
    struct ps_slot slot[MAXT];
    /* False-sharing mode: worker k's counter is cnt[k] (unpadded) or cnt[k * PAD]. */
    _Alignas(128) _Atomic uint64_t cnt[MAXT * PAD];
};

typedef uint64_t (*sum_fn)(const uint64_t *a, uint64_t lo, uint64_t hi);

struct ps_state;

/* One pool worker: its index and lane, fixed at start. */
struct ps_worker {
    struct ps_state *st;
    int idx;
    int lane; /* -1 for workers beyond the declared lanes (sweep only) */
    struct gil_thread gt;
};

/* The coordinator's figures; written under fig_mu, read by stats and canvas. */
struct ps_figs {
    uint64_t rounds, wrong, last_sum, last_want, last_n;
    int last_ok, last_t, last_mode, have, on_gpu;
    double last_ms, gbps;
    /* The recent rounds at the current settings: speedup, baseline and round time. */
    struct rounds speedup, base_ms, ms;
    double mem_bw, fill_ms;
    double gpu_ms, gpu_gbps, upload_ms;
    uint32_t max_holders;
    struct rounds sp[MAXT + 1]; /* the chart: speedups measured at T */
    int sweep_mode, sweeps;
    double serial_frac; /* Karp-Flatt estimate from the chart's medians, -1: none */
};

struct ps_state {
    struct scene_ctx *ctx;
    int mode, nlanes, main_lane, gil_lane, gpu_lane, cores, tmax;
    int lanes[MAXT];
    struct ps_shm *shm;
    uint64_t *arr; /* mapped at start (before any fork), filled on first use */
    size_t arr_count;
    int arr_ready, arr_failed; /* coordinator only */
    sum_fn vec;
    const char *isa;
    int vec_bits;
    pthread_t coord;
    int coord_up;
    pthread_t pool[MAXT];
    int npool;
    pid_t pids[MAXT];
    int npids;
    struct ps_worker w[MAXT];
    /* Locked mode. */
    pthread_mutex_t acc_mu;
    uint64_t acc;                 /* under acc_mu */
    _Atomic uint32_t holders;     /* relaxed, changed under acc_mu: a witness */
    _Atomic uint32_t max_holders; /* relaxed, written under acc_mu, read by stats */
    /* GIL mode. */
    struct gil gil;
    int gil_up;
    /* What the recent rounds were measured with (coordinator only): n, source. */
    uint64_t rounds_n;
    int rounds_src;
    /* Key c: relaxed; the flag carries no data (exchanged by the coordinator). */
    _Atomic int sweep_req;
    char mode_note[160]; /* coordinator only after start */
    char no_gpu[128];    /* mode 9: why there is no GPU (set at start) */
#ifdef HAVE_CUDA
    struct reduce_cuda *cuda;
    int cuda_uploaded;
#endif
    int cuda_failed;
    pthread_mutex_t fig_mu;
    struct ps_figs figs;
};

#define RLX memory_order_relaxed

/* Emit on a lane, if the worker has one. */
static void emit(int lane, unsigned state)
{
    if (lane >= 0)
        trace_emit(lane, state, 0);
}

/* Hides a value from the optimiser, so a loop cannot be folded into a formula. */
#define OPAQUE(x) __asm__("" : "+r"(x))

/* Scalar: one add per element, not vectorised (the barrier forbids it). */
static uint64_t sum_scalar(const uint64_t *a, uint64_t lo, uint64_t hi)
{
    uint64_t s = 0;
    if (a) {
        for (uint64_t j = lo; j < hi; j++) {
            s += a[j];
            OPAQUE(s);
        }
    } else {
        for (uint64_t v = lo + 1; v <= hi; v++) {
            s += v;
            OPAQUE(s);
        }
    }
    return s;
}

/*
 * Vector kernels: two accumulators of BYTES/8 lanes each; for the range, the
 * values themselves are vectors stepped by 2L. The barrier on the
 * accumulators keeps the loop a loop; memcpy loads are unaligned-safe.
 */
#define VEC_KERNEL(fname, attr, bytes, cons)                                                       \
    attr static uint64_t fname(const uint64_t *a, uint64_t lo, uint64_t hi)                        \
    {                                                                                              \
        typedef uint64_t vec __attribute__((vector_size(bytes)));                                  \
        enum { L = (bytes) / 8 };                                                                  \
        vec acc0 = {0}, acc1 = {0};                                                                \
        uint64_t j = lo;                                                                           \
        if (a) {                                                                                   \
            for (; j + 2 * L <= hi; j += 2 * L) {                                                  \
                vec x0, x1;                                                                        \
                memcpy(&x0, a + j, sizeof x0);                                                     \
                memcpy(&x1, a + j + L, sizeof x1);                                                 \
                acc0 += x0;                                                                        \
                acc1 += x1;                                                                        \
            }                                                                                      \
        } else {                                                                                   \
            vec v0, v1;                                                                            \
            for (int k = 0; k < L; k++)                                                            \
                v0[k] = j + 1 + (uint64_t)k;                                                       \
            v1 = v0 + (uint64_t)L;                                                                 \
            for (; j + 2 * L <= hi; j += 2 * L) {                                                  \
                acc0 += v0;                                                                        \
                acc1 += v1;                                                                        \
                v0 += (uint64_t)(2 * L);                                                           \
                v1 += (uint64_t)(2 * L);                                                           \
                __asm__("" : "+" cons(acc0), "+" cons(acc1));                                      \
            }                                                                                      \
        }                                                                                          \
        acc0 += acc1;                                                                              \
        uint64_t s = 0;                                                                            \
        for (int k = 0; k < L; k++)                                                                \
            s += acc0[k];                                                                          \
        for (; j < hi; j++)                                                                        \
            s += a ? a[j] : j + 1;                                                                 \
        return s;                                                                                  \
    }

#if defined(__x86_64__)
VEC_KERNEL(sum_sse2, , 16, "x")
VEC_KERNEL(sum_avx2, __attribute__((target("avx2"))), 32, "x")
VEC_KERNEL(sum_avx512, __attribute__((target("avx512f"))), 64, "v")
#elif defined(__aarch64__)
VEC_KERNEL(sum_neon, , 16, "w")
#endif

/* The widest vector kernel this CPU runs, with its name and width. */
static sum_fn pick_vector(const char **isa, int *bits)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *isa = "AVX-512";
        *bits = 512;
        return sum_avx512;
    }
    if (__builtin_cpu_supports("avx2")) {
        *isa = "AVX2";
        *bits = 256;
        return sum_avx2;
    }
    *isa = "SSE2";
    *bits = 128;
    return sum_sse2;
#elif defined(__aarch64__)
    *isa = "NEON";
    *bits = 128;
    return sum_neon;
#else
    *isa = "none (scalar)";
    *bits = 64;
    return sum_scalar;
#endif
}

/* N(N+1)/2 exactly (N <= N_MAX keeps it below 2^64). */
static uint64_t closed_form(uint64_t n)
{
    return n % 2 == 0 ? n / 2 * (n + 1) : (n + 1) / 2 * n;
}

/* Cores this process may run on. */
static int online_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Sum [lo, hi) with fn in STEP pieces, checking the stop flag; false if stopped. */
static bool sum_chunk(const struct scene_ctx *ctx, sum_fn fn, const uint64_t *a, uint64_t lo,
                      uint64_t hi, uint64_t *out)
{
    uint64_t s = 0;
    for (uint64_t j = lo; j < hi; j += STEP) {
        if (scene_stopping(ctx))
            return false;
        s += fn(a, j, hi - j < STEP ? hi : j + STEP);
    }
    *out = s;
    return true;
}

/* Locked mode: the whole block is added to the shared total while holding the lock. */
static bool work_locked(struct ps_worker *w, const struct ps_round_desc *rd, const uint64_t *a,
                        uint64_t lo, uint64_t hi)
{
    struct ps_state *st = w->st;
    for (uint64_t j = lo; j < hi; j += rd->block) {
        if (scene_stopping(st->ctx))
            return false;
        uint64_t e = hi - j < rd->block ? hi : j + rd->block;
        if (pthread_mutex_trylock(&st->acc_mu) != 0) {
            emit(w->lane, TRACE_LOCK | TRACE_NOTE(N_LOCKWAIT));
            pthread_mutex_lock(&st->acc_mu);
            emit(w->lane, TRACE_RUN | TRACE_NOTE(N_SUMMING));
        }
        uint32_t h = atomic_load_explicit(&st->holders, RLX) + 1;
        atomic_store_explicit(&st->holders, h, RLX);
        if (h > atomic_load_explicit(&st->max_holders, RLX))
            atomic_store_explicit(&st->max_holders, h, RLX);
        st->acc += sum_scalar(a, j, e);
        atomic_store_explicit(&st->holders, h - 1, RLX);
        pthread_mutex_unlock(&st->acc_mu);
    }
    return true;
}

/* False-sharing mode: every element goes through the worker's counter in memory. */
static bool work_counter(struct ps_worker *w, const struct ps_round_desc *rd, const uint64_t *a,
                         uint64_t lo, uint64_t hi, uint64_t *out)
{
    struct ps_state *st = w->st;
    /* Relaxed: each counter has one writer; `finished` publishes its final value. */
    _Atomic uint64_t *c = &st->shm->cnt[w->idx * (rd->padded ? PAD : 1)];
    for (uint64_t j = lo; j < hi; j += STEP) {
        if (scene_stopping(st->ctx))
            return false;
        uint64_t e = hi - j < STEP ? hi : j + STEP;
        for (uint64_t k = j; k < e; k++)
            atomic_store_explicit(c, atomic_load_explicit(c, RLX) + (a ? a[k] : k + 1), RLX);
    }
    *out = atomic_load_explicit(c, RLX);
    return true;
}

/* GIL mode: the scalar loop with an eval-breaker check every GIL_TICK elements. */
static bool work_gil(struct ps_worker *w, const uint64_t *a, uint64_t lo, uint64_t hi,
                     uint64_t *out)
{
    struct ps_state *st = w->st;
    uint64_t s = 0;
    bool ok = true;
    gil_take(&st->gil, &w->gt);
    for (uint64_t j = lo; j < hi; j += GIL_TICK) {
        if ((j - lo) % STEP == 0 && scene_stopping(st->ctx)) {
            ok = false;
            break;
        }
        s += sum_scalar(a, j, hi - j < GIL_TICK ? hi : j + GIL_TICK);
        gil_check(&st->gil, &w->gt);
    }
    gil_drop(&st->gil, &w->gt,
             ok ? TRACE_WAIT | TRACE_NOTE(N_NEXT_ROUND) : TRACE_DONE | TRACE_NOTE(N_STOPPED));
    *out = s;
    return ok;
}

/* One worker's round: sum its chunk the mode's way, report in its slot. */
static void worker_body(struct ps_worker *w, const struct ps_round_desc *rd)
{
    struct ps_state *st = w->st;
    struct ps_slot *slot = &st->shm->slot[w->idx];
    const uint64_t *a = rd->use_arr ? st->arr : NULL;
    uint64_t lo = rd->n * (uint64_t)w->idx / (uint64_t)rd->t;
    uint64_t hi = rd->n * (uint64_t)(w->idx + 1) / (uint64_t)rd->t;
    int lane = rd->mode == M_BW ? -1 : w->lane;
    uint64_t s = 0;
    bool ok;
    if (rd->mode != M_GIL)
        emit(lane, TRACE_RUN | TRACE_NOTE(N_SUMMING));
    switch (rd->mode) {
    case M_LOCKED:
        ok = work_locked(w, rd, a, lo, hi);
        break;
    case M_FALSE:
        ok = work_counter(w, rd, a, lo, hi, &s);
        break;
    case M_GIL:
        ok = work_gil(w, a, lo, hi, &s);
        break;
    case M_SIMD:
    case M_BW:
        ok = sum_chunk(st->ctx, st->vec, a, lo, hi, &s);
        break;
    default:
        ok = sum_chunk(st->ctx, sum_scalar, a, lo, hi, &s);
        break;
    }
    atomic_store_explicit(&slot->partial, s, RLX);
    atomic_store_explicit(&slot->done, ok, RLX);
    /* A pool worker with its part done waits for the next round's chunk. */
    if (rd->mode != M_GIL)
        emit(lane, ok ? TRACE_WAIT | TRACE_NOTE(N_NEXT_ROUND) : TRACE_DONE | TRACE_NOTE(N_STOPPED));
}

/* A pool worker (thread or child): wait for each round, take part if needed, report. */
static void worker_loop(struct ps_worker *w)
{
    struct ps_shm *sh = w->st->shm;
    uint32_t seen = 0;
    for (;;) {
        /* Acquire pairs with the coordinator's release of gen: rd is complete. */
        uint32_t g = atomic_load_explicit(&sh->gen, memory_order_acquire);
        if (scene_stopping(w->st->ctx))
            break;
        if (g == seen) {
            futex_wait(&sh->gen, seen, 0); /* returns at once if gen moved meanwhile */
            continue;
        }
        seen = g;
        if (w->idx >= (int)(g & ((1u << GEN_SHIFT) - 1)))
            continue; /* not in this round: rd is not ours to read */
        struct ps_round_desc rd = sh->rd;
        worker_body(w, &rd);
        /* Release: the coordinator that counts us sees our slot and counter. */
        atomic_fetch_add_explicit(&sh->finished, 1, memory_order_release);
        futex_wake_all(&sh->finished);
    }
}

/* Entry for a pool worker, thread or child process. */
static void *worker_main(void *p)
{
    worker_loop(p);
    return NULL;
}

/* Start a round for workers 0..t-1 (t < 0: none; stop() uses it to wake every waiter). */
static void wake_workers(struct ps_shm *sh, int t)
{
    uint32_t low = (1u << GEN_SHIFT) - 1, old = atomic_load_explicit(&sh->gen, RLX), next;
    /* Release pairs with the workers' acquire of gen: rd is complete. */
    do {
        next = ((old & ~low) + (1u << GEN_SHIFT)) | (t < 0 ? 0 : (uint32_t)t);
    } while (
        !atomic_compare_exchange_weak_explicit(&sh->gen, &old, next, memory_order_release, RLX));
    futex_wake_all(&sh->gen);
}

/* OpenMP mode: one parallel region with a reduction; without OpenMP, one thread. */
static bool run_omp(struct ps_state *st, int t, const uint64_t *a, uint64_t n, uint64_t *total,
                    int *team)
{
    struct scene_ctx *ctx = st->ctx;
    uint64_t blk = n / ((uint64_t)t * 64) + 1;
    if (blk < 4096)
        blk = 4096;
    int64_t nblk = (int64_t)((n + blk - 1) / blk);
    uint64_t s = 0;
    int nt = 1;
    emit(st->main_lane, TRACE_RUN | TRACE_NOTE(N_OMP));
#ifdef _OPENMP
#pragma omp parallel num_threads(t) reduction(+ : s)
    {
        int id = omp_get_thread_num();
        int lane = id < st->nlanes ? st->lanes[id] : -1;
#pragma omp single nowait
        nt = omp_get_num_threads();
        emit(lane, TRACE_RUN | TRACE_NOTE(N_SUMMING));
#pragma omp for schedule(static) nowait
        for (int64_t b = 0; b < nblk; b++) {
            if (scene_stopping(ctx))
                continue;
            uint64_t lo = (uint64_t)b * blk;
            s += sum_scalar(a, lo, n - lo < blk ? n : lo + blk);
        }
        /* The region's barrier, made explicit so each thread's wait there is drawn. */
        emit(lane, TRACE_BARRIER | TRACE_NOTE(N_OMP_BARRIER));
#pragma omp barrier
        emit(lane, TRACE_WAIT | TRACE_NOTE(N_OMP_NEXT));
    }
#else
    (void)nblk;
    int lane = st->nlanes > 0 ? st->lanes[0] : -1;
    emit(lane, TRACE_RUN | TRACE_NOTE(N_SUMMING));
    bool ok = sum_chunk(ctx, sum_scalar, a, 0, n, &s);
    emit(lane, ok ? TRACE_WAIT | TRACE_NOTE(N_OMP_NEXT) : TRACE_DONE | TRACE_NOTE(N_STOPPED));
#endif
    *total = s;
    *team = nt;
    return !scene_stopping(ctx);
}

#ifdef HAVE_CUDA
/* Mode 9 with no GPU to use: say so, and what runs instead. */
static void no_gpu_note(struct ps_state *st, const char *why)
{
    snprintf(st->mode_note, sizeof st->mode_note, _("no GPU (%.60s): T CPU threads as in mode 2"),
             why);
    st->cuda_failed = 1;
}

/* GPU mode: the coordinator launches the reduction and waits for it. */
static int run_cuda(struct ps_state *st, const uint64_t *a, uint64_t n, uint64_t *total,
                    double *kernel_ms)
{
    char err[160];
    if (!st->cuda) {
        char why[160];
        if (!reduce_cuda_probe(why, sizeof why) ||
            !(st->cuda = reduce_cuda_create(why, sizeof why))) {
            no_gpu_note(st, why);
            return -1;
        }
        int sms = 0;
        const char *name = reduce_cuda_name(st->cuda, &sms);
        snprintf(st->mode_note, sizeof st->mode_note, "%.60s, %d SMs", name, sms);
    }
    if (a && !st->cuda_uploaded) {
        double ms = 0;
        emit(st->main_lane, TRACE_IO | TRACE_NOTE(N_UPLOAD));
        if (reduce_cuda_upload(st->cuda, a, (size_t)n, &ms, err, sizeof err) != 0)
            goto fail;
        st->cuda_uploaded = 1;
        pthread_mutex_lock(&st->fig_mu);
        st->figs.upload_ms = ms;
        pthread_mutex_unlock(&st->fig_mu);
    }
    emit(st->main_lane, TRACE_WAIT | TRACE_NOTE(N_GPU_WAIT));
    trace_emit(st->gpu_lane, TRACE_KERNEL | TRACE_NOTE(N_KERNEL), 0);
    int rc = a ? reduce_cuda_array(st->cuda, total, kernel_ms, err, sizeof err)
               : reduce_cuda_range(st->cuda, n, total, kernel_ms, err, sizeof err);
    trace_emit(st->gpu_lane, TRACE_IDLE | TRACE_NOTE(N_FINISHED), 0);
    if (rc == 0)
        return 0;
fail:
    no_gpu_note(st, err);
    return -1;
}
#endif

struct ps_round {
    uint64_t total, want, n;
    double ms, gpu_ms;
    int t, mode, use_arr;
};

/* Hand t pool workers their chunks and wait for all of them. False if stopped. */
static bool pool_round(struct ps_state *st, int mode, int t, bool use_arr, uint64_t n,
                       uint64_t *total)
{
    struct scene_ctx *ctx = st->ctx;
    struct ps_shm *sh = st->shm;
    sh->rd = (struct ps_round_desc){
        .mode = mode,
        .t = t,
        .use_arr = use_arr,
        .padded = (int)scene_param(ctx, P_PADDED),
        .n = n,
        .block = (uint64_t)scene_param(ctx, P_BLOCK),
    };
    st->acc = 0; /* no worker is in a round: nobody holds acc_mu */
    for (int i = 0; i < MAXT; i++) {
        atomic_store_explicit(&sh->slot[i].done, 0, RLX);
        atomic_store_explicit(&sh->slot[i].partial, 0, RLX);
    }
    for (int i = 0; i < MAXT * PAD; i++)
        atomic_store_explicit(&sh->cnt[i], 0, RLX);
    atomic_store_explicit(&sh->finished, 0, RLX); /* published by gen's release */
    emit(st->main_lane, TRACE_RUN | TRACE_NOTE(N_WAKING));
    wake_workers(sh, t);
    emit(st->main_lane, TRACE_WAIT | TRACE_NOTE(N_JOINING));
    for (;;) {
        /* Acquire pairs with each worker's release: their slots are final. */
        uint32_t f = atomic_load_explicit(&sh->finished, memory_order_acquire);
        if (f >= (uint32_t)t)
            break;
        if (scene_stopping(ctx))
            return false;
        futex_wait(&sh->finished, f, WAIT_NS);
    }
    bool ok = true;
    *total = 0;
    for (int i = 0; i < t; i++) {
        ok = ok && atomic_load_explicit(&sh->slot[i].done, RLX);
        *total += atomic_load_explicit(&sh->slot[i].partial, RLX);
    }
    if (mode == M_LOCKED) {
        pthread_mutex_lock(&st->acc_mu);
        *total = st->acc;
        pthread_mutex_unlock(&st->acc_mu);
    }
    return ok && !scene_stopping(ctx);
}

/* One round of `mode` on t workers. False if stopped. */
static bool run_round(struct ps_state *st, int mode, int t, bool use_arr, uint64_t n,
                      struct ps_round *r)
{
    const uint64_t *a = use_arr ? st->arr : NULL;
    memset(r, 0, sizeof *r);
    r->n = n;
    r->want = closed_form(n);
    r->use_arr = use_arr;
    bool gpu = false;
#ifdef HAVE_CUDA
    gpu = mode == M_CUDA && !st->cuda_failed;
#endif
    if (mode == M_CUDA && !gpu)
        mode = M_THREADS;
    r->mode = mode;
    r->t = t;
    uint64_t t0 = trace_now_ns();
    bool ok = true;
    if (gpu) {
#ifdef HAVE_CUDA
        if (run_cuda(st, a, n, &r->total, &r->gpu_ms) != 0)
            return run_round(st, M_THREADS, t, use_arr, n, r);
        r->t = 1;
#endif
    } else if (mode == M_OMP) {
        ok = run_omp(st, t, a, n, &r->total, &r->t);
    } else {
        ok = pool_round(st, mode, t, use_arr, n, &r->total);
    }
    r->ms = (double)(trace_now_ns() - t0) / 1e6;
    emit(st->main_lane, TRACE_RUN | TRACE_NOTE(N_CHECKING));
    return ok && !scene_stopping(st->ctx);
}

/*
 * The one-thread scalar time of this sum, measured now, just before the
 * round it is compared with: on a shared machine the load changes from one
 * second to the next, so only times taken side by side compare.
 */
static bool baseline(struct ps_state *st, bool use_arr, uint64_t n, double *ms)
{
    emit(st->main_lane, TRACE_RUN | TRACE_NOTE(N_BASELINE));
    uint64_t t0 = trace_now_ns(), s;
    if (!sum_chunk(st->ctx, sum_scalar, use_arr ? st->arr : NULL, 0, n, &s))
        return false;
    *ms = (double)(trace_now_ns() - t0) / 1e6;
    if (s != closed_form(n)) {
        pthread_mutex_lock(&st->fig_mu);
        st->figs.wrong++;
        pthread_mutex_unlock(&st->fig_mu);
    }
    return true;
}

/* Read bandwidth: one pool worker per core, vector loads over the array, best pass. */
static double measure_bw(struct ps_state *st)
{
    int k = st->cores < st->npool + st->npids ? st->cores : st->npool + st->npids;
    double best = 0;
    emit(st->main_lane, TRACE_RUN | TRACE_NOTE(N_BANDWIDTH));
    for (int pass = 0; pass < BW_PASSES; pass++) {
        uint64_t t0 = trace_now_ns(), s;
        if (!pool_round(st, M_BW, k, true, st->arr_count, &s))
            return 0;
        double gbs = (double)st->arr_count * 8.0 / ((double)(trace_now_ns() - t0) / 1e9) / 1e9;
        if (s == closed_form(st->arr_count) && gbs > best)
            best = gbs;
    }
    return best;
}

/* Fill the array with 1..count (first touch), then measure the bandwidth once. */
static bool prepare_array(struct ps_state *st)
{
    emit(st->main_lane, TRACE_RUN | TRACE_NOTE(N_FILLING));
    uint64_t t0 = trace_now_ns();
    for (size_t i = 0; i < st->arr_count; i++) {
        if (i % STEP == 0 && scene_stopping(st->ctx))
            return false;
        st->arr[i] = i + 1;
    }
    double fill = (double)(trace_now_ns() - t0) / 1e6;
    st->arr_ready = 1;
    double bw = measure_bw(st);
    pthread_mutex_lock(&st->fig_mu);
    st->figs.fill_ms = fill;
    st->figs.mem_bw = bw;
    pthread_mutex_unlock(&st->fig_mu);
    return !scene_stopping(st->ctx);
}

/*
 * Karp-Flatt serial fraction from the chart's medians with 2 <= T <= cores,
 * each over at least SWEEP_ROUNDS rounds (a single round is too noisy).
 */
static double serial_fraction(const struct rounds *sp, int cores, int tmax)
{
    double sum = 0;
    int k = 0;
    int top = cores >= 2 ? cores : tmax;
    for (int t = 2; t <= top && t <= tmax; t++) {
        double med;
        if (rounds_summary(&sp[t], &med, NULL, NULL) < SWEEP_ROUNDS || med <= 0)
            continue;
        double e = (1.0 / med - 1.0 / t) / (1.0 - 1.0 / t);
        sum += e < 0 ? 0 : e > 1 ? 1 : e;
        k++;
    }
    return k ? sum / k : -1;
}

/* Record a finished round and its own baseline (and the chart's point for its T). */
static void record_round(struct ps_state *st, const struct ps_round *r, double base, bool sweep)
{
    struct ps_figs *f = &st->figs;
    double sp = r->ms > 0 ? base / r->ms : 0;
    pthread_mutex_lock(&st->fig_mu);
    f->rounds++;
    f->wrong += r->total != r->want;
    f->have = 1;
    f->last_sum = r->total;
    f->last_want = r->want;
    f->last_ok = r->total == r->want;
    f->last_n = r->n;
    f->last_t = r->t;
    f->last_mode = r->mode;
    f->last_ms = r->ms;
    f->on_gpu = r->gpu_ms > 0;
    if (!sweep) {
        rounds_add(&f->speedup, sp);
        rounds_add(&f->base_ms, base);
        rounds_add(&f->ms, r->ms);
    }
    f->gbps = r->use_arr ? (double)r->n * 8.0 / (r->ms / 1e3) / 1e9 : 0;
    f->gpu_ms = r->gpu_ms;
    f->gpu_gbps = r->use_arr && r->gpu_ms > 0 ? (double)r->n * 8.0 / (r->gpu_ms / 1e3) / 1e9 : 0;
    f->max_holders = atomic_load_explicit(&st->max_holders, RLX);
    if ((sweep || r->mode == f->sweep_mode) && r->t >= 1 && r->t <= MAXT && r->mode != M_CUDA &&
        st->mode != M_CUDA) {
        rounds_add(&f->sp[r->t], sp);
        f->serial_frac = serial_fraction(f->sp, st->cores, st->tmax);
    }
    pthread_mutex_unlock(&st->fig_mu);
}

/* The mode whose scaling the chart shows: one thread and the GPU have no T to vary. */
static int chart_mode(int mode)
{
    return mode == M_SERIAL || mode == M_CUDA ? M_THREADS : mode;
}

/* T = 1 .. tmax, SWEEP_ROUNDS baseline/parallel pairs each, between two ordinary rounds. */
static bool sweep(struct ps_state *st, bool use_arr, uint64_t n)
{
    int mode = chart_mode(st->mode);
    static const char *const names[M_COUNT] = {
        "serial", "threads", "locked", "falseshare", "gil", "processes", "openmp", "simd", "cuda"};
    pthread_mutex_lock(&st->fig_mu);
    for (int t = 0; t <= MAXT; t++)
        rounds_reset(&st->figs.sp[t]);
    st->figs.serial_frac = -1;
    pthread_mutex_unlock(&st->fig_mu);
    for (int t = 1; t <= st->tmax; t++)
        for (int k = 0; k < SWEEP_ROUNDS; k++) {
            struct ps_round r;
            double base;
            scene_note(st->ctx, _("sweep (%s): T = %d of %d"), names[mode], t, st->tmax);
            if (!baseline(st, use_arr, n, &base) || !run_round(st, mode, t, use_arr, n, &r))
                return false;
            record_round(st, &r, base, true);
        }
    pthread_mutex_lock(&st->fig_mu);
    st->figs.sweeps++;
    double f = st->figs.serial_frac;
    pthread_mutex_unlock(&st->fig_mu);
    if (f >= 0)
        scene_note(st->ctx, _("sweep done: serial fraction %.3f, Amdahl limit %.1fx"), f,
                   f > 0 ? 1.0 / f : 0.0);
    else
        scene_note(st->ctx, _("sweep done"));
    return true;
}

/* The round's exact result, time and speedup in the visible note. */
static void round_note(struct ps_state *st, const struct ps_round *r)
{
    pthread_mutex_lock(&st->fig_mu);
    double sp = 0;
    rounds_summary(&st->figs.speedup, &sp, NULL, NULL);
    pthread_mutex_unlock(&st->fig_mu);
    scene_note(st->ctx, _("%s%s1+..+%llu = %llu %s, %.1f ms, %.2fx, %d worker%s"), st->mode_note,
               st->mode_note[0] ? " | " : "", (unsigned long long)r->n,
               (unsigned long long)r->total, r->total == r->want ? "exact" : "WRONG", r->ms, sp,
               r->t, r->t == 1 ? "" : "s");
}

static void set_mode_note(struct ps_state *st);

/* The coordinator: rounds until stopped. */
static void *coord_main(void *p)
{
    struct ps_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    int last_sweep = 0;
    while (!scene_stopping(ctx)) {
        bool use_arr = scene_param(ctx, P_ARRAY) && st->arr;
        if (use_arr && !st->arr_ready && !prepare_array(st))
            break;
        uint64_t n = use_arr ? st->arr_count : (uint64_t)scene_param(ctx, P_N);
        if (n != st->rounds_n || use_arr != st->rounds_src) {
            /* Other work: the recent rounds no longer compare. */
            pthread_mutex_lock(&st->fig_mu);
            rounds_reset(&st->figs.speedup);
            rounds_reset(&st->figs.base_ms);
            rounds_reset(&st->figs.ms);
            for (int k = 0; k <= MAXT; k++)
                rounds_reset(&st->figs.sp[k]);
            st->figs.serial_frac = -1;
            pthread_mutex_unlock(&st->fig_mu);
            st->rounds_n = n;
            st->rounds_src = use_arr;
        }
        int sw = (int)scene_param(ctx, P_SWEEP);
        bool req = atomic_exchange_explicit(&st->sweep_req, 0, RLX);
        if (((sw && !last_sweep) || req) && !sweep(st, use_arr, n))
            break;
        last_sweep = sw;
        double base;
        if (!baseline(st, use_arr, n, &base))
            break;
        int t = st->mode == M_SERIAL ? 1 : (int)scene_param(ctx, P_THREADS);
        if (st->mode == M_FALSE)
            set_mode_note(st); /* padded is live */
        struct ps_round r;
        if (!run_round(st, st->mode, t, use_arr, n, &r))
            break;
        record_round(st, &r, base, false);
        round_note(st, &r);
        emit(st->main_lane, TRACE_SLEEP | TRACE_NOTE(N_PAUSE));
        if (!scene_sleep(ctx, (uint64_t)scene_param(ctx, P_PAUSE) * 1000000u))
            break;
    }
#ifdef HAVE_CUDA
    reduce_cuda_destroy(st->cuda);
    st->cuda = NULL;
#endif
    emit(st->main_lane, TRACE_DONE | TRACE_NOTE(N_STOPPED));
    return NULL;
}

static void ps_stop(struct scene_ctx *ctx);

/* The words shown before every round's result in this mode. */
static void set_mode_note(struct ps_state *st)
{
    char *b = st->mode_note;
    size_t len = sizeof st->mode_note;
    b[0] = 0;
    if (st->mode == M_SIMD)
        snprintf(b, len, "%s, %d-bit vectors (%d sums per add)", st->isa, st->vec_bits,
                 st->vec_bits / 64);
    if (st->mode == M_OMP) {
#ifdef _OPENMP
        snprintf(b, len, "OpenMP %d", _OPENMP);
#else
        snprintf(b, len, "built without OpenMP: one thread");
#endif
    }
    if (st->mode == M_CUDA && !st->cuda_failed)
        snprintf(b, len, "CUDA");
    if (st->mode == M_CUDA && st->cuda_failed)
        snprintf(b, len, _("no GPU (%.60s): T CPU threads as in mode 2"), st->no_gpu);
    if (st->mode == M_FALSE)
        snprintf(b, len, "counters %s",
                 scene_param(st->ctx, P_PADDED) ? "128 bytes apart (padded)"
                                                : "8 bytes apart, one cache line");
}

/* Declare the lanes: main, one per worker, then GIL or gpu. */
static int declare_lanes(struct ps_state *st, int t)
{
    char name[TRACE_NAME_MAX];
    st->main_lane = trace_lane_add(N_("main"), TRACE_LANE_STATE, 0);
    if (st->main_lane < 0)
        return -ENOSPC;
    st->nlanes = st->mode == M_SERIAL ? 1 : t;
#ifndef _OPENMP
    if (st->mode == M_OMP)
        st->nlanes = 1;
#endif
    for (int i = 0; i < st->nlanes; i++) {
        snprintf(name, sizeof name, N_("worker %d"), i);
        st->lanes[i] = trace_lane_add(name, TRACE_LANE_STATE, 0);
        if (st->lanes[i] < 0)
            return -ENOSPC;
        trace_emit(st->lanes[i], TRACE_WAIT | TRACE_NOTE(N_WAITING), 0);
    }
    st->gil_lane = st->gpu_lane = -1;
    if (st->mode == M_GIL && (st->gil_lane = trace_lane_add(N_("GIL"), TRACE_LANE_STATE, 0)) < 0)
        return -ENOSPC;
    /* No gpu lane without a GPU: the rounds run on the worker lanes instead. */
    if (st->mode == M_CUDA && !st->cuda_failed &&
        (st->gpu_lane = trace_lane_add(N_("gpu"), TRACE_LANE_STATE, 0)) < 0)
        return -ENOSPC;
    return 0;
}

/* Map the array's address range now (before any fork); pages come on first touch. */
static void map_array(struct ps_state *st)
{
    size_t count = (size_t)scene_param(st->ctx, P_SIZE) * MIB_ELEMS;
    /* Children must see the values the coordinator writes later: shared in mode 6. */
    int share = st->mode == M_PROCS ? MAP_SHARED : MAP_PRIVATE;
    void *m =
        mmap(NULL, count * 8, PROT_READ | PROT_WRITE, share | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        scene_note(st->ctx, _("cannot map %zu MiB: %s; summing from registers only"), count >> 17,
                   strerror(errno));
        return;
    }
#ifdef MADV_HUGEPAGE
    madvise(m, count * 8, MADV_HUGEPAGE);
#endif
    st->arr = m;
    st->arr_count = count;
}

/* Start the pool: tmax children in mode 6 (before any thread of ours), else threads. */
static int start_pool(struct ps_state *st)
{
    for (int i = 0; i < st->tmax; i++) {
        struct ps_worker *w = &st->w[i];
        w->st = st;
        w->idx = i;
        w->lane = i < st->nlanes ? st->lanes[i] : -1;
        if (st->mode == M_GIL)
            gil_thread_init(&w->gt, (uint32_t)i, w->lane);
    }
    for (int i = 0; i < st->tmax; i++) {
        int rc = scene_spawn(st->mode == M_PROCS, worker_main, &st->w[i], st->pool, &st->npool,
                             st->pids, &st->npids);
        if (rc)
            return rc;
    }
    return 0;
}

static int ps_start(struct scene_ctx *ctx)
{
    struct ps_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->mode = ctx->mode;
    st->cores = online_cores();
    st->tmax = 2 * st->cores < MAXT ? 2 * st->cores : MAXT;
    if (st->tmax < 2)
        st->tmax = 2;
    int t = (int)scene_param(ctx, P_THREADS);
    if (t > st->tmax)
        st->tmax = t;
    st->vec = pick_vector(&st->isa, &st->vec_bits);
    st->figs.serial_frac = -1;
    st->figs.sweep_mode = chart_mode(st->mode);
    pthread_mutex_init(&st->acc_mu, NULL);
    pthread_mutex_init(&st->fig_mu, NULL);
    int rc = 0;
    void *m =
        mmap(NULL, sizeof *st->shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    st->shm = m;
    map_array(st);
    if (st->mode == M_CUDA) {
#ifdef HAVE_CUDA
        if (!reduce_cuda_probe(st->no_gpu, sizeof st->no_gpu))
            st->cuda_failed = 1;
#else
        snprintf(st->no_gpu, sizeof st->no_gpu, "%s", _("this build has no CUDA"));
        st->cuda_failed = 1;
#endif
    }
    if ((rc = declare_lanes(st, t)) != 0)
        goto fail;
    if (st->mode == M_GIL) {
        struct gil_config cfg = {.kind = GIL_NEW, .lane = st->gil_lane, .scale = &ctx->sh->slowmo};
        if ((rc = gil_init(&st->gil, &cfg)) != 0)
            goto fail;
        st->gil_up = 1;
    }
    set_mode_note(st);
    if (st->mode_note[0])
        scene_note(ctx, "%s", st->mode_note);
    if ((rc = start_pool(st)) != 0)
        goto fail;
    if ((rc = -pthread_create(&st->coord, NULL, coord_main, st)) != 0)
        goto fail;
    st->coord_up = 1;
    return 0;
fail:
    scene_note(ctx, _("could not start: %s"), strerror(-rc));
    ps_stop(ctx);
    return rc;
}

static void ps_stop(struct scene_ctx *ctx)
{
    struct ps_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    if (st->shm)
        wake_workers(st->shm, -1);
    if (st->coord_up)
        pthread_join(st->coord, NULL);
    st->coord_up = 0;
    for (int i = 0; i < st->npool; i++)
        pthread_join(st->pool[i], NULL);
    st->npool = 0;
    scene_reap(st->pids, &st->npids);
}

static void ps_free(struct scene_ctx *ctx)
{
    struct ps_state *st = ctx->priv;
    if (!st)
        return;
    if (st->gil_up)
        gil_destroy(&st->gil);
    if (st->arr)
        munmap(st->arr, st->arr_count * 8);
    if (st->shm)
        munmap(st->shm, sizeof *st->shm);
    pthread_mutex_destroy(&st->acc_mu);
    pthread_mutex_destroy(&st->fig_mu);
    free(st);
    ctx->priv = NULL;
}

/* Key c: measure the speedup chart (T = 1 .. 2 x cores) before the next round. */
static int ps_key(struct scene_ctx *ctx, int key)
{
    struct ps_state *st = ctx->priv;
    if (!st || key != 'c')
        return 0;
    atomic_store_explicit(&st->sweep_req, 1, RLX);
    scene_note(ctx, _("sweep requested: T = 1 .. %d after this round"), st->tmax);
    return 1;
}

static void ps_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct ps_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_lock(&st->fig_mu);
    struct ps_figs f = st->figs;
    pthread_mutex_unlock(&st->fig_mu);
    if (f.have) {
        double sp = 0;
        if (rounds_summary(&f.speedup, &sp, NULL, NULL) > 0) {
            scene_stat_rounds(out, "speedup", &f.speedup, "x");
            scene_stat_rounds(out, "time", &f.ms, "ms");
            scene_stat_rounds(out, "baseline", &f.base_ms, "ms");
            scene_stat(out, "efficiency", f.last_t > 0 ? 100.0 * sp / f.last_t : 0, "%");
        }
        scene_stat(out, "workers", f.last_t, "");
        scene_stat(out, "exact", f.last_ok, "");
    }
    scene_stat(out, "wrong_results", (double)f.wrong, "");
    scene_stat(out, "rounds", (double)f.rounds, "");
    if (f.have) {
        scene_stat(out, "n", (double)f.last_n, "");
        scene_stat(out, "result", (double)f.last_sum, "");
        scene_stat(out, "expected", (double)f.last_want, "N(N+1)/2");
        if (f.gbps > 0)
            scene_stat(out, "read_rate", f.gbps, "GB/s");
    }
    if (st->arr) {
        scene_stat(out, "array", (double)(st->arr_count * 8) / (1 << 20), "MiB");
        if (f.mem_bw > 0) {
            scene_stat(out, "mem_bw", f.mem_bw, "GB/s");
            if (f.gbps > 0)
                scene_stat(out, "of_mem_bw", 100.0 * f.gbps / f.mem_bw, "%");
        }
    }
    if (st->mode == M_SIMD)
        scene_stat(out, "vector_bits", st->vec_bits, "bits");
    if (st->mode == M_LOCKED)
        scene_stat(out, "max_holders", f.max_holders, "");
    if (st->gil_up) {
        scene_stat(out, "gil_switches", (double)atomic_load_explicit(&st->gil.switches, RLX), "");
        scene_stat(out, "gil_max_holders", (double)atomic_load_explicit(&st->gil.max_holders, RLX),
                   "");
    }
    if (st->mode == M_CUDA)
        scene_stat(out, "on_gpu", f.on_gpu, "");
    if (st->mode == M_CUDA && f.gpu_ms > 0) {
        scene_stat(out, "gpu_kernel", f.gpu_ms, "ms");
        if (f.gpu_gbps > 0)
            scene_stat(out, "gpu_read_rate", f.gpu_gbps, "GB/s");
        if (f.upload_ms > 0)
            scene_stat(out, "gpu_upload", f.upload_ms, "ms");
    }
    scene_stat(out, "cores", st->cores, "");
    scene_stat(out, "sweeps", f.sweeps, "");
    if (f.serial_frac >= 0)
        scene_stat(out, "serial_fraction", f.serial_frac, "");
    /* The chart's numbers: the median speedup at each T with its range. */
    for (int t = 1; t <= st->tmax; t++) {
        char name[32];
        snprintf(name, sizeof name, "speedup_T%d", t);
        scene_stat_rounds(out, name, &f.sp[t], "x");
    }
}

#define C_IDEAL 0x9090a0
#define C_AMDAHL 0xe0c040
#define C_POINT 0xa0f0ff
#define C_RANGE 0x4080a0

/* The chart's words under it, most needed first, as many as fit (axis titles, legend). */
static void chart_captions(struct scene_canvas *c, int room, double serial_frac)
{
    struct scene_caption k[SCENE_CAPTION_MAX] = {{{0}, 0}};
    snprintf(k[0].text, sizeof k[0].text, "%s", _("up: speedup; across: workers T"));
    snprintf(k[1].text, sizeof k[1].text, "%s", _("measured: median, bar = range"));
    k[1].rgb = C_POINT;
    snprintf(k[2].text, sizeof k[2].text, "%s", _("ideal: S = T (dotted: the cores)"));
    k[2].rgb = C_IDEAL;
    if (serial_frac >= 0)
        snprintf(k[3].text, sizeof k[3].text, _("Amdahl, serial fraction %.3f"), serial_frac);
    else
        snprintf(k[3].text, sizeof k[3].text, "%s", _("Amdahl: after a sweep (key c)"));
    k[3].rgb = C_AMDAHL;
    c->ncaption = room < 0 ? 0 : room > SCENE_CAPTION_MAX ? SCENE_CAPTION_MAX : room;
    memcpy(c->caption, k, sizeof k);
}

/*
 * The speedup chart: x = workers 1 .. 2 x cores, y = speedup. Grey: ideal
 * (S = T) and the cores line; yellow: Amdahl's curve for the serial fraction
 * of the medians; cyan: the measured medians, each with a bar over its range.
 * The words under it say so.
 */
static int ps_canvas(struct scene_ctx *ctx, struct scene_canvas *c)
{
    struct ps_state *st = ctx->priv;
    if (!st || c->w < 24 || c->h < 20)
        return -1;
    pthread_mutex_lock(&st->fig_mu);
    struct ps_figs f = st->figs;
    pthread_mutex_unlock(&st->fig_mu);
    /* Captions take whole rows (two pixels each) below a chart of at least 20 pixels. */
    chart_captions(c, (c->h - 20) / 2, f.serial_frac);
    struct pix p = {c->rgb, c->w, c->h - 2 * c->ncaption};
    for (int i = 0; i < p.w * p.h; i++)
        pix_put(&p, i % p.w, i / p.w, 0x101018);
    int tmax = st->tmax;
    double med[MAXT + 1] = {0}, lo[MAXT + 1] = {0}, hi[MAXT + 1] = {0};
    double ymax = st->cores;
    for (int t = 1; t <= tmax; t++)
        if (rounds_summary(&f.sp[t], &med[t], &lo[t], &hi[t]) > 0 && med[t] > ymax)
            ymax = med[t]; /* a stray round's bar may leave the top; the medians stay in */
    int ytop = (int)ymax + ((double)(int)ymax < ymax);
    if (ytop < 2)
        ytop = 2;
    int x0 = 9, x1 = p.w - 3, y0 = p.h - 9, y1 = 3;
    /* Map T and S to pixels. */
#define PX(t) (x0 + (int)((double)((t)-1) * (x1 - x0) / (tmax - 1) + 0.5))
#define PY(s) (y0 - (int)((s) * (y0 - y1) / ytop + 0.5))
    for (int s = 1; s <= ytop; s++)
        for (int x = x0; x <= x1; x += 2)
            pix_put(&p, x, PY(s), 0x262633);
    for (int y = y1; y <= y0; y += 2)
        pix_put(&p, PX(st->cores), y, 0x4a4a5a);
    pix_line(&p, x0, y0, x1, y0, C_IDEAL, false);
    pix_line(&p, x0, y0, x0, y1, C_IDEAL, false);
    for (int t = 1; t <= tmax; t++)
        pix_put(&p, PX(t), y0 + 1, C_IDEAL);
    pix_line(&p, PX(1), PY(1), PX(tmax < ytop ? tmax : ytop), PY(tmax < ytop ? tmax : ytop),
             C_IDEAL, false);
    if (f.serial_frac >= 0) {
        int px = -1, py = -1;
        for (int x = x0; x <= x1; x++) {
            double t = 1 + (double)(x - x0) * (tmax - 1) / (x1 - x0);
            double s = 1.0 / (f.serial_frac + (1 - f.serial_frac) / t);
            int y = PY(s);
            if (px >= 0)
                pix_line(&p, px, py, x, y, C_AMDAHL, false);
            px = x;
            py = y;
        }
    }
    int lx = -1, ly = -1;
    for (int t = 1; t <= tmax; t++) {
        if (med[t] <= 0)
            continue;
        int x = PX(t), y = PY(med[t]);
        if (lx >= 0)
            pix_line(&p, lx, ly, x, y, 0x40c0e0, false);
        pix_line(&p, x, PY(lo[t]), x, PY(hi[t] < ytop ? hi[t] : ytop), C_RANGE, false);
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                pix_put(&p, x + dx, y + dy, C_POINT);
        lx = x;
        ly = y;
    }
    pix_number(&p, 1, y1, ytop, 0xc0c0c0);
    pix_number(&p, 1, y0 - 2, 0, 0xc0c0c0);
    pix_number(&p, x0 - 1, y0 + 3, 1, 0xc0c0c0);
    int wd = tmax >= 10 ? 7 : 3;
    pix_number(&p, x1 - wd + 1, y0 + 3, tmax, 0xc0c0c0);
#undef PX
#undef PY
    return 0;
}

static const struct scene_param ps_params[] = {
    [P_N] = {"n", N_("sum 1..N from registers (compute-bound)"), 1, N_MAX, 100000000, "", 0},
    [P_THREADS] = {"threads", N_("workers T (the sweep goes to 2 x cores)"), 1, MAXT, 2, "",
                   SCENE_P_RESTART},
    [P_ARRAY] = {"array", N_("read the values from an array in memory (memory-bound)"), 0, 1, 0, "",
                 SCENE_P_BOOL},
    [P_SIZE] = {"size_mib", N_("array size; N = size / 8 bytes"), 1, 8192, 256, "MiB",
                SCENE_P_RESTART},
    [P_PADDED] = {"padded", N_("false-sharing mode: counters on separate cache lines"), 0, 1, 0, "",
                  SCENE_P_BOOL},
    [P_BLOCK] = {"lock_block", N_("locked mode: elements added per lock hold"), 4096, 1 << 24,
                 65536, "", 0},
    [P_PAUSE] = {"pause_ms", N_("pause between rounds"), 0, 10000, 1000, "ms", 0},
    [P_SWEEP] = {"sweep", N_("measure the speedup chart, T = 1 .. 2 x cores (also key c)"), 0, 1, 0,
                 "", SCENE_P_BOOL},
};

static const struct scene_key ps_keys[] = {
    {'c', N_("measure the speedup chart: one round for each T = 1 .. 2 x cores"), 0},
};

static const struct scene_mode ps_modes[] = {
    [M_SERIAL] = {"serial", N_("one thread"),
                  N_("One worker adds 1 + 2 + ... + N with one add per element: the baseline every "
                     "other mode is compared with. The result is checked against N(N+1)/2. With "
                     "array=on the values come from memory instead of a counter in a register: "
                     "now the loop waits for memory, not for the adder."),
                  .ns_per_col = 10 * SCENE_MS},
    [M_THREADS] = {"threads", N_("T threads, private partial sums"),
                   N_("The range is cut into T chunks; each thread sums its own chunk into a "
                      "local variable and reports it once at the end; the main thread adds the T "
                      "partial sums. Nothing is shared while they run, so on T cores the time "
                      "falls to about 1/T - until T exceeds the cores (press c for the chart), or, "
                      "with array=on, until memory bandwidth runs out."),
                   .ns_per_col = 10 * SCENE_MS},
    [M_LOCKED] = {"locked", N_("T threads, one locked accumulator"),
                  N_("All threads add into one shared total, guarded by a mutex that each holds "
                     "while it adds a block of lock_block elements. Only the holder can work, so "
                     "the lanes take turns (red: waiting for the lock) and the time is no better "
                     "than one thread - usually worse. The fix is mode 2: keep partial sums "
                     "private and combine once."),
                  .ns_per_col = 10 * SCENE_MS},
    [M_FALSE] = {"falseshare", N_("T threads, counters in one cache line (false sharing)"),
                 N_("Each thread adds every element into its own counter in memory - no sharing "
                    "in the program. But with padded=off the counters sit 8 bytes apart in one "
                    "cache line, and every write by one core takes the line away from the others: "
                    "the line bounces and the threads crawl. Set padded=on (counters 128 bytes "
                    "apart) and the same code scales."),
                 .ns_per_col = 10 * SCENE_MS},
    [M_GIL] = {"gil", N_("T threads under the GIL (no speedup)"),
               N_("The same chunks, but every thread must hold a global interpreter lock (a C copy "
                  "of CPython 3's GIL) to run, and offers it up every 5 ms. Only one lane runs at "
                  "a time, the others wait for the GIL: the sum takes as long as on one thread. "
                  "This is why CPU-bound Python code needs processes (mode 6)."),
               .ns_per_col = 10 * SCENE_MS},
    [M_PROCS] = {"processes", N_("T processes"),
                 N_("Each chunk is summed by a forked child process; the children report their "
                    "partial sums through a shared page and the parent waits for them. Separate "
                    "processes share no interpreter and no lock, so they run in parallel. The "
                    "children are forked once, when the scene starts, and wait for each round "
                    "(like a reused multiprocessing.Pool), so a round pays only for waking them "
                    "and collecting their sums: the speedup is close to mode 2's."),
                 .ns_per_col = 10 * SCENE_MS},
    [M_OMP] = {"openmp", N_("OpenMP parallel for with reduction(+:sum)"),
               N_("One pragma: '#pragma omp parallel for reduction(+:sum)'. OpenMP starts a team "
                  "of T threads (this thread is worker 0), deals out the iterations, gives each "
                  "thread a private sum and adds them at the end - mode 2 written for you."),
               .ns_per_col = 10 * SCENE_MS},
    [M_SIMD] = {"simd", N_("T threads, vectorised loop (SIMD)"),
                N_("Each thread adds several elements per instruction with vector registers (the "
                   "instruction set in use is shown above). Compute-bound, one core does the work "
                   "of several; memory-bound (array=on), a vector loop only reaches the memory "
                   "bandwidth sooner: compare read_rate with mem_bw."),
                .ns_per_col = 10 * SCENE_MS},
    [M_CUDA] = {"cuda", N_("GPU reduction (CUDA)"),
                N_("Thousands of GPU threads each sum a strided share in a register, then combine "
                   "within warps by shuffles, within blocks in shared memory, and across blocks "
                   "with one atomic add each. With array=on the array is copied to the GPU once "
                   "and read from its own memory. Without a GPU there is no gpu lane: the rounds "
                   "run on T CPU threads as in mode 2, and the note says why."),
                .ns_per_col = 10 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const char *const ps_no_yes[] = {N_("no"), N_("yes")};
static const struct scene_figure ps_figures[] = {
    {.name = "speedup", .label = N_("speedup"), .flags = FIG_HEADLINE},
    {.name = "time", .label = N_("time"), .flags = FIG_HEADLINE},
    {.name = "result", .label = N_("sum"), .fmt = FIG_INT, .flags = FIG_HEADLINE},
    {.name = "rounds", .label = N_("rounds"), .fmt = FIG_INT},
    {.name = "wrong_results", .label = N_("wrong sums"), .fmt = FIG_INT},
    {.name = "expected", .label = N_("N(N+1)/2"), .unit = "", .fmt = FIG_INT},
    {.name = "exact",
     .label = N_("exact"),
     .fmt = FIG_ENUM,
     .words = ps_no_yes,
     .nwords = (int)(sizeof ps_no_yes / sizeof ps_no_yes[0])},
    {.name = "n", .label = N_("N"), .fmt = FIG_INT},
    {.name = "workers", .label = N_("workers"), .fmt = FIG_INT},
    {.name = "baseline", .label = N_("one thread")},
    {.name = "efficiency", .label = N_("efficiency")},
    {.name = "read_rate", .label = N_("read rate")},
    {.name = "array", .label = N_("array"), .when = "array"},
    {.name = "mem_bw", .label = N_("memory bandwidth"), .when = "array"},
    {.name = "of_mem_bw", .label = N_("of the bandwidth"), .when = "array"},
    {.name = "vector_bits", .label = N_("vector width")},
    {.name = "max_holders", .label = N_("most holders"), .fmt = FIG_INT},
    {.name = "gil_switches", .label = N_("GIL switches"), .fmt = FIG_INT},
    {.name = "gil_max_holders", .label = N_("most GIL holders"), .fmt = FIG_INT},
    {.name = "gpu_kernel", .label = N_("GPU kernel")},
    {.name = "gpu_read_rate", .label = N_("GPU read rate")},
    {.name = "gpu_upload", .label = N_("upload to the GPU")},
    {.name = "cores", .label = N_("cores"), .fmt = FIG_INT},
    {.name = "sweeps", .label = N_("sweeps"), .fmt = FIG_INT},
    {.name = "serial_fraction", .label = N_("serial fraction")},
    {.name = "speedup_*", .label = N_("speedup"), .flags = FIG_COLUMN},
};

const struct scene_entry scene_parsum = {
    .name = "parsum",
    .title = N_("Parallel sum"),
    .summary = N_("one sum on threads, processes, OpenMP, SIMD and the GPU"),
    .modes = ps_modes,
    .nmodes = M_COUNT,
    .params = ps_params,
    .nparams = (int)(sizeof ps_params / sizeof ps_params[0]),
    .keys = ps_keys,
    .nkeys = (int)(sizeof ps_keys / sizeof ps_keys[0]),
    .notes = ps_notes,
    .nnotes = (int)(sizeof ps_notes / sizeof ps_notes[0]),
    .start = ps_start,
    .stop = ps_stop,
    .release = ps_free,
    .key = ps_key,
    .stats = ps_stats,
    .figures = ps_figures,
    .nfigures = (int)(sizeof ps_figures / sizeof ps_figures[0]),
    .canvas = ps_canvas,
};
