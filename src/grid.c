#include "config.h"

#include "grid.h"

#include <stdlib.h>
#include <string.h>

int grid_resize(struct grid *g, int rows, int cols)
{
    if (rows < 1)
        rows = 1;
    if (cols < 1)
        cols = 1;
    struct grid_cell *c = calloc((size_t)rows * (size_t)cols, sizeof *c);
    if (!c)
        return -1;
    free(g->c);
    g->c = c;
    g->rows = rows;
    g->cols = cols;
    grid_clear(g);
    return 0;
}

void grid_free(struct grid *g)
{
    free(g->c);
    g->c = NULL;
    g->rows = g->cols = 0;
}

void grid_clear(struct grid *g)
{
    for (int i = 0; i < g->rows * g->cols; i++)
        g->c[i] = (struct grid_cell){L' ', COLOUR_DEFAULT, 0, 0, 0};
}

struct grid_cell *grid_at(struct grid *g, int y, int x)
{
    if (y < 0 || x < 0 || y >= g->rows || x >= g->cols)
        return NULL;
    return &g->c[y * g->cols + x];
}

void grid_put(struct grid *g, int y, int x, wchar_t ch, unsigned colour, unsigned attr)
{
    struct grid_cell *c = grid_at(g, y, x);
    if (c)
        *c = (struct grid_cell){ch, (uint8_t)colour, (uint8_t)attr, 0, 0};
}

void grid_put_rgb(struct grid *g, int y, int x, uint32_t top, uint32_t bottom)
{
    struct grid_cell *c = grid_at(g, y, x);
    if (c)
        *c = (struct grid_cell){L'\u2580', COLOUR_DEFAULT, GRID_RGB, top, bottom};
}

void grid_fill(struct grid *g, int y, int x, int w, wchar_t ch, unsigned colour, unsigned attr)
{
    for (int i = 0; i < w; i++)
        grid_put(g, y, x + i, ch, colour, attr);
}

/* Decode one UTF-8 character; returns bytes used (>= 1) and stores it. */
static int utf8_next(const char *s, wchar_t *out)
{
    if ((unsigned char)*s < 0x80) {
        *out = (wchar_t)*s; /* ASCII: the common case, no locale call */
        return 1;
    }
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = mbrtowc(out, s, MB_CUR_MAX, &st);
    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        *out = (unsigned char)*s < 0x80 ? (wchar_t)*s : L'?';
        return 1;
    }
    return (int)n;
}

static int char_width(wchar_t ch)
{
    if (ch >= 0x20 && ch < 0x7f)
        return 1;
    int w = wcwidth(ch);
    return w < 0 ? 1 : w;
}

int grid_text(struct grid *g, int y, int x, int maxw, const char *s, unsigned colour, unsigned attr)
{
    int used = 0;
    while (*s && used < maxw) {
        wchar_t ch;
        s += utf8_next(s, &ch);
        if (ch == L'\n' || ch == L'\t')
            ch = L' ';
        int w = char_width(ch);
        if (w == 0)
            continue; /* combining marks are not drawn on their own */
        if (used + w > maxw)
            break;
        grid_put(g, y, x + used, ch, colour, attr);
        if (w == 2)
            grid_put(g, y, x + used + 1, 0, colour, attr);
        used += w;
    }
    return used;
}

wchar_t grid_ellipsis(void)
{
    return MB_CUR_MAX > 1 ? L'\u2026' : L'~';
}

/* Characters a shortened text does not end on before its ellipsis. */
static int trailing_junk(char c)
{
    return c == ' ' || c == '|' || c == ',' || c == ':' || c == ';' || c == '(' || c == '-' ||
           c == '/';
}

int grid_fit_len(const char *s, int maxw, int *cut)
{
    int used = 0, word_end = -1, char_end = 0;
    const char *p = s;
    *cut = 0;
    if (grid_text_width(s) <= maxw)
        return (int)strlen(s);
    *cut = 1;
    if (maxw < 1)
        return 0;
    while (*p) {
        wchar_t ch;
        int n = utf8_next(p, &ch);
        int w = char_width(ch);
        if (used + w + 1 > maxw) /* room for the ellipsis after it */
            break;
        used += w;
        p += n;
        char_end = (int)(p - s);
        if (*p == ' ' && p > s && p[-1] != ' ')
            word_end = char_end;
    }
    int end = word_end > 0 ? word_end : char_end;
    while (end > 0 && trailing_junk(s[end - 1]))
        end--;
    if (end == 0)
        end = char_end;
    return end;
}

int grid_text_fit(struct grid *g, int y, int x, int maxw, const char *s, unsigned colour,
                  unsigned attr)
{
    int cut, n = grid_fit_len(s, maxw, &cut);
    if (!cut)
        return grid_text(g, y, x, maxw, s, colour, attr);
    char buf[1024];
    if (n >= (int)sizeof buf)
        n = (int)sizeof buf - 1;
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    int used = grid_text(g, y, x, maxw - 1, buf, colour, attr);
    if (maxw >= 1)
        grid_put(g, y, x + used++, grid_ellipsis(), colour, attr);
    return used;
}

int grid_text_width(const char *s)
{
    int w = 0;
    while (*s) {
        wchar_t ch;
        s += utf8_next(s, &ch);
        w += char_width(ch);
    }
    return w;
}

int grid_wrap(const char *s, int w, void (*emit)(void *arg, const char *line, int len), void *arg)
{
    int lines = 0;
    if (w < 1)
        w = 1;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        const char *p = s, *cut = NULL;
        int cols = 0;
        while (*p && *p != '\n') {
            wchar_t ch;
            int n = utf8_next(p, &ch);
            int cw = char_width(ch);
            if (cols + cw > w)
                break;
            cols += cw;
            p += n;
            if (*p == ' ' || *p == '\0' || *p == '\n')
                cut = p;
        }
        if (!*p || *p == '\n')
            cut = p;
        else if (!cut)
            cut = p; /* a word longer than the line: break it */
        if (cut == s)
            cut = s + utf8_next(s, &(wchar_t){0});
        emit(arg, s, (int)(cut - s));
        lines++;
        s = cut;
        if (*s == '\n')
            s++;
    }
    return lines;
}

void grid_row_utf8(const struct grid *g, int y, char *buf, unsigned len)
{
    unsigned off = 0;
    buf[0] = '\0';
    for (int x = 0; x < g->cols; x++) {
        wchar_t ch = g->c[y * g->cols + x].ch;
        if (ch == 0)
            continue;
        char mb[8];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t n = wcrtomb(mb, ch, &st);
        if (n == (size_t)-1) {
            mb[0] = '?';
            n = 1;
        }
        if (off + n + 1 > len)
            break;
        memcpy(buf + off, mb, n);
        off += (unsigned)n;
    }
    buf[off] = '\0';
}
