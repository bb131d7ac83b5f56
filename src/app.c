/*
 * DESIGN: the app runs on the UI thread (or the headless driver) only. It
 * starts a scene with every terminal signal blocked, so the scene's threads
 * and children never take SIGINT/SIGTERM/SIGHUP/SIGWINCH/SIGTSTP meant for
 * the UI. Stopping always unfreezes the step gate first: a worker parked at
 * the gate could otherwise never see the stop request.
 */
#include "config.h"

#include "app.h"

#include "file.h"
#include "hist.h"
#include "i18n.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "state.h"
#include "theme.h"
#include "timeline.h"
#include "trace.h"
#include "scenes/program.h"

#define STATS_PERIOD_NS 250000000ull

int app_init(struct app *a)
{
    memset(a, 0, sizeof *a);
    a->slowmo = 1;
    a->save_seconds = 30;
    a->view.focus_lane = -1;
    a->view.live = true;
    a->view.lane_rows = 0;
    a->view.step_lane = -1;
    return trace_init();
}

void app_shutdown(struct app *a)
{
    app_release(a);
    trace_shutdown();
}

static void say(struct app *a, int kind, const char *fmt, va_list ap)
{
    vsnprintf(a->msg, sizeof a->msg, _(fmt), ap);
    a->msg_at = trace_now_ns();
    a->msg_kind = kind;
}

void app_message(struct app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(a, APP_MSG_INFO, fmt, ap);
    va_end(ap);
}

void app_warn(struct app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(a, APP_MSG_WARN, fmt, ap);
    va_end(ap);
}

void app_error(struct app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(a, APP_MSG_ERROR, fmt, ap);
    va_end(ap);
}

uint64_t app_zoom_for(uint64_t span, int width)
{
    if (width < 1)
        width = 1;
    return timeline_zoom_step(span / (uint64_t)width, 0);
}

/* The zoom the running mode opens at (0: ten seconds a screen, worked out by the first frame). */
static uint64_t mode_zoom(const struct app *a)
{
    return a->scene ? a->scene->modes[a->ctx.mode].ns_per_col : 0;
}

int app_start(struct app *a, const struct scene_entry *e, int mode, const int64_t *params)
{
    /* A new scene or mode opens at its own time scale; a restart keeps the zoom. */
    bool same = a->scene == e && a->ctx.mode == mode && !a->replay;
    if (a->rec) {
        char err[200];
        if (app_record_end(a, err, sizeof err) == 0)
            app_message(a, "recording saved to %s (the scene restarted)", a->rec_path);
        else
            app_error(a, "recording: %s", err);
    }
    app_release(a);
    int rc = scene_ctx_init(&a->ctx, e, mode);
    if (rc)
        return rc;
    a->scene = e;
    for (int i = 0; i < e->nparams; i++) {
        a->params[i] = params ? params[i] : e->params[i].def;
        atomic_store(&a->ctx.sh->param[i], a->params[i]);
        /* A text goes with its number: the scene, with the value that text gave. */
        if (a->text_scene == e && a->text[i][0] && params)
            memcpy(a->ctx.sh->text[i], a->text[i], SCENE_TEXT_MAX);
    }
    atomic_store(&a->ctx.sh->slowmo, a->slowmo);
    if (a->view.sel_param >= e->nparams)
        a->view.sel_param = 0;
    a->view.focus_lane = -1;
    a->view.lane_top = 0;
    a->view.narr_page = 0;
    a->view.live = true;
    if (!same)
        a->view.ns_per_col = mode_zoom(a);
    trace_freeze(false);
    a->frozen_at = a->frozen_ns = 0;
    a->step_wait = false;
    a->view.step_lane = -1;
    trace_reset();
    a->ctx.t_start = trace_now_ns();
    history_init(&a->hist, a->ctx.t_start);
    load_init(&a->load);
    load_poll(&a->load, a->ctx.t_start);

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
        /* The scene's note says why; it goes with the context. */
        scene_note_get(&a->ctx, a->start_note, sizeof a->start_note);
        if (e->release)
            e->release(&a->ctx);
        scene_ctx_free(&a->ctx);
        a->scene = NULL;
        return rc;
    }
    a->start_note[0] = '\0';
    a->running = true;
    a->stats_at = 0;
    a->stats.n = a->stats.dropped = 0;
    return 0;
}

void app_stop(struct app *a)
{
    if (!a->running)
        return;
    app_freeze(a, false);
    a->scene->stop(&a->ctx);
    /* Every worker has stopped: drain what they emitted last, then no more. */
    app_tick(a, trace_now_ns());
    a->running = false;
    a->load.polled_at = 0; /* the run's last sample, whenever the one before was */
    load_poll(&a->load, trace_now_ns());
    app_stats(a, trace_now_ns());
}

void app_release(struct app *a)
{
    if (!a->scene)
        return;
    app_stop(a);
    if (a->rec) {
        char err[200];
        app_record_end(a, err, sizeof err);
    }
    free(a->meta);
    a->meta = NULL;
    a->replay = false;
    a->replay_stats_done = false;
    if (a->scene->release)
        a->scene->release(&a->ctx);
    scene_ctx_free(&a->ctx);
    history_free(&a->hist);
    a->scene = NULL;
}

/* app_start from a key press: a failure is said in the status line. */
static int app_start_said(struct app *a, const struct scene_entry *e, int mode,
                          const int64_t *params)
{
    int rc = app_start(a, e, mode, params);
    if (rc)
        app_error(a, "%s: could not start: %s", e->name,
                  a->start_note[0] ? a->start_note : strerror(-rc));
    return rc;
}

int app_restart(struct app *a, int mode)
{
    const struct scene_entry *e = a->scene;
    int64_t params[SCENE_MAX_PARAMS];
    memcpy(params, a->params, sizeof params);
    int rc = app_start_said(a, e, mode, params);
    if (rc) {
        /* Fall back to the defaults rather than leave no scene running. */
        if (app_start(a, e, 0, NULL) != 0)
            a->scene = NULL;
    }
    return rc;
}

