#include "config.h"

#include "cli.h"

#include "i18n.h"
#include "keys.h"
#include "scenes/program.h"
#include "theme.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_HEADLESS = 256,
    OPT_JSON,
    OPT_ASCII,
    OPT_LIST,
    OPT_VERSION,
    OPT_RECORD,
    OPT_REPLAY,
    OPT_EXPORT,
    OPT_CONVERT,
    OPT_SNAPSHOT,
    OPT_TOUR,
    OPT_THEME,
    OPT_LANE_ROWS,
    OPT_CHECK,
    OPT_FORCE,
    OPT_ATTACH,
    OPT_STDIN,
};

static const struct option longopts[] = {
    {"headless", no_argument, NULL, OPT_HEADLESS},
    {"scene", required_argument, NULL, 'S'},
    {"mode", required_argument, NULL, 'm'},
    {"set", required_argument, NULL, 's'},
    {"duration", required_argument, NULL, 'd'},
    {"width", required_argument, NULL, 'w'},
    {"ascii", no_argument, NULL, OPT_ASCII},
    {"json", no_argument, NULL, OPT_JSON},
    {"list", no_argument, NULL, OPT_LIST},
    {"record", required_argument, NULL, OPT_RECORD},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"export-chrome", required_argument, NULL, OPT_EXPORT},
    {"convert", required_argument, NULL, OPT_CONVERT},
    {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
    {"tour", optional_argument, NULL, OPT_TOUR},
    {"theme", required_argument, NULL, OPT_THEME},
    {"lane-rows", required_argument, NULL, OPT_LANE_ROWS},
    {"check", no_argument, NULL, OPT_CHECK},
    {"force", no_argument, NULL, OPT_FORCE},
    {"attach", required_argument, NULL, OPT_ATTACH},
    {"stdin", no_argument, NULL, OPT_STDIN},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void cli_usage(FILE *f)
{
    fprintf(f,
            _("Usage: conctui [--scene NAME] [--mode M] [--set KEY=VALUE]... [--duration SECONDS]\n"
              "       conctui --headless --scene NAME [--mode M] [--set KEY=VALUE]...\n"
              "               --duration SECONDS [--width N] [--ascii] [--json]\n"
              "       conctui --tour [FILE] [--headless --duration SECONDS]\n"
              "       conctui --tour --check [FILE] [--duration SECONDS]\n"
              "       conctui --replay FILE [--headless [--width N] [--ascii] [--json]]\n"
              "       conctui --convert RECORDING OUT.json [--force]\n"
              "       conctui run [--mode exact|sampled] [--headless [--duration SECONDS]\n"
              "               [--json]] [--record F] [--export-chrome F] [--stdin] -- COMMAND...\n"
              "       conctui run [OPTIONS] --attach PID\n"
              "       conctui --list | --help | --version\n"
              "\n"
              "An interactive terminal visualizer of concurrency: every scene runs real\n"
              "workers and draws their state transitions live as timelines.\n"
              "\n"
              "  -S, --scene NAME       start on this scene (see --list)\n"
              "  -m, --mode M           mode by number (1..) or name\n"
              "  -s, --set KEY=VALUE    set a scene parameter (repeatable)\n"
              "  -d, --duration SECS    run this long, then exit (required with --headless)\n"
              "      --headless         no terminal UI: print the timeline and the stats\n"
              "  -w, --width N          headless timeline width in columns (default 72)\n"
              "      --ascii            ASCII glyphs only\n"
              "      --json             headless: print stats and lane totals as JSON\n"
              "      --record FILE      write every event of the run to FILE\n"
              "      --replay FILE      open a recording instead of running a scene\n"
              "      --export-chrome F  at the end, write the run as a Chrome/Perfetto trace\n"
              "      --convert REC OUT  convert a recording to a Chrome/Perfetto trace\n"
              "      --snapshot F.ppm   at the end, write the scene's picture (raymarch) as PPM\n"
              "      --force            let --record, --convert, --export-chrome and --snapshot\n"
              "                         replace an existing file (never the input)\n"
              "      --tour [FILE]      walk through the course one step per key (Enter, <, >);\n"
              "                         FILE is a tour of your own (see conctui(1))\n"
              "      --check            with --tour: run every step headless and check what\n"
              "                         it says the screen shows (its expect lines)\n"
              "      --theme NAME       colours: default, contrast (projectors), cbsafe\n"
              "                         (colour-blind safe), mono (glyphs only)\n"
              "      --lane-rows N      draw every lane N rows tall (1-3, for the back of a room)\n"
              "      --list             list scenes, modes and parameters\n"
              "\n"
              "conctui run starts COMMAND and shows its threads and processes as lanes, their\n"
              "states from the kernel's context-switch records where it allows them (mode\n"
              "exact), else read from /proc (sampled, no privileges needed); its output goes\n"
              "to a panel (headless: straight through) and its exit status becomes conctui's.\n"
              "      --attach PID       follow a running process instead (yours, or as root)\n"
              "      --stdin            the program reads conctui's standard input (headless;\n"
              "                         otherwise it reads /dev/null)\n"
              "  -h, --help             show this help\n"
              "      --version          show the version\n"
              "\n"
              "Keys: press ? in the program, or see conctui(1).\n"));
}

/* fmt is a literal at every call (xgettext keyword fail:3), translated here. */
static int fail(char *err, unsigned errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, _(fmt), arg);
    return 2;
}

