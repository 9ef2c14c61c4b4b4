/* TEMPORARY (h-http branch only; the lead deletes this file when the branches of issue #7
 * merge): weak stand-ins for the handlers other parts implement, so that serve_dispatch
 * links and its tests run before the merge. Each answers 501 not_implemented. */
#include "serve/serve_api.h"

#define PENDING(name)                                                                            \
    __attribute__((weak)) serve_response name(serve_context *ctx, const json_t *request)        \
    {                                                                                            \
        return serve_error(501, "not_implemented", #name " is not on this branch yet");          \
    }

PENDING(serve_embeddings)
PENDING(serve_similarity)
PENDING(serve_rank)
PENDING(serve_search)
PENDING(serve_cluster)
PENDING(serve_bias)

__attribute__((weak)) serve_response serve_web_page(serve_context *ctx)
{
    return serve_error(501, "not_implemented", "serve_web_page is not on this branch yet");
}
