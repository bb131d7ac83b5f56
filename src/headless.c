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
#include "scenes/program.h"
#include "i18n.h"
#include "json.h"
#include "rounds.h"
#include "state.h"
#include "timeline.h"
#include "tour.h"
#include "trace.h"
#include "text.h"

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

/* conctui run: until the program ends, the duration (when given) runs out, or a quit. */
static void run_wait(struct app *a, double secs, volatile int *quit)
{
    uint64_t end = secs > 0 ? a->ctx.t_start + (uint64_t)(secs * 1e9) : UINT64_MAX;
    for (;;) {
        uint64_t now = trace_now_ns();
        app_tick(a, now);
        int status;
        if (now >= end || (quit && *quit) || program_finished(&a->ctx, &status))
            break;
        uint64_t left = end - now < DRAIN_NS ? end - now : DRAIN_NS;
        struct timespec d = {0, (long)left};
        nanosleep(&d, NULL);
    }
}

int headless_run_status(struct app *a, const struct cli *o, FILE *f)
{
    int status = -1;
    if (!o->run || !a->scene || a->replay)
        return 0;
    program_finished(&a->ctx, &status);
    bool ours = program_ended_by_us(&a->ctx);
    if (status < 0)
        return 0; /* attached: its status is its parent's to know */
    if (f && !o->json) {
        if (ours)
            fprintf(f, _("program: ended by conctui (status %d)\n"), status);
        else if (status > 128)
            fprintf(f, _("program: killed by signal %d\n"), status - 128);
        else
            fprintf(f, _("program: exited with status %d\n"), status);
    }
    return ours ? 0 : status;
}

int headless_run(struct app *a, const struct cli *o, volatile int *quit)
{
    int rc = app_start_texts(a, o->entry, o->mode_idx, o->params, o->texts);
    if (rc)
        return rc;
    char err[300];
    if (o->record && app_record(a, o->record, o->force, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, _("conctui: cannot record: %s\n"), err);
        app_stop(a);
        return -EIO;
    }
    if (o->run)
        run_wait(a, o->duration, quit);
    else
        headless_wait(a, o->duration, quit);
    app_stop(a);
    /* A failed recording does not cost the run's figures: they are printed,
     * and the exit status says the recording is incomplete. */
    if (a->rec && app_record_end(a, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, _("conctui: recording failed: %s\n"), err);
        a->rec_cut = true;
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
    if (a->replay && a->meta && a->meta->cut_short)
        fprintf(f, _("recording cut short: %s\n"), a->meta->cut_note);
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
                put_wc(f, draw_cell_glyph(&cells[c], o->ascii));
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
        if (s == TRACE_RUN) {
            struct tl_cell part = {.state = TRACE_RUN, .flags = TL_PART};
            fputc(' ', f);
            put_wc(f, draw_cell_glyph(&part, o->ascii));
            fputs(" brief", f);
        }
    }
    fputc('\n', f);
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a->ctx, note, sizeof note);
    if (note[0])
        fprintf(f, "note: %s\n", note);
    for (int i = 0; i < a->stats.n; i++) {
        const struct scene_stat *s = &a->stats.s[i];
        fprintf(f, "%s %.6g%s%s", s->name, s->value, *s->unit ? " " : "", s->unit);
        if (s->rounds > 0) {
            char lo[32], hi[32];
            snprintf(lo, sizeof lo, "%.6g", s->lo);
            snprintf(hi, sizeof hi, "%.6g", s->hi);
            fputc(' ', f);
            fprintf(f, s->lo < 0 ? _("(%s to %s, %d rounds)") : _("(%s-%s, %d rounds)"), lo, hi,
                    s->rounds);
            if (scene_stat_unsteady(s))
                fputc('!', f);
        }
        fputc('\n', f);
    }
    if (a->stats.dropped)
        fprintf(f, _("%d figures not shown\n"), a->stats.dropped);
    if (!a->replay && load_run_busy(&a->load))
        fprintf(f,
                _("machine busy: other programs used %.1f of %d CPUs during the run; "
                  "comparisons are unreliable\n"),
                load_run_other(&a->load), a->load.last.cpus);
}

