/*
 * A fuzz target with a planted bug, built only by `make fuzz-selftest`: an
 * input that starts with "PLANT" makes it read one byte past a heap buffer.
 * Its seed corpus (tests/corpus/planted) holds such an input, so libFuzzer
 * stops at once with AddressSanitizer's report, and the selftest requires
 * that the fuzz rule then fails.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (size >= 5 && memcmp(copy, "PLANT", 5) == 0)
        sink = copy[size]; /* the planted bug: one byte past the end */
    free(copy);
    return 0;
}
