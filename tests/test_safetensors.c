#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/error.h"
#include "io/half_float.h"
#include "io/safetensors.h"

/* --- helpers ------------------------------------------------------------------------- */

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (size)
        assert_int_equal(fwrite(data, 1, size, fp), size);
    assert_int_equal(fclose(fp), 0);
}

/* A safetensors file with this header text (length taken from the text) and data_size
 * bytes of data, byte i being i mod 251. */
static void write_safetensors(const char *path, const char *header, size_t data_size)
{
    size_t header_len = strlen(header);
    unsigned char *bytes = malloc(8 + header_len + data_size);
    assert_non_null(bytes);
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(bytes + 8, header, header_len);
    for (size_t i = 0; i < data_size; i++)
        bytes[8 + header_len + i] = (unsigned char)(i % 251);
    write_bytes(path, bytes, 8 + header_len + data_size);
    free(bytes);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (needle && !strstr(haystack, needle))
        fail_msg("message \"%s\" lacks \"%s\"", haystack, needle);
}

/* Opening path must fail with status, a message starting with the path and containing
 * both needles (NULL needles are ignored), and a zeroed *out. */
static void expect_open_error(const char *path, semb_status status, const char *needle1,
                              const char *needle2)
{
    safetensors_file f;
    memset(&f, 0x5a, sizeof f);
    semb_error err;
    semb_error_clear(&err);
    semb_status st = safetensors_open(path, &f, &err);
    if (st != status)
        fail_msg("%s: expected status %d, got %d (%s)", path, status, st, err.message);
    assert_int_equal(err.status, status);
    assert_memory_equal(err.message, path, strlen(path));
    assert_contains(err.message, needle1);
    assert_contains(err.message, needle2);
    assert_null(f.map);
    assert_null(f.tensors);
    assert_null(f.path);
    assert_int_equal(f.n_tensors, 0);
    safetensors_close(&f);
}

/* --- dtypes and conversions ------------------------------------------------------------ */

static void test_dtype_helpers(void **state)
{
    assert_int_equal(safetensors_dtype_size(SAFETENSORS_F64), 8);
    assert_int_equal(safetensors_dtype_size(SAFETENSORS_F16), 2);
    assert_int_equal(safetensors_dtype_size(SAFETENSORS_BOOL), 1);
    assert_int_equal(safetensors_dtype_size((safetensors_dtype)99), 0);
    assert_string_equal(safetensors_dtype_name(SAFETENSORS_BF16), "BF16");
    assert_string_equal(safetensors_dtype_name(SAFETENSORS_I64), "I64");
    assert_string_equal(safetensors_dtype_name((safetensors_dtype)-1), "?");
    safetensors_tensor scalar = {.ndim = 0};
    assert_int_equal(safetensors_numel(&scalar), 1);
    safetensors_tensor t = {.ndim = 3, .shape = {2, 3, 4}};
    assert_int_equal(safetensors_numel(&t), 24);
    t.shape[1] = 0;
    assert_int_equal(safetensors_numel(&t), 0);
    char buf[16];
    safetensors_format_shape(t.shape, t.ndim, buf, sizeof buf);
    assert_string_equal(buf, "[2, 0, 4]");
    safetensors_format_shape(scalar.shape, scalar.ndim, buf, sizeof buf);
    assert_string_equal(buf, "[]");
    const int64_t wide[] = {1234567, 7654321, 42};
    safetensors_format_shape(wide, 3, buf, sizeof buf);
    assert_string_equal(buf, "[1234567, 76543"); /* cut short, still terminated */
}