/* "name<suffix>":{"value":v,"unit":"unit"} */
static void json_figure(FILE *f, const char *name, const char *suffix, double v, const char *unit)
{
    char key[64];
    snprintf(key, sizeof key, "%s%s", name, suffix);
    json_str(f, key);
    fprintf(f, ":{\"value\":%.17g,\"unit\":", isfinite(v) ? v : 0.0);
    json_str(f, unit);
    fputc('}', f);
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
    if (a->replay && a->meta && a->meta->cut_short) {
        fputs(",\"cut_short\":", f);
        json_str(f, a->meta->cut_note);
    }
    if (!a->replay)
        fprintf(f, ",\"machine_busy\":%d,\"machine_other_cpu\":%.3f,\"machine_cpus\":%d",
                load_run_busy(&a->load), load_run_other(&a->load), a->load.last.cpus);
    int status;
    if (e == &scene_program && program_finished(&a->ctx, &status) && status >= 0)
        fprintf(f, ",\"exit_status\":%d,\"ended_by_conctui\":%s", status,
                program_ended_by_us(&a->ctx) ? "true" : "false");
    fprintf(f, ",\"stats_dropped\":%d,\"stats\":{", a->stats.dropped);
    for (int i = 0; i < a->stats.n; i++) {
        const struct scene_stat *s = &a->stats.s[i];
        fputs(i ? "," : "", f);
        json_figure(f, s->name, "", s->value, s->unit);
        if (s->rounds <= 0)
            continue;
        /* The figure's spread, as figures of their own beside it. */
        fputc(',', f);
        json_figure(f, s->name, "_min", s->lo, s->unit);
        fputc(',', f);
        json_figure(f, s->name, "_max", s->hi, s->unit);
        fputc(',', f);
        json_figure(f, s->name, "_rounds", s->rounds, "rounds");
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
    if (o->snapshot && app_snapshot(a, o->snapshot, o->force, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, _("conctui: cannot save the picture: %s\n"), err);
        return -1;
    }
    if (!o->export_chrome)
        return 0;
    int rc = o->record ? rec_convert(o->record, o->export_chrome, o->force, err, sizeof err)
                       : app_export_chrome(a, o->export_chrome, o->force, err, sizeof err);
    if (rc) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, _("conctui: cannot export: %s\n"), err);
    }
    return rc;
}

