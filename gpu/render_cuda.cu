/*
 * render_cuda.cu - the CUDA backend: one GPU thread per pixel running raymarch_pixel() from
 * raymarch.h, the volume in a hardware-filtered 3D texture.
 *
 * DESIGN
 * The kernel launches one thread per pixel in RENDER_CUDA_BLOCK^2 blocks; threads share
 * nothing but read-only inputs (frame constants and sampler passed by value, the TF table in
 * global memory, the texture) and each writes only its own pixel. Per block, thread 0 stamps
 * %globaltimer on entry and, after a __syncthreads() that waits for every pixel of the block,
 * on exit, reads %smid, and writes one record to the block's own slot; the block's sample
 * count comes from a warp-shuffle reduction plus one shared atomic per warp, and one global
 * atomic per block adds it to the frame total. The host calls are all on the default stream
 * from the one thread that drives the render context, so they are ordered without further
 * synchronisation; cudaEvents bracket the kernel and the copies to time them apart.
 *
 * Clock mapping: %globaltimer is a nanosecond counter with an arbitrary origin. The host
 * brackets a one-thread kernel that reads it with two CLOCK_MONOTONIC readings (h0 before the
 * launch, h1 after the result is back), so the GPU read happened in [h0, h1]; offset =
 * (h0 + h1) / 2 - gpu, with error at most (h1 - h0) / 2. The tightest of several tries is
 * kept, and the calibration is redone once a second so drift between the clocks stays small.
 * %globaltimer advances in steps of up to 1 us on some GPUs (finer on recent ones), so very
 * short blocks can show zero length.
 */
#include "render_cuda.h"
#include "errmsg.h"

#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one block reports; copied back to become a struct render_span. */
struct render_cuda_rec {
    unsigned long long start, end; /* %globaltimer */
    unsigned int smid;
    unsigned int samples;
};

struct render_cuda {
    int device;
    int sm_count;
    int max_tex3d[3];
    cudaArray_t array;
    cudaTextureObject_t tex;
    struct rm_sampler sampler;
    float *d_table;
    float4 *d_rgba;
    uchar4 *d_rgba8;
    size_t rgba_cap, rgba8_cap;           /* pixels */
    struct render_cuda_rec *d_recs, *h_recs;
    size_t rec_cap, h_rec_cap;            /* records on device, on host */
    unsigned long long *d_total;          /* frame sample count */
    unsigned long long *d_clock;          /* calibration read-out */
    cudaEvent_t ev[4];
    long long clock_offset;               /* host ns = gpu ns + offset */
    double clock_error;
    uint64_t clock_when;
};

/* Turns a CUDA status into 0, or -1 with "cuda: <what>: <error string>". */
static int render_cuda_check(cudaError_t e, const char *what, char *err, size_t errlen)
{
    if (e == cudaSuccess)
        return 0;
    errmsg_set(err, errlen, "cuda: %s: %s", what, cudaGetErrorString(e));
    return -1;
}

static __device__ __forceinline__ unsigned int render_cuda_smid(void)
{
    unsigned int id;

    asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
    return id;
}

