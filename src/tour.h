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
 */
#ifndef CONCTUI_TOUR_H
#define CONCTUI_TOUR_H

#include <stdint.h>

#include "scene.h"

#define TOUR_MAX_STEPS 64
#define TOUR_TITLE_MAX 96

struct tour_step {
    char title[TOUR_TITLE_MAX];
    const struct scene_entry *scene;
    int mode;
    int64_t params[SCENE_MAX_PARAMS]; /* the scene's defaults with this step's sets */
    char *text;                       /* the narration, paragraphs split by '\n' */
    int line;                         /* where the step starts in its file */
};

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

/* The built-in tours, generated from the files in tours/ (lang "" is English); ends with NULLs. */
struct tour__text {
    const char *lang, *text;
};
extern const struct tour__text tour__builtin[];

#endif