/* --tour --headless: every step for --duration seconds, each printed as a run of its own. */
static int headless_tour(struct app *a, const struct cli *o, volatile int *quit)
{
    struct tour t;
    char err[300];
    if (tour_load(&t, o->tour_file, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
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

/* Print a question's verdict: each answer's claim, then which answer the run supports. */
static int check_ask(const struct tour_step *s, const struct tour_facts *facts, FILE *f,
                     int *skipped)
{
    struct tour_verdict v;
    tour_ask_eval(s, facts, &v);
    fprintf(f, "  %-7s %s\n", "ask", s->ask);
    for (int j = 0; j < s->nanswers; j++) {
        char got[160];
        tour_outcome_describe(&s->answer[j].when, &v.out[j], got, sizeof got);
        fprintf(f, "  %-7s %c %s   (%s)\n",
                v.out[j].skipped ? "skipped"
                : v.out[j].pass  ? "holds"
                                 : "-",
                s->answer[j].key, s->answer[j].when.text, got);
    }
    if (v.skipped) {
        fprintf(f, "  %-7s %s\n", "skipped", _("the run cannot settle the question"));
        (*skipped)++;
        return 0;
    }
    if (v.answer >= 0) {
        fprintf(f, "  %-7s ", "ok");
        fprintf(f, _("the run supports answer %c: %s\n"), s->answer[v.answer].key,
                s->answer[v.answer].text);
        return 0;
    }
    fprintf(f, "  %-7s ", "FAILED");
    if (v.holds == 0)
        fprintf(f, "%s\n", _("no answer holds: the question has no right answer in this run"));
    else
        fprintf(f, _("%d answers hold: exactly one should\n"), v.holds);
    return 1;
}

/* Evaluate step s's expectations (and its question) against the finished run; print a line each.
 * Failures. */
static int check_eval(struct app *a, const struct tour_step *s, FILE *f, int *skipped)
{
    static struct tour_lane_total lanes[TRACE_MAX_LANES];
    struct tour_facts facts;
    app_tour_facts(a, lanes, &facts);
    int failed = 0;
    *skipped = 0;
    for (int j = 0; j < s->nexpect; j++) {
        struct tour_outcome out;
        char got[160];
        tour_expect_eval(&s->expect[j], &facts, &out);
        tour_outcome_describe(&s->expect[j], &out, got, sizeof got);
        fprintf(f, "  %-7s %s   (%s)\n",
                out.skipped ? "skipped"
                : out.pass  ? "ok"
                            : "FAILED",
                s->expect[j].text, got);
        failed += !out.pass && !out.skipped;
        *skipped += out.skipped;
    }
    if (s->ask)
        failed += check_ask(s, &facts, f, skipped);
    else if (!s->nexpect)
        fprintf(f, _("  (no expectations)\n"));
    return failed;
}

/* Run tour step i headless for secs and evaluate it: failures, or -1 when it did not start. */
static int check_run(struct app *a, const struct tour *t, int i, double secs, volatile int *quit,
                     int *skipped)
{
    *skipped = 0;
    int rc = app_tour_goto(a, i);
    if (rc || !a->running) {
        printf(_("  FAILED  could not start: %s\n"), strerror(rc ? -rc : EINVAL));
        return -1;
    }
    headless_wait(a, secs, quit);
    app_stop(a);
    if (quit && *quit)
        return 0;
    return check_eval(a, &t->step[i], stdout, skipped);
}

/*
 * --tour --check: every step runs headless for its check time and its
 * expectations are evaluated; a step with a failure runs once more and its
 * second run counts. 0 when every expectation held.
 */
static int headless_check(struct app *a, const struct cli *o, volatile int *quit)
{
    struct tour t;
    char err[300];
    if (tour_load(&t, o->tour_file, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, "conctui: %s\n", err);
        return 1;
    }
    a->tour = &t;
    int passed = 0, failed = 0, skipped = 0, bad_steps = 0;
    char bad[256] = "";
    for (int i = 0; i < t.n && !(quit && *quit); i++) {
        const struct tour_step *s = &t.step[i];
        double secs = s->check_s > 0 ? s->check_s : o->duration > 0 ? o->duration : tour_check_s(s);
        int nchecks = s->nexpect + (s->ask != NULL);
        printf(_("step %d/%d: %s (%s, mode %s, %.3g s)\n"), i + 1, t.n, s->title, s->scene->name,
               s->scene->modes[s->mode].name, secs);
        fflush(stdout);
        int ns;
        int nf = check_run(a, &t, i, secs, quit, &ns);
        if (nf != 0 && !(quit && *quit)) {
            printf(_("  step %d: %d of %d failed; running it again, the second run counts\n"),
                   i + 1, nf < 0 ? nchecks : nf, nchecks);
            fflush(stdout);
            nf = check_run(a, &t, i, secs, quit, &ns);
        }
        if (quit && *quit)
            break;
        int nfail = nf < 0 ? (nchecks ? nchecks : 1) : nf;
        failed += nfail;
        passed += nf < 0 ? 0 : nchecks - nf - ns;
        skipped += ns;
        if (nfail) {
            size_t len = strlen(bad);
            snprintf(bad + len, sizeof bad - len, "%s%d", bad_steps++ ? ", " : "", i + 1);
        }
        /* The next step may fork: no child may inherit (and print again) what is buffered. */
        fflush(stdout);
    }
    app_release(a);
    a->tour = NULL;
    if (bad_steps)
        printf(_("failed steps: %s\n"), bad);
    /* TRANSLATORS: the last line of --tour --check; scripts may read it. */
    printf(_("%d passed, %d failed"), passed, failed);
    if (skipped)
        printf(_(", %d skipped"), skipped);
    putchar('\n');
    tour_free(&t);
    return failed ? 1 : 0;
}

int headless_run_failed(const struct cli *o, int rc, struct app *a)
{
    if (o->run_argv)
        fprintf(stderr, _("conctui: cannot run %s: %s\n"), o->run_argv[0], strerror(-rc));
    else
        fprintf(stderr, _("conctui: cannot follow process %ld: %s\n"), o->attach, strerror(-rc));
    if (a)
        app_shutdown(a);
    return rc == -ENOENT ? 127 : rc == -EACCES ? 126 : 1;
}

int headless_main(const struct cli *o, volatile int *quit)
{
    struct app a;
    char err[300];
    int rc = app_init(&a);
    if (rc == 0 && o->check) {
        rc = headless_check(&a, o, quit);
        app_shutdown(&a);
        return fflush(stdout) == 0 ? rc : 1;
    }
    if (rc == 0 && o->tour) {
        rc = headless_tour(&a, o, quit);
        app_shutdown(&a);
        return fflush(stdout) == 0 ? rc : 1;
    }
    if (rc == 0 && o->replay) {
        if (app_replay(&a, o->replay, err, sizeof err) != 0) {
            text_clean_inplace(err, sizeof err, 1);
            fprintf(stderr, _("conctui: %s\n"), err);
            app_shutdown(&a);
            return 1;
        }
    } else if (rc == 0) {
        rc = headless_run(&a, o, quit);
    }
    if (rc) {
        if (rc != -EIO && o->run)
            return headless_run_failed(o, rc, &a);
        if (rc != -EIO) {
            text_clean_inplace(a.start_note, sizeof a.start_note, 1);
            fprintf(stderr, _("conctui: %s: could not start: %s\n"), o->entry->name,
                    a.start_note[0] ? a.start_note : strerror(-rc));
        }
        app_shutdown(&a);
        return 1;
    }
    headless_print(&a, o, stdout);
    int status = headless_run_status(&a, o, stdout);
    rc = headless_export(&a, o);
    bool rec_failed = a.rec_cut;
    app_shutdown(&a);
    return fflush(stdout) == 0 && rc == 0 && !rec_failed ? status : 1;
}
