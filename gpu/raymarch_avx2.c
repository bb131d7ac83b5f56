/*
 * raymarch_avx2.c - the CPU's fast path: raymarch_pixel() for eight rays at once with AVX2.
 *
 * One ray per 32-bit lane (a 4x2 block of pixels), so every instruction does eight rays' worth
 * of the same step of raymarch_pixel(). The lanes repeat the reference's arithmetic operation
 * for operation: ray set-up with the same divisions and square root, the trilinear weights
 * built and summed in the SSE sampler's order, the table interpolated and composited as
 * raymarch_pixel does, and no fused multiply-adds (the build says -ffp-contract=off). So each
 * pixel comes out bit-identical to the shared routine's, whatever lane or packet it lands in;
 * that keeps the serial and OpenMP images identical, and the CUDA comparison meaningful.
 *
 * Where the time goes: a step is long chains of dependent work (position -> voxel offsets ->
 * eight loads -> weighted sum -> table index -> two loads -> compositing), too long for the
 * core to overlap one step with the next by itself. So the loop is software-pipelined in
 * three stages: each pass composites step k, samples the volume for step k + 1 and computes
 * the cell and offsets of step k + 2. The voxel pairs and table entries come in with plain
 * loads (vgatherdps/pd were slower on the machines measured) and are turned from per-ray into
 * per-corner order with in-register transposes.
 *
 * A lane whose ray has ended keeps computing (clamped, so its reads stay inside the volume)
 * until the packet's last ray ends, with its transmittance zeroed so nothing it computes can
 * overflow or go subnormal.
 */
#include "raymarch_avx2.h"

#ifdef RM_HAVE_AVX2

#include <immintrin.h>

int raymarch__avx2_usable(void)
{
    return __builtin_cpu_supports("avx2");
}

/* AVX2 without FMA, so that the compiler cannot fuse a multiply and an add even if asked to. */
#define RM_AVX2_FN __attribute__((target("avx2")))
/* Helpers are inlined whatever the optimisation level thinks of their size. */
#define RM_AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/* Two adjacent floats at a and two at b, as one vector. */
RM_AVX2_INLINE __m128 raymarch_avx2_quad(const float *a, const float *b)
{
    return _mm_loadh_pi(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)a)), (const __m64 *)b);
}

/* Four vectors of four (in each 128-bit half) turned into four vectors of the first, second,
 * third and fourth elements. */
RM_AVX2_INLINE void raymarch_avx2_transpose(const __m256 r[4], __m256 *c0, __m256 *c1, __m256 *c2,
                                            __m256 *c3)
{
    __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(r[0], r[1]));
    __m256d t1 = _mm256_castps_pd(_mm256_unpackhi_ps(r[0], r[1]));
    __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(r[2], r[3]));
    __m256d t3 = _mm256_castps_pd(_mm256_unpackhi_ps(r[2], r[3]));

    *c0 = _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2));
    *c1 = _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2));
    *c2 = _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3));
    *c3 = _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3));
}

/* One slab of rmath_ray_box() for eight rays: the same comparisons, as masks. ok collects
 * whether each ray still meets the box. */
RM_AVX2_INLINE void raymarch_avx2_slab(__m256 o, __m256 d, __m256 *t0, __m256 *t1, __m256 *ok)
{
    const __m256 lo = _mm256_set1_ps(-1.0f), hi = _mm256_set1_ps(1.0f);
    __m256 flat = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_EQ_OQ);
    __m256 inv = _mm256_div_ps(hi, d);
    __m256 a = _mm256_mul_ps(_mm256_sub_ps(lo, o), inv);
    __m256 b = _mm256_mul_ps(_mm256_sub_ps(hi, o), inv);
    __m256 swap = _mm256_cmp_ps(a, b, _CMP_GT_OQ), na, nb, inside;

    na = _mm256_blendv_ps(a, b, swap);
    nb = _mm256_blendv_ps(b, a, swap);
    /* A direction component of zero leaves t0, t1 alone and asks only whether o is inside. */
    na = _mm256_blendv_ps(na, *t0, flat);
    nb = _mm256_blendv_ps(nb, *t1, flat);
    *t0 = _mm256_blendv_ps(*t0, na, _mm256_cmp_ps(na, *t0, _CMP_GT_OQ));
    *t1 = _mm256_blendv_ps(*t1, nb, _mm256_cmp_ps(nb, *t1, _CMP_LT_OQ));
    inside = _mm256_and_ps(_mm256_cmp_ps(o, lo, _CMP_GE_OQ), _mm256_cmp_ps(o, hi, _CMP_LE_OQ));
    *ok = _mm256_and_ps(*ok, _mm256_blendv_ps(_mm256_cmp_ps(*t0, *t1, _CMP_LE_OQ), inside, flat));
}

