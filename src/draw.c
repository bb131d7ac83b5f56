#include "config.h"

#include "draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "keys.h"
#include "rounds.h"
#include "state.h"
#include "timeline.h"
#include "tour.h"
#include "trace.h"

#define NAME_W 18
#define STATS_W 40

/* Columns the scene's picture takes on the right, 0 for scenes without one. */
static int canvas_cols(const struct app *a, int cols)
{
    return a->scene && a->scene->canvas ? cols * 2 / 5 : 0;
}

int draw_timeline_width(const struct app *a, int cols)
{
    int c = canvas_cols(a, cols);
    return cols - NAME_W - 1 - (c ? c + 1 : 0);
}

/* The scene's picture: two pixels per cell, top over bottom. */
static void draw_canvas(struct app *a, struct grid *g, int y0, int x0, int rows, int cols)
{
    static uint8_t *pix;
    static size_t cap;
    size_t need = (size_t)cols * (size_t)rows * 2 * 3;
    if (need > cap) {
        uint8_t *p = realloc(pix, need);
        if (!p)
            return;
        pix = p;
        cap = need;
    }
    static struct scene_canvas c;
    memset(&c, 0, sizeof c);
    c.w = cols;
    c.h = rows * 2;
    c.rgb = pix;
    memset(pix, 0, need);
    if (a->scene->canvas(&a->ctx, &c) != 0)
        return;
    int ncap = c.ncaption < 0 ? 0 : c.ncaption > SCENE_CAPTION_MAX ? SCENE_CAPTION_MAX : c.ncaption;
    if (ncap > rows)
        ncap = rows;
    for (int y = 0; y < rows - ncap; y++) {
        for (int x = 0; x < cols; x++) {
            const uint8_t *t = pix + ((size_t)(2 * y) * (size_t)cols + (size_t)x) * 3;
            const uint8_t *b = t + (size_t)cols * 3;
            grid_put_rgb(g, y0 + y, x0 + x, (uint32_t)t[0] << 16 | (uint32_t)t[1] << 8 | t[2],
                         (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2]);
        }
    }
    /* The scene's words under its picture: a swatch of colour, then the text. */
    for (int i = 0; i < ncap; i++) {
        int y = y0 + rows - ncap + i, x = x0;
        struct scene_caption *k = &c.caption[i];
        k->text[sizeof k->text - 1] = 0;
        grid_fill(g, y, x0, cols, L' ', 0, 0);
        if (k->rgb && cols > 3) {
            grid_put_rgb(g, y, x, k->rgb, k->rgb);
            grid_put_rgb(g, y, x + 1, k->rgb, k->rgb);
            x += 3;
        }
        grid_text(g, y, x, x0 + cols - x, k->text, COLOUR_DEFAULT, 0);
    }
}

void draw_fmt_value(char *buf, unsigned len, double v)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (a >= 1e5)
        snprintf(buf, len, "%.0fk", v / 1e3);
    else if (a >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else if (v == floor(v))
        snprintf(buf, len, "%.0f", v);
    else if (a >= 100)
        snprintf(buf, len, "%.0f", v);
    else if (a >= 10)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.2f", v);
}

static void draw_too_small(struct grid *g)
{
    char line[96];
    int y = g->rows / 2 - 1;
    snprintf(line, sizeof line, _("Terminal too small: %dx%d"), g->cols, g->rows);
    grid_text(g, y, (g->cols - grid_text_width(line)) / 2, g->cols, line, COLOUR_RED, GRID_BOLD);
    snprintf(line, sizeof line, _("conctui needs at least %dx%d."), DRAW_MIN_COLS, DRAW_MIN_ROWS);
    grid_text(g, y + 1, (g->cols - grid_text_width(line)) / 2, g->cols, line, 0, 0);
    snprintf(line, sizeof line, "%s", _("Enlarge the window, or press q to quit."));
    grid_text(g, y + 2, (g->cols - grid_text_width(line)) / 2, g->cols, line, 0, 0);
}

static void draw_header(struct app *a, struct grid *g)
{
    const struct scene_entry *e = a->scene;
    char buf[256];
    grid_fill(g, 0, 0, g->cols, L' ', 0, GRID_REVERSE);
    snprintf(buf, sizeof buf, _(" conctui | scene %d/%d %s: %s | mode %d/%d: %s"),
             scene_index(e) + 1, scene_count(), e->name, _(e->title), a->ctx.mode + 1, e->nmodes,
             _(e->modes[a->ctx.mode].title));
    /* The scene's status (the reactor's address) keeps its place at the right, before the hint. */
    char status[64] = "";
    if (e->status && a->running && !a->replay)
        e->status(&a->ctx, status, sizeof status);
    const char *hint = _("? help  q quit ");
    int hw = grid_text_width(hint), right = g->cols - hw;
    grid_text(g, 0, right, hw, hint, 0, GRID_REVERSE);
    if (status[0]) {
        int sw = grid_text_width(status) + 3;
        if (sw < right / 2) {
            right -= sw;
            grid_text(g, 0, right + 1, sw - 1, status, COLOUR_YELLOW, GRID_REVERSE | GRID_BOLD);
        }
    }
    grid_text(g, 0, 0, right - 1, buf, 0, GRID_REVERSE | GRID_BOLD);
}

wchar_t draw_cell_glyph(const struct tl_cell *c, int ascii)
{
    /*
     * Running for less than half the column: a left half block (not a gauge's
     * lower one), so short work still shows.
     */
    if (c->state == TRACE_RUN && (c->flags & TL_PART))
        return ascii ? L':' : L'\u258c';
    return state_glyph(c->state, ascii);
}

/*
 * The states some state lane has been in so far (a bit per state), all of
 * them before the first event; *gauge says whether there is a gauge lane.
 */
