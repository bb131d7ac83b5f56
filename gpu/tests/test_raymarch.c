/*
 * test_raymarch.c - cmocka tests of the ray marcher, its backends and volume loading.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raymarch.h"
#include "render.h"
#include "snapshot.h"
#include "volume.h"

/* Float rounding of ~256 products and sums of the compositing recurrence. */
#define BEER_EXACT_TOL 1e-4

static struct render *make_render(const struct volume *v, int tf, float density, float step,
                                  float yaw, float pitch)
{
    struct rm_params p;
    struct rm_camera c;
    char err[256];
    struct render *r = render_create(v, err, sizeof err);

    assert_non_null(r);
    raymarch_params_default(&p);
    p.density = density;
    p.step = step;
    p.max_steps = 100000;
    render_set_params(r, &p);
    raymarch_camera_default(&c);
    c.yaw = yaw;
    c.pitch = pitch;
    c.distance = 4.0f;
    render_set_camera(r, &c);
    assert_int_equal(render_set_tf_preset(r, tf), 0);
    return r;
}

static float *render_float(struct render *r, int w, int h, uint64_t *samples)
{
    struct rm_image img;
    struct render_stats st;
    char err[256];

    img.w = w;
    img.h = h;
    img.rgba = malloc((size_t)w * h * 4 * sizeof(float));
    img.rgba8 = NULL;
    assert_non_null(img.rgba);
    assert_int_equal(render_frame(r, &img, err, sizeof err), 0);
    render_get_stats(r, &st);
    if (samples)
        *samples = st.samples;
    return img.rgba;
}

/* Opacity through the middle of a uniform box, looking down -z on a 1x1 image: the one ray
 * runs exactly along the axis, path length L = 2. */
static float beer_opacity(float density, float step, uint64_t *samples)
{
    struct volume v;
    struct render *r;
    float *px, a;
    char err[256];

    assert_int_equal(volume_constant(&v, 8, 8, 8, 0.5f, err, sizeof err), 0);
    r = make_render(&v, RM_TF_CONSTANT, density, step, 0.0f, 0.0f);
    px = render_float(r, 1, 1, samples);
    a = px[3];
    /* White TF: premultiplied colour sums to the opacity, up to float summation order. */
    assert_true(fabsf(px[0] - a) < 1e-5f);
    free(px);
    render_destroy(r);
    volume_free(&v);
    return a;
}

static void test_raymarch_beer_lambert_exact(void **state)
{
    /* step 2/256 divides L = 2 exactly: N = 256 samples, so A = 1 - exp(-density * 2). */
    uint64_t n = 0;
    float a = beer_opacity(1.0f, 2.0f / 256.0f, &n);

    (void)state;
    assert_int_equal(n, 256);
    assert_true(fabs(a - (1.0 - exp(-2.0))) < BEER_EXACT_TOL);
}

static void test_raymarch_beer_lambert_inexact_step(void **state)
{
    /* step 0.03: N = floor(2/0.03 + 1/2) = 67 samples cover 2.01; the header's bound
     * density * dt/2 * exp(-density * (L - dt/2)) applies against the continuous answer,
     * and the discrete answer 1 - exp(-density * N dt) holds to float rounding. */
    const double d = 1.0, dt = 0.03, L = 2.0;
    uint64_t n = 0;
    float a = beer_opacity((float)d, (float)dt, &n);
    double bound = d * dt / 2.0 * exp(-d * (L - dt / 2.0));

    (void)state;
    assert_int_equal(n, 67);
    assert_true(fabs(a - (1.0 - exp(-d * 67 * (double)(float)dt))) < BEER_EXACT_TOL);
    assert_true(fabs(a - (1.0 - exp(-d * L))) <= bound + 1e-5);
}