/* conctui run: the command after the options, and what does not go with it. */
static int run_check(int argc, char **argv, struct cli *o, char *err, unsigned errlen)
{
    if (o->help || o->version)
        return 0;
    if (optind < argc)
        o->run_argv = &argv[optind];
    if (o->run_argv && o->attach)
        return fail(err, errlen,
                    "conctui run takes a command or --attach PID, not both (the command is "
                    "'%s')",
                    o->run_argv[0]);
    if (!o->run_argv && !o->attach)
        return fail(err, errlen,
                    "conctui run needs a command: conctui run -- COMMAND [ARGS...] "
                    "(or --attach PID)%s",
                    "");
    if (o->scene || o->tour || o->replay || o->snapshot || o->check || o->convert_in || o->list)
        return fail(err, errlen,
                    "conctui run shows a program; --scene, --tour, --replay, --snapshot, "
                    "--check, --convert and --list do not apply to it%s",
                    "");
    if (o->pass_stdin && o->attach)
        return fail(err, errlen,
                    "--stdin starts a program with conctui's input; --attach does "
                    "not start one%s",
                    "");
    if (o->pass_stdin && !o->headless)
        return fail(err, errlen,
                    "--stdin needs --headless: the interactive view reads the terminal "
                    "itself%s",
                    "");
    if (o->json && !o->headless)
        return fail(err, errlen, "--json only applies with --headless%s", "");
    return 0;
}

int cli_parse(int argc, char **argv, struct cli *o, char *err, unsigned errlen)
{
    memset(o, 0, sizeof *o);
    o->width = 72;
    /* 0, not 1: glibc's getopt then starts over whole (its place inside an
     * argument, and the ordering the new option string asks for). */
    optind = 0;
    opterr = 0;
    /* conctui run [OPTIONS] -- COMMAND: options stop at the command. */
    if (argc > 1 && strcmp(argv[1], "run") == 0) {
        o->run = 1;
        argc--;
        argv++;
    }
    int c;
    while ((c = getopt_long(argc, argv, o->run ? "+:S:m:s:d:w:h" : ":S:m:s:d:w:h", longopts,
                            NULL)) != -1) {
        char *end;
        switch (c) {
        case OPT_HEADLESS:
            o->headless = 1;
            break;
        case 'S':
            o->scene = optarg;
            break;
        case 'm':
            o->mode = optarg;
            break;
        case 's':
            if (o->nsets >= CLI_MAX_SETS)
                return fail(err, errlen, "too many --set options (at most 32)%s", "");
            o->sets[o->nsets++] = optarg;
            break;
        case 'd':
            errno = 0;
            o->duration = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || errno || !isfinite(o->duration) ||
                o->duration <= 0 || o->duration > 86400)
                return fail(err, errlen,
                            "--duration: '%s' is not a number of seconds in (0, 86400]", optarg);
            break;
        case 'w': {
            errno = 0;
            long w = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno || w < 20 || w > 1000)
                return fail(err, errlen, "--width: '%s' is not a whole number in [20, 1000]",
                            optarg);
            o->width = (int)w;
            break;
        }
        case OPT_ASCII:
            o->ascii = 1;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_LIST:
            o->list = 1;
            break;
        case 'h':
            o->help = 1;
            break;
        case OPT_RECORD:
            o->record = optarg;
            break;
        case OPT_REPLAY:
            o->replay = optarg;
            break;
        case OPT_EXPORT:
            o->export_chrome = optarg;
            break;
        case OPT_CONVERT:
            o->convert_in = optarg;
            break;
        case OPT_SNAPSHOT:
            o->snapshot = optarg;
            break;
        case OPT_VERSION:
            o->version = 1;
            break;
        case OPT_TOUR:
            o->tour = 1;
            /* --tour FILE as well as --tour=FILE: a next word that is not an option is the file. */
            if (optarg)
                o->tour_file = optarg;
            else if (optind < argc && argv[optind][0] != '-')
                o->tour_file = argv[optind++];
            break;
        case OPT_CHECK:
            o->check = 1;
            /* --tour --check FILE: the word after --check may name the tour too. */
            if (!o->tour_file && optind < argc && argv[optind][0] != '-')
                o->tour_file = argv[optind++];
            break;
        case OPT_FORCE:
            o->force = 1;
            break;
        case OPT_ATTACH:
            errno = 0;
            o->attach = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno || o->attach < 1 || o->attach > 1L << 30)
                return fail(err, errlen, "--attach: '%s' is not a process id", optarg);
            break;
        case OPT_STDIN:
            o->pass_stdin = 1;
            break;
        case OPT_THEME:
            if (!theme_find(optarg))
                return fail(err, errlen, "--theme: no theme '%s' (default, contrast, cbsafe, mono)",
                            optarg);
            o->theme = optarg;
            break;
        case OPT_LANE_ROWS: {
            errno = 0;
            long r = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno || r < 1 || r > 3)
                return fail(err, errlen, "--lane-rows: '%s' is not 1, 2 or 3", optarg);
            o->lane_rows = (int)r;
            break;
        }
        case ':':
            return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
        default:
            return fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (o->run)
        return run_check(argc, argv, o, err, errlen);
    if (o->attach || o->pass_stdin)
        return fail(err, errlen, "--attach and --stdin apply to conctui run%s", "");
    if (o->convert_in && optind < argc)
        o->convert_out = argv[optind++];
    if (optind < argc)
        return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
    if (o->convert_in && !o->convert_out)
        return fail(err, errlen,
                    "--convert needs a recording and an output file: "
                    "--convert %s OUT.json",
                    o->convert_in);
    if (o->tour && (o->scene || o->mode || o->nsets || o->replay || o->record || o->snapshot))
        return fail(err, errlen,
                    "--tour chooses the scenes itself; --scene, --mode, --set, --replay, "
                    "--record and --snapshot do not apply to it%s",
                    "");
    if (o->check && !o->tour)
        return fail(err, errlen, "--check checks a tour: conctui --tour [FILE] --check%s", "");
    if (o->check && o->json)
        return fail(err, errlen, "--check prints its own report; --json does not apply to it%s",
                    "");
    if (o->check)
        o->headless = 1; /* the steps run without a terminal */
    if (o->json && !o->headless)
        return fail(err, errlen, "--json only applies with --headless%s", "");
    if (o->replay && (o->scene || o->mode || o->nsets || o->record))
        return fail(err, errlen,
                    "--replay shows a recording; --scene, --mode, --set and "
                    "--record do not apply to it%s",
                    "");
    if (o->snapshot && o->replay)
        return fail(err, errlen, "--snapshot needs a running scene, not a recording%s", "");
    if (o->replay && o->headless)
        return 0;
    if (o->headless && !o->check && !(o->help || o->list || o->version || o->convert_in)) {
        if (!o->scene && !o->tour)
            return fail(err, errlen, "--headless needs --scene NAME (see --list) or --tour%s", "");
        if (o->duration <= 0)
            return fail(err, errlen,
                        o->tour ? "--headless --tour needs --duration SECONDS (for each step)%s"
                                : "--headless needs --duration SECONDS%s",
                        "");
    }
    return 0;
}

