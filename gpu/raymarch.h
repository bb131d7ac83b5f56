/*
 * raymarch.h - the volume ray marcher shared by every backend.
 *
 * The per-pixel routine raymarch_pixel() lives here as RM_HD static inline so that the CPU
 * backends (raymarch_tile in raymarch.c) and the CUDA kernel (render_cuda.cu) compile the very
 * same code. Only volume sampling differs, through RM_SAMPLE: software trilinear on the host,
 * a hardware-filtered 3D texture on the device.
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
 *   u_k = (v_k - tf_offset) * tf_scale               clamped to [0,1]
 *   (c_k, a_k) = TF(u_k)                             colour and opacity from the 256-entry TF
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
 * about 1e-5 for a few hundred steps) when L/dt is an integer. tau and (1 - tau) * c are
 * evaluated in double at the 256 table nodes once per frame and interpolated linearly in
 * between, which keeps exp() out of the per-sample work.
 * Early ray termination: marching stops after the first sample that leaves T < 0.05, i.e.
 * opacity > RM_OPACITY_CUTOFF = 0.95.
 */
#ifndef CONCTUI_GPU_RAYMARCH_H
#define CONCTUI_GPU_RAYMARCH_H

#include <stdint.h>

#include "rmath.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RM_TF_SIZE 256
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
    float step;       /* ray step, box units (the box is 2 wide) */
    int max_steps;    /* cap on samples per ray */
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
    struct rm_vec3 tstep;     /* step * tscale, the texel-space advance per unit direction */
    int w, h;
    float inv_w, inv_h;
    float step, inv_step;
    int max_steps;
    float tf_a, tf_b; /* table coordinate = value * tf_a + tf_b */
    float brightness;
};