RM_AVX2_FN void raymarch__rays_avx2(const struct rm_frame *f, int x, int y, int cols, int rows,
                                    struct rm_packet *pk)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256i col = _mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3);
    const __m256i row = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256i ix = _mm256_add_epi32(_mm256_set1_epi32(x), col);
    __m256i iy = _mm256_add_epi32(_mm256_set1_epi32(y), row);
    __m256 sx, sy, dx, dy, dz, len, inv, t0, t1, ok, ts, m;
    __m256i n;

    /* raymarch_ray: the image-plane point, the direction through it, normalised. */
    sx = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
                           _mm256_add_epi32(_mm256_add_epi32(ix, ix), _mm256_set1_epi32(1)),
                           _mm256_set1_epi32(f->w))),
                       _mm256_set1_ps(f->inv_w));
    sy = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(
                           _mm256_sub_epi32(_mm256_set1_epi32(f->h), _mm256_add_epi32(iy, iy)),
                           _mm256_set1_epi32(1))),
                       _mm256_set1_ps(f->inv_h));
    dx = _mm256_add_ps(_mm256_set1_ps(f->fwd.x),
                       _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(f->right.x), sx),
                                     _mm256_mul_ps(_mm256_set1_ps(f->up.x), sy)));
    dy = _mm256_add_ps(_mm256_set1_ps(f->fwd.y),
                       _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(f->right.y), sx),
                                     _mm256_mul_ps(_mm256_set1_ps(f->up.y), sy)));
    dz = _mm256_add_ps(_mm256_set1_ps(f->fwd.z),
                       _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(f->right.z), sx),
                                     _mm256_mul_ps(_mm256_set1_ps(f->up.z), sy)));
    len = _mm256_sqrt_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy)),
                                       _mm256_mul_ps(dz, dz)));
    m = _mm256_cmp_ps(len, zero, _CMP_GT_OQ);
    inv = _mm256_div_ps(_mm256_set1_ps(1.0f), len);
    dx = _mm256_blendv_ps(dx, _mm256_mul_ps(dx, inv), m);
    dy = _mm256_blendv_ps(dy, _mm256_mul_ps(dy, inv), m);
    dz = _mm256_blendv_ps(dz, _mm256_mul_ps(dz, inv), m);

    /* rmath_ray_box against [-1,1]^3, entry clamped to the eye. */
    t0 = _mm256_set1_ps(-1e30f);
    t1 = _mm256_set1_ps(1e30f);
    ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    raymarch_avx2_slab(_mm256_set1_ps(f->eye.x), dx, &t0, &t1, &ok);
    raymarch_avx2_slab(_mm256_set1_ps(f->eye.y), dy, &t0, &t1, &ok);
    raymarch_avx2_slab(_mm256_set1_ps(f->eye.z), dz, &t0, &t1, &ok);
    ok = _mm256_andnot_ps(_mm256_cmp_ps(t1, zero, _CMP_LT_OQ), ok);
    ok = _mm256_and_ps(ok, _mm256_castsi256_ps(
                               _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(cols), col),
                                                _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), row))));
    t0 = _mm256_blendv_ps(t0, zero, _mm256_cmp_ps(t0, zero, _CMP_LT_OQ));
    n = _mm256_cvttps_epi32(_mm256_add_ps(
        _mm256_mul_ps(_mm256_sub_ps(t1, t0), _mm256_set1_ps(f->inv_step)), _mm256_set1_ps(0.5f)));
    n = _mm256_min_epi32(n, _mm256_set1_epi32(f->max_steps));
    _mm256_storeu_si256((__m256i *)pk->n, _mm256_and_si256(n, _mm256_castps_si256(ok)));

    /* The first sample's texel position and the step, zero for rays that miss. */
    ts = _mm256_add_ps(t0, _mm256_set1_ps(0.5f * f->step));
    _mm256_storeu_ps(
        pk->px,
        _mm256_and_ps(ok, _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(f->eye.x),
                                                                    _mm256_mul_ps(dx, ts)),
                                                      _mm256_set1_ps(f->tscale.x)),
                                        _mm256_set1_ps(f->toff.x))));
    _mm256_storeu_ps(
        pk->py,
        _mm256_and_ps(ok, _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(f->eye.y),
                                                                    _mm256_mul_ps(dy, ts)),
                                                      _mm256_set1_ps(f->tscale.y)),
                                        _mm256_set1_ps(f->toff.y))));
    _mm256_storeu_ps(
        pk->pz,
        _mm256_and_ps(ok, _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(f->eye.z),
                                                                    _mm256_mul_ps(dz, ts)),
                                                      _mm256_set1_ps(f->tscale.z)),
                                        _mm256_set1_ps(f->toff.z))));
    _mm256_storeu_ps(pk->dx, _mm256_and_ps(ok, _mm256_mul_ps(dx, _mm256_set1_ps(f->tstep.x))));
    _mm256_storeu_ps(pk->dy, _mm256_and_ps(ok, _mm256_mul_ps(dy, _mm256_set1_ps(f->tstep.y))));
    _mm256_storeu_ps(pk->dz, _mm256_and_ps(ok, _mm256_mul_ps(dz, _mm256_set1_ps(f->tstep.z))));
}

