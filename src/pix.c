#include "config.h"

#include "pix.h"

#include <stdio.h>
#include <stdlib.h>

/* 3x5 digits, three bits a row, top row first. */
static const uint16_t digit_font[10] = {
    075557, 026227, 071747, 071717, 055711, 074717, 074757, 071111, 075757, 075717,
};

void pix_put(struct pix *p, int x, int y, uint32_t c)
{
    if (x < 0 || y < 0 || x >= p->w || y >= p->h)
        return;
    uint8_t *d = p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3;
    d[0] = (uint8_t)(c >> 16);
    d[1] = (uint8_t)(c >> 8);
    d[2] = (uint8_t)c;
}

void pix_line(struct pix *p, int x0, int y0, int x1, int y1, uint32_t c, bool dash)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int k = 0;; k++) {
        if (!dash || (k & 3) < 2)
            pix_put(p, x0, y0, c);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void pix_disc(struct pix *p, int cx, int cy, int r, uint32_t c)
{
    for (int y = -r; y <= r; y++)
        for (int x = -r; x <= r; x++)
            if (x * x + y * y <= r * r + r)
                pix_put(p, cx + x, cy + y, c);
}

void pix_ring(struct pix *p, int cx, int cy, int r, uint32_t c)
{
    for (int y = -r; y <= r; y++)
        for (int x = -r; x <= r; x++) {
            int d = x * x + y * y;
            if (d <= r * r + r && d >= (r - 1) * (r - 1) - (r - 1))
                pix_put(p, cx + x, cy + y, c);
        }
}

int pix_number(struct pix *p, int x, int y, int v, uint32_t c)
{
    char s[12];
    int n = snprintf(s, sizeof s, "%d", v);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < 5; r++)
            for (int k = 0; k < 3; k++)
                if (s[i] >= '0' && s[i] <= '9' &&
                    (digit_font[s[i] - '0'] >> ((4 - r) * 3 + (2 - k)) & 1))
                    pix_put(p, x + i * 4 + k, y + r, c);
    return n * 4 - 1;
}
