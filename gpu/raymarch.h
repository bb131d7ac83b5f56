/*
 * raymarch.h - the volume ray marcher shared by every backend.
 *
 * The per-pixel routine raymarch_pixel() lives here as RM_HD static inline so that the CPU
 * backends (raymarch_tile in raymarch.c) and the CUDA kernel (render_cuda.cu) compile the very
 * same code. Only volume sampling differs, through RM_SAMPLE: software trilinear on the host,
 * a hardware-filtered 3D texture on the device. On x86 CPUs with AVX2 the CPU backends run
 * eight rays at once instead (raymarch_avx2.c), repeating this routine's arithmetic so exactly
 * that every pixel is bit-identical to it; this routine stays the reference, and the fallback.
 *
 * Geometry: the volume fills the box [-1,1]^3. The camera orbits the box centre at `distance`,
 * turned by yaw about +y and raised by pitch towards +y; yaw = pitch = 0 looks down -z with +x
 * to the right and +y up. Projection is perspective (vertical field of view fov_y), because
 * depth cues matter more than measurability for a teaching view; pixel_aspect (pixel width
 * over height) lets a terminal's tall cells be used as pixels without stretching the picture.
 *
 * Compositing (front to back, exact formula). For a ray entering the box at t_near (0 if the
 * eye is inside) and leaving at t_far, with L = t_far - t_near and step dt:
 *
 *   N   = min(floor(L / dt + 1/2), max_steps)       samples at t_k = t_near + (k + 1/2) dt
 *   v_k = trilinear(volume, ray(t_k))                in [0,1]
 *   (c_k, a_k) = TF((v_k - tf_offset) * tf_scale)    colour and opacity; the TF is linear
 *                                                    between its 256 entries, clamped at 0, 1
 *   tau_k = exp(-density * a_k * dt)                 transmittance of one step
 *   T_0 = 1,  T_{k+1} = T_k * tau_k
 *   C   = brightness * sum_k T_k * (1 - tau_k) * c_k     (colour, premultiplied, over black)
 *   A   = 1 - T_N                                    (opacity)
 *
 * i.e. per-step alpha = 1 - exp(-density * a * dt): opacity is corrected for the step size, so
 * `density` is an extinction coefficient per unit length (the box is 2 units wide) at TF
 * opacity 1, and a uniform medium gives Beer-Lambert, A = 1 - exp(-density * a * N dt).
 * Since |N dt - L| <= dt/2 this is 1 - exp(-density * a * L) to within
 * density * a * dt/2 * exp(-density * a * (L - dt/2)), and exactly (up to float rounding,
 * about 1e-5 for a few hundred steps) when L/dt is an integer.
 * To keep exp() and the TF's offset/scale out of the per-sample work, each frame builds a
 * table over the voxel value v (raymarch_table_setup): RM_TABLE_SIZE nodes v_j = j / (size-1)
 * holding ((1 - tau) * c, tau) evaluated in double at v_j; a sample interpolates the table
 * linearly at v_k. So the formula above is exact at the nodes and piecewise linear in v
 * between them (continuous, so tiny differences in v stay tiny in the image).
 * Early ray termination: marching stops after the first sample that leaves T < 0.05, i.e.
 * opacity > RM_OPACITY_CUTOFF = 0.95.
 */
#ifndef CONCTUI_GPU_RAYMARCH_H
#define CONCTUI_GPU_RAYMARCH_H

#include <stddef.h>
#include <stdint.h>

#include "rmath.h"
#include "volume.h"

#if !defined(__CUDACC__) && defined(__SSE4_1__)
#include <smmintrin.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RM_TF_SIZE 256
#define RM_TABLE_SIZE 512
#define RM_OPACITY_CUTOFF 0.95f

/* Built-in transfer functions. */
enum rm_tf_preset {
    RM_TF_SPECTRUM, /* the CUDA volumeRender sample's rainbow */
    RM_TF_GREY,     /* grey ramp, opacity = value */
    RM_TF_FIRE,     /* black-red-yellow-white, for clouds */
    RM_TF_BONE,     /* soft tissue faint and warm, dense parts opaque white (phantom) */
    RM_TF_CONSTANT, /* white, opacity 1 everywhere: a uniform medium (tests) */
    RM_TF_COUNT
};

