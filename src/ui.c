/*
 * DESIGN: everything here runs on the main thread. Workers never touch the
 * terminal, so a terminal that stops reading only stalls this thread (the
 * rings keep absorbing events and count what they drop).
 *
 * Frame loop: wait in poll() for a key, a signal byte or the next frame
 * (30 per second), drain the rings, compose the frame into a grid and
 * copy only the cells that differ from the previous grid; ncurses then sends
 * only what changed on the terminal. The live view scrolls by whole
 * columns, so a frame changes the cells where a state begins or ends (and
 * the axis), not every cell.
 *
 * Shutdown on q, Ctrl-C (SIGINT), SIGTERM, SIGHUP or a hang-up seen on the
 * terminal (POLLHUP, no SIGHUP under setsid): the app stops the scene (joins
 * threads, reaps children), then endwin() restores the terminal unless the
 * process is in the background (stopped and killed: it was restored at the
 * stop, and touching it would stop the process again). A quit that arrives
 * while stopped is checked before any redraw. SIGWINCH arrives on the same self-pipe and the loop
 * resizes curses itself (ncurses' handler would clobber errno); so does SIGTSTP: the loop leaves
 * curses, stops with SIGSTOP and redraws everything when continued.
 */
#include "config.h"

#include "ui.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <poll.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "draw.h"
#include "grid.h"
#include "headless.h"
#include "scenes/program.h"
#include "i18n.h"
#include "theme.h"
#include "trace.h"
#include "text.h"

#define FRAME_NS 33333333ull
#define STATS_NS 250000000ull

/* How picture cells reach the terminal. */
enum ui_pic { PIC_GLYPH, PIC_256, PIC_DIRECT };

struct ui {
    SCREEN *scr;
    int colour;
    int theme; /* index in theme_table */
    bool colour_started;
    enum ui_pic pic;
    struct grid grid, prev;
    struct draw_opts opts;
};

/* Set the colour pairs for the theme in u->theme (again whenever it changes). */
static void ui_colours(struct ui *u)
{
    const struct theme *t = theme_table[u->theme] ? theme_table[u->theme] : theme_table[0];
    const char *nc = getenv("NO_COLOR");
    bool can = has_colors() && !(nc && *nc);
    u->colour = can && t->colour;
    u->pic = PIC_GLYPH;
    if (!u->colour)
        return;
    if (!u->colour_started) {
        start_color();
        u->colour_started = true;
    }
    /* -1 is the terminal's own colour (default_colors); a theme may insist on white on black. */
    assume_default_colors(t->fg, t->bg);
    for (short i = 1; i < COLOUR_COUNT; i++) {
        short c = COLORS >= 256 ? t->c256[i] : t->c8[i];
        init_pair(i, c < 0 ? t->fg : c, t->bg);
    }
    /* Direct colour (terminfo RGB, e.g. xterm-direct) or the 256-colour cube. */
    if (COLORS >= 0x1000000 && !u->opts.ascii)
        u->pic = PIC_DIRECT;
    else if (COLORS >= 256 && COLOR_PAIRS >= 4096 && !u->opts.ascii)
        u->pic = PIC_256;
}

/* The xterm-256 colour nearest to an RGB value (6x6x6 cube or grey ramp). */
static int rgb_to_256(uint32_t rgb)
{
    int r = (int)(rgb >> 16 & 0xff), g = (int)(rgb >> 8 & 0xff), b = (int)(rgb & 0xff);
    static const int lv[6] = {0, 95, 135, 175, 215, 255};
    int ci[3], cv[3], in[3] = {r, g, b};
    for (int k = 0; k < 3; k++) {
        ci[k] = in[k] < 48 ? 0 : in[k] < 115 ? 1 : (in[k] - 35) / 40;
        cv[k] = lv[ci[k]];
    }
    int grey = (r + g + b) / 3, gi = grey > 238 ? 23 : grey < 8 ? 0 : (grey - 8) / 10;
    int gv = 8 + 10 * gi;
    int dc = (cv[0] - r) * (cv[0] - r) + (cv[1] - g) * (cv[1] - g) + (cv[2] - b) * (cv[2] - b);
    int dg = (gv - r) * (gv - r) + (gv - g) * (gv - g) + (gv - b) * (gv - b);
    return dg < dc ? 232 + gi : 16 + 36 * ci[0] + 6 * ci[1] + ci[2];
}

/* A picture cell without enough colours: a glyph of its brightness. */
static wchar_t rgb_glyph(const struct grid_cell *c, int ascii)
{
    static const char ramp[] = " .:-=+*#%@";
    static const wchar_t shades[] = L" \u2591\u2592\u2593\u2588";
    uint32_t t = c->rgb_fg, b = c->rgb_bg;
    unsigned lum = ((t >> 16 & 0xff) * 3 + (t >> 8 & 0xff) * 6 + (t & 0xff) + (b >> 16 & 0xff) * 3 +
                    (b >> 8 & 0xff) * 6 + (b & 0xff)) /
                   20;
    return ascii ? (wchar_t)ramp[lum * 9 / 255] : shades[lum * 4 / 255];
}

