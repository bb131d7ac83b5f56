/*
 * The key table: conctui(1) lists exactly its keys, no two bindings in force
 * together claim a key unless a scene's shadows a soft key of the app's,
 * every action keeps a key in every scene, and the reserved set and the
 * replay's refusals follow from it.
 */
#include "config.h"

#include "testutil.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "keys.h"
#include "scene.h"
#include "trace.h"

#define MAX_TOKENS 256

struct tokens {
    int n;
    char s[MAX_TOKENS][32];
};

static void add_token(struct tokens *t, const char *s)
{
    if (!*s)
        return;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->s[i], s))
            return;
    assert_true(t->n < MAX_TOKENS);
    snprintf(t->s[t->n++], sizeof t->s[0], "%s", s);
}

static bool has_token(const struct tokens *t, const char *s)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->s[i], s))
            return true;
    return false;
}

/* A roff word without its escapes: \- is -, \& nothing, \e a backslash. */
static void unescape(const char *in, char *out, size_t len)
{
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < len; p++) {
        if (*p == '\\' && p[1] == '-') {
            out[k++] = '-';
            p++;
        } else if (*p == '\\' && p[1] == '&') {
            p++;
        } else if (*p == '\\' && p[1] == 'e') {
            out[k++] = '\\';
            p++;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

/* The keys a tag line (.B or .BR) names: .B's words, or .BR's bold (odd) arguments. */
static void tag_keys(const char *line, struct tokens *t)
{
    bool br = !strncmp(line, ".BR ", 4);
    if (!br && strncmp(line, ".B ", 3))
        return;
    const char *p = line + (br ? 4 : 3);
    char arg[64][64];
    int n = 0;
    while (*p && n < 64) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        size_t k = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"' && k + 1 < sizeof arg[0]; p++)
                arg[n][k++] = *p;
            if (*p == '"')
                p++;
        } else {
            for (; *p && *p != ' ' && *p != '\n' && k + 1 < sizeof arg[0]; p++)
                arg[n][k++] = *p;
        }
        arg[n++][k] = '\0';
    }
    char buf[64];
    if (!br) {
        char all[128] = "";
        for (int i = 0; i < n; i++)
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? " " : "", arg[i]);
        unescape(all, buf, sizeof buf);
        add_token(t, buf);
        return;
    }
    for (int i = 0; i < n; i += 2) {
        unescape(arg[i], buf, sizeof buf);
        add_token(t, buf);
    }
}

/*
 * Read a man page: the keys its KEYS section names (app), and the keys each
 * scene's "Keys" list names (scene[i] for scene_table[i]).
 */
static void read_man(const char *rel, const char *keys_sh, const char *scenes_sh,
                     const char *keys_word, struct tokens *app, struct tokens *scene)
{
    const char *top = getenv("top_srcdir");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", top ? top : ".", rel);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024], prev[1024] = "";
    enum { OTHER, KEYS, SCENES } sec = OTHER;
    int cur = -1;
    bool in_keys = false, want_keys = false;
    memset(app, 0, sizeof *app);
    for (int i = 0; scene_table[i]; i++)
        memset(&scene[i], 0, sizeof scene[i]);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, ".SH ", 4)) {
            sec = !strcmp(line + 4, keys_sh) ? KEYS : !strcmp(line + 4, scenes_sh) ? SCENES : OTHER;
            cur = -1;
        } else if (sec == SCENES && !strncmp(line, ".SS ", 4)) {
            char name[64];
            sscanf(line + 4, "%63s", name);
            const struct scene_entry *e = scene_find(name);
            assert_non_null(e);
            cur = scene_index(e);
            in_keys = want_keys = false;
        } else if (sec == KEYS && !strcmp(prev, ".TP")) {
            tag_keys(line, app);
        } else if (sec == SCENES && cur >= 0) {
            if (!strcmp(prev, ".TP") && !strcmp(line, keys_word))
                want_keys = true;
            else if (want_keys && !strcmp(line, ".RS"))
                in_keys = true, want_keys = false;
            else if (in_keys && !strcmp(line, ".RE"))
                in_keys = false;
            else if (in_keys && !strcmp(prev, ".TP"))
                tag_keys(line, &scene[cur]);
        }
        snprintf(prev, sizeof prev, "%s", line);
    }
    fclose(f);
}