/* Transfer function: RM_TF_SIZE entries of straight (not premultiplied) r, g, b, opacity, all in
 * [0,1], entry i standing for TF coordinate i / (RM_TF_SIZE - 1). */
struct rm_tf {
    float rgba[RM_TF_SIZE * 4];
};

/* The knobs of the CUDA samples' volumeRender, with density made step-independent. */
struct rm_params {
    float density;    /* extinction per unit length at TF opacity 1 */
    float brightness; /* multiplies the composited colour */
    float tf_offset;  /* TF coordinate = (value - tf_offset) * tf_scale */
    float tf_scale;
    float step;    /* ray step, box units (the box is 2 wide) */
    int max_steps; /* cap on samples per ray */
};

struct rm_camera {
    float yaw;          /* radians, about +y */
    float pitch;        /* radians, towards +y */
    float distance;     /* eye to box centre; the box half-width is 1 */
    float fov_y;        /* vertical field of view, radians */
    float pixel_aspect; /* pixel width / pixel height: 1 for square pixels */
};

/* An image of w*h pixels, row 0 at the top. Either buffer may be NULL; every non-NULL one is
 * written. Colour is premultiplied over black, alpha is the ray's opacity. */
struct rm_image {
    int w, h;
    float *rgba;          /* w*h*4 floats */
    unsigned char *rgba8; /* w*h*4 bytes, the floats clamped to [0,1] and rounded */
};

/* Everything per frame that does not depend on the pixel, computed once on the host and
 * handed to CPU tiles and GPU threads alike. */
struct rm_frame {
    struct rm_vec3 eye, fwd;
    struct rm_vec3 right, up; /* scaled so that +-1 image-plane units reach the image edges */
    struct rm_vec3 tscale;    /* box coordinate -> texel coordinate: p * tscale + toff */
    struct rm_vec3 toff;
    struct rm_vec3 tstep; /* step * tscale, the texel-space advance per unit direction */
    int w, h;
    float inv_w, inv_h;
    float step, inv_step;
    int max_steps;
    float brightness;
};

/* The per-frame lookup table over voxel values built from a TF and the params (see
 * raymarch_table_setup); one extra node repeats the last so that v = 1 needs no clamp. The
 * alignment lets a host load an entry as one vector. */
#if defined(__GNUC__) || defined(__CUDACC__)
#define RM_ALIGN16 __attribute__((aligned(16)))
#else
#define RM_ALIGN16
#endif
struct rm_table {
    float rgba[(RM_TABLE_SIZE + 1) * 4];
} RM_ALIGN16;

/* The volume as seen by a sampler, in texel coordinates: voxel i's centre is at i. */
struct rm_sampler {
    const float *data;      /* host voxels (CPU path); every dimension of this copy is >= 2 */
    int nx, ny, nz;         /* the dimensions texel coordinates refer to */
    int stride[4];          /* 1, x extent, x * y extent, 0 */
    int imax[4];            /* largest lower-corner index per axis (n - 2; 0 on an axis of one) */
    float lim[4];           /* largest texel coordinate per axis, n - 1 */
    float inv_n[4];         /* texel -> normalised texture coordinate (GPU path) */
    unsigned long long tex; /* cudaTextureObject_t (that type is unsigned long long), or 0 */
    float *owned;           /* private copy when the volume has an axis of one voxel, else NULL */
};

/* One pixel's result. */
struct rm_pixel {
    float r, g, b, a;
    int samples;
};

/* Fills p with defaults matching the look of the CUDA volumeRender sample. */
void raymarch_params_default(struct rm_params *p);

/* Fills c with a three-quarter view that frames the whole box. */
void raymarch_camera_default(struct rm_camera *c);

