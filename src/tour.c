#include "config.h"

#include "tour.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"

#define TOUR_FILE_MAX (1 << 20)
#define TOUR_TEXT_MAX 4096

/* "NAME:LINE: message" into err; always returns -1. */
static int tour__fail(char *err, unsigned errlen, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int tour__fail(char *err, unsigned errlen, const char *name, int line, const char *fmt, ...)
{
    int off = snprintf(err, errlen, "%s:%d: ", name, line);
    if (off < 0 || (unsigned)off >= errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + off, errlen - (unsigned)off, fmt, ap);
    va_end(ap);
    return -1;
}

/* Append one narration line (an empty one starts a paragraph). 0 or -1 when too long. */
static int tour__say(struct tour_step *s, const char *words, size_t len)
{
    size_t have = s->text ? strlen(s->text) : 0;
    size_t need = have + (have ? 1 : 0) + len + 1;
    if (need > TOUR_TEXT_MAX)
        return -1;
    char *t = realloc(s->text, need);
    if (!t)
        return -1;
    s->text = t;
    if (have) {
        /* Lines of one paragraph join with a space; an empty say leaves a line break. */
        bool para = len == 0 || t[have - 1] == '\n';
        t[have++] = para ? '\n' : ' ';
    }
    memcpy(t + have, words, len);
    t[have + len] = '\0';
    return 0;
}

void tour_free(struct tour *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->step[i].text);
        t->step[i].text = NULL;
    }
    t->n = 0;
}

/* Start a step's scene: the defaults, then (same scene) the previous step's mode. */
static void tour__use_scene(struct tour_step *s, const struct scene_entry *e,
                            const struct tour_step *prev)
{
    s->scene = e;
    s->mode = prev && prev->scene == e ? prev->mode : 0;
    for (int i = 0; i < e->nparams; i++)
        s->params[i] = e->params[i].def;
}