static void check_man(const char *rel, const char *keys_sh, const char *scenes_sh,
                      const char *keys_word)
{
    static struct tokens app, scene[32];
    read_man(rel, keys_sh, scenes_sh, keys_word, &app, scene);
    char kb[32];
    /* Every key of the table is in KEYS, and every key KEYS names is in the table. */
    for (int i = 0; i < app_nbindings; i++) {
        const char *l = keys_label(&app_bindings[i], kb, sizeof kb);
        if (!has_token(&app, l))
            fail_msg("%s: KEYS does not list %s (%s)", rel, l, app_bindings[i].help);
    }
    for (int i = 0; i < app.n; i++) {
        bool found = false;
        for (int j = 0; j < app_nbindings && !found; j++)
            found = !strcmp(keys_label(&app_bindings[j], kb, sizeof kb), app.s[i]);
        if (!found)
            fail_msg("%s: KEYS lists %s, which the key table does not have", rel, app.s[i]);
    }
    /* Each scene's own keys: its Keys list, exactly. */
    for (int s = 0; scene_table[s]; s++) {
        const struct scene_entry *e = scene_table[s];
        for (int k = 0; k < e->nkeys; k++) {
            const char *l = keys_name(e->keys[k].key, kb, sizeof kb);
            if (!has_token(&scene[s], l))
                fail_msg("%s: %s's Keys do not list %s", rel, e->name, l);
        }
        for (int i = 0; i < scene[s].n; i++) {
            bool found = false;
            for (int k = 0; k < e->nkeys && !found; k++)
                found = !strcmp(keys_name(e->keys[k].key, kb, sizeof kb), scene[s].s[i]);
            if (!found)
                fail_msg("%s: %s's Keys list %s, which the scene does not take", rel, e->name,
                         scene[s].s[i]);
        }
    }
    assert_true(app.n > 20);
}

static void test_keys_man_lists_the_table(void **state)
{
    (void)state;
    check_man("man/conctui.1", "KEYS", "SCENES", "Keys");
    check_man("man/ko/conctui.1", "\xed\x82\xa4", "\xec\x9e\xa5\xeb\xa9\xb4", "\xed\x82\xa4");
}

/* The sets of contexts in force at once. */
static const unsigned contexts[] = {KEY_LIVE, KEY_LIVE | KEY_TOUR, KEY_ASK, KEY_REPLAY, KEY_HELP};

/* Keys worth probing: every printable ASCII key, Tab, Enter and every named key. */
static int probes(int *out)
{
    int n = 0;
    for (int k = 0x20; k < 0x7f; k++)
        out[n++] = k;
    out[n++] = '\t';
    out[n++] = '\n';
    for (int k = APP_KEY_UP; k <= APP_KEY_MOUSE; k++)
        out[n++] = k;
    return n;
}

static void test_keys_no_silent_conflicts(void **state)
{
    (void)state;
    for (int s = -1; s < scene_count(); s++) {
        const struct scene_entry *e = s < 0 ? NULL : scene_table[s];
        for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
            struct key_binding b[KEYS_MAX];
            int n = keys_collect(app_bindings, app_nbindings, e, contexts[c], b, KEYS_MAX);
            int probe[128], np = probes(probe);
            for (int p = 0; p < np; p++) {
                int key = probe[p], first = -1;
                char kb[32];
                for (int i = 0; i < n; i++) {
                    if (!keys_match(&b[i], key))
                        continue;
                    if (first < 0) {
                        first = i;
                        continue;
                    }
                    /* A second claim: only a scene's shadowing key over a soft key of the app's. */
                    bool ok = (b[first].flags & KEY_SCENE) && (b[first].flags & KEY_SHADOWS) &&
                              !(b[i].flags & KEY_SCENE) && (b[i].flags & KEY_SOFT);
                    if (!ok)
                        fail_msg("%s, contexts %u: %s is claimed by \"%s\" and \"%s\"",
                                 e ? e->name : "no scene", contexts[c],
                                 keys_name(key, kb, sizeof kb), b[first].help, b[i].help);
                }
                /* A key marked as shadowing shadows something. */
                if (first >= 0 && (b[first].flags & KEY_SHADOWS)) {
                    bool shadows = false;
                    for (int i = first + 1; i < n; i++)
                        shadows |= keys_match(&b[i], key);
                    if (!shadows && (contexts[c] & KEY_LIVE))
                        fail_msg("%s: %s is marked as shadowing but the app does not bind it",
                                 e->name, keys_name(key, kb, sizeof kb));
                }
            }
        }
    }
}

/* A scene's keys all reach it, and every action of the app's keeps a key in every scene. */
static void test_keys_scene_keys_given_and_actions_kept(void **state)
{
    (void)state;
    static struct key_item plain[KEYS_MAX], it[KEYS_MAX];
    for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
        int np = keys_items(app_bindings, app_nbindings, NULL, contexts[c], plain, KEYS_MAX);
        assert_true(np > 0);
        for (int s = 0; scene_table[s]; s++) {
            const struct scene_entry *e = scene_table[s];
            struct key_binding b[KEYS_MAX];
            int n = keys_collect(app_bindings, app_nbindings, e, contexts[c], b, KEYS_MAX), own = 0;
            for (int i = 0; i < n; i++)
                own += (b[i].flags & KEY_SCENE) != 0;
            assert_int_equal(own, contexts[c] & KEY_LIVE ? e->nkeys : 0);
            int ni = keys_items(app_bindings, app_nbindings, e, contexts[c], it, KEYS_MAX),
                apps = 0;
            for (int i = 0; i < ni; i++)
                apps += !it[i].scene;
            if (apps != np)
                fail_msg("%s: %d of the app's %d actions keep a key", e->name, apps, np);
            for (int i = 0; i < ni; i++)
                if (it[i].scene && strstr(it[i].text, "in place of")) {
                    /* It says which keys still do what it took. */
                    assert_non_null(strstr(it[i].text, "still do that"));
                }
        }
    }
}

