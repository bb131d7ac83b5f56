/*
 * snapshot.c - binary PPM output.
 */
#include "snapshot.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int snapshot_write_ppm(const char *path, const struct rm_image *img, char *err, size_t errlen)
{
    unsigned char *row;
    FILE *f;
    int fd, x, y, ok;

    if (!img || img->w <= 0 || img->h <= 0 || (!img->rgba8 && !img->rgba)) {
        errmsg_set(err, errlen, "snapshot: '%s': empty image", path ? path : "(null)");
        return -1;
    }
    /* A new file, never through a link: an existing name is refused (EEXIST). */
    fd = path ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666) : -1;
    f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        errmsg_set(err, errlen, "snapshot: cannot create '%s': %s", path ? path : "(null)",
                   path ? strerror(errno) : "no path");
        return -1;
    }
    /* One row at a time: the image may be large and RGBA, the file wants packed RGB. */
    row = malloc((size_t)img->w * 3);
    ok = row && fprintf(f, "P6\n%d %d\n255\n", img->w, img->h) > 0;
    for (y = 0; ok && y < img->h; y++) {
        for (x = 0; x < img->w; x++) {
            size_t o = 4 * ((size_t)y * img->w + x);
            int c;

            for (c = 0; c < 3; c++)
                row[3 * x + c] = img->rgba8 ? img->rgba8[o + c] : raymarch_to_u8(img->rgba[o + c]);
        }
        ok = fwrite(row, 3, (size_t)img->w, f) == (size_t)img->w;
    }
    free(row);
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        errmsg_set(err, errlen, "snapshot: writing '%s' failed: %s", path,
                   errno ? strerror(errno) : "out of memory");
        return -1;
    }
    return 0;
}
