/*
 * Scene: ray-marching volume rendering on one thread, OpenMP and CUDA.
 *
 * DESIGN
 * Who runs: one render thread renders frames continuously through the gpu/ API
 * (render_frame) and is the only writer of every lane. With the OpenMP backend it
 * is also OpenMP thread 0 of the team; libgomp's other team threads never emit
 * anything. With CUDA it waits for the device. The UI thread calls the canvas,
 * key and stats hooks.
 *
 * Who owns what: the render thread owns the struct render, both volume slots,
 * the back buffer and the span array. The front buffer, its size and the
 * published figures (struct rm_figures) belong to `lock`: the render thread
 * swaps the buffers and copies the figures in under it; the canvas, key ('p')
 * and stats hooks read under it. The key hook changes only `eff[]` (the live
 * values of the key-driven parameters); the render thread reads them and
 * stores into them only when the app changes a parameter (the app's value
 * wins) or a volume cannot be had. The canvas size the UI asked for travels
 * in want_w/want_h.
 *
 * Lanes: the timeline is written after the fact from the gpu/ API's span
 * records, which are stamped on CLOCK_MONOTONIC while the frame runs; the
 * render thread replays them with trace_emit_at once render_frame returns, in
 * time order per lane. The "render loop" lane is emitted live (trace_emit), so
 * the step gate parks the render thread between frames. CPU lanes get one RUN
 * span per tile; a GPU SM keeps many blocks resident at once, so an SM lane is
 * KERNEL while at least one block is resident, with the count as the argument.
 * Lanes are declared at start (at most 64): a GPU with more SMs than the lanes
 * left shares each lane among a few consecutive SMs ("gpu SMs 0-2").
 *
 * Locks: only `lock` (plus the ctx's note lock, taken alone inside scene_note).
 *
 * Shutdown: stop() sets the stop flag (scene_request_stop) and joins the render
 * thread; the thread checks the flag between frames and sleeps with scene_sleep,
 * which returns early on stop. A frame in progress finishes first (milliseconds;
 * rebuilding a large volume can take longer). When the render thread exits,
 * libgomp retires that thread's pool of team threads.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "app.h"
#include "render.h"
#include "rounds.h"
#include "scene.h"
#include "i18n.h"
#include "scenes/scenes.h"
#include "snapshot.h"
#include "trace.h"
#include "volume.h"

#define MAX_THREADS 32
#define MAX_SM_LANES 48
#define DEF_W 160
#define DEF_H 96
#define MIN_GAP_NS 1000     /* gaps between a thread's tiles shorter than this are not drawn */
#define MIN_RENDER_W 160    /* a shown frame is rendered at least this wide, then scaled down */
#define PAIR_MIN_PX 120000  /* a speedup pair renders the frame scaled up to this many pixels */
#define IDLE_NS 20000000ull /* a still picture: look for a change this often */
#define YAW_STEP 10
#define PITCH_STEP 10

enum {
    P_BACKEND,
    P_SCHEDULE,
    P_TILE,
    P_THREADS,
    P_VOLUME,
    P_TF,
    P_DENSITY,
    P_STEP,
    P_YAW,
    P_PITCH,
    P_ZOOM,
    P_WIDTH,
    P_HEIGHT,
    P_FPS,
    P_SIZE,
    P_REFERENCE,
    P_TURN,
    P_COUNT
};
_Static_assert(P_COUNT <= SCENE_MAX_PARAMS, "raymarch: too many parameters");

enum { V_ML, V_HEAD, V_CLOUD, V_RAW, V_COUNT };

enum {
    N_NONE,
    N_FRAME,
    N_GPU_FRAME,
    N_REFERENCE,
    N_VOLUME,
    N_CAP,
    N_STILL,
    N_TILE,
    N_BETWEEN,
    N_BARRIER,
    N_NEXT_FRAME,
    N_BLOCKS,
    N_SM_IDLE,
    N_FINISHED,
};

static const char *const rm_notes[] = {
    [N_NONE] = "",
    [N_FRAME] = N_("rendering a frame"),
    [N_GPU_FRAME] = N_("frame on the GPU (copies + kernel)"),
    [N_REFERENCE] = N_("one-thread reference frame (for the speedup)"),
    [N_VOLUME] = N_("building the volume"),
    [N_CAP] = N_("waiting for the next frame (frame-rate cap)"),
    [N_STILL] =
        N_("picture unchanged: nothing to render until the view changes or the next speedup "
           "measurement"),
    [N_TILE] = N_("rendering a tile (arg: tile index)"),
    [N_BETWEEN] = N_("between tiles (OpenMP scheduling)"),
    [N_BARRIER] = N_("at the barrier: the other threads still render"),
    [N_NEXT_FRAME] = N_("waiting for the next frame"),
    [N_BLOCKS] = N_("running thread blocks (arg: how many are resident)"),
    [N_SM_IDLE] = N_("no block resident"),
    [N_FINISHED] = N_("finished"),
};

/* The figures of the latest frame, published under rm_state.lock. */
struct rm_figures {
    uint64_t frames, samples_total, last_samples;
    double ms, ms_avg, fps, msamples_s;
    double kernel_ms, copy_ms, clock_error_ns;
    struct rounds speedup, ref_ms, par_ms; /* one pair per measurement: one thread, the backend */
    int backend, w, h, workers, tiles;
    double imbalance; /* busiest thread's tile time over the mean (CPU), 1 = even */
    double yaw, pitch, zoom;
    int tf, volume;
};

struct rm_state {
    struct scene_ctx *ctx;
    pthread_t thread;
    int thread_up;
    /* render thread only (set up by start before the thread runs) */
    struct render *r;
    struct volume vol[2];
    int cur_vol;
    int vol_kind, vol_size, tf_applied;
    struct render_span *spans;
    int span_cap;
    uint8_t *back, *scratch; /* scratch: the one-thread reference frame, never shown */
    uint8_t *pair;           /* the backend's half of a speedup pair, never shown */
    size_t back_cap, scratch_cap, pair_cap;
    int64_t seen[P_COUNT]; /* the app's value of each parameter when last looked at */
    int backend_used;      /* -1 before the first frame */
    int64_t backend_wanted;
    uint64_t next_ref_ns;
    double orbit_deg;       /* the camera's turn so far (turn > 0), added to yaw */
    uint64_t orbit_t_ns;    /* when orbit_deg was last advanced */
    int64_t drawn[P_COUNT]; /* the parameters of the picture on show */
    int drawn_w, drawn_h;   /* its canvas size */
    int64_t work[4];        /* what a speedup pair measured: size, volume, backend, threads */
    double ema_ms;
    uint64_t win_t0, win_frames, win_samples; /* one-second window for fps and samples/s */
    double fps, msamples_s;
    uint64_t busy[MAX_THREADS];
    /* lanes, fixed at start */
    int nthreads, loop_lane, omp_lane[MAX_THREADS];
    int cuda_ok, nsm, nsm_lanes, sm_per_lane, sm_lane[MAX_SM_LANES];
    char cuda_why[256];
    /*
     * Live values of the key-driven parameters. Relaxed: each is a value on
     * its own, no other data is published through it.
     */
    _Atomic int64_t eff[P_COUNT];
    _Atomic int want_w, want_h; /* canvas size last asked for (relaxed, a hint) */
    _Atomic unsigned snap_seq;  /* numbers the 'p' snapshots (relaxed, a counter) */
    /* guarded by lock */
    pthread_mutex_t lock;
    uint8_t *front;
    size_t front_cap;
    int fw, fh;
    struct rm_figures fig;
};