static unsigned legend_states(const struct history *h, uint64_t now, bool *gauge)
{
    unsigned seen = 0;
    *gauge = false;
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        if (l->kind == TRACE_LANE_GAUGE) {
            *gauge = true;
            continue;
        }
        uint64_t tot[TRACE_NSTATES];
        history_totals(l, now, tot);
        for (unsigned s = 0; s < TRACE_NSTATES; s++)
            if (tot[s])
                seen |= 1u << s;
        if (l->count > 0 && TRACE_STATE_OF(l->last.state) < TRACE_NSTATES)
            seen |= 1u << TRACE_STATE_OF(l->last.state);
    }
    return seen ? seen : (1u << TRACE_NSTATES) - 1;
}

/*
 * The legend: glyph and name of every state the lanes have shown, in the
 * states' rank order, two spaces apart, or one when two do not fit; what
 * still does not fit is left out behind an ellipsis.
 */
static void draw_legend(const struct app *a, struct grid *g, int y, const struct draw_opts *o,
                        uint64_t now)
{
    /* Entries: the states in rank order, "ran briefly" after run, the gauge. */
    enum { LEGEND_BRIEF = TRACE_NSTATES };
    bool gauge;
    unsigned seen = legend_states(&a->hist, now, &gauge), ent[TRACE_NSTATES + 2];
    int n = 0, w[TRACE_NSTATES + 2], need = 0;
    for (int i = 0; i < TRACE_NSTATES; i++)
        if (seen & (1u << state_by_rank(i))) {
            ent[n++] = state_by_rank(i);
            if (state_by_rank(i) == TRACE_RUN)
                ent[n++] = LEGEND_BRIEF;
        }
    if (gauge)
        ent[n++] = TRACE_GAUGE;
    for (int i = 0; i < n; i++) {
        const char *name = ent[i] == TRACE_GAUGE    ? _("gauge")
                           : ent[i] == LEGEND_BRIEF ? _("ran briefly")
                                                    : _(state_info(ent[i])->name);
        w[i] = 2 + grid_text_width(name);
        need += w[i];
    }
    int gap = 1 + need + 2 * (n - 1) <= g->cols ? 2 : 1;
    const char *more = o->ascii ? "..." : "\u2026";
    int show = n, x = 1;
    if (1 + need + gap * (n - 1) > g->cols) {
        /* As many as leave room for the ellipsis after them. */
        int end = 1;
        for (show = 0; show < n && end + w[show] + gap + grid_text_width(more) <= g->cols; show++)
            end += w[show] + gap;
    }
    for (int i = 0; i < show; i++) {
        unsigned s = ent[i];
        const char *name;
        if (s == TRACE_GAUGE) {
            /* A full bar in ASCII ('@'): the middle ones are state glyphs there. */
            grid_put(g, y, x, state_gauge_glyph(o->ascii ? 8 : 5, 8, o->ascii), COLOUR_CYAN, 0);
            name = _("gauge");
        } else if (s == LEGEND_BRIEF) {
            struct tl_cell part = {.state = TRACE_RUN, .flags = TL_PART};
            grid_put(g, y, x, draw_cell_glyph(&part, o->ascii), state_info(TRACE_RUN)->colour, 0);
            name = _("ran briefly");
        } else {
            grid_put(g, y, x, state_glyph(s, o->ascii), state_info(s)->colour, 0);
            name = _(state_info(s)->name);
        }
        grid_text(g, y, x + 2, g->cols - x - 2, name, 0, GRID_DIM);
        x += w[i] + gap;
    }
    if (show < n)
        grid_text(g, y, x, g->cols - x, more, 0, GRID_DIM);
}

/* The time window the view shows, as a timeline view. */
static struct tl_view make_view(struct app *a, int width, uint64_t now)
{
    struct tl_view v = {0};
    v.width = width;
    v.ns_per_col = a->view.ns_per_col;
    /* Live, the present is the last column; paused, t_right is. Both on whole columns. */
    v.now = a->view.live && now < a->hist.t_end ? now : a->hist.t_end;
    v.t_start = timeline_live_start(a->hist.t0, a->view.live ? v.now : a->view.t_right,
                                    v.ns_per_col, width);
    return v;
}

const char *draw_lane_label(const char *name, char *buf, unsigned len)
{
    /* "clerk 3" is shown through the message "clerk %d": numbers out, translate, numbers back. */
    char key[96];
    int num[3], n = 0;
    unsigned k = 0;
    for (const char *p = name; *p && k + 3 < sizeof key; p++) {
        if (*p >= '0' && *p <= '9' && n < 3) {
            num[n++] = atoi(p);
            while (p[1] >= '0' && p[1] <= '9')
                p++;
            key[k++] = '%';
            key[k++] = 'd';
        } else if (*p == '%') {
            key[k++] = '%';
            key[k++] = '%';
        } else {
            key[k++] = *p;
        }
    }
    key[k] = '\0';
    const char *t = _(key);
    if (t == key || !strcmp(t, key))
        return name;
    /* The catalogue's formats are checked against their msgids (msgfmt -c): same %d count. */
    snprintf(buf, len, t, n > 0 ? num[0] : 0, n > 1 ? num[1] : 0, n > 2 ? num[2] : 0);
    return buf;
}