/* Put one picture cell on the terminal in the best form it can show. */
static void ui_put_rgb(struct ui *u, int y, int x, const struct grid_cell *c)
{
    cchar_t cc;
    if (u->pic == PIC_GLYPH) {
        wchar_t wc[2] = {rgb_glyph(c, u->opts.ascii), 0};
        setcchar(&cc, wc, A_NORMAL, 0, NULL);
    } else {
        int fg = u->pic == PIC_DIRECT ? (int)c->rgb_fg : rgb_to_256(c->rgb_fg);
        int bg = u->pic == PIC_DIRECT ? (int)c->rgb_bg : rgb_to_256(c->rgb_bg);
        /* alloc_pair reuses a pair with these colours, or recycles the oldest. */
        int pair = alloc_pair(fg, bg);
        wchar_t wc[2] = {L'\u2580', 0};
        setcchar(&cc, wc, A_NORMAL, 0, pair > 0 ? &pair : NULL);
    }
    mvadd_wch(y, x, &cc);
}

static int ui_resize(struct ui *u)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    if (grid_resize(&u->grid, rows, cols) || grid_resize(&u->prev, rows, cols))
        return -1;
    /* Mark every previous cell impossible so the first frame draws all. */
    for (int i = 0; i < rows * cols; i++)
        u->prev.c[i].ch = (wchar_t)-1;
    clearok(curscr, TRUE);
    return 0;
}

/* The terminal changed size: tell curses, then start from a blank grid. */
static void ui_winch(struct ui *u)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
    ui_resize(u);
}

/* True when this process may use the terminal: it is in the terminal's
 * foreground process group (or the terminal is gone, when any write fails at
 * once). In the background a write or a mode change would stop it (SIGTTOU). */
static bool ui_foreground(void)
{
    pid_t fg = tcgetpgrp(STDIN_FILENO);
    return fg < 0 || fg == getpgrp();
}

/* Ctrl-Z: give the terminal back and stop until continued. The caller takes
 * the terminal again only when no quit arrived meanwhile (`kill %1` sends
 * SIGTERM, then SIGCONT) and the process is in the foreground. */
static void ui_suspend(void)
{
    endwin();
    fflush(stdout);
    /* SIGSTOP, not SIGTSTP: this process handles SIGTSTP itself. */
    kill(getpid(), SIGSTOP);
}

/* Continued in the foreground: the next refresh puts curses back in program mode. */
static void ui_resume(void)
{
    clearok(curscr, TRUE);
    wrefresh(stdscr);
}

static attr_t cell_attr(const struct ui *u, const struct grid_cell *c)
{
    const struct theme *t = theme_table[u->theme] ? theme_table[u->theme] : theme_table[0];
    unsigned g = theme_cell_attr(t, u->colour, c->colour, c->attr);
    attr_t a = A_NORMAL;
    if (g & GRID_BOLD)
        a |= A_BOLD;
    if (g & GRID_REVERSE)
        a |= A_REVERSE;
    if (g & GRID_DIM)
        a |= A_DIM;
    if (g & GRID_UNDERLINE)
        a |= A_UNDERLINE;
    return a;
}

/* Copy the cells that changed since the last frame into curses. */
static void ui_blit(struct ui *u)
{
    struct grid *g = &u->grid, *p = &u->prev;
    for (int y = 0; y < g->rows; y++) {
        for (int x = 0; x < g->cols; x++) {
            struct grid_cell *c = &g->c[y * g->cols + x], *o = &p->c[y * g->cols + x];
            if (c->ch == o->ch && c->colour == o->colour && c->attr == o->attr &&
                c->rgb_fg == o->rgb_fg && c->rgb_bg == o->rgb_bg)
                continue;
            *o = *c;
            if (c->ch == 0)
                continue; /* right half of a wide character */
            if (c->attr & GRID_RGB) {
                ui_put_rgb(u, y, x, c);
                continue;
            }
            wchar_t wc[2] = {c->ch, 0};
            cchar_t cc;
            short pair = u->colour ? (short)c->colour : 0;
            setcchar(&cc, wc, cell_attr(u, c), pair, NULL);
            mvadd_wch(y, x, &cc);
        }
    }
    wnoutrefresh(stdscr);
    doupdate();
}