#define RLX memory_order_relaxed

/* The live value of a key-driven parameter. */
static int64_t eff_get(struct rm_state *st, int i)
{
    return atomic_load_explicit(&st->eff[i], RLX);
}

/* Takes a parameter's new value from the app, which wins over key presses. */
static void eff_sync(struct rm_state *st)
{
    for (int i = 0; i < P_COUNT; i++) {
        int64_t v = scene_param(st->ctx, i);
        if (v != st->seen[i]) {
            st->seen[i] = v;
            atomic_store_explicit(&st->eff[i], v, RLX);
        }
    }
}

/* The transfer function a volume looks best with, for tf = 0 (auto). */
static int tf_for(int tf_param, int vol_kind)
{
    if (tf_param > 0)
        return tf_param - 1;
    switch (vol_kind) {
    case V_HEAD:
        return RM_TF_BONE;
    case V_CLOUD:
        return RM_TF_FIRE;
    default:
        return RM_TF_SPECTRUM;
    }
}

/* --set volume=FILE,dims=XxYxZ,type=u8|u16|f32: checked before the scene starts. */
static int rm_volume_text(const char *value, int64_t *num, char *err, unsigned errlen)
{
    char path[SCENE_TEXT_MAX];
    enum volume_type t;
    int nx, ny, nz;
    if (volume_parse_spec(value, path, sizeof path, &nx, &ny, &nz, &t, err, errlen) != 0 ||
        volume_check_raw(path, nx, ny, nz, t, err, errlen) != 0)
        return -1;
    *num = V_RAW;
    return 0;
}

/* Loads the raw volume given as --set volume=FILE,dims=...,type=... 0, or -1 with err. */
static int load_raw(const struct scene_ctx *ctx, struct volume *out, char *err, size_t errlen)
{
    static const char *const type_name[] = {"u8", "u16", "f32"};
    const char *spec = scene_param_text(ctx, P_VOLUME);
    char path[SCENE_TEXT_MAX];
    enum volume_type t;
    int nx, ny, nz;
    if (!*spec) {
        snprintf(err, errlen, "%s",
                 _("volume 3 is a raw file: start with --set volume=FILE,dims=XxYxZ,type=u8"));
        return -1;
    }
    if (volume_parse_spec(spec, path, sizeof path, &nx, &ny, &nz, &t, err, errlen) != 0)
        return -1;
    return volume_load_raw(path, nx, ny, nz, type_name[t], out, err, errlen);
}

/*
 * Builds volume `kind` at n^3 into the free slot and hands it to the renderer.
 * A raw file that cannot be used leaves a note and falls back to Marschner-Lobb.
 */
static int switch_volume(struct rm_state *st, int kind, int n)
{
    struct volume *v = &st->vol[1 - st->cur_vol];
    char err[256];
    int rc;
    if (kind == V_RAW) {
        rc = load_raw(st->ctx, v, err, sizeof err);
        if (rc != 0) {
            scene_note(st->ctx, _("%s; showing marschner-lobb"), err);
            kind = V_ML;
        }
    }
    if (kind != V_RAW)
        rc = volume_builtin(v, (enum volume_builtin_kind)kind, n, err, sizeof err);
    if (rc == 0 && st->r && render_set_volume(st->r, v, err, sizeof err) != 0)
        rc = -1;
    if (rc != 0) {
        volume_free(v);
        scene_note(st->ctx, "%s", err);
        return -1;
    }
    volume_free(&st->vol[st->cur_vol]);
    st->cur_vol = 1 - st->cur_vol;
    st->vol_kind = kind;
    st->vol_size = n;
    return 0;
}

/* Chooses the backend for this frame; CUDA without a device falls back to OpenMP. */
static void apply_backend(struct rm_state *st)
{
    int64_t want = eff_get(st, P_BACKEND);
    int b = (int)want;
    char err[256];
    bool fresh = want != st->backend_wanted;
    bool changed = fresh && st->backend_wanted >= 0; /* by a key or the app, not at start */
    st->backend_wanted = want;
    if (b == RENDER_CUDA && !st->cuda_ok) {
        if (fresh)
            scene_note(st->ctx, _("no GPU (%s), rendering with OpenMP"), st->cuda_why);
        b = RENDER_OPENMP;
    }
    if (b == st->backend_used)
        return;
    if (render_set_backend(st->r, (enum render_backend)b, err, sizeof err) != 0) {
        scene_note(st->ctx, _("no GPU (%s), rendering with OpenMP"), err);
        st->cuda_ok = 0;
        snprintf(st->cuda_why, sizeof st->cuda_why, "%s", err);
        b = RENDER_OPENMP;
        render_set_backend(st->r, RENDER_OPENMP, err, sizeof err);
    } else if (changed && b != RENDER_CUDA) {
        scene_note(st->ctx, _("rendering with %s"), render_backend_name((enum render_backend)b));
    } else if (fresh && b == RENDER_CUDA) {
        scene_note(st->ctx, _("rendering with CUDA on %d SMs"), st->nsm);
    }
    st->backend_used = b;
}

