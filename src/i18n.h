/*
 * i18n: every string a person reads goes through gettext. Tables of
 * constant strings (scene titles, modes, narration, parameter help, note
 * words, stat names) are marked N_() where they are written and translated
 * with _() where they are shown; messages built at run time use _() on the
 * format. Machine-readable output (--json, recordings, Chrome export)
 * keeps the untranslated names.
 */
#ifndef CONCTUI_I18N_H
#define CONCTUI_I18N_H

#ifdef ENABLE_NLS
#include <libintl.h>
#define _(s) gettext(s)
#else
#define _(s) (s)
#endif
#define N_(s) (s)

#endif
