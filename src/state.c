#include "config.h"

#include "state.h"

#include <string.h>

#include "i18n.h"

static const struct state_info states[TRACE_NSTATES] = {
    [TRACE_RUN] = {N_("run"), N_("running on CPU"), L'\u2588', '#', COLOUR_GREEN},
    [TRACE_READY] = {N_("ready"), N_("ready: wants CPU/GIL/lock"), L'\u2592', '+', COLOUR_YELLOW},
    [TRACE_LOCK] = {N_("lock"), N_("blocked on a lock another worker holds"), L'\u2573', 'x',
                    COLOUR_RED},
    [TRACE_IO] = {N_("io"), N_("blocked on I/O"), L'\u2248', '~', COLOUR_BLUE},
    [TRACE_SLEEP] = {N_("sleep"), N_("sleeping / timer"), L'z', 'z', COLOUR_CYAN},
    [TRACE_KERNEL] = {N_("kernel"), N_("in the kernel / in flight"), L'\u00bb', '>',
                      COLOUR_MAGENTA},
    [TRACE_IDLE] = {N_("idle"), N_("idle: nothing to do, waiting on no one"), L'\u00b7', '.',
                    COLOUR_GREY},
    [TRACE_DONE] = {N_("done"), N_("done"), L'_', '_', COLOUR_WHITE},
    [TRACE_WAIT] = {N_("wait"), N_("waiting for another worker: for work, data, room or a result"),
                    L'\u2500', '-', COLOUR_WAIT},
    [TRACE_BARRIER] = {N_("barrier"), N_("at a barrier, until all the others arrive"), L'\u2551',
                       'H', COLOUR_BARRIER},
    [TRACE_CANCELLED] = {N_("cancelled"), N_("cancelled before it finished"), L'\u2298', '/',
                         COLOUR_CANCELLED},
    [TRACE_FAILED] = {N_("failed"), N_("failed: raised an error, interrupted or died"), L'!', '!',
                      COLOUR_FAILED},
};

static const unsigned char rank[TRACE_NSTATES] = {
    TRACE_RUN,   TRACE_READY,  TRACE_LOCK, TRACE_WAIT, TRACE_BARRIER,   TRACE_IO,
    TRACE_SLEEP, TRACE_KERNEL, TRACE_IDLE, TRACE_DONE, TRACE_CANCELLED, TRACE_FAILED,
};

_Static_assert(TRACE_NSTATES <= TRACE_GAUGE, "a state must fit below the gauge marker");

unsigned state_by_rank(int i)
{
    return i >= 0 && i < TRACE_NSTATES ? rank[i] : TRACE_IDLE;
}

const struct state_info *state_info(unsigned state)
{
    return &states[state < TRACE_NSTATES ? state : TRACE_IDLE];
}

wchar_t state_glyph(unsigned state, int ascii)
{
    const struct state_info *s = state_info(state);
    return ascii ? (wchar_t)s->ascii : s->glyph;
}

wchar_t state_gauge_glyph(uint32_t v, uint32_t max, int ascii)
{
    static const wchar_t bars[] = L" \u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588";
    static const char steps[] = " ._-=+*#@";
    if (max == 0)
        max = 1;
    if (v > max)
        v = max;
    unsigned lvl = v == 0 ? 0 : 1 + (unsigned)((uint64_t)(v - 1) * 8 / max);
    if (lvl > 8)
        lvl = 8;
    return ascii ? (wchar_t)steps[lvl] : bars[lvl];
}

int state_parse(const char *name)
{
    for (int i = 0; i < TRACE_NSTATES; i++)
        if (strcmp(states[i].name, name) == 0)
            return i;
    return -1;
}