/* Fills tf with a built-in preset; returns -1 (tf untouched) for an unknown index. */
int raymarch_tf_preset(struct rm_tf *tf, int preset);

/* Name of a preset ("spectrum", "grey", ...), NULL for an unknown index. */
const char *raymarch_tf_name(int preset);

/* Derives the per-frame constants for a w*h image of a volume of nx*ny*nz voxels. */
void raymarch_frame_setup(struct rm_frame *f, const struct rm_camera *cam,
                          const struct rm_params *p, int w, int h, int nx, int ny, int nz);

/* Builds the per-frame table: node j = ((1 - tau) * rgb, tau) for voxel value j / (size - 1),
 * see the formula above. */
void raymarch_table_setup(struct rm_table *t, const struct rm_tf *tf, const struct rm_params *p);

/* Points a host sampler at a volume (copying it only if an axis has one voxel). Returns 0, or
 * -1 with a message in err. */
int raymarch_sampler_init(struct rm_sampler *s, const struct volume *v, char *err, size_t errlen);

/* Releases what raymarch_sampler_init allocated. */
void raymarch_sampler_free(struct rm_sampler *s);

/* The code that marches rays on the CPU: raymarch_pixel() one ray at a time (the reference, and
 * the fallback everywhere), or eight rays at once with AVX2, which reproduces it bit for bit. */
enum rm_cpu_path { RM_CPU_SCALAR, RM_CPU_AVX2 };

/* The path raymarch_tile() takes on this machine. */
enum rm_cpu_path raymarch_cpu_path(void);

/* "scalar" or "avx2". */
const char *raymarch_cpu_path_name(enum rm_cpu_path path);

/* Renders pixels [x0,x1) x [y0,y1) on the CPU into img; returns the number of samples taken.
 * Every CPU backend calls this one compiled function, so their images are bit-identical. */
uint64_t raymarch_tile(const struct rm_frame *f, const struct rm_sampler *s,
                       const struct rm_table *t, const struct rm_image *img, int x0, int y0, int x1,
                       int y1);

/* raymarch_tile() through a chosen path (the scalar one if this CPU cannot run it), so tests
 * can hold the fast path against the reference. */
uint64_t raymarch_tile_path(enum rm_cpu_path path, const struct rm_frame *f,
                            const struct rm_sampler *s, const struct rm_table *t,
                            const struct rm_image *img, int x0, int y0, int x1, int y1);

/* Clamps to [0,1] and rounds to a byte. */
RM_HD static inline unsigned char raymarch_to_u8(float v)
{
    v = v < 0.0f ? 0.0f : v;
    v = v > 1.0f ? 1.0f : v;
    return (unsigned char)(v * 255.0f + 0.5f);
}

#if !defined(__CUDACC__) && defined(__SSE4_1__)
/*
 * Software trilinear interpolation at texel position p, clamped to the edge voxels exactly like
 * a CUDA texture in cudaAddressModeClamp. The sampler is most of the CPU's per-sample cost,
 * hence SSE: the eight voxels come in as four x-adjacent pairs, and the weights are built
 * while those loads are in flight.
 */