void app_freeze(struct app *a, bool on)
{
    uint64_t now = trace_now_ns();
    if (on && !trace_frozen()) {
        a->frozen_at = now ? now : 1;
        trace_freeze(true);
        /* A scene whose workers are not ours to gate (a program) stops them its own way. */
        const char *said = a->running && a->scene->freeze ? a->scene->freeze(&a->ctx, true) : NULL;
        if (said)
            app_message(a, "%s", said);
    } else if (!on && trace_frozen()) {
        trace_freeze(false);
        if (a->running && a->scene->freeze)
            a->scene->freeze(&a->ctx, false);
        a->frozen_ns = app_frozen_ns(a, now);
        a->frozen_at = 0;
        a->step_wait = false;
        a->view.step_lane = -1;
        a->view.live = true; /* a step paused the view on itself; running again is live */
    }
}

uint64_t app_frozen_ns(const struct app *a, uint64_t now)
{
    return a->frozen_ns + (a->frozen_at && now > a->frozen_at ? now - a->frozen_at : 0);
}

/* Let one transition through the gate; app_tick finds it once it is drained. */
static void app_step(struct app *a)
{
    a->step_seen = trace_steps(NULL);
    for (int i = 0; i < a->hist.nlanes; i++)
        a->step_count[i] = a->hist.lane[i].count;
    for (int i = a->hist.nlanes; i < TRACE_MAX_LANES; i++)
        a->step_count[i] = 0;
    a->step_wait = true;
    trace_step();
}

/* The step's event has arrived: say what moved, and show it. */
static void step_found(struct app *a)
{
    int lane;
    if (trace_steps(&lane) == a->step_seen || lane < 0 || lane >= a->hist.nlanes)
        return;
    const struct history_lane *l = &a->hist.lane[lane];
    if (l->count <= a->step_count[lane] || a->step_count[lane] < l->first)
        return;
    size_t k = (size_t)(a->step_count[lane] - l->first);
    /* A sampler's step names its transition's time: events before it on the lane led up to it. */
    uint64_t t = trace_step_time();
    while (t && k + 1 < (size_t)(l->count - l->first) && history_at(l, k)->t < t)
        k++;
    const struct trace_event *e = history_at(l, k);
    struct app_view *v = &a->view;
    a->step_wait = false;
    v->step_lane = lane;
    v->step_t = e->t;
    v->step_to = e->state;
    v->step_from = k > 0 ? history_at(l, k - 1)->state : 0xffff;
    /* Follow it: the view stops with the step three quarters of the way across. */
    uint64_t span = v->ns_per_col * (uint64_t)(a->geom.lanes_w > 0 ? a->geom.lanes_w : 100);
    v->live = false;
    v->t_right = e->t + span / 4;
}

/*
 * A question's run: once it has run the step's check time (frozen time left
 * out), evaluate the answers against what it measured and reveal. A run
 * restarted meanwhile (a key changed the mode or a parameter) is not the one
 * the question was about: the question is dropped.
 */
static void ask_tick(struct app *a, uint64_t now)
{
    const struct tour_step *s = a->tour ? &a->tour->step[a->tour_step] : NULL;
    if (!s || !s->ask || !a->running || a->ctx.t_start != a->ask_run) {
        if (a->ask == APP_ASK_RUNNING)
            app_warn(a, "the scene restarted before the reveal: < and > ask the question again");
        a->ask = APP_ASK_NONE;
        return;
    }
    if (a->ask != APP_ASK_RUNNING)
        return;
    uint64_t frozen = app_frozen_ns(a, now) - a->ask_frozen;
    a->ask_ran = now > a->ask_t + frozen ? now - a->ask_t - frozen : 0;
    if ((double)a->ask_ran < tour_check_s(s) * 1e9)
        return;
    static struct tour_lane_total lanes[TRACE_MAX_LANES];
    struct tour_facts facts;
    app_stats(a, now);
    app_tour_facts(a, lanes, &facts);
    struct tour_verdict *v = &a->ask_verdict;
    tour_ask_eval(s, &facts, v);
    a->ask = APP_ASK_REVEALED;
    unsigned char *res = &a->ask_result[a->tour_step];
    *res = a->ask_pick < 0            ? APP_ANSWER_SKIPPED
           : v->answer < 0            ? APP_ANSWER_UNSETTLED
           : v->answer == a->ask_pick ? APP_ANSWER_RIGHT
                                      : APP_ANSWER_WRONG;
    if (v->answer < 0)
        app_warn(a, "this run supports no single answer");
    else if (*res == APP_ANSWER_RIGHT)
        app_message(a, "right: this run supports answer %c", s->answer[v->answer].key);
    else
        app_message(a, "this run supports answer %c", s->answer[v->answer].key);
}

void app_ask_score(const struct app *a, int *right, int *settled, int *skipped)
{
    *right = *settled = *skipped = 0;
    for (int i = 0; i < TOUR_MAX_STEPS; i++) {
        *right += a->ask_result[i] == APP_ANSWER_RIGHT;
        *settled += a->ask_result[i] == APP_ANSWER_RIGHT || a->ask_result[i] == APP_ANSWER_WRONG;
        *skipped += a->ask_result[i] == APP_ANSWER_SKIPPED;
    }
}

/* Let a question's run go: with the answer picked (its index), or none (-1). */
static void ask_go(struct app *a, int pick)
{
    const struct tour_step *s = &a->tour->step[a->tour_step];
    uint64_t now = trace_now_ns();
    app_freeze(a, false);
    a->ask = APP_ASK_RUNNING;
    a->ask_pick = pick;
    a->ask_t = now;
    a->ask_frozen = app_frozen_ns(a, now);
    a->ask_run = a->ctx.t_start;
    a->ask_ran = 0;
    if (pick >= 0)
        app_message(a, "answer %c: the run shows in %.3g s", s->answer[pick].key, tour_check_s(s));
    else
        app_message(a, "no answer: the run shows in %.3g s", tour_check_s(s));
}

void app_tick(struct app *a, uint64_t now)
{
    if (!a->scene)
        return;
    if (a->running) {
        history_drain(&a->hist, now);
        /* A failed write stops the recording, not the run: say so at once. */
        if (a->rec && !a->rec_cut && rec_error(a->rec)) {
            a->rec_cut = true;
            app_error(a, "recording cut short: %s (the run goes on; %s keeps what was written)",
                      strerror(rec_error(a->rec)), a->rec_path);
        }
        load_poll(&a->load, now);
        if (a->step_wait)
            step_found(a);
        /* A scene's own keys may change its parameters: the shared copy is the truth. */
        for (int i = 0; i < a->scene->nparams; i++)
            a->params[i] = atomic_load_explicit(&a->ctx.sh->param[i], memory_order_relaxed);
    }
    if (a->ask == APP_ASK_RUNNING || a->ask == APP_ASK_REVEALED)
        ask_tick(a, now);
}

