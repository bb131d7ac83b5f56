/*
 * app: the running scene, the view over its history, frame pacing and the
 * step gate. Draws nothing itself: ui.c (terminal) and headless.c (text)
 * render what it holds.
 */
#ifndef CONCTUI_APP_H
#define CONCTUI_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "history.h"
#include "keys.h"
#include "load.h"
#include "record.h"
#include "scene.h"
#include "tour.h"

enum app_result { APP_CONTINUE, APP_QUIT };

/* What a note in the status line is: information, a refusal, or an error (red). */
enum app_msg_kind { APP_MSG_INFO, APP_MSG_WARN, APP_MSG_ERROR };

#define APP_MAX_SLOWMO 64

struct app_view {
    uint64_t ns_per_col;
    bool live;        /* follow the present: the view scrolls, now in the last column */
    uint64_t t_right; /* right edge when not live */
    int sel_param;
    int focus_lane; /* lane shown in the inspector, -1 for none */
    int lane_top;   /* first lane shown when they do not all fit */
    bool grouped;   /* each group of lanes (a process's threads) drawn as one row */
    bool help;
    int help_page;   /* the help's page shown (clamped to the pages the frame has) */
    uint64_t cursor; /* replay: time of the event stepped to (0: none) */
    int cursor_lane;
    int theme;       /* index in theme_table (the T key cycles) */
    int lane_rows;   /* rows per lane, 1..3, 0: as many as the screen gives (L cycles) */
    int narr_page;   /* the narration's page (the e key; drawn modulo its pages) */
    int step_lane;   /* freeze/step: the lane the last step moved (-1: none) */
    uint64_t step_t; /* the time of its transition */
    uint16_t step_from, step_to; /* the state words before and after it */
};

/*
 * Where the last frame put things, for mouse hits: the one thing a frame
 * writes back into the app (only the layout knows where a click landed).
 */
struct app_geom {
    int lanes_y, lanes_x, lanes_w, lane_rows, nshown;
    int lane_of_row[256];
    int params_y, params_x[SCENE_MAX_PARAMS], params_w[SCENE_MAX_PARAMS];
    int help_pages; /* pages of the help at this size (its keys page through them) */
};

/* A tour step's question: asked (the workers frozen), running its check time, revealed. */
enum app_ask { APP_ASK_NONE, APP_ASK_OPEN, APP_ASK_RUNNING, APP_ASK_REVEALED };
/* What became of a step's question, kept per step for the score. */
enum app_answer {
    APP_ANSWER_NONE,
    APP_ANSWER_RIGHT,
    APP_ANSWER_WRONG,
    APP_ANSWER_SKIPPED,   /* run without an answer */
    APP_ANSWER_UNSETTLED, /* the run supported no single answer (or the machine was busy) */
};

struct app {
    const struct scene_entry *scene;
    struct scene_ctx ctx;
    bool running;
    int64_t params[SCENE_MAX_PARAMS];
    int slowmo;
    struct history hist;
    struct app_view view;
    struct app_geom geom;
    struct scene_stats stats;
    uint64_t stats_at;
    struct load load; /* what other programs take of the machine during the run */
    char msg[200];    /* the app's own note (bad key, restart failure, ...) */
    char
        start_note[SCENE_NOTE_MAX]; /* why the last start failed, in the scene's words ("": none) */
    uint64_t msg_at;
    int msg_kind;           /* enum app_msg_kind: how the note is shown */
    struct rec_writer *rec; /* --record: the run being written */
    char rec_path[256];
    uint64_t rec_since;                   /* when the recording began */
    bool rec_cut;                         /* a write failed: the recording stopped there */
    bool replay;                          /* showing a recording: no workers */
    struct rec_meta *meta;                /* replay: what the recording says */
    bool replay_stats_done;               /* replay: its figures are worked out */
    int save_seconds;                     /* the S key saves this much history */
    struct tour *tour;                    /* --tour: its steps (NULL: no tour) */
    const struct scene_entry *text_scene; /* whose parameters the texts are */
    char text[SCENE_MAX_PARAMS][SCENE_TEXT_MAX];
    int tour_step;                         /* the step shown */
    char *run_argv[TOUR_RUN_MAX_ARGS + 1]; /* a tour step's program, examples/ resolved */
    char run_words[TOUR_RUN_MAX_ARGS * 64 + 4096];
    uint64_t frozen_at;                   /* when the workers were frozen (0: not frozen) */
    uint64_t frozen_ns;                   /* time frozen in this run, before frozen_at */
    bool step_wait;                       /* a step was let through; its event is not drained yet */
    uint32_t step_seen;                   /* trace_steps() before it */
    uint64_t step_count[TRACE_MAX_LANES]; /* each lane's events before it */
    bool asks;                            /* ask a tour's questions (the TUI; not headless) */
    int ask;                              /* enum app_ask: the shown step's question */
    int ask_pick;                         /* the answer picked (its index); -1: none */
    uint64_t ask_t;                       /* when the run was let go */
    uint64_t ask_frozen;                  /* app_frozen_ns() then */
    uint64_t ask_run;                     /* the run it watches (its ctx.t_start) */
    uint64_t ask_ran;                     /* how long it has run since, frozen time left out */
    struct tour_verdict ask_verdict;      /* the reveal: which answers the run supports */
    unsigned char ask_result[TOUR_MAX_STEPS]; /* enum app_answer, per step */
};

