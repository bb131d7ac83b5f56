/*
 * DESIGN: the app runs on the UI thread (or the headless driver) only. It
 * starts a scene with every terminal signal blocked, so the scene's threads
 * and children never take SIGINT/SIGTERM/SIGHUP/SIGWINCH/SIGTSTP meant for
 * the UI. Stopping always unfreezes the step gate first: a worker parked at
 * the gate could otherwise never see the stop request.
 */
#include "config.h"

#include "app.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "timeline.h"
#include "trace.h"

#define STATS_PERIOD_NS 250000000ull

int app_init(struct app *a)
{
    memset(a, 0, sizeof *a);
    a->slowmo = 1;
    a->view.focus_lane = -1;
    a->view.live = true;
    return trace_init();
}

void app_shutdown(struct app *a)
{
    app_release(a);
    trace_shutdown();
}

void app_message(struct app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->msg_at = trace_now_ns();
}

uint64_t app_zoom_for(uint64_t span, int width)
{
    if (width < 1)
        width = 1;
    return timeline_zoom_step(span / (uint64_t)width, 0);
}

int app_start(struct app *a, const struct scene_entry *e, int mode, const int64_t *params)
{
    app_release(a);
    int rc = scene_ctx_init(&a->ctx, e, mode);
    if (rc)
        return rc;
    a->scene = e;
    for (int i = 0; i < e->nparams; i++) {
        a->params[i] = params ? params[i] : e->params[i].def;
        atomic_store(&a->ctx.sh->param[i], a->params[i]);
    }
    atomic_store(&a->ctx.sh->slowmo, a->slowmo);
    if (a->view.sel_param >= e->nparams)
        a->view.sel_param = 0;
    a->view.focus_lane = -1;
    a->view.lane_top = 0;
    a->view.live = true;
    trace_freeze(false);
    trace_reset();
    a->ctx.t_start = trace_now_ns();
    history_init(&a->hist, a->ctx.t_start);

    /* Workers inherit this mask: terminal signals stay with the UI. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGWINCH);
    sigaddset(&block, SIGTSTP);
    sigaddset(&block, SIGCONT);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = e->start(&a->ctx);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        if (e->release)
            e->release(&a->ctx);
        scene_ctx_free(&a->ctx);
        a->scene = NULL;
        return rc;
    }
    a->running = true;
    a->stats_at = 0;
    a->stats.n = 0;
    return 0;
}

void app_stop(struct app *a)
{
    if (!a->running)
        return;
    trace_freeze(false);
    a->scene->stop(&a->ctx);
    a->running = false;
    app_tick(a, trace_now_ns());
    app_stats(a, trace_now_ns());
}

void app_release(struct app *a)
{
    if (!a->scene)
        return;
    app_stop(a);
    if (a->scene->release)
        a->scene->release(&a->ctx);
    scene_ctx_free(&a->ctx);
    history_free(&a->hist);
    a->scene = NULL;
}

int app_restart(struct app *a, int mode)
{
    const struct scene_entry *e = a->scene;
    int64_t params[SCENE_MAX_PARAMS];
    memcpy(params, a->params, sizeof params);
    int rc = app_start(a, e, mode, params);
    if (rc) {
        app_message(a, "%s: could not start: %s", e->name, strerror(-rc));
        /* Fall back to the defaults rather than leave no scene running. */
        if (app_start(a, e, 0, NULL) != 0)
            a->scene = NULL;
    }
    return rc;
}

void app_tick(struct app *a, uint64_t now)
{
    if (!a->scene)
        return;
    if (a->running)
        history_drain(&a->hist, now);
}

void app_stats(struct app *a, uint64_t now)
{
    if (!a->scene)
        return;
    a->stats.n = 0;
    a->scene->stats(&a->ctx, &a->stats);
    double secs = (double)(a->hist.t_end - a->hist.t0) / 1e9;
    scene_stat(&a->stats, "trace_events", (double)a->hist.events, "events");
    scene_stat(&a->stats, "trace_rate", secs > 0 ? (double)a->hist.events / secs : 0, "events/s");
    scene_stat(&a->stats, "trace_dropped", (double)trace_dropped(), "events");
    a->stats_at = now;
}

void app_set_param(struct app *a, int idx, int64_t v)
{
    if (!a->scene || idx < 0 || idx >= a->scene->nparams)
        return;
    const struct scene_param *p = &a->scene->params[idx];
    if (v < p->min)
        v = p->min;
    if (v > p->max)
        v = p->max;
    if (v == a->params[idx])
        return;
    a->params[idx] = v;
    atomic_store_explicit(&a->ctx.sh->param[idx], v, memory_order_relaxed);
    if (p->flags & SCENE_P_RESTART)
        app_restart(a, a->ctx.mode);
}

/* The next value of a parameter up or down: +-1 on small ranges, 1-2-5 steps on large. */
static int64_t param_step(const struct scene_param *p, int64_t v, int dir)
{
    if (p->flags & SCENE_P_BOOL)
        return !v;
    if (p->max - p->min <= 20 || (dir > 0 ? v < 20 : v <= 20))
        return v + dir;
    int64_t dec = 1;
    while (dec * 10 <= (dir > 0 ? v : v - 1))
        dec *= 10;
    static const int64_t m[] = {1, 2, 5, 10};
    if (dir > 0) {
        for (int i = 0; i < 4; i++)
            if (m[i] * dec > v)
                return m[i] * dec;
    }
    for (int i = 3; i >= 0; i--)
        if (m[i] * dec < v)
            return m[i] * dec;
    return v - 1;
}