/* The binary16 value by its definition, for every finite input. */
static double half_by_definition(uint16_t h)
{
    int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double magnitude = exponent == 0 ? ldexp(mantissa, -24) : ldexp(1024 + mantissa, exponent - 25);
    return sign ? -magnitude : magnitude;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void test_half_every_value(void **state)
{
    /* One byte of offset: the converters must not rely on 2-byte alignment. */
    unsigned char *src = malloc(2 * 65536 + 1);
    float *scalar = malloc(65536 * sizeof *scalar), *fast = malloc(65536 * sizeof *fast);
    assert_true(src && scalar && fast);
    for (uint32_t h = 0; h < 65536; h++) {
        src[1 + 2 * h] = (unsigned char)(h & 0xff);
        src[2 + 2 * h] = (unsigned char)(h >> 8);
    }
    half_to_float_array_scalar(src + 1, scalar, 65536);
    for (uint32_t h = 0; h < 65536; h++) {
        assert_int_equal(float_bits(scalar[h]), float_bits(half_to_float((uint16_t)h)));
        int exponent = (h >> 10) & 0x1f;
        if (exponent != 0x1f) {
            if ((double)scalar[h] != half_by_definition((uint16_t)h))
                fail_msg("half 0x%04x: %.9g, expected %.9g", h, scalar[h],
                         half_by_definition((uint16_t)h));
            assert_int_equal(signbit(scalar[h]) != 0, (h >> 15) != 0);
        } else if ((h & 0x3ff) == 0) {
            assert_true(isinf(scalar[h]));
            assert_int_equal(signbit(scalar[h]) != 0, (h >> 15) != 0);
        } else {
            assert_true(isnan(scalar[h]));
        }
    }
    assert_true(scalar[0x3c00] == 1.0f);
    assert_true(scalar[0xc000] == -2.0f);
    assert_true(scalar[0x7bff] == 65504.0f);
    assert_true(scalar[0x0001] == ldexpf(1.0f, -24));
    assert_true(scalar[0x03ff] == ldexpf(1023.0f, -24));
    assert_true(scalar[0x8000] == 0.0f && signbit(scalar[0x8000]));

    /* Every length 0..17 exercises the vector body and the tail. */
    half_to_float_array(src + 1, fast, 65536);
    assert_memory_equal(fast, scalar, 65536 * sizeof *fast);
    if (cpu_features()->f16c) {
        for (size_t n = 0; n < 18; n++) {
            memset(fast, 0, 18 * sizeof *fast);
            half_to_float_array_f16c(src + 1 + 2 * 0x7bf0, fast, n);
            assert_memory_equal(fast, scalar + 0x7bf0, n * sizeof *fast);
        }
        half_to_float_array_f16c(src + 1, fast, 65536);
        assert_memory_equal(fast, scalar, 65536 * sizeof *fast);
    } else {
        print_message("no F16C on this CPU: only the scalar half conversion was tested\n");
    }
    free(src);
    free(scalar);
    free(fast);
}

static void test_bfloat16_values(void **state)
{
    assert_true(bfloat16_to_float(0x3f80) == 1.0f);
    assert_true(bfloat16_to_float(0xc040) == -3.0f);
    assert_true(bfloat16_to_float(0x0001) == ldexpf(1.0f, -133));
    assert_true(isinf(bfloat16_to_float(0x7f80)));
    assert_true(isnan(bfloat16_to_float(0xffc1)));
    const unsigned char src[] = {0xff, 0x80, 0x3f, 0x00, 0x40};
    float dst[2];
    bfloat16_to_float_array(src + 1, dst, 2);
    assert_true(dst[0] == 1.0f && dst[1] == 2.0f);
}

/* --- reading valid files --------------------------------------------------------------- */

/* Header of odd length, so every tensor's data is misaligned in the mapping. Layout:
 * f32 [2,2] @0..16, f64 [2] @16..32, f16 [3] @32..38, bf16 [1,2] @38..42, i64 [] @42..50,
 * empty u8 [0,3] @50..50. */
static const char *mixed_header =
    "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"x\"},"
    " \"f32\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]},"
    " \"f64\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [16, 32]},"
    " \"f16\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [32, 38]},"
    " \"bf16\": {\"dtype\": \"BF16\", \"shape\": [1, 2], \"data_offsets\": [38, 42]},"
    " \"i64\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [42, 50]},"
    " \"empty\": {\"dtype\": \"U8\", \"shape\": [0, 3], \"data_offsets\": [50, 50]}}  ";

static void write_mixed_file(const char *path)
{
    size_t header_len = strlen(mixed_header);
    assert_int_equal(header_len % 2, 1);
    unsigned char data[50];
    const float f32[4] = {1.5f, -2.0f, 0.25f, 1e-3f};
    const double f64[2] = {3.141592653589793, -1e300};
    const unsigned char f16[6] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc}; /* 1, 2^-24, -inf */
    const unsigned char bf16[4] = {0x80, 0x3f, 0x40, 0xc0};            /* 1, -3 */
    const int64_t i64 = -7;
    memcpy(data, f32, 16);
    memcpy(data + 16, f64, 16);
    memcpy(data + 32, f16, 6);
    memcpy(data + 38, bf16, 4);
    memcpy(data + 42, &i64, 8);
    unsigned char *bytes = malloc(8 + header_len + sizeof data);
    assert_non_null(bytes);
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(bytes + 8, mixed_header, header_len);
    memcpy(bytes + 8 + header_len, data, sizeof data);
    write_bytes(path, bytes, 8 + header_len + sizeof data);
    free(bytes);
}