/* Map the trace rings (once per process). */
int app_init(struct app *a);
void app_shutdown(struct app *a);
/* Start a scene (params NULL: the scene's defaults). 0 or -errno. */
int app_start(struct app *a, const struct scene_entry *e, int mode, const int64_t *params);
/* app_start with text values for some parameters (texts[i] NULL: none). */
int app_start_texts(struct app *a, const struct scene_entry *e, int mode, const int64_t *params,
                    const char *const *texts);
/* Give a text value to a parameter of scene e for its next starts (NULL clears). */
void app_set_text(struct app *a, const struct scene_entry *e, int idx, const char *text);
/* Stop the workers; history and final stats stay readable. */
void app_stop(struct app *a);
/* Stop and forget the scene entirely. */
void app_release(struct app *a);
/* Restart the current scene with its current mode and params. */
int app_restart(struct app *a, int mode);
/* Drain the rings into history; now in ns. */
void app_tick(struct app *a, uint64_t now);
/* Refresh stats (scene figures plus the app's own). */
void app_stats(struct app *a, uint64_t now);
/* The key table: every key the program takes but the scene's own (see keys.h). */
extern const struct key_binding app_bindings[];
extern const int app_nbindings;
/* The contexts in force now (enum key_where bits): help, replay, a question, or live (and tour). */
unsigned app_key_context(const struct app *a);
/* The same with the help closed: whose keys the help lists. */
unsigned app_key_scope(const struct app *a);
/* The questions' score: right answers, answers the runs settled, questions run unanswered. */
void app_ask_score(const struct app *a, int *right, int *settled, int *skipped);
/* Handle a key through the key table; returns APP_QUIT to leave. */
enum app_result app_key(struct app *a, int key, int width);
/* Mouse: a click at a cell, or the wheel (dir +1 out, -1 in). */
void app_click(struct app *a, int y, int x);
void app_wheel(struct app *a, int dir, int width);
/* Record the running scene to a file from now on. 0 or -1 with err. */
int app_record(struct app *a, const char *path, bool force, char *err, unsigned errlen);
/* Finish the recording (end marker with the final figures). */
int app_record_end(struct app *a, char *err, unsigned errlen);
/* Open a recording for viewing instead of running a scene. 0 or -1 with err. */
int app_replay(struct app *a, const char *path, char *err, unsigned errlen);
/* The metadata of the current run (for recordings and exports). */
void app_meta(struct app *a, struct rec_meta *m);
/*
 * Write the scene's picture as a binary PPM, at the scene's width and height
 * parameters when it has them (else 640x360). 0 or -1 with err.
 */
int app_snapshot(struct app *a, const char *path, bool force, char *err, unsigned errlen);
/* Write the current history as a Chrome trace. 0 or -1 with err. */
int app_export_chrome(struct app *a, const char *path, bool force, char *err, unsigned errlen);
/* Show a tour step (clamped to the tour): its scene restarts when the step needs another set-up. */
int app_tour_goto(struct app *a, int step);
/* What the run measured for a tour's claims: its figures, and each lane's totals in lanes
 * (TRACE_MAX_LANES of them). */
void app_tour_facts(struct app *a, struct tour_lane_total *lanes, struct tour_facts *f);
/* Freeze or unfreeze the workers at the gate, keeping count of the time frozen. */
void app_freeze(struct app *a, bool on);
/* Time the run has spent frozen, up to now. */
uint64_t app_frozen_ns(const struct app *a, uint64_t now);
/* Set a parameter (restarting the scene if the parameter asks for it). */
void app_set_param(struct app *a, int idx, int64_t v);
/* A zoom that shows about `span` ns over `width` columns. */
uint64_t app_zoom_for(uint64_t span, int width);
/* A note in the status line (fmt is translated): information, a refusal, an error. */
void app_message(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void app_warn(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void app_error(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
