/*
 * reduce.h - a sum reduction on the GPU for the parallel-sum scene: the
 * integers 1..n generated in registers, or an array of uint64 copied to the
 * device once and summed there. Only built (and only called) when the build
 * defines HAVE_CUDA; reduce_cuda_probe says at run time whether a device is
 * there.
 *
 * Typical use, all from one thread:
 *     if (reduce_cuda_probe(why, sizeof why)) {
 *         struct reduce_cuda *r = reduce_cuda_create(err, sizeof err);
 *         reduce_cuda_range(r, n, &sum, &ms, err, sizeof err);
 *         reduce_cuda_upload(r, a, count, err, sizeof err);
 *         reduce_cuda_array(r, &sum, &ms, err, sizeof err);
 *         reduce_cuda_destroy(r);
 *     }
 */
#ifndef CONCTUI_GPU_REDUCE_H
#define CONCTUI_GPU_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct reduce_cuda;

/* 1 if cudaGetDeviceCount finds a device, else 0 with the reason. */
int reduce_cuda_probe(char *reason, size_t reasonlen);

/* Opens device 0; NULL with a message on failure. */
struct reduce_cuda *reduce_cuda_create(char *err, size_t errlen);

/* Frees every device buffer and event. */
void reduce_cuda_destroy(struct reduce_cuda *r);

/* The device's name and its multiprocessor count. */
const char *reduce_cuda_name(const struct reduce_cuda *r, int *sms);

/* Sum of 1..n computed on the device (one add per element); kernel time in *ms. 0 or -1. */
int reduce_cuda_range(struct reduce_cuda *r, uint64_t n, uint64_t *sum, double *ms, char *err,
                      size_t errlen);

/* Copies count values to the device (kept for reduce_cuda_array); copy time in *ms. */
int reduce_cuda_upload(struct reduce_cuda *r, const uint64_t *a, size_t count, double *ms,
                       char *err, size_t errlen);

/* Sum of the uploaded values, read from device memory; kernel time in *ms. 0 or -1. */
int reduce_cuda_array(struct reduce_cuda *r, uint64_t *sum, double *ms, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
