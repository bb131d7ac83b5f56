/*
 * rmath.h - the little vector maths the ray marcher needs, shared by the C (CPU) and CUDA
 * (GPU) builds so both evaluate the same expressions.
 */
#ifndef CONCTUI_GPU_RMATH_H
#define CONCTUI_GPU_RMATH_H

#include <math.h>

/* Everything in the shared headers must compile for the device too when nvcc reads them. */
#ifdef __CUDACC__
#define RM_HD __host__ __device__
#else
#define RM_HD
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RM_PI 3.14159265358979323846f

struct rm_vec3 {
    float x, y, z;
};

/* Builds a vector (C++ has no compound literals, so headers use this). */
RM_HD static inline struct rm_vec3 rmath_vec3(float x, float y, float z)
{
    struct rm_vec3 v;
    v.x = x;
    v.y = y;
    v.z = z;
    return v;
}

/* a + b */
RM_HD static inline struct rm_vec3 rmath_add(struct rm_vec3 a, struct rm_vec3 b)
{
    return rmath_vec3(a.x + b.x, a.y + b.y, a.z + b.z);
}

/* a - b */
RM_HD static inline struct rm_vec3 rmath_sub(struct rm_vec3 a, struct rm_vec3 b)
{
    return rmath_vec3(a.x - b.x, a.y - b.y, a.z - b.z);
}

/* a * s */
RM_HD static inline struct rm_vec3 rmath_scale(struct rm_vec3 a, float s)
{
    return rmath_vec3(a.x * s, a.y * s, a.z * s);
}

/* Component-wise a * b. */
RM_HD static inline struct rm_vec3 rmath_mul(struct rm_vec3 a, struct rm_vec3 b)
{
    return rmath_vec3(a.x * b.x, a.y * b.y, a.z * b.z);
}