/* Hands the live parameters to the renderer before a frame. */
static void apply_params(struct rm_state *st)
{
    struct render_tiling t;
    struct rm_params p;
    struct rm_camera c;
    eff_sync(st);
    int kind = (int)eff_get(st, P_VOLUME), n = (int)eff_get(st, P_SIZE);
    if (kind != st->vol_kind || (kind != V_RAW && n != st->vol_size)) {
        trace_emit(st->loop_lane, TRACE_RUN | TRACE_NOTE(N_VOLUME), (uint32_t)kind);
        /* On failure the old volume stays; either way stop asking for a failed one. */
        switch_volume(st, kind, n);
        atomic_store_explicit(&st->eff[P_VOLUME], st->vol_kind, RLX);
        atomic_store_explicit(&st->eff[P_SIZE], st->vol_size, RLX);
    }
    apply_backend(st);
    render_get_tiling(st->r, &t);
    t.tile_w = t.tile_h = (int)eff_get(st, P_TILE);
    t.threads = st->nthreads;
    t.schedule = eff_get(st, P_SCHEDULE) ? RENDER_SCHED_DYNAMIC : RENDER_SCHED_STATIC;
    t.chunk = 0;
    render_set_tiling(st->r, &t);
    render_get_params(st->r, &p);
    float density = (float)eff_get(st, P_DENSITY) / 10.0f;
    float step = (float)eff_get(st, P_STEP) / 1000.0f;
    int tf = tf_for((int)eff_get(st, P_TF), st->vol_kind);
    if (p.density != density || p.step != step) {
        p.density = density;
        p.step = step;
        /* Enough samples for the box's diagonal (2 sqrt 3) at this step. */
        p.max_steps = (int)(3.5f / step) + 2;
        render_set_params(st->r, &p);
    }
    if (tf != st->tf_applied && render_set_tf_preset(st->r, tf) == 0)
        st->tf_applied = tf;
    render_get_camera(st->r, &c);
    c.yaw = (float)(((double)eff_get(st, P_YAW) + st->orbit_deg) * RM_PI / 180.0);
    c.pitch = (float)eff_get(st, P_PITCH) * RM_PI / 180.0f;
    c.distance = 4.0f * 100.0f / (float)eff_get(st, P_ZOOM);
    render_set_camera(st->r, &c);
}

/* Grows a caller-owned buffer; false when out of memory. */
static bool grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    void *q = realloc(*p, need);
    if (!q)
        return false;
    *p = q;
    *cap = need;
    return true;
}

/* Makes the span array big enough for a w*h frame with the current backend. */
static bool spans_fit(struct rm_state *st, int w, int h)
{
    int need = render_spans_needed(st->r, w, h);
    if (need > st->span_cap) {
        void *p = st->spans;
        size_t cap = (size_t)st->span_cap * sizeof *st->spans;
        if (!grow(&p, &cap, (size_t)need * sizeof *st->spans))
            return false;
        st->spans = p;
        st->span_cap = need;
    }
    render_set_spans(st->r, st->spans, st->span_cap);
    return true;
}

/* Orders spans by worker, then start time. */
static int span_cmp(const void *a, const void *b)
{
    const struct render_span *x = a, *y = b;
    if (x->worker != y->worker)
        return x->worker < y->worker ? -1 : 1;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return 0;
}

/*
 * Replays a CPU frame's tiles into the thread lanes: RUN per tile, a gap
 * state only where a thread really waited, the barrier after its last tile,
 * then waiting for the next frame's work from the frame's end. Also sums each thread's busy time.
 */
static void emit_cpu_spans(struct rm_state *st, const struct render_stats *rs)
{
    int n = rs->nspans, team = rs->backend == RENDER_SERIAL ? 1 : rs->workers;
    qsort(st->spans, (size_t)n, sizeof *st->spans, span_cmp);
    memset(st->busy, 0, sizeof st->busy);
    int i = 0;
    for (int w = 0; w < st->nthreads; w++) {
        int lane = st->omp_lane[w];
        bool any = false;
        while (i < n && st->spans[i].worker < w)
            i++;
        for (; i < n && st->spans[i].worker == w; i++) {
            const struct render_span *s = &st->spans[i];
            trace_emit_at(lane, TRACE_RUN | TRACE_NOTE(N_TILE), (uint32_t)s->index, s->start_ns);
            st->busy[w] += s->end_ns - s->start_ns;
            any = true;
            if (i + 1 < n && st->spans[i + 1].worker == w) {
                if (st->spans[i + 1].start_ns > s->end_ns + MIN_GAP_NS)
                    trace_emit_at(lane, TRACE_IDLE | TRACE_NOTE(N_BETWEEN), 0, s->end_ns);
            } else {
                trace_emit_at(lane, TRACE_BARRIER | TRACE_NOTE(N_BARRIER), 0, s->end_ns);
            }
        }
        if (!any && w < team)
            trace_emit_at(lane, TRACE_BARRIER | TRACE_NOTE(N_BARRIER), 0, rs->start_ns);
        if (any || w < team)
            trace_emit_at(lane, TRACE_WAIT | TRACE_NOTE(N_NEXT_FRAME), 0, rs->end_ns);
    }
}

/* One edge of a block's residency on an SM lane: +1 at start, -1 at end. */
struct sm_edge {
    uint64_t t;
    int lane, d;
};

/* Orders residency edges by lane, then time, ends before starts at a tie. */
static int edge_cmp(const void *a, const void *b)
{
    const struct sm_edge *x = a, *y = b;
    if (x->lane != y->lane)
        return x->lane < y->lane ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->d - y->d;
}

/*
 * Replays a GPU frame into the SM lanes: KERNEL with the number of resident
 * blocks whenever it changes, IDLE when the last one leaves.
 */
static void emit_gpu_spans(struct rm_state *st, const struct render_stats *rs)
{
    int n = rs->nspans;
    if (st->nsm_lanes == 0 || n == 0)
        return;
    struct sm_edge *e = malloc((size_t)n * 2 * sizeof *e);
    if (!e)
        return;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const struct render_span *s = &st->spans[i];
        int lane = s->worker / st->sm_per_lane;
        if (lane < 0 || lane >= st->nsm_lanes || s->end_ns < s->start_ns)
            continue;
        e[m++] = (struct sm_edge){s->start_ns, lane, 1};
        e[m++] = (struct sm_edge){s->end_ns, lane, -1};
    }
    qsort(e, (size_t)m, sizeof *e, edge_cmp);
    int resident = 0;
    for (int k = 0; k < m; k++) {
        if (k == 0 || e[k].lane != e[k - 1].lane)
            resident = 0;
        resident += e[k].d;
        /* Emit once per instant: edges at the same time on a lane merge. */
        if (k + 1 < m && e[k + 1].lane == e[k].lane && e[k + 1].t == e[k].t)
            continue;
        int lane = st->sm_lane[e[k].lane];
        if (resident > 0)
            trace_emit_at(lane, TRACE_KERNEL | TRACE_NOTE(N_BLOCKS), (uint32_t)resident, e[k].t);
        else
            trace_emit_at(lane, TRACE_IDLE | TRACE_NOTE(N_SM_IDLE), 0, e[k].t);
    }
    free(e);
}

