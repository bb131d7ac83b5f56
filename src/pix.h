/*
 * pix: drawing into a scene's RGB picture (struct scene_canvas): clipped
 * pixels, lines, discs, rings and numbers in a 3x5 font. Pure: no terminal,
 * no state.
 */
#ifndef CONCTUI_PIX_H
#define CONCTUI_PIX_H

#include <stdbool.h>
#include <stdint.h>

struct pix {
    uint8_t *rgb; /* w * h * 3 bytes, row-major */
    int w, h;
};

/* One pixel of colour c (0xRRGGBB), clipped to the picture. */
void pix_put(struct pix *p, int x, int y, uint32_t c);
/* A line (Bresenham) from (x0, y0) to (x1, y1): every pixel or, dashed, two on and two off. */
void pix_line(struct pix *p, int x0, int y0, int x1, int y1, uint32_t c, bool dash);
/* A filled disc and a one-pixel ring of radius r around (cx, cy). */
void pix_disc(struct pix *p, int cx, int cy, int r, uint32_t c);
void pix_ring(struct pix *p, int cx, int cy, int r, uint32_t c);
/* A number in the 3x5 font with its top-left corner at (x, y); returns its width in pixels. */
int pix_number(struct pix *p, int x, int y, int v, uint32_t c);

#endif
