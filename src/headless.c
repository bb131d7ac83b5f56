/*
 * DESIGN: single-threaded driver. The calling thread starts the scene
 * through the app (workers are the scene's), drains rings every 10 ms so they
 * never overflow at normal rates, stops the scene (joining and reaping every
 * worker) and only then prints.
 */
#include "config.h"

#include "headless.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "draw.h"
#include "i18n.h"
#include "json.h"
#include "state.h"
#include "timeline.h"
#include "tour.h"
#include "trace.h"

#define DRAIN_NS 10000000ull

/* Drain the running scene for secs seconds from its start, or until quit. */
static void headless_wait(struct app *a, double secs, volatile int *quit)
{
    uint64_t end = a->ctx.t_start + (uint64_t)(secs * 1e9);
    for (;;) {
        uint64_t now = trace_now_ns();
        app_tick(a, now);
        if (now >= end || (quit && *quit))
            break;
        uint64_t left = end - now < DRAIN_NS ? end - now : DRAIN_NS;
        struct timespec d = {0, (long)left};
        nanosleep(&d, NULL);
    }
}

int headless_run(struct app *a, const struct cli *o, volatile int *quit)
{
    int rc = app_start_texts(a, o->entry, o->mode_idx, o->params, o->texts);
    if (rc)
        return rc;
    char err[300];
    if (o->record && app_record(a, o->record, err, sizeof err) != 0) {
        fprintf(stderr, _("conctui: cannot record: %s\n"), err);
        app_stop(a);
        return -EIO;
    }
    headless_wait(a, o->duration, quit);
    app_stop(a);
    if (a->rec && app_record_end(a, err, sizeof err) != 0) {
        fprintf(stderr, _("conctui: recording failed: %s\n"), err);
        return -EIO;
    }
    return 0;
}

static void put_wc(FILE *f, wchar_t ch)
{
    char mb[8];
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = wcrtomb(mb, ch, &st);
    if (n == (size_t)-1)
        fputc('?', f);
    else
        fwrite(mb, 1, n, f);
}

/* A lane's name in 18 columns, measured as a terminal would (wide characters take two). */
static void print_name(FILE *f, const char *name)
{
    char label[96];
    const char *s = draw_lane_label(name, label, sizeof label);
    int used = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    while (*s) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s, strlen(s), &st);
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
            break;
        int w = wcwidth(wc);
        if (w < 0)
            w = 1;
        if (used + w > 18)
            break;
        fwrite(s, 1, n, f);
        s += n;
        used += w;
    }
    for (; used < 18; used++)
        fputc(' ', f);
}

static void print_text(struct app *a, const struct cli *o, FILE *f)
{
    const struct scene_entry *e = a->scene;
    uint64_t t0 = a->hist.t0, t1 = a->hist.t_end;
    int w = o->width;
    uint64_t span = t1 > t0 ? t1 - t0 : 1;
    struct tl_view v = {
        .t_start = t0, .ns_per_col = (span + (uint64_t)w - 1) / (uint64_t)w, .width = w, .now = t1};
    char buf[64];
    timeline_fmt_ns(buf, sizeof buf, v.ns_per_col);
    char status[64] = "";
    if (e->status && !a->replay)
        e->status(&a->ctx, status, sizeof status);
    fprintf(f, _("conctui %s: %s, mode %d (%s), %.2f s, %s per column%s%s%s\n"), e->name,
            _(e->title), a->ctx.mode + 1, e->modes[a->ctx.mode].name, (double)span / 1e9, buf,
            a->replay ? _(" (recording)") : "", status[0] ? " | " : "", status);
    fprintf(f, "%-18s ", "");
    for (int c = 0; c < w; c += 12) {
        timeline_fmt_ns(buf, sizeof buf, (uint64_t)c * v.ns_per_col);
        fprintf(f, "%-12.12s", buf);
    }
    fputc('\n', f);
    struct tl_cell *cells = calloc((size_t)w, sizeof *cells);
    if (!cells)
        return;
    for (int i = 0; i < a->hist.nlanes; i++) {
        const struct history_lane *l = &a->hist.lane[i];
        print_name(f, l->name);
        fputc('|', f);
        timeline_layout(l, &v, cells);
        for (int c = 0; c < w; c++) {
            if (cells[c].flags & TL_EMPTY)
                fputc(' ', f);
            else if (cells[c].state == TRACE_GAUGE)
                put_wc(f, state_gauge_glyph(cells[c].value, l->gauge_max, o->ascii));
            else
                put_wc(f, state_glyph(cells[c].state, o->ascii));
        }
        fputs("|\n", f);
    }
    free(cells);
    fputs("legend:", f);
    for (int r = 0; r < TRACE_NSTATES; r++) {
        unsigned s = state_by_rank(r);
        fputc(' ', f);
        put_wc(f, state_glyph(s, o->ascii));
        fprintf(f, " %s", state_info(s)->name);
    }
    fputc('\n', f);
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a->ctx, note, sizeof note);
    if (note[0])
        fprintf(f, "note: %s\n", note);
    for (int i = 0; i < a->stats.n; i++) {
        const struct scene_stat *s = &a->stats.s[i];
        fprintf(f, "%s %.6g%s%s\n", s->name, s->value, *s->unit ? " " : "", s->unit);
    }
}

