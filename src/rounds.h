/*
 * rounds: the recent values of a measurement repeated in rounds (a speedup
 * measured baseline, parallel, baseline, parallel ...), summarised as their
 * median and min..max so the screen shows a figure with its spread.
 *
 * Not locked: one writer; a reader at the same time may see a ring in the
 * middle of an update, so a scene that reads from another thread takes its
 * own lock (or copies the struct under it).
 */
#ifndef CONCTUI_ROUNDS_H
#define CONCTUI_ROUNDS_H

#include "scene.h"

#define ROUNDS_MAX 32

struct rounds {
    double v[ROUNDS_MAX]; /* the most recent ROUNDS_MAX values, a ring */
    int n, next;          /* values held, slot of the next one */
};

/* Forget every value. */
void rounds_reset(struct rounds *r);
/* Add one round's value (the oldest goes when ROUNDS_MAX are held). */
void rounds_add(struct rounds *r, double v);
/*
 * The median, minimum and maximum of the values held (any pointer may be
 * NULL); returns how many there are (0: nothing written).
 */
int rounds_summary(const struct rounds *r, double *median, double *lo, double *hi);
/* Append name as a figure with its spread; nothing while r holds no value. */
void scene_stat_rounds(struct scene_stats *out, const char *name, const struct rounds *r,
                       const char *unit);

#endif
