/*
 * figure: a scene's figures as people read them: a short translated label,
 * a value written the way its kind of number is read (exact integers with
 * thousands separators, SI prefixes on the unit, words for enums and
 * on/off), and whether it applies to the running mode. Pure: no terminal,
 * no clock; the JSON keys and values are not touched.
 */
#ifndef CONCTUI_FIGURE_H
#define CONCTUI_FIGURE_H

#include <stdbool.h>
#include <stdint.h>

#include "scene.h"

/* The app's own figures (trace_events, machine_busy, a replay's duration ...). */
extern const struct scene_figure figure_app[];
extern const int figure_napp;

/*
 * The entry for figure `name` in the scene's table or the app's, or NULL.
 * A recording's "rec.NAME" is looked up as NAME. For a FIG_COLUMN match the
 * row's key (what stands for the '*') is written to key (else "").
 */
const struct scene_figure *figure_find(const struct scene_entry *e, const char *name, char *key,
                                       unsigned keylen);
/* Whether the pattern (one '*' for a key without '_') matches name; the key to key. */
bool figure_match(const char *pattern, const char *name, char *key, unsigned keylen);
/* Whether figure f applies to the mode and parameter values (params NULL: every figure does). */
bool figure_applies(const struct scene_figure *f, const struct scene_entry *e, int mode,
                    const int64_t *params);
/* The label shown: the entry's, translated, or the name with spaces for underscores. */
const char *figure_label(const struct scene_figure *f, const char *name, char *buf, unsigned len);
/*
 * Write value v as f says (f NULL: FIG_AUTO with the figure's own unit):
 * the number into val and the unit it is read in (translated, prefixed)
 * into unit ("" when none).
 */
void figure_format(const struct scene_figure *f, double v, const char *unit_in, char *val,
                   unsigned vlen, char *unit, unsigned ulen);
/* v (in unit_in) in the unit figure_format chose to show (for a spread beside its value). */
double figure_in_unit(double v, const char *unit_in, const char *unit_shown);
/* The word a FIG_ENUM entry gives value v (translated), or NULL when it has none. */
const char *figure_word(const struct scene_figure *f, int64_t v);
/* A scene's FIG_ENUM entry named like its parameter `param`, or NULL. */
const struct scene_figure *figure_param_words(const struct scene_entry *e, const char *param);

/* The pieces, each unit-tested. */
/* An exact integer, thousands separated: 5,000,000,050,000,000 (rounded to an integer). */
void figure_fmt_int(char *buf, unsigned len, double v);
/* Three significant digits, never an exponent; integral values exactly (with separators). */
void figure_fmt_sig(char *buf, unsigned len, double v);
/*
 * v in unit_in, rescaled: times to ns/µs/ms/s, sizes to B/KiB/MiB/GiB, and
 * any other unit (not %, x or a ratio) with k/M/G/T on the unit above a
 * million. The number to val, the unit to unit.
 */
void figure_fmt_scaled(char *val, unsigned vlen, char *unit, unsigned ulen, double v,
                       const char *unit_in);

#endif
