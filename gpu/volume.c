/*
 * volume.c - procedural test volumes and raw-file loading (see volume.h for the conventions).
 */
#define _POSIX_C_SOURCE 200809L

#include "volume.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define VOLUME_PI 3.14159265358979323846

static int volume_check_dims(int nx, int ny, int nz, const char *what, char *err, size_t errlen)
{
    if (nx <= 0 || ny <= 0 || nz <= 0) {
        errmsg_set(err, errlen, "volume: %s: bad dimensions %dx%dx%d (each must be >= 1)", what, nx,
                   ny, nz);
        return -1;
    }
    if (nx > VOLUME_MAX_DIM || ny > VOLUME_MAX_DIM || nz > VOLUME_MAX_DIM) {
        errmsg_set(err, errlen, "volume: %s: dimensions %dx%dx%d too large (max %d per axis)", what,
                   nx, ny, nz, VOLUME_MAX_DIM);
        return -1;
    }
    /* Each factor is <= 4096, so the product fits comfortably in 64 bits. */
    if ((long long)nx * ny * nz > VOLUME_MAX_VOXELS) {
        errmsg_set(err, errlen, "volume: %s: %dx%dx%d is %lld voxels, more than the %ld allowed",
                   what, nx, ny, nz, (long long)nx * ny * nz, (long)VOLUME_MAX_VOXELS);
        return -1;
    }
    return 0;
}

static int volume_alloc(struct volume *v, int nx, int ny, int nz, const char *what, char *err,
                        size_t errlen)
{
    size_t n;

    if (volume_check_dims(nx, ny, nz, what, err, errlen) != 0)
        return -1;
    n = (size_t)nx * (size_t)ny * (size_t)nz;
    v->data = malloc(n * sizeof(float));
    if (!v->data) {
        errmsg_set(err, errlen, "volume: %s: out of memory for %zu voxels", what, n);
        return -1;
    }
    v->nx = nx;
    v->ny = ny;
    v->nz = nz;
    v->name[0] = '\0';
    return 0;
}

/* Voxel centre coordinate along an axis of n voxels, in [-1,1]. */
static double volume_centre(int i, int n)
{
    return -1.0 + (2.0 * i + 1.0) / n;
}

double volume_marschner_lobb_value(double x, double y, double z)
{
    const double fm = 6.0, alpha = 0.25;
    double r = sqrt(x * x + y * y);
    double rho_r = cos(2.0 * VOLUME_PI * fm * cos(VOLUME_PI * r / 2.0));

    return (1.0 - sin(VOLUME_PI * z / 2.0) + alpha * (1.0 + rho_r)) / (2.0 * (1.0 + alpha));
}

int volume_marschner_lobb(struct volume *out, int n, char *err, size_t errlen)
{
    struct volume v;
    int i, j, k;
    float *p;

    if (volume_alloc(&v, n, n, n, "marschner-lobb", err, errlen) != 0)
        return -1;
    p = v.data;
    for (k = 0; k < n; k++) {
        for (j = 0; j < n; j++) {
            for (i = 0; i < n; i++) {
                double val = volume_marschner_lobb_value(volume_centre(i, n), volume_centre(j, n),
                                                         volume_centre(k, n));
                /* Analytically in [0,1]; the clamp only guards against rounding. */
                *p++ = (float)(val < 0.0 ? 0.0 : val > 1.0 ? 1.0 : val);
            }
        }
    }
    snprintf(v.name, sizeof v.name, "marschner-lobb %d^3", n);
    *out = v;
    return 0;
}

struct volume_ellipsoid {
    double x0, y0, z0; /* centre */
    double a, b, c;    /* semi-axes */
    double phi;        /* rotation about z, degrees */
    double rho;        /* added density */
};

/*
 * Kak & Slaney's 3D Shepp-Logan ellipsoids with the higher-contrast densities of the
 * "modified" (Toft) phantom, since the original 0.01-0.02 contrasts vanish in a rendering.
 */
