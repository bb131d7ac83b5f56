/*
 * keys: the key table's types and the rules read from it. Every key the
 * program takes is one binding: the app's table (src/app.c) and the scene's
 * own keys (struct scene_key) are merged here into the bindings in force,
 * and the help overlay, the reserved-key set and the replay's refusals are
 * all read from that one list.
 */
#ifndef CONCTUI_KEYS_H
#define CONCTUI_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* Keys that are not characters, in a space above Unicode. */
enum app_key {
    APP_KEY_UP = 0x110000,
    APP_KEY_DOWN,
    APP_KEY_LEFT,
    APP_KEY_RIGHT,
    APP_KEY_HOME,
    APP_KEY_END,
    APP_KEY_PGUP,
    APP_KEY_PGDN,
    APP_KEY_BTAB,
    APP_KEY_ESC,
    APP_KEY_BACKSPACE,
    APP_KEY_MOUSE, /* not a key: the mouse's row in the table (ui.c reads the mouse itself) */
};

/* Where a binding applies: bits; the contexts in force are a set of them. */
enum key_where {
    KEY_LIVE = 1,   /* a running scene (a tour's too) */
    KEY_TOUR = 2,   /* on a tour, besides KEY_LIVE */
    KEY_REPLAY = 4, /* a recording */
    KEY_HELP = 8,   /* while the help is shown: nothing else applies then */
    KEY_ASK = 16,   /* a tour's question is open (the workers frozen): instead of KEY_LIVE */
    KEY_VIEW = KEY_LIVE | KEY_REPLAY | KEY_ASK,
    KEY_ALWAYS = KEY_LIVE | KEY_TOUR | KEY_REPLAY | KEY_HELP | KEY_ASK,
};

enum key_flags {
    KEY_SOFT = 1,    /* the app's: a scene may take this key (another key of the action stays) */
    KEY_SHADOWS = 2, /* a scene's: it takes a KEY_SOFT key of the app's in that scene */
    KEY_SCENE = 4,   /* the scene's own (its key hook handles it) */
};

struct app;

/*
 * One binding. Consecutive bindings with the same help are one line of the
 * help ("a d Left Right"); the label is the keys' names.
 */
struct key_binding {
    int key, last;    /* the key, or the range key..last ('1'..'9'); last 0: one key */
    const char *help; /* N_(): what it does */
    unsigned where;   /* enum key_where */
    unsigned flags;   /* enum key_flags */
    int (*fn)(struct app *a, int key, int width); /* enum app_result; NULL: not a key press */
};

/* A line of the help: the keys, what they do, and which section it is in. */
struct key_item {
    char label[48];
    char text[512]; /* translated; a shadowing scene key says what it takes the key from */
    bool scene;     /* the scene's own */
};

#define KEYS_MAX 160 /* bindings in force at once: the app's and a scene's */

/* A key's name for help texts: "Left", "Tab", "x". */
const char *keys_name(int key, char *buf, size_t len);
/* The keys of a binding (or of a line of them) as the help shows them: "1-9", "a d". */
const char *keys_label(const struct key_binding *b, char *buf, size_t len);
bool keys_match(const struct key_binding *b, int key);

struct scene_entry;

/*
 * The reserved set: a key the app's table t binds where scenes run (live or
 * on a tour) without KEY_SOFT. A scene's own key on a reserved key is never
 * given to it.
 */
bool keys_reserved(const struct key_binding *t, int n, int key);
/*
 * The bindings in force in the contexts ctx (enum key_where bits): scene
 * e's own keys first (KEY_SCENE; live and on a tour only; reserved keys left
 * out), then the app's t. A key press goes to the first that matches. Returns
 * how many were written to out (at most max).
 */
int keys_collect(const struct key_binding *t, int n, const struct scene_entry *e, unsigned ctx,
                 struct key_binding *out, int max);
/* Is key bound in ctx (by t or the scene)? */
bool keys_bound(const struct key_binding *t, int n, const struct scene_entry *e, unsigned ctx,
                int key);
/*
 * The help's lines for ctx: the scene's keys (each saying which app key it
 * shadows, and which keys still do that), then the app's, a line per run of
 * bindings with the same help, without the keys the scene took. Returns the
 * number of lines written (at most max).
 */
int keys_items(const struct key_binding *t, int n, const struct scene_entry *e, unsigned ctx,
               struct key_item *out, int max);

#endif