static __device__ __forceinline__ unsigned long long render_cuda_globaltimer(void)
{
    unsigned long long t;

    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

static __global__ void render_cuda_clock_kernel(unsigned long long *out)
{
    *out = render_cuda_globaltimer();
}

static __global__ void render_cuda_kernel(struct rm_frame f, struct rm_sampler s,
                                          const float *__restrict__ table,
                                          float4 *__restrict__ out_f,
                                          uchar4 *__restrict__ out_8,
                                          struct render_cuda_rec *__restrict__ recs,
                                          unsigned long long *total)
{
    __shared__ unsigned long long t_start;
    __shared__ unsigned int block_samples;
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int tid = threadIdx.y * blockDim.x + threadIdx.x;
    unsigned int n = 0;
    int o;

    if (tid == 0) {
        t_start = render_cuda_globaltimer();
        block_samples = 0;
    }
    __syncthreads();
    if (x < f.w && y < f.h) {
        struct rm_pixel px = raymarch_pixel(&f, &s, table, x, y);
        size_t i = (size_t)y * f.w + x;

        n = (unsigned int)px.samples;
        if (out_f)
            out_f[i] = make_float4(px.r, px.g, px.b, px.a);
        if (out_8)
            out_8[i] = make_uchar4(raymarch_to_u8(px.r), raymarch_to_u8(px.g),
                                   raymarch_to_u8(px.b), raymarch_to_u8(px.a));
    }
    /* Every thread gets here (no early return), so full-warp shuffles are safe. */
    for (o = 16; o > 0; o >>= 1)
        n += __shfl_down_sync(0xffffffffu, n, o);
    if ((tid & 31) == 0)
        atomicAdd(&block_samples, n);
    __syncthreads();
    if (tid == 0) {
        struct render_cuda_rec rec;

        rec.start = t_start;
        rec.end = render_cuda_globaltimer();
        rec.smid = render_cuda_smid();
        rec.samples = block_samples;
        if (recs)
            recs[blockIdx.y * gridDim.x + blockIdx.x] = rec;
        atomicAdd(total, (unsigned long long)block_samples);
    }
}

int render_cuda_probe(char *reason, size_t reasonlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);

    if (e != cudaSuccess) {
        errmsg_set(reason, reasonlen, "no CUDA device: %s", cudaGetErrorString(e));
        return 0;
    }
    if (n <= 0) {
        errmsg_set(reason, reasonlen, "no CUDA device: cudaGetDeviceCount found none");
        return 0;
    }
    errmsg_set(reason, reasonlen, "CUDA device available");
    return 1;
}

static uint64_t render_cuda_now(void)
{
    return render_now_ns();
}

static int render_cuda_calibrate(struct render_cuda *c, char *err, size_t errlen)
{
    double best = -1.0;
    int i;

    for (i = 0; i < 7; i++) {
        unsigned long long g = 0;
        uint64_t h0, h1;

        h0 = render_cuda_now();
        render_cuda_clock_kernel<<<1, 1>>>(c->d_clock);
        if (render_cuda_check(cudaMemcpy(&g, c->d_clock, sizeof g, cudaMemcpyDeviceToHost),
                              "clock calibration", err, errlen) != 0)
            return -1;
        h1 = render_cuda_now();
        /* The first try pays for module loading; it is kept only if nothing beats it. */
        if (best < 0.0 || (double)(h1 - h0) < best) {
            best = (double)(h1 - h0);
            c->clock_offset = (long long)(h0 + (h1 - h0) / 2) - (long long)g;
        }
    }
    c->clock_error = best / 2.0;
    c->clock_when = render_cuda_now();
    return 0;
}

void render_cuda_destroy(struct render_cuda *c)
{
    int i;

    if (!c)
        return;
    if (c->tex)
        cudaDestroyTextureObject(c->tex);
    if (c->array)
        cudaFreeArray(c->array);
    cudaFree(c->d_table);
    cudaFree(c->d_rgba);
    cudaFree(c->d_rgba8);
    cudaFree(c->d_recs);
    cudaFree(c->d_total);
    cudaFree(c->d_clock);
    for (i = 0; i < 4; i++)
        if (c->ev[i])
            cudaEventDestroy(c->ev[i]);
    free(c->h_recs);
    free(c);
}

struct render_cuda *render_cuda_create(char *err, size_t errlen)
{
    struct render_cuda *c;
    char why[160];
    int i;

