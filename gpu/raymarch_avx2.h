/*
 * raymarch_avx2.h - the CPU's ray-packet marcher (AVX2), internal to raymarch.c.
 */
#ifndef CONCTUI_GPU_RAYMARCH_AVX2_H
#define CONCTUI_GPU_RAYMARCH_AVX2_H

#include "raymarch.h"

/* Lanes in one packet. */
#define RM_PACKET 8

/* Up to RM_PACKET rays as raymarch_ray() sets them up, one per lane, structure of arrays. A lane
 * with n = 0 is empty (missed the box, or no pixel); its p and dp must still be finite. */
struct rm_packet {
    float px[RM_PACKET], py[RM_PACKET], pz[RM_PACKET];
    float dx[RM_PACKET], dy[RM_PACKET], dz[RM_PACKET];
    int n[RM_PACKET];
};

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define RM_HAVE_AVX2 1

/* Nonzero when this CPU runs raymarch__packet_avx2 (AVX2). */
int raymarch__avx2_usable(void);

/* Packets are RM_PACKET_W x RM_PACKET_H pixels: rays of nearby pixels take similar numbers of
 * steps, and a square-ish packet is more alike than a row (fewer lanes idle at its end). */
#define RM_PACKET_W 4
#define RM_PACKET_H 2

/* Sets up the rays of the cols x rows pixels from (x,y) (lane l: x + l % 4, y + l / 4) exactly as
 * raymarch_ray() does, the same operations in the same order; other lanes are left empty. */
void raymarch__rays_avx2(const struct rm_frame *f, int x, int y, int cols, int rows,
                         struct rm_packet *pk);

/* Marches every lane of pk and composites it exactly as raymarch_pixel() does: the same
 * operations in the same order, so each lane's result is bit-identical to the reference's
 * (brightness not yet applied: out[l].r/g/b are the raw sums). */
void raymarch__packet_avx2(const struct rm_sampler *s, const float *table,
                           const struct rm_packet *pk, struct rm_pixel out[RM_PACKET]);
#endif

#endif
