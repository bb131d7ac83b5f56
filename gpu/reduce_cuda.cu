/*
 * reduce_cuda.cu - the GPU side of the parallel-sum scene: a two-level sum
 * reduction (warp shuffles, then one shared slot per warp, then one 64-bit
 * atomic add per block).
 *
 * DESIGN
 * Who runs: the host thread that owns a struct reduce_cuda makes every call,
 * all on the default stream, so the calls are ordered without further
 * synchronisation. On the device, a grid of REDUCE_BLOCK-thread blocks walks
 * the input with a grid-stride loop; each thread keeps a private 64-bit sum
 * in a register, so no two threads write the same word until the block's
 * result is ready. Inside a block the partial sums meet through
 * __shfl_down_sync (no memory at all), then through one __shared__ slot per
 * warp after a __syncthreads(); thread 0 adds the block's total to the
 * single result word with atomicAdd, the only write that blocks share.
 * Integer addition is associative, so the total is exact whatever order the
 * blocks finish in.
 *
 * The range kernel generates 1..n in registers (compute-bound); the array
 * kernel reads the values uploaded once by reduce_cuda_upload with 16-byte
 * loads (memory-bound: its time gives the device's read bandwidth).
 *
 * Standalone check (needs only nvcc):
 *     nvcc -DREDUCE_CUDA_SELFTEST -o reduce_selftest gpu/reduce_cuda.cu && ./reduce_selftest
 */
#include "reduce.h"
#include "errmsg.h"

#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDUCE_BLOCK 256
#define BLOCKS_PER_SM 8

struct reduce_cuda {
    int device;
    int sm_count;
    char name[256];
    unsigned long long *d_out; /* the one result word */
    unsigned long long *d_arr; /* uploaded values */
    size_t arr_count, arr_cap;
    cudaEvent_t ev[2];
};

/* The block's total, valid in thread 0: shuffles within warps, then across them. */
__device__ static unsigned long long block_total(unsigned long long s)
{
    __shared__ unsigned long long warp_sum[REDUCE_BLOCK / 32];
    for (int off = 16; off > 0; off >>= 1)
        s += __shfl_down_sync(0xffffffffu, s, off);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0)
        warp_sum[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < REDUCE_BLOCK / 32 ? warp_sum[lane] : 0;
        for (int off = 16; off > 0; off >>= 1)
            s += __shfl_down_sync(0xffffffffu, s, off);
    }
    return s;
}

/* Sum of 1..n: each thread adds every stride-th integer, one add per element. */
__global__ static void range_kernel(unsigned long long n, unsigned long long *out)
{
    unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    unsigned long long s = 0;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x + 1;
         i <= n; i += stride) {
        s += i;
        /* Keeps the compiler from folding the loop into a closed form. */
        asm volatile("" : "+l"(s));
    }
    s = block_total(s);
    if (threadIdx.x == 0)
        atomicAdd(out, s);
}

/* Sum of count values in device memory, two per 16-byte load. */
__global__ static void array_kernel(const unsigned long long *a, size_t count,
                                    unsigned long long *out)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const ulonglong2 *v = (const ulonglong2 *)a;
    unsigned long long s = 0;
    for (size_t i = tid; i < count / 2; i += stride) {
        ulonglong2 x = v[i];
        s += x.x + x.y;
    }
    if (tid == 0 && (count & 1))
        s += a[count - 1];
    s = block_total(s);
    if (threadIdx.x == 0)
        atomicAdd(out, s);
}

extern "C" int reduce_cuda_probe(char *reason, size_t reasonlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        errmsg_set(reason, reasonlen, "no CUDA device: %s", cudaGetErrorString(e));
        return 0;
    }
    if (n < 1) {
        errmsg_set(reason, reasonlen, "no CUDA device");
        return 0;
    }
    return 1;
}

extern "C" struct reduce_cuda *reduce_cuda_create(char *err, size_t errlen)
{
    struct reduce_cuda *r = (struct reduce_cuda *)calloc(1, sizeof *r);
    cudaDeviceProp prop;
    cudaError_t e;
    if (!r) {
        errmsg_set(err, errlen, "reduce: out of memory");
        return NULL;
    }
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, 0)) !=
                                                     cudaSuccess)
        goto fail;
    r->sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
    snprintf(r->name, sizeof r->name, "%s", prop.name);
    if ((e = cudaMalloc((void **)&r->d_out, sizeof *r->d_out)) != cudaSuccess)
        goto fail;
    if ((e = cudaEventCreate(&r->ev[0])) != cudaSuccess ||
        (e = cudaEventCreate(&r->ev[1])) != cudaSuccess)
        goto fail;
    return r;
fail:
    errmsg_set(err, errlen, "CUDA: %s", cudaGetErrorString(e));
    reduce_cuda_destroy(r);
    return NULL;
}

extern "C" void reduce_cuda_destroy(struct reduce_cuda *r)
{
    if (!r)
        return;
    if (r->d_out)
        cudaFree(r->d_out);
    if (r->d_arr)
        cudaFree(r->d_arr);
    for (int i = 0; i < 2; i++)
        if (r->ev[i])
            cudaEventDestroy(r->ev[i]);
    free(r);
}

extern "C" const char *reduce_cuda_name(const struct reduce_cuda *r, int *sms)
{
    if (sms)
        *sms = r->sm_count;
    return r->name;
}

