/* json: writing JSON strings (headless --json output, Chrome traces). */
#ifndef CONCTUI_JSON_H
#define CONCTUI_JSON_H

#include <stdio.h>

/* Write s as a quoted JSON string, escaping quotes, backslashes and controls. */
void json_str(FILE *f, const char *s);

#endif