/* What the trilinear sampler needs of the volume, as vectors. */
struct rm_avx2_vol {
    __m256 lim[3];
    __m256i imax[3], sy, sz;
    const float *v00, *v10, *v01, *v11;
};

/* The first half of raymarch_sample_trilinear() for eight positions: the clamps, the lower
 * corner as an offset into the volume, and the fractions. */
struct rm_avx2_cell {
    __m256i o;
    __m256 fx, fy, fz;
};

RM_AVX2_INLINE struct rm_avx2_cell raymarch_avx2_cell(const struct rm_avx2_vol *vol, __m256 px,
                                                      __m256 py, __m256 pz)
{
    const __m256 zero = _mm256_setzero_ps();
    struct rm_avx2_cell c;
    __m256 x, y, z;
    __m256i ix, iy, iz;

    x = _mm256_min_ps(_mm256_max_ps(px, zero), vol->lim[0]);
    y = _mm256_min_ps(_mm256_max_ps(py, zero), vol->lim[1]);
    z = _mm256_min_ps(_mm256_max_ps(pz, zero), vol->lim[2]);
    ix = _mm256_min_epi32(_mm256_cvttps_epi32(x), vol->imax[0]);
    iy = _mm256_min_epi32(_mm256_cvttps_epi32(y), vol->imax[1]);
    iz = _mm256_min_epi32(_mm256_cvttps_epi32(z), vol->imax[2]);
    c.o = _mm256_add_epi32(
        ix, _mm256_add_epi32(_mm256_mullo_epi32(iy, vol->sy), _mm256_mullo_epi32(iz, vol->sz)));
    c.fx = _mm256_sub_ps(x, _mm256_cvtepi32_ps(ix));
    c.fy = _mm256_sub_ps(y, _mm256_cvtepi32_ps(iy));
    c.fz = _mm256_sub_ps(z, _mm256_cvtepi32_ps(iz));
    return c;
}

/* The second half: the eight corners, weighted and summed in the SSE sampler's order. */
RM_AVX2_INLINE __m256 raymarch_avx2_sample(const struct rm_avx2_vol *vol,
                                           const struct rm_avx2_cell *cell)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 gx, gy, gz, w00, w10, w01, w11, lo[4], hi[4];
    __m256 c000, c100, c010, c110, c001, c101, c011, c111, a0, a1, a2, a3;
    unsigned oi[RM_PACKET] __attribute__((aligned(32)));
    int l;

    /* Offsets through memory: eight scalar loads beat sixteen extract instructions, and the
     * empty asm keeps the compiler from turning them back into extracts. */
    _mm256_store_si256((__m256i *)oi, cell->o);
    __asm__("" : "+m"(oi));