    if (!render_cuda_probe(why, sizeof why)) {
        errmsg_set(err, errlen, "cuda: %s", why);
        return NULL;
    }
    c = (struct render_cuda *)calloc(1, sizeof *c);
    if (!c) {
        errmsg_set(err, errlen, "cuda: out of memory");
        return NULL;
    }
    c->device = 0;
    if (render_cuda_check(cudaSetDevice(0), "cudaSetDevice", err, errlen) != 0
        || render_cuda_check(cudaDeviceGetAttribute(&c->sm_count,
                                                    cudaDevAttrMultiProcessorCount, 0),
                             "SM count", err, errlen) != 0
        || render_cuda_check(cudaDeviceGetAttribute(&c->max_tex3d[0],
                                                    cudaDevAttrMaxTexture3DWidth, 0),
                             "3D texture limits", err, errlen) != 0
        || render_cuda_check(cudaDeviceGetAttribute(&c->max_tex3d[1],
                                                    cudaDevAttrMaxTexture3DHeight, 0),
                             "3D texture limits", err, errlen) != 0
        || render_cuda_check(cudaDeviceGetAttribute(&c->max_tex3d[2],
                                                    cudaDevAttrMaxTexture3DDepth, 0),
                             "3D texture limits", err, errlen) != 0
        || render_cuda_check(cudaMalloc((void **)&c->d_table, sizeof(struct rm_table)),
                             "table allocation", err, errlen) != 0
        || render_cuda_check(cudaMalloc((void **)&c->d_total, sizeof *c->d_total),
                             "counter allocation", err, errlen) != 0
        || render_cuda_check(cudaMalloc((void **)&c->d_clock, sizeof *c->d_clock),
                             "clock allocation", err, errlen) != 0) {
        render_cuda_destroy(c);
        return NULL;
    }
    for (i = 0; i < 4; i++) {
        if (render_cuda_check(cudaEventCreate(&c->ev[i]), "cudaEventCreate", err, errlen)
            != 0) {
            render_cuda_destroy(c);
            return NULL;
        }
    }
    if (render_cuda_calibrate(c, err, errlen) != 0) {
        render_cuda_destroy(c);
        return NULL;
    }
    return c;
}

int render_cuda_set_volume(struct render_cuda *c, const struct volume *v, char *err,
                           size_t errlen)
{
    cudaChannelFormatDesc fmt = cudaCreateChannelDesc<float>();
    cudaExtent ext;
    cudaMemcpy3DParms cp;
    cudaResourceDesc res;
    cudaTextureDesc td;
    cudaArray_t array = NULL;
    cudaTextureObject_t tex = 0;

    if (!v || !v->data || v->nx < 1 || v->ny < 1 || v->nz < 1) {
        errmsg_set(err, errlen, "cuda: no volume to upload");
        return -1;
    }
    if (v->nx > c->max_tex3d[0] || v->ny > c->max_tex3d[1] || v->nz > c->max_tex3d[2]) {
        errmsg_set(err, errlen, "cuda: volume %dx%dx%d exceeds the device's 3D texture "
                        "limit %dx%dx%d", v->nx, v->ny, v->nz, c->max_tex3d[0],
                        c->max_tex3d[1], c->max_tex3d[2]);
        return -1;
    }
    ext = make_cudaExtent((size_t)v->nx, (size_t)v->ny, (size_t)v->nz);
    if (render_cuda_check(cudaMalloc3DArray(&array, &fmt, ext, 0), "volume array", err,
                          errlen) != 0)
        return -1;
    memset(&cp, 0, sizeof cp);
    cp.srcPtr = make_cudaPitchedPtr((void *)v->data, (size_t)v->nx * sizeof(float),
                                    (size_t)v->nx, (size_t)v->ny);
    cp.dstArray = array;
    cp.extent = ext;
    cp.kind = cudaMemcpyHostToDevice;
    if (render_cuda_check(cudaMemcpy3D(&cp), "volume upload", err, errlen) != 0) {
        cudaFreeArray(array);
        return -1;
    }
    memset(&res, 0, sizeof res);
    res.resType = cudaResourceTypeArray;
    res.res.array.array = array;
    memset(&td, 0, sizeof td);
    td.normalizedCoords = 1;
    td.filterMode = cudaFilterModeLinear;
    td.addressMode[0] = cudaAddressModeClamp;
    td.addressMode[1] = cudaAddressModeClamp;
    td.addressMode[2] = cudaAddressModeClamp;
    td.readMode = cudaReadModeElementType;
    if (render_cuda_check(cudaCreateTextureObject(&tex, &res, &td, NULL), "volume texture",
                          err, errlen) != 0) {
        cudaFreeArray(array);
        return -1;
    }
    if (c->tex)
        cudaDestroyTextureObject(c->tex);
    if (c->array)
        cudaFreeArray(c->array);
    c->array = array;
    c->tex = tex;
    memset(&c->sampler, 0, sizeof c->sampler);
    c->sampler.nx = v->nx;
    c->sampler.ny = v->ny;
    c->sampler.nz = v->nz;
    c->sampler.inv_n[0] = 1.0f / (float)v->nx;
    c->sampler.inv_n[1] = 1.0f / (float)v->ny;
    c->sampler.inv_n[2] = 1.0f / (float)v->nz;
    c->sampler.tex = (unsigned long long)tex;
    return 0;
}

