/* What gemm_packed.c shares with its AVX-512 kernel (gemm_packed_avx512.c): the product's
 * arguments and the cache blocking. Not for use outside those two files. */
#ifndef SEMB_KERNELS_GEMM_PACKED_INTERNAL_H
#define SEMB_KERNELS_GEMM_PACKED_INTERNAL_H

#include <stdbool.h>

#include "kernels/gemm_packed.h"

/* K is cut in blocks of GEMM_KC so that one panel's block (KC x 16 floats, 16 KiB) stays in
 * L1 while the rows of A stream past it; GEMM_MC rows of A (MC x KC floats, 96 KiB) stay in
 * L2 while the panels of one task go by. Each entry is a float stored between blocks and
 * reloaded exactly, so neither size changes a result's bits. */
enum { GEMM_KC = 256, GEMM_MC = 96 };

/* The first tile of a panel block finds the panel in L3 or memory (the weights of a whole
 * model do not fit in cache), one 64-byte line per k: it prefetches ahead, the later tiles
 * find the block in L1. */
enum { GEMM_PREFETCH_FLOATS = 16 * GEMM_NR };

typedef struct gemm_job {
    float *C;
    int ldc;
    const float *A;
    int lda;
    const float *packed;
    int M, N, K;
    const float *bias;
    gemm_epilogue epilogue;
    bool accumulate;
} gemm_job;

/* Rows [m0, m1) by panels [p0, p1) of j, every K block, on AVX-512 (the caller checked
 * kernel_path_supported(KERNEL_PATH_AVX512)). Each entry is summed k by k in order from
 * its start, as the AVX2 kernel sums it, with the same epilogue: the same bits. */
void gemm_task_avx512(const gemm_job *j, int m0, int m1, int p0, int p1);

#endif