static const struct volume_ellipsoid volume_head[] = {
    {0.0, 0.0, 0.0, 0.69, 0.92, 0.9, 0.0, 1.0},
    {0.0, -0.0184, 0.0, 0.6624, 0.874, 0.88, 0.0, -0.8},
    {-0.22, 0.0, -0.25, 0.41, 0.16, 0.21, 108.0, -0.2},
    {0.22, 0.0, -0.25, 0.31, 0.11, 0.22, 72.0, -0.2},
    {0.0, 0.35, -0.25, 0.21, 0.25, 0.5, 0.0, 0.1},
    {0.0, 0.1, -0.25, 0.046, 0.046, 0.046, 0.0, 0.1},
    {-0.08, -0.65, -0.25, 0.046, 0.023, 0.02, 0.0, 0.1},
    {0.06, -0.65, -0.25, 0.046, 0.023, 0.02, 90.0, 0.1},
    {0.06, -0.105, 0.625, 0.056, 0.04, 0.1, 90.0, 0.1},
    {0.0, 0.1, 0.625, 0.056, 0.056, 0.1, 0.0, 0.1},
};

static double volume_head_value(double x, double y, double z)
{
    size_t e;
    double sum = 0.0;

    for (e = 0; e < sizeof volume_head / sizeof volume_head[0]; e++) {
        const struct volume_ellipsoid *el = &volume_head[e];
        double ph = el->phi * VOLUME_PI / 180.0;
        double px = x - el->x0, py = y - el->y0, pz = z - el->z0;
        double u = (cos(ph) * px + sin(ph) * py) / el->a;
        double w = (-sin(ph) * px + cos(ph) * py) / el->b;
        double t = pz / el->c;

        if (u * u + w * w + t * t <= 1.0)
            sum += el->rho;
    }
    return sum;
}

int volume_shepp_logan(struct volume *out, int n, char *err, size_t errlen)
{
    struct volume v;
    int i, j, k, s;
    float *p;

    if (volume_alloc(&v, n, n, n, "shepp-logan", err, errlen) != 0)
        return -1;
    p = v.data;
    for (k = 0; k < n; k++) {
        for (j = 0; j < n; j++) {
            for (i = 0; i < n; i++) {
                double sum = 0.0;
                /* 2x2x2 supersampling: hard ellipsoid edges would alias into stair steps. */
                for (s = 0; s < 8; s++) {
                    double x = -1.0 + (2.0 * i + 0.5 + (s & 1)) / n;
                    double y = -1.0 + (2.0 * j + 0.5 + ((s >> 1) & 1)) / n;
                    double z = -1.0 + (2.0 * k + 0.5 + ((s >> 2) & 1)) / n;
                    sum += volume_head_value(x, y, z);
                }
                sum /= 8.0;
                *p++ = (float)(sum < 0.0 ? 0.0 : sum > 1.0 ? 1.0 : sum);
            }
        }
    }
    snprintf(v.name, sizeof v.name, "shepp-logan %d^3", n);
    *out = v;
    return 0;
}

/* Integer hash (lowbias32): lattice values must not depend on the platform's rand(). */
static uint32_t volume_hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static double volume_lattice(int x, int y, int z, uint32_t seed)
{
    uint32_t h = volume_hash(
        seed ^ volume_hash((uint32_t)x + volume_hash((uint32_t)y + volume_hash((uint32_t)z))));
    return (double)(h >> 8) / (double)(1U << 24);
}

static double volume_value_noise(double x, double y, double z, uint32_t seed)
{
    double fx = floor(x), fy = floor(y), fz = floor(z);
    int ix = (int)fx, iy = (int)fy, iz = (int)fz;
    double tx = x - fx, ty = y - fy, tz = z - fz;
    double v[8];
    int c;

    /* Smoothstep weights hide the lattice's grid lines. */
    tx = tx * tx * (3.0 - 2.0 * tx);
    ty = ty * ty * (3.0 - 2.0 * ty);
    tz = tz * tz * (3.0 - 2.0 * tz);
    for (c = 0; c < 8; c++)
        v[c] = volume_lattice(ix + (c & 1), iy + ((c >> 1) & 1), iz + ((c >> 2) & 1), seed);
    for (c = 0; c < 4; c++)
        v[c] = v[2 * c] + tx * (v[2 * c + 1] - v[2 * c]);
    for (c = 0; c < 2; c++)
        v[c] = v[2 * c] + ty * (v[2 * c + 1] - v[2 * c]);
    return v[0] + tz * (v[1] - v[0]);
}