static void test_open_mixed_dtypes(void **state)
{
    const char *path = test_path_in(*state, "mixed.safetensors");
    write_mixed_file(path);
    safetensors_file f;
    semb_error err;
    assert_int_equal(safetensors_open(path, &f, &err), SEMB_OK);
    assert_string_equal(f.path, path);
    assert_int_equal(f.n_tensors, 6);
    assert_string_equal(f.metadata_json, "{\"format\":\"pt\",\"note\":\"x\"}");
    const char *order[] = {"f32", "f64", "f16", "bf16", "i64", "empty"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(f.tensors[i].name, order[i]);

    const safetensors_tensor *t = safetensors_find(&f, "f32");
    assert_non_null(t);
    assert_int_equal(t->dtype, SAFETENSORS_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->nbytes, 16);
    float out32[4];
    assert_int_equal(safetensors_to_f32(&f, t, out32, 4, &err), SEMB_OK);
    assert_true(out32[0] == 1.5f && out32[1] == -2.0f && out32[3] == 1e-3f);
    double out64[4];
    assert_int_equal(safetensors_to_f64(&f, t, out64, 4, &err), SEMB_OK);
    assert_true(out64[2] == 0.25 && out64[3] == (double)1e-3f);

    t = safetensors_find(&f, "f64");
    assert_int_equal(safetensors_to_f64(&f, t, out64, 2, &err), SEMB_OK);
    assert_true(out64[0] == 3.141592653589793 && out64[1] == -1e300);
    assert_int_equal(safetensors_to_f32(&f, t, out32, 2, &err), SEMB_OK);
    assert_true(out32[0] == (float)3.141592653589793 && isinf(out32[1]));

    t = safetensors_find(&f, "f16");
    assert_int_equal(safetensors_to_f32(&f, t, out32, 3, &err), SEMB_OK);
    assert_true(out32[0] == 1.0f && out32[1] == ldexpf(1.0f, -24) && isinf(out32[2]) &&
                out32[2] < 0);
    assert_int_equal(safetensors_to_f64(&f, t, out64, 3, &err), SEMB_OK);
    assert_true(out64[0] == 1.0 && out64[1] == ldexp(1.0, -24) && isinf(out64[2]));

    t = safetensors_find(&f, "bf16");
    assert_int_equal(t->ndim, 2);
    assert_int_equal(safetensors_to_f32(&f, t, out32, 2, &err), SEMB_OK);
    assert_true(out32[0] == 1.0f && out32[1] == -3.0f);
    assert_int_equal(safetensors_to_f64(&f, t, out64, 2, &err), SEMB_OK);
    assert_true(out64[0] == 1.0 && out64[1] == -3.0);

    t = safetensors_find(&f, "i64");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(safetensors_numel(t), 1);
    int64_t i64;
    memcpy(&i64, t->data, 8);
    assert_int_equal(i64, -7);
    assert_int_equal(safetensors_to_f32(&f, t, out32, 1, &err), SEMB_ERR_FORMAT);
    assert_contains(err.message, path);
    assert_contains(err.message, "'i64'");
    assert_contains(err.message, "I64");

    t = safetensors_find(&f, "empty");
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(safetensors_numel(t), 0);

    t = safetensors_find(&f, "f32");
    assert_int_equal(safetensors_to_f32(&f, t, out32, 3, &err), SEMB_ERR_FORMAT);
    assert_contains(err.message, path);
    assert_contains(err.message, "'f32'");
    assert_int_equal(safetensors_to_f64(&f, t, out64, 5, &err), SEMB_ERR_FORMAT);

    assert_null(safetensors_find(&f, "missing"));
    assert_null(safetensors_find(&f, "__metadata__"));
    safetensors_close(&f);
    assert_null(f.map);
    safetensors_close(&f);
    safetensors_close(NULL);
}

static void test_open_minimal_files(void **state)
{
    safetensors_file f;
    semb_error err;
    const char *path = test_path_in(*state, "empty-object.safetensors");
    write_safetensors(path, "{}", 0);
    assert_int_equal(safetensors_open(path, &f, &err), SEMB_OK);
    assert_int_equal(f.n_tensors, 0);
    assert_null(f.metadata_json);
    safetensors_close(&f);

    /* Gaps between tensors and trailing bytes are tolerated; only overlaps are errors. */
    path = test_path_in(*state, "gaps.safetensors");
    write_safetensors(path,
                      "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
                      "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                      "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[1,1]},"
                      "\"__metadata__\":null}",
                      12);
    assert_int_equal(safetensors_open(path, &f, &err), SEMB_OK);
    assert_int_equal(f.n_tensors, 3);
    assert_string_equal(f.tensors[0].name, "b");
    assert_int_equal(((const unsigned char *)f.tensors[0].data)[0], 6);
    safetensors_close(&f);
}