static int translate_key(int r, wint_t wc)
{
    if (r == OK) {
        if (wc == 27)
            return APP_KEY_ESC;
        if (wc == '\r')
            return '\n';
        if (wc == 127 || wc == 8)
            return APP_KEY_BACKSPACE;
        return (int)wc;
    }
    switch (wc) {
    case KEY_UP:
        return APP_KEY_UP;
    case KEY_DOWN:
        return APP_KEY_DOWN;
    case KEY_LEFT:
        return APP_KEY_LEFT;
    case KEY_RIGHT:
        return APP_KEY_RIGHT;
    case KEY_HOME:
        return APP_KEY_HOME;
    case KEY_END:
        return APP_KEY_END;
    case KEY_PPAGE:
        return APP_KEY_PGUP;
    case KEY_NPAGE:
        return APP_KEY_PGDN;
    case KEY_BTAB:
        return APP_KEY_BTAB;
    case KEY_ENTER:
        return '\n';
    case KEY_BACKSPACE:
        return APP_KEY_BACKSPACE;
    default:
        return -1;
    }
}

static void ui_mouse(struct app *a, int width)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    if (ev.bstate & BUTTON4_PRESSED)
        app_wheel(a, -1, width);
#ifdef BUTTON5_PRESSED
    else if (ev.bstate & BUTTON5_PRESSED)
        app_wheel(a, 1, width);
#endif
    else if (ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED))
        app_click(a, ev.y, ev.x);
}

/* Read every pending key; returns APP_QUIT when the user asked to leave. */
static enum app_result ui_input(struct ui *u, struct app *a)
{
    wint_t wc;
    int r;
    while ((r = wget_wch(stdscr, &wc)) != ERR) {
        int width = draw_timeline_width(a, u->grid.cols);
        if (r == KEY_CODE_YES && wc == KEY_RESIZE) {
            ui_resize(u);
            continue;
        }
        if (r == KEY_CODE_YES && wc == KEY_MOUSE) {
            ui_mouse(a, width);
            continue;
        }
        if (u->grid.cols < DRAW_MIN_COLS || u->grid.rows < DRAW_MIN_ROWS) {
            if (r == OK && (wc == 'q' || wc == 'Q'))
                return APP_QUIT;
            continue;
        }
        int key = translate_key(r, wc);
        if (key >= 0 && app_key(a, key, width) == APP_QUIT)
            return APP_QUIT;
    }
    return APP_CONTINUE;
}

static int ui_open(struct ui *u)
{
    const char *term = getenv("TERM");
    if (!term || !*term || strcmp(term, "dumb") == 0) {
        fprintf(stderr,
                _("conctui: TERM is %s; the interactive view needs a real terminal "
                  "(try TERM=xterm-256color, or --headless)\n"),
                term && *term ? "'dumb'" : _("not set"));
        return -1;
    }
    u->scr = newterm(NULL, stdout, stdin);
    if (!u->scr) {
        fprintf(stderr, _("conctui: cannot use terminal type '%s' (try --headless)\n"), term);
        return -1;
    }
    set_term(u->scr);
    ui_colours(u);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              ,
              NULL);
    mouseinterval(0);
    return ui_resize(u);
}

