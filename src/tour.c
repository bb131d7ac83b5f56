#include "config.h"

#include "tour.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "i18n.h"
#include "state.h"
#include "text.h"

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
        struct tour_step *s = &t->step[i];
        free(s->text);
        s->text = NULL;
        free(s->title);
        s->title = NULL;
        for (int j = 0; j < s->nexpect; j++)
            free(s->expect[j].text);
        free(s->expect);
        s->expect = NULL;
        s->nexpect = 0;
        for (int j = 0; j < s->nanswers; j++) {
            free(s->answer[j].text);
            free(s->answer[j].when.text);
        }
        free(s->answer);
        s->answer = NULL;
        s->nanswers = 0;
        free(s->ask);
        s->ask = NULL;
        for (int j = 0; s->run && s->run[j]; j++)
            free(s->run[j]);
        free(s->run);
        s->run = NULL;
    }
    t->n = 0;
}

/* The words of an expectation. */
enum tour__tk { TK_END, TK_NAME, TK_STRING, TK_NUMBER, TK_OP };
struct tour__tok {
    enum tour__tk kind;
    const char *s; /* where it starts (for a string: after the quote) */
    size_t len;
    double num;
};

/* The next word from *p: a name, "a string", a number or an operator. 0, or -1 when malformed. */
static int tour__next(const char **p, struct tour__tok *t)
{
    static const char *const ops[] = {"<=", ">=", "+-", "\xc2\xb1", "<", ">",
                                      "=",  "~",  "*",  "%",        "+"};
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    memset(t, 0, sizeof *t);
    t->s = s;
    if (!*s) {
        t->kind = TK_END;
        *p = s;
        return 0;
    }
    if (isalpha((unsigned char)*s) || *s == '_') {
        const char *e = s;
        while (isalnum((unsigned char)*e) || *e == '_' || *e == '.')
            e++;
        t->kind = TK_NAME;
        t->len = (size_t)(e - s);
        *p = e;
        return 0;
    }
    if (*s == '"') {
        const char *e = strchr(s + 1, '"');
        if (!e)
            return -1;
        t->kind = TK_STRING;
        t->s = s + 1;
        t->len = (size_t)(e - s - 1);
        *p = e + 1;
        return 0;
    }
    bool neg = *s == '-' && (isdigit((unsigned char)s[1]) || s[1] == '.');
    if (isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1])) || neg) {
        char *e;
        errno = 0;
        t->num = strtod(s, &e);
        for (const char *c = s; c < e; c++)
            if (!strchr("0123456789.eE+-", *c))
                return -1; /* hexadecimal and the like: not a plain number */
        if (errno || !isfinite(t->num) || isalpha((unsigned char)*e) || *e == '_')
            return -1;
        t->kind = TK_NUMBER;
        t->len = (size_t)(e - s);
        *p = e;
        return 0;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strncmp(s, ops[i], strlen(ops[i]))) {
            t->kind = TK_OP;
            t->len = strlen(ops[i]);
            *p = s + t->len;
            return 0;
        }
    return -1;
}

static bool tour__is(const struct tour__tok *t, const char *op)
{
    return (t->kind == TK_OP || t->kind == TK_NAME) && t->len == strlen(op) &&
           !strncmp(t->s, op, t->len);
}

/* The word t for a message: at most 40 bytes of it, "the end" at the end. */
static const char *tour__word(const struct tour__tok *t, char *buf, size_t len)
{
    if (t->kind == TK_END)
        return _("the end of the line");
    snprintf(buf, len, "%.*s", (int)(t->len > 40 ? 40 : t->len), t->s);
    return buf;
}

/* An operand starting at word t: a figure or lane "NAME" STATE[+STATE]. 0 or -1 with msg. */
static int tour__operand(const char **p, const struct tour__tok *t, struct tour_operand *o,
                         char *msg, size_t mlen)
{
    char w[48];
    memset(o, 0, sizeof *o);
    if (t->kind != TK_NAME) {
        snprintf(msg, mlen, _("a figure or lane \"NAME\" STATE expected, not '%s'"),
                 tour__word(t, w, sizeof w));
        return -1;
    }
    if (t->len >= sizeof o->name) {
        snprintf(msg, mlen, _("the name '%s...' is longer than %zu bytes"),
                 tour__word(t, w, sizeof w), sizeof o->name - 1);
        return -1;
    }
    if (!tour__is(t, "lane")) {
        o->kind = TOUR_FIGURE;
        memcpy(o->name, t->s, t->len);
        return 0;
    }
    struct tour__tok n;
    if (tour__next(p, &n) != 0 || n.kind != TK_STRING || n.len == 0 || n.len >= sizeof o->name) {
        snprintf(msg, mlen, _("lane needs a quoted lane name of 1 to %zu bytes: lane \"clerk\" io"),
                 sizeof o->name - 1);
        return -1;
    }
    o->kind = TOUR_LANE;
    memcpy(o->name, n.s, n.len);
    for (;;) {
        struct tour__tok st;
        char name[16];
        if (tour__next(p, &st) != 0 || st.kind != TK_NAME || st.len >= sizeof name) {
            snprintf(
                msg, mlen,
                _("lane \"%s\" needs a state (run, ready, lock, io, sleep, kernel, idle, done)"),
                o->name);
            return -1;
        }
        snprintf(name, sizeof name, "%.*s", (int)st.len, st.s);
        int k = state_parse(name);
        if (k < 0) {
            snprintf(msg, mlen,
                     _("no state '%s' (run, ready, lock, io, sleep, kernel, idle, done)"), name);
            return -1;
        }
        o->states |= 1u << k;
        const char *save = *p;
        struct tour__tok plus;
        if (tour__next(p, &plus) != 0 || !tour__is(&plus, "+")) {
            *p = save;
            return 0;
        }
    }
}

/* An optional % after a number (the value is a percentage either way). */
static void tour__percent(const char **p)
{
    const char *save = *p;
    struct tour__tok t;
    if (tour__next(p, &t) != 0 || !tour__is(&t, "%"))
        *p = save;
}

/* Parse the words after "expect". 0, or -1 with msg. */
static int tour__expect(const char *arg, struct tour_expect *x, char *msg, size_t mlen)
{
    const char *p = arg;
    struct tour__tok t;
    char w[48];
    memset(x, 0, sizeof *x);
    /* Every word must read first: the grammar below then only sees well-formed words. */
    do {
        const char *at = p;
        if (tour__next(&p, &t) != 0) {
            while (*at == ' ' || *at == '\t')
                at++;
            snprintf(msg, mlen,
                     _("cannot read '%.20s' (names, \"lane names\", numbers and < <= > >= = ~ +- * "
                       "%% +)"),
                     at);
            return -1;
        }
    } while (t.kind != TK_END);
    p = arg;
    tour__next(&p, &t);
    if (tour__operand(&p, &t, &x->lhs, msg, mlen) != 0)
        return -1;
    static const struct {
        const char *op;
        enum tour_cmp cmp;
    } cmps[] = {{"<", TOUR_LT},  {"<=", TOUR_LE}, {">", TOUR_GT},
                {">=", TOUR_GE}, {"=", TOUR_EQ},  {"~", TOUR_NEAR}};
    int found = -1;
    if (tour__next(&p, &t) == 0)
        for (size_t i = 0; i < sizeof cmps / sizeof cmps[0]; i++)
            if (tour__is(&t, cmps[i].op))
                found = (int)i;
    if (found < 0) {
        snprintf(msg, mlen, _("a comparison (< <= > >= = ~) expected, not '%s'"),
                 tour__word(&t, w, sizeof w));
        return -1;
    }
    x->op = cmps[found].cmp;
    if (x->op == TOUR_NEAR) {
        struct tour__tok c, pm, tol;
        bool good = tour__next(&p, &c) == 0 && c.kind == TK_NUMBER;
        if (good)
            tour__percent(&p);
        good =
            good && tour__next(&p, &pm) == 0 && (tour__is(&pm, "+-") || tour__is(&pm, "\xc2\xb1"));
        good = good && tour__next(&p, &tol) == 0 && tol.kind == TK_NUMBER && tol.num >= 0;
        if (!good) {
            snprintf(msg, mlen, _("~ needs a value and a tolerance: FIGURE ~ 1.0 +- 0.3"));
            return -1;
        }
        tour__percent(&p);
        x->k = c.num;
        x->tol = tol.num;
        x->rhs.kind = TOUR_NUMBER;
    } else {
        if (tour__next(&p, &t) != 0 || (t.kind != TK_NUMBER && t.kind != TK_NAME)) {
            snprintf(
                msg, mlen,
                _("a number, a figure or NUMBER * FIGURE expected after the comparison, not '%s'"),
                tour__word(&t, w, sizeof w));
            return -1;
        }
        if (t.kind == TK_NAME) {
            x->k = 1;
            if (tour__operand(&p, &t, &x->rhs, msg, mlen) != 0)
                return -1;
        } else {
            x->k = t.num;
            x->rhs.kind = TOUR_NUMBER;
            tour__percent(&p);
            const char *save = p;
            struct tour__tok star;
            if (tour__next(&p, &star) == 0 && tour__is(&star, "*")) {
                if (tour__next(&p, &t) != 0 || tour__operand(&p, &t, &x->rhs, msg, mlen) != 0)
                    return -1;
            } else {
                p = save;
            }
        }
    }
    tour__next(&p, &t);
    if (tour__is(&t, "unless")) {
        struct tour__tok g;
        if (tour__next(&p, &g) != 0 || g.kind != TK_NAME || tour__is(&g, "lane") ||
            g.len >= sizeof x->unless) {
            snprintf(msg, mlen, _("unless needs a figure: ... unless machine_busy"));
            return -1;
        }
        memcpy(x->unless, g.s, g.len);
        tour__next(&p, &t);
    }
    if (t.kind != TK_END) {
        snprintf(msg, mlen, _("'%s' after the expectation's end"), tour__word(&t, w, sizeof w));
        return -1;
    }
    return 0;
}

/* "check 6s", "check 2.5", "check 1500ms": seconds, or -1. */
static double tour__check(const char *arg)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*arg) && *arg != '.')
        return -1;
    double v = strtod(arg, &end);
    if (errno || !isfinite(v))
        return -1;
    if (!strcmp(end, "ms"))
        v /= 1000;
    else if (*end && strcmp(end, "s"))
        return -1;
    return v > 0 && v <= TOUR_CHECK_MAX_S ? v : -1;
}

/*
 * The words after "answer": KEY "TEXT" when CLAIM, into a (its strings
 * allocated). 0, or -1 with msg.
 */
static int tour__answer(const char *arg, const struct tour_step *s, struct tour_answer *a,
                        char *msg, size_t mlen)
{
    memset(a, 0, sizeof *a);
    if (!(arg[0] >= '1' && arg[0] < '1' + TOUR_MAX_ANSWERS) || (arg[1] != ' ' && arg[1] != '\t')) {
        snprintf(msg, mlen,
                 _("an answer starts with its key, 1 to %d: answer 1 \"TEXT\" when CLAIM"),
                 TOUR_MAX_ANSWERS);
        return -1;
    }
    a->key = arg[0];
    if (tour_answer_find(s, a->key) >= 0) {
        snprintf(msg, mlen, _("the question already has an answer %c"), a->key);
        return -1;
    }
    const char *p = arg + 1;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
    if (!end || end == p + 1) {
        snprintf(msg, mlen, _("answer %c needs its words in quotes: answer %c \"TEXT\" when CLAIM"),
                 a->key, a->key);
        return -1;
    }
    const char *q = end + 1;
    while (*q == ' ' || *q == '\t')
        q++;
    if (strncmp(q, "when", 4) || (q[4] != ' ' && q[4] != '\t')) {
        snprintf(msg, mlen, _("answer %c needs a claim after its words: when CLAIM"), a->key);
        return -1;
    }
    char why[200];
    if (tour__expect(q + 5, &a->when, why, sizeof why) != 0) {
        snprintf(msg, mlen, _("answer %c: %s"), a->key, why);
        return -1;
    }
    const char *claim = q + 5;
    while (*claim == ' ' || *claim == '\t')
        claim++;
    a->text = strndup(p + 1, (size_t)(end - p - 1));
    a->when.text = strdup(claim);
    if (!a->text || !a->when.text) {
        free(a->text);
        free(a->when.text);
        snprintf(msg, mlen, _("out of memory"));
        return -1;
    }
    return 0;
}