static void test_raymarch_beer_lambert_early_termination(void **state)
{
    /* Dense enough to pass 0.95 long before the exit: marching stops at the first sample
     * with opacity > 0.95, so the result lies within one step's alpha above 0.95. */
    const float d = 10.0f, dt = 2.0f / 256.0f;
    double step_alpha = 1.0 - exp(-(double)d * dt);
    uint64_t n = 0;
    float a = beer_opacity(d, dt, &n);

    (void)state;
    assert_true(a > 0.95f);
    assert_true(a <= 0.95 + step_alpha + 1e-5);
    assert_true(n < 256);
    /* Exactly the first k with 1 - exp(-d k dt) > 0.95. */
    assert_int_equal(n, (uint64_t)ceil(-log(0.05) / (d * dt) - 1e-9));
}

static void test_raymarch_symmetry(void **state)
{
    /* Marschner-Lobb depends on x only through x^2 + y^2, and its sample grid is symmetric,
     * so a view down -z must give a mirror-symmetric image. Not bit-exact: mirrored texel
     * coordinates c + d and c - d round differently. */
    const int w = 48, h = 32;
    struct volume v;
    struct render *r;
    float *img, worst = 0.0f;
    char err[256];
    int x, y, c;

    (void)state;
    assert_int_equal(volume_marschner_lobb(&v, 32, err, sizeof err), 0);
    r = make_render(&v, RM_TF_SPECTRUM, 5.0f, 0.01f, 0.0f, 0.0f);
    img = render_float(r, w, h, NULL);
    for (y = 0; y < h; y++)
        for (x = 0; x < w / 2; x++)
            for (c = 0; c < 4; c++) {
                float d = fabsf(img[4 * (y * w + x) + c] - img[4 * (y * w + (w - 1 - x)) + c]);
                worst = d > worst ? d : worst;
            }
    assert_true(worst <= 1e-5f);
    /* And the picture is not trivially empty. */
    assert_true(img[4 * ((h / 2) * w + w / 2) + 3] > 0.1f);
    free(img);
    render_destroy(r);
    volume_free(&v);
}

static void check_omp_identical(enum render_schedule sched)
{
    const int w = 61, h = 47;
    struct volume v;
    struct render *r;
    struct render_tiling t;
    struct rm_image a, b;
    char err[256];

    assert_int_equal(volume_cloud(&v, 24, 7u, err, sizeof err), 0);
    r = make_render(&v, RM_TF_FIRE, 8.0f, 0.013f, 0.4f, -0.3f);
    a.w = b.w = w;
    a.h = b.h = h;
    a.rgba = malloc((size_t)w * h * 16);
    b.rgba = malloc((size_t)w * h * 16);
    a.rgba8 = malloc((size_t)w * h * 4);
    b.rgba8 = malloc((size_t)w * h * 4);
    assert_true(a.rgba && b.rgba && a.rgba8 && b.rgba8);
    assert_int_equal(render_set_backend(r, RENDER_SERIAL, err, sizeof err), 0);
    assert_int_equal(render_frame(r, &a, err, sizeof err), 0);
    /* Odd tile sizes and more threads than cores, so tiles are split unevenly. */
    render_get_tiling(r, &t);
    t.tile_w = 7;
    t.tile_h = 5;
    t.threads = 3;
    t.schedule = sched;
    render_set_tiling(r, &t);
    assert_int_equal(render_set_backend(r, RENDER_OPENMP, err, sizeof err), 0);
    assert_int_equal(render_frame(r, &b, err, sizeof err), 0);
    assert_memory_equal(a.rgba, b.rgba, (size_t)w * h * 16);
    assert_memory_equal(a.rgba8, b.rgba8, (size_t)w * h * 4);
    free(a.rgba);
    free(b.rgba);
    free(a.rgba8);
    free(b.rgba8);
    render_destroy(r);
    volume_free(&v);
}

static void test_raymarch_omp_static_identical(void **state)
{
    (void)state;
    check_omp_identical(RENDER_SCHED_STATIC);
}

static void test_raymarch_omp_dynamic_identical(void **state)
{
    (void)state;
    check_omp_identical(RENDER_SCHED_DYNAMIC);
}