static void ui_close(struct ui *u)
{
    if (!u->scr)
        return;
    /* In the background (stopped, then killed) the terminal was given back
     * at the stop: touching it now would stop the process again. */
    if (ui_foreground())
        endwin();
    delscreen(u->scr);
    u->scr = NULL;
    grid_free(&u->grid);
    grid_free(&u->prev);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ui_bench_frames(struct app *a, FILE *out, int rows, int cols, int frames, int full)
{
    struct ui u = {0};
    FILE *in = fopen("/dev/null", "r");
    if (!in)
        return -1;
    u.scr = newterm(NULL, out, in);
    if (!u.scr) {
        fclose(in);
        return -1;
    }
    set_term(u.scr);
    ui_colours(&u);
    resizeterm(rows, cols);
    ui_resize(&u);
    uint64_t t0 = thread_cpu_ns();
    for (int i = 0; i < frames; i++) {
        if (full)
            for (int k = 0; k < rows * cols; k++)
                u.prev.c[k].ch = (wchar_t)-1;
        draw_frame(a, &u.grid, &u.opts, a->hist.t_end);
        ui_blit(&u);
    }
    uint64_t spent = thread_cpu_ns() - t0;
    ui_close(&u);
    fclose(in);
    return (double)spent / frames;
}

/*
 * conctui run: once the program has ended, the view stops at its end and the
 * status line says how it ended; true from then on.
 */
static bool ui_run_ended(struct app *a)
{
    int status;
    if (!a->running || !program_finished(&a->ctx, &status))
        return false;
    uint64_t last = a->hist.t0;
    for (int i = 0; i < a->hist.nlanes; i++)
        if (a->hist.lane[i].count && a->hist.lane[i].last.t > last)
            last = a->hist.lane[i].last.t;
    a->view.live = false;
    a->view.t_right = last + a->view.ns_per_col * 4;
    if (status < 0)
        app_message(a, "the process ended; q quits");
    else if (status > 128)
        app_message(a, "the program was killed by signal %d; q quits", status - 128);
    else
        app_message(a, "the program exited with status %d; q quits", status);
    return true;
}

int ui_main(const struct cli *o, int sigfd, volatile sig_atomic_t *sig)
{
    struct ui u = {0};
    u.opts.ascii = o->ascii || strcmp(nl_langinfo(CODESET), "UTF-8") != 0;
    u.theme = o->theme ? theme_index(theme_find(o->theme)) : 0;
    struct tour tour;
    char err[300] = "";
    if (o->tour && tour_load(&tour, o->tour_file, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, "conctui: %s\n", err);
        return 1;
    }
    if (ui_open(&u)) {
        if (o->tour)
            tour_free(&tour);
        return 1;
    }
    struct app a;
    int rc = app_init(&a);
    a.view.theme = u.theme;
    a.view.lane_rows = o->lane_rows; /* 0: as many rows as the screen gives */
    if (rc == 0 && o->tour) {
        a.tour = &tour;
        a.asks = true;
        rc = app_tour_goto(&a, 0);
    } else if (rc == 0 && o->replay)
        rc = app_replay(&a, o->replay, err, sizeof err) ? -EINVAL : 0;
    else if (rc == 0 &&
             (rc = app_start_texts(&a, o->entry, o->mode_idx, o->params, o->texts)) == 0 &&
             o->record)
        rc = app_record(&a, o->record, o->force, err, sizeof err) ? -EIO : 0;
    if (rc) {
        ui_close(&u);
        if (o->run && !err[0] && rc != -EIO) {
            if (o->tour)
                tour_free(&tour);
            return headless_run_failed(o, rc, &a);
        }
        if (err[0]) {
            text_clean_inplace(err, sizeof err, 1);
            fprintf(stderr, "conctui: %s\n", err);
        } else {
            text_clean_inplace(a.start_note, sizeof a.start_note, 1);
            fprintf(stderr, _("conctui: %s: could not start: %s\n"), o->entry->name,
                    a.start_note[0] ? a.start_note : strerror(-rc));
        }
        app_shutdown(&a);
        if (o->tour)
            tour_free(&tour);
        return 1;
    }
    uint64_t start = trace_now_ns(),
             end = o->duration > 0 ? start + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
    int status = 0;
    bool run_over = false;
    for (;;) {
        uint64_t now = trace_now_ns();
        if (now >= end)
            break;
        app_tick(&a, now);
        if (now - a.stats_at >= STATS_NS)
            app_stats(&a, now);
        if (a.view.theme != u.theme) {
            u.theme = a.view.theme;
            ui_colours(&u);
            ui_resize(&u);
        }
        if (o->run && !run_over)
            run_over = ui_run_ended(&a);
        draw_frame(&a, &u.grid, &u.opts, now);
        ui_blit(&u);

        uint64_t spent = trace_now_ns() - now;
        int timeout = spent >= FRAME_NS ? 0 : (int)((FRAME_NS - spent) / 1000000);
        struct pollfd pfd[2] = {{0, POLLIN, 0}, {sigfd, POLLIN, 0}};
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
            break;
        /* The terminal hung up without a SIGHUP (a pane closed under setsid):
         * quit exactly as for SIGHUP. */
        if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            status = 128 + SIGHUP;
            break;
        }
        unsigned char b;
        bool winch = false, tstp = false;
        while (read(sigfd, &b, 1) == 1) {
            winch |= b == SIGWINCH;
            tstp |= b == SIGTSTP;
        }
        if (*sig) {
            status = *sig == SIGINT ? 0 : 128 + *sig;
            break;
        }
        if (tstp) {
            ui_suspend();
            /* A quit that came while stopped wins over redrawing. */
            if (*sig) {
                status = *sig == SIGINT ? 0 : 128 + *sig;
                break;
            }
            /* Continued in the background (bg): wait for the foreground or a quit
             * without touching the terminal. */
            while (!ui_foreground() && !*sig) {
                struct pollfd q = {sigfd, POLLIN, 0};
                poll(&q, 1, 200);
                while (read(sigfd, &b, 1) == 1)
                    ;
            }
            if (*sig) {
                status = *sig == SIGINT ? 0 : 128 + *sig;
                break;
            }
            ui_resume();
        }
        if (winch || tstp)
            ui_winch(&u);
        if (ui_input(&u, &a) == APP_QUIT)
            break;
    }
    app_stop(&a);
    ui_close(&u);
    if (a.rec && app_record_end(&a, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, _("conctui: recording failed: %s\n"), err);
        status = 1;
    }
    if (headless_export(&a, o) != 0)
        status = 1;
    if (o->run && status == 0)
        status = headless_run_status(&a, o, NULL);
    app_shutdown(&a);
    if (o->tour)
        tour_free(&tour);
    return status;
}