/* Grows a device buffer to hold n elements of size sz; contents are not kept. */
static int render_cuda_reserve(void **buf, size_t *cap, size_t n, size_t sz, const char *what,
                               char *err, size_t errlen)
{
    if (n <= *cap)
        return 0;
    cudaFree(*buf);
    *buf = NULL;
    *cap = 0;
    if (render_cuda_check(cudaMalloc(buf, n * sz), what, err, errlen) != 0)
        return -1;
    *cap = n;
    return 0;
}

int render_cuda_frame(struct render_cuda *c, const struct rm_camera *cam,
                      const struct rm_params *p, const struct rm_table *table,
                      const struct rm_image *img, struct render_span *spans, int cap,
                      struct render_stats *st, char *err, size_t errlen)
{
    struct rm_frame f;
    dim3 block(RENDER_CUDA_BLOCK, RENDER_CUDA_BLOCK);
    dim3 grid((img->w + RENDER_CUDA_BLOCK - 1) / RENDER_CUDA_BLOCK,
              (img->h + RENDER_CUDA_BLOCK - 1) / RENDER_CUDA_BLOCK);
    size_t npix = (size_t)img->w * (size_t)img->h, nblocks = (size_t)grid.x * grid.y;
    size_t nrec = spans && cap > 0 ? (nblocks < (size_t)cap ? nblocks : (size_t)cap) : 0;
    unsigned long long total = 0;
    float ms_up = 0.0f, ms_kernel = 0.0f, ms_down = 0.0f;
    size_t i;

    if (!c->tex) {
        errmsg_set(err, errlen, "cuda: no volume uploaded");
        return -1;
    }
    if (render_cuda_now() - c->clock_when > 1000000000u
        && render_cuda_calibrate(c, err, errlen) != 0)
        return -1;
    if ((img->rgba && render_cuda_reserve((void **)&c->d_rgba, &c->rgba_cap, npix,
                                          sizeof(float4), "image allocation", err, errlen))
        || (img->rgba8 && render_cuda_reserve((void **)&c->d_rgba8, &c->rgba8_cap, npix,
                                              sizeof(uchar4), "image allocation", err, errlen))
        || render_cuda_reserve((void **)&c->d_recs, &c->rec_cap, nblocks,
                               sizeof(struct render_cuda_rec), "record allocation", err,
                               errlen))
        return -1;
    if (nrec > c->h_rec_cap) {
        struct render_cuda_rec *h = (struct render_cuda_rec *)realloc(
            c->h_recs, c->rec_cap * sizeof *h);
        if (!h) {
            errmsg_set(err, errlen, "cuda: out of memory for block records");
            return -1;
        }
        c->h_recs = h;
        c->h_rec_cap = c->rec_cap;
    }
    raymarch_frame_setup(&f, cam, p, img->w, img->h, c->sampler.nx, c->sampler.ny,
                         c->sampler.nz);