/* The CPU's fast path (when this machine has one) against the shared per-pixel routine, on
 * odd tiles so packets are partly empty: every volume, once from inside the box, and once
 * straight down -z so that direction components of exactly zero reach the slab test. The
 * images must be bit-identical and the sample counts equal. */
static void test_raymarch_fast_path_matches_reference(void **state)
{
    const int w = 53, h = 29, cases = VOLUME_KIND_COUNT + 1;
    enum rm_cpu_path path = raymarch_cpu_path();
    struct rm_params p;
    struct rm_camera c;
    struct rm_tf tf;
    struct rm_table table;
    struct rm_frame f;
    struct rm_sampler s;
    struct rm_image a, b;
    char err[256];
    int k;

    (void)state;
    print_message("cpu path: %s\n", raymarch_cpu_path_name(path));
    if (path == RM_CPU_SCALAR)
        skip();
    a.w = b.w = w;
    a.h = b.h = h;
    a.rgba = malloc((size_t)w * h * 16);
    b.rgba = malloc((size_t)w * h * 16);
    a.rgba8 = malloc((size_t)w * h * 4);
    b.rgba8 = malloc((size_t)w * h * 4);
    assert_true(a.rgba && b.rgba && a.rgba8 && b.rgba8);
    for (k = 0; k < cases; k++) {
        struct volume v;
        uint64_t na = 0, nb = 0;
        int x, y;

        assert_int_equal(volume_builtin(&v, (enum volume_builtin_kind)(k % VOLUME_KIND_COUNT),
                                        19 + k, err, sizeof err),
                         0);
        assert_int_equal(raymarch_sampler_init(&s, &v, err, sizeof err), 0);
        raymarch_params_default(&p);
        p.step = 0.007f + 0.003f * (float)k;
        p.density = 3.0f + 4.0f * (float)k;
        p.brightness = 1.3f;
        raymarch_camera_default(&c);
        c.yaw = k < VOLUME_KIND_COUNT ? 0.3f + 0.9f * (float)k : 0.0f;
        c.pitch = k < VOLUME_KIND_COUNT ? -0.2f + 0.3f * (float)k : 0.0f;
        c.distance = k == 1 ? 1.2f : 3.5f; /* once from inside the box */
        raymarch_tf_preset(&tf, k % RM_TF_COUNT);
        raymarch_table_setup(&table, &tf, &p);
        raymarch_frame_setup(&f, &c, &p, w, h, v.nx, v.ny, v.nz);
        for (y = 0; y < h; y += 6)
            for (x = 0; x < w; x += 11) {
                int x1 = x + 11 < w ? x + 11 : w, y1 = y + 6 < h ? y + 6 : h;

                na += raymarch_tile_path(RM_CPU_SCALAR, &f, &s, &table, &a, x, y, x1, y1);
                nb += raymarch_tile_path(path, &f, &s, &table, &b, x, y, x1, y1);
            }
        assert_memory_equal(a.rgba, b.rgba, (size_t)w * h * 16);
        assert_memory_equal(a.rgba8, b.rgba8, (size_t)w * h * 4);
        assert_int_equal(na, nb);
        assert_true(na > 0);
        raymarch_sampler_free(&s);
        volume_free(&v);
    }
    free(a.rgba);
    free(b.rgba);
    free(a.rgba8);
    free(b.rgba8);
}

