/*
 * The plain-program side of the fuzz targets: replays every file of a
 * corpus (default tests/corpus/FUZZ_CORPUS) through LLVMFuzzerTestOneInput
 * and reports TAP, so `make check` runs each corpus without libFuzzer.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    char dir[1024];
    const char *top = getenv("top_srcdir");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/tests/corpus/%s", top ? top : ".", FUZZ_CORPUS);
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
