/*
 * errmsg: the one way gpu/ reports a failure, as text in a caller's buffer.
 * Valid C and CUDA host code. Every format is a literal at the call site,
 * so xgettext finds it (keyword errmsg_set:3).
 */
#ifndef CONCTUI_GPU_ERRMSG_H
#define CONCTUI_GPU_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* In the program the message is translated; built alone (nvcc, no config.h) it stays English. */
#if defined(HAVE_CONFIG_H) && !defined(__CUDACC__)
#include "config.h"
#endif
#if defined(ENABLE_NLS) && !defined(__CUDACC__)
#include <libintl.h>
#define errmsg__tr(s) gettext(s)
#else
#define errmsg__tr(s) (s)
#endif

/* Format a message into err, if the caller gave room for one. */
static inline void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, errmsg__tr(fmt), ap);
    va_end(ap);
}

#endif