/*
 * The size to render: the canvas the UI last asked for, scaled up by a whole
 * factor until it is at least MIN_RENDER_W wide (the canvas shows it scaled
 * down, each cell the average of its pixels), else the width/height
 * parameters. A terminal canvas is small: a frame of a few thousand pixels
 * is over in a millisecond, too little work to show what a team of threads
 * does with it.
 */
static void frame_size(struct rm_state *st, int *w, int *h)
{
    *w = atomic_load_explicit(&st->want_w, RLX);
    *h = atomic_load_explicit(&st->want_h, RLX);
    if (*w <= 0 || *h <= 0) {
        *w = (int)eff_get(st, P_WIDTH);
        *h = (int)eff_get(st, P_HEIGHT);
        return;
    }
    int k = (MIN_RENDER_W + *w - 1) / *w;
    k = k < 2 ? 2 : k;
    *w *= k;
    *h *= k;
}

/* Whether the picture on show is out of date: a parameter or the canvas size changed. */
static bool view_changed(struct rm_state *st)
{
    bool changed = false;
    eff_sync(st);
    for (int i = 0; i < P_COUNT; i++) {
        int64_t v = eff_get(st, i);
        changed |= v != st->drawn[i];
        st->drawn[i] = v;
    }
    int w = atomic_load_explicit(&st->want_w, RLX), h = atomic_load_explicit(&st->want_h, RLX);
    changed |= w != st->drawn_w || h != st->drawn_h;
    st->drawn_w = w;
    st->drawn_h = h;
    return changed;
}

/*
 * Renders the frame just shown again on one thread, to measure the speedup
 * of the active backend on identical work. Shown on the loop lane and on
 * omp thread 0's (the render thread is that thread). Returns its ms, or 0.
 */
static double reference_frame(struct rm_state *st, int w, int h)
{
    char err[256];
    struct render_stats rs;
    int lane0 = st->omp_lane[0];
    void *buf = st->scratch;
    bool ok = grow(&buf, &st->scratch_cap, (size_t)w * (size_t)h * 4);
    st->scratch = buf;
    if (!ok)
        return 0;
    struct rm_image img = {w, h, NULL, st->scratch};
    trace_emit(st->loop_lane, TRACE_RUN | TRACE_NOTE(N_REFERENCE), 0);
    render_set_spans(st->r, NULL, 0);
    if (render_set_backend(st->r, RENDER_SERIAL, err, sizeof err) != 0)
        return 0;
    int rc = render_frame(st->r, &img, err, sizeof err);
    render_get_stats(st->r, &rs);
    /* Back to the backend in use (CUDA keeps its context, so this is cheap). */
    if (render_set_backend(st->r, (enum render_backend)st->backend_used, err, sizeof err) != 0)
        st->backend_used = -1;
    if (rc != 0)
        return 0;
    trace_emit_at(lane0, TRACE_RUN | TRACE_NOTE(N_REFERENCE), 0, rs.start_ns);
    trace_emit_at(lane0, TRACE_WAIT | TRACE_NOTE(N_NEXT_FRAME), 0, rs.end_ns);
    return rs.ms;
}

/* Publishes the frame in the back buffer and the figures, under the lock. */
static void publish(struct rm_state *st, const struct render_stats *rs, double ref_ms,
                    double pair_ms)
{
    uint64_t now = rs->end_ns;
    st->ema_ms = st->fig.frames ? 0.8 * st->ema_ms + 0.2 * rs->ms : rs->ms;
    st->win_frames++;
    st->win_samples += rs->samples;
    if (now - st->win_t0 >= 500000000ull || st->fig.frames == 0) {
        double secs = (double)(now - st->win_t0) / 1e9;
        if (st->fig.frames > 0 && secs > 0) {
            st->fps = (double)st->win_frames / secs;
            st->msamples_s = (double)st->win_samples / secs / 1e6;
        }
        st->win_t0 = now;
        st->win_frames = st->win_samples = 0;
    }
    double sum = 0, max = 0;
    int busy_threads = 0;
    for (int i = 0; i < st->nthreads && rs->backend != RENDER_CUDA; i++) {
        if (st->busy[i] == 0)
            continue;
        sum += (double)st->busy[i];
        max = (double)st->busy[i] > max ? (double)st->busy[i] : max;
        busy_threads++;
    }
    int team = rs->backend == RENDER_SERIAL ? 1 : rs->workers;
    pthread_mutex_lock(&st->lock);
    uint8_t *f = st->front;
    size_t fc = st->front_cap;
    st->front = st->back;
    st->front_cap = st->back_cap;
    st->back = f;
    st->back_cap = fc;
    st->fw = rs->w;
    st->fh = rs->h;
    struct rm_figures *g = &st->fig;
    g->frames++;
    g->samples_total += rs->samples;
    g->last_samples = rs->samples;
    g->ms = rs->ms;
    g->ms_avg = st->ema_ms;
    /* Until a window closes, one frame's own rate stands in. */
    g->fps = st->fps > 0 ? st->fps : 1000.0 / (rs->ms > 0 ? rs->ms : 1);
    g->msamples_s =
        st->msamples_s > 0 ? st->msamples_s : (double)rs->samples / (rs->ms > 0 ? rs->ms : 1) / 1e3;
    g->kernel_ms = rs->kernel_ms;
    g->copy_ms = rs->copy_ms;
    g->clock_error_ns = rs->clock_error_ns;
    if (ref_ms > 0 && pair_ms > 0) {
        /* A pair: the same frame on one thread, then on the backend. Other work starts afresh. */
        int64_t work[4] = {(int64_t)rs->w << 16 | rs->h, st->vol_kind << 8 | st->vol_size,
                           rs->backend, eff_get(st, P_SCHEDULE) << 8 | eff_get(st, P_TILE)};
        if (memcmp(work, st->work, sizeof work) != 0) {
            rounds_reset(&g->speedup);
            rounds_reset(&g->ref_ms);
            rounds_reset(&g->par_ms);
            memcpy(st->work, work, sizeof work);
        }
        rounds_add(&g->speedup, ref_ms / pair_ms);
        rounds_add(&g->ref_ms, ref_ms);
        rounds_add(&g->par_ms, pair_ms);
    }
    g->backend = rs->backend;
    g->w = rs->w;
    g->h = rs->h;
    g->workers = rs->backend == RENDER_CUDA ? rs->workers : team;
    g->tiles = rs->spans_total;
    g->imbalance = busy_threads > 0 && sum > 0 ? max / (sum / team) : 0;
    g->yaw = (double)eff_get(st, P_YAW);
    g->pitch = (double)eff_get(st, P_PITCH);
    g->zoom = (double)eff_get(st, P_ZOOM);
    g->tf = st->tf_applied;
    g->volume = st->vol_kind;
    pthread_mutex_unlock(&st->lock);
}

