/*
 * The program scene: `conctui run -- CMD` and `conctui run --attach PID`.
 * Not in the scene table (it needs a program to follow); main configures it
 * and starts it like any scene.
 */
#ifndef CONCTUI_PROGRAM_H
#define CONCTUI_PROGRAM_H

#include <stdbool.h>
#include <sys/types.h>

#include "scene.h"

extern const struct scene_entry scene_program;

struct program_opts {
    char *const *argv; /* the command (NULL with attach) */
    pid_t attach;      /* follow this running process instead */
    bool pass_stdin;   /* the program reads conctui's standard input (else /dev/null) */
    int out_fd;        /* -1: output into the panel through a pipe; else the program writes here */
};

/* What the next start of the program scene runs or follows. */
void program_configure(const struct program_opts *o);

/*
 * Whether the process may be followed as the kernel's ptrace_may_access
 * would decide it for /proc/PID/syscall: 0, or -1 with the reason and what
 * would allow it in err.
 */
int program_attach_check(pid_t pid, char *err, unsigned errlen);

/*
 * The program ended: every followed thread is gone and the started program
 * has been reaped. *status: its exit status (128 + signal when a signal
 * ended it), -1 when attached. 0 while it runs.
 */
int program_finished(struct scene_ctx *ctx, int *status);

/* Whether conctui itself ended the program (quit, or the duration ran out). */
bool program_ended_by_us(struct scene_ctx *ctx);

#endif