static void view_pan(struct app *a, int cols, int width)
{
    struct app_view *v = &a->view;
    if (v->live) {
        v->live = false;
        v->t_right = a->hist.t_end;
    }
    int64_t d = (int64_t)v->ns_per_col * cols;
    if (d < 0 && (uint64_t)-d > v->t_right - a->hist.t0)
        v->t_right = a->hist.t0 + v->ns_per_col * (uint64_t)width / 2;
    else
        v->t_right = (uint64_t)((int64_t)v->t_right + d);
    if (v->t_right >= a->hist.t_end)
        v->t_right = a->hist.t_end;
}

static void view_zoom(struct app *a, int dir, int width)
{
    struct app_view *v = &a->view;
    uint64_t old = v->ns_per_col;
    v->ns_per_col = timeline_zoom_step(old, dir);
    if (!v->live && v->ns_per_col != old) {
        /* Keep the centre of the window where it was. */
        uint64_t half_old = old * (uint64_t)width / 2, half_new = v->ns_per_col * (uint64_t)width / 2;
        uint64_t centre = v->t_right > half_old ? v->t_right - half_old : a->hist.t0;
        v->t_right = centre + half_new;
        if (v->t_right > a->hist.t_end)
            v->t_right = a->hist.t_end;
    }
}

static void switch_scene(struct app *a, int dir)
{
    int n = scene_count(), i = scene_index(a->scene);
    const struct scene_entry *e = scene_table[((i + dir) % n + n) % n];
    int rc = app_start(a, e, 0, NULL);
    if (rc)
        app_message(a, "%s: could not start: %s", e->name, strerror(-rc));
}

enum app_result app_key(struct app *a, int key, int width)
{
    struct app_view *v = &a->view;
    const struct scene_entry *e = a->scene;
    if (!e)
        return key == 'q' || key == 'Q' ? APP_QUIT : APP_CONTINUE;
    if (v->help && key != '?' && key != 'q') {
        v->help = false; /* any key closes the help */
        return APP_CONTINUE;
    }
    switch (key) {
    case 'q':
    case 'Q':
        return APP_QUIT;
    case '?':
    case 'h':
        v->help = !v->help;
        break;
    case APP_KEY_ESC:
        v->focus_lane = -1;
        break;
    case '\t':
    case 'n':
        switch_scene(a, 1);
        break;
    case APP_KEY_BTAB:
    case 'N':
        switch_scene(a, -1);
        break;
    case APP_KEY_UP:
    case 'k':
        if (e->nparams)
            v->sel_param = (v->sel_param + e->nparams - 1) % e->nparams;
        break;
    case APP_KEY_DOWN:
    case 'j':
        if (e->nparams)
            v->sel_param = (v->sel_param + 1) % e->nparams;
        break;
    case '+':
    case '=':
    case '-':
    case '_':
        if (e->nparams) {
            int i = v->sel_param, dir = key == '+' || key == '=' ? 1 : -1;
            app_set_param(a, i, param_step(&e->params[i], a->params[i], dir));
        }
        break;
    case 'w':
        view_zoom(a, -1, width);
        break;
    case 's':
        view_zoom(a, 1, width);
        break;
    case 'a':
    case APP_KEY_LEFT:
        view_pan(a, -width / 4, width);
        break;
    case 'd':
    case APP_KEY_RIGHT:
        view_pan(a, width / 4, width);
        if (!v->live && v->t_right >= a->hist.t_end)
            v->live = true;
        break;
    case APP_KEY_HOME:
        v->live = false;
        v->t_right = a->hist.t0 + v->ns_per_col * (uint64_t)width;
        if (v->t_right > a->hist.t_end)
            v->t_right = a->hist.t_end;
        break;
    case APP_KEY_END:
    case 'l':
        v->live = true;
        break;
    case ' ':
        v->live = !v->live;
        v->t_right = a->hist.t_end;
        break;
    case 'f':
        trace_freeze(!trace_frozen());
        break;
    case '.':
        if (!trace_frozen())
            trace_freeze(true);
        else
            trace_step();
        break;
    case 'r':
        app_restart(a, a->ctx.mode);
        break;
    case 'm':
        a->slowmo = a->slowmo >= 16 ? 1 : a->slowmo * 4;
        atomic_store(&a->ctx.sh->slowmo, a->slowmo);
        break;
    case 'i': {
        int n = a->hist.nlanes;
        v->focus_lane = n ? (v->focus_lane + 1 >= n ? -1 : v->focus_lane + 1) : -1;
        break;
    }
    case APP_KEY_PGUP:
        v->lane_top = v->lane_top > 5 ? v->lane_top - 5 : 0;
        break;
    case APP_KEY_PGDN:
        if (v->lane_top + 5 < a->hist.nlanes)
            v->lane_top += 5;
        break;
    default:
        if (key >= '1' && key <= '9') {
            int m = key - '1';
            if (m < e->nmodes)
                app_restart(a, m);
            else
                app_message(a, "%s has %d modes", e->name, e->nmodes);
            break;
        }
        if (!(e->key && e->key(&a->ctx, key)) && key < 0x110000 && key >= ' ')
            app_message(a, "key '%lc' does nothing here; ? shows the keys", (wint_t)key);
        break;
    }
    return APP_CONTINUE;
}

void app_click(struct app *a, int y, int x)
{
    struct app_geom *g = &a->geom;
    if (y >= g->lanes_y && y < g->lanes_y + g->nshown * g->lane_rows) {
        int lane = g->lane_of_row[(y - g->lanes_y) / g->lane_rows];
        a->view.focus_lane = a->view.focus_lane == lane ? -1 : lane;
        return;
    }
    if (y == g->params_y && a->scene) {
        for (int i = 0; i < a->scene->nparams; i++)
            if (x >= g->params_x[i] && x < g->params_x[i] + g->params_w[i])
                a->view.sel_param = i;
    }
}

void app_wheel(struct app *a, int dir, int width)
{
    view_zoom(a, dir, width);
}
