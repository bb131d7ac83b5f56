/*
 * render.c - backend dispatch, CPU tiling and the OpenMP backend.
 *
 * DESIGN
 * The OpenMP backend starts a team per frame (libgomp keeps the threads parked between
 * frames). Work is a flat loop over tiles, so static versus dynamic scheduling is a single
 * schedule(runtime) loop whose schedule is set with omp_set_schedule() just before it. The
 * threads share only read-only state (frame constants, sampler, table) and write disjoint
 * things: their tiles' pixels and their tiles' slots of the caller's span array, indexed by
 * tile number, so nothing needs a lock or an atomic; the sample total is an OpenMP
 * reduction. Serial and OpenMP call the same compiled raymarch_tile(), which makes their
 * images bit-identical whatever the tiling or schedule.
 */
#define _POSIX_C_SOURCE 200809L

#ifdef HAVE_CONFIG_H
#include "config.h" /* HAVE_CUDA, so reconfiguring rebuilds this file */
#endif
#include "render.h"
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_CUDA
#include "render_cuda.h"
#endif

struct render {
    const struct volume *vol;
    struct rm_sampler sampler;
    struct rm_tf tf;
    struct rm_table table;
    int table_dirty;
    struct rm_params params;
    struct rm_camera camera;
    enum render_backend backend;
    struct render_tiling tiling;
    struct render_span *spans;
    int span_cap;
    struct render_stats stats;
#ifdef HAVE_CUDA
    struct render_cuda *cuda;
    int cuda_volume_dirty;
#endif
};

uint64_t render_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *render_backend_name(enum render_backend b)
{
    switch (b) {
    case RENDER_SERIAL:
        return "serial";
    case RENDER_OPENMP:
        return "openmp";
    case RENDER_CUDA:
        return "cuda";
    default:
        return "unknown";
    }
}

int render_cuda_available(char *reason, size_t reasonlen)
{
#ifdef HAVE_CUDA
    return render_cuda_probe(reason, reasonlen);
#else
    errmsg_set(reason, reasonlen, "built without CUDA");
    return 0;
#endif
}

static void render_default_tiling(struct render_tiling *t)
{
    t->tile_w = 16;
    t->tile_h = 16;
    t->threads = 0;
    t->schedule = RENDER_SCHED_DYNAMIC;
    t->chunk = 0;
}

struct render *render_create(const struct volume *vol, char *err, size_t errlen)
{
    struct render *r = calloc(1, sizeof *r);

