#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "headless.h"

int scenetest_count_dir(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

void scenetest_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

void scenetest_run(struct app *a, const char *name, int mode, double secs, const char *const *sets)
{
    char *argv[48] = {"conctui", "--headless", "--scene", (char *)name, "--duration", "1"};
    int argc = 6;
    char dur[32];
    snprintf(dur, sizeof dur, "%g", secs);
    argv[5] = dur;
    for (int i = 0; sets && sets[i] && argc < 46; i++) {
        argv[argc++] = "--set";
        argv[argc++] = (char *)sets[i];
    }
    struct cli o;
    char err[256];
    if (cli_parse(argc, argv, &o, err, sizeof err) != 0 || cli_resolve(&o, err, sizeof err) != 0)
        fail_msg("%s: %s", name, err);
    o.mode_idx = mode;
    assert_int_equal(headless_run(a, &o, NULL), 0);
}

double scenetest_stat(const struct app *a, const char *name)
{
    for (int i = 0; i < a->stats.n; i++)
        if (strcmp(a->stats.s[i].name, name) == 0)
            return a->stats.s[i].value;
    fail_msg("no stat %s", name);
    return -1;
}

const struct scene_stat *scenetest_figure(const struct app *a, const char *name)
{
    for (int i = 0; i < a->stats.n; i++)
        if (strcmp(a->stats.s[i].name, name) == 0)
            return &a->stats.s[i];
    fail_msg("no stat %s", name);
    return NULL;
}

void scenetest_reads_one(const struct app *a, const char *name, const char *what)
{
    const struct scene_stat *s = scenetest_figure(a, name);
    assert_true(s->rounds >= 5);
    assert_true(s->lo <= s->value && s->value <= s->hi);
    if (!(s->lo <= 1.0 && 1.0 <= s->hi) && (s->value < 0.8 || s->value > 1.25)) {
        /* The program says such a figure is unreliable while others share the CPUs. */
        if (a->load.busy || load_run_other(&a->load) >= load_busy_on(a->load.last.cpus)) {
            print_message("# %s against itself: %.3f while the machine was busy (%.2f other "
                          "cores): not judged\n",
                          what, s->value, load_run_other(&a->load));
            skip();
        }
        fail_msg("%s against itself: %.3f (%.3f-%.3f, %d rounds)", what, s->value, s->lo, s->hi,
                 s->rounds);
    }
}

int scenetest_note_id(const struct app *a, const char *words)
{
    const struct scene_entry *e = a->scene;
    for (int i = 1; i < e->nnotes; i++)
        if (e->notes[i] && strstr(e->notes[i], words))
            return i;
    fail_msg("no note '%s'", words);
    return -1;
}

const struct history_lane *scenetest_lane(const struct app *a, const char *name)
{
    for (int i = 0; i < a->hist.nlanes; i++)
        if (strcmp(a->hist.lane[i].name, name) == 0)
            return &a->hist.lane[i];
    fail_msg("no lane '%s'", name);
    return NULL;
}