/* Figures recomputed from a recording: what the events themselves say. */
static void replay_stats(struct app *a)
{
    const struct history *h = &a->hist;
    uint64_t tot[TRACE_NSTATES] = {0}, all = 0;
    struct hist waits;
    hist_reset(&waits);
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        if (l->kind == TRACE_LANE_GAUGE)
            continue;
        uint64_t t[TRACE_NSTATES];
        history_totals(l, h->t_end, t);
        for (int s = 0; s < TRACE_NSTATES; s++)
            tot[s] += t[s];
        size_t n = history_kept(l);
        for (size_t k = 0; k + 1 < n; k++) {
            unsigned st = TRACE_STATE_OF(history_at(l, k)->state);
            if (st == TRACE_LOCK || st == TRACE_IO || st == TRACE_READY || st == TRACE_WAIT ||
                st == TRACE_BARRIER)
                hist_record(&waits, history_at(l, k + 1)->t - history_at(l, k)->t);
        }
    }
    for (int s = 0; s < TRACE_NSTATES; s++)
        all += tot[s];
    double secs = (double)(h->t_end - h->t0) / 1e9;
    scene_stat(&a->stats, "duration", secs, "s");
    scene_stat(&a->stats, "events", (double)h->events, "events");
    for (int s = 0; s < TRACE_NSTATES && all; s++) {
        if (!tot[s])
            continue;
        char name[32];
        snprintf(name, sizeof name, "time_%s", state_info((unsigned)s)->name);
        scene_stat(&a->stats, name, 100.0 * (double)tot[s] / (double)all, "%");
    }
    scene_stat(&a->stats, "waits", (double)hist_count(&waits), "spans");
    scene_stat(&a->stats, "wait_p50", (double)hist_percentile(&waits, 0.5) / 1e6, "ms");
    scene_stat(&a->stats, "wait_p99", (double)hist_percentile(&waits, 0.99) / 1e6, "ms");
    for (int i = 0; i < a->meta->final.n; i++) {
        const struct scene_stat *f = &a->meta->final.s[i];
        char name[sizeof f->name + 4];
        snprintf(name, sizeof name, "rec.%s", f->name);
        scene_stat_spread(&a->stats, name, f->value, f->lo, f->hi, f->rounds, f->unit);
    }
}

void app_stats(struct app *a, uint64_t now)
{
    if (!a->scene)
        return;
    /* A recording's figures never change: worked out once (over 26 million
     * events that takes a second, which every refresh would spend again). */
    if (a->replay && a->replay_stats_done) {
        a->stats_at = now;
        return;
    }
    a->stats.n = a->stats.dropped = 0;
    a->stats_at = now;
    if (a->replay) {
        replay_stats(a);
        a->replay_stats_done = true;
        return;
    }
    a->scene->stats(&a->ctx, &a->stats);
    /* Time frozen at the gate is not time the workers ran: say how much, and leave it out of the
     * rate. */
    double frozen = (double)app_frozen_ns(a, now) / 1e9;
    double secs = (double)(a->hist.t_end - a->hist.t0) / 1e9 - frozen;
    if (frozen > 0)
        scene_stat(&a->stats, "frozen", frozen, "s");
    scene_stat(&a->stats, "trace_events", (double)a->hist.events, "events");
    scene_stat(&a->stats, "trace_rate", secs > 0 ? (double)a->hist.events / secs : 0, "events/s");
    scene_stat(&a->stats, "trace_dropped", (double)trace_dropped(), "events");
    /* Running: the last second or so. Stopped: the whole run. */
    scene_stat(&a->stats, "machine_other_cpu",
               a->running ? a->load.other : load_run_other(&a->load), "cores");
    scene_stat(&a->stats, "machine_busy", a->running ? a->load.busy : load_run_busy(&a->load), "");
    a->stats_at = now;
}

void app_meta(struct app *a, struct rec_meta *m)
{
    if (a->replay) {
        *m = *a->meta;
        return;
    }
    memset(m, 0, sizeof *m);
    const struct scene_entry *e = a->scene;
    m->t0 = a->hist.t0;
    m->t_end = a->hist.t_end;
    snprintf(m->scene, sizeof m->scene, "%s", e->name);
    snprintf(m->mode, sizeof m->mode, "%s", e->modes[a->ctx.mode].name);
    for (int i = 0; i < e->nnotes && i < REC_MAX_NOTES; i++, m->nnotes++)
        snprintf(m->notes[i], sizeof m->notes[i], "%s", e->notes[i] ? e->notes[i] : "");
    for (int i = 0; i < e->nparams && i < REC_MAX_PARAMS; i++, m->nparams++) {
        snprintf(m->param_name[i], sizeof m->param_name[i], "%s", e->params[i].name);
        m->param_value[i] = a->params[i];
    }
    m->final = a->stats;
}

int app_record(struct app *a, const char *path, bool force, char *err, unsigned errlen)
{
    /* Lanes are declared in start(); drain once so the header lists them all. */
    app_tick(a, trace_now_ns());
    struct rec_meta *m = malloc(sizeof *m);
    if (!m) {
        snprintf(err, errlen, _("%s: out of memory"), path);
        return -1;
    }
    app_meta(a, m);
    a->rec = rec_open(path, &a->hist, m, force, err, errlen);
    free(m);
    if (!a->rec)
        return -1;
    snprintf(a->rec_path, sizeof a->rec_path, "%s", path);
    a->rec_since = trace_now_ns();
    a->rec_cut = false;
    /* Events drained before the recorder existed go in first. */
    for (int i = 0; i < a->hist.nlanes; i++)
        for (size_t k = 0; k < history_kept(&a->hist.lane[i]); k++)
            rec_event(a->rec, i, history_at(&a->hist.lane[i], k));
    a->hist.sink = rec_sink;
    a->hist.sink_arg = a->rec;
    return 0;
}

int app_record_end(struct app *a, char *err, unsigned errlen)
{
    if (!a->rec)
        return 0;
    a->hist.sink = NULL;
    app_stats(a, trace_now_ns());
    int rc = rec_close(a->rec, a->hist.t_end, &a->stats, err, errlen);
    a->rec = NULL;
    return rc;
}

