/* NumPy .npy output (format 1.0, little-endian float32, C order), readable by numpy.load. */
#ifndef SEMB_IO_NPY_H
#define SEMB_IO_NPY_H

#include <stddef.h>
#include <stdio.h>

#include "semb.h"

/* Writes the header for a [rows, cols] float32 array; the caller then writes
 * rows * cols floats. Header padded so the data starts 64-byte aligned. */
semb_status npy_write_f32_header(FILE *fp, size_t rows, size_t cols, const char *path,
                                 semb_error *err);

/* Writes a whole [rows, cols] float32 array to path atomically. */
semb_status npy_write_f32(const char *path, const float *data, size_t rows, size_t cols,
                          semb_error *err);

#endif
