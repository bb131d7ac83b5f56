/* text: making file and peer text safe for a terminal and valid as UTF-8. */
#ifndef CONCTUI_TEXT_H
#define CONCTUI_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decode one UTF-8 sequence at s (n bytes available, n > 0). Returns its length
 * and stores the code point in *cp; an invalid, overlong, surrogate or cut
 * sequence is one byte long and decodes to U+FFFD. */
size_t text_utf8_next(const char *s, size_t n, uint32_t *cp);

/* True for a code point that a terminal treats as a control: C0 (below 0x20),
 * DEL and C1 (U+0080-U+009F). */
int text_is_control(uint32_t cp);

/* Copy src into dst (size dstlen, always terminated, cut on a character
 * boundary) with every control replaced by '?' (newline and tab kept when
 * keep_nl_tab) and every invalid UTF-8 byte replaced by U+FFFD. Returns dst. */
char *text_clean(char *dst, size_t dstlen, const char *src, int keep_nl_tab);

/* Clean s (a buffer of size bytes) in place, as text_clean does. */
void text_clean_inplace(char *s, size_t size, int keep_nl_tab);

/* Write s to f cleaned as text_clean does, newline and tab kept. */
void text_put(FILE *f, const char *s);

#endif