/* One lane, `rows` rows tall: the name on the first, the same cells on each. */
static void draw_lane(struct app *a, struct grid *g, int y0, int rows, int lane,
                      const struct tl_view *v, const struct draw_opts *o, struct tl_cell *cells)
{
    const struct history_lane *l = &a->hist.lane[lane];
    bool focus = a->view.focus_lane == lane;
    for (int r = 0; r < rows; r++) {
        if (focus)
            grid_fill(g, y0 + r, 0, NAME_W - 1, L' ', COLOUR_WHITE, GRID_REVERSE);
        grid_put(g, y0 + r, NAME_W, o->ascii ? L'|' : L'\u2502', 0, GRID_DIM);
    }
    char label[96];
    grid_text(g, y0, 0, NAME_W - 1, draw_lane_label(l->name, label, sizeof label),
              focus ? COLOUR_WHITE : 0, focus ? GRID_REVERSE | GRID_BOLD : 0);
    timeline_layout(l, v, cells);
    int cursor_col = -1, step_col = -1;
    if (a->replay && a->view.cursor && a->view.cursor >= v->t_start)
        cursor_col = (int)((a->view.cursor - v->t_start) / v->ns_per_col);
    /* The cell a freeze step just changed, picked out on its own lane. */
    if (a->view.step_lane == lane && a->view.step_t >= v->t_start)
        step_col = (int)((a->view.step_t - v->t_start) / v->ns_per_col);
    for (int c = 0; c < v->width; c++) {
        const struct tl_cell *cell = &cells[c];
        int x = NAME_W + 1 + c;
        unsigned mark = c == cursor_col ? GRID_REVERSE
                        : c == step_col ? GRID_REVERSE | GRID_BOLD
                                        : 0;
        unsigned attr = mark;
        for (int r = 0; r < rows; r++) {
            int y = y0 + r;
            if (cell->flags & TL_EMPTY) {
                grid_put(g, y, x, L' ', 0, mark);
            } else if (cell->state == TRACE_GAUGE) {
                /* A tall gauge is one bar over all its rows: eight steps a row. */
                uint32_t max = l->gauge_max ? l->gauge_max : 1, val = cell->value;
                uint32_t lvl =
                    (uint32_t)(((uint64_t)(val > max ? max : val) * 8u * (unsigned)rows + max - 1) /
                               max);
                int below = 8 * (rows - 1 - r);
                uint32_t here = lvl > (uint32_t)below ? lvl - (uint32_t)below : 0;
                grid_put(g, y, x, state_gauge_glyph(here > 8 ? 8 : here, 8, o->ascii), COLOUR_CYAN,
                         attr);
            } else {
                grid_put(g, y, x, draw_cell_glyph(cell, o->ascii), state_info(cell->state)->colour,
                         attr);
            }
        }
    }
}

static void draw_axis(struct app *a, struct grid *g, int y, const struct tl_view *v,
                      const struct draw_opts *o)
{
    char buf[32], zoom[16];
    timeline_fmt_ns(zoom, sizeof zoom, v->ns_per_col);
    snprintf(buf, sizeof buf, "%s/col", zoom);
    grid_text(g, y, 0, NAME_W - 1, buf, 0, GRID_DIM);
    /* An arrow under the replay cursor, or under the cell the last step changed. */
    uint64_t mark = a->replay ? a->view.cursor : a->view.step_lane >= 0 ? a->view.step_t : 0;
    int mc = -1;
    if (mark && mark >= v->t_start && (mark - v->t_start) / v->ns_per_col < (uint64_t)v->width)
        mc = (int)((mark - v->t_start) / v->ns_per_col);
    struct tl_label lab[128];
    int n = timeline_axis(v, a->hist.t0, lab, 128);
    for (int i = 0; i < n; i++) {
        int c = lab[i].col, w = grid_text_width(lab[i].text);
        if (mc >= c && mc <= c + w)
            continue; /* the arrow takes this label's place */
        grid_put(g, y, NAME_W + 1 + c, o->ascii ? L'|' : L'\u2575', 0, GRID_DIM);
        if (c + 1 + w <= v->width)
            grid_text(g, y, NAME_W + 2 + c, w, lab[i].text, 0, GRID_DIM);
    }
    if (mc >= 0)
        grid_put(g, y, NAME_W + 1 + mc, o->ascii ? L'^' : L'\u25b2', COLOUR_YELLOW, GRID_BOLD);
}

void draw_fmt_spread(char *buf, unsigned len, const struct scene_stat *s)
{
    char lo[32], hi[32];
    draw_fmt_value(lo, sizeof lo, s->lo);
    draw_fmt_value(hi, sizeof hi, s->hi);
    if (s->lo < 0)
        snprintf(buf, len, _("(%s to %s, %d rounds)"), lo, hi, s->rounds);
    else
        snprintf(buf, len, _("(%s-%s, %d rounds)"), lo, hi, s->rounds);
}

/* Whether figure s is said to be unreliable: an unsteady spread, or a busy machine. */
static bool stat_doubtful(const struct app *a, const struct scene_stat *s)
{
    return s->rounds > 0 && (scene_stat_unsteady(s) || (a->running && a->load.busy));
}

/* "1.84 x (1.71-1.93, 9 rounds)" and the spread alone, for a figure measured over rounds. */
static void stat_texts(const struct app *a, const struct scene_stat *s, char *val, unsigned vlen,
                       char *spread, unsigned slen)
{
    draw_fmt_value(val, vlen, s->value);
    draw_fmt_spread(spread, slen, s);
    if (stat_doubtful(a, s)) {
        size_t n = strlen(spread);
        snprintf(spread + n, slen - n, "!");
    }
}

/* Lines figure s takes in a column cw wide: 2 when its spread goes under it. */
static int stat_lines(const struct app *a, const struct scene_stat *s, int cw)
{
    if (s->rounds <= 0)
        return 1;
    char val[32], spread[96];
    stat_texts(a, s, val, sizeof val, spread, sizeof spread);
    int right = grid_text_width(val) + 1 + grid_text_width(s->unit) + (s->unit[0] ? 1 : 0) +
                grid_text_width(spread);
    return grid_text_width(s->name) + 1 + right <= cw - 2 ? 1 : 2;
}

/* How many figures, from the first, fit in ncol columns of `rows` lines (less `keep` lines). */
static int stats_fit(const struct app *a, int rows, int ncol, int cw, int keep)
{
    int line = 0, cap = rows * ncol - keep;
    for (int i = 0; i < a->stats.n; i++) {
        int need = stat_lines(a, &a->stats.s[i], cw);
        if (line % rows + need > rows) /* a figure stays in one column */
            line += rows - line % rows;
        if (line + need > cap)
            return i;
        line += need;
    }
    return a->stats.n;
}