/* --- corrupt files ------------------------------------------------------------------- */

static void test_open_io_errors(void **state)
{
    expect_open_error(test_path_in(*state, "missing.safetensors"), SEMB_ERR_IO, "cannot open",
                      "No such file");
    expect_open_error((const char *)*state, SEMB_ERR_IO, "not a regular file", NULL);
}

static void test_open_short_and_bad_length(void **state)
{
    const char *path = test_path_in(*state, "bad.safetensors");
    write_bytes(path, "", 0);
    expect_open_error(path, SEMB_ERR_FORMAT, "0 bytes", "too short");
    write_bytes(path, "\x02\0\0\0\0\0\0", 7);
    expect_open_error(path, SEMB_ERR_FORMAT, "7 bytes", NULL);
    write_bytes(path, "\0\0\0\0\0\0\0\0", 8);
    expect_open_error(path, SEMB_ERR_FORMAT, "invalid JSON", "line");
    write_bytes(path, "\x01\0\0\0\0\0\0\0", 8);
    expect_open_error(path, SEMB_ERR_FORMAT, "header length 1", "exceeds");
    write_bytes(path, "\x10\0\0\0\0\0\0\0{}", 10);
    expect_open_error(path, SEMB_ERR_FORMAT, "header length 16", "exceeds");
    write_bytes(path, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    expect_open_error(path, SEMB_ERR_FORMAT, "header length 18446744073709551615", NULL);
    /* A length within the file (sparse, so cheap) but above the Python library's limit. */
    write_bytes(path, "\x01\xe1\xf5\x05\0\0\0\0", 8);
    assert_int_equal(truncate(path, 8 + 100000001), 0);
    expect_open_error(path, SEMB_ERR_FORMAT, "header length 100000001", "allowed");
}

typedef struct corrupt_case {
    const char *header;
    size_t data_size;
    semb_status status;
    const char *needle1, *needle2;
} corrupt_case;

#define LONG_NAME "encoder.layer.0.attention.self.query.weight"

static const corrupt_case corrupt_cases[] = {
    {"{\"w\": {\"dtype\": \"F32\",", 0, SEMB_ERR_FORMAT, "line 1, column", "invalid JSON"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1],\n \"data_offsets\": [0, 4],}}", 4,
     SEMB_ERR_FORMAT, "line 2, column", "invalid JSON"},
    {"{\"w\xff\": 1}", 0, SEMB_ERR_FORMAT, "invalid JSON", NULL},
    {"[1, 2]", 0, SEMB_ERR_FORMAT, "not a JSON object", NULL},
    {"\"text\"", 0, SEMB_ERR_FORMAT, "invalid JSON", NULL},
    {"{\"w\": 3}", 0, SEMB_ERR_FORMAT, "tensor 'w'", "expected an object"},
    {"{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, SEMB_ERR_FORMAT, "tensor 'w'",
     "missing field 'dtype'"},
    {"{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, SEMB_ERR_FORMAT, "tensor 'w'",
     "missing field 'shape'"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, SEMB_ERR_FORMAT, "tensor 'w'",
     "missing field 'data_offsets'"},
    {"{\"w\": {\"dtype\": 5, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, SEMB_ERR_FORMAT,
     "tensor 'w'", "'dtype' must be a string"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": \"1\", \"data_offsets\": [0, 4]}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "'shape'"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1.0], \"data_offsets\": [0, 4]}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "'shape': dimension 0 is not an integer"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, SEMB_ERR_FORMAT,
     "tensor 'w'", "'data_offsets'"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": {\"a\": 1}}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "'data_offsets'"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [\"0\", \"4\"]}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "'data_offsets': begin"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, -4]}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "'data_offsets': end must be a non-negative"},
    {"{\"w\": {\"dtype\": \"F17\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "unknown dtype 'F17'"},
    {"{\"w\": {\"dtype\": \"U64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", 8,
     SEMB_ERR_UNSUPPORTED, "tensor 'w'", "'U64'"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
     4, SEMB_ERR_UNSUPPORTED, "tensor 'w'", "9 dimensions"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4,
     SEMB_ERR_FORMAT, "tensor 'w'", "dimension 0 is negative (-1)"},
    {"{\"" LONG_NAME "\": {\"dtype\": \"F32\", \"shape\": [32, 32], \"data_offsets\": [0, 4000]}}",
     4096, SEMB_ERR_FORMAT, "tensor '" LONG_NAME "'",
     "data_offsets [0, 4000] do not match shape [32, 32] of F32 (4096 bytes expected, got "
     "4000)"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296],"
     " \"data_offsets\": [0, 4]}}",
     4, SEMB_ERR_FORMAT, "tensor 'w'", "more than 2^64"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8,
     SEMB_ERR_FORMAT, "tensor 'w'", "data_offsets [8, 4]: begin is past end"},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 10,
     SEMB_ERR_FORMAT, "tensor 'w'", "past the end of the data block (10 bytes"},
    {"{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [11, 11]}}", 10,
     SEMB_ERR_FORMAT, "tensor 'w'", "past the end"},
    {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
     " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}",
     24, SEMB_ERR_FORMAT, "tensors 'a' and 'b' overlap", "[8, 24]"},
    {"{\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]},"
     " \"a\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
     8, SEMB_ERR_FORMAT, "tensors 'a' and 'b' overlap", NULL},
    {"{\"" LONG_NAME "\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
     " \"" LONG_NAME "\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
     8, SEMB_ERR_FORMAT, "duplicate key '" LONG_NAME "'", "line 1"},
    {"{\"a\\\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
     " \"a\\\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
     8, SEMB_ERR_FORMAT, "duplicate key 'a\"b'", NULL},
    {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"dtype\": \"F16\"}}",
     4, SEMB_ERR_FORMAT, "duplicate key 'dtype'", NULL},
    {"{\"__metadata__\": [\"pt\"]}", 0, SEMB_ERR_FORMAT, "'__metadata__' must be an object",
     NULL},
};