/* Zeroes the result, times the launch that fn makes, and reads the result back. */
template <typename F>
static int timed_launch(struct reduce_cuda *r, F launch, uint64_t *sum, double *ms, char *err,
                        size_t errlen)
{
    unsigned long long h = 0;
    float t = 0;
    cudaError_t e;
    if ((e = cudaMemset(r->d_out, 0, sizeof *r->d_out)) != cudaSuccess)
        goto fail;
    cudaEventRecord(r->ev[0]);
    launch();
    cudaEventRecord(r->ev[1]);
    if ((e = cudaGetLastError()) != cudaSuccess)
        goto fail;
    if ((e = cudaMemcpy(&h, r->d_out, sizeof h, cudaMemcpyDeviceToHost)) != cudaSuccess)
        goto fail;
    cudaEventSynchronize(r->ev[1]);
    cudaEventElapsedTime(&t, r->ev[0], r->ev[1]);
    *sum = h;
    if (ms)
        *ms = t;
    return 0;
fail:
    errmsg_set(err, errlen, "CUDA: %s", cudaGetErrorString(e));
    return -1;
}

extern "C" int reduce_cuda_range(struct reduce_cuda *r, uint64_t n, uint64_t *sum, double *ms,
                                 char *err, size_t errlen)
{
    unsigned blocks = (unsigned)(r->sm_count * BLOCKS_PER_SM);
    unsigned long long *out = r->d_out;
    return timed_launch(
        r, [&]() { range_kernel<<<blocks, REDUCE_BLOCK>>>((unsigned long long)n, out); }, sum,
        ms, err, errlen);
}

extern "C" int reduce_cuda_upload(struct reduce_cuda *r, const uint64_t *a, size_t count,
                                  double *ms, char *err, size_t errlen)
{
    cudaError_t e;
    float t = 0;
    if (count > r->arr_cap) {
        if (r->d_arr)
            cudaFree(r->d_arr);
        r->d_arr = NULL;
        r->arr_cap = r->arr_count = 0;
        if ((e = cudaMalloc((void **)&r->d_arr, count * sizeof *a)) != cudaSuccess)
            goto fail;
        r->arr_cap = count;
    }
    cudaEventRecord(r->ev[0]);
    if ((e = cudaMemcpy(r->d_arr, a, count * sizeof *a, cudaMemcpyHostToDevice)) != cudaSuccess)
        goto fail;
    cudaEventRecord(r->ev[1]);
    cudaEventSynchronize(r->ev[1]);
    cudaEventElapsedTime(&t, r->ev[0], r->ev[1]);
    if (ms)
        *ms = t;
    r->arr_count = count;
    return 0;
fail:
    errmsg_set(err, errlen, "CUDA: %s", cudaGetErrorString(e));
    return -1;
}

extern "C" int reduce_cuda_array(struct reduce_cuda *r, uint64_t *sum, double *ms, char *err,
                                 size_t errlen)
{
    if (!r->d_arr) {
        errmsg_set(err, errlen, "reduce: nothing uploaded");
        return -1;
    }
    unsigned blocks = (unsigned)(r->sm_count * BLOCKS_PER_SM);
    const unsigned long long *a = r->d_arr;
    size_t count = r->arr_count;
    unsigned long long *out = r->d_out;
    return timed_launch(
        r, [&]() { array_kernel<<<blocks, REDUCE_BLOCK>>>(a, count, out); }, sum, ms, err,
        errlen);
}

#ifdef REDUCE_CUDA_SELFTEST
/* Sums 1..n both ways and checks them against n(n+1)/2. */
int main(void)
{
    char why[256];
    if (!reduce_cuda_probe(why, sizeof why)) {
        printf("reduce_cuda: %s (nothing to check)\n", why);
        return 0;
    }
    struct reduce_cuda *r = reduce_cuda_create(why, sizeof why);
    if (!r) {
        printf("reduce_cuda: %s\n", why);
        return 1;
    }
    int sms = 0;
    printf("device: %s, %d SMs\n", reduce_cuda_name(r, &sms), sms);
    uint64_t n = 100000000ull, sum = 0;
    double ms = 0;
    int bad = 0;
    if (reduce_cuda_range(r, n, &sum, &ms, why, sizeof why) != 0) {
        printf("range: %s\n", why);
        return 1;
    }
    bad += sum != n / 2 * (n + 1);
    printf("range 1..%llu = %llu (%s), %.3f ms\n", (unsigned long long)n,
           (unsigned long long)sum, sum == n / 2 * (n + 1) ? "exact" : "WRONG", ms);
    size_t count = (size_t)32 << 20; /* 256 MiB */
    uint64_t *a = (uint64_t *)malloc(count * sizeof *a);
    for (size_t i = 0; i < count; i++)
        a[i] = i + 1;
    double up = 0;
    if (reduce_cuda_upload(r, a, count, &up, why, sizeof why) != 0 ||
        reduce_cuda_array(r, &sum, &ms, why, sizeof why) != 0) {
        printf("array: %s\n", why);
        return 1;
    }
    reduce_cuda_array(r, &sum, &ms, why, sizeof why); /* warm */
    uint64_t want = (uint64_t)count / 2 * ((uint64_t)count + 1);
    bad += sum != want;
    printf("array of %zu = %llu (%s), %.3f ms, %.1f GB/s (upload %.1f ms)\n", count,
           (unsigned long long)sum, sum == want ? "exact" : "WRONG", ms,
           (double)count * 8 / (ms * 1e6), up);
    free(a);
    reduce_cuda_destroy(r);
    return bad ? 1 : 0;
}
#endif
