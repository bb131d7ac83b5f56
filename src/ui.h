/*
 * ui: the only module that talks to curses. Owns the terminal, colours,
 * glyph output and input; composes frames with draw.c and writes only the
 * cells that changed since the last frame.
 */
#ifndef CONCTUI_UI_H
#define CONCTUI_UI_H

#include <signal.h>

#include <stdio.h>

#include "app.h"
#include "cli.h"

/*
 * Run the interactive program until the user quits, the duration ends or a
 * signal arrives (its number is written to sigfd by the handler). Returns
 * the exit status.
 */
int ui_main(const struct cli *o, int sigfd, volatile sig_atomic_t *sig);

/*
 * Benchmark hook: open a terminal of rows x cols on `out`, compose and write
 * `frames` frames of the app (full: rewrite every cell each frame) and
 * return the mean thread CPU time per frame in ns.
 */
double ui_bench_frames(struct app *a, FILE *out, int rows, int cols, int frames, int full);

#endif