static void test_open_corrupt_headers(void **state)
{
    const char *path = test_path_in(*state, "corrupt.safetensors");
    for (size_t i = 0; i < sizeof corrupt_cases / sizeof corrupt_cases[0]; i++) {
        const corrupt_case *c = &corrupt_cases[i];
        write_safetensors(path, c->header, c->data_size);
        expect_open_error(path, c->status, c->needle1, c->needle2);
    }
}

/* A valid file is mutated at every header byte (and truncated at every length): each
 * result must open cleanly or fail with a message naming the file. ASan/UBSan builds make
 * this a memory-safety test of the parser. */
static void check_open_survives(const char *path)
{
    safetensors_file f;
    semb_error err;
    err.message[0] = '\0';
    semb_status st = safetensors_open(path, &f, &err);
    if (st == SEMB_OK) {
        const unsigned char *start = f.map, *end = start + f.map_size;
        for (size_t i = 0; i < f.n_tensors; i++) {
            const safetensors_tensor *t = &f.tensors[i];
            const unsigned char *data = t->data;
            assert_true(data >= start && data + t->nbytes <= end);
            assert_int_equal(t->nbytes, safetensors_numel(t) * safetensors_dtype_size(t->dtype));
        }
        safetensors_close(&f);
        return;
    }
    assert_true(st == SEMB_ERR_FORMAT || st == SEMB_ERR_UNSUPPORTED);
    assert_memory_equal(err.message, path, strlen(path));
    assert_null(f.map);
}

static void test_open_mutated_headers(void **state)
{
    const char *original = test_path_in(*state, "mixed.safetensors");
    const char *path = test_path_in(*state, "mutated.safetensors");
    write_mixed_file(original);
    size_t size;
    unsigned char *bytes = (unsigned char *)test_read_file(original, &size);
    size_t header_end = 8 + strlen(mixed_header);
    static const unsigned char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '0',
                                                 '9', '-', 'e', ' ', '\\', 0, 0x80};
    unsigned char variants[sizeof replacements + 2];
    memcpy(variants, replacements, sizeof replacements);
    for (size_t pos = 0; pos < header_end; pos++) {
        unsigned char saved = bytes[pos];
        variants[sizeof replacements] = saved ^ 0xff;
        variants[sizeof replacements + 1] = saved ^ 0x01;
        for (size_t v = 0; v < sizeof variants; v++) {
            bytes[pos] = variants[v];
            write_bytes(path, bytes, size);
            check_open_survives(path);
        }
        bytes[pos] = saved;
    }
    for (size_t len = 0; len < size; len++) {
        write_bytes(path, bytes, len);
        check_open_survives(path);
    }
    free(bytes);
}

/* --- writing -------------------------------------------------------------------------- */

static void assert_file_bytes(const char *path, const void *expected, size_t size)
{
    size_t actual_size;
    char *actual = test_read_file(path, &actual_size);
    assert_int_equal(actual_size, size);
    assert_memory_equal(actual, expected, size);
    free(actual);
}

