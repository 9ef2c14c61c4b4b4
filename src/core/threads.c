#include "semb.h"

#include <omp.h>

/* oneDNN is built on the same libgomp runtime, so one omp_set_num_threads governs our
 * kernels and its matmuls alike. */
void semb_set_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    omp_set_num_threads(n);
}