static void test_raymarch_spans(void **state)
{
    const int w = 50, h = 30;
    struct volume v;
    struct render *r;
    struct render_tiling t;
    struct render_stats st;
    struct render_span spans[64];
    unsigned char covered[50 * 30];
    uint64_t sum = 0;
    char err[256];
    float *img;
    int i, n, x, y;

    (void)state;
    assert_int_equal(volume_marschner_lobb(&v, 16, err, sizeof err), 0);
    r = make_render(&v, RM_TF_SPECTRUM, 5.0f, 0.02f, 0.6f, 0.35f);
    render_get_tiling(r, &t);
    t.tile_w = 8;
    t.tile_h = 8;
    t.threads = 2;
    render_set_tiling(r, &t);
    assert_int_equal(render_set_backend(r, RENDER_OPENMP, err, sizeof err), 0);
    n = render_spans_needed(r, w, h);
    assert_int_equal(n, 7 * 4);
    memset(spans, 0xff, sizeof spans);
    render_set_spans(r, spans, 64);
    img = render_float(r, w, h, NULL);
    render_get_stats(r, &st);
    assert_int_equal(st.spans_total, n);
    assert_int_equal(st.nspans, n);
    memset(covered, 0, sizeof covered);
    for (i = 0; i < n; i++) {
        assert_int_equal(spans[i].index, i);
        assert_true(spans[i].worker >= 0 && spans[i].worker < st.workers);
        assert_true(spans[i].start_ns >= st.start_ns && spans[i].end_ns <= st.end_ns);
        assert_true(spans[i].start_ns <= spans[i].end_ns);
        sum += spans[i].samples;
        for (y = spans[i].y; y < spans[i].y + spans[i].h; y++)
            for (x = spans[i].x; x < spans[i].x + spans[i].w; x++)
                covered[y * w + x]++;
    }
    for (i = 0; i < w * h; i++)
        assert_int_equal(covered[i], 1);
    assert_int_equal(sum, st.samples);
    /* A short buffer records only the first tiles. */
    render_set_spans(r, spans, 5);
    free(render_float(r, w, h, NULL));
    render_get_stats(r, &st);
    assert_int_equal(st.nspans, 5);
    free(img);
    render_destroy(r);
    volume_free(&v);
}

static void test_raymarch_cuda_matches_cpu(void **state)
{
    /* Hardware filtering uses 8-bit interpolation weights, so GPU samples differ from the
     * CPU's by up to ~|voxel difference| / 256; through the TF and compositing that stays
     * below 0.02 per channel, and below 0.002 on average. */
    const int w = 96, h = 64;
    struct volume v;
    struct render *r;
    float *cpu, *gpu;
    double worst = 0.0, mean = 0.0;
    uint64_t ns_cpu = 0, ns_gpu = 0;
    char reason[256], err[256];
    int i;

    (void)state;
    if (!render_cuda_available(reason, sizeof reason)) {
        print_message("cuda: %s\n", reason);
        skip();
    }
    assert_int_equal(volume_marschner_lobb(&v, 32, err, sizeof err), 0);
    r = make_render(&v, RM_TF_GREY, 5.0f, 0.01f, 0.6f, 0.35f);
    cpu = render_float(r, w, h, &ns_cpu);
    assert_int_equal(render_set_backend(r, RENDER_CUDA, err, sizeof err), 0);
    gpu = render_float(r, w, h, &ns_gpu);
    for (i = 0; i < w * h * 4; i++) {
        double d = fabs((double)cpu[i] - gpu[i]);
        worst = d > worst ? d : worst;
        mean += d / (w * h * 4);
    }
    print_message("cuda vs cpu: max %.3g mean %.3g, samples %llu vs %llu\n", worst, mean,
                  (unsigned long long)ns_gpu, (unsigned long long)ns_cpu);
    assert_true(worst < 0.02);
    assert_true(mean < 0.002);
    assert_true(fabs((double)ns_gpu - (double)ns_cpu) < 0.01 * (double)ns_cpu);
    free(cpu);
    free(gpu);
    render_destroy(r);
    volume_free(&v);
}

static void test_raymarch_cuda_reason(void **state)
{
    char reason[256] = "";

    (void)state;
    if (render_cuda_available(reason, sizeof reason))
        skip();
    assert_true(strncmp(reason, "built without CUDA", 18) == 0 ||
                strncmp(reason, "no CUDA device: ", 16) == 0);
}

