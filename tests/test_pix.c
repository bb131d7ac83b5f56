/* pix: clipped pixels, lines, discs, rings and the 3x5 digits. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pix.h"

enum { W = 16, H = 12 };
static uint8_t rgb[W * H * 3];
static struct pix p = {rgb, W, H};

static uint32_t at(int x, int y)
{
    const uint8_t *d = rgb + ((size_t)y * W + (size_t)x) * 3;
    return (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2];
}

static int lit(void)
{
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            n += at(x, y) != 0;
    return n;
}

static int setup(void **state)
{
    (void)state;
    memset(rgb, 0, sizeof rgb);
    return 0;
}

static void test_pix_put_clips(void **state)
{
    (void)state;
    pix_put(&p, 3, 4, 0x123456);
    assert_int_equal(at(3, 4), 0x123456);
    pix_put(&p, -1, 0, 0xffffff);
    pix_put(&p, W, 0, 0xffffff);
    pix_put(&p, 0, H, 0xffffff);
    assert_int_equal(lit(), 1);
}

static void test_pix_line_ends_and_dashes(void **state)
{
    (void)state;
    pix_line(&p, 0, 0, 11, 0, 0xff0000, false);
    assert_int_equal(lit(), 12);
    assert_int_equal(at(0, 0), 0xff0000);
    assert_int_equal(at(11, 0), 0xff0000);
    memset(rgb, 0, sizeof rgb);
    pix_line(&p, 0, 1, 11, 1, 0x00ff00, true); /* two on, two off */
    assert_int_equal(lit(), 6);
    assert_int_equal(at(0, 1), 0x00ff00);
    assert_int_equal(at(2, 1), 0);
    memset(rgb, 0, sizeof rgb);
    pix_line(&p, 2, 9, 9, 2, 0x0000ff, false); /* a diagonal: one pixel a step */
    assert_int_equal(lit(), 8);
    assert_int_equal(at(5, 6), 0x0000ff);
}

static void test_pix_disc_and_ring(void **state)
{
    (void)state;
    pix_disc(&p, 6, 6, 3, 0x808080);
    int disc = lit();
    assert_int_equal(at(6, 6), 0x808080);
    memset(rgb, 0, sizeof rgb);
    pix_ring(&p, 6, 6, 3, 0x808080);
    assert_int_equal(at(6, 6), 0); /* hollow */
    assert_int_equal(at(6, 3), 0x808080);
    assert_true(lit() < disc);
}

static void test_pix_number(void **state)
{
    (void)state;
    assert_int_equal(pix_number(&p, 0, 0, 7, 0xffffff), 3);
    assert_int_equal(lit(), 7); /* 7: the top row and a stem of four */
    assert_int_equal(pix_number(&p, 0, 6, 10, 0xffffff), 7);
    assert_int_equal(pix_number(&p, 0, 0, -3, 0xffffff), 7); /* a sign takes a place, unlit */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_pix_put_clips),
        T(test_pix_line_ends_and_dashes),
        T(test_pix_disc_and_ring),
        T(test_pix_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