/*
 * Renders one frame and replays its spans; false on an error that ends the
 * loop. With measure, the same frame is first rendered on one thread, just
 * before, and the two times make one speedup pair.
 */
static bool render_one(struct rm_state *st, uint32_t frame, bool measure)
{
    char err[256];
    int w, h;
    apply_params(st);
    frame_size(st, &w, &h);
    size_t need = (size_t)w * (size_t)h * 4;
    void *b = st->back;
    if (!grow(&b, &st->back_cap, need) || !spans_fit(st, w, h)) {
        st->back = b;
        scene_note(st->ctx, _("out of memory for a %dx%d frame"), w, h);
        return false;
    }
    st->back = b;
    struct rm_image img = {w, h, NULL, st->back};
    double ref_ms = 0;
    bool gpu = st->backend_used == RENDER_CUDA;
    trace_emit(st->loop_lane,
               gpu ? TRACE_KERNEL | TRACE_NOTE(N_GPU_FRAME) : TRACE_RUN | TRACE_NOTE(N_FRAME),
               frame);
    if (render_frame(st->r, &img, err, sizeof err) != 0) {
        if (!gpu) {
            scene_note(st->ctx, "%s", err);
            return false;
        }
        /* A GPU that fails mid-run: say why and go on with OpenMP. */
        st->cuda_ok = 0;
        snprintf(st->cuda_why, sizeof st->cuda_why, "%s", err);
        st->backend_wanted = -1;
        st->backend_used = -1;
        return true;
    }
    struct render_stats rs;
    render_get_stats(st->r, &rs);
    if (gpu)
        emit_gpu_spans(st, &rs);
    else
        emit_cpu_spans(st, &rs);
    double pair_ms = 0;
    if (measure) {
        /*
         * The pair is timed warm, after the frame just shown: the same frame
         * on one thread, then on the backend again (whichever came first
         * after the render thread's sleep would pay for cold caches), scaled
         * up to at least PAIR_MIN_PX pixels so that waking the team is small
         * against the work it shares.
         */
        int k = 1;
        while ((double)w * h * k * k < PAIR_MIN_PX && k < 16)
            k++;
        int pw = w * k, ph = h * k;
        void *pb = st->pair;
        bool ok = grow(&pb, &st->pair_cap, (size_t)pw * (size_t)ph * 4);
        st->pair = pb;
        ref_ms = ok ? reference_frame(st, pw, ph) : 0;
        if (!spans_fit(st, pw, ph))
            return false;
        struct rm_image big = {pw, ph, NULL, st->pair};
        struct render_stats again;
        if (ref_ms > 0 && render_frame(st->r, &big, err, sizeof err) == 0) {
            render_get_stats(st->r, &again);
            pair_ms = again.ms;
        }
    }
    publish(st, &rs, ref_ms, pair_ms);
    return true;
}

/*
 * The render thread: a frame whenever the view changes (at most fps a
 * second), and every `reference` ms a speedup pair; a still picture in
 * between costs nothing.
 */
static void *render_main(void *p)
{
    struct rm_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    uint32_t frame = 0;
    while (!scene_stopping(ctx)) {
        uint64_t t0 = render_now_ns();
        int64_t every = eff_get(st, P_REFERENCE);
        /* Not on the first frames: they pay for starting the OpenMP team or the GPU. */
        bool measure = every > 0 && frame >= 2 && t0 >= st->next_ref_ns;
        bool changed = view_changed(st);
        /* A turning camera: every frame is a new picture (the pairs repeat the last one). */
        int64_t turn = eff_get(st, P_TURN);
        if (turn > 0 && !measure) {
            if (st->orbit_t_ns)
                st->orbit_deg =
                    fmod(st->orbit_deg + (double)turn * (double)(t0 - st->orbit_t_ns) / 1e9, 360.0);
            changed = true;
        }
        st->orbit_t_ns = t0;
        if (!measure && !changed && frame >= 2 && st->backend_used >= 0) {
            trace_emit(st->loop_lane, TRACE_SLEEP | TRACE_NOTE(N_STILL), 0);
            if (!scene_sleep(ctx, IDLE_NS))
                break;
            continue;
        }
        if (measure)
            st->next_ref_ns = t0 + (uint64_t)every * 1000000ull;
        if (!render_one(st, frame++, measure))
            break;
        int64_t fps = eff_get(st, P_FPS);
        if (fps > 0) {
            uint64_t period = 1000000000ull / (uint64_t)fps, spent = render_now_ns() - t0;
            if (spent < period) {
                trace_emit(st->loop_lane, TRACE_SLEEP | TRACE_NOTE(N_CAP), 0);
                if (!scene_sleep(ctx, period - spent))
                    break;
            }
        }
    }
    trace_emit(st->loop_lane, TRACE_DONE | TRACE_NOTE(N_FINISHED), frame);
    for (int i = 0; i < st->nthreads; i++)
        trace_emit(st->omp_lane[i], TRACE_DONE | TRACE_NOTE(N_FINISHED), 0);
    for (int i = 0; i < st->nsm_lanes; i++)
        trace_emit(st->sm_lane[i], TRACE_DONE | TRACE_NOTE(N_FINISHED), 0);
    return NULL;
}

