#include "config.h"

#include "figure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"

static const char *const on_off[] = {N_("off"), N_("on")};
static const char *const no_yes[] = {N_("no"), N_("yes")};

/* The units scenes give their figures, for the catalogue: figure_format translates them. */
static const char *const units[] __attribute__((unused)) = {
    N_("items"),   N_("items/s"),   N_("tasks"),   N_("tasks/s"), N_("frames"), N_("frames/s"),
    N_("samples"), N_("samples/s"), N_("threads"), N_("tiles"),   N_("blocks"), N_("SMs"),
    N_("events"),  N_("events/s"),  N_("futures"), N_("calls"),   N_("bits"),   N_("deg"),
};

/* The app's own figures, and those a replay works out from the recording. */
const struct scene_figure figure_app[] = {
    {"trace_events", N_("events traced"), NULL, FIG_INT, 0, 0, NULL, NULL, 0},
    {"trace_rate", N_("event rate"), NULL, FIG_AUTO, 0, 0, NULL, NULL, 0},
    {"trace_dropped", N_("events dropped"), NULL, FIG_INT, 0, 0, NULL, NULL, 0},
    {"frozen", N_("time frozen"), NULL, FIG_AUTO, 0, 0, NULL, NULL, 0},
    {"machine_other_cpu", N_("other programs' CPU"), N_("cores"), FIG_AUTO, 0, 0, NULL, NULL, 0},
    {"machine_busy", N_("machine busy"), "", FIG_ENUM, 0, 0, NULL, no_yes, 2},
    {"duration", N_("recorded for"), NULL, FIG_AUTO, 0, 0, NULL, NULL, 0},
    {"events", N_("events"), NULL, FIG_INT, 0, 0, NULL, NULL, 0},
    {"waits", N_("waits"), NULL, FIG_INT, 0, 0, NULL, NULL, 0},
    {"wait_p50", N_("wait p50"), NULL, FIG_AUTO, 0, 0, NULL, NULL, 0},
    {"wait_p99", N_("wait p99"), NULL, FIG_AUTO, 0, 0, NULL, NULL, 0},
};
const int figure_napp = (int)(sizeof figure_app / sizeof figure_app[0]);

bool figure_match(const char *pattern, const char *name, char *key, unsigned keylen)
{
    const char *star = strchr(pattern, '*');
    if (!star)
        return strcmp(pattern, name) == 0;
    size_t pre = (size_t)(star - pattern), suf = strlen(star + 1), n = strlen(name);
    if (n <= pre + suf || strncmp(pattern, name, pre) != 0 || strcmp(name + n - suf, star + 1) != 0)
        return false;
    size_t k = n - pre - suf;
    if (memchr(name + pre, '_', k))
        return false;
    if (key && keylen) {
        if (k >= keylen)
            k = keylen - 1;
        memcpy(key, name + pre, k);
        key[k] = '\0';
    }
    return true;
}

static const struct scene_figure *find_in(const struct scene_figure *t, int n, const char *name,
                                          char *key, unsigned keylen)
{
    for (int i = 0; i < n; i++)
        if (!strchr(t[i].name, '*') && strcmp(t[i].name, name) == 0)
            return &t[i];
    for (int i = 0; i < n; i++)
        if (strchr(t[i].name, '*') && figure_match(t[i].name, name, key, keylen))
            return &t[i];
    return NULL;
}

const struct scene_figure *figure_find(const struct scene_entry *e, const char *name, char *key,
                                       unsigned keylen)
{
    if (key && keylen)
        key[0] = '\0';
    if (!strncmp(name, "rec.", 4))
        name += 4;
    const struct scene_figure *f = NULL;
    if (e && e->figures)
        f = find_in(e->figures, e->nfigures, name, key, keylen);
    if (!f)
        f = find_in(figure_app, figure_napp, name, key, keylen);
    return f;
}

bool figure_applies(const struct scene_figure *f, const struct scene_entry *e, int mode,
                    const int64_t *params)
{
    if (!f)
        return true;
    if (f->modes && mode >= 0 && mode < 32 && !(f->modes & FIG_MODE(mode)))
        return false;
    if (!f->when || !params || !e)
        return true;
    char name[64];
    const char *eq = strchr(f->when, '=');
    size_t n = eq ? (size_t)(eq - f->when) : strlen(f->when);
    if (n >= sizeof name)
        return true;
    memcpy(name, f->when, n);
    name[n] = '\0';
    int i = scene_param_find(e, name);
    if (i < 0)
        return true;
    return eq ? params[i] == strtoll(eq + 1, NULL, 10) : params[i] != 0;
}

const char *figure_label(const struct scene_figure *f, const char *name, char *buf, unsigned len)
{
    if (f && f->label)
        return _(f->label);
    if (!strncmp(name, "rec.", 4))
        name += 4;
    snprintf(buf, len, "%s", name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = ' ';
    return buf;
}

const char *figure_word(const struct scene_figure *f, int64_t v)
{
    if (!f)
        return NULL;
    if (f->fmt == FIG_BOOL)
        return _(on_off[v != 0]);
    if (f->fmt == FIG_ENUM && v >= 0 && v < f->nwords && f->words[v])
        return _(f->words[v]);
    return NULL;
}

const struct scene_figure *figure_param_words(const struct scene_entry *e, const char *param)
{
    if (!e || !e->figures)
        return NULL;
    for (int i = 0; i < e->nfigures; i++)
        if (e->figures[i].fmt == FIG_ENUM && !strcmp(e->figures[i].name, param))
            return &e->figures[i];
    return NULL;
}

/* Thousands separators into the digits of an unsigned decimal string. */
static void group(char *buf, unsigned len, const char *digits, bool neg)
{
    size_t n = strlen(digits), o = 0;
    char out[96];
    if (neg)
        out[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < sizeof out; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    snprintf(buf, len, "%s", out);
}

void figure_fmt_int(char *buf, unsigned len, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "-" : v < 0 ? "-inf" : "inf");
        return;
    }
    char d[64];
    double r = fabs(round(v));
    snprintf(d, sizeof d, "%.0f", r);
    group(buf, len, d, round(v) < 0);
}

void figure_fmt_sig(char *buf, unsigned len, double v)
{
    double a = fabs(v);
    if (!isfinite(v) || (v == floor(v) && a < 1e18)) {
        figure_fmt_int(buf, len, v);
        return;
    }
    if (a >= 99.95) {
        figure_fmt_int(buf, len, v);
        return;
    }
    int dec;
    if (a >= 9.995)
        dec = 1;
    else if (a >= 0.9995)
        dec = 2;
    else {
        dec = 2 - (int)floor(log10(a));
        /* 0.0999 rounds up to 0.100: one decimal fewer keeps three digits */
        if (a * pow(10, dec) >= 999.5)
            dec--;
        if (dec > 6)
            dec = 6;
    }
    snprintf(buf, len, "%.*f", dec, v);
    if (strtod(buf, NULL) == 0)
        snprintf(buf, len, "0");
}

struct unit_step {
    const char *name;
    double mult; /* in the family's base */
};

static const struct unit_step time_units[] = {
    {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9}};
static const struct unit_step size_units[] = {
    {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};

static int unit_in(const struct unit_step *u, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(u[i].name, name))
            return i;
    return -1;
}

/* Units a prefix never goes on: shares, ratios, angles, tenths. */
static bool unit_unscaled(const char *u)
{
    static const char *const never[] = {"%", "x", "deg", "/10", "/1000", "px", "cores"};
    for (unsigned i = 0; i < sizeof never / sizeof never[0]; i++)
        if (!strcmp(u, never[i]))
            return true;
    return false;
}

void figure_fmt_scaled(char *val, unsigned vlen, char *unit, unsigned ulen, double v,
                       const char *unit_in_)
{
    const char *u = unit_in_ ? unit_in_ : "";
    int t = unit_in(time_units, 5, u), s = unit_in(size_units, 4, u);
    double a = fabs(v);
    if (t >= 0 && isfinite(v)) {
        double ns = a * time_units[t].mult;
        const char *micro = MB_CUR_MAX > 1 ? "\xc2\xb5s" : "us";
        const char *name = ns >= 1e9 ? "s" : ns >= 1e6 ? "ms" : ns >= 1e3 ? micro : "ns";
        double div = ns >= 1e9 ? 1e9 : ns >= 1e6 ? 1e6 : ns >= 1e3 ? 1e3 : 1;
        if (v == 0) { /* nothing happened: in the unit it was measured in */
            name = strcmp(u, "us") ? u : micro;
            div = time_units[t].mult;
        }
        figure_fmt_sig(val, vlen, v * time_units[t].mult / div);
        snprintf(unit, ulen, "%s", name);
        return;
    }
    if (s >= 0 && isfinite(v)) {
        double b = a * size_units[s].mult;
        int k = 0;
        while (k < 3 && b >= size_units[k + 1].mult)
            k++;
        if (v == 0)
            k = s;
        figure_fmt_sig(val, vlen, v * size_units[s].mult / size_units[k].mult);
        snprintf(unit, ulen, "%s", size_units[k].name);
        return;
    }
    /* A unit that comes with a prefix ("Msamples/s") is read from its base. */
    static const struct {
        char p;
        double m;
    } given[] = {{'k', 1e3}, {'M', 1e6}, {'G', 1e9}};
    for (unsigned i = 0; i < 3; i++)
        if (u[0] == given[i].p && u[1] >= 'a' && u[1] <= 'z' && isfinite(v)) {
            v *= given[i].m;
            a = fabs(v);
            u++;
            break;
        }
    const char *tu = *u ? _(u) : "";
    if (a >= 1e6 && isfinite(v) && !unit_unscaled(u)) {
        static const struct {
            double div;
            const char *p;
        } pre[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}};
        for (unsigned i = 0; i < 3; i++)
            if (a >= pre[i].div * 0.9995) {
                figure_fmt_sig(val, vlen, v / pre[i].div);
                /* figure_fmt_sig writes integral values exactly: keep three digits */
                if (!strchr(val, '.') && fabs(v / pre[i].div) < 100)
                    snprintf(val, vlen, "%.*f", fabs(v / pre[i].div) < 10 ? 2 : 1, v / pre[i].div);
                /* a unit in another script keeps a space after the prefix ("M 샘플") */
                snprintf(unit, ulen, "%s%s%s", pre[i].p, (unsigned char)tu[0] >= 0x80 ? " " : "",
                         tu);
                return;
            }
    }
    figure_fmt_sig(val, vlen, v);
    snprintf(unit, ulen, "%s", tu);
}

/* What one unit_out is in units of unit_in's family base (0: not the same family). */
static double unit_mult(const char *u, const char *in)
{
    int t = unit_in(time_units, 5, u), ti = unit_in(time_units, 5, in);
    if (t >= 0 && ti >= 0)
        return time_units[t].mult;
    int s = unit_in(size_units, 4, u), si = unit_in(size_units, 4, in);
    if (s >= 0 && si >= 0)
        return size_units[s].mult;
    const char *tin = *in ? _(in) : "";
    if (!strcmp(u, tin))
        return 1;
    static const struct {
        char p;
        double m;
    } pre[] = {{'k', 1e3}, {'M', 1e6}, {'G', 1e9}, {'T', 1e12}};
    for (unsigned i = 0; i < 4; i++)
        if (u[0] == pre[i].p && !strcmp(u + 1, tin))
            return pre[i].m;
    return 0;
}

double figure_in_unit(double v, const char *unit_in_, const char *unit_shown)
{
    const char *in = unit_in_ ? unit_in_ : "";
    double to = unit_mult(unit_shown, in), from = *in ? unit_mult(in, in) : 1;
    if (to == 0 || from == 0)
        return v;
    return v * from / to;
}

void figure_format(const struct scene_figure *f, double v, const char *unit_in_, char *val,
                   unsigned vlen, char *unit, unsigned ulen)
{
    const char *u = f && f->unit ? f->unit : unit_in_ ? unit_in_ : "";
    enum fig_format fmt = f ? f->fmt : FIG_AUTO;
    const char *w;
    switch (fmt) {
    case FIG_BOOL:
    case FIG_ENUM:
        w = figure_word(f, (int64_t)llround(v));
        if (w) {
            snprintf(val, vlen, "%s", w);
            snprintf(unit, ulen, "%s", "");
            return;
        }
        figure_fmt_int(val, vlen, v);
        snprintf(unit, ulen, "%s", *u ? _(u) : "");
        return;
    case FIG_INT:
        figure_fmt_int(val, vlen, v);
        snprintf(unit, ulen, "%s", *u ? _(u) : "");
        return;
    case FIG_AUTO:
    default:
        figure_fmt_scaled(val, vlen, unit, ulen, v, u);
        return;
    }
}