static void draw_stat(const struct app *a, struct grid *g, int y, int x, int cw,
                      const struct scene_stat *s, int lines)
{
    char val[32], line[96], spread[96];
    if (s->rounds <= 0 || lines == 2) {
        draw_fmt_value(val, sizeof val, s->value);
        grid_text(g, y, x, cw - 19, s->name, 0, 0);
        snprintf(line, sizeof line, "%8s %-8.8s", val, s->unit);
        grid_text(g, y, x + cw - 19, 17, line, COLOUR_WHITE, GRID_BOLD);
        if (s->rounds <= 0)
            return;
    }
    stat_texts(a, s, val, sizeof val, spread, sizeof spread);
    bool doubt = stat_doubtful(a, s);
    unsigned colour = doubt ? COLOUR_YELLOW : 0, attr = doubt ? GRID_BOLD : GRID_DIM;
    int sw = grid_text_width(spread);
    if (lines == 2) {
        int sx = x + cw - 2 - sw;
        grid_text(g, y + 1, sx > x + 2 ? sx : x + 2, cw - 4, spread, colour, attr);
        return;
    }
    snprintf(line, sizeof line, "%s%s%s", val, s->unit[0] ? " " : "", s->unit);
    int lw = grid_text_width(line), rx = x + cw - 2 - sw - 1 - lw;
    grid_text(g, y, x, rx - x, s->name, 0, 0);
    grid_text(g, y, rx, lw, line, COLOUR_WHITE, GRID_BOLD);
    grid_text(g, y, rx + lw + 1, sw, spread, colour, attr);
}

static void draw_stats(struct app *a, struct grid *g, int y0, int h, int w)
{
    int used = grid_text(g, y0, 1, w - 2, _("Stats"), 0, GRID_BOLD | GRID_UNDERLINE);
    bool doubt = false;
    for (int i = 0; i < a->stats.n && !doubt; i++)
        doubt = stat_doubtful(a, &a->stats.s[i]);
    if (doubt) {
        char why[96];
        snprintf(why, sizeof why, "  ! %s",
                 a->running && a->load.busy ? _("machine busy") : _("wide spread"));
        grid_text(g, y0, 1 + used, w - 2 - used, why, COLOUR_YELLOW, GRID_BOLD);
    }
    int rows = h - 1;
    if (rows < 1)
        return;
    int ncol = 1, lines = 0;
    for (int i = 0; i < a->stats.n; i++)
        lines += stat_lines(a, &a->stats.s[i], w);
    if (lines > rows && w >= 2 * 38)
        ncol = 2;
    int cw = w / ncol;
    int fit = stats_fit(a, rows, ncol, cw, 0);
    if (fit < a->stats.n || a->stats.dropped)
        fit = stats_fit(a, rows, ncol, cw, 1); /* the last line says what is left out */
    int line = 0;
    for (int i = 0; i < fit; i++) {
        const struct scene_stat *s = &a->stats.s[i];
        int need = stat_lines(a, s, cw);
        if (line % rows + need > rows)
            line += rows - line % rows;
        draw_stat(a, g, y0 + 1 + line % rows, 1 + (line / rows) * cw, cw, s, need);
        line += need;
    }
    int hidden = a->stats.n - fit + a->stats.dropped;
    if (hidden > 0) {
        char buf[96];
        snprintf(buf, sizeof buf, _("%d figures not shown"), hidden);
        grid_text(g, y0 + rows, 1 + (ncol - 1) * cw, cw - 2, buf, COLOUR_YELLOW, GRID_BOLD);
    }
}

struct wrap_ctx {
    struct grid *g;
    int y, x, w, ymax;
    unsigned attr;
};

static void wrap_emit(void *arg, const char *line, int len)
{
    struct wrap_ctx *c = arg;
    if (c->y >= c->ymax)
        return;
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", len, line);
    grid_text(c->g, c->y++, c->x, c->w, buf, 0, c->attr);
}

/* Words for a note id: the scene's, or the recording's when replaying. */
static const char *draw_note(const struct app *a, unsigned note)
{
    if (a->replay && a->meta)
        return (int)note < a->meta->nnotes && a->meta->notes[note][0] ? _(a->meta->notes[note])
                                                                      : "";
    return note && (int)note < a->scene->nnotes && a->scene->notes[note] && *a->scene->notes[note]
               ? _(a->scene->notes[note])
               : "";
}

/* A state word in words: the scene's note for it, else the state's own label. */
static const char *draw_state_words(const struct app *a, unsigned word)
{
    const char *note = draw_note(a, TRACE_NOTE_OF(word));
    return *note ? note : _(state_info(TRACE_STATE_OF(word))->label);
}

/* "cpu 1: waiting for the GIL -> holds the GIL": what the last step (or the replay cursor) moved.
 */
static void draw_transition(const struct app *a, char *buf, unsigned len, int lane, unsigned from,
                            unsigned to)
{
    char label[96];
    const char *name = draw_lane_label(a->hist.lane[lane].name, label, sizeof label);
    if (from == 0xffff)
        snprintf(buf, len, _("%s: starts %s"), name, draw_state_words(a, to));
    else
        snprintf(buf, len, _("%s: %s → %s"), name, draw_state_words(a, from),
                 draw_state_words(a, to));
}