/* The layouts the Python library documents in its own serialization tests. */
static void test_write_matches_python_layout(void **state)
{
    semb_error err;
    const char *path = test_path_in(*state, "out.safetensors");
    const float values[6] = {0, 1, 2, 3, 4, 5};
    safetensors_entry e = {"attn.0", SAFETENSORS_F32, 3, {1, 2, 3}, values};
    assert_int_equal(safetensors_write(path, &e, 1, NULL, &err), SEMB_OK);
    const char header1[] = "@\0\0\0\0\0\0\0{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],"
                           "\"data_offsets\":[0,24]}}";
    unsigned char expected[8 + 72 + 24];
    memcpy(expected, header1, sizeof header1 - 1);
    memcpy(expected + sizeof header1 - 1, values, 24);
    assert_file_bytes(path, expected, sizeof header1 - 1 + 24);

    safetensors_entry e2 = {"attn0", SAFETENSORS_F32, 4, {1, 1, 2, 3}, values};
    assert_int_equal(safetensors_write(path, &e2, 1, NULL, &err), SEMB_OK);
    const char header2[] = "H\0\0\0\0\0\0\0{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],"
                           "\"data_offsets\":[0,24]}}       ";
    memcpy(expected, header2, sizeof header2 - 1);
    memcpy(expected + sizeof header2 - 1, values, 24);
    assert_file_bytes(path, expected, sizeof header2 - 1 + 24);

    assert_int_equal(safetensors_write(path, NULL, 0, NULL, &err), SEMB_OK);
    assert_file_bytes(path, "\x08\0\0\0\0\0\0\0{}      ", 16);

    const char *const metadata[] = {"framework", "pt", NULL};
    assert_int_equal(safetensors_write(path, NULL, 0, metadata, &err), SEMB_OK);
    const char header3[] = "(\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ";
    assert_file_bytes(path, header3, sizeof header3 - 1);
}

static void test_write_round_trip(void **state)
{
    semb_error err;
    const char *path = test_path_in(*state, "round.safetensors");
    float f32[15];
    double f64[2] = {1.0 / 3.0, -0.0};
    uint16_t f16[7] = {0x3c00, 0x0001, 0x7c00, 0xfe00, 0x8000, 0x7bff, 0x3555};
    uint16_t bf16[3] = {0x3f80, 0xc040, 0x0001};
    int64_t i64 = -123456789012345;
    int32_t i32[4] = {1, -2, 3, -4};
    int16_t i16[3] = {-1, 2, 30000};
    int8_t i8[5] = {-128, -1, 0, 1, 127};
    uint8_t boolean[3] = {1, 0, 1};
    for (int i = 0; i < 15; i++)
        f32[i] = (float)i * 0.5f - 3.0f;
    const safetensors_entry entries[] = {
        {"w.f32", SAFETENSORS_F32, 2, {3, 5}, f32},
        {"bool", SAFETENSORS_BOOL, 1, {3}, boolean},
        {"w.f16", SAFETENSORS_F16, 1, {7}, f16},
        {"a.f32", SAFETENSORS_F32, 2, {0, 4}, NULL},
        {"scalar", SAFETENSORS_I64, 0, {0}, &i64},
        {"i8", SAFETENSORS_I8, 1, {5}, i8},
        {"bf16", SAFETENSORS_BF16, 3, {1, 1, 3}, bf16},
        {"i32", SAFETENSORS_I32, 2, {2, 2}, i32},
        {"f64", SAFETENSORS_F64, 1, {2}, f64},
        {"empty.u8", SAFETENSORS_U8, 1, {0}, NULL},
        {"i16", SAFETENSORS_I16, 1, {3}, i16},
    };
    const size_t n = sizeof entries / sizeof entries[0];
    const char *const metadata[] = {"format", "pt", "note", "ünïcode", NULL};
    assert_int_equal(safetensors_write(path, entries, n, metadata, &err), SEMB_OK);

    safetensors_file f;
    assert_int_equal(safetensors_open(path, &f, &err), SEMB_OK);
    assert_int_equal(f.n_tensors, n);
    assert_string_equal(f.metadata_json, "{\"format\":\"pt\",\"note\":\"ünïcode\"}");
    /* Python order: I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL; names within a dtype. */
    const char *order[] = {"scalar", "f64",   "a.f32", "w.f32",    "i32", "bf16",
                           "w.f16",  "i16",   "i8",    "empty.u8", "bool"};
    const unsigned char *map = f.map;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | map[i];
    assert_int_equal(header_len % 8, 0);
    assert_memory_equal(map + 8, "{\"__metadata__\":{", 17);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f.tensors[i].name, order[i]);
        const safetensors_tensor *t = &f.tensors[i];
        size_t offset = (size_t)((const unsigned char *)t->data - map);
        assert_int_equal(offset % safetensors_dtype_size(t->dtype), 0);
    }
    for (size_t i = 0; i < n; i++) {
        const safetensors_entry *e = &entries[i];
        const safetensors_tensor *t = safetensors_find(&f, e->name);
        assert_non_null(t);
        assert_int_equal(t->dtype, e->dtype);
        assert_int_equal(t->ndim, e->ndim);
        assert_memory_equal(t->shape, e->shape, (size_t)e->ndim * sizeof e->shape[0]);
        assert_int_equal(t->nbytes, safetensors_numel(t) * safetensors_dtype_size(t->dtype));
        if (t->nbytes)
            assert_memory_equal(t->data, e->data, t->nbytes);
    }
    assert_int_equal(safetensors_find(&f, "w.f32")->nbytes, 60);
    assert_int_equal(safetensors_find(&f, "a.f32")->nbytes, 0);
    float half_values[7];
    assert_int_equal(safetensors_to_f32(&f, safetensors_find(&f, "w.f16"), half_values, 7, &err),
                     SEMB_OK);
    assert_true(half_values[0] == 1.0f && isinf(half_values[2]) && isnan(half_values[3]));
    float empty[1];
    assert_int_equal(safetensors_to_f32(&f, safetensors_find(&f, "a.f32"), empty, 0, &err),
                     SEMB_OK);
    safetensors_close(&f);
}