    if (!r) {
        errmsg_set(err, errlen, "render: out of memory");
        return NULL;
    }
    if (raymarch_sampler_init(&r->sampler, vol, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    r->vol = vol;
    raymarch_params_default(&r->params);
    raymarch_camera_default(&r->camera);
    raymarch_tf_preset(&r->tf, RM_TF_SPECTRUM);
    r->table_dirty = 1;
    r->backend = RENDER_SERIAL;
    render_default_tiling(&r->tiling);
    return r;
}

void render_destroy(struct render *r)
{
    if (!r)
        return;
#ifdef HAVE_CUDA
    render_cuda_destroy(r->cuda);
#endif
    raymarch_sampler_free(&r->sampler);
    free(r);
}

int render_set_volume(struct render *r, const struct volume *vol, char *err, size_t errlen)
{
    struct rm_sampler s;

    if (raymarch_sampler_init(&s, vol, err, errlen) != 0)
        return -1;
#ifdef HAVE_CUDA
    if (r->cuda && render_cuda_set_volume(r->cuda, vol, err, errlen) != 0) {
        raymarch_sampler_free(&s);
        return -1;
    }
#endif
    raymarch_sampler_free(&r->sampler);
    r->sampler = s;
    r->vol = vol;
    return 0;
}

void render_set_params(struct render *r, const struct rm_params *p)
{
    r->params = *p;
    /* A zero or negative step would march forever; a huge step count is the same bug. */
    if (!(r->params.step >= 1e-4f))
        r->params.step = 1e-4f;
    if (r->params.max_steps < 1)
        r->params.max_steps = 1;
    if (r->params.max_steps > 100000)
        r->params.max_steps = 100000;
    if (!(r->params.density >= 0.0f))
        r->params.density = 0.0f;
    r->table_dirty = 1;
}

void render_get_params(const struct render *r, struct rm_params *p)
{
    *p = r->params;
}

void render_set_camera(struct render *r, const struct rm_camera *c)
{
    r->camera = *c;
}

void render_get_camera(const struct render *r, struct rm_camera *c)
{
    *c = r->camera;
}

int render_set_tf_preset(struct render *r, int preset)
{
    if (raymarch_tf_preset(&r->tf, preset) != 0)
        return -1;
    r->table_dirty = 1;
    return 0;
}

void render_set_tf(struct render *r, const struct rm_tf *tf)
{
    r->tf = *tf;
    r->table_dirty = 1;
}

int render_set_backend(struct render *r, enum render_backend b, char *err, size_t errlen)
{
    switch (b) {
    case RENDER_SERIAL:
    case RENDER_OPENMP:
        r->backend = b;
        return 0;
    case RENDER_CUDA:
#ifdef HAVE_CUDA
        if (!r->cuda) {
            r->cuda = render_cuda_create(err, errlen);
            if (!r->cuda)
                return -1;
            if (render_cuda_set_volume(r->cuda, r->vol, err, errlen) != 0) {
                render_cuda_destroy(r->cuda);
                r->cuda = NULL;
                return -1;
            }
        }
        r->backend = b;
        return 0;
#else
        errmsg_set(err, errlen, "render: CUDA backend unavailable: built without CUDA");
        return -1;
#endif
    default:
        errmsg_set(err, errlen, "render: unknown backend %d", (int)b);
        return -1;
    }
}

enum render_backend render_get_backend(const struct render *r)
{
    return r->backend;
}

void render_set_tiling(struct render *r, const struct render_tiling *t)
{
    struct render_tiling d;

    render_default_tiling(&d);
    r->tiling.tile_w = t->tile_w >= 1 ? t->tile_w : d.tile_w;
    r->tiling.tile_h = t->tile_h >= 1 ? t->tile_h : d.tile_h;
    r->tiling.threads = t->threads >= 0 ? t->threads : d.threads;
    r->tiling.schedule = t->schedule >= RENDER_SCHED_STATIC && t->schedule <= RENDER_SCHED_GUIDED
                             ? t->schedule
                             : d.schedule;
    r->tiling.chunk = t->chunk >= 0 ? t->chunk : d.chunk;
}

void render_get_tiling(const struct render *r, struct render_tiling *t)
{
    *t = r->tiling;
}

void render_set_spans(struct render *r, struct render_span *spans, int capacity)
{
    r->spans = capacity > 0 ? spans : NULL;
    r->span_cap = spans ? capacity : 0;
}

int render_spans_needed(const struct render *r, int w, int h)
{
    int bw = r->tiling.tile_w, bh = r->tiling.tile_h;

    if (w <= 0 || h <= 0)
        return 0;
#ifdef HAVE_CUDA
    if (r->backend == RENDER_CUDA)
        bw = bh = RENDER_CUDA_BLOCK;
#endif
    return ((w + bw - 1) / bw) * ((h + bh - 1) / bh);
}

void render_get_stats(const struct render *r, struct render_stats *st)
{
    *st = r->stats;
}

/* Renders tile `index` and records its span; the same code for every CPU backend. */
static uint64_t render_tile(const struct render *r, const struct rm_frame *f,
                            const struct rm_image *img, int index, int tiles_x, int worker)
{
    const struct render_tiling *t = &r->tiling;
    int x0 = (index % tiles_x) * t->tile_w, y0 = (index / tiles_x) * t->tile_h;
    int x1 = x0 + t->tile_w < img->w ? x0 + t->tile_w : img->w;
    int y1 = y0 + t->tile_h < img->h ? y0 + t->tile_h : img->h;
    uint64_t start = render_now_ns(), samples;

    samples = raymarch_tile(f, &r->sampler, &r->table, img, x0, y0, x1, y1);
    if (index < r->span_cap) {
        struct render_span *sp = &r->spans[index];

        sp->worker = worker;
        sp->index = index;
        sp->x = x0;
        sp->y = y0;
        sp->w = x1 - x0;
        sp->h = y1 - y0;
        sp->start_ns = start;
        sp->end_ns = render_now_ns();
        sp->samples = samples;
    }
    return samples;
}

static void render_cpu(struct render *r, const struct rm_image *img, int parallel)
{
    struct rm_frame f;
    int tiles_x = (img->w + r->tiling.tile_w - 1) / r->tiling.tile_w;
    int tiles_y = (img->h + r->tiling.tile_h - 1) / r->tiling.tile_h;
    int ntiles = tiles_x * tiles_y, t, workers = 1;
    uint64_t samples = 0;

    raymarch_frame_setup(&f, &r->camera, &r->params, img->w, img->h, r->sampler.nx, r->sampler.ny,
                         r->sampler.nz);
#ifdef _OPENMP
    if (parallel) {
        static const omp_sched_t kinds[] = {omp_sched_static, omp_sched_dynamic, omp_sched_guided};
        int nthreads = r->tiling.threads > 0 ? r->tiling.threads : omp_get_max_threads();

        omp_set_schedule(kinds[r->tiling.schedule], r->tiling.chunk);
#pragma omp parallel num_threads(nthreads) reduction(+ : samples)
        {
            int tid = omp_get_thread_num();

#pragma omp single nowait
            workers = omp_get_num_threads();
#pragma omp for schedule(runtime)
            for (t = 0; t < ntiles; t++)
                samples += render_tile(r, &f, img, t, tiles_x, tid);
        }
    } else
#endif
    {
        (void)parallel;
        for (t = 0; t < ntiles; t++)
            samples += render_tile(r, &f, img, t, tiles_x, 0);
    }
    r->stats.workers = workers;
    r->stats.samples = samples;
    r->stats.spans_total = ntiles;
    r->stats.nspans = ntiles < r->span_cap ? ntiles : r->span_cap;
    r->stats.kernel_ms = 0.0;
    r->stats.copy_ms = 0.0;
    r->stats.clock_error_ns = 0.0;
}

int render_frame(struct render *r, struct rm_image *img, char *err, size_t errlen)
{
    uint64_t start = render_now_ns();

    if (!img || img->w <= 0 || img->h <= 0 || (!img->rgba && !img->rgba8)) {
        errmsg_set(err, errlen, "render: image needs a size and at least one buffer");
        return -1;
    }
    if ((long long)img->w * img->h > (1LL << 28)) {
        errmsg_set(err, errlen, "render: image %dx%d too large", img->w, img->h);
        return -1;
    }
    if (r->table_dirty) {
        raymarch_table_setup(&r->table, &r->tf, &r->params);
        r->table_dirty = 0;
    }
    switch (r->backend) {
    case RENDER_SERIAL:
        render_cpu(r, img, 0);
        break;
    case RENDER_OPENMP:
        render_cpu(r, img, 1);
        break;
    case RENDER_CUDA:
#ifdef HAVE_CUDA
        if (render_cuda_frame(r->cuda, &r->camera, &r->params, &r->table, img, r->spans,
                              r->span_cap, &r->stats, err, errlen) != 0)
            return -1;
        break;
#endif
        /* fall through */
    default:
        errmsg_set(err, errlen, "render: backend %s not available",
                   render_backend_name(r->backend));
        return -1;
    }
    r->stats.backend = r->backend;
    r->stats.w = img->w;
    r->stats.h = img->h;
    r->stats.start_ns = start;
    r->stats.end_ns = render_now_ns();
    r->stats.ms = (double)(r->stats.end_ns - start) / 1e6;
    return 0;
}