/* Dot product. */
RM_HD static inline float rmath_dot(struct rm_vec3 a, struct rm_vec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

/* Cross product. */
RM_HD static inline struct rm_vec3 rmath_cross(struct rm_vec3 a, struct rm_vec3 b)
{
    return rmath_vec3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

/* Euclidean length. */
RM_HD static inline float rmath_length(struct rm_vec3 a)
{
    return sqrtf(rmath_dot(a, a));
}

/* Unit vector along a; the zero vector stays zero rather than becoming NaN. */
RM_HD static inline struct rm_vec3 rmath_normalize(struct rm_vec3 a)
{
    float len = rmath_length(a);
    return len > 0.0f ? rmath_scale(a, 1.0f / len) : a;
}

/*
 * A 4-lane float vector for the ray marcher's per-sample work (texel position, premultiplied
 * colour + transmittance). On a GNU C host it is a native SIMD vector, so one instruction does
 * all four lanes; under nvcc (both passes, so host and device agree) and other compilers it is
 * a plain struct, which is what a GPU thread wants anyway. Lane 3 of a position is unused.
 */
#if defined(__GNUC__) && !defined(__CUDACC__)
typedef float rm_v4 __attribute__((vector_size(16)));
/* The same vector type allowed to alias plain floats, for loading from float tables. */
typedef float rm_v4_alias __attribute__((vector_size(16), may_alias));
#define RM_V4_LANE(a, i) ((a)[i])
#else
typedef struct {
    float lane[4];
} rm_v4;
#define RM_V4_LANE(a, i) ((a).lane[i])
#endif

/* Builds a vector from four lanes. */
RM_HD static inline rm_v4 rmath_v4(float x, float y, float z, float w)
{
#if defined(__GNUC__) && !defined(__CUDACC__)
    /* A vector literal, not lane stores: gcc turns the latter into insertps chains. */
    return (rm_v4){x, y, z, w};
#else
    rm_v4 v;
    v.lane[0] = x;
    v.lane[1] = y;
    v.lane[2] = z;
    v.lane[3] = w;
    return v;
#endif
}

/* All four lanes s. */
RM_HD static inline rm_v4 rmath_v4_set1(float s)
{
    return rmath_v4(s, s, s, s);
}

/* Lane i of a (i a constant 0..3). */
RM_HD static inline float rmath_v4_get(rm_v4 a, int i)
{
    return RM_V4_LANE(a, i);
}

/* a + b, lane by lane. */
RM_HD static inline rm_v4 rmath_v4_add(rm_v4 a, rm_v4 b)
{
#if defined(__GNUC__) && !defined(__CUDACC__)
    return a + b;
#else
    return rmath_v4(a.lane[0] + b.lane[0], a.lane[1] + b.lane[1], a.lane[2] + b.lane[2],
                    a.lane[3] + b.lane[3]);
#endif
}

/* a - b, lane by lane. */
RM_HD static inline rm_v4 rmath_v4_sub(rm_v4 a, rm_v4 b)
{
#if defined(__GNUC__) && !defined(__CUDACC__)
    return a - b;
#else
    return rmath_v4(a.lane[0] - b.lane[0], a.lane[1] - b.lane[1], a.lane[2] - b.lane[2],
                    a.lane[3] - b.lane[3]);
#endif
}

/* a * b, lane by lane. */
RM_HD static inline rm_v4 rmath_v4_mul(rm_v4 a, rm_v4 b)
{
#if defined(__GNUC__) && !defined(__CUDACC__)
    return a * b;
#else
    return rmath_v4(a.lane[0] * b.lane[0], a.lane[1] * b.lane[1], a.lane[2] * b.lane[2],
                    a.lane[3] * b.lane[3]);
#endif
}

/* Lane 3 copied to all lanes. */
RM_HD static inline rm_v4 rmath_v4_www(rm_v4 a)
{
    return rmath_v4_set1(RM_V4_LANE(a, 3));
}

/* Four floats from p, which must be 16-byte aligned. */
RM_HD static inline rm_v4 rmath_v4_load(const float *p)
{
#if defined(__GNUC__) && !defined(__CUDACC__)
    return *(const rm_v4_alias *)p;
#elif defined(__CUDA_ARCH__)
    /* One 128-bit load instead of four 32-bit ones. */
    float4 q = *(const float4 *)p;
    return rmath_v4(q.x, q.y, q.z, q.w);
#else
    return rmath_v4(p[0], p[1], p[2], p[3]);
#endif
}

/* A 3-vector as the first three lanes (lane 3 zero). */
RM_HD static inline rm_v4 rmath_v4_from3(struct rm_vec3 a)
{
    return rmath_v4(a.x, a.y, a.z, 0.0f);
}

/*
 * One slab of the slab test. A direction component of exactly zero is handled apart because
 * (lo - o) * (1/0) gives NaN when the origin lies on the slab plane.
 */
RM_HD static inline int rmath_slab(float o, float d, float lo, float hi, float *t0, float *t1)
{
    float inv, a, b;

    if (d == 0.0f)
        return o >= lo && o <= hi;
    inv = 1.0f / d;
    a = (lo - o) * inv;
    b = (hi - o) * inv;
    if (a > b) {
        float t = a;
        a = b;
        b = t;
    }
    if (a > *t0)
        *t0 = a;
    if (b < *t1)
        *t1 = b;
    return *t0 <= *t1;
}

/*
 * Ray/axis-aligned-box intersection with the box [lo,hi]^3. Returns 1 and the entry and exit
 * distances along d (entry may be negative when the origin is inside) when the ray's forward
 * half meets the box, else 0.
 */
RM_HD static inline int rmath_ray_box(struct rm_vec3 o, struct rm_vec3 d, float lo, float hi,
                                      float *tnear, float *tfar)
{
    float t0 = -1e30f, t1 = 1e30f;

    if (!rmath_slab(o.x, d.x, lo, hi, &t0, &t1) || !rmath_slab(o.y, d.y, lo, hi, &t0, &t1) ||
        !rmath_slab(o.z, d.z, lo, hi, &t0, &t1) || t1 < 0.0f)
        return 0;
    *tnear = t0;
    *tfar = t1;
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif
