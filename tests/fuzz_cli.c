/*
 * Option and parameter parsing under fuzzing: the input is split into
 * arguments at newlines; every outcome must be success or a usage error
 * with a message, never a crash. Built with libFuzzer
 * (`make fuzz`) or with tests/fuzz_replay.c, which replays its corpus.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[4096];
    char *argv[64] = {"conctui"};
    int argc = 1;
    if (size >= sizeof buf)
        size = sizeof buf - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *p = buf, *line; argc < 63 && (line = strsep(&p, "\n"));)
        argv[argc++] = line;
    struct cli o;
    char err[512] = "";
    int rc = cli_parse(argc, argv, &o, err, sizeof err);
    if (rc == 0)
        rc = cli_resolve(&o, err, sizeof err);
    if (rc != 0 && (rc != 2 || err[0] == '\0'))
        abort();
    /*
     * A headless run needs a duration, except --tour --check (the tour's own
     * durations) and a program's run (it ends when the program does).
     */
    if (rc == 0 && o.headless && !o.check && !o.replay && !o.list && !o.help && !o.version &&
        !o.convert_in && !o.run && (o.duration <= 0 || !o.entry))
        abort();
    /* A program's run names a command or a process to attach to, never both. */
    if (rc == 0 && o.run && !o.help && !o.version && !o.entry)
        abort();
    if (rc == 0 && o.run && !o.help && !o.version && !o.run_argv == !o.attach)
        abort();
    return 0;
}