int app_snapshot(struct app *a, const char *path, bool force, char *err, unsigned errlen)
{
    const struct scene_entry *e = a->scene;
    int wi = scene_param_find(e, "width"), hi = scene_param_find(e, "height");
    int w = wi >= 0 ? (int)a->params[wi] : 640, h = hi >= 0 ? (int)a->params[hi] : 360;
    struct scene_canvas c = {.w = w, .h = h, .rgb = calloc((size_t)w * (size_t)h, 3)};
    if (!c.rgb) {
        snprintf(err, errlen, _("%s: out of memory"), path);
        return -1;
    }
    int rc = e->canvas ? e->canvas(&a->ctx, &c) : -1;
    if (rc != 0) {
        snprintf(err, errlen, _("%s: scene '%s' has no picture to save yet"), path, e->name);
        free(c.rgb);
        return -1;
    }
    const char *why = NULL;
    int fd = file_create(path, force, &why);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f) {
        fprintf(f, "P6\n%d %d\n255\n", w, h);
        fwrite(c.rgb, 3, (size_t)w * (size_t)h, f);
        rc = ferror(f) | fclose(f);
    } else if (fd >= 0) {
        why = strerror(errno);
        close(fd);
        fd = -1;
    }
    free(c.rgb);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int app_export_chrome(struct app *a, const char *path, bool force, char *err, unsigned errlen)
{
    struct rec_meta *m = malloc(sizeof *m);
    const char *why = _("out of memory");
    int fd = m ? file_create(path, force, &why) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            why = strerror(errno);
            close(fd);
        }
        snprintf(err, errlen, "%s: %s", path, why);
        free(m);
        return -1;
    }
    app_meta(a, m);
    int rc = rec_export_chrome(&a->hist, m, f);
    if (fclose(f) != 0)
        rc = -1;
    free(m);
    if (rc)
        snprintf(err, errlen, _("%s: write failed: %s"), path, strerror(errno));
    return rc;
}

/* What a recording of a scene this program does not know is shown as. */
static const struct scene_mode unknown_mode = {
    "recorded", N_("recorded run"),
    N_("A recording of a scene this version of conctui "
       "does not have. The timeline, the lane inspector "
       "and the figures come from the recording itself."),
    0};
static const struct scene_entry unknown_scene = {.name = "recording",
                                                 .title = N_("Recording"),
                                                 .summary = "",
                                                 .modes = &unknown_mode,
                                                 .nmodes = 1};

static void replay_step(struct app *a, int dir, int width);

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/*
 * The zoom a replay opens at: the 1-2-5 rung at or below the median time
 * between two events of any lane (from the first few thousand events of
 * each), and at most a quarter of the mean, so that most steps of the cursor
 * move it at least a column even where events come in bursts.
 */
static uint64_t replay_zoom(const struct history *h)
{
    enum { PER_LANE = 4096 };
    size_t n = 0;
    uint64_t *t = malloc((size_t)PER_LANE * (size_t)(h->nlanes ? h->nlanes : 1) * sizeof *t);
    uint64_t cut = UINT64_MAX, span = h->t_end > h->t0 ? h->t_end - h->t0 : 1, z = span / 100;
    if (!t)
        return timeline_zoom_step(z ? z : 1, 0);
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        size_t k = history_kept(l);
        if (l->kind == TRACE_LANE_GAUGE || k == 0)
            continue;
        /* Past a lane's last sample the merged times would miss its events. */
        if (k > PER_LANE && history_at(l, PER_LANE - 1)->t < cut)
            cut = history_at(l, PER_LANE - 1)->t;
        for (size_t j = 0; j < k && j < PER_LANE; j++)
            t[n++] = history_at(l, j)->t;
    }
    qsort(t, n, sizeof *t, cmp_u64);
    while (n > 0 && t[n - 1] > cut)
        n--;
    if (n > 2) {
        uint64_t mean = (t[n - 1] - t[0]) / (n - 1) / 4;
        for (size_t j = n - 1; j > 0; j--)
            t[j] -= t[j - 1];
        qsort(t + 1, n - 1, sizeof *t, cmp_u64);
        uint64_t median = t[1 + (n - 1) / 2];
        z = median < mean ? median : mean;
    }
    free(t);
    /* A short recording still spans the screen: at most a hundredth of it a column. */
    if (z > span / 100)
        z = span / 100;
    return timeline_zoom_step(z ? z : 1, 0);
}

int app_replay(struct app *a, const char *path, char *err, unsigned errlen)
{
    app_release(a);
    struct rec_meta *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, _("%s: out of memory"), path);
        return -1;
    }
    if (rec_read(path, &a->hist, m, err, errlen) != 0) {
        free(m);
        return -1;
    }
    const struct scene_entry *e = scene_find(m->scene);
    if (!e)
        e = &unknown_scene;
    int mode = scene_mode_parse(e, m->mode);
    if (scene_ctx_init(&a->ctx, e, mode < 0 ? 0 : mode) != 0) {
        history_free(&a->hist);
        free(m);
        snprintf(err, errlen, _("%s: out of memory"), path);
        return -1;
    }
    a->scene = e;
    a->meta = m;
    a->replay = true;
    a->replay_stats_done = false;
    a->running = false;
    for (int i = 0; i < e->nparams; i++) {
        a->params[i] = e->params[i].def;
        for (int k = 0; k < m->nparams; k++)
            if (strcmp(m->param_name[k], e->params[i].name) == 0)
                a->params[i] = m->param_value[k];
    }
    a->view.live = false;
    a->view.focus_lane = -1;
    a->view.step_lane = -1;
    a->view.cursor = 0;
    /* At a zoom where stepping shows, on the first event, from the start. */
    a->view.ns_per_col = replay_zoom(&a->hist);
    a->view.t_right = a->hist.t0;
    replay_step(a, 1, a->geom.lanes_w > 0 ? a->geom.lanes_w : 100);
    a->view.focus_lane = -1;
    a->msg[0] = '\0';
    if (m->cut_short)
        app_warn(a, "recording cut short: %s", m->cut_note);
    app_stats(a, trace_now_ns());
    return 0;
}

