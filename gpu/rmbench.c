/*
 * rmbench.c - benchmark of the ray marcher's backends, printing "BENCH <name> <value> <unit>"
 * lines (and "#" comment lines) for scripts to collect.
 *
 * Default volume: Marschner-Lobb at 64^3. The signal's fM = 6 ripples are resolved at 64^3
 * (the classic 40^3 grid sits right at their limit), and 64^3 floats (1 MiB) keep the CPU
 * measuring the marcher rather than the memory system; 16^3..128^3 measured the same per
 * sample on the development machine.
 *
 * Rates and fps use the median frame time (and CUDA times the median cudaEvent times), which
 * resists the noise of shared machines better than the mean; a comment line gives the mean.
 *
 * usage: rmbench [-w W] [-h H] [-n FRAMES] [-b serial|omp|cuda|all] [-s SIZE]
 *                [-v ml|head|cloud] [-t THREADS] [-o snapshot.ppm]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "raymarch.h"
#include "render.h"
#include "snapshot.h"
#include "volume.h"

struct rmbench_opts {
    int w, h, frames, size, threads;
    int serial, omp, cuda;
    enum volume_builtin_kind kind;
    const char *snapshot;
};

struct rmbench_result {
    double seconds;            /* wall time of all timed frames */
    double median_s;           /* the median frame's wall time */
    double samples;            /* per frame, mean */
    double kernel_ms, copy_ms; /* CUDA, per frame, median */
    int workers;
};

static void rmbench_usage(void)
{
    fprintf(stderr, "usage: rmbench [-w W] [-h H] [-n FRAMES] [-b serial|omp|cuda|all] "
                    "[-s SIZE] [-v ml|head|cloud] [-t THREADS] [-o snapshot.ppm]\n");
}

static int rmbench_parse(int argc, char **argv, struct rmbench_opts *o)
{
    int c;

    o->w = 512;
    o->h = 512;
    o->frames = 20;
    o->size = 64;
    o->threads = 0;
    o->serial = o->omp = o->cuda = 1;
    o->kind = VOLUME_MARSCHNER_LOBB;
    o->snapshot = NULL;
    while ((c = getopt(argc, argv, "w:h:n:b:s:v:t:o:")) != -1) {
        switch (c) {
        case 'w':
            o->w = atoi(optarg);
            break;
        case 'h':
            o->h = atoi(optarg);
            break;
        case 'n':
            o->frames = atoi(optarg);
            break;
        case 's':
            o->size = atoi(optarg);
            break;
        case 't':
            o->threads = atoi(optarg);
            break;
        case 'o':
            o->snapshot = optarg;
            break;
        case 'b':
            o->serial = strcmp(optarg, "serial") == 0 || strcmp(optarg, "all") == 0;
            o->omp = strcmp(optarg, "omp") == 0 || strcmp(optarg, "all") == 0;
            o->cuda = strcmp(optarg, "cuda") == 0 || strcmp(optarg, "all") == 0;
            if (!o->serial && !o->omp && !o->cuda) {
                fprintf(stderr, "rmbench: unknown backend '%s'\n", optarg);
                return -1;
            }
            break;
        case 'v':
            if (strcmp(optarg, "ml") == 0)
                o->kind = VOLUME_MARSCHNER_LOBB;
            else if (strcmp(optarg, "head") == 0)
                o->kind = VOLUME_SHEPP_LOGAN;
            else if (strcmp(optarg, "cloud") == 0)
                o->kind = VOLUME_CLOUD;
            else {
                fprintf(stderr, "rmbench: unknown volume '%s'\n", optarg);
                return -1;
            }
            break;
        default:
            rmbench_usage();
            return -1;
        }
    }
    if (o->w < 1 || o->h < 1 || o->frames < 1 || o->size < 2 || o->threads < 0) {
        rmbench_usage();
        return -1;
    }
    return 0;
}

static int rmbench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double rmbench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, rmbench_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Renders one warm-up frame, then `frames` timed ones. */
static int rmbench_run(struct render *r, struct rm_image *img, int frames,
                       struct rmbench_result *res)
{
    struct render_stats st;
    double *wall = malloc(sizeof(double) * 3 * (size_t)frames);
    double *kern = wall + frames, *copy = kern + frames;
    char err[256];
    uint64_t t0, total = 0;
    int i;