int volume_cloud(struct volume *out, int n, uint32_t seed, char *err, size_t errlen)
{
    struct volume v;
    int i, j, k, o;
    size_t idx, count;
    float *p, vmax = 0.0f;

    if (volume_alloc(&v, n, n, n, "cloud", err, errlen) != 0)
        return -1;
    p = v.data;
    for (k = 0; k < n; k++) {
        for (j = 0; j < n; j++) {
            for (i = 0; i < n; i++) {
                double x = volume_centre(i, n), y = volume_centre(j, n);
                double z = volume_centre(k, n);
                double amp = 0.5, freq = 3.0, sum = 0.0, r, d;

                for (o = 0; o < 5; o++) {
                    sum +=
                        amp * volume_value_noise(x * freq, y * freq, z * freq, seed + (uint32_t)o);
                    amp *= 0.5;
                    freq *= 2.0;
                }
                /* Fade towards a sphere's rim so the cloud does not end at the box walls,
                 * then cut low densities so there is empty space between puffs. */
                r = sqrt(x * x + y * y + z * z);
                d = (sum / 0.96875) * (1.0 - (r / 0.95) * (r / 0.95));
                d = (d - 0.15) * 2.0;
                d = d < 0.0 ? 0.0 : d > 1.0 ? 1.0 : d;
                *p++ = (float)d;
            }
        }
    }
    count = (size_t)n * n * n;
    for (idx = 0; idx < count; idx++)
        vmax = v.data[idx] > vmax ? v.data[idx] : vmax;
    if (vmax > 0.0f)
        for (idx = 0; idx < count; idx++)
            v.data[idx] /= vmax;
    snprintf(v.name, sizeof v.name, "cloud %d^3 seed %u", n, (unsigned)seed);
    *out = v;
    return 0;
}

int volume_constant(struct volume *out, int nx, int ny, int nz, float value, char *err,
                    size_t errlen)
{
    struct volume v;
    size_t i, count;

    if (volume_alloc(&v, nx, ny, nz, "constant", err, errlen) != 0)
        return -1;
    value = value < 0.0f ? 0.0f : value > 1.0f ? 1.0f : value;
    count = (size_t)nx * ny * nz;
    for (i = 0; i < count; i++)
        v.data[i] = value;
    snprintf(v.name, sizeof v.name, "constant %g %dx%dx%d", value, nx, ny, nz);
    *out = v;
    return 0;
}

static const char *const volume_kind_names[VOLUME_KIND_COUNT] = {"marschner-lobb", "shepp-logan",
                                                                 "cloud"};

const char *volume_builtin_name(enum volume_builtin_kind kind)
{
    if ((int)kind < 0 || kind >= VOLUME_KIND_COUNT)
        return NULL;
    return volume_kind_names[kind];
}

int volume_builtin(struct volume *out, enum volume_builtin_kind kind, int n, char *err,
                   size_t errlen)
{
    switch (kind) {
    case VOLUME_MARSCHNER_LOBB:
        return volume_marschner_lobb(out, n, err, errlen);
    case VOLUME_SHEPP_LOGAN:
        return volume_shepp_logan(out, n, err, errlen);
    case VOLUME_CLOUD:
        return volume_cloud(out, n, 1u, err, errlen);
    default:
        errmsg_set(err, errlen, "volume: unknown built-in volume %d", (int)kind);
        return -1;
    }
}

/* Parses one decimal dimension at *s, leaving *s after it; distinguishes the failure kinds so
 * the message can say which. */
static int volume_parse_one(const char **s, int *out, const char *whole, char *err, size_t errlen)
{
    const char *p = *s;
    long long v = 0;

    if (*p < '0' || *p > '9') {
        errmsg_set(err, errlen, "volume: dims '%s': expected a number at '%s'", whole, p);
        return -1;
    }
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) {
            errmsg_set(err, errlen, "volume: dims '%s': number overflows", whole);
            return -1;
        }
        p++;
    }
    *out = (int)v;
    *s = p;
    return 0;
}

int volume_parse_dims(const char *s, int *nx, int *ny, int *nz, char *err, size_t errlen)
{
    const char *p;
    int d[3], i;

    if (!s) {
        errmsg_set(err, errlen, "volume: dims missing");
        return -1;
    }
    p = strncmp(s, "dims=", 5) == 0 ? s + 5 : s;
    for (i = 0; i < 3; i++) {
        if (volume_parse_one(&p, &d[i], s, err, errlen) != 0)
            return -1;
        if (i < 2) {
            if (*p != 'x' && *p != 'X') {
                errmsg_set(err, errlen, "volume: dims '%s': want XxYxZ, e.g. 64x64x64", s);
                return -1;
            }
            p++;
        }
    }
    if (*p != '\0') {
        errmsg_set(err, errlen, "volume: dims '%s': trailing characters '%s'", s, p);
        return -1;
    }
    if (volume_check_dims(d[0], d[1], d[2], "dims", err, errlen) != 0)
        return -1;
    *nx = d[0];
    *ny = d[1];
    *nz = d[2];
    return 0;
}

