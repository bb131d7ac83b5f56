/*
 * headless: the same pipeline as the TUI with a text backend. Runs a scene
 * for a fixed time, then prints the timeline and the stats (or JSON).
 */
#ifndef CONCTUI_HEADLESS_H
#define CONCTUI_HEADLESS_H

#include <stdio.h>

#include "app.h"
#include "cli.h"

/* Run the scene the options name until the duration ends or *quit is set. */
int headless_run(struct app *a, const struct cli *o, volatile int *quit);
/* Print the finished run as text (timeline and stats) or JSON. */
void headless_print(struct app *a, const struct cli *o, FILE *f);
/* Write --export-chrome's file after a run (or a replay). 0 or -1. */
int headless_export(struct app *a, const struct cli *o);
/*
 * conctui run, after the run: print how the program ended (f NULL: print
 * nothing) and give the exit status conctui takes from it: the program's
 * own, 0 when conctui ended it or only attached.
 */
int headless_run_status(struct app *a, const struct cli *o, FILE *f);
/* conctui run could not start its program (rc -errno): say why; the exit status. */
int headless_run_failed(const struct cli *o, int rc, struct app *a);
/* The whole headless program: run, print, release. Exit status. */
int headless_main(const struct cli *o, volatile int *quit);

#endif