    memset(res, 0, sizeof *res);
    if (!wall || render_frame(r, img, err, sizeof err) != 0) {
        fprintf(stderr, "rmbench: %s\n", wall ? err : "out of memory");
        free(wall);
        return -1;
    }
    t0 = render_now_ns();
    for (i = 0; i < frames; i++) {
        if (render_frame(r, img, err, sizeof err) != 0) {
            fprintf(stderr, "rmbench: %s\n", err);
            free(wall);
            return -1;
        }
        render_get_stats(r, &st);
        total += st.samples;
        wall[i] = st.ms / 1e3;
        kern[i] = st.kernel_ms;
        copy[i] = st.copy_ms;
        res->workers = st.workers;
    }
    res->seconds = (double)(render_now_ns() - t0) / 1e9;
    res->samples = (double)total / frames;
    res->median_s = rmbench_median(wall, frames);
    res->kernel_ms = rmbench_median(kern, frames);
    res->copy_ms = rmbench_median(copy, frames);
    free(wall);
    return 0;
}

static int rmbench_image(struct rm_image *img, int w, int h, int want_float)
{
    img->w = w;
    img->h = h;
    img->rgba8 = malloc((size_t)w * h * 4);
    img->rgba = want_float ? malloc((size_t)w * h * 4 * sizeof(float)) : NULL;
    return img->rgba8 && (!want_float || img->rgba) ? 0 : -1;
}

static void rmbench_image_free(struct rm_image *img)
{
    free(img->rgba8);
    free(img->rgba);
    img->rgba8 = NULL;
    img->rgba = NULL;
}

static int rmbench_set(struct render *r, enum render_backend b, enum render_schedule sched,
                       int threads)
{
    struct render_tiling t;
    char err[256];

    render_get_tiling(r, &t);
    t.schedule = sched;
    t.threads = threads;
    render_set_tiling(r, &t);
    if (render_set_backend(r, b, err, sizeof err) != 0) {
        fprintf(stderr, "rmbench: %s\n", err);
        return -1;
    }
    return 0;
}

/* Serial versus OpenMP static and dynamic: the images must match to the bit. */
static void rmbench_check_identical(struct render *r, int w, int h, int threads)
{
    struct rm_image a, b;
    char err[256];
    int same_static = 0, same_dynamic = 0;

    if (rmbench_image(&a, w, h, 1) != 0 || rmbench_image(&b, w, h, 1) != 0) {
        rmbench_image_free(&a);
        rmbench_image_free(&b);
        return;
    }
    if (rmbench_set(r, RENDER_SERIAL, RENDER_SCHED_DYNAMIC, threads) == 0 &&
        render_frame(r, &a, err, sizeof err) == 0 &&
        rmbench_set(r, RENDER_OPENMP, RENDER_SCHED_STATIC, threads) == 0 &&
        render_frame(r, &b, err, sizeof err) == 0) {
        same_static = memcmp(a.rgba, b.rgba, (size_t)w * h * 4 * sizeof(float)) == 0;
        if (rmbench_set(r, RENDER_OPENMP, RENDER_SCHED_DYNAMIC, threads) == 0 &&
            render_frame(r, &b, err, sizeof err) == 0)
            same_dynamic = memcmp(a.rgba, b.rgba, (size_t)w * h * 4 * sizeof(float)) == 0;
    }
    printf("# check: openmp image bit-identical to serial: static %s, dynamic %s\n",
           same_static ? "yes" : "NO", same_dynamic ? "yes" : "NO");
    rmbench_image_free(&a);
    rmbench_image_free(&b);
}