static void test_raymarch_trilinear(void **state)
{
    /* Exact at voxel centres, the mean at a cell centre, the edge value beyond the edges. */
    float data[27];
    struct volume v = {3, 3, 3, data, "t"};
    struct rm_sampler s;
    char err[256];
    int i;

    (void)state;
    for (i = 0; i < 27; i++)
        data[i] = (float)((i * 7) % 11) / 10.0f;
    assert_int_equal(raymarch_sampler_init(&s, &v, err, sizeof err), 0);
    assert_true(fabsf(raymarch_sample_trilinear(&s, rmath_v4(1, 2, 0, 0)) - data[1 + 6]) < 1e-6f);
    assert_true(fabsf(raymarch_sample_trilinear(&s, rmath_v4(2, 2, 2, 0)) - data[26]) < 1e-6f);
    {
        float mean = 0.0f;
        int c;
        for (c = 0; c < 8; c++)
            mean += data[(c & 1) + 3 * ((c >> 1) & 1) + 9 * (c >> 2)] / 8.0f;
        assert_true(fabsf(raymarch_sample_trilinear(&s, rmath_v4(0.5f, 0.5f, 0.5f, 0)) - mean) <
                    1e-6f);
    }
    assert_true(fabsf(raymarch_sample_trilinear(&s, rmath_v4(-0.4f, -3, 2.4f, 0)) - data[18]) <
                1e-6f);
    raymarch_sampler_free(&s);
}

static void test_raymarch_degenerate_axis(void **state)
{
    /* A 1x1x1 volume must render like a 2x2x2 one of the same value (not bit-exactly: the
     * 2x2x2 sampler's eight weights sum to 1 only up to rounding). */
    struct volume a, b;
    struct render *ra, *rb;
    float *ia, *ib;
    char err[256];
    int i;

    (void)state;
    assert_int_equal(volume_constant(&a, 1, 1, 1, 0.7f, err, sizeof err), 0);
    assert_int_equal(volume_constant(&b, 2, 2, 2, 0.7f, err, sizeof err), 0);
    ra = make_render(&a, RM_TF_GREY, 2.0f, 0.02f, 0.3f, 0.2f);
    rb = make_render(&b, RM_TF_GREY, 2.0f, 0.02f, 0.3f, 0.2f);
    ia = render_float(ra, 20, 10, NULL);
    ib = render_float(rb, 20, 10, NULL);
    for (i = 0; i < 20 * 10 * 4; i++)
        assert_true(fabsf(ia[i] - ib[i]) < 1e-5f);
    assert_true(ia[4 * (5 * 20 + 10) + 3] > 0.5f);
    free(ia);
    free(ib);
    render_destroy(ra);
    render_destroy(rb);
    volume_free(&a);
    volume_free(&b);
}

static void test_raymarch_marschner_lobb_range(void **state)
{
    struct volume v;
    char err[256];
    float lo = 2.0f, hi = -1.0f;
    size_t i, n;

    (void)state;
    assert_int_equal(volume_marschner_lobb(&v, 41, err, sizeof err), 0);
    n = (size_t)41 * 41 * 41;
    for (i = 0; i < n; i++) {
        lo = v.data[i] < lo ? v.data[i] : lo;
        hi = v.data[i] > hi ? v.data[i] : hi;
    }
    assert_true(lo >= 0.0f && hi <= 1.0f);
    assert_true(lo < 0.05f && hi > 0.95f);
    /* Odd n puts a voxel at the centre: (1 - 0 + 0.25 * 2) / 2.5 = 0.6. */
    assert_true(fabsf(v.data[(20 * 41 + 20) * 41 + 20] - 0.6f) < 1e-6f);
    assert_true(fabs(volume_marschner_lobb_value(0, 0, 0) - 0.6) < 1e-12);
    assert_true(fabs(volume_marschner_lobb_value(0, 0, 1) - 0.2) < 1e-12);
    assert_true(fabs(volume_marschner_lobb_value(0, 0, -1) - 1.0) < 1e-12);
    volume_free(&v);
}

