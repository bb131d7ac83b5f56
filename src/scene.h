/*
 * scene: the table every scene exports, like a tmux cmd_entry. A scene is one
 * file in scenes/ with static helpers and one `const struct scene_entry`;
 * scenes/registry.c lists them.
 *
 * The part of a running scene that workers read (stop flag, parameter
 * values, slow-motion factor) lives in shared memory so forked children see
 * live changes.
 */
#ifndef CONCTUI_SCENE_H
#define CONCTUI_SCENE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SCENE_MAX_PARAMS 24
/*
 * Figures one refresh may hold (a scene's and the app's own). A scene and
 * mode that emits more loses the rest, counted in scene_stats.dropped and
 * said on screen; a test runs every scene and mode to keep them under it.
 */
#define SCENE_MAX_STATS 160
#define SCENE_NOTE_MAX 160
#define SCENE_TEXT_MAX 256

enum scene_param_flags {
    SCENE_P_RESTART = 1, /* changing it restarts the scene's workers */
    SCENE_P_BOOL = 2,    /* an on/off toggle (0 or 1) */
    SCENE_P_TEXT = 4,    /* also takes text (a file, say): see scene_param.text */
};

struct scene_param {
    const char *name; /* --set name=value */
    const char *help;
    int64_t min, max, def;
    const char *unit;
    unsigned flags;
    /*
     * SCENE_P_TEXT: checks a value that is not a number. 0 with *num set to
     * the number the parameter takes with it, or -1 with the reason in err.
     * The text reaches the workers as scene_param_text().
     */
    int (*text)(const char *value, int64_t *num, char *err, unsigned errlen);
};

#define SCENE_US 1000ull
#define SCENE_MS 1000000ull

struct scene_mode {
    const char *name;  /* --mode name (or its number) */
    const char *title; /* shown in the header */
    const char *narration;
    uint64_t
        ns_per_col; /* the zoom the mode opens at, its lesson's time scale (0: 10 s a screen) */
};

/*
 * A key of the scene's own (see keys.h): the app gives the scene's key hook
 * only the keys its table lists. A key the app also binds must be one of the
 * app's soft keys (the arrows) and marked KEY_SHADOWS: the help then says
 * what it takes the key from.
 */
struct scene_key {
    int key;
    const char *help;
    unsigned flags; /* enum key_flags */
};

/*
 * One figure. rounds > 0: value is the median of that many measured rounds
 * and lo..hi their minimum..maximum (see rounds.h); rounds == 0: a single
 * value (lo and hi equal it).
 */
struct scene_stat {
    char name[40]; /* room for "rec." before a 31-byte name */
    double value;
    char unit[16];
    double lo, hi;
    int rounds;
};

struct scene_stats {
    int n;
    int dropped; /* figures that did not fit (see SCENE_MAX_STATS) */
    struct scene_stat s[SCENE_MAX_STATS];
};

/* Shared with workers and children: written by the app, read anywhere. */
struct scene_shared {
    _Atomic int stop;
    _Atomic int slowmo; /* timed work is stretched by this factor (1 = real time) */
    _Atomic int64_t param[SCENE_MAX_PARAMS];
    char text[SCENE_MAX_PARAMS][SCENE_TEXT_MAX]; /* set before start, read-only after */
};

#define SCENE_CAPTION_MAX 4

/* One line of words under a picture: a legend entry or an axis title. */
struct scene_caption {
    char text[96]; /* UTF-8, already translated */
    uint32_t rgb;  /* a swatch of this colour before the words; 0: none */
};

/* A picture a scene shows beside its lanes; the terminal stacks two pixels per cell. */
struct scene_canvas {
    int w, h;     /* pixels wanted, set by the caller */
    uint8_t *rgb; /* w * h * 3 bytes, row-major, owned by the caller */
    /*
     * Optional, set by the scene (the caller zeroes it): lines of words
     * shown as text over the picture's bottom ncaption rows, which the
     * scene leaves for them (its last 2 * ncaption rows of pixels).
     */
    int ncaption;
    struct scene_caption caption[SCENE_CAPTION_MAX];
};

/*
 * How a figure is written on screen (src/figure.c). The JSON keys and values
 * stay as the scene emits them; this is only how a person reads them.
 */
