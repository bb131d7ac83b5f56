/*
 * render.h - one interface over the ray marcher's backends: serial, OpenMP, CUDA.
 *
 * A struct render holds everything a frame needs (volume, transfer function, params, camera,
 * backend, tiling) and, after each frame, what happened: timings, sample counts and one
 * "span" record per tile (CPU) or thread block (GPU) saying which worker rendered which
 * rectangle when, on CLOCK_MONOTONIC, so a caller can draw a lane per thread or per SM.
 *
 * Typical use:
 *     struct render *r = render_create(&vol, err, sizeof err);
 *     render_set_spans(r, spans, cap);            optional, caller-owned array
 *     render_set_backend(r, RENDER_OPENMP, err, sizeof err);
 *     struct rm_image img = {w, h, NULL, rgba8};  caller-owned w*h*4 bytes
 *     render_frame(r, &img, err, sizeof err);
 *     render_get_stats(r, &st);                   st.nspans records now in spans[]
 *
 * Not thread-safe: one thread drives a context (the backends parallelise inside a frame).
 */
#ifndef CONCTUI_GPU_RENDER_H
#define CONCTUI_GPU_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "raymarch.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

enum render_backend {
    RENDER_SERIAL, /* one thread, tile after tile */
    RENDER_OPENMP, /* tiles shared out by an OpenMP loop */
    RENDER_CUDA,   /* one GPU thread per pixel, 16x16 blocks */
    RENDER_BACKEND_COUNT
};

enum render_schedule {
    RENDER_SCHED_STATIC,  /* OpenMP schedule(static[,chunk]): tiles dealt out up front */
    RENDER_SCHED_DYNAMIC, /* OpenMP schedule(dynamic[,chunk]): tiles taken as threads free up */
    RENDER_SCHED_GUIDED   /* OpenMP schedule(guided[,chunk]): shrinking chunks */
};

/* How CPU backends cut the image up. Tiles are numbered row-major, index = ty * tiles_x + tx. */
struct render_tiling {
    int tile_w, tile_h;            /* pixels, >= 1 (default 16x16) */
    int threads;                   /* OpenMP team size; 0 = omp_get_max_threads() */
    enum render_schedule schedule; /* default dynamic */
    int chunk;                     /* OpenMP chunk in tiles; 0 = the runtime's default */
};

/* Who rendered which rectangle, when. Written at spans[index] so no counter is shared. */
struct render_span {
    int worker;                /* OpenMP thread number (0 for serial), or GPU SM id (%smid) */
    int index;                 /* tile index, or block index blockIdx.y * gridDim.x + x */
    int x, y, w, h;            /* the pixels it covered */
    uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC; GPU %globaltimer mapped onto it */
    uint64_t samples;          /* volume samples taken inside it */
};

/* What the last frame cost. */
struct render_stats {
    enum render_backend backend;
    int w, h;
    int workers;       /* threads in the team, or SMs on the GPU */
    uint64_t samples;  /* volume samples taken in the frame */
    uint64_t start_ns; /* CLOCK_MONOTONIC at render_frame entry and exit */
    uint64_t end_ns;
    double ms;             /* wall time of render_frame */
    double kernel_ms;      /* CUDA: the kernel alone (cudaEvent); 0 on the CPU */
    double copy_ms;        /* CUDA: host<->device copies (cudaEvent); 0 on the CPU */
    double clock_error_ns; /* CUDA: +- bound of the globaltimer -> CLOCK_MONOTONIC mapping */
    int spans_total;       /* tiles or blocks in the frame */
    int nspans;            /* of those, recorded (the span buffer may be shorter) */
};

struct render;

/* Creates a context rendering vol (referenced, not copied: keep it alive and call
 * render_set_volume after changing its voxels). Starts serial with default params, camera,
 * the spectrum TF and 16x16 dynamic tiling. NULL with a message in err on failure. */
struct render *render_create(const struct volume *vol, char *err, size_t errlen);

/* Frees the context and any GPU resources it holds (not the volume or span buffer). */
void render_destroy(struct render *r);

/* Switches to another volume (re-uploaded to the GPU if CUDA is in use). */
int render_set_volume(struct render *r, const struct volume *vol, char *err, size_t errlen);

/* Sets the marching parameters; step is clamped to >= 1e-4, max_steps to 1..100000,
 * density to >= 0. */
void render_set_params(struct render *r, const struct rm_params *p);

/* Reads the marching parameters back (after clamping). */
void render_get_params(const struct render *r, struct rm_params *p);

/* Sets the camera. */
void render_set_camera(struct render *r, const struct rm_camera *c);

/* Reads the camera back. */
void render_get_camera(const struct render *r, struct rm_camera *c);

/* Selects a built-in transfer function (enum rm_tf_preset); -1 for an unknown index. */
int render_set_tf_preset(struct render *r, int preset);

/* Installs a caller-made transfer function (copied). */
void render_set_tf(struct render *r, const struct rm_tf *tf);

/* Chooses the backend. Choosing CUDA creates the GPU context and uploads the volume; when
 * that is impossible it returns -1 with the reason in err and keeps the old backend. */
int render_set_backend(struct render *r, enum render_backend b, char *err, size_t errlen);

/* The backend in use. */
enum render_backend render_get_backend(const struct render *r);

/* Sets CPU tiling and OpenMP scheduling (out-of-range fields fall back to defaults). */
void render_set_tiling(struct render *r, const struct render_tiling *t);

/* Reads the tiling back. */
void render_get_tiling(const struct render *r, struct render_tiling *t);

/* Gives the context a caller-owned array for span records (NULL/0 to stop recording). Frames
 * write spans[i] for i < min(capacity, spans_total); nothing is allocated per frame. */
void render_set_spans(struct render *r, struct render_span *spans, int capacity);

/* Number of span records a w*h frame with the current backend and tiling produces. */
int render_spans_needed(const struct render *r, int w, int h);

/* Renders one frame into img (every non-NULL buffer of it). 0, or -1 with a message. */
int render_frame(struct render *r, struct rm_image *img, char *err, size_t errlen);

/* Copies out the statistics of the last successful frame. */
void render_get_stats(const struct render *r, struct render_stats *st);

/* 1 if a CUDA device can be used now, else 0 with why in reason ("built without CUDA",
 * "no CUDA device: <CUDA error string>"); reason may be NULL. */
int render_cuda_available(char *reason, size_t reasonlen);

/* "serial", "openmp" or "cuda". */
const char *render_backend_name(enum render_backend b);

/* CLOCK_MONOTONIC in nanoseconds, the clock every span is stamped with. */
uint64_t render_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif
