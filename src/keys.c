#include "config.h"

#include "keys.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "i18n.h"
#include "scene.h"

const char *keys_name(int key, char *buf, size_t len)
{
    static const char *const names[] = {"Up",   "Down", "Left",      "Right", "Home",      "End",
                                        "PgUp", "PgDn", "Shift-Tab", "Esc",   "Backspace", "Mouse"};
    if (key >= APP_KEY_UP && key <= APP_KEY_MOUSE)
        return names[key - APP_KEY_UP];
    if (key == '\t')
        return "Tab";
    if (key == '\n')
        return "Enter";
    if (key == ' ')
        return "Space";
    snprintf(buf, len, "%lc", (wint_t)key);
    return buf;
}

const char *keys_label(const struct key_binding *b, char *buf, size_t len)
{
    char k1[16], k2[16];
    if (b->last)
        snprintf(buf, len, "%s-%s", keys_name(b->key, k1, sizeof k1),
                 keys_name(b->last, k2, sizeof k2));
    else
        snprintf(buf, len, "%s", keys_name(b->key, k1, sizeof k1));
    return buf;
}

bool keys_match(const struct key_binding *b, int key)
{
    return b->last ? key >= b->key && key <= b->last : key == b->key;
}

bool keys_reserved(const struct key_binding *t, int n, int key)
{
    for (int i = 0; i < n; i++)
        if ((t[i].where & (KEY_LIVE | KEY_TOUR)) && !(t[i].flags & KEY_SOFT) &&
            keys_match(&t[i], key))
            return true;
    return false;
}

int keys_collect(const struct key_binding *t, int n, const struct scene_entry *e, unsigned ctx,
                 struct key_binding *out, int max)
{
    int k = 0;
    if (e && (ctx & KEY_LIVE))
        for (int i = 0; i < e->nkeys && k < max; i++) {
            if (keys_reserved(t, n, e->keys[i].key))
                continue;
            out[k++] = (struct key_binding){.key = e->keys[i].key,
                                            .help = e->keys[i].help,
                                            .where = KEY_LIVE,
                                            .flags = KEY_SCENE | (e->keys[i].flags & KEY_SHADOWS)};
        }
    for (int i = 0; i < n && k < max; i++)
        if (t[i].where & ctx)
            out[k++] = t[i];
    return k;
}

bool keys_bound(const struct key_binding *t, int n, const struct scene_entry *e, unsigned ctx,
                int key)
{
    struct key_binding b[KEYS_MAX];
    int nb = keys_collect(t, n, e, ctx, b, KEYS_MAX);
    for (int i = 0; i < nb; i++)
        if (keys_match(&b[i], key))
            return true;
    return false;
}

/* Is binding i's key taken by an earlier binding (the scene's)? */
static bool taken(const struct key_binding *b, int i)
{
    for (int j = 0; j < i; j++)
        if ((b[j].flags & KEY_SCENE) && keys_match(&b[i], b[j].key))
            return true;
    return false;
}

/* Append a key's label to a line's, space-separated. */
static void add_label(char *label, size_t len, const struct key_binding *b)
{
    char kb[24];
    size_t used = strlen(label);
    snprintf(label + used, len - used, "%s%s", used ? " " : "", keys_label(b, kb, sizeof kb));
}

int keys_items(const struct key_binding *t, int n, const struct scene_entry *e, unsigned ctx,
               struct key_item *out, int max)
{
    struct key_binding b[KEYS_MAX];
    int nb = keys_collect(t, n, e, ctx, b, KEYS_MAX), k = 0;
    for (int i = 0; i < nb && k < max; i++) {
        struct key_item *it = &out[k];
        if (b[i].flags & KEY_SCENE) {
            it->scene = true;
            it->label[0] = '\0';
            add_label(it->label, sizeof it->label, &b[i]);
            snprintf(it->text, sizeof it->text, "%s", _(b[i].help));
            /* Say what it takes the key from, and which keys still do that. */
            for (int j = i + 1; j < nb; j++) {
                if ((b[j].flags & KEY_SCENE) || !keys_match(&b[j], b[i].key))
                    continue;
                char still[48] = "";
                for (int m = i + 1; m < nb; m++)
                    if (!(b[m].flags & KEY_SCENE) && !strcmp(b[m].help, b[j].help) && !taken(b, m))
                        add_label(still, sizeof still, &b[m]);
                char note[256];
                if (still[0])
                    snprintf(note, sizeof note, _("(in place of: %s; %s still do that)"),
                             _(b[j].help), still);
                else
                    snprintf(note, sizeof note, _("(in place of: %s)"), _(b[j].help));
                size_t used = strlen(it->text);
                snprintf(it->text + used, sizeof it->text - used, " %s", note);
                break;
            }
            k++;
            continue;
        }
        /* The app's: one line for a run of bindings with the same help. */
        if (i > 0 && !(b[i - 1].flags & KEY_SCENE) && !strcmp(b[i - 1].help, b[i].help))
            continue;
        it->scene = false;
        it->label[0] = '\0';
        for (int j = i; j < nb && !strcmp(b[j].help, b[i].help); j++)
            if (!taken(b, j))
                add_label(it->label, sizeof it->label, &b[j]);
        if (!it->label[0])
            continue; /* every key of it taken by the scene (tests/test_keys.c forbids it) */
        snprintf(it->text, sizeof it->text, "%s", _(b[i].help));
        k++;
    }
    return k;
}