static void draw_inspector(struct app *a, struct grid *g, int y0, int x0, int h, int w,
                           uint64_t now)
{
    const struct history_lane *l = &a->hist.lane[a->view.focus_lane];
    char buf[160];
    char label[96];
    snprintf(buf, sizeof buf, _("Lane: %s"), draw_lane_label(l->name, label, sizeof label));
    grid_text(g, y0, x0, w, buf, 0, GRID_BOLD | GRID_UNDERLINE);
    int y = y0 + 1;
    if (l->count == 0) {
        grid_text(g, y, x0, w, _("no events yet"), 0, GRID_DIM);
        return;
    }
    /* Live: the lane's latest event. Replay: the event at the cursor. */
    const struct trace_event *e = &l->last;
    if (a->replay) {
        now = a->view.cursor ? a->view.cursor : a->hist.t_end;
        long k = history_find(l, now);
        e = k >= 0 ? history_at(l, (size_t)k) : history_at(l, 0);
    }
    unsigned st = TRACE_STATE_OF(e->state), note = TRACE_NOTE_OF(e->state);
    const char *words = draw_note(a, note);
    char since[16];
    timeline_fmt_ns(since, sizeof since, now > e->t ? now - e->t : 0);
    if (l->kind == TRACE_LANE_GAUGE)
        snprintf(buf, sizeof buf, _("%s: %u of %u"), a->replay ? _("at cursor") : _("now"), e->arg,
                 l->gauge_max);
    else
        snprintf(buf, sizeof buf, _("%s: %s%s%s for %s (arg %u)"),
                 a->replay ? _("at cursor") : _("now"), _(state_info(st)->label),
                 *words ? " - " : "", words, since, e->arg);
    grid_text(g, y++, x0, w, buf, 0, 0);
    snprintf(buf, sizeof buf, _("transitions: %llu  events kept: %zu"),
             (unsigned long long)l->transitions, history_kept(l));
    grid_text(g, y++, x0, w, buf, 0, 0);
    if (l->kind == TRACE_LANE_GAUGE)
        return;
    uint64_t tot[TRACE_NSTATES], sum = 0;
    history_totals(l, now > a->hist.t_end ? a->hist.t_end : now, tot);
    for (int s = 0; s < TRACE_NSTATES; s++)
        sum += tot[s];
    int x = x0;
    for (int s = 0; s < TRACE_NSTATES && sum; s++) {
        if (!tot[s])
            continue;
        snprintf(buf, sizeof buf, "%s %.1f%%", _(state_info((unsigned)s)->name),
                 100.0 * (double)tot[s] / (double)sum);
        int bw = grid_text_width(buf);
        if (x + bw > x0 + w) {
            x = x0;
            if (++y >= y0 + h)
                return;
        }
        grid_text(g, y, x, bw, buf, state_info((unsigned)s)->colour, 0);
        x += bw + 2;
    }
}

/* The mode's narration, or on a tour the step's words with the mode's below them. */
static void draw_narration(struct app *a, struct grid *g, int y0, int x0, int h, int w)
{
    const struct scene_mode *m = &a->scene->modes[a->ctx.mode];
    struct wrap_ctx c = {g, y0 + 1, x0, w, y0 + h, 0};
    if (a->tour) {
        const struct tour_step *s = &a->tour->step[a->tour_step];
        char buf[160];
        snprintf(buf, sizeof buf, _("Tour %d/%d: %s"), a->tour_step + 1, a->tour->n, s->title);
        grid_text(g, y0, x0, w, buf, COLOUR_CYAN, GRID_BOLD | GRID_UNDERLINE);
        if (s->text)
            grid_wrap(s->text, w, wrap_emit, &c);
        if (c.y + 2 >= c.ymax)
            return;
        grid_text(g, ++c.y, x0, w, _(m->title), 0, GRID_BOLD);
        c.y++;
        c.attr = GRID_DIM;
    } else {
        grid_text(g, y0, x0, w, _(m->title), 0, GRID_BOLD | GRID_UNDERLINE);
    }
    grid_wrap(_(m->narration), w, wrap_emit, &c);
}

