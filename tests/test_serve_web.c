/* GET /: the page serve_web_page serves is web/index.html byte for byte (the build embeds the
 * current file), as UTF-8 HTML, with nothing for the caller to free, and the page loads no
 * resource from elsewhere (the demo must work offline and behind a firewall). */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include "serve/serve_api.h"

static void test_serves_the_source_page(void **state)
{
    size_t size;
    char *want = test_read_file(SEMB_SOURCE_DIR "/web/index.html", &size);
    serve_response r = serve_web_page(NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_null(r.body);
    assert_null(r.text);
    assert_non_null(r.static_text);
    assert_int_equal(r.text_length, size);
    assert_memory_equal(r.static_text, want, size);
    assert_int_equal(r.static_text[size], '\0');
    serve_response_free(&r); /* owns nothing: a no-op */
    free(want);
}

/* needle must not occur in the page (case-insensitive, as HTML attribute names are) */
static void assert_absent(const char *page, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = page; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            fail_msg("web/index.html contains \"%s\" near \"%.60s\"", needle, p);
}

static void test_no_external_resources(void **state)
{
    serve_response r = serve_web_page(NULL);
    const char *page = r.static_text;
    const char *external[] = {"src=\"http", "src=\"//", "href=\"http", "href=\"//",
                              "url(http", "url(//", "@import", "fetch(\"http", "fetch(\"/"};
    for (size_t i = 0; i < sizeof external / sizeof *external; i++)
        assert_absent(page, external[i]);
    /* the four demos and the API they call */
    const char *wanted[] = {"path: \"similarity\"", "path: \"rank\"", "path: \"search\"",
                            "path: \"cluster\"", "path: \"bias\"", "api(\"GET\", \"health\")",
                            "Similarity</button>", "Asymmetric QA</button>",
                            "Search / Cluster</button>", "Gender bias</button>"};
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
        if (!strstr(page, wanted[i]))
            fail_msg("web/index.html lacks %s", wanted[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_the_source_page),
        cmocka_unit_test(test_no_external_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