int cli_resolve(struct cli *o, char *err, unsigned errlen)
{
    o->entry = o->run ? &scene_program : o->scene ? scene_find(o->scene) : scene_table[0];
    if (!o->entry) {
        int off = snprintf(err, errlen, _("unknown scene '%s'; scenes are:"), o->scene);
        for (int i = 0; scene_table[i] && off > 0 && (unsigned)off < errlen; i++)
            off += snprintf(err + off, errlen - (unsigned)off, " %s", scene_table[i]->name);
        return 2;
    }
    const struct scene_entry *e = o->entry;
    if (o->snapshot && !e->canvas)
        return fail(err, errlen, "--snapshot: scene '%s' draws no picture", e->name);
    o->mode_idx = 0;
    if (o->mode) {
        o->mode_idx = scene_mode_parse(e, o->mode);
        if (o->mode_idx < 0) {
            int off = snprintf(err, errlen, _("scene '%s' has no mode '%s'; modes are:"), e->name,
                               o->mode);
            for (int i = 0; i < e->nmodes && off > 0 && (unsigned)off < errlen; i++)
                off +=
                    snprintf(err + off, errlen - (unsigned)off, " %d=%s", i + 1, e->modes[i].name);
            return 2;
        }
    }
    for (int i = 0; i < e->nparams; i++) {
        o->params[i] = e->params[i].def;
        o->texts[i] = NULL;
    }
    for (int i = 0; i < o->nsets; i++) {
        int idx;
        int64_t v;
        const char *text;
        if (scene_param_parse_text(e, o->sets[i], &idx, &v, &text, err, errlen) != 0)
            return 2;
        o->params[idx] = v;
        o->texts[idx] = text;
    }
    return 0;
}

void cli_list(FILE *f)
{
    for (int i = 0; scene_table[i]; i++) {
        const struct scene_entry *e = scene_table[i];
        fprintf(f, "%s - %s: %s\n", e->name, _(e->title), _(e->summary));
        for (int m = 0; m < e->nmodes; m++)
            fprintf(f, "  mode %d %-12s %s\n", m + 1, e->modes[m].name, _(e->modes[m].title));
        for (int p = 0; p < e->nparams; p++) {
            const struct scene_param *sp = &e->params[p];
            if (sp->flags & SCENE_P_BOOL)
                fprintf(f, _("  --set %s=on|off  %s [default %s]%s\n"), sp->name, _(sp->help),
                        sp->def ? "on" : "off",
                        sp->flags & SCENE_P_RESTART ? _(" (restarts)") : "");
            else
                fprintf(f, _("  --set %s=N  %s [%lld..%lld, default %lld%s%s]%s\n"), sp->name,
                        _(sp->help), (long long)sp->min, (long long)sp->max, (long long)sp->def,
                        *sp->unit ? " " : "", sp->unit,
                        sp->flags & SCENE_P_RESTART ? _(" (restarts)") : "");
        }
        for (int k = 0; k < e->nkeys; k++) {
            char kb[16];
            fprintf(f, "  key %s  %s\n", keys_name(e->keys[k].key, kb, sizeof kb),
                    _(e->keys[k].help));
        }
    }
}