int tour_parse(struct tour *t, const char *text, const char *name, char *err, unsigned errlen)
{
    memset(t, 0, sizeof *t);
    struct tour_step *cur = NULL;
    bool set_seen = false; /* the step has a mode or set line: its scene is fixed */
    int line = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        char buf[1024];
        if (len >= sizeof buf) {
            tour__fail(err, errlen, name, line, _("line longer than %zu bytes"), sizeof buf - 1);
            goto fail;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        p = eol ? eol + 1 : p + len;
        while (len && isspace((unsigned char)buf[len - 1]))
            buf[--len] = '\0';
        char *s = buf;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        char *word = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        size_t wl = (size_t)(s - word);
        while (*s == ' ' || *s == '\t')
            s++;
        const char *arg = s;

        if (wl == 4 && !strncmp(word, "step", 4)) {
            if (t->n == TOUR_MAX_STEPS) {
                tour__fail(err, errlen, name, line, _("more than %d steps"), TOUR_MAX_STEPS);
                goto fail;
            }
            if (!*arg) {
                tour__fail(err, errlen, name, line, _("a step needs a title: step TITLE"));
                goto fail;
            }
            struct tour_step *prev = cur;
            cur = &t->step[t->n++];
            memset(cur, 0, sizeof *cur);
            cur->line = line;
            snprintf(cur->title, sizeof cur->title, "%s", arg);
            set_seen = false;
            if (prev && prev->scene)
                tour__use_scene(cur, prev->scene, prev);
            continue;
        }
        if (!cur) {
            tour__fail(err, errlen, name, line, _("'%.*s' before the first step"), (int)wl, word);
            goto fail;
        }
        if (wl == 5 && !strncmp(word, "scene", 5)) {
            const struct scene_entry *e = scene_find(arg);
            if (!e) {
                tour__fail(err, errlen, name, line, _("unknown scene '%s' (see conctui --list)"),
                           arg);
                goto fail;
            }
            if (set_seen) {
                tour__fail(err, errlen, name, line, _("scene must come before mode and set"));
                goto fail;
            }
            tour__use_scene(cur, e, cur > t->step ? cur - 1 : NULL);
        } else if (wl == 4 && !strncmp(word, "mode", 4)) {
            int m = cur->scene ? scene_mode_parse(cur->scene, arg) : -2;
            if (m == -2) {
                tour__fail(err, errlen, name, line, _("mode before any scene"));
                goto fail;
            }
            if (m < 0) {
                tour__fail(err, errlen, name, line, _("scene '%s' has no mode '%s'"),
                           cur->scene->name, arg);
                goto fail;
            }
            cur->mode = m;
            set_seen = true;
        } else if (wl == 3 && !strncmp(word, "set", 3)) {
            char perr[256];
            int idx;
            int64_t v;
            if (!cur->scene) {
                tour__fail(err, errlen, name, line, _("set before any scene"));
                goto fail;
            }
            if (scene_param_parse(cur->scene, arg, &idx, &v, perr, sizeof perr) != 0) {
                tour__fail(err, errlen, name, line, "%s", perr);
                goto fail;
            }
            cur->params[idx] = v;
            set_seen = true;
        } else if (wl == 3 && !strncmp(word, "say", 3)) {
            if (tour__say(cur, arg, strlen(arg)) != 0) {
                tour__fail(err, errlen, name, line,
                           _("the step's narration is longer than %d bytes"), TOUR_TEXT_MAX - 1);
                goto fail;
            }
        } else {
            tour__fail(
                err, errlen, name, line,
                _("unknown word '%.*s' (a line is step, scene, mode, set, say or # comment)"),
                (int)wl, word);
            goto fail;
        }
    }
    if (t->n == 0) {
        tour__fail(err, errlen, name, line, _("no steps (a tour starts with: step TITLE)"));
        goto fail;
    }
    for (int i = 0; i < t->n; i++)
        if (!t->step[i].scene) {
            tour__fail(err, errlen, name, t->step[i].line, _("step '%s' names no scene"),
                       t->step[i].title);
            goto fail;
        }
    return 0;
fail:
    tour_free(t);
    return -1;
}

const char *tour_builtin(const char *lang)
{
    const char *english = NULL;
    for (const struct tour__text *b = tour__builtin; b->text; b++) {
        if (!*b->lang)
            english = b->text;
        else if (lang && !strncmp(lang, b->lang, strlen(b->lang)))
            return b->text;
    }
    return english;
}

/* The language messages are shown in: LANGUAGE first (as gettext), then LC_MESSAGES. */
static const char *tour__lang(void)
{
    const char *l = getenv("LANGUAGE");
    const char *m = setlocale(LC_MESSAGES, NULL);
    if (m && (!strcmp(m, "C") || !strcmp(m, "POSIX")))
        return ""; /* gettext ignores LANGUAGE in the C locale too */
    return l && *l ? l : m ? m : "";
}

int tour_load(struct tour *t, const char *path, char *err, unsigned errlen)
{
    if (!path)
        return tour_parse(t, tour_builtin(tour__lang()), _("built-in tour"), err, errlen);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, _("%s: cannot open the tour: %s"), path, strerror(errno));
        memset(t, 0, sizeof *t);
        return -1;
    }
    char *text = malloc(TOUR_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, TOUR_FILE_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text || bad || n > TOUR_FILE_MAX) {
        snprintf(err, errlen,
                 !text ? _("%s: out of memory")
                 : bad ? _("%s: cannot read the tour")
                       : _("%s: larger than 1 MiB"),
                 path);
        free(text);
        memset(t, 0, sizeof *t);
        return -1;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        snprintf(err, errlen, _("%s: not a text file"), path);
        free(text);
        memset(t, 0, sizeof *t);
        return -1;
    }
    int rc = tour_parse(t, text, path, err, errlen);
    free(text);
    return rc;
}
