/* libFuzzer target for the request path of `semb serve`: arbitrary bytes become one request
 * (method, path, Authorization header, body) through serve_dispatch with a real model (and a
 * small search index), as the HTTP layer would pass it. Besides the sanitizers' findings it
 * aborts when an answer breaks the contract: a status outside 200..599, no body, an error
 * without {"error": {"code": ...}}, a body that does not serialise.
 *
 * Input: "METHOD\nPATH\nAUTHORIZATION\nBODY" (missing lines are empty). An empty
 * AUTHORIZATION line sends the request to a server without an API key; any other to one
 * with the key "fuzz-key" and that header, so both sides of the key check are explored.
 * The model: env SEMB_FUZZ_MODEL, else the shared fixture bert-tiny-mean. See fuzz/run.sh. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "semb.h"
#include "serve/serve_api.h"

static semb_model *model;
static semb_index *search_index;
static serve_context *open_server, *keyed_server;

static void give_up(const char *what, const semb_error *err)
{
    fprintf(stderr, "fuzz_request: %s: %s\n", what, err->message);
    exit(1);
}

/* A five-document index in a temporary file (removed once open: the mapping stays). */
static void build_index(void)
{
    static const char *const docs[] = {"The cat sat on the mat.", "Paris is in France.",
                                       "Stocks fell sharply today.", "A dog barked at night.",
                                       "Rain is expected tomorrow."};
    char dir[] = "/tmp/fuzz_request.XXXXXX", path[64];
    semb_error err = {0};
    if (!mkdtemp(dir))
        exit(1);
    snprintf(path, sizeof path, "%s/docs.idx", dir);
    semb_index_build_options o = semb_index_build_options_default();
    o.texts = docs;
    o.n_texts = sizeof docs / sizeof *docs;
    if (semb_index_build(model, &o, path, NULL, &err))
        give_up("building the index", &err);
    if (semb_index_open(path, &search_index, &err))
        give_up("opening the index", &err);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SEMB_FUZZ_MODEL");
    const char *fallback = SEMB_SHARED_DIR_DEFAULT "/fixtures/bert-tiny-mean";
    semb_error err = {0};
    semb_set_threads(1);
    if (semb_model_load(dir ? dir : fallback, &model, &err))
        give_up(dir ? dir : fallback, &err);
    build_index();
    serve_limits limits = serve_limits_default();
    limits.max_inputs = 64; /* keeps each run short; the limit itself is exercised */
    if (serve_context_create(model, search_index, "fuzz", &limits, &open_server, &err) ||
        serve_context_create(model, search_index, "fuzz", &limits, &keyed_server, &err) ||
        serve_context_set_api_key(keyed_server, "fuzz-key", &err))
        give_up("creating the servers", &err);
    return 0;
}

/* The next line of data[*at..size) as a NUL-terminated copy; *at moves past its '\n'. */
static char *take_line(const uint8_t *data, size_t size, size_t *at)
{
    size_t start = *at, end = start;
    while (end < size && data[end] != '\n')
        end++;
    char *line = malloc(end - start + 1);
    if (!line)
        abort();
    memcpy(line, data + start, end - start);
    line[end - start] = '\0';
    *at = end < size ? end + 1 : end;
    return line;
}

static void check_answer(const serve_response *r)
{
    if (r->status < 200 || r->status > 599)
        abort();
    if (!r->body) {
        if (!r->text && !r->static_text)
            abort();
        return;
    }
    if (r->status >= 400 &&
        !json_is_string(json_object_get(json_object_get(r->body, "error"), "code")))
        abort();
    char *bytes = json_dumps(r->body, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (!bytes)
        abort();
    free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    char *method = take_line(data, size, &at);
    char *path = take_line(data, size, &at);
    char *authorization = take_line(data, size, &at);
    bool keyed = authorization[0] != '\0';
    serve_response r = serve_dispatch(keyed ? keyed_server : open_server, method, path,
                                      keyed ? authorization : NULL, (const char *)data + at,
                                      size - at);
    check_answer(&r);
    serve_response_free(&r);
    free(method);
    free(path);
    free(authorization);
    return 0;
}