/* Threads for threads=0: one per CPU the OpenMP runtime would use. */
static int default_threads(void)
{
#ifdef _OPENMP
    int n = omp_get_max_threads();
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/*
 * Opens the GPU once to learn its SM count, so that start can declare the SM
 * lanes; the context stays in the renderer for later frames.
 */
static void probe_gpu(struct rm_state *st)
{
    char err[256];
    st->cuda_ok = render_cuda_available(st->cuda_why, sizeof st->cuda_why);
    if (!st->cuda_ok)
        return;
    uint8_t px[16 * 16 * 4];
    struct rm_image img = {16, 16, NULL, px};
    struct render_stats rs;
    if (render_set_backend(st->r, RENDER_CUDA, err, sizeof err) != 0 ||
        render_frame(st->r, &img, err, sizeof err) != 0) {
        st->cuda_ok = 0;
        snprintf(st->cuda_why, sizeof st->cuda_why, "%s", err);
    } else {
        render_get_stats(st->r, &rs);
        st->nsm = rs.workers;
    }
    render_set_backend(st->r, RENDER_SERIAL, err, sizeof err);
}

static void rm_stop(struct scene_ctx *ctx);

/* Declares the lanes: the render loop, one per OpenMP thread, SM groups on a GPU. */
static int declare_lanes(struct rm_state *st)
{
    char name[TRACE_NAME_MAX];
    st->loop_lane = trace_lane_add(N_("render loop"), TRACE_LANE_STATE, 0);
    for (int i = 0; i < st->nthreads; i++) {
        snprintf(name, sizeof name, N_("omp thread %d"), i);
        st->omp_lane[i] = trace_lane_add(name, TRACE_LANE_STATE, 0);
        if (st->omp_lane[i] < 0)
            return -ENOSPC;
    }
    if (st->cuda_ok && st->nsm > 0) {
        int room = TRACE_MAX_LANES - trace_lane_count();
        room = room < MAX_SM_LANES ? room : MAX_SM_LANES;
        if (room > 0) {
            st->sm_per_lane = (st->nsm + room - 1) / room;
            st->nsm_lanes = (st->nsm + st->sm_per_lane - 1) / st->sm_per_lane;
        }
        for (int i = 0; i < st->nsm_lanes; i++) {
            int a = i * st->sm_per_lane, b = a + st->sm_per_lane - 1;
            b = b < st->nsm - 1 ? b : st->nsm - 1;
            if (a == b)
                snprintf(name, sizeof name, N_("gpu SM %d"), a);
            else
                snprintf(name, sizeof name, N_("gpu SMs %d-%d"), a, b);
            st->sm_lane[i] = trace_lane_add(name, TRACE_LANE_STATE, 0);
            if (st->sm_lane[i] < 0)
                return -ENOSPC;
            trace_lane_group(st->sm_lane[i], 1);
        }
    }
    return st->loop_lane < 0 ? -ENOSPC : 0;
}

/* Builds the volume and renderer, declares the lanes and starts the render thread. */
static int rm_start(struct scene_ctx *ctx)
{
    char err[256];
    struct rm_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    pthread_mutex_init(&st->lock, NULL);
    for (int i = 0; i < P_COUNT; i++) {
        st->seen[i] = scene_param(ctx, i);
        atomic_store_explicit(&st->eff[i], st->seen[i], RLX);
    }
    st->backend_used = -1;
    st->backend_wanted = -1;
    st->tf_applied = -1;
    st->cur_vol = 0;
    st->vol_kind = -1;
    int kind = (int)st->seen[P_VOLUME], rc = 0;
    if (switch_volume(st, kind, (int)st->seen[P_SIZE]) != 0) {
        rc = -EINVAL;
        goto fail;
    }
    atomic_store_explicit(&st->eff[P_VOLUME], st->vol_kind, RLX);
    st->r = render_create(&st->vol[st->cur_vol], err, sizeof err);
    if (!st->r) {
        scene_note(ctx, "%s", err);
        rc = -ENOMEM;
        goto fail;
    }
    int64_t t = st->seen[P_THREADS];
    st->nthreads = t > 0 ? (int)t : default_threads();
    probe_gpu(st);
    rc = declare_lanes(st);
    if (rc)
        goto fail;
    rc = -pthread_create(&st->thread, NULL, render_main, st);
    if (rc)
        goto fail;
    st->thread_up = 1;
    return 0;
fail:
    if (rc == -ENOSPC)
        scene_note(ctx, _("too many lanes: lower threads"));
    rm_stop(ctx); /* the app calls release next */
    return rc;
}

/* Stops the render thread (the frame in flight finishes first). */
static void rm_stop(struct scene_ctx *ctx)
{
    struct rm_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    if (st->thread_up)
        pthread_join(st->thread, NULL);
    st->thread_up = 0;
}

/* Frees the renderer, volumes and buffers. */
static void rm_free(struct scene_ctx *ctx)
{
    struct rm_state *st = ctx->priv;
    if (!st)
        return;
    render_destroy(st->r);
    volume_free(&st->vol[0]);
    volume_free(&st->vol[1]);
    free(st->spans);
    free(st->back);
    free(st->scratch);
    free(st->pair);
    free(st->front);
    pthread_mutex_destroy(&st->lock);
    free(st);
    ctx->priv = NULL;
}

/* Copies the latest frame to the canvas (nearest neighbour) and asks for that size next. */
static int rm_canvas(struct scene_ctx *ctx, struct scene_canvas *c)
{
    struct rm_state *st = ctx->priv;
    if (!st || c->w <= 0 || c->h <= 0)
        return -1;
    atomic_store_explicit(&st->want_w, c->w, RLX);
    atomic_store_explicit(&st->want_h, c->h, RLX);
    pthread_mutex_lock(&st->lock);
    int fw = st->fw, fh = st->fh;
    if (!st->front || fw <= 0 || fh <= 0) {
        pthread_mutex_unlock(&st->lock);
        return -1;
    }
    for (int y = 0; y < c->h; y++) {
        const uint8_t *row = st->front + (size_t)(y * fh / c->h) * (size_t)fw * 4;
        uint8_t *out = c->rgb + (size_t)y * (size_t)c->w * 3;
        for (int x = 0; x < c->w; x++) {
            const uint8_t *px = row + (size_t)(x * fw / c->w) * 4;
            out[3 * x] = px[0];
            out[3 * x + 1] = px[1];
            out[3 * x + 2] = px[2];
        }
    }
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* The 'p' key: the shown frame as conctui-raymarch-<n>.ppm in the current directory. */
static void snapshot(struct rm_state *st)
{
    char path[64], err[300];
    pthread_mutex_lock(&st->lock);
    int w = st->fw, h = st->fh;
    size_t n = (size_t)w * (size_t)h * 4;
    uint8_t *copy = st->front && n ? malloc(n) : NULL;
    if (copy)
        memcpy(copy, st->front, n);
    pthread_mutex_unlock(&st->lock);
    if (!copy) {
        scene_note(st->ctx, _("no frame to save yet"));
        return;
    }
    /*
     * Never overwrite: the first number no name has (lstat sees a dangling
     * symlink too); the file is then created with O_EXCL | O_NOFOLLOW.
     */
    unsigned k;
    struct stat sb;
    do {
        k = atomic_fetch_add_explicit(&st->snap_seq, 1, RLX) + 1;
        snprintf(path, sizeof path, "conctui-raymarch-%u.ppm", k);
    } while (lstat(path, &sb) == 0 && k < 100000);
    struct rm_image img = {w, h, NULL, copy};
    if (snapshot_write_ppm(path, &img, err, sizeof err) == 0)
        scene_note(st->ctx, _("saved %dx%d frame to %s"), w, h, path);
    else
        scene_note(st->ctx, _("could not save: %s"), err);
    free(copy);
}

/* Adds d to a key-driven value, kept within its parameter's range. */
static int64_t eff_add(struct rm_state *st, int i, int64_t d, bool wrap);

/* Scene keys: rotate, zoom, transfer function, backend, schedule, volume, snapshot. */
static int rm_key(struct scene_ctx *ctx, int key)
{
    struct rm_state *st = ctx->priv;
    if (!st)
        return 0;
    switch (key) {
    case APP_KEY_LEFT:
    case APP_KEY_RIGHT:
        scene_note(ctx, _("yaw %lld deg"),
                   (long long)eff_add(st, P_YAW, key == APP_KEY_LEFT ? -YAW_STEP : YAW_STEP, true));
        return 1;
    case APP_KEY_UP:
    case APP_KEY_DOWN:
        scene_note(
            ctx, _("pitch %lld deg"),
            (long long)eff_add(st, P_PITCH, key == APP_KEY_UP ? PITCH_STEP : -PITCH_STEP, false));
        return 1;
    case 'z':
    case 'x': {
        int64_t z = eff_get(st, P_ZOOM);
        int64_t nz = key == 'z' ? z * 5 / 4 : z * 4 / 5;
        scene_note(ctx, _("zoom %lld%%"), (long long)eff_add(st, P_ZOOM, nz - z, false));
        return 1;
    }
    case 't': {
        int64_t tf = eff_add(st, P_TF, 1, true);
        scene_note(ctx, _("transfer function: %s"),
                   tf == 0 ? "auto (the volume's own)" : raymarch_tf_name((int)tf - 1));
        return 1;
    }
    case 'b':
        /* apply_backend() says which backend it really uses. */
        eff_add(st, P_BACKEND, 1, true);
        return 1;
    case 'o':
        scene_note(ctx, _("OpenMP schedule: %s"),
                   eff_add(st, P_SCHEDULE, 1, true) ? "dynamic" : "static");
        return 1;
    case 'v': {
        int64_t v = eff_add(st, P_VOLUME, 1, true);
        static const char *const names[] = {"marschner-lobb", "shepp-logan head", "cloud",
                                            "raw file"};
        scene_note(ctx, _("volume: %s"), names[v]);
        return 1;
    }
    case 'p':
        snapshot(st);
        return 1;
    default:
        return 0;
    }
}

/* The figures of the latest frame. */
static void rm_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct rm_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    struct rm_figures g = st->fig;
    pthread_mutex_unlock(&st->lock);
    /* The lesson first: the same frame on the team over on one thread, pair by pair. */
    scene_stat_rounds(out, "speedup", &g.speedup, "x");
    scene_stat(out, "frames", (double)g.frames, "frames");
    scene_stat(out, "ms_per_frame", g.ms_avg, "ms");
    scene_stat(out, "last_frame", g.ms, "ms");
    scene_stat(out, "fps", g.fps, "frames/s");
    scene_stat(out, "samples_per_s", g.msamples_s, "Msamples/s");
    scene_stat(out, "samples", (double)g.samples_total, "samples");
    scene_stat(out, "frame_samples", (double)g.last_samples, "samples");
    scene_stat_rounds(out, "one_thread_ms", &g.ref_ms, "ms");
    scene_stat_rounds(out, "backend_ms", &g.par_ms, "ms");
    scene_stat(out, "backend", g.backend, "");
    scene_stat(out, "workers", g.workers, g.backend == RENDER_CUDA ? "SMs" : "threads");
    scene_stat(out, "tiles", g.tiles, g.backend == RENDER_CUDA ? "blocks" : "tiles");
    if (g.backend == RENDER_CUDA) {
        scene_stat(out, "kernel_ms", g.kernel_ms, "ms");
        scene_stat(out, "copy_ms", g.copy_ms, "ms");
        scene_stat(out, "gpu_clock_error", g.clock_error_ns / 1e3, "us");
    } else {
        scene_stat(out, "imbalance", g.imbalance, "x");
    }
    scene_stat(out, "width", g.w, "px");
    scene_stat(out, "height", g.h, "px");
    scene_stat(out, "yaw", g.yaw, "deg");
    scene_stat(out, "pitch", g.pitch, "deg");
    scene_stat(out, "zoom", g.zoom, "%");
    scene_stat(out, "volume", g.volume, "");
    scene_stat(out, "tf", g.tf, "");
}

static const struct scene_param rm_params[] = {
    [P_BACKEND] = {"backend", N_("0 one thread, 1 OpenMP, 2 CUDA (OpenMP when there is no GPU)"), 0,
                   2, 1, "", 0},
    [P_SCHEDULE] = {"schedule",
                    N_("OpenMP schedule: 0 static (tiles dealt out up front), "
                       "1 dynamic (taken as threads free up)"),
                    0, 1, 1, "", 0},
    [P_TILE] = {"tile", N_("tile edge for the CPU backends"), 4, 64, 16, "px", 0},
    [P_THREADS] = {"threads", N_("OpenMP threads (0: one per CPU)"), 0, MAX_THREADS, 0, "",
                   SCENE_P_RESTART},
    [P_VOLUME] = {"volume",
                  N_("0 Marschner-Lobb, 1 Shepp-Logan head, 2 noise cloud, "
                     "3 raw file: FILE,dims=XxYxZ,type=u8|u16|f32"),
                  0, V_COUNT - 1, V_HEAD, "", SCENE_P_TEXT, rm_volume_text},
    [P_TF] = {"tf",
              N_("transfer function: 0 the volume's own, 1 spectrum, 2 grey, 3 fire, "
                 "4 bone, 5 constant"),
              0, RM_TF_COUNT, 0, "", 0},
    [P_DENSITY] = {"density", N_("extinction per box unit at full opacity, in tenths"), 0, 1000, 50,
                   "/10", 0},
    [P_STEP] = {"step", N_("ray step in thousandths of a box unit (the box is 2000 wide)"), 1, 100,
                10, "/1000", 0},
    [P_YAW] = {"yaw", N_("camera turned about the vertical axis"), -180, 180, 34, "deg", 0},
    [P_PITCH] = {"pitch", N_("camera raised above the horizon"), -89, 89, 20, "deg", 0},
    [P_ZOOM] = {"zoom", N_("camera zoom (100: the whole box fits)"), 25, 400, 100, "%", 0},
    [P_WIDTH] = {"width", N_("frame width when no canvas is shown (headless)"), 8, 1024, DEF_W,
                 "px", 0},
    [P_HEIGHT] = {"height", N_("frame height when no canvas is shown (headless)"), 8, 1024, DEF_H,
                  "px", 0},
    [P_FPS] = {"fps", N_("frame-rate cap (0: as fast as possible)"), 0, 240, 15, "frames/s", 0},
    [P_SIZE] = {"size", N_("built-in volume edge (size^3 voxels)"), 16, 128, 64, "voxels", 0},
    [P_REFERENCE] = {"reference",
                     N_("a speedup pair this often: the frame on one thread, then on the backend "
                        "(0: never)"),
                     0, 60000, 1000, "ms", 0},
    [P_TURN] = {"turn",
                N_("the camera circles the volume this fast, a new frame each time (0: a still "
                   "picture)"),
                0, 90, 20, "deg/s", 0},
};

/* Adds d to a key-driven value, wrapping or clamping within its parameter's range. */
static int64_t eff_add(struct rm_state *st, int i, int64_t d, bool wrap)
{
    const struct scene_param *p = &rm_params[i];
    int64_t v = eff_get(st, i) + d, span = p->max - p->min + 1;
    if (wrap)
        v = p->min + ((v - p->min) % span + span) % span;
    else
        v = v < p->min ? p->min : v > p->max ? p->max : v;
    atomic_store_explicit(&st->eff[i], v, RLX);
    /* Also the shared parameter, so the parameter line and a restart agree. */
    atomic_store_explicit(&st->ctx->sh->param[i], v, RLX);
    return v;
}

static const struct scene_key rm_keys[] = {
    {APP_KEY_LEFT, N_("turn the camera left (yaw)"), KEY_SHADOWS},
    {APP_KEY_RIGHT, N_("turn the camera right (yaw)"), KEY_SHADOWS},
    {APP_KEY_UP, N_("raise the camera (pitch)"), KEY_SHADOWS},
    {APP_KEY_DOWN, N_("lower the camera (pitch)"), KEY_SHADOWS},
    {'z', N_("zoom in"), 0},
    {'x', N_("zoom out"), 0},
    {'t', N_("next transfer function"), 0},
    {'b', N_("next backend: one thread, OpenMP, CUDA"), 0},
    {'o', N_("OpenMP schedule: static / dynamic"), 0},
    {'v', N_("next volume"), 0},
    {'p', N_("save the frame as conctui-raymarch-N.ppm"), 0},
};

static const struct scene_mode rm_modes[] = {
    {"render", N_("every pixel its own ray"),
     N_("Each pixel marches a ray through a 3D volume and composites what it meets; no pixel "
        "needs another, so the work is perfectly parallel. On one thread the render loop does "
        "every tile itself. With OpenMP a team of threads shares the tiles: with the dynamic "
        "schedule (the default) each thread takes the next tile as it frees up, so the lanes "
        "run side by side and end together. Press o for the static schedule: each thread gets "
        "its share up front and, since rays through empty space are cheap and rays through "
        "the volume are not, some threads finish early and wait at the barrier (the "
        "'imbalance' figure). With CUDA each pixel is a GPU thread and the lanes show each "
        "SM's resident thread blocks. Every second the frame is rendered twice, scaled up to "
        "120,000 pixels, on one thread and then on the backend, and the speedup is the ratio of "
        "the pair (median of the recent pairs, with their range). The camera circles the "
        "volume (turn=0 stops it). Arrows turn the camera, z/x zoom, t, b, o and v change the "
        "transfer function, backend, schedule and volume, p saves the picture."),
     .ns_per_col = 2 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const char *const rm_backend_words[] = {N_("one thread"), N_("OpenMP"), N_("CUDA")};
static const char *const rm_schedule_words[] = {N_("static"), N_("dynamic")};
static const char *const rm_volume_words[] = {N_("Marschner-Lobb"), N_("Shepp-Logan head"),
                                              N_("noise cloud"), N_("raw file")};
static const char *const rm_tf_words[] = {
    N_("the volume's own"), N_("spectrum"), N_("grey"), N_("fire"), N_("bone"), N_("constant")};
static const struct scene_figure rm_figures[] = {
    {.name = "speedup", .label = N_("speedup"), .flags = FIG_HEADLINE},
    {.name = "fps", .label = N_("frame rate"), .flags = FIG_HEADLINE},
    {.name = "ms_per_frame", .label = N_("a frame"), .flags = FIG_HEADLINE},
    {.name = "frames", .label = N_("frames"), .unit = "", .fmt = FIG_INT},
    {.name = "last_frame", .label = N_("last frame")},
    {.name = "samples_per_s", .label = N_("sample rate")},
    {.name = "samples", .label = N_("samples")},
    {.name = "frame_samples", .label = N_("samples a frame")},
    {.name = "one_thread_ms", .label = N_("one thread")},
    {.name = "backend",
     .label = N_("backend"),
     .fmt = FIG_ENUM,
     .words = rm_backend_words,
     .nwords = (int)(sizeof rm_backend_words / sizeof rm_backend_words[0])},
    {.name = "schedule",
     .label = N_("schedule"),
     .fmt = FIG_ENUM,
     .words = rm_schedule_words,
     .nwords = (int)(sizeof rm_schedule_words / sizeof rm_schedule_words[0])},
    {.name = "workers", .label = N_("workers")},
    {.name = "tiles", .label = N_("tiles")},
    {.name = "kernel_ms", .label = N_("GPU kernel")},
    {.name = "copy_ms", .label = N_("copy back")},
    {.name = "gpu_clock_error", .label = N_("GPU clock error")},
    {.name = "imbalance", .label = N_("imbalance")},
    {.name = "width", .label = N_("width"), .fmt = FIG_INT},
    {.name = "height", .label = N_("height"), .fmt = FIG_INT},
    {.name = "yaw", .label = N_("yaw")},
    {.name = "pitch", .label = N_("pitch")},
    {.name = "zoom", .label = N_("zoom")},
    {.name = "volume",
     .label = N_("volume"),
     .fmt = FIG_ENUM,
     .words = rm_volume_words,
     .nwords = (int)(sizeof rm_volume_words / sizeof rm_volume_words[0])},
    {.name = "tf",
     .label = N_("transfer function"),
     .fmt = FIG_ENUM,
     .words = rm_tf_words,
     .nwords = (int)(sizeof rm_tf_words / sizeof rm_tf_words[0])},
};

const struct scene_entry scene_raymarch = {
    .name = "raymarch",
    .title = N_("Ray marching"),
    .summary = N_("volume rendering on one thread, OpenMP and CUDA"),
    .modes = rm_modes,
    .nmodes = 1,
    .params = rm_params,
    .nparams = P_COUNT,
    .keys = rm_keys,
    .nkeys = (int)(sizeof rm_keys / sizeof rm_keys[0]),
    .notes = rm_notes,
    .nnotes = (int)(sizeof rm_notes / sizeof rm_notes[0]),
    .start = rm_start,
    .stop = rm_stop,
    .release = rm_free,
    .key = rm_key,
    .stats = rm_stats,
    .figures = rm_figures,
    .nfigures = (int)(sizeof rm_figures / sizeof rm_figures[0]),
    .canvas = rm_canvas,
};
