/*
 * tour: a walk through the course, one step per key press. A tour is a
 * plain text file a teacher can edit:
 *
 *     # comment
 *     step The post office: one clerk
 *     scene postoffice
 *     mode one
 *     set customers=20
 *     say One clerk serves every customer in turn...
 *     say
 *     say An empty say starts a new paragraph.
 *
 * "step TITLE" opens a step; "scene" (default: the previous step's scene),
 * "mode" (name or number; default: the first mode when the scene changes,
 * else the previous step's) and "set KEY=VALUE" (on top of the scene's
 * defaults) say what runs; "say" lines are the narration. Every error
 * names its line. The default tours are built into the program.
 *
 * In place of a scene, "run CMD ARGS..." runs a program as `conctui run`
 * does (the scene "program"); a word in double quotes stays whole, and a
 * word starting with examples/ that is not a file here names one of the
 * installed examples. The next step names its own scene.
 *
 * A step can also say what its run will show, as checks that
 * `conctui --tour --check` evaluates after running the step headless:
 *
 *     check 4s
 *     expect total_ms > 5 * cmp_mode2_total_ms
 *     expect lane "clerk" io > 60%
 *     expect slowdown ~ 1.0 +- 0.3
 *
 * An operand is a figure (as `--json` names it) or a lane share,
 * lane "NAME" STATE[+STATE...]: the percentage of the time lanes called
 * NAME (or NAME followed by a space and more) spent in those states.
 * Comparisons are < <= > >= =; the right side is a number (an optional %
 * is decoration), an operand, or NUMBER * operand. "~ C ± T" (or +-)
 * holds when the value is within T of C. A trailing "unless FIGURE" skips
 * the check when that figure is not 0 (a claim about spare cores, unless
 * machine_busy). "check" is how long the step runs (s or ms; default 3 s).
 *
 * A step can ask the learner to predict what its run will show, before it
 * runs:
 *
 *     ask Two threads count down under one GIL. Against one thread, they take
 *     answer 1 "half the time: two cores count at once" when slowdown < 0.75
 *     answer 2 "about the same time" when slowdown ~ 1.0 +- 0.25
 *     answer 3 "longer: they fight over the lock" when slowdown > 1.25
 *
 * "ask QUESTION" is followed by 2 to 4 "answer KEY "TEXT" when CLAIM" lines:
 * KEY is the digit 1-4 the learner presses, CLAIM an expectation (as after
 * "expect"). The answer the run supports is the one whose claim holds, so it
 * is computed from the measurement; --check wants exactly one to hold.
 */
#ifndef CONCTUI_TOUR_H
#define CONCTUI_TOUR_H

#include <stdbool.h>
#include <stdint.h>

#include "scene.h"
#include "trace.h"

#define TOUR_MAX_STEPS 64
#define TOUR_MAX_EXPECT 32       /* expectations in one step */
#define TOUR_LANE_PREFIX 48      /* bytes of a lane name in an expectation */
#define TOUR_CHECK_MAX_S 600     /* the longest check a step may ask for */
#define TOUR_CHECK_DEFAULT_S 3.0 /* how long a step runs for its checks when it does not say */
#define TOUR_MAX_ANSWERS 4       /* answers to one question (keys 1-4) */
#define TOUR_MIN_ANSWERS 2
#define TOUR_RUN_MAX_ARGS 32 /* words of a step's run line */

enum tour_cmp { TOUR_LT, TOUR_LE, TOUR_GT, TOUR_GE, TOUR_EQ, TOUR_NEAR };

/* One side of an expectation. */
struct tour_operand {
    enum { TOUR_NUMBER, TOUR_FIGURE, TOUR_LANE } kind;
    char name[TOUR_LANE_PREFIX]; /* the figure, or the lane name (prefix) */
    unsigned states;             /* lane: one bit per trace state */
};

/* "expect LHS OP [K *] RHS" or "expect LHS ~ K ± TOL". */
struct tour_expect {
    struct tour_operand lhs;
    enum tour_cmp op;
    double k;                      /* the number, or the factor of rhs */
    struct tour_operand rhs;       /* TOUR_NUMBER: k alone */
    double tol;                    /* TOUR_NEAR: the half-width around k */
    char unless[TOUR_LANE_PREFIX]; /* a figure: when it is not 0, the check is skipped */
    int line;
    char *text; /* as written after "expect" */
};