    if (render_cuda_check(cudaEventRecord(c->ev[0]), "event", err, errlen)
        || render_cuda_check(cudaMemcpyAsync(c->d_table, table->rgba, sizeof table->rgba,
                                             cudaMemcpyHostToDevice), "table upload", err,
                             errlen)
        || render_cuda_check(cudaMemsetAsync(c->d_total, 0, sizeof *c->d_total), "memset",
                             err, errlen)
        || render_cuda_check(cudaEventRecord(c->ev[1]), "event", err, errlen))
        return -1;
    render_cuda_kernel<<<grid, block>>>(f, c->sampler, c->d_table,
                                        img->rgba ? c->d_rgba : NULL,
                                        img->rgba8 ? c->d_rgba8 : NULL, c->d_recs,
                                        c->d_total);
    if (render_cuda_check(cudaGetLastError(), "kernel launch", err, errlen)
        || render_cuda_check(cudaEventRecord(c->ev[2]), "event", err, errlen))
        return -1;
    if ((img->rgba && render_cuda_check(cudaMemcpy(img->rgba, c->d_rgba, npix * sizeof(float4),
                                                   cudaMemcpyDeviceToHost),
                                        "image download", err, errlen))
        || (img->rgba8 && render_cuda_check(cudaMemcpy(img->rgba8, c->d_rgba8,
                                                       npix * sizeof(uchar4),
                                                       cudaMemcpyDeviceToHost),
                                            "image download", err, errlen))
        || (nrec > 0 && render_cuda_check(cudaMemcpy(c->h_recs, c->d_recs,
                                                     nrec * sizeof *c->h_recs,
                                                     cudaMemcpyDeviceToHost),
                                          "record download", err, errlen))
        || render_cuda_check(cudaMemcpy(&total, c->d_total, sizeof total,
                                        cudaMemcpyDeviceToHost), "counter download", err,
                             errlen)
        || render_cuda_check(cudaEventRecord(c->ev[3]), "event", err, errlen)
        || render_cuda_check(cudaEventSynchronize(c->ev[3]), "kernel", err, errlen))
        return -1;
    cudaEventElapsedTime(&ms_up, c->ev[0], c->ev[1]);
    cudaEventElapsedTime(&ms_kernel, c->ev[1], c->ev[2]);
    cudaEventElapsedTime(&ms_down, c->ev[2], c->ev[3]);

    for (i = 0; i < nrec; i++) {
        const struct render_cuda_rec *rec = &c->h_recs[i];
        struct render_span *sp = &spans[i];
        int bx = (int)(i % grid.x), by = (int)(i / grid.x);

        sp->worker = (int)rec->smid;
        sp->index = (int)i;
        sp->x = bx * RENDER_CUDA_BLOCK;
        sp->y = by * RENDER_CUDA_BLOCK;
        sp->w = sp->x + RENDER_CUDA_BLOCK <= img->w ? RENDER_CUDA_BLOCK : img->w - sp->x;
        sp->h = sp->y + RENDER_CUDA_BLOCK <= img->h ? RENDER_CUDA_BLOCK : img->h - sp->y;
        sp->start_ns = (uint64_t)((long long)rec->start + c->clock_offset);
        sp->end_ns = (uint64_t)((long long)rec->end + c->clock_offset);
        sp->samples = rec->samples;
    }
    st->workers = c->sm_count;
    st->samples = total;
    st->kernel_ms = ms_kernel;
    st->copy_ms = (double)ms_up + (double)ms_down;
    st->clock_error_ns = c->clock_error;
    st->spans_total = (int)nblocks;
    st->nspans = (int)nrec;
    return 0;
}