static inline float raymarch_sample_trilinear(const struct rm_sampler *s, rm_v4 pos)
{
    __m128 p = _mm_max_ps((__m128)pos, _mm_setzero_ps());
    __m128i i, o;
    __m128 f, g, gxy, wxy, wlo, whi, lo, hi, a;
    const float *q, *r;

    p = _mm_min_ps(p, _mm_loadu_ps(s->lim));
    /* p >= 0, so truncation is floor; capping the corner at n - 2 keeps the +1 neighbour
     * inside, the weight reaching 1 at the last voxel instead. */
    i = _mm_min_epi32(_mm_cvttps_epi32(p), _mm_loadu_si128((const __m128i *)s->imax));
    f = _mm_sub_ps(p, _mm_cvtepi32_ps(i));
    g = _mm_sub_ps(_mm_set1_ps(1.0f), f);
    gxy = _mm_unpacklo_ps(g, f);
    wxy = _mm_mul_ps(_mm_movelh_ps(gxy, gxy), _mm_shuffle_ps(gxy, gxy, _MM_SHUFFLE(3, 3, 2, 2)));
    wlo = _mm_mul_ps(wxy, _mm_shuffle_ps(g, g, _MM_SHUFFLE(2, 2, 2, 2)));
    whi = _mm_mul_ps(wxy, _mm_shuffle_ps(f, f, _MM_SHUFFLE(2, 2, 2, 2)));
    o = _mm_mullo_epi32(i, _mm_loadu_si128((const __m128i *)s->stride));
    o = _mm_add_epi32(o, _mm_shuffle_epi32(o, _MM_SHUFFLE(1, 0, 3, 2)));
    o = _mm_add_epi32(o, _mm_shuffle_epi32(o, _MM_SHUFFLE(2, 3, 0, 1)));
    q = s->data + _mm_cvtsi128_si32(o);
    r = q + s->stride[2];
    lo = _mm_loadh_pi(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)q)),
                      (const __m64 *)(q + s->stride[1]));
    hi = _mm_loadh_pi(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)r)),
                      (const __m64 *)(r + s->stride[1]));
    a = _mm_add_ps(_mm_mul_ps(lo, wlo), _mm_mul_ps(hi, whi));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_shuffle_ps(a, a, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm_cvtss_f32(a);
}
#else
/* Software trilinear interpolation at texel position p, clamped to the edge voxels exactly like
 * a CUDA texture in cudaAddressModeClamp (portable version of the SSE code above). */
RM_HD static inline float raymarch_sample_trilinear(const struct rm_sampler *s, rm_v4 pos)
{
    float x = rmath_v4_get(pos, 0), y = rmath_v4_get(pos, 1), z = rmath_v4_get(pos, 2);
    float fx, fy, fz, c00, c10, c01, c11, c0, c1;
    int ix, iy, iz, sy = s->stride[1], sz = s->stride[2];
    const float *p;

    x = x > 0.0f ? x : 0.0f;
    y = y > 0.0f ? y : 0.0f;
    z = z > 0.0f ? z : 0.0f;
    x = x < s->lim[0] ? x : s->lim[0];
    y = y < s->lim[1] ? y : s->lim[1];
    z = z < s->lim[2] ? z : s->lim[2];
    ix = (int)x;
    iy = (int)y;
    iz = (int)z;
    ix = ix < s->imax[0] ? ix : s->imax[0];
    iy = iy < s->imax[1] ? iy : s->imax[1];
    iz = iz < s->imax[2] ? iz : s->imax[2];
    fx = x - (float)ix;
    fy = y - (float)iy;
    fz = z - (float)iz;
    p = s->data + ix + iy * sy + iz * sz;
    c00 = p[0] + fx * (p[1] - p[0]);
    c10 = p[sy] + fx * (p[sy + 1] - p[sy]);
    c01 = p[sz] + fx * (p[sz + 1] - p[sz]);
    c11 = p[sz + sy] + fx * (p[sz + sy + 1] - p[sz + sy]);
    c0 = c00 + fy * (c10 - c00);
    c1 = c01 + fy * (c11 - c01);
    return c0 + fz * (c1 - c0);
}
#endif

#ifdef __CUDACC__
/* Hardware trilinear filtering (8-bit fractional weights, so about 1/256 of a voxel step
 * coarser than the software path). */
__device__ static inline float raymarch_sample_tex(const struct rm_sampler *s, rm_v4 p)
{
    return tex3D<float>((cudaTextureObject_t)s->tex, (p.lane[0] + 0.5f) * s->inv_n[0],
                        (p.lane[1] + 0.5f) * s->inv_n[1], (p.lane[2] + 0.5f) * s->inv_n[2]);
}
#endif

/* The sampler used by raymarch_pixel; define RM_SAMPLE before including this header to
 * substitute another (e.g. software trilinear on the device, for debugging). */
