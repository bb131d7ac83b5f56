#include "config.h"

#include "text.h"

#include <stdlib.h>
#include <string.h>

size_t text_utf8_next(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    if (n < len) {
        *cp = 0xfffd;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = 0xfffd;
        return 1;
    }
    *cp = v;
    return len;
}

int text_is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

char *text_clean(char *dst, size_t dstlen, const char *src, int keep_nl_tab)
{
    if (!dstlen)
        return dst;
    size_t n = strlen(src), o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = text_utf8_next(src + i, n - i, &cp);
        const char *put = src + i;
        size_t plen = len;
        if (cp == 0xfffd && len == 1)
            put = "\xef\xbf\xbd", plen = 3;
        else if (text_is_control(cp) && !(keep_nl_tab && (cp == '\n' || cp == '\t')))
            put = "?", plen = 1;
        if (o + plen >= dstlen)
            break;
        memcpy(dst + o, put, plen);
        o += plen;
        i += len;
    }
    dst[o] = '\0';
    return dst;
}

void text_clean_inplace(char *s, size_t size, int keep_nl_tab)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (!copy) {
        for (char *p = s; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        return;
    }
    memcpy(copy, s, n);
    text_clean(s, size, copy, keep_nl_tab);
    free(copy);
}

void text_put(FILE *f, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = text_utf8_next(s + i, n - i, &cp);
        if (cp == 0xfffd && len == 1)
            fputs("\xef\xbf\xbd", f);
        else if (text_is_control(cp) && cp != '\n' && cp != '\t')
            fputc('?', f);
        else
            fwrite(s + i, 1, len, f);
        i += len;
    }
}