/* The reserved set is what the table binds for running scenes, less the soft keys. */
static void test_keys_reserved_set(void **state)
{
    (void)state;
    const char *must = "qQ?h\tnN0123456789frm.S ijk+-=_lTL<>\nwsad,";
    for (const char *p = must; *p; p++)
        if (*p != ',')
            assert_true(keys_reserved(app_bindings, app_nbindings, *p));
    assert_false(keys_reserved(app_bindings, app_nbindings, ',')); /* a replay's key only */
    assert_false(keys_reserved(app_bindings, app_nbindings, APP_KEY_LEFT));
    assert_false(keys_reserved(app_bindings, app_nbindings, APP_KEY_UP));
    assert_false(keys_reserved(app_bindings, app_nbindings, 'c'));
    assert_true(keys_reserved(app_bindings, app_nbindings, APP_KEY_PGDN));
    /* A scene that lists a reserved key never gets it; its other keys it does. */
    static const struct scene_key k[] = {{'q', "mine", 0}, {'Z', "mine too", 0}};
    struct scene_entry e = {.name = "keys", .keys = k, .nkeys = 2};
    struct key_binding b[KEYS_MAX];
    int n = keys_collect(app_bindings, app_nbindings, &e, KEY_LIVE, b, KEYS_MAX);
    assert_true(b[0].flags & KEY_SCENE);
    assert_int_equal(b[0].key, 'Z');
    assert_false(b[1].flags & KEY_SCENE);
    for (int i = 0; i < n; i++)
        if (keys_match(&b[i], 'q'))
            assert_false(b[i].flags & KEY_SCENE);
}

/* A recording refuses what the table binds only live (scene keys included), and steps. */
static void test_keys_replay_refuses(void **state)
{
    (void)state;
    static struct app a;
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/conctui-keys-%d.rec", (int)getpid());
    assert_int_equal(app_init(&a), 0);
    assert_int_equal(app_start(&a, scene_find("postoffice"), 0, NULL), 0);
    assert_int_equal(app_record(&a, path, false, err, sizeof err), 0);
    struct timespec d = {0, 300000000};
    nanosleep(&d, NULL);
    app_tick(&a, trace_now_ns());
    app_release(&a);
    assert_int_equal(app_replay(&a, path, err, sizeof err), 0);
    assert_int_equal(app_key_context(&a), KEY_REPLAY);
    const int refused[] = {'r', '+', '1', 'S', '\t', 'm', 'c' /* the scene's own */, APP_KEY_UP};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        a.msg[0] = '\0';
        assert_int_equal(app_key(&a, refused[i], 100), APP_CONTINUE);
        assert_non_null(strstr(a.msg, "cannot be changed"));
    }
    a.msg[0] = '\0';
    app_key(&a, 'y', 100);
    assert_non_null(strstr(a.msg, "does nothing here"));
    uint64_t at = a.view.cursor;
    app_key(&a, '.', 100);
    assert_true(a.view.cursor > at || strstr(a.msg, "last event"));
    app_key(&a, ',', 100);
    assert_true(a.view.cursor <= at || strstr(a.msg, "first event"));
    /* The help takes over every key but its own and q. */
    app_key(&a, '?', 100);
    assert_int_equal(app_key_context(&a), KEY_HELP);
    app_key(&a, APP_KEY_PGDN, 100); /* before the first frame of the help: a page on */
    assert_true(a.view.help);
    app_key(&a, APP_KEY_PGUP, 100);
    assert_int_equal(a.view.help_page, 0);
    a.geom.help_pages = 2; /* as a frame at some size finds */
    app_key(&a, APP_KEY_PGDN, 100);
    assert_int_equal(a.view.help_page, 1);
    app_key(&a, APP_KEY_PGUP, 100);
    assert_int_equal(a.view.help_page, 0);
    app_key(&a, ' ', 100);
    app_key(&a, ' ', 100); /* past the last page */
    assert_false(a.view.help);
    app_key(&a, '?', 100);
    app_key(&a, 'r', 100); /* any other key closes it, and does nothing else */
    assert_false(a.view.help);
    assert_int_equal(app_key(&a, 'q', 100), APP_QUIT);
    app_shutdown(&a);
    unlink(path);
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_man_lists_the_table),
        cmocka_unit_test(test_keys_no_silent_conflicts),
        cmocka_unit_test(test_keys_scene_keys_given_and_actions_kept),
        cmocka_unit_test(test_keys_reserved_set),
        cmocka_unit_test(test_keys_replay_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