static void test_raymarch_builtin_volumes(void **state)
{
    struct volume a, b, c;
    char err[256];
    size_t i, n = 20 * 20 * 20;
    int k;

    (void)state;
    for (k = 0; k < VOLUME_KIND_COUNT; k++) {
        float hi = 0.0f;
        assert_int_equal(volume_builtin(&a, (enum volume_builtin_kind)k, 20, err, sizeof err), 0);
        assert_non_null(volume_builtin_name((enum volume_builtin_kind)k));
        for (i = 0; i < n; i++) {
            assert_true(a.data[i] >= 0.0f && a.data[i] <= 1.0f);
            hi = a.data[i] > hi ? a.data[i] : hi;
        }
        assert_true(hi > 0.5f);
        volume_free(&a);
    }
    assert_int_equal(volume_cloud(&a, 20, 3u, err, sizeof err), 0);
    assert_int_equal(volume_cloud(&b, 20, 3u, err, sizeof err), 0);
    assert_int_equal(volume_cloud(&c, 20, 4u, err, sizeof err), 0);
    assert_memory_equal(a.data, b.data, n * sizeof(float));
    assert_true(memcmp(a.data, c.data, n * sizeof(float)) != 0);
    volume_free(&a);
    volume_free(&b);
    volume_free(&c);
    assert_int_equal(volume_builtin(&a, VOLUME_KIND_COUNT, 20, err, sizeof err), -1);
    volume_free(&a); /* a zeroed volume must be safe to free */
}