/* Replay: move the cursor to the next (dir > 0) or previous event of any lane. */
static void replay_step(struct app *a, int dir, int width)
{
    const struct history *h = &a->hist;
    uint64_t at = a->view.cursor ? a->view.cursor : (dir > 0 ? h->t0 : h->t_end + 1);
    int best = -1;
    uint64_t bt = dir > 0 ? UINT64_MAX : 0;
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        if (l->kind == TRACE_LANE_GAUGE)
            continue;
        long k = history_find(l, dir > 0 ? at : at - 1);
        if (dir > 0) {
            size_t next = k < 0 ? 0 : (size_t)k + 1;
            if (a->view.cursor == 0 && k >= 0 && history_at(l, (size_t)k)->t == at)
                next = (size_t)k;
            if (next < history_kept(l) && history_at(l, next)->t < bt) {
                bt = history_at(l, next)->t;
                best = i;
            }
        } else if (k >= 0 && history_at(l, (size_t)k)->t >= bt) {
            bt = history_at(l, (size_t)k)->t;
            best = i;
        }
    }
    if (best < 0) {
        app_message(a, dir > 0 ? N_("last event of the recording")
                               : N_("first event of the recording"));
        return;
    }
    a->view.cursor = bt;
    a->view.cursor_lane = best;
    a->view.focus_lane = best;
    uint64_t span = a->view.ns_per_col * (uint64_t)width;
    if (bt >= a->view.t_right || bt + span < a->view.t_right)
        a->view.t_right = bt + span / 2 < h->t_end ? bt + span / 2 : h->t_end;
    if (a->view.t_right < h->t0 + span)
        a->view.t_right = h->t0 + span;
}

/* The S key: the last save_seconds of history as a recording in the current
 * directory, in a new file (never through a link): -2, -3... when the name is taken. */