/* Nothing but `keep` (or nothing at all) may be left in dir. */
static void assert_dir_holds_only(const char *dir, const char *keep)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = '%s'", dir, keep ? keep : "");
    if (system(cmd) != 0)
        fail_msg("%s holds more than '%s'", dir, keep ? keep : "");
}

static void expect_write_error(const char *dir, const safetensors_entry *entries, size_t n,
                               const char *const *metadata, semb_status status,
                               const char *needle1, const char *needle2)
{
    const char *path = test_path_in(dir, "bad.safetensors");
    semb_error err;
    semb_status st = safetensors_write(path, entries, n, metadata, &err);
    if (st != status)
        fail_msg("expected status %d, got %d (%s)", status, st, err.message);
    assert_memory_equal(err.message, path, strlen(path));
    assert_contains(err.message, needle1);
    assert_contains(err.message, needle2);
    assert_dir_holds_only(dir, NULL);
}

static void test_write_errors(void **state)
{
    const char *dir = *state;
    const float x[4] = {0};
    const safetensors_entry twice[] = {{"w", SAFETENSORS_F32, 1, {1}, x},
                                       {"v", SAFETENSORS_F32, 1, {1}, x},
                                       {"w", SAFETENSORS_F32, 1, {2}, x}};
    expect_write_error(dir, twice, 3, NULL, SEMB_ERR_INVALID_ARG, "'w'", "twice");
    const safetensors_entry reserved = {"__metadata__", SAFETENSORS_F32, 1, {1}, x};
    expect_write_error(dir, &reserved, 1, NULL, SEMB_ERR_INVALID_ARG, "'__metadata__'", NULL);
    const safetensors_entry negative = {"neg", SAFETENSORS_F32, 2, {1, -2}, x};
    expect_write_error(dir, &negative, 1, NULL, SEMB_ERR_INVALID_ARG, "'neg'", "negative");
    const safetensors_entry no_data = {"nodata", SAFETENSORS_F32, 1, {4}, NULL};
    expect_write_error(dir, &no_data, 1, NULL, SEMB_ERR_INVALID_ARG, "'nodata'", "NULL");
    const safetensors_entry bad_dtype = {"d", (safetensors_dtype)42, 1, {4}, x};
    expect_write_error(dir, &bad_dtype, 1, NULL, SEMB_ERR_INVALID_ARG, "'d'", "dtype");
    const safetensors_entry bad_ndim = {"n", SAFETENSORS_F32, 9, {1}, x};
    expect_write_error(dir, &bad_ndim, 1, NULL, SEMB_ERR_INVALID_ARG, "'n'", "dimensions");
    const safetensors_entry bad_utf8 = {"bad\xff", SAFETENSORS_F32, 1, {1}, x};
    expect_write_error(dir, &bad_utf8, 1, NULL, SEMB_ERR_INVALID_ARG, "UTF-8", NULL);
    const char *const odd_metadata[] = {"format", NULL};
    expect_write_error(dir, NULL, 0, odd_metadata, SEMB_ERR_INVALID_ARG, "'format'",
                       "no value");

    semb_error err;
    const safetensors_entry ok = {"w", SAFETENSORS_F32, 1, {4}, x};
    const char *missing = test_path_in(dir, "no/such/dir/out.safetensors");
    assert_int_equal(safetensors_write(missing, &ok, 1, NULL, &err), SEMB_ERR_IO);
    assert_memory_equal(err.message, missing, strlen(missing));
    assert_contains(err.message, "No such file or directory");
    assert_dir_holds_only(dir, NULL);
}

