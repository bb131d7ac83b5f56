/*
 * Option and parameter parsing under fuzzing: the input is split into
 * arguments at newlines; every outcome must be success or a usage error
 * with a message, never a crash. Built with libFuzzer (`make fuzz-cli`) or
 * as a plain program replaying the committed corpus in `make check`.
 */
#include "config.h"

#include <dirent.h>
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
    if (rc == 0 && o.headless && !o.replay && !o.list && !o.help && !o.version &&
        !o.convert_in && (o.duration <= 0 || !o.entry))
        abort();
    return 0;
}

#ifndef CONCTUI_LIBFUZZER
/* Replay every file of the corpus (default: tests/corpus/cli) as TAP. */
int main(int argc, char **argv)
{
    char dir[1024];
    const char *top = getenv("top_srcdir");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/tests/corpus/cli", top ? top : ".");
    DIR *d = opendir(dir);
    if (!d) {
        printf("1..0 # SKIP no corpus at %s\n", dir);
        return 0;
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static uint8_t in[4096];
        size_t len = fread(in, 1, sizeof in, f);
        fclose(f);
        LLVMFuzzerTestOneInput(in, len);
        printf("ok %d - %s\n", ++n, e->d_name);
    }
    closedir(d);
    printf("1..%d\n", n);
    return 0;
}
#endif