double tour_check_s(const struct tour_step *s)
{
    return s->check_s > 0 ? s->check_s : TOUR_CHECK_DEFAULT_S;
}

int tour_answer_find(const struct tour_step *s, int key)
{
    for (int i = 0; i < s->nanswers; i++)
        if (s->answer[i].key == key)
            return i;
    return -1;
}

void tour_answer_keys(const struct tour_step *s, char *buf, unsigned len)
{
    bool run = s->nanswers > 1;
    for (int i = 0; i < s->nanswers; i++)
        run = run && s->answer[i].key == '1' + i;
    if (run) {
        snprintf(buf, len, "1-%c", s->answer[s->nanswers - 1].key);
        return;
    }
    unsigned n = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; i < s->nanswers && n + 3 <= len; i++) {
        if (i)
            buf[n++] = ' ';
        buf[n++] = (char)s->answer[i].key;
        buf[n] = '\0';
    }
}

/* The value of one operand in a run: 0, or -1 with what was missing. */
static int tour__value(const struct tour_operand *o, const struct tour_facts *f, double *v,
                       char *missing, size_t mlen)
{
    if (o->kind == TOUR_FIGURE) {
        for (int i = 0; f->stats && i < f->stats->n; i++)
            if (!strcmp(f->stats->s[i].name, o->name)) {
                *v = f->stats->s[i].value;
                return 0;
            }
        snprintf(missing, mlen, _("no figure '%s'"), o->name);
        return -1;
    }
    size_t plen = strlen(o->name);
    uint64_t sel = 0, all = 0;
    int matched = 0;
    for (int i = 0; i < f->nlanes; i++) {
        const struct tour_lane_total *l = &f->lane[i];
        if (l->gauge || strncmp(l->name, o->name, plen) || (l->name[plen] && l->name[plen] != ' '))
            continue;
        matched++;
        for (int s = 0; s < TRACE_NSTATES; s++) {
            all += l->ns[s];
            if (o->states & (1u << s))
                sel += l->ns[s];
        }
    }
    if (!matched || !all) {
        snprintf(missing, mlen, matched ? _("lane \"%s\" has no time") : _("no lane \"%s\""),
                 o->name);
        return -1;
    }
    *v = 100.0 * (double)sel / (double)all;
    return 0;
}

void tour_expect_eval(const struct tour_expect *x, const struct tour_facts *f,
                      struct tour_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->lhs = out->rhs = NAN;
    double r = 1;
    if (x->unless[0]) {
        struct tour_operand g = {.kind = TOUR_FIGURE};
        memcpy(g.name, x->unless, sizeof g.name);
        if (tour__value(&g, f, &out->guard, out->guard_missing, sizeof out->guard_missing) != 0)
            out->guard = 0; /* evaluated, shown, and failed for want of the figure */
        if (out->guard != 0) {
            out->skipped = true;
            return;
        }
    }
    if (tour__value(&x->lhs, f, &out->lhs, out->missing, sizeof out->missing) != 0 ||
        (x->rhs.kind != TOUR_NUMBER &&
         tour__value(&x->rhs, f, &r, out->missing, sizeof out->missing) != 0))
        return;
    out->operand = r;
    double a = out->lhs, b = out->rhs = x->k * r;
    switch (x->op) {
    case TOUR_LT:
        out->pass = a < b;
        break;
    case TOUR_LE:
        out->pass = a <= b;
        break;
    case TOUR_GT:
        out->pass = a > b;
        break;
    case TOUR_GE:
        out->pass = a >= b;
        break;
    case TOUR_EQ:
        out->pass = a == b;
        break;
    case TOUR_NEAR:
        /* Inclusive, and not lost to rounding at the edge (1.2 ~ 1.5 +- 0.3). */
        out->pass = fabs(a - b) <= x->tol + 1e-9 * fmax(1, fabs(b));
        break;
    }
    if (out->guard_missing[0])
        out->pass = false;
}

