#include "eval/text_ids.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct text_ref {
    const char *text;
    size_t index;
} text_ref;

static int by_text_then_index(const void *a, const void *b)
{
    const text_ref *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

void text_ids_free(char **copies, size_t n)
{
    if (copies)
        for (size_t i = 0; i < n; i++)
            free(copies[i]);
    free(copies);
}

semb_status text_ids_number(const char *const *texts, size_t n, size_t *ids, char ***copies,
                            size_t *n_distinct, semb_error *err)
{
    text_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    size_t *first = malloc((n ? n : 1) * sizeof *first);
    *copies = calloc(n ? n : 1, sizeof **copies);
    *n_distinct = 0;
    semb_status st = SEMB_OK;
    if (!refs || !first || !*copies) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate an index of %zu texts", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (text_ref){texts[i], i};
    qsort(refs, n, sizeof *refs, by_text_then_index);
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && strcmp(refs[end].text, refs[start].text) == 0; end++)
            ;
        for (size_t k = start; k < end; k++)
            first[refs[k].index] = refs[start].index; /* the group's lowest index */
    }
    for (size_t i = 0; i < n && !st; i++) {
        if (first[i] < i) {
            ids[i] = ids[first[i]];
            continue;
        }
        ids[i] = *n_distinct;
        if (!((*copies)[(*n_distinct)++] = strdup(texts[i])))
            st = semb_fail(err, SEMB_ERR_NOMEM, "cannot copy %zu texts", n);
    }
done:
    free(refs);
    free(first);
    if (st) {
        text_ids_free(*copies, *n_distinct);
        *copies = NULL;
        *n_distinct = 0;
    }
    return st;
}
