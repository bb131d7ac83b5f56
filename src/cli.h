/*
 * cli: the command line, parsed into options and checked against the scene
 * table. Errors are returned as text with exit status 2 (usage).
 */
#ifndef CONCTUI_CLI_H
#define CONCTUI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "scene.h"

#define CLI_MAX_SETS 32

struct cli {
    int headless, list, help, version, json, ascii;
    const char *scene;
    const char *mode;
    const char *sets[CLI_MAX_SETS];
    int nsets;
    const char *record;                   /* --record FILE */
    const char *replay;                   /* --replay FILE */
    const char *export_chrome;            /* --export-chrome FILE */
    const char *snapshot;                 /* --snapshot FILE.ppm */
    const char *convert_in, *convert_out; /* --convert REC OUT */
    int tour;                             /* --tour: walk through a tour */
    const char *tour_file;                /* its file (NULL: the built-in tour) */
    int check;                            /* --check: run the tour's expectations */
    int force;                            /* --force: output files may replace existing ones */
    const char *theme;                    /* --theme NAME (NULL: default) */
    int lane_rows;                        /* --lane-rows N: rows per lane (1..3) */
    double duration; /* seconds (per step with --tour; with --check, for steps without a check
                        line); 0 = until quit */
    int width;       /* headless timeline columns */
    int run;         /* conctui run: follow a program */
    char **run_argv; /* its command (NULL-terminated), NULL with --attach */
    long attach;     /* --attach PID */
    int pass_stdin;  /* --stdin: the program reads conctui's standard input */
    /* resolved by cli_resolve */
    const struct scene_entry *entry;
    int mode_idx;
    int64_t params[SCENE_MAX_PARAMS];
    const char *texts[SCENE_MAX_PARAMS]; /* text values (SCENE_P_TEXT), else NULL */
};

/* Parse argv; 0 on success, 2 on a usage error (message in err). */
int cli_parse(int argc, char **argv, struct cli *o, char *err, unsigned errlen);
/* Check scene, mode and --set against the scene table; 0 or 2. */
int cli_resolve(struct cli *o, char *err, unsigned errlen);
void cli_usage(FILE *f);
/* The --list text: scenes, modes, parameters. */
void cli_list(FILE *f);

#endif