/* The volume as seen by the sampler. Texel coordinates put voxel i's centre at i. */
struct rm_sampler {
    const float *data;             /* host voxels (CPU path) */
    int sy, sz;                    /* element strides of y and z */
    int dx, dy, dz;                /* offset to the +1 neighbour, 0 on an axis of one voxel */
    int ixmax, iymax, izmax;       /* largest lower-corner index */
    float xmax, ymax, zmax;        /* largest texel coordinate, n - 1 */
    float inv_nx, inv_ny, inv_nz;  /* texel -> normalised texture coordinate (GPU path) */
    unsigned long long tex;        /* cudaTextureObject_t (that type is unsigned long long) */
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

/* Builds the per-frame TF table (RM_TF_SIZE * 4 floats): premultiplied (1 - tau) * rgb and the
 * step transmittance tau, see the formula above. */
void raymarch_table_setup(float *table, const struct rm_tf *tf, const struct rm_params *p);

/* Points a sampler at a volume's voxels (host path; tex is left 0). */
void raymarch_sampler_setup(struct rm_sampler *s, const struct volume *v);

/* Renders pixels [x0,x1) x [y0,y1) on the CPU into img; returns the number of samples taken.
 * Every CPU backend calls this one compiled function, so their images are bit-identical. */
uint64_t raymarch_tile(const struct rm_frame *f, const struct rm_sampler *s, const float *table,
                       const struct rm_image *img, int x0, int y0, int x1, int y1);

/* Clamps to [0,1] and rounds to a byte. */
RM_HD static inline unsigned char raymarch_to_u8(float v)
{
    v = v < 0.0f ? 0.0f : v;
    v = v > 1.0f ? 1.0f : v;
    return (unsigned char)(v * 255.0f + 0.5f);
}

/* Software trilinear interpolation at texel coordinates (x,y,z), clamped to the edge voxels
 * exactly like a CUDA texture in cudaAddressModeClamp. */
RM_HD static inline float raymarch_sample_trilinear(const struct rm_sampler *s, float x, float y,
                                                    float z)
{
    const float *p;
    float fx, fy, fz, c00, c10, c01, c11, c0, c1;
    int ix, iy, iz, dyx, dzx, dzy;

    x = x < 0.0f ? 0.0f : x;
    x = x > s->xmax ? s->xmax : x;
    y = y < 0.0f ? 0.0f : y;
    y = y > s->ymax ? s->ymax : y;
    z = z < 0.0f ? 0.0f : z;
    z = z > s->zmax ? s->zmax : z;
    /* Coordinates are >= 0 here, so truncation is floor. Capping the lower corner at n - 2
     * lets the +1 neighbour always exist; the weight then reaches 1 at the last voxel. */
    ix = (int)x;
    iy = (int)y;
    iz = (int)z;
    ix = ix < s->ixmax ? ix : s->ixmax;
    iy = iy < s->iymax ? iy : s->iymax;
    iz = iz < s->izmax ? iz : s->izmax;
    fx = x - (float)ix;
    fy = y - (float)iy;
    fz = z - (float)iz;
    p = s->data + ix + iy * s->sy + iz * s->sz;
    dyx = s->dy + s->dx;
    dzx = s->dz + s->dx;
    dzy = s->dz + s->dy;
    c00 = p[0] + fx * (p[s->dx] - p[0]);
    c10 = p[s->dy] + fx * (p[dyx] - p[s->dy]);
    c01 = p[s->dz] + fx * (p[dzx] - p[s->dz]);
    c11 = p[dzy] + fx * (p[dzy + s->dx] - p[dzy]);
    c0 = c00 + fy * (c10 - c00);
    c1 = c01 + fy * (c11 - c01);
    return c0 + fz * (c1 - c0);
}

#ifdef __CUDACC__
/* Hardware trilinear filtering (8-bit fractional weights, so about 1/256 of a voxel step
 * coarser than the software path). */
__device__ static inline float raymarch_sample_tex(const struct rm_sampler *s, float x, float y,
                                                   float z)
{
    return tex3D<float>((cudaTextureObject_t)s->tex, (x + 0.5f) * s->inv_nx,
                        (y + 0.5f) * s->inv_ny, (z + 0.5f) * s->inv_nz);
}
#endif

/* The sampler used by raymarch_pixel; define RM_SAMPLE before including this header to
 * substitute another (e.g. software trilinear on the device for debugging). */
#ifndef RM_SAMPLE
#ifdef __CUDA_ARCH__
#define RM_SAMPLE(s, x, y, z) raymarch_sample_tex((s), (x), (y), (z))
#else
#define RM_SAMPLE(s, x, y, z) raymarch_sample_trilinear((s), (x), (y), (z))
#endif
#endif

/* Marches the ray of pixel (px,py) and composites it front to back (formula at the top). */
RM_HD static inline struct rm_pixel raymarch_pixel(const struct rm_frame *f,
                                                   const struct rm_sampler *s,
                                                   const float *table, int px, int py)
{
    struct rm_pixel out;
    struct rm_vec3 dir, p, dp;
    float sx, sy, t0, t1, cr = 0.0f, cg = 0.0f, cb = 0.0f, tr = 1.0f;
    const float tf_a = f->tf_a, tf_b = f->tf_b;
    int n, k = 0;

    /* Integer numerators keep pixel px and w-1-px exact mirror images of each other. */
    sx = (float)(2 * px + 1 - f->w) * f->inv_w;
    sy = (float)(f->h - 2 * py - 1) * f->inv_h;
    dir = rmath_normalize(rmath_add(f->fwd, rmath_add(rmath_scale(f->right, sx),
                                                      rmath_scale(f->up, sy))));
    if (rmath_ray_box(f->eye, dir, -1.0f, 1.0f, &t0, &t1)) {
        if (t0 < 0.0f)
            t0 = 0.0f;
        n = (int)((t1 - t0) * f->inv_step + 0.5f);
        n = n < f->max_steps ? n : f->max_steps;
        /* March in texel space so a sample costs three adds to place. */
        p = rmath_add(f->eye, rmath_scale(dir, t0 + 0.5f * f->step));
        p = rmath_add(rmath_mul(p, f->tscale), f->toff);
        dp = rmath_mul(dir, f->tstep);
        while (k < n) {
            float v = RM_SAMPLE(s, p.x, p.y, p.z);
            float u = v * tf_a + tf_b;
            const float *e;
            float fr, w;
            int i;

            u = u < 0.0f ? 0.0f : u;
            u = u > (float)(RM_TF_SIZE - 1) ? (float)(RM_TF_SIZE - 1) : u;
            i = (int)u;
            i = i < RM_TF_SIZE - 2 ? i : RM_TF_SIZE - 2;
            fr = u - (float)i;
            e = table + 4 * i;
            w = tr;
            cr += w * (e[0] + fr * (e[4] - e[0]));
            cg += w * (e[1] + fr * (e[5] - e[1]));
            cb += w * (e[2] + fr * (e[6] - e[2]));
            tr = w * (e[3] + fr * (e[7] - e[3]));
            k++;
            if (tr < 1.0f - RM_OPACITY_CUTOFF)
                break;
            p.x += dp.x;
            p.y += dp.y;
            p.z += dp.z;
        }
    }
    out.r = cr * f->brightness;
    out.g = cg * f->brightness;
    out.b = cb * f->brightness;
    out.a = 1.0f - tr;
    out.samples = k;
    return out;
}

#ifdef __cplusplus
}
#endif

#endif
