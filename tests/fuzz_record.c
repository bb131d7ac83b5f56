/*
 * The recording reader under fuzzing. Built two ways: with libFuzzer
 * (`make fuzz`, clang) to search for inputs, and as a plain program that
 * replays the committed corpus in `make check`.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct history h;
    static struct rec_meta m;
    char err[300];
    if (rec_read_mem(data, size, "fuzz", &h, &m, err, sizeof err) == 0) {
        /* Whatever was accepted must be consistent enough to walk. */
        for (int i = 0; i < h.nlanes; i++)
            for (size_t k = 1; k < history_kept(&h.lane[i]); k++)
                if (history_at(&h.lane[i], k)->t < history_at(&h.lane[i], k - 1)->t)
                    abort();
        history_free(&h);
    } else if (strncmp(err, "fuzz: offset ", 13) != 0) {
        abort(); /* every rejection names the file and the offset */
    }
    return 0;
}

#ifndef CONCTUI_LIBFUZZER
/* Replay every file of the corpus (default: tests/corpus/record) as TAP. */
int main(int argc, char **argv)
{
    char dir[1024];
    const char *top = getenv("top_srcdir");
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "");
    if (argc < 2)
        snprintf(dir, sizeof dir, "%s/tests/corpus/record", top ? top : ".");
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
        static uint8_t buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        printf("ok %d - %s\n", ++n, e->d_name);
    }
    closedir(d);
    printf("1..%d\n", n);
    return 0;
}
#endif