/* --- shared fixtures ------------------------------------------------------------------- */

static void test_read_fixture_model(void **state)
{
    if (!test_shared_dir())
        skip();
    const char *path = test_shared_path("fixtures/bert-tiny-mean/model.safetensors");
    safetensors_file f;
    semb_error err;
    if (safetensors_open(path, &f, &err) != SEMB_OK)
        fail_msg("%s", err.message);
    assert_int_equal(f.n_tensors, 39);
    assert_string_equal(f.metadata_json, "{\"format\":\"pt\"}");
    const safetensors_tensor *t = safetensors_find(&f, "embeddings.word_embeddings.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, SAFETENSORS_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 30522);
    assert_int_equal(t->shape[1], 32);
    size_t n = safetensors_numel(t);
    float *values = malloc(n * sizeof *values);
    assert_non_null(values);
    assert_int_equal(safetensors_to_f32(&f, t, values, n, &err), SEMB_OK);
    assert_memory_equal(values, t->data, n * sizeof *values);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(isfinite(values[i]));
        sum += fabs(values[i]);
    }
    assert_true(sum > 0);
    free(values);
    safetensors_close(&f);

    path = test_shared_path("fixtures/bert-tiny-mean/ref.embeddings.safetensors");
    if (safetensors_open(path, &f, &err) != SEMB_OK)
        fail_msg("%s", err.message);
    t = safetensors_find(&f, "embeddings");
    assert_non_null(t);
    assert_int_equal(t->dtype, SAFETENSORS_F64);
    assert_int_equal(t->shape[0], 146);
    assert_int_equal(t->shape[1], 32);
    double *d = malloc(146 * 32 * sizeof *d);
    float *s = malloc(146 * 32 * sizeof *s);
    assert_int_equal(safetensors_to_f64(&f, t, d, 146 * 32, &err), SEMB_OK);
    assert_int_equal(safetensors_to_f32(&f, t, s, 146 * 32, &err), SEMB_OK);
    for (size_t i = 0; i < 146 * 32; i++)
        assert_true(s[i] == (float)d[i]);
    free(d);
    free(s);
    safetensors_close(&f);
}

/* Writing back every tensor of a file saved by Python reproduces it byte for byte. */
static void test_rewrite_fixture_is_identical(void **state)
{
    if (!test_shared_dir())
        skip();
    const char *original = test_shared_path("fixtures/bert-tiny-mean/model.safetensors");
    safetensors_file f;
    semb_error err;
    assert_int_equal(safetensors_open(original, &f, &err), SEMB_OK);
    safetensors_entry *entries = calloc(f.n_tensors, sizeof *entries);
    assert_non_null(entries);
    for (size_t i = 0; i < f.n_tensors; i++) {
        const safetensors_tensor *t = &f.tensors[i];
        entries[i] = (safetensors_entry){t->name, t->dtype, t->ndim, {0}, t->data};
        memcpy(entries[i].shape, t->shape, sizeof t->shape);
    }
    const char *copy = test_path_in(*state, "copy.safetensors");
    const char *const metadata[] = {"format", "pt", NULL};
    assert_int_equal(safetensors_write(copy, entries, f.n_tensors, metadata, &err), SEMB_OK);
    size_t size;
    char *expected = test_read_file(original, &size);
    assert_file_bytes(copy, expected, size);
    free(expected);
    free(entries);
    safetensors_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_helpers),
        cmocka_unit_test(test_half_every_value),
        cmocka_unit_test(test_bfloat16_values),
        test_in_temp_dir(test_open_mixed_dtypes),
        test_in_temp_dir(test_open_minimal_files),
        test_in_temp_dir(test_open_io_errors),
        test_in_temp_dir(test_open_short_and_bad_length),
        test_in_temp_dir(test_open_corrupt_headers),
        test_in_temp_dir(test_open_mutated_headers),
        test_in_temp_dir(test_write_matches_python_layout),
        test_in_temp_dir(test_write_round_trip),
        test_in_temp_dir(test_write_errors),
        cmocka_unit_test(test_read_fixture_model),
        test_in_temp_dir(test_rewrite_fixture_is_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
