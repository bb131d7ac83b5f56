#include "config.h"

#include "draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "figure.h"
#include "i18n.h"
#include "keys.h"
#include "layout.h"
#include "rounds.h"
#include "state.h"
#include "timeline.h"
#include "tour.h"
#include "trace.h"

#define NAME_W 18

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

static void draw_header(struct app *a, struct grid *g, const struct draw_opts *o, uint64_t now)
{
    const struct scene_entry *e = a->scene;
    char buf[2][256];
    grid_fill(g, 0, 0, g->cols, L' ', 0, GRID_REVERSE);
    /*
     * The longest form that fits: the program's name goes first, then the
     * mode's title is shortened (the narration's title shows it whole).
     */
    snprintf(buf[0], sizeof buf[0], _(" conctui | scene %d/%d %s: %s | mode %d/%d: %s"),
             scene_index(e) + 1, scene_count(), e->name, _(e->title), a->ctx.mode + 1, e->nmodes,
             _(e->modes[a->ctx.mode].title));
    snprintf(buf[1], sizeof buf[1], _(" %s: %s | mode %d/%d: %s"), e->name, _(e->title),
             a->ctx.mode + 1, e->nmodes, _(e->modes[a->ctx.mode].title));
    /* The scene's status (the reactor's address) keeps its place at the right, before the hint. */
    char status[64] = "";
    if (e->status && a->running && !a->replay)
        e->status(&a->ctx, status, sizeof status);
    const char *hint = _("? help  q quit ");
    int hw = grid_text_width(hint), right = g->cols - hw;
    grid_text(g, 0, right, hw, hint, 0, GRID_REVERSE);
    /* A recording under way: a red dot and its seconds; stopped by a failed write: why not. */
    char rec[64] = "";
    unsigned rec_colour = COLOUR_RED;
    if (a->rec && !a->rec_cut) {
        uint64_t s = now > a->rec_since ? (now - a->rec_since) / 1000000000ull : 0;
        snprintf(rec, sizeof rec, _("%s REC %llu s"), o->ascii ? "*" : "\u25cf",
                 (unsigned long long)s);
    } else if (a->rec) {
        snprintf(rec, sizeof rec, "%s", _("REC cut short"));
        rec_colour = COLOUR_YELLOW;
    } else if (a->replay && a->meta && a->meta->cut_short) {
        snprintf(rec, sizeof rec, "%s", _("recording cut short"));
        rec_colour = COLOUR_YELLOW;
    }
    if (rec[0]) {
        int rw = grid_text_width(rec) + 2;
        if (rw < right / 2) {
            right -= rw;
            grid_text(g, 0, right + 1, rw - 1, rec, rec_colour, GRID_REVERSE | GRID_BOLD);
        }
    }
    if (status[0]) {
        int sw = grid_text_width(status) + 3;
        if (sw < right / 2) {
            right -= sw;
            grid_text(g, 0, right + 1, sw - 1, status, COLOUR_YELLOW, GRID_REVERSE | GRID_BOLD);
        }
    }
    /* A scene out of the table (a program) has no number among them. */
    int k = scene_index(e) < 0 || grid_text_width(buf[0]) > right - 1;
    grid_text_fit(g, 0, 0, right - 1, buf[k], 0, GRID_REVERSE | GRID_BOLD);
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

/* With the lanes grouped (G): the first lane of each group stands for it; 0 for the others. */
static int group_row(const struct app *a, int lane)
{
    const struct history_lane *l = &a->hist.lane[lane];
    if (!a->view.grouped || !l->group || l->kind == TRACE_LANE_GAUGE)
        return 1;
    int n = 0;
    for (int i = 0; i < a->hist.nlanes; i++) {
        const struct history_lane *m = &a->hist.lane[i];
        if (m->group == l->group && m->kind != TRACE_LANE_GAUGE) {
            if (i < lane)
                return 0;
            n++;
        }
    }
    return n;
}

/*
 * One lane, `rows` rows tall: the name on the first, the same cells on each.
 * `members` > 1: the lane stands for its group, whose cells are merged.
 */
static void draw_lane(struct app *a, struct grid *g, int y0, int rows, int lane, int members,
                      const struct tl_view *v, const struct draw_opts *o, struct tl_cell *cells)
{
    const struct history_lane *l = &a->hist.lane[lane];
    bool focus = a->view.focus_lane == lane;
    for (int r = 0; r < rows; r++) {
        if (focus)
            grid_fill(g, y0 + r, 0, NAME_W - 1, L' ', COLOUR_WHITE, GRID_REVERSE);
        grid_put(g, y0 + r, NAME_W, o->ascii ? L'|' : L'\u2502', 0, GRID_DIM);
    }
    char label[96], named[112];
    const char *name = draw_lane_label(l->name, label, sizeof label);
    if (members > 1) {
        snprintf(named, sizeof named, _("%s +%d"), name, members - 1);
        name = named;
    }
    grid_text_fit(g, y0, 0, NAME_W - 1, name, focus ? COLOUR_WHITE : 0,
                  focus ? GRID_REVERSE | GRID_BOLD : 0);
    timeline_layout(l, v, cells);
    if (members > 1) {
        static struct tl_cell more[1024];
        for (int i = lane + 1; i < a->hist.nlanes; i++) {
            const struct history_lane *m = &a->hist.lane[i];
            if (m->group != l->group || m->kind == TRACE_LANE_GAUGE)
                continue;
            timeline_layout(m, v, more);
            timeline_merge(cells, more, v->width);
        }
    }
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

/* Whether figure s is said to be unreliable: an unsteady spread, or a busy machine. */
static bool stat_doubtful(const struct app *a, const struct scene_stat *s)
{
    return s->rounds > 0 && (scene_stat_unsteady(s) || (a->running && a->load.busy));
}

/* The spread in the unit the value is shown in: "(1.71-1.93 s, 9 rounds)". */
static void fig_spread(char *buf, unsigned len, const struct scene_stat *s, const char *unit)
{
    char lo[32], hi[32];
    figure_fmt_sig(lo, sizeof lo, figure_in_unit(s->lo, s->unit, unit));
    figure_fmt_sig(hi, sizeof hi, figure_in_unit(s->hi, s->unit, unit));
    if (s->lo < 0)
        snprintf(buf, len, _("(%s to %s, %d rounds)"), lo, hi, s->rounds);
    else
        snprintf(buf, len, _("(%s-%s, %d rounds)"), lo, hi, s->rounds);
}

/* One figure as drawn. */
struct fig_line {
    const struct scene_stat *s;
    const struct scene_figure *f;
    char label[96], val[64], unit[48], spread[96];
    bool headline, doubt;
};

#define TABLE_ROWS 16
#define TABLE_COLS 6

/* The comparison: one row per model (the key in the column names), the columns the table gives. */
struct fig_table {
    int nrows, ncols;
    char row[TABLE_ROWS][48];
    const struct scene_figure *col[TABLE_COLS];
    char cell[TABLE_ROWS][TABLE_COLS][64]; /* value and unit */
    int row_w, col_w[TABLE_COLS];
};

/* What the stats panel holds this frame: measured once, drawn where the layout says. */
struct figs {
    int n, nhead;
    struct fig_line l[SCENE_MAX_STATS];
    struct fig_table t;
    int label_w, val_w, unit_w, spread_w;
    bool spread_inline; /* a spread beside its value, or on a line under it */
    bool doubt;
    int width, lines, head_lines;
};

static struct figs figs;

/* The row a comparison key names: "mode2" is the scene's second mode, else the key itself. */
static void table_row_label(const struct scene_entry *e, const char *key, char *buf, unsigned len)
{
    int m;
    char rest;
    if (sscanf(key, "mode%d%c", &m, &rest) == 1 && e && m >= 1 && m <= e->nmodes)
        key = e->modes[m - 1].name; /* the name --mode takes: not translated */
    snprintf(buf, len, "%s", key);
}

static void table_add(struct fig_table *t, const struct scene_entry *e, const char *key,
                      const struct scene_figure *f, const struct scene_stat *s)
{
    int r, c;
    for (r = 0; r < t->nrows && strcmp(t->row[r], key); r++)
        ;
    if (r == t->nrows) {
        if (r == TABLE_ROWS)
            return;
        snprintf(t->row[t->nrows++], sizeof t->row[0], "%s", key);
        for (int k = 0; k < TABLE_COLS; k++)
            t->cell[r][k][0] = '\0';
    }
    for (c = 0; c < t->ncols && t->col[c] != f; c++)
        ;
    if (c == t->ncols) {
        if (c == TABLE_COLS)
            return;
        /* Columns in the order of the scene's table. */
        for (c = t->ncols; c > 0 && t->col[c - 1] > f; c--) {
            t->col[c] = t->col[c - 1];
            for (int k = 0; k < TABLE_ROWS; k++)
                memcpy(t->cell[k][c], t->cell[k][c - 1], sizeof t->cell[0][0]);
        }
        t->col[c] = f;
        for (int k = 0; k < TABLE_ROWS; k++)
            t->cell[k][c][0] = '\0';
        t->ncols++;
    }
    (void)e;
    char val[32], unit[24];
    figure_format(f, s->value, s->unit, val, sizeof val, unit, sizeof unit);
    snprintf(t->cell[r][c], sizeof t->cell[0][0], "%s%s%s", val, unit[0] ? " " : "", unit);
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* The figures this frame shows: headlines first, then the comparison, then the rest. */
static void figs_collect(struct app *a, int cols)
{
    struct figs *F = &figs;
    const struct scene_entry *e = a->scene;
    F->n = F->nhead = 0;
    F->t.nrows = F->t.ncols = 0;
    F->doubt = false;
    static struct fig_line rest[SCENE_MAX_STATS];
    int nrest = 0;
    for (int i = 0; i < a->stats.n; i++) {
        const struct scene_stat *s = &a->stats.s[i];
        char key[48];
        const struct scene_figure *f = figure_find(e, s->name, key, sizeof key);
        if (f && (f->flags & FIG_HIDE))
            continue;
        if (f && !figure_applies(f, e, a->ctx.mode, a->params))
            continue;
        if (f && (f->flags & FIG_COLUMN)) {
            table_add(&F->t, e, key, f, s);
            continue;
        }
        bool head = f && (f->flags & FIG_HEADLINE) && strncmp(s->name, "rec.", 4) != 0;
        struct fig_line *l = head ? &F->l[F->nhead++] : &rest[nrest++];
        l->s = s;
        l->f = f;
        l->headline = head;
        char lb[96];
        snprintf(l->label, sizeof l->label, "%s", figure_label(f, s->name, lb, sizeof lb));
        figure_format(f, s->value, s->unit, l->val, sizeof l->val, l->unit, sizeof l->unit);
        l->spread[0] = '\0';
        l->doubt = stat_doubtful(a, s);
        if (s->rounds > 0) {
            fig_spread(l->spread, sizeof l->spread, s, l->unit);
            if (l->doubt)
                strncat(l->spread, "!", sizeof l->spread - strlen(l->spread) - 1);
        }
        F->doubt |= l->doubt;
    }
    memcpy(&F->l[F->nhead], rest, sizeof rest[0] * (size_t)nrest);
    F->n = F->nhead + nrest;

    F->label_w = F->val_w = F->unit_w = F->spread_w = 0;
    for (int i = 0; i < F->n; i++) {
        const struct fig_line *l = &F->l[i];
        F->label_w = imax(F->label_w, grid_text_width(l->label));
        F->val_w = imax(F->val_w, grid_text_width(l->val));
        F->unit_w = imax(F->unit_w, grid_text_width(l->unit));
        F->spread_w = imax(F->spread_w, grid_text_width(l->spread));
    }
    /* label, two spaces, value (right-aligned), a space, unit; a margin each side */
    int line_w = 1 + F->label_w + 2 + F->val_w + (F->unit_w ? 1 + F->unit_w : 0) + 1;
    F->spread_inline = F->spread_w == 0 || line_w + 1 + F->spread_w <= cols * 2 / 5;
    F->width = line_w + (F->spread_inline && F->spread_w ? 1 + F->spread_w : 0);
    F->lines = F->head_lines = 0;
    for (int i = 0; i < F->n; i++) {
        int h = F->l[i].spread[0] && !F->spread_inline ? 2 : 1;
        F->lines += h;
        if (F->l[i].headline)
            F->head_lines += h;
    }
    struct fig_table *t = &F->t;
    if (t->nrows && t->ncols) {
        char buf[48];
        t->row_w = grid_text_width(_("compare"));
        for (int r = 0; r < t->nrows; r++) {
            table_row_label(e, t->row[r], buf, sizeof buf);
            t->row_w = imax(t->row_w, grid_text_width(buf));
        }
        int w = 1 + t->row_w + 1;
        for (int c = 0; c < t->ncols; c++) {
            t->col_w[c] = grid_text_width(_(t->col[c]->label));
            for (int r = 0; r < t->nrows; r++)
                t->col_w[c] = imax(t->col_w[c], grid_text_width(t->cell[r][c]));
            w += 2 + t->col_w[c];
        }
        F->width = imax(F->width, w);
        F->lines += 1 + t->nrows;
    }
    /* The title and its note ("! machine busy") fit too. */
    int title_w = 1 + grid_text_width(_("Stats")) + 1;
    F->width = imax(F->width, title_w);
}

/* One figure in a column cw wide at (y, x); returns the lines it took. */
static int draw_fig(struct grid *g, int y, int x, int cw, const struct fig_line *l)
{
    const struct figs *F = &figs;
    int vu = F->val_w + (F->unit_w ? 1 + F->unit_w : 0);
    bool inline_spread = l->spread[0] && F->spread_inline;
    int right = vu + (inline_spread ? 1 + F->spread_w : 0);
    int lw = cw - 2 - 2 - right; /* margins, the gap after the label */
    if (lw < 6) {                /* a narrow column: the label gives way first, then the unit */
        lw = 6;
    }
    unsigned lattr = l->headline ? GRID_BOLD : 0;
    grid_text_fit(g, y, x + 1, lw, l->label, 0, lattr);
    int vx = x + 1 + lw + 2;
    int vw = grid_text_width(l->val);
    unsigned vcol = l->headline ? COLOUR_CYAN : COLOUR_WHITE;
    grid_text(g, y, vx + F->val_w - vw, vw, l->val, vcol, GRID_BOLD);
    int ux = vx + F->val_w + 1, room = x + cw - 1 - ux;
    if (l->unit[0] && room > 0)
        grid_text_fit(g, y, ux, room, l->unit, vcol, l->headline ? GRID_BOLD : 0);
    if (!l->spread[0])
        return 1;
    unsigned scol = l->doubt ? COLOUR_YELLOW : 0, sattr = l->doubt ? GRID_BOLD : GRID_DIM;
    if (inline_spread) {
        int sx = ux + (F->unit_w ? F->unit_w + 1 : 0);
        grid_text_fit(g, y, sx, x + cw - 1 - sx, l->spread, scol, sattr);
        return 1;
    }
    int sw = grid_text_width(l->spread), sx = x + cw - 1 - sw;
    if (sx < x + 3)
        sx = x + 3;
    grid_text_fit(g, y + 1, sx, x + cw - 1 - sx, l->spread, scol, sattr);
    return 2;
}

/* The comparison table at (y, x), `rows` lines at most; returns the lines it took. */
static int draw_table(const struct app *a, struct grid *g, int y, int x, int cw, int rows)
{
    const struct fig_table *t = &figs.t;
    int w = cw - 2, rw = t->row_w;
    if (rw > w / 3)
        rw = w / 3 > 6 ? w / 3 : 6;
    grid_text_fit(g, y, x + 1, rw, _("compare"), 0, GRID_BOLD | GRID_UNDERLINE);
    int cx = x + 1 + rw;
    for (int c = 0; c < t->ncols; c++) {
        int room = x + cw - 1 - (cx + 2);
        if (t->col_w[c] > room)
            break; /* a column that does not fit is left out whole, never cut */
        int colw = t->col_w[c];
        const char *h = _(t->col[c]->label);
        int hw = grid_text_width(h);
        grid_text_fit(g, y, cx + 2 + (hw < colw ? colw - hw : 0), colw, h, 0, GRID_BOLD);
        for (int r = 0; r < t->nrows && r + 1 < rows; r++) {
            int vw = grid_text_width(t->cell[r][c]);
            grid_text_fit(g, y + 1 + r, cx + 2 + (vw < colw ? colw - vw : 0), colw, t->cell[r][c],
                          COLOUR_WHITE, GRID_BOLD);
        }
        cx += 2 + colw;
    }
    for (int r = 0; r < t->nrows && r + 1 < rows; r++) {
        char buf[48];
        table_row_label(a->scene, t->row[r], buf, sizeof buf);
        grid_text_fit(g, y + 1 + r, x + 1, rw, buf, 0, 0);
    }
    return 1 + (t->nrows < rows - 1 ? t->nrows : rows - 1);
}

/*
 * Place the items (headlines, the comparison, the rest) in ncol columns of
 * `rows` lines from y0 + 1, none split over two columns; draw them when
 * `draw`. Returns the figures that fit (the comparison not counted).
 */
static int stats_place(struct app *a, struct grid *g, int y0, int rows, int ncol, int cw, bool draw)
{
    const struct figs *F = &figs;
    int nitems = F->n + (F->t.nrows ? 1 : 0);
    int line = 0, shown = 0, cap = rows * ncol;
    for (int k = 0; k < nitems; k++) {
        bool table = F->t.nrows && k == F->nhead;
        int i = k - (F->t.nrows && k > F->nhead ? 1 : 0);
        int need = table ? 1 + F->t.nrows : (F->l[i].spread[0] && !F->spread_inline ? 2 : 1);
        if (need > rows)
            need = rows;
        if (line % rows + need > rows)
            line += rows - line % rows;
        if (line + need > cap)
            break;
        int y = y0 + 1 + line % rows, x = (line / rows) * cw;
        if (draw && table)
            draw_table(a, g, y, x, cw, need);
        else if (draw)
            draw_fig(g, y, x, cw, &F->l[i]);
        if (!table)
            shown++;
        line += need;
    }
    return shown;
}

static void draw_stats(struct app *a, struct grid *g, const struct layout *L)
{
    const struct figs *F = &figs;
    int y0 = L->stats.y, h = L->stats.h, cw = L->stats_col_w, ncol = L->stats_cols;
    int used = grid_text(g, y0, 1, cw - 2, _("Stats"), 0, GRID_BOLD | GRID_UNDERLINE);
    if (F->doubt) {
        char why[96];
        snprintf(why, sizeof why, "  ! %s",
                 a->running && a->load.busy ? _("machine busy") : _("wide spread"));
        grid_text_fit(g, y0, 1 + used, L->stats.w - 2 - used, why, COLOUR_YELLOW, GRID_BOLD);
    }
    int rows = h - 1;
    if (rows < 1)
        return;
    int shown = stats_place(a, g, y0, rows, ncol, cw, false);
    int hidden = F->n - shown + a->stats.dropped;
    if (hidden == 0 || rows < 2) {
        stats_place(a, g, y0, rows, ncol, cw, true);
    } else {
        /* Not all fit: the last row of the panel says how many are left out. */
        shown = stats_place(a, g, y0, rows - 1, ncol, cw, true);
        hidden = F->n - shown + a->stats.dropped;
        char buf[96];
        snprintf(buf, sizeof buf, _("%d figures not shown"), hidden);
        grid_text_fit(g, y0 + rows, 1, L->stats.w - 2, buf, COLOUR_YELLOW, GRID_BOLD);
    }
}
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
    grid_text_fit(g, y0, x0, w, buf, 0, GRID_BOLD | GRID_UNDERLINE);
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
    grid_text_fit(g, y++, x0, w, buf, 0, 0);
    if (!a->replay && a->running && a->scene && a->scene->lane_detail && y < y0 + h &&
        a->scene->lane_detail(&a->ctx, a->view.focus_lane, buf, sizeof buf))
        grid_text_fit(g, y++, x0, w, buf, 0, 0);
    snprintf(buf, sizeof buf, _("transitions: %llu  events kept: %zu"),
             (unsigned long long)l->transitions, history_kept(l));
    grid_text_fit(g, y++, x0, w, buf, 0, 0);
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
/* One line of the narration panel: a piece of a wrapped text. */
struct nline {
    const char *s;
    int len;
    unsigned colour, attr;
};

struct nbuild {
    struct nline *out;
    int n, max;
    unsigned colour, attr;
};

static void nl_emit(void *arg, const char *line, int len)
{
    struct nbuild *b = arg;
    if (b->out && b->n < b->max)
        b->out[b->n] = (struct nline){line, len, b->colour, b->attr};
    b->n++;
}

/* Lines composed for the question's part of the narration (they must outlive narr_build). */
static char ask_line[2 * TOUR_MAX_ANSWERS + 2][1024];

/* What the reveal says first: was the learner right, and which answer the run supports. */
static void ask_verdict_text(const struct app *a, char *buf, size_t len, unsigned *colour)
{
    const struct tour_step *s = &a->tour->step[a->tour_step];
    const struct tour_verdict *v = &a->ask_verdict;
    *colour = COLOUR_YELLOW;
    if (v->answer < 0) {
        if (v->skipped)
            snprintf(buf, len, "%s",
                     _("The machine is busy: this run cannot settle the question."));
        else if (v->holds == 0)
            snprintf(buf, len, "%s", _("This run supports none of the answers."));
        else
            snprintf(buf, len, _("This run supports %d answers: it does not settle the question."),
                     v->holds);
        return;
    }
    int key = s->answer[v->answer].key;
    if (a->ask_pick < 0) {
        snprintf(buf, len, _("This run supports answer %c."), key);
    } else if (a->ask_pick == v->answer) {
        snprintf(buf, len, _("Right: this run supports your answer, %c."), key);
        *colour = COLOUR_GREEN;
    } else {
        snprintf(buf, len, _("Not this time: this run supports answer %c, not %c."), key,
                 s->answer[a->ask_pick].key);
    }
}

/*
 * A tour step's question: asked (the answers and how to pick one), running
 * (how long until the reveal), revealed (the verdict, the answers marked, the
 * claim that decided it with the figures measured).
 */
static void narr_ask(const struct app *a, int w, struct nbuild *b)
{
    const struct tour_step *s = &a->tour->step[a->tour_step];
    const struct tour_verdict *v = &a->ask_verdict;
    bool shown = a->ask == APP_ASK_REVEALED;
    int k = 0;
    char keys[16];
    tour_answer_keys(s, keys, sizeof keys);
    if (shown) {
        ask_verdict_text(a, ask_line[k], sizeof ask_line[k], &b->colour);
        b->attr = GRID_BOLD;
        grid_wrap(ask_line[k++], w, nl_emit, b);
    }
    b->colour = COLOUR_CYAN;
    b->attr = GRID_BOLD;
    grid_wrap(s->ask, w, nl_emit, b);
    for (int i = 0; i < s->nanswers; i++) {
        bool holds = shown && v->out[i].pass, mine = i == a->ask_pick;
        const char *mark = holds && mine ? _("  (your answer; this run)")
                           : holds       ? _("  (this run)")
                           : mine        ? _("  (your answer)")
                                         : "";
        snprintf(ask_line[k], sizeof ask_line[k], "%c  %s%s", s->answer[i].key, s->answer[i].text,
                 mark);
        b->colour = holds ? COLOUR_GREEN : mine ? COLOUR_YELLOW : 0;
        b->attr = holds || mine ? GRID_BOLD : 0;
        grid_wrap(ask_line[k++], w, nl_emit, b);
    }
    b->colour = 0;
    b->attr = GRID_DIM;
    if (a->ask == APP_ASK_OPEN) {
        snprintf(ask_line[k], sizeof ask_line[k],
                 _("Press %s to answer: the workers wait, frozen, until you do. Enter runs them "
                   "without an answer."),
                 keys);
        grid_wrap(ask_line[k], w, nl_emit, b);
    } else if (a->ask == APP_ASK_RUNNING) {
        double left = tour_check_s(s) - (double)a->ask_ran / 1e9;
        snprintf(ask_line[k], sizeof ask_line[k],
                 _("Measuring: in %.0f s this run shows which answer holds."),
                 left > 0 ? ceil(left) : 0);
        grid_wrap(ask_line[k], w, nl_emit, b);
    } else {
        /* The claim that decided it, or every claim when none or several hold. */
        b->attr = 0;
        for (int i = 0; i < s->nanswers; i++) {
            if (v->answer >= 0 && i != v->answer)
                continue;
            char got[160];
            tour_outcome_describe(&s->answer[i].when, &v->out[i], got, sizeof got);
            snprintf(ask_line[k], sizeof ask_line[k], "%c: %s (%s)", s->answer[i].key,
                     s->answer[i].when.text, got);
            grid_wrap(ask_line[k++], w, nl_emit, b);
        }
    }
    b->colour = 0;
    b->attr = 0;
}

/* The narration's lines at width w, under its title: on a tour the step's words, then the mode's;
 * a step's question first, and until it is revealed, alone. */
static int narr_build(const struct app *a, int w, struct nline *out, int max)
{
    const struct scene_mode *m = &a->scene->modes[a->ctx.mode];
    struct nbuild b = {out, 0, max, 0, 0};
    if (a->tour && a->ask != APP_ASK_NONE && a->tour->step[a->tour_step].ask) {
        narr_ask(a, w, &b);
        if (a->ask != APP_ASK_REVEALED)
            return b.n; /* the words below may give the answer away */
        nl_emit(&b, "", 0);
    }
    if (a->tour) {
        const struct tour_step *s = &a->tour->step[a->tour_step];
        if (s->text)
            grid_wrap(s->text, w, nl_emit, &b);
        nl_emit(&b, "", 0);
        b.attr = GRID_BOLD;
        grid_wrap(_(m->title), w, nl_emit, &b);
        b.attr = GRID_DIM;
    }
    grid_wrap(_(m->narration), w, nl_emit, &b);
    return b.n;
}

/*
 * A program's output in place of the narration: its latest lines, wrapped,
 * the newest at the bottom. skip lines are left out from the start.
 */
struct obuild {
    struct nline *out;
    int n, max, skip;
};

static void ol_emit(void *arg, const char *line, int len)
{
    struct obuild *b = arg;
    if (b->out && b->n >= b->skip && b->n - b->skip < b->max)
        b->out[b->n - b->skip] = (struct nline){line, len, 0, 0};
    b->n++;
}

static bool has_output(const struct app *a)
{
    return a->scene && a->scene->output && !a->replay;
}

static char out_text[65536];

/* Fetch the output (once a frame: draw_frame calls it before the layout). */
static void out_fetch(struct app *a)
{
    out_text[0] = '\0';
    if (has_output(a)) {
        a->scene->output(&a->ctx, out_text, sizeof out_text);
        for (char *p = out_text; *p; p++)
            if (*p == '\t')
                *p = ' ';
    }
}

static int out_build(int w, struct nline *out, int max, int skip)
{
    struct obuild b = {out, 0, max, skip};
    char *s = out_text;
    while (*s) {
        char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len == 0 || strspn(s, " ") >= len) {
            ol_emit(&b, "", 0);
        } else {
            char save = s[len];
            s[len] = '\0';
            grid_wrap(s, w, ol_emit, &b);
            s[len] = save;
        }
        s += len + (nl ? 1 : 0);
    }
    return b.n;
}

#define OUT_MIN_LINES 8

/* Lines the bottom panel's right side wants at width w (the layout asks). */
static int narr_count(void *arg, int w)
{
    const struct app *a = arg;
    if (a->view.focus_lane >= 0 && a->view.focus_lane < a->hist.nlanes)
        return 5; /* the inspector */
    if (has_output(a)) {
        int n = out_build(w, NULL, 0, 0);
        n = n < OUT_MIN_LINES ? OUT_MIN_LINES : n;
        /* A tour's program step: its narration above the output. */
        return a->tour ? narr_build(a, w, NULL, 0) + 1 + OUT_MIN_LINES : n;
    }
    return narr_build(a, w, NULL, 0);
}

/* The output panel: the last page, or (the e key) pages further back. */
static void draw_output(struct app *a, struct grid *g, const struct layout_rect *r)
{
    static struct nline lines[512];
    int per = r->h - 1;
    if (per < 1 || r->w < 1)
        return;
    if (per > 512)
        per = 512;
    int n = out_build(r->w, NULL, 0, 0);
    int pages = n <= per ? 1 : (n + per - 1) / per;
    int page = (a->view.narr_page % pages + pages) % pages;
    int first = n - per * (page + 1);
    if (first < 0)
        first = 0;
    int shown = n - first < per ? n - first : per;
    out_build(r->w, lines, shown, first);
    char title[128], more[64] = "";
    snprintf(title, sizeof title, "%s", _("Output (stdout and stderr)"));
    if (pages > 1)
        snprintf(more, sizeof more, _("%d/%d back, e: older"), page, pages - 1);
    int mw = more[0] ? grid_text_width(more) + 2 : 0;
    grid_text_fit(g, r->y, r->x, r->w - mw, title, 0, GRID_BOLD | GRID_UNDERLINE);
    if (more[0])
        grid_text(g, r->y, r->x + r->w - mw + 2, mw - 2, more, COLOUR_YELLOW, GRID_BOLD);
    if (n == 0)
        grid_text(g, r->y + 1, r->x, r->w, _("(nothing printed yet)"), 0, GRID_DIM);
    for (int i = 0; i < shown; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", lines[i].len, lines[i].s);
        grid_text(g, r->y + 1 + i, r->x, r->w, buf, 0, 0);
    }
}

/* The narration, a page at a time when it does not fit (the e key turns the page). */
static void draw_narration(struct app *a, struct grid *g, const struct layout_rect *r)
{
    static struct nline lines[1024];
    int n = narr_build(a, r->w, lines, 1024);
    if (n > 1024)
        n = 1024;
    int per = r->h - 1;
    if (per < 1 || r->w < 1)
        return;
    int pages = n <= per ? 1 : (n + per - 1) / per;
    int page = (a->view.narr_page % pages + pages) % pages;
    char more[64] = "";
    if (pages > 1)
        snprintf(more, sizeof more, _("%d/%d, e: more"), page + 1, pages);
    int mw = more[0] ? grid_text_width(more) + 2 : 0;
    if (a->tour) {
        const struct tour_step *s = &a->tour->step[a->tour_step];
        /* The title whole (a tour's titles have no length limit): the fit cuts it to the width. */
        size_t need = strlen(_("Tour %d/%d: %s")) + strlen(s->title) + 32;
        char *title = malloc(need);
        if (title) {
            snprintf(title, need, _("Tour %d/%d: %s"), a->tour_step + 1, a->tour->n, s->title);
            grid_text_fit(g, r->y, r->x, r->w - mw, title, COLOUR_CYAN, GRID_BOLD | GRID_UNDERLINE);
            free(title);
        }
    } else {
        grid_text_fit(g, r->y, r->x, r->w - mw, _(a->scene->modes[a->ctx.mode].title), 0,
                      GRID_BOLD | GRID_UNDERLINE);
    }
    if (more[0])
        grid_text(g, r->y, r->x + r->w - mw + 2, mw - 2, more, COLOUR_YELLOW, GRID_BOLD);
    for (int i = 0; i < per && page * per + i < n; i++) {
        const struct nline *l = &lines[page * per + i];
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", l->len, l->s);
        grid_text(g, r->y + 1 + i, r->x, r->w, buf, l->colour, l->attr);
    }
}

/* The status line's parts: the view's state, then the app's or the scene's note. */
struct status_text {
    char base[256];
    unsigned base_colour;
    char extra[3][208];
    unsigned extra_colour[3];
    char note[256];
    unsigned note_colour, note_attr;
    int lines; /* 2 when the note goes on a line of its own */
};

static void status_compose(struct app *a, int cols, uint64_t now, struct status_text *st)
{
    char zoom[16], note[SCENE_NOTE_MAX];
    memset(st, 0, sizeof *st);
    timeline_fmt_ns(zoom, sizeof zoom, a->view.ns_per_col);
    const char *view = a->view.live ? _("LIVE") : _("PAUSED");
    bool fresh = a->msg[0] && now - a->msg_at < 5000000000ull;
    static const unsigned kind_colour[] = {0, COLOUR_YELLOW, COLOUR_RED};
    unsigned msg_colour = kind_colour[a->msg_kind >= 0 && a->msg_kind <= 2 ? a->msg_kind : 0];
    unsigned msg_attr = a->msg_kind == APP_MSG_INFO ? 0 : GRID_BOLD;
    if (a->replay) {
        char at[32];
        snprintf(at, sizeof at, "%s", _("start"));
        /* The cursor's time as precise as a column, and the event under it. */
        if (a->view.cursor)
            timeline_axis_text(at, sizeof at, a->view.cursor - a->hist.t0, a->view.ns_per_col);
        snprintf(st->base, sizeof st->base, _(" REPLAY | . next event , previous | cursor at %s"),
                 at);
        st->base_colour = COLOUR_CYAN;
        int cl = a->view.cursor_lane;
        if (a->view.cursor && cl >= 0 && cl < a->hist.nlanes) {
            const struct history_lane *l = &a->hist.lane[cl];
            long k = history_find(l, a->view.cursor);
            if (k >= 0) {
                char what[200];
                unsigned to = history_at(l, (size_t)k)->state;
                unsigned from = k > 0 ? history_at(l, (size_t)k - 1)->state : 0xffff;
                draw_transition(a, what, sizeof what, cl, from, to);
                snprintf(st->extra[1], sizeof st->extra[1], " | %s", what);
                st->extra_colour[1] = COLOUR_YELLOW;
            }
        }
        if (fresh) {
            snprintf(st->note, sizeof st->note, "%s", a->msg);
            st->note_colour = msg_colour;
            st->note_attr = msg_attr;
        }
    } else {
        if (trace_frozen())
            snprintf(st->base, sizeof st->base, _(" %s | FROZEN %.1f s (%u parked) | x%d"), view,
                     (double)app_frozen_ns(a, now) / 1e9, trace_parked(), a->slowmo);
        else if (!a->running)
            snprintf(st->base, sizeof st->base, _(" STOPPED | x%d"), a->slowmo);
        else
            snprintf(st->base, sizeof st->base, _(" %s | workers running | x%d"), view, a->slowmo);
        if (a->tour) {
            size_t n = strlen(st->base);
            if (a->ask == APP_ASK_OPEN) {
                char keys[16];
                tour_answer_keys(&a->tour->step[a->tour_step], keys, sizeof keys);
                snprintf(st->base + n, sizeof st->base - n,
                         _(" | tour %d/%d: %s answer, Enter runs, < back"), a->tour_step + 1,
                         a->tour->n, keys);
            } else {
                snprintf(st->base + n, sizeof st->base - n, _(" | tour %d/%d: Enter next, < back"),
                         a->tour_step + 1, a->tour->n);
            }
            int right, settled, skipped;
            app_ask_score(a, &right, &settled, &skipped);
            n = strlen(st->base);
            if (settled)
                snprintf(st->base + n, sizeof st->base - n, _(" | answers %d/%d right"), right,
                         settled);
            n = strlen(st->base);
            if (skipped)
                snprintf(st->base + n, sizeof st->base - n, _(" | %d skipped"), skipped);
        }
        st->base_colour = trace_frozen() ? COLOUR_MAGENTA : COLOUR_GREEN;
        uint64_t dropped = trace_dropped();
        if (dropped) {
            snprintf(st->extra[1], sizeof st->extra[1], _(" | %llu events dropped"),
                     (unsigned long long)dropped);
            st->extra_colour[1] = COLOUR_RED;
        }
        if (a->running && a->load.busy) {
            snprintf(st->extra[2], sizeof st->extra[2],
                     _(" | machine busy: other programs use %.1f of %d CPUs"), a->load.busy_peak,
                     a->load.last.cpus);
            st->extra_colour[2] = COLOUR_YELLOW;
        }
        if (trace_frozen() && a->ask != APP_ASK_OPEN) {
            /* What the last step moved, or how to take one (not while a question waits). */
            const struct app_view *v = &a->view;
            char what[200];
            if (v->step_lane >= 0 && v->step_lane < a->hist.nlanes)
                draw_transition(a, what, sizeof what, v->step_lane, v->step_from, v->step_to);
            else
                snprintf(what, sizeof what, "%s", _(". lets one transition through"));
            snprintf(st->extra[0], sizeof st->extra[0], " | %s", what);
            st->extra_colour[0] = COLOUR_YELLOW;
        } else if (a->frozen_ns) {
            snprintf(st->extra[0], sizeof st->extra[0],
                     _(" | was frozen %.1f s: the scene's figures include it"),
                     (double)a->frozen_ns / 1e9);
            st->extra_colour[0] = COLOUR_MAGENTA;
        }
        scene_note_get(&a->ctx, note, sizeof note);
        if (fresh || note[0]) {
            snprintf(st->note, sizeof st->note, "%s", fresh ? a->msg : note);
            st->note_colour = fresh ? msg_colour : 0;
            st->note_attr = fresh ? msg_attr : 0;
        }
    }
    /* What does not fit after the view's state goes on a second line. */
    int extras = grid_text_width(st->extra[1]) + grid_text_width(st->extra[2]) +
                 grid_text_width(st->extra[0]),
        note_w = st->note[0] ? 3 + grid_text_width(st->note) : 0;
    st->lines = grid_text_width(st->base) + extras + note_w > cols ? 2 : 1;
    /* The busy warning's short form when the whole one would push the note off its line. */
    if (st->lines == 2 && st->extra[2][0] && extras + note_w > cols) {
        snprintf(st->extra[2], sizeof st->extra[2], " | %s", _("machine busy"));
        extras = grid_text_width(st->extra[1]) + grid_text_width(st->extra[2]) +
                 grid_text_width(st->extra[0]);
        st->lines = grid_text_width(st->base) + extras + note_w > cols ? 2 : 1;
    }
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
        grid_put(p->g, p->y, p->x + used, grid_ellipsis(), 0, GRID_REVERSE);
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
                grid_put(g, y0 + y, x + sh->keyw - 1, grid_ellipsis(), 0, GRID_REVERSE | GRID_BOLD);
            struct help_paint p = {g, y0 + y, x + sh->keyw + 2, tw};
            help_wrap(it[i].text, tw, help_put, &p);
        }
        y += help_wrap(it[i].text, tw, NULL, NULL);
        if (y > *used)
            *used = y;
    }
    return page + 1;
}