static void print_json(struct app *a, FILE *f)
{
    const struct scene_entry *e = a->scene;
    fputs("{\"scene\":", f);
    json_str(f, e->name);
    fputs(",\"mode\":", f);
    json_str(f, e->modes[a->ctx.mode].name);
    fprintf(f, ",\"duration_s\":%.6f,\"params\":{", (double)(a->hist.t_end - a->hist.t0) / 1e9);
    for (int i = 0; i < e->nparams; i++) {
        fputs(i ? "," : "", f);
        json_str(f, e->params[i].name);
        fprintf(f, ":%lld", (long long)a->params[i]);
    }
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a->ctx, note, sizeof note);
    fputs("},\"note\":", f);
    json_str(f, note);
    fputs(",\"stats\":{", f);
    for (int i = 0; i < a->stats.n; i++) {
        const struct scene_stat *s = &a->stats.s[i];
        fputs(i ? "," : "", f);
        json_str(f, s->name);
        fprintf(f, ":{\"value\":%.17g,\"unit\":", isfinite(s->value) ? s->value : 0.0);
        json_str(f, s->unit);
        fputc('}', f);
    }
    fprintf(f, "},\"events\":%llu,\"lanes\":[", (unsigned long long)a->hist.events);
    for (int i = 0; i < a->hist.nlanes; i++) {
        const struct history_lane *l = &a->hist.lane[i];
        uint64_t tot[TRACE_NSTATES];
        history_totals(l, a->hist.t_end, tot);
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_str(f, l->name);
        fprintf(f, ",\"kind\":\"%s\",\"events\":%llu,\"transitions\":%llu,\"totals_ns\":{",
                l->kind == TRACE_LANE_GAUGE ? "gauge" : "state", (unsigned long long)l->count,
                (unsigned long long)l->transitions);
        for (unsigned s = 0; s < TRACE_NSTATES; s++)
            fprintf(f, "%s\"%s\":%llu", s ? "," : "", state_info(s)->name,
                    (unsigned long long)tot[s]);
        fputs("}}", f);
    }
    fputs("]}\n", f);
}

void headless_print(struct app *a, const struct cli *o, FILE *f)
{
    if (o->json)
        print_json(a, f);
    else
        print_text(a, o, f);
}

/* --export-chrome and --snapshot at the end of a run. */
int headless_export(struct app *a, const struct cli *o)
{
    char err[300];
    if (o->snapshot && app_snapshot(a, o->snapshot, err, sizeof err) != 0) {
        fprintf(stderr, _("conctui: cannot save the picture: %s\n"), err);
        return -1;
    }
    if (!o->export_chrome)
        return 0;
    int rc = o->record ? rec_convert(o->record, o->export_chrome, err, sizeof err)
                       : app_export_chrome(a, o->export_chrome, err, sizeof err);
    if (rc)
        fprintf(stderr, _("conctui: cannot export: %s\n"), err);
    return rc;
}

/* --tour --headless: every step for --duration seconds, each printed as a run of its own. */
static int headless_tour(struct app *a, const struct cli *o, volatile int *quit)
{
    struct tour t;
    char err[300];
    if (tour_load(&t, o->tour_file, err, sizeof err) != 0) {
        fprintf(stderr, "conctui: %s\n", err);
        return 1;
    }
    a->tour = &t;
    int rc = 0;
    for (int i = 0; i < t.n && !(quit && *quit); i++) {
        if ((rc = app_tour_goto(a, i)) != 0 || !a->running) {
            fprintf(stderr, _("conctui: tour step %d (%s): could not start: %s\n"), i + 1,
                    t.step[i].title, strerror(rc ? -rc : EINVAL));
            rc = 1;
            break;
        }
        headless_wait(a, o->duration, quit);
        app_stop(a);
        if (!o->json)
            printf(_("== tour step %d/%d: %s\n"), i + 1, t.n, t.step[i].title);
        headless_print(a, o, stdout);
        /* The next step may fork: no child may inherit (and print again) what is buffered. */
        fflush(stdout);
    }
    app_release(a);
    a->tour = NULL;
    tour_free(&t);
    return rc;
}

int headless_main(const struct cli *o, volatile int *quit)
{
    struct app a;
    char err[300];
    int rc = app_init(&a);
    if (rc == 0 && o->tour) {
        rc = headless_tour(&a, o, quit);
        app_shutdown(&a);
        return fflush(stdout) == 0 ? rc : 1;
    }
    if (rc == 0 && o->replay) {
        if (app_replay(&a, o->replay, err, sizeof err) != 0) {
            fprintf(stderr, _("conctui: %s\n"), err);
            app_shutdown(&a);
            return 1;
        }
    } else if (rc == 0) {
        rc = headless_run(&a, o, quit);
    }
    if (rc) {
        if (rc != -EIO)
            fprintf(stderr, _("conctui: %s: could not start: %s\n"), o->entry->name, strerror(-rc));
        app_shutdown(&a);
        return 1;
    }
    headless_print(&a, o, stdout);
    rc = headless_export(&a, o);
    app_shutdown(&a);
    return fflush(stdout) == 0 && rc == 0 ? 0 : 1;
}
