/*
 * The recording reader under fuzzing. Built with libFuzzer (`make fuzz`,
 * clang) to search for inputs, or with tests/fuzz_replay.c, which replays
 * the committed corpus in `make check`.
 */
#include "config.h"

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