static void draw_params(struct app *a, struct grid *g, int y)
{
    const struct scene_entry *e = a->scene;
    int x = 1;
    a->geom.params_y = y;
    for (int i = 0; i < e->nparams; i++) {
        char buf[96];
        const struct scene_param *p = &e->params[i];
        const struct scene_figure *f = figure_param_words(e, p->name);
        const char *word = f ? figure_word(f, a->params[i]) : NULL;
        if (p->flags & SCENE_P_BOOL)
            snprintf(buf, sizeof buf, "%s=%s", p->name, a->params[i] ? _("on") : _("off"));
        else if (word)
            snprintf(buf, sizeof buf, "%s=%s", p->name, word);
        else
            snprintf(buf, sizeof buf, "%s=%lld", p->name, (long long)a->params[i]);
        int bw = grid_text_width(buf);
        a->geom.params_w[i] = 0;
        if (x + bw + (i + 1 < e->nparams ? 3 : 0) >= g->cols) {
            /* the rest does not fit: say so (Up/Down still select them) */
            grid_put(g, y, x < g->cols - 1 ? x : g->cols - 2, grid_ellipsis(), 0, GRID_DIM);
            break;
        }
        bool sel = i == a->view.sel_param;
        a->geom.params_x[i] = x;
        a->geom.params_w[i] = bw;
        grid_text(g, y, x, bw, buf, sel ? COLOUR_YELLOW : 0, sel ? GRID_REVERSE : 0);
        x += bw + 2;
    }
}

