/*
 * volume.h - scalar volumes for the ray marcher: procedural test volumes and raw-file loading.
 *
 * A volume is nx*ny*nz floats in [0,1], x varying fastest, then y, then z. Voxel (i,j,k) sits
 * at the cell centre (-1 + (2i+1)/nx, -1 + (2j+1)/ny, -1 + (2k+1)/nz) of the box [-1,1]^3,
 * which is the convention of a CUDA texture with normalised coordinates.
 */
#ifndef CONCTUI_GPU_VOLUME_H
#define CONCTUI_GPU_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Each dimension must be 1..VOLUME_MAX_DIM and the voxel count at most VOLUME_MAX_VOXELS, so
 * voxel offsets fit in an int on both CPU and GPU. */
#define VOLUME_MAX_DIM 4096
#define VOLUME_MAX_VOXELS (1L << 28)

enum volume_type {
    VOLUME_U8,  /* unsigned bytes, divided by 255 */
    VOLUME_U16, /* little-endian unsigned 16 bit, divided by 65535 */
    VOLUME_F32  /* little-endian IEEE float; kept when all in [0,1], else min-max rescaled */
};

/* The procedural volumes, for volume_builtin(). */
enum volume_builtin_kind {
    VOLUME_MARSCHNER_LOBB, /* the Marschner-Lobb test signal, fM = 6, alpha = 0.25 */
    VOLUME_SHEPP_LOGAN,    /* 3D Shepp-Logan head phantom (Kak-Slaney ellipsoids) */
    VOLUME_CLOUD,          /* fBm value-noise cloud, deterministic for a seed */
    VOLUME_KIND_COUNT
};

struct volume {
    int nx, ny, nz;
    float *data;   /* nx*ny*nz values in [0,1], owned; freed by volume_free() */
    char name[64]; /* what it is, for titles: "marschner-lobb 64^3", a file's base name */
};

/* Marschner-Lobb signal at a point of [-1,1]^3, already in [0,1] (exported for tests). */
double volume_marschner_lobb_value(double x, double y, double z);

/* Samples Marschner-Lobb on an n^3 grid. Returns 0, or -1 with a message in err. */
int volume_marschner_lobb(struct volume *out, int n, char *err, size_t errlen);

/* Builds the Shepp-Logan head phantom on an n^3 grid, scaled to [0,1]. */
int volume_shepp_logan(struct volume *out, int n, char *err, size_t errlen);

/* Builds an n^3 noise cloud from seed (same seed, same volume, on every machine). */
int volume_cloud(struct volume *out, int n, uint32_t seed, char *err, size_t errlen);

/* Fills an nx*ny*nz volume with one value (clamped to [0,1]); for tests. */
int volume_constant(struct volume *out, int nx, int ny, int nz, float value, char *err,
                    size_t errlen);

/* Builds the built-in volume of a kind at n^3 (the cloud with seed 1). */
int volume_builtin(struct volume *out, enum volume_builtin_kind kind, int n, char *err,
                   size_t errlen);

/* Short name of a built-in kind ("marschner-lobb", "shepp-logan", "cloud"), NULL if none. */
const char *volume_builtin_name(enum volume_builtin_kind kind);

/* Parses "XxYxZ" (an optional "dims=" prefix is accepted) into three dimensions. */
int volume_parse_dims(const char *s, int *nx, int *ny, int *nz, char *err, size_t errlen);

/* Parses "u8", "u16" or "f32" (an optional "type=" prefix is accepted). */
int volume_parse_type(const char *s, enum volume_type *type, char *err, size_t errlen);

/* Loads a headerless raw file of nx*ny*nz voxels of type ("u8", "u16", "f32"). Errors name
 * the file and say what was wrong: bad dimensions, bad type, unreadable, size mismatch. */
int volume_load_raw(const char *path, int nx, int ny, int nz, const char *type, struct volume *out,
                    char *err, size_t errlen);

/* Checks that a raw file exists and holds exactly nx*ny*nz voxels of type t (no reading). */
int volume_check_raw(const char *path, int nx, int ny, int nz, enum volume_type t, char *err,
                     size_t errlen);

/* Parses "FILE,dims=XxYxZ,type=u8|u16|f32" (settings in any order) into its parts. */
int volume_parse_spec(const char *spec, char *path, size_t pathlen, int *nx, int *ny, int *nz,
                      enum volume_type *t, char *err, size_t errlen);

/* Frees the voxels and zeroes the struct; safe on a zeroed or already freed volume. */
void volume_free(struct volume *v);

#ifdef __cplusplus
}
#endif

#endif
