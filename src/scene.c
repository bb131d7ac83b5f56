#include "config.h"

#include "scene.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "trace.h"
#include "scenes/program.h"

int scene_count(void)
{
    int n = 0;
    while (scene_table[n])
        n++;
    return n;
}

const struct scene_entry *scene_find(const char *name)
{
    for (int i = 0; scene_table[i]; i++)
        if (strcmp(scene_table[i]->name, name) == 0)
            return scene_table[i];
    /* Not in the table (it needs a program), but its recordings replay with its notes. */
    if (strcmp(scene_program.name, name) == 0)
        return &scene_program;
    return NULL;
}

int scene_index(const struct scene_entry *e)
{
    for (int i = 0; scene_table[i]; i++)
        if (scene_table[i] == e)
            return i;
    return -1;
}

int scene_mode_parse(const struct scene_entry *e, const char *s)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*s && *end == '\0' && errno == 0)
        return n >= 1 && n <= e->nmodes ? (int)n - 1 : -1;
    for (int i = 0; i < e->nmodes; i++)
        if (strcmp(e->modes[i].name, s) == 0)
            return i;
    return -1;
}

int scene_param_find(const struct scene_entry *e, const char *name)
{
    for (int i = 0; i < e->nparams; i++)
        if (strcmp(e->params[i].name, name) == 0)
            return i;
    return -1;
}

int scene_param_parse(const struct scene_entry *e, const char *kv, int *idx, int64_t *val,
                      char *err, unsigned errlen)
{
    const char *text;
    int rc = scene_param_parse_text(e, kv, idx, val, &text, err, errlen);
    if (rc == 0 && text) {
        snprintf(err, errlen, _("%s: '%s' is only taken by --set on the command line"),
                 e->params[*idx].name, text);
        return -1;
    }
    return rc;
}

int scene_param_parse_text(const struct scene_entry *e, const char *kv, int *idx, int64_t *val,
                           const char **text, char *err, unsigned errlen)
{
    *text = NULL;
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errlen, _("--set expects key=value, got '%s'"), kv);
        return -1;
    }
    char key[64];
    size_t klen = (size_t)(eq - kv);
    if (klen >= sizeof key) {
        snprintf(err, errlen, _("parameter name too long in '%.40s...'"), kv);
        return -1;
    }
    memcpy(key, kv, klen);
    key[klen] = '\0';
    int i = scene_param_find(e, key);
    if (i < 0) {
        int off =
            snprintf(err, errlen, _("scene '%s' has no parameter '%s' (it has:"), e->name, key);
        for (int k = 0; k < e->nparams && off > 0 && (unsigned)off < errlen; k++)
            off += snprintf(err + off, errlen - (unsigned)off, " %s", e->params[k].name);
        if (off > 0 && (unsigned)off < errlen)
            snprintf(err + off, errlen - (unsigned)off, ")");
        return -1;
    }
    const struct scene_param *p = &e->params[i];
    const char *v = eq + 1;
    int64_t x;
    if (p->flags & SCENE_P_BOOL && (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))) {
        x = 1;
    } else if (p->flags & SCENE_P_BOOL &&
               (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))) {
        x = 0;
    } else {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if ((*v == '\0' || *end != '\0') && p->flags & SCENE_P_TEXT && p->text) {
            if (strlen(v) >= SCENE_TEXT_MAX) {
                snprintf(err, errlen, _("%s: the value is longer than %d bytes"), key,
                         SCENE_TEXT_MAX - 1);
                return -1;
            }
            if (p->text(v, &x, err, errlen) != 0)
                return -1;
            *idx = i;
            *val = x;
            *text = v;
            return 0;
        }
        if (*v == '\0' || *end != '\0') {
            snprintf(err, errlen, _("%s: '%s' is not a whole number"), key, v);
            return -1;
        }
        if (errno == ERANGE || n < p->min || n > p->max) {
            snprintf(err, errlen, _("%s: %s is out of range [%" PRId64 ", %" PRId64 "]"), key, v,
                     p->min, p->max);
            return -1;
        }
        x = n;
    }
    *idx = i;
    *val = x;
    return 0;
}

int scene_ctx_init(struct scene_ctx *ctx, const struct scene_entry *e, int mode)
{
    memset(ctx, 0, sizeof *ctx);
    void *p =
        mmap(NULL, sizeof *ctx->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    ctx->sh = p;
    ctx->entry = e;
    ctx->mode = mode;
    atomic_store(&ctx->sh->slowmo, 1);
    for (int i = 0; i < e->nparams && i < SCENE_MAX_PARAMS; i++)
        atomic_store(&ctx->sh->param[i], e->params[i].def);
    pthread_mutex_init(&ctx->note_lock, NULL);
    return 0;
}

void scene_ctx_free(struct scene_ctx *ctx)
{
    if (ctx->sh)
        munmap(ctx->sh, sizeof *ctx->sh);
    ctx->sh = NULL;
    pthread_mutex_destroy(&ctx->note_lock);
}

void scene_request_stop(struct scene_ctx *ctx)
{
    atomic_store_explicit(&ctx->sh->stop, 1, memory_order_release);
}

/* Scene time -> real ns under slow motion. */
static uint64_t stretch(const struct scene_ctx *ctx, uint64_t ns)
{
    int f = atomic_load_explicit(&ctx->sh->slowmo, memory_order_relaxed);
    return ns * (uint64_t)(f > 0 ? f : 1);
}

bool scene_sleep(const struct scene_ctx *ctx, uint64_t ns)
{
    /* Sleep in slices so a stop request is seen within 20 ms. */
    uint64_t end = trace_now_ns() + stretch(ctx, ns);
    for (;;) {
        if (scene_stopping(ctx))
            return false;
        uint64_t now = trace_now_ns();
        if (now >= end)
            return true;
        uint64_t left = end - now;
        if (left > 20000000)
            left = 20000000;
        struct timespec d = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        nanosleep(&d, NULL);
    }
}

bool scene_spin(const struct scene_ctx *ctx, uint64_t ns)
{
    uint64_t end = trace_now_ns() + stretch(ctx, ns);
    unsigned n = 0;
    volatile uint64_t sink = 0;
    while (trace_now_ns() < end) {
        for (int k = 0; k < 64; k++)
            sink = sink * 6364136223846793005ull + 1442695040888963407ull;
        if ((++n & 255) == 0 && scene_stopping(ctx))
            return false;
    }
    return !scene_stopping(ctx);
}

void scene_note(struct scene_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&ctx->note_lock);
    va_start(ap, fmt);
    vsnprintf(ctx->note, sizeof ctx->note, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&ctx->note_lock);
}

void scene_note_get(struct scene_ctx *ctx, char *buf, unsigned len)
{
    pthread_mutex_lock(&ctx->note_lock);
    snprintf(buf, len, "%s", ctx->note);
    pthread_mutex_unlock(&ctx->note_lock);
}

void scene_child_enter(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    /* The parent's own handlers (its self-pipe) are not the child's business. */
    signal(SIGTSTP, SIG_DFL);
    signal(SIGWINCH, SIG_DFL);
    sigset_t mine;
    sigemptyset(&mine);
    sigaddset(&mine, SIGTERM);
    sigaddset(&mine, SIGTSTP); /* Ctrl-Z stops the whole foreground group */
    pthread_sigmask(SIG_UNBLOCK, &mine, NULL);
}

int scene_spawn(bool process, void *(*fn)(void *), void *arg, pthread_t *threads, int *nthreads,
                pid_t *pids, int *npids)
{
    if (process) {
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
            return -errno;
        if (pid == 0) {
            scene_child_enter();
            /* The parent may have died before PR_SET_PDEATHSIG took hold. */
            if (getppid() != parent)
                _exit(1);
            fn(arg);
            _exit(0);
        }
        pids[(*npids)++] = pid;
        return 0;
    }
    int rc = pthread_create(&threads[*nthreads], NULL, fn, arg);
    if (rc)
        return -rc;
    (*nthreads)++;
    return 0;
}

void scene_reap(pid_t *pids, int *n)
{
    for (int tries = 0; tries < 200 && *n > 0; tries++) {
        for (int i = 0; i < *n;) {
            if (waitpid(pids[i], NULL, WNOHANG) == pids[i])
                pids[i] = pids[--*n];
            else
                i++;
        }
        if (*n) {
            struct timespec d = {0, 10000000};
            nanosleep(&d, NULL);
        }
    }
    for (int i = 0; i < *n; i++) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
    }
    *n = 0;
}

void scene_stat_spread(struct scene_stats *out, const char *name, double median, double lo,
                       double hi, int rounds, const char *unit)
{
    if (out->n >= SCENE_MAX_STATS) {
        out->dropped++;
        return;
    }
    struct scene_stat *s = &out->s[out->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->value = median;
    snprintf(s->unit, sizeof s->unit, "%s", unit);
    s->rounds = rounds > 0 ? rounds : 0;
    s->lo = s->rounds ? lo : median;
    s->hi = s->rounds ? hi : median;
}

void scene_stat(struct scene_stats *out, const char *name, double value, const char *unit)
{
    scene_stat_spread(out, name, value, value, value, 0, unit);
}