enum fig_format {
    FIG_AUTO = 0, /* three significant digits; times and sizes move the prefix to the unit
                     (13.4 s, 256 MiB), other units take k/M/G (9.98 Msamples/s); an
                     integral count under a million is written exactly */
    FIG_INT,      /* an exact integer with thousands separators: 5,000,000,050,000,000 */
    FIG_BOOL,     /* on / off */
    FIG_ENUM,     /* a word per value (words[value]) */
};

enum fig_flags {
    FIG_HEADLINE = 1, /* what the scene is about: drawn first, emphasised (1-3 a scene) */
    FIG_HIDE = 2,     /* kept in --json and recordings, not drawn */
    FIG_COLUMN = 4,   /* a column of a comparison table: name has one '*', the row's key */
};

/*
 * A figure as people read it. name is the JSON key (for a FIG_COLUMN, a
 * pattern such as "cmp_*_rps": each key in place of the '*' is a row, a key
 * "mode2" names the scene's second mode). A FIG_ENUM entry also names the
 * values of the parameter of the same name on the parameter line. A figure
 * a scene emits without an entry is still drawn, its name with spaces.
 */
struct scene_figure {
    const char *name;
    const char *label; /* N_(): short, for the screen ("wait p99 (others)") */
    const char *unit;  /* N_(): NULL keeps the unit the figure comes with */
    enum fig_format fmt;
    unsigned flags;           /* enum fig_flags */
    unsigned modes;           /* the modes it applies to, bit m for mode m (0: every mode) */
    const char *when;         /* only while a parameter says so: "array" (not 0) or "backend=1" */
    const char *const *words; /* FIG_ENUM: N_() words, one per value from 0 */
    int nwords;
};

#define FIG_MODE(m) (1u << (m))

struct scene_entry;

struct scene_ctx {
    const struct scene_entry *entry;
    int mode; /* index into entry->modes */
    struct scene_shared *sh;
    void *priv; /* the scene's own state */
    uint64_t t_start;
    pthread_mutex_t note_lock;
    char note[SCENE_NOTE_MAX]; /* a visible note (fallbacks, failures) */
};

struct scene_entry {
    const char *name; /* CLI name */
    const char *title;
    const char *summary;
    const struct scene_mode *modes;
    int nmodes;
    const struct scene_param *params;
    int nparams;
    const struct scene_key *keys; /* the scene's own keys: what its key hook is given */
    int nkeys;
    const char *const *notes; /* note id -> words shown beside a state */
    int nnotes;
    const struct scene_figure *figures; /* how its figures read on screen (may be NULL) */
    int nfigures;
    /* Start workers; they must declare lanes before returning. 0 or -errno. */
    int (*start)(struct scene_ctx *ctx);
    /* Stop: wake every waiter, join every thread, reap every child. */
    void (*stop)(struct scene_ctx *ctx);
    /* Free what start made (after stop; stats may be read in between). */
    void (*release)(struct scene_ctx *ctx);
    /* A key the app did not handle; returns 1 if the scene used it. */
    int (*key)(struct scene_ctx *ctx, int key);
    /* Append the scene's figures (name value unit). */
    void (*stats)(struct scene_ctx *ctx, struct scene_stats *out);
    /*
     * Optional: fill c->rgb with the scene's latest picture at c->w x c->h
     * (called on the UI thread, at most once a frame). 0 if drawn.
     */
    int (*canvas)(struct scene_ctx *ctx, struct scene_canvas *c);
    /*
     * Optional: a few words for the header (and the headless title line)
     * while the scene runs, such as an address to connect to, written into
     * buf. Called on the UI thread.
     */
    void (*status)(struct scene_ctx *ctx, char *buf, unsigned len);
    /*
     * Optional: text the scene's workers printed (a program's output), its
     * latest part, cleaned for the terminal, lines ending in newlines, into
     * buf (terminated); its length. The panel beside the figures shows it
     * in place of the narration. Called on the UI thread.
     */
    size_t (*output)(struct scene_ctx *ctx, char *buf, size_t len);
    /*
     * Optional: freeze (on) or continue the workers in a way of the scene's
     * own besides the gate (a program's processes get SIGSTOP and SIGCONT).
     * Returns words for the status line (translated), or NULL.
     */
    const char *(*freeze)(struct scene_ctx *ctx, bool on);
    /*
     * Optional, with freeze: `.` while frozen. NULL when the scene takes the
     * step token itself (trace_step_take, once its workers made their next
     * transition and were stopped again: any lane's, or with lane >= 0, the
     * inspected one's); else words saying why it cannot step (translated),
     * and no token is given.
     */
    const char *(*step)(struct scene_ctx *ctx, int lane);
    /*
     * Optional: a line more for the inspector on lane `lane` (what the
     * kernel says its thread waits in), read now, into buf; its length, 0
     * for none. Called on the UI thread, only while the inspector shows
     * that lane live.
     */
    size_t (*lane_detail)(struct scene_ctx *ctx, int lane, char *buf, size_t len);
};