#pragma GCC unroll 4
    for (l = 0; l < 4; l++) {
        lo[l] = _mm256_set_m128(raymarch_avx2_quad(vol->v00 + oi[l + 4], vol->v10 + oi[l + 4]),
                                raymarch_avx2_quad(vol->v00 + oi[l], vol->v10 + oi[l]));
        hi[l] = _mm256_set_m128(raymarch_avx2_quad(vol->v01 + oi[l + 4], vol->v11 + oi[l + 4]),
                                raymarch_avx2_quad(vol->v01 + oi[l], vol->v11 + oi[l]));
    }
    raymarch_avx2_transpose(lo, &c000, &c100, &c010, &c110);
    raymarch_avx2_transpose(hi, &c001, &c101, &c011, &c111);
    gx = _mm256_sub_ps(one, cell->fx);
    gy = _mm256_sub_ps(one, cell->fy);
    gz = _mm256_sub_ps(one, cell->fz);
    w00 = _mm256_mul_ps(gx, gy);
    w10 = _mm256_mul_ps(cell->fx, gy);
    w01 = _mm256_mul_ps(gx, cell->fy);
    w11 = _mm256_mul_ps(cell->fx, cell->fy);
    a0 = _mm256_add_ps(_mm256_mul_ps(c000, _mm256_mul_ps(w00, gz)),
                       _mm256_mul_ps(c001, _mm256_mul_ps(w00, cell->fz)));
    a1 = _mm256_add_ps(_mm256_mul_ps(c100, _mm256_mul_ps(w10, gz)),
                       _mm256_mul_ps(c101, _mm256_mul_ps(w10, cell->fz)));
    a2 = _mm256_add_ps(_mm256_mul_ps(c010, _mm256_mul_ps(w01, gz)),
                       _mm256_mul_ps(c011, _mm256_mul_ps(w01, cell->fz)));
    a3 = _mm256_add_ps(_mm256_mul_ps(c110, _mm256_mul_ps(w11, gz)),
                       _mm256_mul_ps(c111, _mm256_mul_ps(w11, cell->fz)));
    return _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
}

