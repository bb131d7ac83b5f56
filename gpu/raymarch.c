/*
 * raymarch.c - host-side set-up for the shared ray marcher and the CPU tile loop.
 */
#include "raymarch.h"
#include "errmsg.h"
#include "raymarch_avx2.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void raymarch_params_default(struct rm_params *p)
{
    /* The sample uses density 0.05 per 0.01 step without opacity correction; 5 per unit
     * length gives about the same look here. */
    p->density = 5.0f;
    p->brightness = 1.0f;
    p->tf_offset = 0.0f;
    p->tf_scale = 1.0f;
    p->step = 0.01f;
    p->max_steps = 500;
}

void raymarch_camera_default(struct rm_camera *c)
{
    c->yaw = 0.6f;
    c->pitch = 0.35f;
    /* At 4 units a 45 degree view holds the box's bounding sphere (radius sqrt 3). */
    c->distance = 4.0f;
    c->fov_y = 45.0f * RM_PI / 180.0f;
    c->pixel_aspect = 1.0f;
}

struct raymarch_stop {
    float pos, r, g, b, a;
};

static const struct raymarch_stop raymarch_spectrum[] = {
    {0.0f / 8, 0.0f, 0.0f, 0.0f, 0.0f}, {1.0f / 8, 1.0f, 0.0f, 0.0f, 1.0f},
    {2.0f / 8, 1.0f, 0.5f, 0.0f, 1.0f}, {3.0f / 8, 1.0f, 1.0f, 0.0f, 1.0f},
    {4.0f / 8, 0.0f, 1.0f, 0.0f, 1.0f}, {5.0f / 8, 0.0f, 1.0f, 1.0f, 1.0f},
    {6.0f / 8, 0.0f, 0.0f, 1.0f, 1.0f}, {7.0f / 8, 1.0f, 0.0f, 1.0f, 1.0f},
    {8.0f / 8, 0.0f, 0.0f, 0.0f, 0.0f},
};
static const struct raymarch_stop raymarch_grey[] = {
    {0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
    {1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
};
static const struct raymarch_stop raymarch_fire[] = {
    {0.0f, 0.0f, 0.0f, 0.0f, 0.0f}, {0.1f, 0.3f, 0.0f, 0.0f, 0.05f}, {0.4f, 0.9f, 0.2f, 0.0f, 0.3f},
    {0.7f, 1.0f, 0.8f, 0.1f, 0.7f}, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
};
static const struct raymarch_stop raymarch_bone[] = {
    {0.0f, 0.0f, 0.0f, 0.0f, 0.0f},    {0.12f, 0.0f, 0.0f, 0.0f, 0.0f},
    {0.2f, 0.8f, 0.35f, 0.25f, 0.08f}, {0.35f, 0.95f, 0.7f, 0.5f, 0.25f},
    {0.7f, 1.0f, 0.95f, 0.85f, 0.8f},  {1.0f, 1.0f, 1.0f, 0.95f, 1.0f},
};
static const struct raymarch_stop raymarch_constant[] = {
    {0.0f, 1.0f, 1.0f, 1.0f, 1.0f},
    {1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
};

static const struct {
    const char *name;
    const struct raymarch_stop *stops;
    int nstops;
} raymarch_presets[RM_TF_COUNT] = {
    {"spectrum", raymarch_spectrum, sizeof raymarch_spectrum / sizeof raymarch_spectrum[0]},
    {"grey", raymarch_grey, sizeof raymarch_grey / sizeof raymarch_grey[0]},
    {"fire", raymarch_fire, sizeof raymarch_fire / sizeof raymarch_fire[0]},
    {"bone", raymarch_bone, sizeof raymarch_bone / sizeof raymarch_bone[0]},
    {"constant", raymarch_constant, sizeof raymarch_constant / sizeof raymarch_constant[0]},
};

const char *raymarch_tf_name(int preset)
{
    if (preset < 0 || preset >= RM_TF_COUNT)
        return NULL;
    return raymarch_presets[preset].name;
}

int raymarch_tf_preset(struct rm_tf *tf, int preset)
{
    const struct raymarch_stop *st;
    int i, n, seg = 0;

    if (preset < 0 || preset >= RM_TF_COUNT)
        return -1;
    st = raymarch_presets[preset].stops;
    n = raymarch_presets[preset].nstops;
    for (i = 0; i < RM_TF_SIZE; i++) {
        float u = (float)i / (float)(RM_TF_SIZE - 1), w;
        float *o = tf->rgba + 4 * i;

        while (seg < n - 2 && u > st[seg + 1].pos)
            seg++;
        w = (u - st[seg].pos) / (st[seg + 1].pos - st[seg].pos);
        w = w < 0.0f ? 0.0f : w > 1.0f ? 1.0f : w;
        o[0] = st[seg].r + w * (st[seg + 1].r - st[seg].r);
        o[1] = st[seg].g + w * (st[seg + 1].g - st[seg].g);
        o[2] = st[seg].b + w * (st[seg + 1].b - st[seg].b);
        o[3] = st[seg].a + w * (st[seg + 1].a - st[seg].a);
    }
    return 0;
}

void raymarch_frame_setup(struct rm_frame *f, const struct rm_camera *cam,
                          const struct rm_params *p, int w, int h, int nx, int ny, int nz)
{
    float cy = cosf(cam->yaw), sy = sinf(cam->yaw);
    float cp = cosf(cam->pitch), sp = sinf(cam->pitch);
    float th = tanf(0.5f * cam->fov_y);
    float aspect = (float)w * cam->pixel_aspect / (float)(h > 0 ? h : 1);

    /* The basis comes straight from the angles rather than from a cross product with a world
     * up vector, so looking straight down (pitch = 90 degrees) is not degenerate. */
    f->fwd = rmath_vec3(-cp * sy, -sp, -cp * cy);
    f->eye = rmath_scale(f->fwd, -cam->distance);
    f->right = rmath_scale(rmath_vec3(cy, 0.0f, -sy), th * aspect);
    f->up = rmath_scale(rmath_vec3(-sp * sy, cp, -sp * cy), th);
    f->tscale = rmath_vec3(0.5f * (float)nx, 0.5f * (float)ny, 0.5f * (float)nz);
    f->toff = rmath_vec3(0.5f * (float)nx - 0.5f, 0.5f * (float)ny - 0.5f, 0.5f * (float)nz - 0.5f);
    f->tstep = rmath_scale(f->tscale, p->step);
    f->w = w;
    f->h = h;
    f->inv_w = 1.0f / (float)(w > 0 ? w : 1);
    f->inv_h = 1.0f / (float)(h > 0 ? h : 1);
    f->step = p->step;
    f->inv_step = 1.0f / p->step;
    f->max_steps = p->max_steps;
    f->brightness = p->brightness;
}

/* The TF at coordinate u in [0,1], linear between entries. */
static void raymarch_tf_at(const struct rm_tf *tf, double u, double out[4])
{
    double x = u * (RM_TF_SIZE - 1), fr;
    int i, c;

    x = x < 0.0 ? 0.0 : x > RM_TF_SIZE - 1 ? RM_TF_SIZE - 1 : x;
    i = (int)x;
    i = i < RM_TF_SIZE - 2 ? i : RM_TF_SIZE - 2;
    fr = x - i;
    for (c = 0; c < 4; c++)
        out[c] = tf->rgba[4 * i + c] + fr * (tf->rgba[4 * (i + 1) + c] - tf->rgba[4 * i + c]);
}

void raymarch_table_setup(struct rm_table *t, const struct rm_tf *tf, const struct rm_params *p)
{
    int j;

    for (j = 0; j <= RM_TABLE_SIZE; j++) {
        int node = j < RM_TABLE_SIZE ? j : RM_TABLE_SIZE - 1;
        double v = (double)node / (RM_TABLE_SIZE - 1), c[4], a, alpha;

        raymarch_tf_at(tf, (v - p->tf_offset) * p->tf_scale, c);
        a = c[3] < 0.0 ? 0.0 : c[3] > 1.0 ? 1.0 : c[3];
        /* expm1 keeps thin media (tiny density * step) accurate. */
        alpha = -expm1(-(double)p->density * a * (double)p->step);
        t->rgba[4 * j + 0] = (float)(c[0] * alpha);
        t->rgba[4 * j + 1] = (float)(c[1] * alpha);
        t->rgba[4 * j + 2] = (float)(c[2] * alpha);
        t->rgba[4 * j + 3] = (float)(1.0 - alpha);
    }
}

int raymarch_sampler_init(struct rm_sampler *s, const struct volume *v, char *err, size_t errlen)
{
    int ex, ey, ez, x, y, z;

    memset(s, 0, sizeof *s);
    if (!v || !v->data || v->nx < 1 || v->ny < 1 || v->nz < 1) {
        errmsg_set(err, errlen, "raymarch: no volume to sample");
        return -1;
    }
    /* The sampler always reads a voxel's +1 neighbour on every axis (weighted 0 at the edge),
     * so an axis of one voxel is doubled in a private copy rather than tested per sample. */
    ex = v->nx > 1 ? v->nx : 2;
    ey = v->ny > 1 ? v->ny : 2;
    ez = v->nz > 1 ? v->nz : 2;
    if (ex != v->nx || ey != v->ny || ez != v->nz) {
        s->owned = malloc((size_t)ex * ey * ez * sizeof(float));
        if (!s->owned) {
            errmsg_set(err, errlen, "raymarch: out of memory copying the volume");
            return -1;
        }
        for (z = 0; z < ez; z++)
            for (y = 0; y < ey; y++)
                for (x = 0; x < ex; x++)
                    s->owned[((size_t)z * ey + y) * ex + x] =
                        v->data[((size_t)(z < v->nz ? z : 0) * v->ny + (y < v->ny ? y : 0)) *
                                    v->nx +
                                (x < v->nx ? x : 0)];
        s->data = s->owned;
    } else {
        s->data = v->data;
    }
    s->nx = v->nx;
    s->ny = v->ny;
    s->nz = v->nz;
    s->stride[0] = 1;
    s->stride[1] = ex;
    s->stride[2] = ex * ey;
    s->imax[0] = v->nx > 1 ? v->nx - 2 : 0;
    s->imax[1] = v->ny > 1 ? v->ny - 2 : 0;
    s->imax[2] = v->nz > 1 ? v->nz - 2 : 0;
    s->lim[0] = (float)(v->nx - 1);
    s->lim[1] = (float)(v->ny - 1);
    s->lim[2] = (float)(v->nz - 1);
    s->inv_n[0] = 1.0f / (float)v->nx;
    s->inv_n[1] = 1.0f / (float)v->ny;
    s->inv_n[2] = 1.0f / (float)v->nz;
    s->tex = 0;
    return 0;
}

void raymarch_sampler_free(struct rm_sampler *s)
{
    free(s->owned);
    memset(s, 0, sizeof *s);
}

/* Writes one pixel's result into whichever buffers img has. */
static void raymarch_store(const struct rm_image *img, int x, int y, const struct rm_pixel *px)
{
    size_t o = 4 * ((size_t)y * (size_t)img->w + (size_t)x);

    if (img->rgba) {
        img->rgba[o + 0] = px->r;
        img->rgba[o + 1] = px->g;
        img->rgba[o + 2] = px->b;
        img->rgba[o + 3] = px->a;
    }
    if (img->rgba8) {
        img->rgba8[o + 0] = raymarch_to_u8(px->r);
        img->rgba8[o + 1] = raymarch_to_u8(px->g);
        img->rgba8[o + 2] = raymarch_to_u8(px->b);
        img->rgba8[o + 3] = raymarch_to_u8(px->a);
    }
}

enum rm_cpu_path raymarch_cpu_path(void)
{
#ifdef RM_HAVE_AVX2
    if (raymarch__avx2_usable())
        return RM_CPU_AVX2;
#endif
    return RM_CPU_SCALAR;
}

const char *raymarch_cpu_path_name(enum rm_cpu_path path)
{
    switch (path) {
    case RM_CPU_SCALAR:
        return "scalar";
    case RM_CPU_AVX2:
        return "avx2";
    default:
        return "unknown";
    }
}

#ifdef RM_HAVE_AVX2
/* The tile's pixels, one RM_PACKET_W x RM_PACKET_H block at a time, through the AVX2 packet
 * marcher. */
static uint64_t raymarch_tile_avx2(const struct rm_frame *f, const struct rm_sampler *s,
                                   const struct rm_table *t, const struct rm_image *img, int x0,
                                   int y0, int x1, int y1)
{
    struct rm_packet pk;
    struct rm_pixel out[RM_PACKET];
    uint64_t samples = 0;
    int x, y, l;

    for (y = y0; y < y1; y += RM_PACKET_H) {
        int rows = y1 - y < RM_PACKET_H ? y1 - y : RM_PACKET_H;

        for (x = x0; x < x1; x += RM_PACKET_W) {
            int cols = x1 - x < RM_PACKET_W ? x1 - x : RM_PACKET_W;

            raymarch__rays_avx2(f, x, y, cols, rows, &pk);
            raymarch__packet_avx2(s, t->rgba, &pk, out);
            for (l = 0; l < RM_PACKET; l++) {
                if (l % RM_PACKET_W >= cols || l / RM_PACKET_W >= rows)
                    continue;
                out[l].r *= f->brightness;
                out[l].g *= f->brightness;
                out[l].b *= f->brightness;
                samples += (uint64_t)out[l].samples;
                raymarch_store(img, x + l % RM_PACKET_W, y + l / RM_PACKET_W, &out[l]);
            }
        }
    }
    return samples;
}
#endif

uint64_t raymarch_tile_path(enum rm_cpu_path path, const struct rm_frame *f,
                            const struct rm_sampler *s, const struct rm_table *t,
                            const struct rm_image *img, int x0, int y0, int x1, int y1)
{
    uint64_t samples = 0;
    int x, y;

#ifdef RM_HAVE_AVX2
    if (path == RM_CPU_AVX2 && raymarch__avx2_usable())
        return raymarch_tile_avx2(f, s, t, img, x0, y0, x1, y1);
#endif
    (void)path;
    for (y = y0; y < y1; y++) {
        for (x = x0; x < x1; x++) {
            struct rm_pixel px = raymarch_pixel(f, s, t->rgba, x, y);

            samples += (uint64_t)px.samples;
            raymarch_store(img, x, y, &px);
        }
    }
    return samples;
}

uint64_t raymarch_tile(const struct rm_frame *f, const struct rm_sampler *s,
                       const struct rm_table *t, const struct rm_image *img, int x0, int y0, int x1,
                       int y1)
{
    return raymarch_tile_path(raymarch_cpu_path(), f, s, t, img, x0, y0, x1, y1);
}