int volume_parse_type(const char *s, enum volume_type *type, char *err, size_t errlen)
{
    const char *p;

    if (!s) {
        errmsg_set(err, errlen, "volume: type missing (want u8, u16 or f32)");
        return -1;
    }
    p = strncmp(s, "type=", 5) == 0 ? s + 5 : s;
    if (strcmp(p, "u8") == 0)
        *type = VOLUME_U8;
    else if (strcmp(p, "u16") == 0)
        *type = VOLUME_U16;
    else if (strcmp(p, "f32") == 0)
        *type = VOLUME_F32;
    else {
        errmsg_set(err, errlen, "volume: unknown type '%s' (want u8, u16 or f32)", s);
        return -1;
    }
    return 0;
}

/* Converts the file's bytes; decoding byte by byte keeps the on-disk format little-endian
 * whatever the host is. */
static int volume_convert(const unsigned char *raw, size_t count, enum volume_type type, float *dst,
                          const char *path, char *err, size_t errlen)
{
    size_t i;
    float lo = 0.0f, hi = 0.0f;

    switch (type) {
    case VOLUME_U8:
        for (i = 0; i < count; i++)
            dst[i] = (float)raw[i] / 255.0f;
        return 0;
    case VOLUME_U16:
        for (i = 0; i < count; i++)
            dst[i] = (float)(raw[2 * i] | (raw[2 * i + 1] << 8)) / 65535.0f;
        return 0;
    case VOLUME_F32:
        for (i = 0; i < count; i++) {
            uint32_t u = (uint32_t)raw[4 * i] | ((uint32_t)raw[4 * i + 1] << 8) |
                         ((uint32_t)raw[4 * i + 2] << 16) | ((uint32_t)raw[4 * i + 3] << 24);
            float f;

            memcpy(&f, &u, sizeof f);
            if (!isfinite(f)) {
                errmsg_set(err, errlen, "volume: '%s': non-finite value at voxel %zu", path, i);
                return -1;
            }
            dst[i] = f;
            if (i == 0 || f < lo)
                lo = f;
            if (i == 0 || f > hi)
                hi = f;
        }
        /* Data already in [0,1] is taken as is; anything else (CT units, say) is stretched
         * so its own min..max becomes 0..1. */
        if (lo < 0.0f || hi > 1.0f) {
            float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
            for (i = 0; i < count; i++)
                dst[i] = (dst[i] - lo) * scale;
        }
        return 0;
    }
    return -1;
}

