/*
 * DESIGN: main parses the command line, installs the quit signals
 * (SIGINT, SIGTERM, SIGHUP) and, for the interactive view, SIGWINCH and
 * SIGTSTP as a self-pipe so the frame loop or headless driver sees them
 * between frames, and hands over to ui_main or
 * headless_main. Worker threads never take these signals (app_start blocks
 * them around the scene's start).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "file.h"
#include "headless.h"
#include "i18n.h"
#include "record.h"
#include "ui.h"
#include "text.h"
#include "scenes/program.h"

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_seen;
static volatile int headless_quit;

/* Quit signals set the flags; SIGWINCH and SIGTSTP only wake the frame loop. */
static void on_signal(int signo)
{
    int saved = errno;
    if (signo != SIGWINCH && signo != SIGTSTP) {
        sig_seen = signo;
        headless_quit = 1;
    }
    unsigned char b = (unsigned char)signo;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* The pipe is full: a byte is already waiting, which is enough. */
    }
    errno = saved;
}

static int install_signals(bool tui)
{
    if (pipe(sig_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /*
     * The interactive view takes SIGWINCH and SIGTSTP too: ncurses' own
     * handlers do not preserve errno, so the frame loop resizes, suspends
     * and resumes curses itself.
     */
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP};
    for (unsigned i = 0; i < (tui ? 5u : 3u); i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/*
 * Where the message catalogues are: CONCTUI_LOCALEDIR when set; the
 * locale/ directory next to the program when it runs uninstalled, from its
 * build directory (`make` puts the catalogues there); else the installed
 * ones under LOCALEDIR.
 */
static const char *catalogue_dir(char *buf, size_t len)
{
    const char *dir = getenv("CONCTUI_LOCALEDIR");
    if (dir && *dir)
        return dir;
    char exe[PATH_MAX];
    /* The installed program (in bindir) uses the installed catalogues. */
    if (!file_exe_dir(exe, sizeof exe) || file_installed())
        return LOCALEDIR;
    struct stat sb;
    if ((size_t)snprintf(buf, len, "%s/locale", exe) < len && stat(buf, &sb) == 0 &&
        S_ISDIR(sb.st_mode))
        return buf;
    return LOCALEDIR;
}

static void main_i18n(void)
{
    setlocale(LC_ALL, "");
#ifdef ENABLE_NLS
    char buf[PATH_MAX + 16];
    bindtextdomain(PACKAGE, catalogue_dir(buf, sizeof buf));
    bind_textdomain_codeset(PACKAGE, "UTF-8");
    textdomain(PACKAGE);
#endif
}

/*
 * OpenMP team threads (the ray marcher's) should sleep between frames, not
 * spin: libgomp's default keeps an idle thread busy-waiting for a while
 * after every parallel region, which at a steady frame rate costs a core's
 * share for a still picture, and on a busy machine a spinning thread delays
 * the others. libgomp reads OMP_WAIT_POLICY only when it is loaded, before
 * main, so when the user set no policy main sets "passive" and executes
 * the program again, once. If that fails the program runs on as it is.
 */
static void omp_passive(char **argv)
{
#ifdef HAVE_OPENMP
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    /* Under valgrind /proc/self/exe is valgrind's tool, not this program. */
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload"))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 0) == 0)
        execv("/proc/self/exe", argv);
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    omp_passive(argv);
    main_i18n();
    struct cli o;
    char err[512];
    if (cli_parse(argc, argv, &o, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, "conctui: %s\n\n", err);
        cli_usage(stderr);
        return 2;
    }
    if (o.help) {
        cli_usage(stdout);
        return 0;
    }
    if (o.version) {
        printf("conctui %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (o.list) {
        cli_list(stdout);
        return 0;
    }
    if (o.convert_in) {
        if (rec_convert(o.convert_in, o.convert_out, o.force, err, sizeof err) != 0) {
            text_clean_inplace(err, sizeof err, 1);
            fprintf(stderr, "conctui: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (cli_resolve(&o, err, sizeof err) != 0) {
        text_clean_inplace(err, sizeof err, 1);
        fprintf(stderr, "conctui: %s\n", err);
        return 2;
    }
    if (o.run) {
        if (o.attach && program_attach_check((pid_t)o.attach, err, sizeof err) != 0) {
            text_clean_inplace(err, sizeof err, 1);
            fprintf(stderr, "conctui: %s\n", err);
            return 1;
        }
        /* Headless, the program writes where conctui would: beside --json's output, not in it. */
        struct program_opts po = {.argv = o.run_argv,
                                  .attach = (pid_t)o.attach,
                                  .pass_stdin = o.pass_stdin,
                                  .out_fd =
                                      o.headless ? (o.json ? STDERR_FILENO : STDOUT_FILENO) : -1};
        program_configure(&po);
    }
    if (install_signals(!o.headless) != 0) {
        fprintf(stderr, _("conctui: cannot create a pipe: %s\n"), strerror(errno));
        return 1;
    }
    if (o.headless) {
        int rc = headless_main(&o, &headless_quit);
        return rc == 0 && sig_seen ? 128 + sig_seen : rc;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr,
                _("conctui: %s is not a terminal; the interactive view needs one.\n"
                  "Use --headless --scene NAME --duration SECONDS to run without it.\n"),
                isatty(STDIN_FILENO) ? _("standard output") : _("standard input"));
        return 1;
    }
    return ui_main(&o, sig_pipe[0], &sig_seen);
}