/* The registry (scenes/registry.c). */
extern const struct scene_entry *const scene_table[];
int scene_count(void);
const struct scene_entry *scene_find(const char *name);
int scene_index(const struct scene_entry *e);

/* Index of a mode given by name or 1-based number, -1 if none matches. */
int scene_mode_parse(const struct scene_entry *e, const char *s);
/* Index of a parameter by name, -1 if none. */
int scene_param_find(const struct scene_entry *e, const char *name);
/*
 * Parse "key=value" for a scene; on success stores the index and value.
 * On failure writes a message to err and returns -1. Text values are
 * refused here: they need scene_param_parse_text.
 */
int scene_param_parse(const struct scene_entry *e, const char *kv, int *idx, int64_t *val,
                      char *err, unsigned errlen);
/* The same, and a SCENE_P_TEXT parameter's text value is given in *text (else NULL). */
int scene_param_parse_text(const struct scene_entry *e, const char *kv, int *idx, int64_t *val,
                           const char **text, char *err, unsigned errlen);

/* Create/destroy a context (maps the shared part). */
int scene_ctx_init(struct scene_ctx *ctx, const struct scene_entry *e, int mode);
void scene_ctx_free(struct scene_ctx *ctx);

/* Worker-side helpers. */
static inline int64_t scene_param(const struct scene_ctx *ctx, int i)
{
    return atomic_load_explicit(&ctx->sh->param[i], memory_order_relaxed);
}
/* A parameter's text value ("" when it was given as a number); set before start. */
static inline const char *scene_param_text(const struct scene_ctx *ctx, int i)
{
    return ctx->sh->text[i];
}
static inline bool scene_stopping(const struct scene_ctx *ctx)
{
    /* Acquire pairs with the release in scene_request_stop. */
    return atomic_load_explicit(&ctx->sh->stop, memory_order_acquire);
}
void scene_request_stop(struct scene_ctx *ctx);
/* Sleep ns of scene time (stretched by slow motion); false if stopping. */
bool scene_sleep(const struct scene_ctx *ctx, uint64_t ns);
/* Busy CPU work for ns of scene time; false if stopping. */
bool scene_spin(const struct scene_ctx *ctx, uint64_t ns);
/* Set the visible note (thread-safe). */
void scene_note(struct scene_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void scene_note_get(struct scene_ctx *ctx, char *buf, unsigned len);
/*
 * In a forked worker, first thing: die with the parent, leave SIGINT/SIGHUP
 * to it (it coordinates the shutdown), take SIGTERM, SIGTSTP and SIGWINCH
 * by default.
 */
void scene_child_enter(void);
/*
 * Start one worker: fn(arg) as a thread (stored in threads[*nthreads]) or,
 * when process is set, as a forked child (stored in pids[*npids]) that calls
 * scene_child_enter, leaves at once if its parent already died, runs fn and
 * exits. Lanes and shared memory must exist before. 0 or -errno.
 */
int scene_spawn(bool process, void *(*fn)(void *), void *arg, pthread_t *threads, int *nthreads,
                pid_t *pids, int *npids);
/* Reap children: they see the stop flag within ~20 ms; SIGKILL after 2 s. */
void scene_reap(pid_t *pids, int *n);
/* Append one figure to a stats list (counted in out->dropped when full). */
void scene_stat(struct scene_stats *out, const char *name, double value, const char *unit);
/* Append a figure measured over rounds: its median, min..max and count. */
void scene_stat_spread(struct scene_stats *out, const char *name, double median, double lo,
                       double hi, int rounds, const char *unit);

#endif
