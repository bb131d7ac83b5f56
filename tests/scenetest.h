/*
 * scenetest: what the scene tests share. A scene runs headless through the
 * app API exactly as `conctui --headless` runs it; the helpers read back its
 * figures, notes and lanes, and count what a run must leave behind.
 */
#ifndef CONCTUI_SCENETEST_H
#define CONCTUI_SCENETEST_H

#include "app.h"

/* Entries in a directory (threads in /proc/self/task, descriptors in /proc/self/fd). */
int scenetest_count_dir(const char *path);
/* Fails the test unless every child process has been reaped. */
void scenetest_no_children(void);
/* Run scene `name` in mode (0-based) for secs with "key=value" settings, until stopped. */
void scenetest_run(struct app *a, const char *name, int mode, double secs, const char *const *sets);
/* A figure from the last stats; fails the test if the scene has none by that name. */
double scenetest_stat(const struct app *a, const char *name);
/* A figure with its spread from the last stats; fails the test if there is none by that name. */
const struct scene_stat *scenetest_figure(const struct app *a, const char *name);
/*
 * A comparison of the same work run both ways (one worker against itself):
 * at least five rounds, and 1.0 within its spread or the median within
 * 0.8-1.25. Fails the test, naming what, otherwise.
 */
void scenetest_reads_one(const struct app *a, const char *name, const char *what);
/* The id of the scene's note containing words; fails the test if none does. */
int scenetest_note_id(const struct app *a, const char *words);
/* The history lane called name; fails the test if there is none. */
const struct history_lane *scenetest_lane(const struct app *a, const char *name);

#endif