static void draw_status(struct app *a, struct grid *g, uint64_t now)
{
    const struct scene_entry *e = a->scene;
    int y = g->rows - 2, x = 1;
    a->geom.params_y = y;
    for (int i = 0; i < e->nparams; i++) {
        char buf[64];
        const struct scene_param *p = &e->params[i];
        if (p->flags & SCENE_P_BOOL)
            snprintf(buf, sizeof buf, "%s=%s", p->name, a->params[i] ? _("on") : _("off"));
        else
            snprintf(buf, sizeof buf, "%s=%lld", p->name, (long long)a->params[i]);
        int bw = grid_text_width(buf);
        if (x + bw >= g->cols)
            break;
        bool sel = i == a->view.sel_param;
        a->geom.params_x[i] = x;
        a->geom.params_w[i] = bw;
        grid_text(g, y, x, bw, buf, sel ? COLOUR_YELLOW : 0, sel ? GRID_REVERSE : 0);
        x += bw + 2;
    }
    y = g->rows - 1;
    char buf[256], zoom[16], note[SCENE_NOTE_MAX];
    timeline_fmt_ns(zoom, sizeof zoom, a->view.ns_per_col);
    const char *view = a->view.live ? _("LIVE") : _("PAUSED");
    if (a->replay) {
        char at[32];
        snprintf(at, sizeof at, "%s", _("start"));
        /* The cursor's time as precise as a column, and the event under it. */
        if (a->view.cursor)
            timeline_axis_text(at, sizeof at, a->view.cursor - a->hist.t0, a->view.ns_per_col);
        snprintf(buf, sizeof buf, _(" REPLAY | . next event , previous | cursor at %s"), at);
        int used = grid_text(g, y, 0, g->cols, buf, COLOUR_CYAN, GRID_BOLD);
        int cl = a->view.cursor_lane;
        if (a->view.cursor && cl >= 0 && cl < a->hist.nlanes) {
            const struct history_lane *l = &a->hist.lane[cl];
            long k = history_find(l, a->view.cursor);
            if (k >= 0) {
                char what[200];
                unsigned to = history_at(l, (size_t)k)->state;
                unsigned from = k > 0 ? history_at(l, (size_t)k - 1)->state : 0xffff;
                draw_transition(a, what, sizeof what, cl, from, to);
                snprintf(buf, sizeof buf, " | %s", what);
                used += grid_text(g, y, used, g->cols - used, buf, COLOUR_YELLOW, GRID_BOLD);
            }
        }
        bool fresh = a->msg[0] && now - a->msg_at < 5000000000ull;
        if (fresh) {
            snprintf(buf, sizeof buf, " | %s", a->msg);
            grid_text(g, y, used, g->cols - used, buf, COLOUR_RED, 0);
        }
        return;
    }
    if (trace_frozen())
        snprintf(buf, sizeof buf, _(" %s | FROZEN %.1f s (%u parked) | x%d"), view,
                 (double)app_frozen_ns(a, now) / 1e9, trace_parked(), a->slowmo);
    else if (!a->running)
        snprintf(buf, sizeof buf, _(" STOPPED | x%d"), a->slowmo);
    else
        snprintf(buf, sizeof buf, _(" %s | workers running | x%d"), view, a->slowmo);
    if (a->tour) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, _(" | tour %d/%d: Enter next, < back"), a->tour_step + 1,
                 a->tour->n);
    }
    int used =
        grid_text(g, y, 0, g->cols, buf, trace_frozen() ? COLOUR_MAGENTA : COLOUR_GREEN, GRID_BOLD);
    uint64_t dropped = trace_dropped();
    if (dropped) {
        snprintf(buf, sizeof buf, _(" | %llu events dropped"), (unsigned long long)dropped);
        used += grid_text(g, y, used, g->cols - used, buf, COLOUR_RED, GRID_BOLD);
    }
    if (trace_frozen()) {
        /* What the last step moved, or how to take one. */
        const struct app_view *v = &a->view;
        char what[200];
        if (v->step_lane >= 0 && v->step_lane < a->hist.nlanes)
            draw_transition(a, what, sizeof what, v->step_lane, v->step_from, v->step_to);
        else
            snprintf(what, sizeof what, "%s", _(". lets one transition through"));
        snprintf(buf, sizeof buf, " | %s", what);
        used += grid_text(g, y, used, g->cols - used, buf, COLOUR_YELLOW, GRID_BOLD);
    } else if (a->frozen_ns) {
        snprintf(buf, sizeof buf, _(" | was frozen %.1f s: the scene's figures include it"),
                 (double)a->frozen_ns / 1e9);
        used += grid_text(g, y, used, g->cols - used, buf, COLOUR_MAGENTA, 0);
    }
    scene_note_get(&a->ctx, note, sizeof note);
    bool fresh = a->msg[0] && now - a->msg_at < 5000000000ull;
    char tail[256] = "";
    if (fresh || note[0])
        snprintf(tail, sizeof tail, " | %s", fresh ? a->msg : note);
    if (a->running && a->load.busy) {
        snprintf(buf, sizeof buf, _(" | machine busy: other programs use %.1f of %d CPUs"),
                 a->load.other, a->load.last.cpus);
        /* The short form when the whole one would push a message or note off the line. */
        if (tail[0] && used + grid_text_width(buf) + grid_text_width(tail) > g->cols)
            snprintf(buf, sizeof buf, " | %s", _("machine busy"));
        used += grid_text(g, y, used, g->cols - used, buf, COLOUR_YELLOW, GRID_BOLD);
    }
    if (tail[0])
        grid_text(g, y, used, g->cols - used, tail, fresh ? COLOUR_RED : COLOUR_YELLOW, 0);
}

/*
 * The help overlay: the key table's lines for the keys in force (the
 * scene's own first), in as few columns as fit on one page, or in pages
 * of the most columns that fit (the help's keys page through them). Text
 * wraps at spaces; a word wider than its column ends with an ellipsis.
 */
#define HELP_COL_MIN 40
#define HELP_COL_MAX 76
#define HELP_GAP 3
#define HELP_KEY_MAX 16

/* Columns of the first len bytes of UTF-8 text (len < 0: all of it). */
static int help_cols(const char *s, int len, int *bytes_fit, int maxw)
{
    mbstate_t ms = {0};
    int cols = 0, i = 0;
    if (len < 0)
        len = (int)strlen(s);
    if (bytes_fit)
        *bytes_fit = len;
    while (i < len) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s + i, (size_t)(len - i), &ms);
        if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
            n = 1;
            wc = L'?';
            memset(&ms, 0, sizeof ms);
        }
        int w = wcwidth(wc);
        w = w < 0 ? 1 : w;
        if (bytes_fit && cols + w > maxw) {
            *bytes_fit = i;
            return cols;
        }
        cols += w;
        i += (int)n;
    }
    return cols;
}

/*
 * Wrap s into lines of at most w columns at spaces: calls put (when not
 * NULL) with each line, cut set when a word had to end with an ellipsis.
 * Returns the number of lines.
 */
static int help_wrap(const char *s, int w,
                     void (*put)(void *arg, const char *line, int len, bool cut), void *arg)
{
    int lines = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        int len = 0, cols = 0;
        bool cut = false;
        for (;;) {
            const char *word = s + len;
            int sp = *word == ' ' ? 1 : 0;
            int wl = (int)strcspn(word + sp, " ");
            if (wl == 0)
                break;
            int wc = help_cols(word + sp, wl, NULL, 0);
            if (cols + (len ? sp : 0) + wc <= w) {
                cols += (len ? sp : 0) + wc;
                len += sp + wl;
                continue;
            }
            if (len == 0) { /* one word wider than the line: it ends with an ellipsis */
                int fit;
                help_cols(word + sp, wl, &fit, w - 1);
                len = sp + wl;
                if (put)
                    put(arg, word + sp, fit, true);
                lines++;
                cut = true;
            }
            break;
        }
        if (!cut) {
            if (put)
                put(arg, s, len, false);
            lines++;
        }
        s += len;
    }
    return lines ? lines : 1;
}