/* Opens a raw file after checking it holds exactly nx*ny*nz voxels of type t; NULL with err. */
static FILE *volume_open_raw(const char *path, int nx, int ny, int nz, enum volume_type t,
                             char *err, size_t errlen)
{
    static const int type_size[] = {1, 2, 4};
    static const char *const type_name[] = {"u8", "u16", "f32"};
    char quoted[320];
    struct stat st;
    size_t expected;
    FILE *f;
    int fd;

    snprintf(quoted, sizeof quoted, "'%s'", path);
    if (volume_check_dims(nx, ny, nz, quoted, err, errlen) != 0)
        return NULL;
    expected = (size_t)nx * ny * nz * (size_t)type_size[t];
    /* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        errmsg_set(err, errlen, "volume: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        errmsg_set(err, errlen, "volume: '%s' is a directory", path);
        fclose(f);
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        errmsg_set(err, errlen, "volume: '%s' is not a regular file", path);
        fclose(f);
        return NULL;
    }
    if ((unsigned long long)st.st_size != (unsigned long long)expected) {
        if ((unsigned long long)st.st_size < expected)
            errmsg_set(err, errlen,
                       "volume: '%s' is too short: %lld bytes, expected %zu (%dx%dx%d %s)", path,
                       (long long)st.st_size, expected, nx, ny, nz, type_name[t]);
        else
            errmsg_set(err, errlen,
                       "volume: '%s' is too long: %lld bytes, expected %zu (%dx%dx%d %s)", path,
                       (long long)st.st_size, expected, nx, ny, nz, type_name[t]);
        fclose(f);
        return NULL;
    }
    return f;
}

int volume_check_raw(const char *path, int nx, int ny, int nz, enum volume_type t, char *err,
                     size_t errlen)
{
    FILE *f = volume_open_raw(path, nx, ny, nz, t, err, errlen);
    if (!f)
        return -1;
    fclose(f);
    return 0;
}

int volume_parse_spec(const char *spec, char *path, size_t pathlen, int *nx, int *ny, int *nz,
                      enum volume_type *t, char *err, size_t errlen)
{
    const char *comma = spec ? strchr(spec, ',') : NULL;
    const char *dims = NULL, *type = NULL, *p;
    size_t n = comma ? (size_t)(comma - spec) : (spec ? strlen(spec) : 0);
    char part[128];

    if (n == 0) {
        errmsg_set(err, errlen, "volume: want FILE,dims=XxYxZ,type=u8|u16|f32");
        return -1;
    }
    if (n >= pathlen) {
        errmsg_set(err, errlen, "volume: the file name is too long");
        return -1;
    }
    memcpy(path, spec, n);
    path[n] = '\0';
    for (p = comma; p && *p == ','; p = strchr(p + 1, ',')) {
        const char *end = strchr(p + 1, ',');
        size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
        if (!strncmp(p + 1, "dims=", 5))
            dims = p + 1;
        else if (!strncmp(p + 1, "type=", 5))
            type = p + 1;
        else {
            errmsg_set(err, errlen, "volume: unknown setting '%.*s' (want dims= and type=)",
                       (int)len, p + 1);
            return -1;
        }
    }
    if (!dims || !type) {
        errmsg_set(err, errlen, "volume: '%s' needs %s (FILE,dims=XxYxZ,type=u8|u16|f32)", path,
                   !dims ? "dims=XxYxZ" : "type=u8|u16|f32");
        return -1;
    }
    dims += 5;
    n = strcspn(dims, ",");
    snprintf(part, sizeof part, "%.*s", (int)(n < sizeof part ? n : sizeof part - 1), dims);
    if (volume_parse_dims(part, nx, ny, nz, err, errlen) != 0)
        return -1;
    type += 5;
    n = strcspn(type, ",");
    snprintf(part, sizeof part, "%.*s", (int)(n < sizeof part ? n : sizeof part - 1), type);
    return volume_parse_type(part, t, err, errlen);
}

int volume_load_raw(const char *path, int nx, int ny, int nz, const char *type, struct volume *out,
                    char *err, size_t errlen)
{
    static const int type_size[] = {1, 2, 4};
    enum volume_type t;
    struct volume v;
    FILE *f;
    unsigned char *raw;
    size_t count, expected, got;
    const char *base;
    char what[64], quoted[320];

    if (!path) {
        errmsg_set(err, errlen, "volume: no file name given");
        return -1;
    }
    if (volume_parse_type(type, &t, what, sizeof what) != 0) {
        errmsg_set(err, errlen, "volume: '%s': unknown type '%s' (want u8, u16 or f32)", path,
                   type ? type : "(null)");
        return -1;
    }
    snprintf(quoted, sizeof quoted, "'%s'", path);
    count = (size_t)nx * ny * nz;
    expected = count * (size_t)type_size[t];
    f = volume_open_raw(path, nx, ny, nz, t, err, errlen);
    if (!f)
        return -1;
    raw = malloc(expected);
    if (!raw || volume_alloc(&v, nx, ny, nz, quoted, err, errlen) != 0) {
        if (!raw)
            errmsg_set(err, errlen, "volume: '%s': out of memory for %zu bytes", path, expected);
        free(raw);
        fclose(f);
        return -1;
    }
    got = fread(raw, 1, expected, f);
    if (got != expected) {
        errmsg_set(err, errlen, "volume: '%s': read %zu of %zu bytes: %s", path, got, expected,
                   ferror(f) ? strerror(errno) : "unexpected end of file");
        free(raw);
        volume_free(&v);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (volume_convert(raw, count, t, v.data, path, err, errlen) != 0) {
        free(raw);
        volume_free(&v);
        return -1;
    }
    free(raw);
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(v.name, sizeof v.name, "%s", base);
    *out = v;
    return 0;
}

void volume_free(struct volume *v)
{
    if (!v)
        return;
    free(v->data);
    memset(v, 0, sizeof *v);
}
