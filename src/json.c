#include "config.h"

#include "json.h"

#include <string.h>

#include "text.h"

void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = text_utf8_next(s + i, n - i, &cp);
        if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (char)cp);
        else if (cp == 0xfffd && len == 1)
            fputs("\\ufffd", f);
        else if (text_is_control(cp))
            fprintf(f, "\\u%04x", (unsigned)cp);
        else
            fwrite(s + i, 1, len, f);
        i += len;
    }
    fputc('"', f);
}