struct help_paint {
    struct grid *g;
    int y, x, w;
};

static void help_put(void *arg, const char *line, int len, bool cut)
{
    struct help_paint *p = arg;
    char buf[600];
    snprintf(buf, sizeof buf, "%.*s", len, line);
    int used = grid_text(p->g, p->y, p->x, p->w, buf, 0, GRID_REVERSE);
    if (cut)
        grid_put(p->g, p->y, p->x + used, MB_CUR_MAX > 1 ? L'\u2026' : L'~', 0, GRID_REVERSE);
    p->y++;
}

struct help_shape {
    int ncol, colw, keyw, rows; /* columns, their width, the keys' width, rows a column holds */
};

/*
 * Lay the lines out (page `paint` drawn into g at y0, x0 when g is not
 * NULL). Returns the number of pages; *used: the most rows a column took.
 */
static int help_pass(const struct key_item *it, int n, const char *heads[2],
                     const struct help_shape *sh, struct grid *g, int paint, int y0, int x0,
                     int *used)
{
    int page = 0, col = 0, y = 0, tw = sh->colw - sh->keyw - 2;
    *used = 0;
    for (int i = 0; i < n; i++) {
        bool head = i == 0 || it[i].scene != it[i - 1].scene;
        int h = help_wrap(it[i].text, tw, NULL, NULL) + (head ? 1 + (y > 0) : 0);
        if (y > 0 && y + h > sh->rows) {
            y = 0;
            if (++col == sh->ncol) {
                col = 0;
                page++;
            }
            head = true; /* a column starts with its section's heading, again if need be */
        }
        int x = x0 + col * (sh->colw + HELP_GAP);
        if (head) {
            if (y > 0)
                y++;
            if (g && page == paint)
                grid_text(g, y0 + y, x, sh->colw, heads[it[i].scene ? 0 : 1], 0,
                          GRID_REVERSE | GRID_BOLD | GRID_UNDERLINE);
            y++;
        }
        if (g && page == paint) {
            int kl = grid_text(g, y0 + y, x, sh->keyw, it[i].label, 0, GRID_REVERSE | GRID_BOLD);
            if (kl < grid_text_width(it[i].label))
                grid_put(g, y0 + y, x + sh->keyw - 1, MB_CUR_MAX > 1 ? L'\u2026' : L'~', 0,
                         GRID_REVERSE | GRID_BOLD);
            struct help_paint p = {g, y0 + y, x + sh->keyw + 2, tw};
            help_wrap(it[i].text, tw, help_put, &p);
        }
        y += help_wrap(it[i].text, tw, NULL, NULL);
        if (y > *used)
            *used = y;
    }
    return page + 1;
}

static void draw_help(struct app *a, struct grid *g)
{
    const struct scene_entry *e = a->scene;
    unsigned ctx = a->replay ? KEY_REPLAY : a->tour ? KEY_LIVE | KEY_TOUR : KEY_LIVE;
    static struct key_item it[KEYS_MAX];
    int n = keys_items(app_bindings, app_nbindings, e, ctx, it, KEYS_MAX);
    char scene_head[160];
    snprintf(scene_head, sizeof scene_head, _("The scene's own keys (%s)"), e->name);
    const char *heads[2] = {scene_head, _("The program's keys")};

    struct help_shape sh = {.ncol = 1, .keyw = 1};
    for (int i = 0; i < n; i++) {
        int w = grid_text_width(it[i].label);
        sh.keyw = w > sh.keyw ? w : sh.keyw;
    }
    sh.keyw = sh.keyw > HELP_KEY_MAX ? HELP_KEY_MAX : sh.keyw;
    int inner = g->cols - 4, body = g->rows - 3; /* title, blank, ..., footer */
    int maxcol = (inner + HELP_GAP) / (HELP_COL_MIN + HELP_GAP);
    maxcol = maxcol < 1 ? 1 : maxcol;
    int pages = 0, used = 0, best_pages = 0;
    struct help_shape best = sh;
    for (int c = 1; c <= maxcol; c++) {
        sh.ncol = c;
        sh.colw = (inner - (c - 1) * HELP_GAP) / c;
        sh.colw = sh.colw > HELP_COL_MAX ? HELP_COL_MAX : sh.colw;
        sh.rows = body;
        pages = help_pass(it, n, heads, &sh, NULL, 0, 0, 0, &used);
        if (!best_pages || pages < best_pages) {
            best = sh;
            best_pages = pages;
        }
        if (pages == 1)
            break;
    }
    sh = best;
    pages = best_pages;
    /* On one page, the columns as even as they go. */
    while (pages == 1 && sh.rows > 1) {
        struct help_shape t = sh;
        t.rows--;
        if (help_pass(it, n, heads, &t, NULL, 0, 0, 0, &used) != 1)
            break;
        sh = t;
    }
    help_pass(it, n, heads, &sh, NULL, 0, 0, 0, &used);
    a->geom.help_pages = pages;
    int page = a->view.help_page < pages ? a->view.help_page : pages - 1;

    int w = sh.ncol * sh.colw + (sh.ncol - 1) * HELP_GAP + 4;
    int h = pages > 1 ? g->rows : used + 3;
    w = w > g->cols ? g->cols : w;
    h = h > g->rows ? g->rows : h;
    int y0 = (g->rows - h) / 2, x0 = (g->cols - w) / 2;
    for (int y = y0; y < y0 + h; y++)
        grid_fill(g, y, x0, w, L' ', 0, GRID_REVERSE);

    char title[200], right[64] = "";
    snprintf(title, sizeof title, _("Keys: %s"), e->name);
    if (ctx == KEY_REPLAY || (ctx & KEY_TOUR)) {
        size_t l = strlen(title);
        snprintf(title + l, sizeof title - l, " %s",
                 ctx == KEY_REPLAY ? _("(a recording)") : _("(on a tour)"));
    }
    if (pages > 1)
        snprintf(right, sizeof right, _("page %d/%d"), page + 1, pages);
    int rw = grid_text_width(right);
    grid_text(g, y0, x0 + 2, w - 4 - (rw ? rw + 2 : 0), title, 0, GRID_REVERSE | GRID_BOLD);
    if (rw)
        grid_text(g, y0, x0 + w - 2 - rw, rw, right, 0, GRID_REVERSE | GRID_BOLD);
    help_pass(it, n, heads, &sh, g, page, y0 + 2, x0 + 2, &used);

    /* The footer: the keys the help itself takes (the table's KEY_HELP lines). */
    char foot[300] = "";
    if (pages > 1) {
        struct key_item hk[8];
        int nh = keys_items(app_bindings, app_nbindings, NULL, KEY_HELP, hk, 8);
        const char *next = "", *prev = "";
        for (int i = 0; i < nh; i++) {
            if (strstr(hk[i].label, "PgDn"))
                next = hk[i].label;
            else if (strstr(hk[i].label, "PgUp"))
                prev = hk[i].label;
        }
        snprintf(foot, sizeof foot, _("%s: next page, %s: previous page, other keys close"), next,
                 prev);
    } else {
        snprintf(foot, sizeof foot, "%s", _("any key closes this help"));
    }
    struct help_paint p = {g, y0 + h - 1, x0 + 2, w - 4};
    char line[300];
    int fit;
    help_cols(foot, -1, &fit, w - 4);
    snprintf(line, sizeof line, "%.*s", fit, foot);
    help_wrap(foot, w - 4, NULL, NULL) > 1 ? help_wrap(line, w - 4, help_put, &p)
                                           : help_wrap(foot, w - 4, help_put, &p);
}