static void test_raymarch_parse_dims(void **state)
{
    int x = 0, y = 0, z = 0;
    char err[256];

    (void)state;
    assert_int_equal(volume_parse_dims("32x33x34", &x, &y, &z, err, sizeof err), 0);
    assert_true(x == 32 && y == 33 && z == 34);
    assert_int_equal(volume_parse_dims("dims=4x5x6", &x, &y, &z, err, sizeof err), 0);
    assert_true(x == 4 && y == 5 && z == 6);
    assert_int_equal(volume_parse_dims("32x32", &x, &y, &z, err, sizeof err), -1);
    assert_non_null(strstr(err, "XxYxZ"));
    assert_int_equal(volume_parse_dims("0x1x1", &x, &y, &z, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad dimensions"));
    assert_int_equal(volume_parse_dims("99999999999x1x1", &x, &y, &z, err, sizeof err), -1);
    assert_non_null(strstr(err, "overflow"));
    assert_int_equal(volume_parse_dims("5000x1x1", &x, &y, &z, err, sizeof err), -1);
    assert_non_null(strstr(err, "too large"));
    assert_int_equal(volume_parse_dims("4096x4096x4096", &x, &y, &z, err, sizeof err), -1);
    assert_non_null(strstr(err, "voxels"));
    assert_int_equal(volume_parse_dims("2x2x2junk", &x, &y, &z, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing"));
    assert_int_equal(volume_parse_dims("-2x2x2", &x, &y, &z, err, sizeof err), -1);
    assert_int_equal(volume_parse_dims(NULL, &x, &y, &z, err, sizeof err), -1);
}

static void test_raymarch_parse_type(void **state)
{
    enum volume_type t;
    char err[256];

    (void)state;
    assert_int_equal(volume_parse_type("u8", &t, err, sizeof err), 0);
    assert_int_equal(t, VOLUME_U8);
    assert_int_equal(volume_parse_type("type=u16", &t, err, sizeof err), 0);
    assert_int_equal(t, VOLUME_U16);
    assert_int_equal(volume_parse_type("f32", &t, err, sizeof err), 0);
    assert_int_equal(t, VOLUME_F32);
    assert_int_equal(volume_parse_type("u32", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "u32"));
}

/* Writes bytes to a fresh temp file and returns its path (caller unlinks). */
/* n floats as the little-endian bytes a raw f32 file holds. */
static void floats_le(unsigned char *le, const float *f, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        for (int b = 0; b < 4; b++)
            le[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
}

static void write_temp(char *path, const void *data, size_t len)
{
    int fd;

    strcpy(path, "/tmp/test_raymarch_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void test_raymarch_raw_ok(void **state)
{
    unsigned char u8[2 * 3 * 4];
    unsigned char u16[2 * 2 * 2 * 2];
    float f32[8] = {0.0f, 0.5f, 1.0f, 0.25f, 0.0f, 0.0f, 0.0f, 0.75f};
    float big[8] = {-100.0f, 0.0f, 100.0f, 300.0f, -100.0f, -100.0f, -100.0f, 300.0f};
    unsigned char le[32];
    char path[64], err[256];
    struct volume v;
    int i;

    (void)state;
    for (i = 0; i < 24; i++)
        u8[i] = (unsigned char)(i * 10);
    write_temp(path, u8, sizeof u8);
    assert_int_equal(volume_load_raw(path, 2, 3, 4, "u8", &v, err, sizeof err), 0);
    assert_true(v.nx == 2 && v.ny == 3 && v.nz == 4);
    assert_true(fabsf(v.data[23] - 230.0f / 255.0f) < 1e-6f);
    assert_non_null(strstr(path, v.name));
    volume_free(&v);
    unlink(path);

    /* Little-endian 16-bit: 0x0000, 0xffff, 0x8000, ... */
    for (i = 0; i < 8; i++) {
        unsigned int val = i == 1 ? 65535u : (unsigned int)i * 4096u;
        u16[2 * i] = (unsigned char)(val & 0xff);
        u16[2 * i + 1] = (unsigned char)(val >> 8);
    }
    write_temp(path, u16, sizeof u16);
    assert_int_equal(volume_load_raw(path, 2, 2, 2, "type=u16", &v, err, sizeof err), 0);
    assert_true(fabsf(v.data[1] - 1.0f) < 1e-7f);
    assert_true(fabsf(v.data[2] - 8192.0f / 65535.0f) < 1e-7f);
    volume_free(&v);
    unlink(path);

    /* f32 already in [0,1]: kept as is. */
    floats_le(le, f32, 8);
    write_temp(path, le, sizeof le);
    assert_int_equal(volume_load_raw(path, 2, 2, 2, "f32", &v, err, sizeof err), 0);
    assert_memory_equal(v.data, f32, sizeof f32);
    volume_free(&v);
    unlink(path);

    /* f32 outside [0,1]: min..max stretched to 0..1. */
    floats_le(le, big, 8);
    write_temp(path, le, sizeof le);
    assert_int_equal(volume_load_raw(path, 2, 2, 2, "f32", &v, err, sizeof err), 0);
    assert_true(fabsf(v.data[0] - 0.0f) < 1e-6f);
    assert_true(fabsf(v.data[1] - 0.25f) < 1e-6f);
    assert_true(fabsf(v.data[3] - 1.0f) < 1e-6f);
    volume_free(&v);
    unlink(path);
}

static void expect_raw_error(const char *path, int nx, int ny, int nz, const char *type,
                             const char *needle1, const char *needle2)
{
    struct volume v;
    char err[256] = "";

    memset(&v, 0, sizeof v);
    assert_int_equal(volume_load_raw(path, nx, ny, nz, type, &v, err, sizeof err), -1);
    assert_null(v.data);
    print_message("  error: %s\n", err);
    assert_non_null(strstr(err, needle1));
    if (needle2)
        assert_non_null(strstr(err, needle2));
}

static void test_raymarch_raw_errors(void **state)
{
    unsigned char bytes[100];
    char path[64], dir[64];
    float nan_val = NAN;
    unsigned char le[8];
    uint32_t u;

    (void)state;
    memset(bytes, 7, sizeof bytes);
    write_temp(path, bytes, sizeof bytes);
    /* Bad dimensions: zero, negative, too large per axis, too many voxels. */
    expect_raw_error(path, 0, 10, 10, "u8", path, "bad dimensions");
    expect_raw_error(path, 10, -1, 10, "u8", path, "bad dimensions");
    expect_raw_error(path, 5000, 1, 1, "u8", path, "too large");
    expect_raw_error(path, 4096, 4096, 4096, "u8", path, "voxels");
    /* Wrong type string. */
    expect_raw_error(path, 10, 10, 1, "u32", path, "unknown type 'u32'");
    expect_raw_error(path, 10, 10, 1, NULL, path, "unknown type");
    /* Size mismatches state both sizes. */
    expect_raw_error(path, 10, 10, 2, "u8", "too short", "100 bytes, expected 200");
    expect_raw_error(path, 5, 5, 3, "u16", "too short", "expected 150 (5x5x3 u16)");
    expect_raw_error(path, 5, 5, 2, "f32", "too short", "expected 200");
    expect_raw_error(path, 3, 3, 3, "u8", "too long", "100 bytes, expected 27");
    unlink(path);
    /* Unreadable: missing file, and a directory. */
    expect_raw_error("/tmp/test_raymarch_no_such_file.raw", 2, 2, 2, "u8",
                     "/tmp/test_raymarch_no_such_file.raw", "cannot open");
    strcpy(dir, "/tmp/test_raymarch_dir_XXXXXX");
    assert_non_null(mkdtemp(dir));
    expect_raw_error(dir, 2, 2, 2, "u8", dir, "is a directory");
    rmdir(dir);
    /* Non-finite float data. */
    memcpy(&u, &nan_val, 4);
    memset(le, 0, sizeof le);
    le[4] = (unsigned char)u;
    le[5] = (unsigned char)(u >> 8);
    le[6] = (unsigned char)(u >> 16);
    le[7] = (unsigned char)(u >> 24);
    write_temp(path, le, sizeof le);
    expect_raw_error(path, 2, 1, 1, "f32", path, "non-finite value at voxel 1");
    unlink(path);
}

static void test_raymarch_snapshot_ppm(void **state)
{
    unsigned char px[2 * 3 * 4], buf[64];
    struct rm_image img = {2, 3, NULL, px};
    char path[64], err[256];
    FILE *f;
    size_t n;
    int i;

    (void)state;
    for (i = 0; i < 24; i++)
        px[i] = (unsigned char)(i * 10);
    write_temp(path, "", 0);
    /* The name is taken: a snapshot never replaces a file. */
    assert_int_equal(snapshot_write_ppm(path, &img, err, sizeof err), -1);
    unlink(path);
    /* A dangling link planted under the name is not followed. */
    {
        char target[80];
        snprintf(target, sizeof target, "%s.target", path);
        unlink(target);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(snapshot_write_ppm(path, &img, err, sizeof err), -1);
        assert_int_equal(access(target, F_OK), -1);
        unlink(path);
    }
    assert_int_equal(snapshot_write_ppm(path, &img, err, sizeof err), 0);
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unlink(path);
    assert_int_equal(n, 11 + 18);
    assert_memory_equal(buf, "P6\n2 3\n255\n", 11);
    assert_int_equal(buf[11 + 3], 40); /* pixel 1's red, alpha dropped */
    assert_int_equal(snapshot_write_ppm("/nonexistent-dir/x.ppm", &img, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.ppm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raymarch_beer_lambert_exact),
        cmocka_unit_test(test_raymarch_beer_lambert_inexact_step),
        cmocka_unit_test(test_raymarch_beer_lambert_early_termination),
        cmocka_unit_test(test_raymarch_symmetry),
        cmocka_unit_test(test_raymarch_omp_static_identical),
        cmocka_unit_test(test_raymarch_omp_dynamic_identical),
        cmocka_unit_test(test_raymarch_fast_path_matches_reference),
        cmocka_unit_test(test_raymarch_spans),
        cmocka_unit_test(test_raymarch_cuda_matches_cpu),
        cmocka_unit_test(test_raymarch_cuda_reason),
        cmocka_unit_test(test_raymarch_trilinear),
        cmocka_unit_test(test_raymarch_degenerate_axis),
        cmocka_unit_test(test_raymarch_marschner_lobb_range),
        cmocka_unit_test(test_raymarch_builtin_volumes),
        cmocka_unit_test(test_raymarch_parse_dims),
        cmocka_unit_test(test_raymarch_parse_type),
        cmocka_unit_test(test_raymarch_raw_ok),
        cmocka_unit_test(test_raymarch_raw_errors),
        cmocka_unit_test(test_raymarch_snapshot_ppm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