static void save_recent(struct app *a)
{
    char path[160], stamp[32], err[400];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(path, sizeof path, "conctui-%s-%s.rec", a->scene->name, stamp);
    struct rec_meta *m = malloc(sizeof *m);
    if (!m)
        return;
    app_stats(a, trace_now_ns());
    app_meta(a, m);
    uint64_t span = (uint64_t)a->save_seconds * 1000000000ull;
    uint64_t since = a->hist.t_end > a->hist.t0 + span ? a->hist.t_end - span : a->hist.t0;
    int rc = rec_save_history(path, &a->hist, m, since, err, sizeof err);
    for (int k = 2; rc != 0 && errno == EEXIST && k < 100; k++) {
        snprintf(path, sizeof path, "conctui-%s-%s-%d.rec", a->scene->name, stamp, k);
        rc = rec_save_history(path, &a->hist, m, since, err, sizeof err);
    }
    if (rc == 0) {
        /* The span saved: save_seconds, or the whole run when it is shorter. */
        double secs = (double)(a->hist.t_end - since) / 1e9;
        app_message(a, "saved the last %.1f s to %s", secs, path);
    } else {
        app_error(a, "could not save: %s", err);
    }
    free(m);
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

/* A new zoom (0: ten seconds a screen); a paused view keeps its centre. */
static void view_set_zoom(struct app *a, uint64_t ns_per_col, int width)
{
    struct app_view *v = &a->view;
    uint64_t old = v->ns_per_col;
    if (ns_per_col == 0) {
        ns_per_col = app_zoom_for(10000000000ull, width);
        if (ns_per_col * (uint64_t)width < 10000000000ull)
            ns_per_col = timeline_zoom_step(ns_per_col, 1);
    }
    v->ns_per_col = ns_per_col;
    /* Zoom around the replay cursor or the last step when it is on screen: it keeps its column. */
    uint64_t anchor = a->replay ? v->cursor : v->step_lane >= 0 ? v->step_t : 0;
    uint64_t span_old = old * (uint64_t)width;
    if (!v->live && old && anchor && anchor <= v->t_right && anchor + span_old >= v->t_right) {
        uint64_t right = anchor + (uint64_t)((double)(v->t_right - anchor) * (double)v->ns_per_col /
                                             (double)old);
        v->t_right = right > a->hist.t_end ? a->hist.t_end : right;
        return;
    }
    if (!v->live && old && v->ns_per_col != old) {
        /* Keep the centre of the window where it was. */
        uint64_t half_old = old * (uint64_t)width / 2,
                 half_new = v->ns_per_col * (uint64_t)width / 2;
        uint64_t centre = v->t_right > half_old ? v->t_right - half_old : a->hist.t0;
        v->t_right = centre + half_new;
        if (v->t_right > a->hist.t_end)
            v->t_right = a->hist.t_end;
    }
}

static void view_zoom(struct app *a, int dir, int width)
{
    view_set_zoom(a, timeline_zoom_step(a->view.ns_per_col, dir), width);
}

static void switch_scene(struct app *a, int dir)
{
    int n = scene_count(), i = scene_index(a->scene);
    if (i < 0 && !a->replay && !a->tour) {
        app_warn(a, "conctui run shows only the program; q quits (and ends it)");
        return;
    }
    const struct scene_entry *e = scene_table[((i + dir) % n + n) % n];
    app_start_said(a, e, 0, NULL);
}

/*
 * The keys. Each handler gets the key (a pair of keys shares one: a and d
 * scroll either way) and the timeline's width; it returns enum app_result.
 */
static int k_quit(struct app *a, int key, int width)
{
    (void)a, (void)key, (void)width;
    return APP_QUIT;
}

static int k_help(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.help = !a->view.help;
    a->view.help_page = 0;
    a->geom.help_pages = 0; /* not drawn yet */
    return APP_CONTINUE;
}

/* The help's pages: the frame says how many there are (app_geom.help_pages). */
static int k_help_page(struct app *a, int key, int width)
{
    (void)width;
    struct app_view *v = &a->view;
    int pages = a->geom.help_pages; /* 0: no frame has drawn the help yet */
    if (pages > 0 && v->help_page > pages - 1)
        v->help_page = pages - 1;
    if (key == APP_KEY_PGUP)
        v->help_page = v->help_page > 0 ? v->help_page - 1 : 0;
    else if (pages == 0 || v->help_page < pages - 1)
        v->help_page++;
    else
        v->help = false; /* past the last page: done */
    return APP_CONTINUE;
}

static int k_esc(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.focus_lane = -1;
    return APP_CONTINUE;
}

static int k_scene(struct app *a, int key, int width)
{
    (void)width;
    switch_scene(a, key == '\t' || key == 'n' ? 1 : -1);
    return APP_CONTINUE;
}

static int k_mode(struct app *a, int key, int width)
{
    (void)width;
    int m = key - '1';
    if (m < a->scene->nmodes)
        app_restart(a, m);
    else
        app_warn(a, "%s has %d modes", a->scene->name, a->scene->nmodes);
    return APP_CONTINUE;
}

static int k_select(struct app *a, int key, int width)
{
    (void)width;
    int n = a->scene->nparams;
    if (n)
        a->view.sel_param = (a->view.sel_param + (key == APP_KEY_UP || key == 'k' ? n - 1 : 1)) % n;
    return APP_CONTINUE;
}

static int k_param(struct app *a, int key, int width)
{
    (void)width;
    const struct scene_entry *e = a->scene;
    if (e->nparams) {
        int i = a->view.sel_param, dir = key == '+' || key == '=' ? 1 : -1;
        app_set_param(a, i, param_step(&e->params[i], a->params[i], dir));
    }
    return APP_CONTINUE;
}

static int k_zoom(struct app *a, int key, int width)
{
    view_zoom(a, key == 'w' ? -1 : 1, width);
    return APP_CONTINUE;
}

static int k_zoom0(struct app *a, int key, int width)
{
    (void)key;
    view_set_zoom(a, a->replay ? replay_zoom(&a->hist) : mode_zoom(a), width);
    return APP_CONTINUE;
}

static int k_pan(struct app *a, int key, int width)
{
    if (key == 'a' || key == APP_KEY_LEFT) {
        view_pan(a, -width / 4, width);
    } else {
        view_pan(a, width / 4, width);
        if (!a->view.live && a->view.t_right >= a->hist.t_end)
            a->view.live = true;
    }
    return APP_CONTINUE;
}

static int k_home(struct app *a, int key, int width)
{
    (void)key;
    struct app_view *v = &a->view;
    v->live = false;
    v->t_right = a->hist.t0 + v->ns_per_col * (uint64_t)width;
    if (v->t_right > a->hist.t_end)
        v->t_right = a->hist.t_end;
    return APP_CONTINUE;
}

static int k_live(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.live = true;
    return APP_CONTINUE;
}

static int k_pause(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.live = !a->view.live;
    a->view.t_right = a->hist.t_end;
    return APP_CONTINUE;
}

static int k_freeze(struct app *a, int key, int width)
{
    (void)key, (void)width;
    app_freeze(a, !trace_frozen());
    return APP_CONTINUE;
}

static int k_group(struct app *a, int key, int width)
{
    (void)key, (void)width;
    bool any = false;
    for (int i = 0; i < a->hist.nlanes && !any; i++)
        any = a->hist.lane[i].group != 0;
    if (!any && !a->view.grouped) {
        app_warn(a, "this scene's lanes are not in groups: each lane is its own row");
        return APP_CONTINUE;
    }
    a->view.grouped = !a->view.grouped;
    a->view.lane_top = 0;
    app_message(a, "%s",
                a->view.grouped ? _("grouped: one row a group (a process's threads), a run "
                                    "in any lane shows; G: every lane")
                                : _("every lane its own row; G: one row a group"));
    return APP_CONTINUE;
}

static int k_step(struct app *a, int key, int width)
{
    (void)key, (void)width;
    const char *why;
    if (!trace_frozen())
        app_freeze(a, true);
    else if (a->scene->step && (why = a->scene->step(&a->ctx, a->view.focus_lane)) != NULL)
        app_warn(a, "%s", why);
    else
        app_step(a);
    return APP_CONTINUE;
}

static int k_restart(struct app *a, int key, int width)
{
    (void)key, (void)width;
    app_restart(a, a->ctx.mode);
    return APP_CONTINUE;
}

static int k_save(struct app *a, int key, int width)
{
    (void)key, (void)width;
    save_recent(a);
    return APP_CONTINUE;
}

static int k_theme(struct app *a, int key, int width)
{
    (void)key, (void)width;
    struct app_view *v = &a->view;
    v->theme = theme_table[v->theme + 1] ? v->theme + 1 : 0;
    app_message(a, "theme: %s", _(theme_table[v->theme]->help));
    return APP_CONTINUE;
}

static int k_lane_rows(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.lane_rows = a->view.lane_rows >= 3 ? 0 : a->view.lane_rows + 1; /* 0: fit the screen */
    return APP_CONTINUE;
}

static int k_narration(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.narr_page++; /* drawn modulo the narration's pages */
    return APP_CONTINUE;
}

static int k_slowmo(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->slowmo = a->slowmo >= 16 ? 1 : a->slowmo * 4;
    atomic_store(&a->ctx.sh->slowmo, a->slowmo);
    return APP_CONTINUE;
}

static int k_inspect(struct app *a, int key, int width)
{
    (void)key, (void)width;
    struct app_view *v = &a->view;
    int n = a->hist.nlanes;
    v->focus_lane = n ? (v->focus_lane + 1 >= n ? -1 : v->focus_lane + 1) : -1;
    return APP_CONTINUE;
}

static int k_lanes(struct app *a, int key, int width)
{
    (void)width;
    struct app_view *v = &a->view;
    if (key == APP_KEY_PGUP)
        v->lane_top = v->lane_top > 5 ? v->lane_top - 5 : 0;
    else if (v->lane_top + 5 < a->hist.nlanes)
        v->lane_top += 5;
    return APP_CONTINUE;
}

static int k_tour(struct app *a, int key, int width)
{
    (void)width;
    int step = a->tour_step + (key == '\n' || key == '>' ? 1 : -1);
    if (step < 0 || step >= a->tour->n)
        app_warn(a, step < 0 ? N_("this is the first step of the tour")
                             : N_("this is the last step of the tour (q quits)"));
    else
        app_tour_goto(a, step);
    return APP_CONTINUE;
}

static int k_answer(struct app *a, int key, int width)
{
    (void)width;
    const struct tour_step *s = &a->tour->step[a->tour_step];
    int i = tour_answer_find(s, key);
    if (i < 0) {
        char keys[16];
        tour_answer_keys(s, keys, sizeof keys);
        app_warn(a, "no answer %lc: the answers are %s", (wint_t)key, keys);
    } else {
        ask_go(a, i);
    }
    return APP_CONTINUE;
}

static int k_skip(struct app *a, int key, int width)
{
    (void)key, (void)width;
    ask_go(a, -1);
    return APP_CONTINUE;
}

static int k_event(struct app *a, int key, int width)
{
    replay_step(a, key == ',' ? -1 : 1, width);
    return APP_CONTINUE;
}

static int k_replay_end(struct app *a, int key, int width)
{
    (void)key, (void)width;
    a->view.t_right = a->hist.t_end;
    return APP_CONTINUE;
}

static const char H_QUIT[] = N_("quit (also Ctrl-C)"), H_HELP[] = N_("this help: show / hide"),
                  H_NEXT_SCENE[] = N_("next scene"), H_PREV_SCENE[] = N_("previous scene"),
                  H_SELECT[] = N_("select a parameter"),
                  H_PARAM[] = N_("raise / lower the selected parameter"),
                  H_ZOOM[] = N_("zoom time in / out (also the mouse wheel)"),
                  H_PAN[] = N_("scroll back / forward through history"),
                  H_LIVE[] = N_("back to live"),
                  H_FREEZE[] = N_("freeze / unfreeze the workers at their next "
                                  "transition"),
                  H_LANES[] = N_("scroll lanes when they do not all fit"),
                  H_TOUR_NEXT[] = N_("the tour's next step"),
                  H_TOUR_PREV[] = N_("the tour's previous step"),
                  H_ASK_SKIP[] = N_("run without answering (the question counts as skipped)"),
                  H_EVENT_NEXT[] = N_("the recording's next event"),
                  H_REPLAY_END[] = N_("the end of the recording"),
                  H_PAGE_NEXT[] = N_("the help's next page (after the last: close it)");

/*
 * Every key the program takes, scene keys aside (each scene lists its own:
 * struct scene_key). The help, conctui(1)'s KEYS (tests/test_keys.c), the
 * keys a scene may not take and the replay's refusals are read from here.
 */
const struct key_binding app_bindings[] = {
    {'q', 0, H_QUIT, KEY_ALWAYS, 0, k_quit},
    {'Q', 0, H_QUIT, KEY_ALWAYS, 0, k_quit},
    {'?', 0, H_HELP, KEY_ALWAYS, 0, k_help},
    {'h', 0, H_HELP, KEY_ALWAYS, 0, k_help},
    {'\t', 0, H_NEXT_SCENE, KEY_LIVE, 0, k_scene},
    {'n', 0, H_NEXT_SCENE, KEY_LIVE, 0, k_scene},
    {APP_KEY_BTAB, 0, H_PREV_SCENE, KEY_LIVE, 0, k_scene},
    {'N', 0, H_PREV_SCENE, KEY_LIVE, 0, k_scene},
    {'1', '9', N_("select mode (restarts the scene)"), KEY_LIVE, 0, k_mode},
    {APP_KEY_UP, 0, H_SELECT, KEY_LIVE, KEY_SOFT, k_select},
    {APP_KEY_DOWN, 0, H_SELECT, KEY_LIVE, KEY_SOFT, k_select},
    {'k', 0, H_SELECT, KEY_LIVE, 0, k_select},
    {'j', 0, H_SELECT, KEY_LIVE, 0, k_select},
    {'+', 0, H_PARAM, KEY_LIVE, 0, k_param},
    {'-', 0, H_PARAM, KEY_LIVE, 0, k_param},
    {'=', 0, H_PARAM, KEY_LIVE, 0, k_param},
    {'_', 0, H_PARAM, KEY_LIVE, 0, k_param},
    {'w', 0, H_ZOOM, KEY_VIEW, 0, k_zoom},
    {'s', 0, H_ZOOM, KEY_VIEW, 0, k_zoom},
    {'0', 0, N_("back to the scene's own time scale"), KEY_VIEW, 0, k_zoom0},
    {'a', 0, H_PAN, KEY_VIEW, 0, k_pan},
    {'d', 0, H_PAN, KEY_VIEW, 0, k_pan},
    {APP_KEY_LEFT, 0, H_PAN, KEY_VIEW, KEY_SOFT, k_pan},
    {APP_KEY_RIGHT, 0, H_PAN, KEY_VIEW, KEY_SOFT, k_pan},
    {APP_KEY_HOME, 0, N_("the oldest history kept"), KEY_VIEW, 0, k_home},
    {APP_KEY_END, 0, H_LIVE, KEY_LIVE, 0, k_live},
    {'l', 0, H_LIVE, KEY_LIVE, 0, k_live},
    {APP_KEY_END, 0, H_REPLAY_END, KEY_REPLAY, 0, k_replay_end},
    {'l', 0, H_REPLAY_END, KEY_REPLAY, 0, k_replay_end},
    {' ', 0, H_REPLAY_END, KEY_REPLAY, 0, k_replay_end},
    {' ', 0, N_("pause / resume the view (workers keep running)"), KEY_LIVE, 0, k_pause},
    {'f', 0, H_FREEZE, KEY_LIVE, 0, k_freeze},
    {'.', 0, N_("step: let exactly one transition through (freezes first)"), KEY_LIVE, 0, k_step},
    {'f', 0, H_EVENT_NEXT, KEY_REPLAY, 0, k_event},
    {'.', 0, H_EVENT_NEXT, KEY_REPLAY, 0, k_event},
    {',', 0, N_("the recording's previous event"), KEY_REPLAY, 0, k_event},
    {'m', 0, N_("slow motion for timed work: x1, x4, x16"), KEY_LIVE, 0, k_slowmo},
    {'r', 0, N_("restart the scene"), KEY_LIVE, 0, k_restart},
    {'S', 0, N_("save the last 30 s of history as a recording"), KEY_LIVE, 0, k_save},
    {'i', 0, N_("inspect the next lane (a click: that lane)"), KEY_VIEW, 0, k_inspect},
    {APP_KEY_ESC, 0, N_("close the inspector"), KEY_VIEW, 0, k_esc},
    {APP_KEY_PGUP, 0, H_LANES, KEY_VIEW, 0, k_lanes},
    {APP_KEY_PGDN, 0, H_LANES, KEY_VIEW, 0, k_lanes},
    {'T', 0, N_("next colour theme"), KEY_VIEW, 0, k_theme},
    {'L', 0, N_("rows per lane: as the screen fits, 1, 2, 3"), KEY_VIEW, 0, k_lane_rows},
    {'G', 0, N_("group lanes: a process's threads (or a scene's band) in one row, or not"),
     KEY_VIEW, 0, k_group},
    {'e', 0, N_("the narration's next page, when it does not fit"), KEY_VIEW, 0, k_narration},
    {APP_KEY_MOUSE, 0,
     N_("the wheel zooms; a click on a lane inspects it, on a parameter selects it"), KEY_VIEW, 0,
     NULL},
    {'\n', 0, H_TOUR_NEXT, KEY_TOUR, 0, k_tour},
    {'>', 0, H_TOUR_NEXT, KEY_TOUR, 0, k_tour},
    {'<', 0, H_TOUR_PREV, KEY_TOUR | KEY_ASK, 0, k_tour},
    {APP_KEY_BACKSPACE, 0, H_TOUR_PREV, KEY_TOUR | KEY_ASK, 0, k_tour},
    {'1', '4', N_("answer the question: the workers run, then the answer the run supports shows"),
     KEY_ASK, 0, k_answer},
    {'\n', 0, H_ASK_SKIP, KEY_ASK, 0, k_skip},
    {'>', 0, H_ASK_SKIP, KEY_ASK, 0, k_skip},
    {APP_KEY_PGDN, 0, H_PAGE_NEXT, KEY_HELP, 0, k_help_page},
    {' ', 0, H_PAGE_NEXT, KEY_HELP, 0, k_help_page},
    {APP_KEY_PGUP, 0, N_("the help's previous page"), KEY_HELP, 0, k_help_page},
};
const int app_nbindings = (int)(sizeof app_bindings / sizeof app_bindings[0]);

unsigned app_key_scope(const struct app *a)
{
    if (a->replay)
        return KEY_REPLAY;
    if (a->tour && a->ask == APP_ASK_OPEN)
        return KEY_ASK;
    return a->tour ? KEY_LIVE | KEY_TOUR : KEY_LIVE;
}

unsigned app_key_context(const struct app *a)
{
    return a->view.help ? KEY_HELP : app_key_scope(a);
}

enum app_result app_key(struct app *a, int key, int width)
{
    const struct scene_entry *e = a->scene;
    if (!e)
        return key == 'q' || key == 'Q' ? APP_QUIT : APP_CONTINUE;
    unsigned ctx = app_key_context(a);
    struct key_binding b[KEYS_MAX];
    int n = keys_collect(app_bindings, app_nbindings, e, ctx, b, KEYS_MAX);
    for (int i = 0; i < n; i++) {
        if (!keys_match(&b[i], key))
            continue;
        if (b[i].flags & KEY_SCENE) {
            if (e->key && e->key(&a->ctx, key))
                return APP_CONTINUE;
            continue; /* declined: the app's binding of the key, if any */
        }
        if (b[i].fn)
            return (enum app_result)b[i].fn(a, key, width);
    }
    if (ctx == KEY_HELP)
        a->view.help = false; /* any other key closes the help */
    else if (ctx == KEY_REPLAY &&
             keys_bound(app_bindings, app_nbindings, e, KEY_LIVE | KEY_TOUR, key))
        app_warn(a, "this is a recording: it cannot be changed (q quits)");
    else if (ctx == KEY_ASK &&
             keys_bound(app_bindings, app_nbindings, e, KEY_LIVE | KEY_TOUR, key)) {
        char keys[16];
        tour_answer_keys(&a->tour->step[a->tour_step], keys, sizeof keys);
        app_warn(a, "answer first (%s), or Enter to run without an answer", keys);
    } else if (key < 0x110000 && key >= ' ')
        app_warn(a, "key '%lc' does nothing here; ? shows the keys", (wint_t)key);
    return APP_CONTINUE;
}

int app_start_texts(struct app *a, const struct scene_entry *e, int mode, const int64_t *params,
                    const char *const *texts)
{
    for (int i = 0; i < e->nparams; i++)
        app_set_text(a, e, i, texts ? texts[i] : NULL);
    return app_start(a, e, mode, params);
}

void app_set_text(struct app *a, const struct scene_entry *e, int idx, const char *text)
{
    if (a->text_scene != e) {
        memset(a->text, 0, sizeof a->text);
        a->text_scene = e;
    }
    snprintf(a->text[idx], sizeof a->text[idx], "%s", text ? text : "");
}

void app_tour_facts(struct app *a, struct tour_lane_total *lanes, struct tour_facts *f)
{
    int n = a->hist.nlanes < TRACE_MAX_LANES ? a->hist.nlanes : TRACE_MAX_LANES;
    for (int i = 0; i < n; i++) {
        const struct history_lane *l = &a->hist.lane[i];
        lanes[i].name = l->name;
        lanes[i].gauge = l->kind == TRACE_LANE_GAUGE;
        history_totals(l, a->hist.t_end, lanes[i].ns);
    }
    *f = (struct tour_facts){.stats = &a->stats, .lane = lanes, .nlanes = n};
}

/*
 * A step that runs a program: its words, with examples/... resolved to the
 * installed examples when no such file is here, become what the program
 * scene runs next. False when they do not fit.
 */
static bool tour_program(struct app *a, const struct tour_step *s)
{
    size_t used = 0;
    int n = 0;
    for (; s->run[n] && n < TOUR_RUN_MAX_ARGS; n++) {
        const char *w = s->run[n];
        char *dst = a->run_words + used;
        size_t room = sizeof a->run_words - used;
        int len = !strncmp(w, "examples/", 9) && access(w, F_OK) != 0
                      ? snprintf(dst, room, "%s/%s", file_examples_dir(), w + 9)
                      : snprintf(dst, room, "%s", w);
        if (len < 0 || (size_t)len >= room)
            return false;
        a->run_argv[n] = dst;
        used += (size_t)len + 1;
    }
    a->run_argv[n] = NULL;
    program_configure(&(struct program_opts){.argv = a->run_argv, .out_fd = -1});
    return true;
}

int app_tour_goto(struct app *a, int step)
{
    const struct tour *t = a->tour;
    if (!t || t->n == 0)
        return -EINVAL;
    step = step < 0 ? 0 : step >= t->n ? t->n - 1 : step;
    const struct tour_step *s = &t->step[step];
    if (a->ask == APP_ASK_OPEN)
        app_freeze(a, false);
    a->ask = APP_ASK_NONE;
    a->tour_step = step;
    a->view.narr_page = 0;
    if (s->run && !tour_program(a, s))
        return -E2BIG;
    if (a->asks && s->ask) {
        /* A fresh run, frozen until the learner answers: the reveal measures it alone. */
        int rc = app_start_said(a, s->scene, s->mode, s->params);
        if (rc)
            return rc;
        app_freeze(a, true);
        a->ask = APP_ASK_OPEN;
        a->ask_pick = -1;
        return 0;
    }
    if (!s->run && a->scene == s->scene && a->running && a->ctx.mode == s->mode &&
        !memcmp(a->params, s->params, sizeof a->params[0] * (size_t)s->scene->nparams))
        return 0; /* the same set-up: only the narration changes */
    return app_start_said(a, s->scene, s->mode, s->params);
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