RM_AVX2_FN void raymarch__packet_avx2(const struct rm_sampler *s, const float *table,
                                      const struct rm_packet *pk, struct rm_pixel out[RM_PACKET])
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256 tscale = _mm256_set1_ps((float)(RM_TABLE_SIZE - 1));
    const __m256 cutoff = _mm256_set1_ps(1.0f - RM_OPACITY_CUTOFF);
    const __m256i tmax = _mm256_set1_epi32(RM_TABLE_SIZE - 1);
    struct rm_avx2_vol vol;
    __m256 px = _mm256_loadu_ps(pk->px), py = _mm256_loadu_ps(pk->py), pz = _mm256_loadu_ps(pk->pz);
    const __m256 dx = _mm256_loadu_ps(pk->dx), dy = _mm256_loadu_ps(pk->dy),
                 dz = _mm256_loadu_ps(pk->dz);
    /* Colour and transmittance are kept per ray as in raymarch_pixel (r, g, b, a lanes, the
     * transmittance repeated), rays l and l + 4 sharing a register: acc[l], tr[l]. */
    __m256 acc[4], tr[4], v;
    struct rm_avx2_cell cell;
    unsigned live = 0;
    int l, k = 0, next = 0;

    for (l = 0; l < 3; l++) {
        vol.lim[l] = _mm256_set1_ps(s->lim[l]);
        vol.imax[l] = _mm256_set1_epi32(s->imax[l]);
    }
    vol.sy = _mm256_set1_epi32(s->stride[1]);
    vol.sz = _mm256_set1_epi32(s->stride[2]);
    vol.v00 = s->data;
    vol.v10 = s->data + s->stride[1];
    vol.v01 = s->data + s->stride[2];
    vol.v11 = s->data + s->stride[1] + s->stride[2];
    /* Lanes with nothing to march are finished before the first step. */
    for (l = 0; l < RM_PACKET; l++)
        if (pk->n[l] > 0) {
            live |= 1u << l;
            next = next && next < pk->n[l] ? next : pk->n[l];
        }
    for (l = 0; l < 4; l++) {
        acc[l] = zero;
        tr[l] = _mm256_set_m128(_mm_set1_ps(live & (16u << l) ? 1.0f : 0.0f),
                                _mm_set1_ps(live & (1u << l) ? 1.0f : 0.0f));
    }
    for (l = 0; l < RM_PACKET; l++) {
        out[l].r = out[l].g = out[l].b = 0.0f;
        out[l].a = 0.0f;
        out[l].samples = 0;
    }
    /* The pipeline (see the top): fill it with the sample of step 0 and the cell of step 1. */
    cell = raymarch_avx2_cell(&vol, px, py, pz);
    v = raymarch_avx2_sample(&vol, &cell);
    px = _mm256_add_ps(px, dx);
    py = _mm256_add_ps(py, dy);
    pz = _mm256_add_ps(pz, dz);
    cell = raymarch_avx2_cell(&vol, px, py, pz);
    while (live) {
        unsigned ti[RM_PACKET] __attribute__((aligned(32)));
        __m256 u, fu, trv, vn;
        __m256i t;
        unsigned done;

        px = _mm256_add_ps(px, dx);
        py = _mm256_add_ps(py, dy);
        pz = _mm256_add_ps(pz, dz);

        /* The table: node i and i + 1, linear between them. */
        u = _mm256_mul_ps(v, tscale);
        t = _mm256_cvttps_epi32(u);
        t = _mm256_min_epi32(_mm256_max_epi32(t, _mm256_setzero_si256()), tmax);
        fu = _mm256_sub_ps(u, _mm256_cvtepi32_ps(t));
        /* Indices through memory, as in raymarch_avx2_sample. */
        _mm256_store_si256((__m256i *)ti, _mm256_slli_epi32(t, 2));
        __asm__("" : "+m"(ti));
        vn = raymarch_avx2_sample(&vol, &cell);
        cell = raymarch_avx2_cell(&vol, px, py, pz);
#pragma GCC unroll 4
        for (l = 0; l < 4; l++) {
            const float *e = table + ti[l], *e4 = table + ti[l + 4];
            __m256 e0 = _mm256_loadu2_m128(e4, e), e1 = _mm256_loadu2_m128(e4 + 4, e + 4);
            __m256 f = _mm256_permutevar8x32_ps(
                fu, _mm256_setr_epi32(l, l, l, l, l + 4, l + 4, l + 4, l + 4));
            __m256 c = _mm256_add_ps(e0, _mm256_mul_ps(f, _mm256_sub_ps(e1, e0)));

            /* Front-to-back compositing. */
            acc[l] = _mm256_add_ps(acc[l], _mm256_mul_ps(tr[l], c));
            tr[l] = _mm256_mul_ps(tr[l], _mm256_permute_ps(c, _MM_SHUFFLE(3, 3, 3, 3)));
        }
        k++;
        v = vn;

        /* A live lane ends when it is nearly opaque or has taken its n samples. */
        trv = _mm256_blend_ps(_mm256_blend_ps(tr[0], tr[1], 0x22),
                              _mm256_blend_ps(tr[2], tr[3], 0x88), 0xcc);
        done = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(trv, cutoff, _CMP_LT_OQ)) & live;
        if (k == next) {
            /* Every lane steps together, so k is each live lane's sample count. */
            next = 0;
            for (l = 0; l < RM_PACKET; l++)
                if (live & (1u << l)) {
                    if (pk->n[l] <= k)
                        done |= 1u << l;
                    else
                        next = next && next < pk->n[l] ? next : pk->n[l];
                }
        }
        if (done) {
            float fa[4][RM_PACKET], ft[4][RM_PACKET];
            for (l = 0; l < 4; l++) {
                _mm256_storeu_ps(fa[l], acc[l]);
                _mm256_storeu_ps(ft[l], tr[l]);
            }
            for (l = 0; l < RM_PACKET; l++)
                if (done & (1u << l)) {
                    const float *a = fa[l & 3] + 4 * (l >> 2);
                    float *tl = ft[l & 3] + 4 * (l >> 2);

                    out[l].r = a[0];
                    out[l].g = a[1];
                    out[l].b = a[2];
                    out[l].a = 1.0f - tl[0];
                    out[l].samples = k;
                    tl[0] = tl[1] = tl[2] = tl[3] = 0.0f;
                }
            for (l = 0; l < 4; l++)
                tr[l] = _mm256_loadu_ps(ft[l]);
            live &= ~done;
        }
    }
}

#endif
