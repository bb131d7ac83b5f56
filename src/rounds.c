#include "config.h"

#include "rounds.h"

#include <stdlib.h>
#include <string.h>

void rounds_reset(struct rounds *r)
{
    memset(r, 0, sizeof *r);
}

void rounds_add(struct rounds *r, double v)
{
    if (r->next < 0 || r->next >= ROUNDS_MAX)
        r->next = 0;
    r->v[r->next] = v;
    r->next = (r->next + 1) % ROUNDS_MAX;
    if (r->n < ROUNDS_MAX)
        r->n++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rounds_summary(const struct rounds *r, double *median, double *lo, double *hi)
{
    int n = r->n < 0 ? 0 : r->n > ROUNDS_MAX ? ROUNDS_MAX : r->n;
    if (n == 0)
        return 0;
    /* The held values are the first n slots (before the ring wraps) or all of them. */
    double s[ROUNDS_MAX];
    memcpy(s, r->v, (size_t)n * sizeof s[0]);
    qsort(s, (size_t)n, sizeof s[0], cmp_double);
    if (median)
        *median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    if (lo)
        *lo = s[0];
    if (hi)
        *hi = s[n - 1];
    return n;
}

void scene_stat_rounds(struct scene_stats *out, const char *name, const struct rounds *r,
                       const char *unit)
{
    double med, lo, hi;
    int n = rounds_summary(r, &med, &lo, &hi);
    if (n > 0)
        scene_stat_spread(out, name, med, lo, hi, n, unit);
}
