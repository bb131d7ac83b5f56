/*
 * errmsg: the one way gpu/ reports a failure, as text in a caller's buffer.
 * Valid C and CUDA host code.
 */
#ifndef CONCTUI_GPU_ERRMSG_H
#define CONCTUI_GPU_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Format a message into err, if the caller gave room for one. */
static inline void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