#ifndef RM_SAMPLE
#ifdef __CUDA_ARCH__
#define RM_SAMPLE(s, p) raymarch_sample_tex((s), (p))
#else
#define RM_SAMPLE(s, p) raymarch_sample_trilinear((s), (p))
#endif
#endif

/* Where pixel (px,py)'s ray starts in texel space, its advance per step, and how many samples
 * it takes (n = 0 when it misses the box). */
struct rm_ray {
    rm_v4 p, dp;
    int n;
};

/* Sets up the ray of pixel (px,py) (the first half of the formula at the top). */
RM_HD static inline struct rm_ray raymarch_ray(const struct rm_frame *f, int px, int py)
{
    struct rm_ray r;
    struct rm_vec3 dir, p3;
    float sx, sy, t0, t1;
    int n;

    /* Integer numerators keep pixel px and w-1-px exact mirror images of each other. */
    sx = (float)(2 * px + 1 - f->w) * f->inv_w;
    sy = (float)(f->h - 2 * py - 1) * f->inv_h;
    dir = rmath_normalize(
        rmath_add(f->fwd, rmath_add(rmath_scale(f->right, sx), rmath_scale(f->up, sy))));
    r.p = r.dp = rmath_v4_set1(0.0f);
    r.n = 0;
    if (rmath_ray_box(f->eye, dir, -1.0f, 1.0f, &t0, &t1)) {
        if (t0 < 0.0f)
            t0 = 0.0f;
        n = (int)((t1 - t0) * f->inv_step + 0.5f);
        r.n = n < f->max_steps ? n : f->max_steps;
        /* March in texel space so placing a sample costs one vector add. */
        p3 = rmath_add(f->eye, rmath_scale(dir, t0 + 0.5f * f->step));
        r.p = rmath_v4_from3(rmath_add(rmath_mul(p3, f->tscale), f->toff));
        r.dp = rmath_v4_from3(rmath_mul(dir, f->tstep));
    }
    return r;
}

/* Marches the ray of pixel (px,py) and composites it front to back (formula at the top).
 * table is a struct rm_table's rgba (16-byte aligned). This is the reference: a CPU fast path
 * (raymarch_avx2.c) must reproduce it operation for operation. */
RM_HD static inline struct rm_pixel raymarch_pixel(const struct rm_frame *f,
                                                   const struct rm_sampler *s, const float *table,
                                                   int px, int py)
{
    struct rm_pixel out;
    struct rm_ray ray = raymarch_ray(f, px, py);
    rm_v4 p = ray.p, acc = rmath_v4_set1(0.0f), tr = rmath_v4_set1(1.0f);
    const float tscale = (float)(RM_TABLE_SIZE - 1);
    int k = 0;

    while (k < ray.n) {
        float u = RM_SAMPLE(s, p) * tscale;
        int i = (int)u;
        rm_v4 e0, c;

        /* Voxel values lie in [0,1], so u does too (times the scale) and the clamp only
         * guards memory against bad data; integer clamps stay branch-free. */
        i = i > 0 ? i : 0;
        i = i < RM_TABLE_SIZE - 1 ? i : RM_TABLE_SIZE - 1;
        e0 = rmath_v4_load(table + 4 * i);
        c = rmath_v4_add(e0, rmath_v4_mul(rmath_v4_set1(u - (float)i),
                                          rmath_v4_sub(rmath_v4_load(table + 4 * i + 4), e0)));
        acc = rmath_v4_add(acc, rmath_v4_mul(tr, c));
        tr = rmath_v4_mul(tr, rmath_v4_www(c));
        k++;
        if (rmath_v4_get(tr, 0) < 1.0f - RM_OPACITY_CUTOFF)
            break;
        p = rmath_v4_add(p, ray.dp);
    }
    out.r = rmath_v4_get(acc, 0) * f->brightness;
    out.g = rmath_v4_get(acc, 1) * f->brightness;
    out.b = rmath_v4_get(acc, 2) * f->brightness;
    out.a = 1.0f - rmath_v4_get(tr, 0);
    out.samples = k;
    return out;
}

#ifdef __cplusplus
}
#endif

#endif