static void draw_status(struct grid *g, const struct layout_rect *r, const struct status_text *st)
{
    int y = r->y, cols = g->cols;
    int x = grid_text_fit(g, y, 0, cols, st->base, st->base_colour, GRID_BOLD), i = 0;
    /*
     * One line: everything after the state. Two: the leading extras that fit
     * stay beside the state (what a step moved), the rest and the note start
     * the second.
     */
    if (st->lines == 2) {
        for (; i < 3 && (!st->extra[i][0] || x + grid_text_width(st->extra[i]) <= cols); i++)
            if (st->extra[i][0])
                x += grid_text_fit(g, y, x, cols - x, st->extra[i], st->extra_colour[i], GRID_BOLD);
        y++;
        x = 0;
    }
    for (; i < 3; i++) {
        if (!st->extra[i][0] || x >= cols)
            continue;
        const char *t = st->extra[i];
        if (x == 0 && !strncmp(t, " | ", 3))
            t += 2; /* a line does not start with a separator */
        x += grid_text_fit(g, y, x, cols - x, t, st->extra_colour[i], GRID_BOLD);
    }
    if (!st->note[0] || x >= cols)
        return;
    char buf[300];
    snprintf(buf, sizeof buf, x ? " | %s" : " %s", st->note);
    grid_text_fit(g, y, x, cols - x, buf, st->note_colour, st->note_attr);
}
static void draw_help(struct app *a, struct grid *g)
{
    const struct scene_entry *e = a->scene;
    unsigned ctx = app_key_scope(a);
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
    if (ctx == KEY_REPLAY || (ctx & (KEY_TOUR | KEY_ASK))) {
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
    /* Measure what each part holds, then ask the layout where it goes. */
    figs_collect(a, g->cols);
    out_fetch(a);
    struct status_text st;
    status_compose(a, g->cols, now, &st);
    int n = a->hist.nlanes, nrows = 0;
    for (int i = 0; i < n; i++)
        nrows += group_row(a, i) > 0; /* grouped (G): a row a group */
    struct layout_in in = {
        .rows = g->rows,
        .cols = g->cols,
        .nlanes = nrows,
        .lane_rows = a->view.lane_rows,
        .name_w = NAME_W + 1,
        .canvas_w = canvas_cols(a, g->cols),
        .stats_w = figs.width,
        .stats_lines = figs.lines,
        .stats_min = figs.head_lines,
        .status_lines = st.lines,
        .narr_lines = narr_count,
        .arg = a,
    };
    struct layout L;
    layout_compute(&in, &L);

    int width = L.timeline_w;
    if (a->view.ns_per_col == 0) {
        /* A scene without a time scale of its own: ten seconds a screen. */
        uint64_t span = a->replay ? a->hist.t_end - a->hist.t0 + 1 : 10000000000ull;
        a->view.ns_per_col = app_zoom_for(span, width);
        if (a->view.ns_per_col * (uint64_t)width < span)
            a->view.ns_per_col = timeline_zoom_step(a->view.ns_per_col, 1);
    }
    draw_header(a, g, o, now);
    draw_legend(a, g, L.legend.y, o, now);

    struct tl_view v = make_view(a, width, now);
    int top = a->view.lane_top < n ? a->view.lane_top : n > 0 ? n - 1 : 0;
    struct app_geom *geo = &a->geom;
    geo->lanes_y = L.lanes.y;
    geo->lanes_x = NAME_W + 1;
    geo->lanes_w = width;
    geo->lane_rows = L.lane_rows;
    struct tl_cell cells[1024];
    if (width > 1024)
        v.width = width = 1024;
    int rows_left = 0;
    for (int i = top; i < n; i++) {
        int members = group_row(a, i);
        if (members == 0)
            continue; /* drawn with its group */
        if (geo->nshown >= L.lanes_shown) {
            rows_left++;
            continue;
        }
        draw_lane(a, g, L.lanes.y + geo->nshown * L.lane_rows, L.lane_rows, i, members, &v, o,
                  cells);
        geo->lane_of_row[geo->nshown++] = i;
    }
    if (rows_left > 0 && L.more_y >= 0) {
        char more[96];
        snprintf(more, sizeof more, _("%d more lanes: PgDn"), rows_left);
        grid_text_fit(g, L.more_y, 1, L.lanes.w - 1, more, COLOUR_YELLOW, GRID_BOLD);
    }
    draw_axis(a, g, L.axis.y, &v, o);
    if (L.canvas.w) {
        for (int y = L.canvas.y; y < L.canvas.y + L.canvas.h; y++)
            grid_put(g, y, L.canvas.x - 1, o->ascii ? L'|' : L'\u2502', 0, GRID_DIM);
        draw_canvas(a, g, L.canvas.y, L.canvas.x, L.canvas.h, L.canvas.w);
    }

    draw_stats(a, g, &L);
    for (int y = L.stats.y; y < L.stats.y + L.stats.h; y++)
        grid_put(g, y, L.stats.w, o->ascii ? L'|' : L'\u2502', 0, GRID_DIM);
    if (a->view.focus_lane >= 0 && a->view.focus_lane < n)
        draw_inspector(a, g, L.narr.y, L.narr.x, L.narr.h, L.narr.w, now);
    else if (has_output(a) && a->tour) {
        /* The step's narration, and below it the program's output (at least a few lines). */
        struct layout_rect narr_top = L.narr, narr_out = L.narr;
        int out_h = L.narr.h - (narr_build(a, L.narr.w, NULL, 0) + 1);
        int least = L.narr.h / 3 > 4 ? 4 : L.narr.h / 3;
        if (out_h < least)
            out_h = least;
        narr_top.h = L.narr.h - out_h;
        narr_out.y = narr_top.y + narr_top.h;
        narr_out.h = out_h;
        draw_narration(a, g, &narr_top);
        draw_output(a, g, &narr_out);
    } else if (has_output(a))
        draw_output(a, g, &L.narr);
    else
        draw_narration(a, g, &L.narr);
    draw_params(a, g, L.params.y);
    draw_status(g, &L.status, &st);
    if (a->view.help)
        draw_help(a, g);
}
