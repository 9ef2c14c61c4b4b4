/* What gemm_int8.c shares with its AVX512-VNNI kernel (gemm_int8_vnni.c). Not for use
 * outside those two files. */
#ifndef SEMB_KERNELS_GEMM_INT8_INTERNAL_H
#define SEMB_KERNELS_GEMM_INT8_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm_int8.h"

typedef struct int8_job {
    float *C;
    int ldc;
    const uint8_t *q;
    size_t ldq;
    const float *scale;
    const int32_t *zero;
    const gemm_int8_weight *w;
    int M;
    const float *bias;
    gemm_epilogue epilogue;
} int8_job;

/* Rows [m0, m1) by panels [p0, p1) of j with vpdpbusd (the caller checked AVX-512 F/BW/VL/DQ
 * and AVX512-VNNI). The integer sums are exact, as the AVX2 kernel's, and the float formula
 * and epilogue are the same operations: the same bits. */
void int8_task_vnni(const int8_job *j, int m0, int m1, int p0, int p1);

#endif
