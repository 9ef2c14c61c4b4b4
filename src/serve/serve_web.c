/* GET /: the web demo page. web/index.html is compiled into the library at build time
 * (cmake/embed_file.cmake writes it as serve_web_index_html), so `semb serve` needs no files
 * beside the binary and the page always matches the API it was built with. */
#include <stddef.h>

#include "serve/serve_api.h"

extern const unsigned char serve_web_index_html[];
extern const size_t serve_web_index_html_length;

serve_response serve_web_page(serve_context *ctx)
{
    (void)ctx;
    return (serve_response){.status = 200,
                            .static_text = (const char *)serve_web_index_html,
                            .text_length = serve_web_index_html_length,
                            .content_type = "text/html; charset=utf-8"};
}
