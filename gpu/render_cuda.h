/*
 * render_cuda.h - the CUDA backend behind render.h. Only built (and only called) when the
 * build defines HAVE_CUDA; callers outside gpu/ use render.h instead.
 */
#ifndef CONCTUI_GPU_RENDER_CUDA_H
#define CONCTUI_GPU_RENDER_CUDA_H

#include <stddef.h>

#include "raymarch.h"
#include "render.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads per block edge: blocks are RENDER_CUDA_BLOCK x RENDER_CUDA_BLOCK pixels. */
#define RENDER_CUDA_BLOCK 16

struct render_cuda;

/* 1 if cudaGetDeviceCount finds a device, else 0 with the reason. */
int render_cuda_probe(char *reason, size_t reasonlen);

/* Opens device 0 and calibrates its clock; NULL with a message on failure. */
struct render_cuda *render_cuda_create(char *err, size_t errlen);

/* Frees all device resources. */
void render_cuda_destroy(struct render_cuda *c);

/* Uploads a volume into a 3D texture (linear filtering, normalised coordinates, clamp). */
int render_cuda_set_volume(struct render_cuda *c, const struct volume *v, char *err, size_t errlen);

/* Renders one frame; fills the GPU fields of st (samples, workers, kernel_ms, copy_ms,
 * clock_error_ns, spans_total, nspans) and up to cap span records. */
int render_cuda_frame(struct render_cuda *c, const struct rm_camera *cam, const struct rm_params *p,
                      const struct rm_table *table, const struct rm_image *img,
                      struct render_span *spans, int cap, struct render_stats *st, char *err,
                      size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
