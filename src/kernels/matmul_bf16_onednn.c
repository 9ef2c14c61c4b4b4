#include "kernels/matmul_bf16_onednn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/bf16.h"

/* One engine for the process, made on first use; a stream per call (a oneDNN stream is not
 * for concurrent use, and a CPU stream costs next to nothing). */
static dnnl_engine_t engine;
static bool native;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void setup(void)
{
    const semb_cpu_features *cpu = cpu_features();
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    native = (cpu->avx512_bf16 || cpu->amx_bf16) &&
             (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        engine = NULL;
}

bool matmul_bf16_onednn_native(void)
{
    pthread_once(&setup_once, setup);
    return native && engine;
}

/* A primitive serves every M (a run-time dimension) of one shape. Keys are compared with
 * memcmp: ints and floats only, so no padding. */
typedef struct primitive_key {
    int trans_a, trans_b, N, K, lda, ldb, ldc;
    float alpha, beta;
} primitive_key;

/* Primitives are never evicted (one may be running on another thread): past this many
 * shapes, a primitive is made for the call and destroyed after it. */
enum { CACHE_SLOTS = 64 };
typedef struct cache_entry {
    primitive_key key;
    dnnl_primitive_t primitive;
} cache_entry;
static cache_entry cache[CACHE_SLOTS];
static int cached;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* The row-major matrix [rows, cols] (rows may be DNNL_RUNTIME_DIM_VAL) stored with leading
 * dimension ld, or its transpose stored [cols, rows]. */
static void describe(dnnl_memory_desc_t *md, dnnl_dim_t rows, dnnl_dim_t cols, bool trans,
                     dnnl_dim_t ld, dnnl_data_type_t type)
{
    dnnl_dims_t dims = {rows, cols}, strides = {trans ? 1 : ld, trans ? ld : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides);
}

static void describe_all(const primitive_key *k, dnnl_dim_t M, dnnl_memory_desc_t md[3])
{
    describe(&md[0], M, k->K, k->trans_a, k->lda, dnnl_bf16);
    describe(&md[1], k->K, k->N, k->trans_b, k->ldb, dnnl_bf16);
    describe(&md[2], M, k->N, false, k->ldc, dnnl_f32);
}

static dnnl_primitive_t create(const primitive_key *k)
{
    dnnl_memory_desc_t md[3];
    describe_all(k, DNNL_RUNTIME_DIM_VAL, md);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t primitive = NULL;
    bool ok = dnnl_matmul_desc_init(&desc, &md[0], &md[1], NULL, &md[2]) == dnnl_success &&
              dnnl_primitive_attr_create(&attr) == dnnl_success &&
              dnnl_post_ops_create(&post_ops) == dnnl_success;
    if (ok && k->alpha != 1.0f)
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha) == dnnl_success;
    if (ok && k->beta != 0.0f)
        ok = dnnl_post_ops_append_sum(post_ops, k->beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, post_ops) == dnnl_success;
    if (ok && dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) == dnnl_success)
        if (dnnl_primitive_create(&primitive, pd) != dnnl_success)
            primitive = NULL;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return primitive;
}

/* The cached primitive for key, made on first use; *owned when the cache was full and the
 * caller must destroy it. NULL when oneDNN has none. */
static dnnl_primitive_t find_or_create(const primitive_key *key, bool *owned)
{
    *owned = false;
    pthread_mutex_lock(&cache_lock);
    dnnl_primitive_t found = NULL;
    for (int i = 0; i < cached && !found; i++)
        if (memcmp(&cache[i].key, key, sizeof *key) == 0)
            found = cache[i].primitive;
    if (!found && (found = create(key))) {
        if (cached < CACHE_SLOTS)
            cache[cached++] = (cache_entry){*key, found};
        else
            *owned = true;
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

/* A float operand packed into bfloat16 (stored layout kept, leading dimension cols). */
static uint16_t *packed_bf16(const float *x, int rows, int cols, int ld)
{
    uint16_t *copy = malloc((size_t)rows * (size_t)cols * sizeof *copy);
    if (!copy)
        return NULL;
#pragma omp parallel for schedule(static) if ((long)rows * cols >= 1 << 16)
    for (int r = 0; r < rows; r++)
        bf16_from_floats(copy + (size_t)r * (size_t)cols, x + (size_t)r * (size_t)ld,
                         (size_t)cols);
    return copy;
}

static semb_status execute(dnnl_primitive_t primitive, const primitive_key *k, int M,
                           const void *a, const void *b, float *C)
{
    dnnl_memory_desc_t md[3];
    describe_all(k, M, md);
    dnnl_memory_t mem[3] = {NULL, NULL, NULL};
    const void *handles[3] = {a, b, C};
    dnnl_stream_t stream = NULL;
    bool ok = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) == dnnl_success;
    for (int i = 0; i < 3 && ok; i++)
        ok = dnnl_memory_create(&mem[i], &md[i], engine, (void *)handles[i]) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]},
                                   {DNNL_ARG_DST, mem[2]}};
        ok = dnnl_primitive_execute(primitive, stream, 3, args) == dnnl_success &&
             dnnl_stream_wait(stream) == dnnl_success;
    }
    for (int i = 0; i < 3; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    if (stream)
        dnnl_stream_destroy(stream);
    return ok ? SEMB_OK : SEMB_ERR_UNSUPPORTED;
}

semb_status matmul_bf16_onednn(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                               bf16_operand A, int lda, bf16_operand B, int ldb, float beta,
                               float *C, int ldc, semb_error *err)
{
    pthread_once(&setup_once, setup);
    if (!engine)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED, "bf16 matmul: no oneDNN CPU engine");
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    uint16_t *a = A.bf16 ? NULL : packed_bf16(A.f32, a_rows, a_cols, lda);
    uint16_t *b = B.bf16 ? NULL : packed_bf16(B.f32, b_rows, b_cols, ldb);
    semb_status st = SEMB_OK;
    if ((!A.bf16 && !a) || (!B.bf16 && !b)) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "bf16 matmul: cannot pack %dx%dx%d operands", M, N, K);
        goto done;
    }
    primitive_key key = {trans_a, trans_b, N, K, a ? a_cols : lda, b ? b_cols : ldb, ldc,
                          alpha, beta};
    bool owned;
    dnnl_primitive_t primitive = find_or_create(&key, &owned);
    if (!primitive) {
        st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                       "bf16 matmul: oneDNN has no bf16 matmul on this CPU (%s)",
                       cpu_features_string());
        goto done;
    }
    st = execute(primitive, &key, M, a ? (const void *)a : A.bf16, b ? (const void *)b : B.bf16, C);
    if (st)
        semb_fail(err, st, "bf16 matmul: oneDNN failed to run a %dx%dx%d product", M, N, K);
    if (owned)
        dnnl_primitive_destroy(primitive);
done:
    free(a);
    free(b);
    return st;
}