void draw_frame(struct app *a, struct grid *g, const struct draw_opts *o, uint64_t now)
{
    grid_clear(g);
    a->geom.nshown = 0;
    if (g->cols < DRAW_MIN_COLS || g->rows < DRAW_MIN_ROWS) {
        draw_too_small(g);
        return;
    }
    if (!a->scene) {
        grid_text(g, 0, 0, g->cols, _("no scene running (q quits)"), COLOUR_RED, 0);
        return;
    }
    int width = draw_timeline_width(a, g->cols);
    if (a->view.ns_per_col == 0) {
        /* A scene without a time scale of its own: ten seconds a screen. */
        uint64_t span = a->replay ? a->hist.t_end - a->hist.t0 + 1 : 10000000000ull;
        a->view.ns_per_col = app_zoom_for(span, width);
        if (a->view.ns_per_col * (uint64_t)width < span)
            a->view.ns_per_col = timeline_zoom_step(a->view.ns_per_col, 1);
    }
    draw_header(a, g);
    draw_legend(a, g, 1, o, now);

    /* Lanes get the rows they need; the stats and narration get the rest. */
    int want_rows = a->view.lane_rows < 1 ? 1 : a->view.lane_rows > 3 ? 3 : a->view.lane_rows;
    int fixed = 2 + 1 + 2, spare = g->rows - fixed - a->hist.nlanes * want_rows - 1;
    int bottom = spare < 8 ? 8 : spare > g->rows / 2 ? g->rows / 2 : spare;
    int ccols = canvas_cols(a, g->cols);
    if (ccols)
        bottom = g->rows / 3 > 8 ? g->rows / 3 : 8; /* the picture wants height too */
    int lanes_y = 2, lanes_h = g->rows - fixed - bottom;
    struct tl_view v = make_view(a, width, now);
    int n = a->hist.nlanes;
    if (a->view.lane_top >= n)
        a->view.lane_top = n > 0 ? n - 1 : 0;
    struct app_geom *geo = &a->geom;
    geo->lanes_y = lanes_y;
    geo->lanes_x = NAME_W + 1;
    geo->lanes_w = width;
    int rows = want_rows;
    if (lanes_h / rows < 1)
        rows = 1;
    geo->lane_rows = rows;
    struct tl_cell cells[1024];
    if (width > 1024)
        v.width = width = 1024;
    for (int i = a->view.lane_top; i < n && (geo->nshown + 1) * rows <= lanes_h; i++) {
        draw_lane(a, g, lanes_y + geo->nshown * rows, rows, i, &v, o, cells);
        geo->lane_of_row[geo->nshown++] = i;
    }
    if (n - a->view.lane_top > geo->nshown)
        grid_text(g, lanes_y + lanes_h - 1, 0, NAME_W, _("  more: PgDn"), COLOUR_YELLOW, GRID_BOLD);
    draw_axis(a, g, lanes_y + lanes_h, &v, o);
    if (ccols) {
        for (int y = lanes_y; y <= lanes_y + lanes_h; y++)
            grid_put(g, y, g->cols - ccols - 1, o->ascii ? L'|' : L'\u2502', 0, GRID_DIM);
        draw_canvas(a, g, lanes_y, g->cols - ccols, lanes_h + 1, ccols);
    }

    int y0 = lanes_y + lanes_h + 1;
    int sw = g->cols >= 120 ? 2 * STATS_W : STATS_W;
    draw_stats(a, g, y0, bottom, sw);
    int nx = sw + 2, nw = g->cols - nx - 1;
    for (int y = y0; y < y0 + bottom; y++)
        grid_put(g, y, sw, o->ascii ? L'|' : L'\u2502', 0, GRID_DIM);
    if (a->view.focus_lane >= 0 && a->view.focus_lane < n)
        draw_inspector(a, g, y0, nx, bottom, nw, now);
    else
        draw_narration(a, g, y0, nx, bottom, nw);
    draw_status(a, g, now);
    if (a->view.help)
        draw_help(a, g);
}
