/* json: writing JSON strings (headless --json output, Chrome traces). */
#ifndef CONCTUI_JSON_H
#define CONCTUI_JSON_H

#include <stdio.h>

/* Write s as a quoted JSON string, escaping quotes, backslashes and controls
 * (C0, DEL, C1); an invalid UTF-8 byte becomes U+FFFD, so the output is valid
 * JSON whatever s holds. */
void json_str(FILE *f, const char *s);

#endif
