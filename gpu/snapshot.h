/*
 * snapshot.h - saving rendered images to disk.
 */
#ifndef CONCTUI_GPU_SNAPSHOT_H
#define CONCTUI_GPU_SNAPSHOT_H

#include <stddef.h>

#include "raymarch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes img as a binary PPM (P6, 8-bit RGB; alpha dropped, colour already premultiplied over
 * black), from rgba8 if present else from rgba. Returns 0, or -1 with a message naming path. */
int snapshot_write_ppm(const char *path, const struct rm_image *img, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