void tour_ask_eval(const struct tour_step *s, const struct tour_facts *f, struct tour_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->answer = -1;
    for (int i = 0; i < s->nanswers && i < TOUR_MAX_ANSWERS; i++) {
        tour_expect_eval(&s->answer[i].when, f, &v->out[i]);
        v->skipped |= v->out[i].skipped;
        if (v->out[i].pass) {
            v->holds++;
            v->answer = i;
        }
    }
    if (v->holds != 1 || v->skipped)
        v->answer = -1;
}

void tour_outcome_describe(const struct tour_expect *x, const struct tour_outcome *o, char *buf,
                           unsigned len)
{
    static const char *const ops[] = {"<", "<=", ">", ">=", "="};
    if (o->missing[0]) {
        snprintf(buf, len, "%s%s%s", o->missing, o->guard_missing[0] ? "; " : "", o->guard_missing);
        return;
    }
    if (o->skipped) {
        snprintf(buf, len, _("%s is %.4g: not checked"), x->unless, o->guard);
        return;
    }
    const char *pl = x->lhs.kind == TOUR_LANE ? "%" : "";
    char want[96];
    if (x->op == TOUR_NEAR) {
        snprintf(want, sizeof want, "%.4g..%.4g%s", x->k - x->tol, x->k + x->tol, pl);
    } else {
        const char *pr = x->rhs.kind == TOUR_LANE || (x->rhs.kind == TOUR_NUMBER && *pl) ? "%" : "";
        int n = snprintf(want, sizeof want, "%s %.4g%s", ops[x->op], o->rhs, pr);
        if (x->rhs.kind != TOUR_NUMBER && x->k != 1 && n > 0 && (unsigned)n < sizeof want)
            snprintf(want + n, sizeof want - (unsigned)n, " = %.4g * %.4g%s", x->k, o->operand, pr);
    }
    int n = snprintf(buf, len, _("measured %.4g%s, wanted %s"), o->lhs, pl, want);
    if (o->guard_missing[0] && n > 0 && (unsigned)n < len)
        snprintf(buf + n, len - (unsigned)n, "; %s", o->guard_missing);
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

static int tour__parse(struct tour *t, const char *text, const char *name, char *err,
                       unsigned errlen);

/*
 * "run CMD ARGS...": the words split at blanks, a word in double quotes kept
 * whole (no escapes). 0, or -1 with msg set.
 */
static int tour__run(const char *arg, char ***argv_out, char *msg, unsigned msglen)
{
    char **argv = calloc(TOUR_RUN_MAX_ARGS + 1, sizeof *argv);
    int n = 0;
    if (!argv) {
        snprintf(msg, msglen, "%s", _("out of memory"));
        return -1;
    }
    const char *p = arg;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *w = p;
        size_t len;
        if (*p == '"') {
            const char *end = strchr(++w, '"');
            if (!end) {
                snprintf(msg, msglen, "%s", _("run: a quote is not closed"));
                goto fail;
            }
            len = (size_t)(end - w);
            p = end + 1;
        } else {
            while (*p && *p != ' ' && *p != '\t')
                p++;
            len = (size_t)(p - w);
        }
        if (n == TOUR_RUN_MAX_ARGS) {
            snprintf(msg, msglen, _("run: more than %d words"), TOUR_RUN_MAX_ARGS);
            goto fail;
        }
        if (!(argv[n++] = strndup(w, len))) {
            snprintf(msg, msglen, "%s", _("out of memory"));
            goto fail;
        }
    }
    if (n == 0) {
        snprintf(msg, msglen, "%s", _("run needs a command: run CMD [ARGS...]"));
        goto fail;
    }
    *argv_out = argv;
    return 0;
fail:
    for (int i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
    return -1;
}

/*
 * A tour's text reaches the terminal (titles, narration, the words echoed in
 * errors): it is parsed cleaned, every control but newline and tab a '?' (a CR
 * before a newline dropped), every invalid UTF-8 byte U+FFFD.
 */
int tour_parse(struct tour *t, const char *text, const char *name, char *err, unsigned errlen)
{
    size_t n = strlen(text), size = 3 * n + 1;
    char *lf = malloc(n + 1), *clean = malloc(size);
    if (!lf || !clean) {
        free(lf);
        free(clean);
        memset(t, 0, sizeof *t);
        snprintf(err, errlen, _("%s: out of memory"), name);
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!(text[i] == '\r' && text[i + 1] == '\n'))
            lf[o++] = text[i];
    lf[o] = '\0';
    text_clean(clean, size, lf, 1);
    free(lf);
    int rc = tour__parse(t, clean, name, err, errlen);
    free(clean);
    return rc;
}

static int tour__parse(struct tour *t, const char *text, const char *name, char *err,
                       unsigned errlen)
{
    memset(t, 0, sizeof *t);
    struct tour_step *cur = NULL;
    bool set_seen = false;   /* the step has a mode or set line: its scene is fixed */
    bool scene_said = false; /* the step has a scene line */
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
            cur->title = strdup(arg);
            if (!cur->title) {
                tour__fail(err, errlen, name, line, _("out of memory"));
                goto fail;
            }
            set_seen = scene_said = false;
            /* A step after a program's names its own scene (or program). */
            if (prev && prev->scene && !prev->run)
                tour__use_scene(cur, prev->scene, prev);
            continue;
        }
        if (!cur) {
            tour__fail(err, errlen, name, line, _("'%.*s' before the first step"), (int)wl, word);
            goto fail;
        }
        if (wl == 3 && !strncmp(word, "run", 3)) {
            char msg[200] = "";
            const struct scene_entry *e = scene_find("program");
            if (cur->run || set_seen || scene_said) {
                tour__fail(err, errlen, name, line,
                           _("run is the step's subject: a step has one run or one scene, "
                             "and run comes before set"));
                goto fail;
            }
            if (!e || tour__run(arg, &cur->run, msg, sizeof msg) != 0) {
                tour__fail(err, errlen, name, line, "%s", e ? msg : _("out of memory"));
                goto fail;
            }
            tour__use_scene(cur, e, NULL);
        } else if (wl == 5 && !strncmp(word, "scene", 5)) {
            const struct scene_entry *e = scene_find(arg);
            if (cur->run) {
                tour__fail(err, errlen, name, line,
                           _("run is the step's subject: a step has one run or one scene, "
                             "and run comes before set"));
                goto fail;
            }
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
            scene_said = true;
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
        } else if (wl == 6 && !strncmp(word, "expect", 6)) {
            char msg[200] = "";
            struct tour_expect x;
            if (cur->nexpect == TOUR_MAX_EXPECT) {
                tour__fail(err, errlen, name, line, _("more than %d expectations in a step"),
                           TOUR_MAX_EXPECT);
                goto fail;
            }
            if (tour__expect(arg, &x, msg, sizeof msg) != 0) {
                tour__fail(err, errlen, name, line, "expect: %s", msg);
                goto fail;
            }
            struct tour_expect *more =
                realloc(cur->expect, sizeof *more * (size_t)(cur->nexpect + 1));
            x.text = strdup(arg);
            if (!more || !x.text) {
                free(x.text);
                if (more)
                    cur->expect = more;
                tour__fail(err, errlen, name, line, _("out of memory"));
                goto fail;
            }
            x.line = line;
            cur->expect = more;
            cur->expect[cur->nexpect++] = x;
        } else if (wl == 3 && !strncmp(word, "ask", 3)) {
            if (cur->nanswers) {
                tour__fail(err, errlen, name, line, _("the step already asks a question"));
                goto fail;
            }
            if (!*arg) {
                tour__fail(err, errlen, name, line, _("ask needs a question: ask QUESTION"));
                goto fail;
            }
            /* More ask lines before the answers continue the question. */
            size_t have = cur->ask ? strlen(cur->ask) : 0, alen = strlen(arg);
            if (have + alen + 2 > TOUR_TEXT_MAX) {
                tour__fail(err, errlen, name, line, _("the question is longer than %d bytes"),
                           TOUR_TEXT_MAX - 1);
                goto fail;
            }
            char *q = realloc(cur->ask, have + alen + 2);
            if (!q) {
                tour__fail(err, errlen, name, line, _("out of memory"));
                goto fail;
            }
            if (have)
                q[have++] = ' ';
            memcpy(q + have, arg, alen + 1);
            if (!cur->ask)
                cur->ask_line = line;
            cur->ask = q;
        } else if (wl == 6 && !strncmp(word, "answer", 6)) {
            char msg[200] = "";
            struct tour_answer an;
            if (!cur->ask) {
                tour__fail(err, errlen, name, line,
                           _("an answer needs a question first: ask QUESTION"));
                goto fail;
            }
            if (cur->nanswers == TOUR_MAX_ANSWERS) {
                tour__fail(err, errlen, name, line, _("more than %d answers to a question"),
                           TOUR_MAX_ANSWERS);
                goto fail;
            }
            if (tour__answer(arg, cur, &an, msg, sizeof msg) != 0) {
                tour__fail(err, errlen, name, line, "%s", msg);
                goto fail;
            }
            struct tour_answer *more =
                realloc(cur->answer, sizeof *more * (size_t)(cur->nanswers + 1));
            if (!more) {
                free(an.text);
                free(an.when.text);
                tour__fail(err, errlen, name, line, _("out of memory"));
                goto fail;
            }
            an.when.line = line;
            cur->answer = more;
            cur->answer[cur->nanswers++] = an;
        } else if (wl == 5 && !strncmp(word, "check", 5)) {
            double secs = tour__check(arg);
            if (secs < 0) {
                tour__fail(err, errlen, name, line,
                           _("check needs a time of at most %d s: check 5s, check 500ms"),
                           TOUR_CHECK_MAX_S);
                goto fail;
            }
            if (cur->check_s > 0) {
                tour__fail(err, errlen, name, line, _("the step already has a check time"));
                goto fail;
            }
            cur->check_s = secs;
        } else if (wl == 3 && !strncmp(word, "say", 3)) {
            if (tour__say(cur, arg, strlen(arg)) != 0) {
                tour__fail(err, errlen, name, line,
                           _("the step's narration is longer than %d bytes"), TOUR_TEXT_MAX - 1);
                goto fail;
            }
        } else {
            tour__fail(err, errlen, name, line,
                       _("unknown word '%.*s' (a line is step, scene, run, mode, set, say, expect, "
                         "check, ask, answer or # comment)"),
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
            tour__fail(err, errlen, name, t->step[i].line,
                       _("step '%s' names no scene (nor a program to run)"), t->step[i].title);
            goto fail;
        }
    for (int i = 0; i < t->n; i++)
        if (t->step[i].ask && t->step[i].nanswers < TOUR_MIN_ANSWERS) {
            tour__fail(err, errlen, name, t->step[i].ask_line,
                       _("a question needs %d to %d answers (answer KEY \"TEXT\" when CLAIM)"),
                       TOUR_MIN_ANSWERS, TOUR_MAX_ANSWERS);
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
    const char *why = NULL;
    int fd = file_open_read(path, &why);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) {
            why = strerror(errno);
            close(fd);
        }
        snprintf(err, errlen, _("%s: cannot open the tour: %s"), path, why);
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