/* "answer KEY "TEXT" when CLAIM": one answer to the step's question. */
struct tour_answer {
    int key;                 /* '1'..'4' */
    char *text;              /* what the learner reads */
    struct tour_expect when; /* holds when the run supports this answer (text: the claim) */
};

struct tour_step {
    char *title; /* whole, however long */
    const struct scene_entry *scene;
    int mode;
    int64_t params[SCENE_MAX_PARAMS]; /* the scene's defaults with this step's sets */
    char *text;                       /* the narration, paragraphs split by '\n' */
    int line;                         /* where the step starts in its file */
    struct tour_expect *expect;       /* what its run will show (--check) */
    int nexpect;
    double check_s; /* how long --check runs it; 0: not said (the default) */
    char *ask;      /* the question asked before the run (NULL: none) */
    int ask_line;
    struct tour_answer *answer; /* its answers, in the file's order */
    int nanswers;
    char **run; /* "run CMD ARGS...": the program the step runs (scene "program"), NULL-ended */
};

/* How long step s runs before its claims (and its question) are evaluated, in seconds. */
double tour_check_s(const struct tour_step *s);
/* The index of the answer with key (a digit), or -1. */
int tour_answer_find(const struct tour_step *s, int key);
/* The answers' keys for a hint: "1-3" when they run from 1 in order, else "1 3 4". */
void tour_answer_keys(const struct tour_step *s, char *buf, unsigned len);

struct tour {
    int n;
    struct tour_step step[TOUR_MAX_STEPS];
};

/*
 * Parse a tour from text; name is used in error messages ("FILE:LINE: ...").
 * 0, or -1 with err set and nothing left to free.
 */
int tour_parse(struct tour *t, const char *text, const char *name, char *err, unsigned errlen);
/* Load a tour file, or with path NULL the built-in tour for the message language. */
int tour_load(struct tour *t, const char *path, char *err, unsigned errlen);
void tour_free(struct tour *t);
/* The built-in tour for a language ("ko", ...); the English one when there is none. */
const char *tour_builtin(const char *lang);

/* What a finished run measured, for the expectations to be evaluated against. */
struct tour_lane_total {
    const char *name;
    bool gauge; /* a gauge lane has no states: never matched */
    uint64_t ns[TRACE_NSTATES];
};
struct tour_facts {
    const struct scene_stats *stats;
    const struct tour_lane_total *lane;
    int nlanes;
};

/* An evaluated expectation: pass, the values compared and what was missing. */
struct tour_outcome {
    bool pass;
    bool skipped;           /* its unless figure was not 0: neither passed nor failed */
    double guard;           /* that figure */
    double lhs, rhs;        /* the left side and the right side's value (TOUR_NEAR: k) */
    double operand;         /* the right side's operand before its factor */
    char missing[96];       /* a figure or lane the run did not have ("" when none) */
    char guard_missing[96]; /* the unless figure, when the run did not have it (a failure) */
};

/* Evaluate one expectation against a run; the outcome says why it failed. */
void tour_expect_eval(const struct tour_expect *x, const struct tour_facts *f,
                      struct tour_outcome *out);
/* "127.4 > 77.43" (the measured comparison) or what was missing, into buf. */
void tour_outcome_describe(const struct tour_expect *x, const struct tour_outcome *o, char *buf,
                           unsigned len);

/* Which answers to a step's question a run supports. */
struct tour_verdict {
    struct tour_outcome out[TOUR_MAX_ANSWERS]; /* each answer's claim */
    int holds;                                 /* how many answers' claims hold */
    int answer;   /* the index of the answer that holds when exactly one does, else -1 */
    bool skipped; /* a claim's unless figure was not 0: this run cannot settle it */
};

/* Evaluate step s's answers against a run (s must ask a question). */
void tour_ask_eval(const struct tour_step *s, const struct tour_facts *f, struct tour_verdict *v);

/* The built-in tours, generated from the files in tours/ (lang "" is English); ends with NULLs. */
struct tour__text {
    const char *lang, *text;
};
extern const struct tour__text tour__builtin[];

#endif