int main(int argc, char **argv)
{
    struct rmbench_opts o;
    struct volume vol;
    struct render *r;
    struct rm_image img;
    struct rmbench_result res;
    char err[256], reason[256];
    double serial_ms = 0.0, omp_ms = 0.0;
    int threads;

    if (rmbench_parse(argc, argv, &o) != 0)
        return 2;
#ifdef _OPENMP
    threads = o.threads > 0 ? o.threads : omp_get_max_threads();
#else
    threads = 1;
#endif
    if (volume_builtin(&vol, o.kind, o.size, err, sizeof err) != 0) {
        fprintf(stderr, "rmbench: %s\n", err);
        return 1;
    }
    r = render_create(&vol, err, sizeof err);
    if (!r || rmbench_image(&img, o.w, o.h, 0) != 0) {
        fprintf(stderr, "rmbench: %s\n", r ? "out of memory" : err);
        return 1;
    }
    /* Each volume with the TF that shows it best; Marschner-Lobb keeps the sample's. */
    render_set_tf_preset(r, o.kind == VOLUME_SHEPP_LOGAN ? RM_TF_BONE
                            : o.kind == VOLUME_CLOUD     ? RM_TF_FIRE
                                                         : RM_TF_SPECTRUM);
    printf("# volume %s, image %dx%d, %d frames, default camera/params, TF %s\n", vol.name, o.w,
           o.h, o.frames,
           raymarch_tf_name(o.kind == VOLUME_SHEPP_LOGAN ? RM_TF_BONE
                            : o.kind == VOLUME_CLOUD     ? RM_TF_FIRE
                                                         : RM_TF_SPECTRUM));
    printf("# cpu path: %s\n", raymarch_cpu_path() == RM_CPU_AVX2
                                   ? "avx2 (packets of eight rays, bit-identical to scalar)"
                                   : "scalar (raymarch_pixel, one ray at a time)");

    if (o.serial) {
        if (rmbench_set(r, RENDER_SERIAL, RENDER_SCHED_DYNAMIC, threads) != 0 ||
            rmbench_run(r, &img, o.frames, &res) != 0)
            return 1;
        serial_ms = res.samples / res.median_s / 1e6;
        printf("BENCH raymarch_serial_msamples %.1f Msamples/s\n", serial_ms);
        printf("BENCH raymarch_serial_fps_%dx%d %.1f fps\n", o.w, o.h, 1.0 / res.median_s);
        printf("# serial: %.1f samples/ray on average; mean over all frames %.1f Msamples/s\n",
               res.samples / ((double)o.w * o.h), res.samples * o.frames / res.seconds / 1e6);
    }
    if (o.omp) {
        struct rm_image small;

        if (rmbench_set(r, RENDER_OPENMP, RENDER_SCHED_STATIC, threads) != 0 ||
            rmbench_run(r, &img, o.frames, &res) != 0)
            return 1;
        printf("BENCH raymarch_omp%d_static_msamples %.1f Msamples/s\n", res.workers,
               res.samples / res.median_s / 1e6);
        if (rmbench_set(r, RENDER_OPENMP, RENDER_SCHED_DYNAMIC, threads) != 0 ||
            rmbench_run(r, &img, o.frames, &res) != 0)
            return 1;
        omp_ms = res.samples / res.median_s / 1e6;
        printf("BENCH raymarch_omp%d_msamples %.1f Msamples/s\n", res.workers, omp_ms);
        printf("BENCH raymarch_omp_msamples_per_core %.1f Msamples/s\n", omp_ms / res.workers);
        if (o.serial)
            printf("BENCH raymarch_omp_speedup %.2f x\n", omp_ms / serial_ms);
        if (rmbench_image(&small, 200, 100, 0) == 0 &&
            rmbench_run(r, &small, o.frames < 60 ? 60 : o.frames, &res) == 0)
            printf("BENCH raymarch_omp_fps_200x100 %.1f fps\n", 1.0 / res.median_s);
        rmbench_image_free(&small);
        if (o.serial)
            rmbench_check_identical(r, o.w < 256 ? o.w : 256, o.h < 256 ? o.h : 256, threads);
    }
    if (o.cuda) {
        if (!render_cuda_available(reason, sizeof reason)) {
            printf("# cuda: not measured (%s)\n", reason);
        } else if (render_set_backend(r, RENDER_CUDA, err, sizeof err) != 0) {
            printf("# cuda: not measured (%s)\n", err);
        } else {
            struct rm_image big;

            if (rmbench_image(&big, 1920, 1080, 0) != 0 ||
                rmbench_run(r, &big, o.frames, &res) != 0)
                return 1;
            printf("BENCH raymarch_cuda_gsamples_1920x1080 %.2f Gsamples/s\n",
                   res.samples / (res.kernel_ms / 1e3) / 1e9);
            printf("BENCH raymarch_cuda_kernel_ms_1920x1080 %.3f ms\n", res.kernel_ms);
            printf("BENCH raymarch_cuda_copy_ms_1920x1080 %.3f ms\n", res.copy_ms);
            printf("BENCH raymarch_cuda_fps_1920x1080 %.1f fps\n", 1.0 / res.median_s);
            printf("# cuda: %d SMs, %.1f samples/ray, wall Gsamples/s incl. copies %.2f\n",
                   res.workers, res.samples / (1920.0 * 1080.0), res.samples / res.median_s / 1e9);
            rmbench_image_free(&big);
        }
    }
    if (o.snapshot) {
        if (render_frame(r, &img, err, sizeof err) != 0 ||
            snapshot_write_ppm(o.snapshot, &img, err, sizeof err) != 0) {
            fprintf(stderr, "rmbench: %s\n", err);
            return 1;
        }
        printf("# snapshot written to %s (%s backend)\n", o.snapshot,
               render_backend_name(render_get_backend(r)));
    }
    rmbench_image_free(&img);
    render_destroy(r);
    volume_free(&vol);
    return 0;
}
