/* libFuzzer target for the evaluation data readers.
 *
 * Input without a NUL byte: one file, read as an STS TSV (sts_dataset_read) and as a pairs
 * JSONL file (retrieval_dataset_read_pairs). Input with NULs: the BEIR files
 * queries.jsonl, corpus.jsonl and qrels.tsv joined by NULs, in that order (a missing part is
 * an empty file), read by beir_dataset_read. Besides the sanitizers' findings it aborts when
 * a dataset that reads breaks the contract: a sentence whose length is not its string's, a
 * score that is not finite, a query without a relevant document, a relevant document out of
 * range or out of order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/beir_data.h"
#include "eval/sts_eval.h"
#include "support.h"

static void check_retrieval(const retrieval_dataset *ds)
{
    for (size_t d = 0; d < ds->n_documents; d++)
        (void)strlen(ds->documents[d]);
    for (size_t q = 0; q < ds->n_queries; q++) {
        (void)strlen(ds->queries[q]);
        size_t begin = ds->relevant_offsets[q], end = ds->relevant_offsets[q + 1];
        if (end <= begin)
            abort();
        for (size_t r = begin; r < end; r++)
            if (ds->relevant[r] >= ds->n_documents ||
                (r > begin && ds->relevant[r] <= ds->relevant[r - 1]))
                abort();
    }
}

static void read_sts(const char *path)
{
    sts_dataset sts;
    semb_error err = {0};
    if (sts_dataset_read(path, &sts, &err)) {
        if (sts.count || !err.message[0])
            abort();
        return;
    }
    for (size_t i = 0; i < sts.count; i++)
        if (strlen(sts.sentence1[i]) != sts.length1[i] ||
            strlen(sts.sentence2[i]) != sts.length2[i] || !isfinite(sts.scores[i]))
            abort();
    sts_dataset_free(&sts);
}

static void read_pairs(const char *path)
{
    retrieval_dataset ds;
    semb_error err = {0};
    if (retrieval_dataset_read_pairs(path, &ds, &err)) {
        if (ds.n_queries || !err.message[0])
            abort();
        return;
    }
    check_retrieval(&ds);
    retrieval_dataset_free(&ds);
}

static void quiet(void *user, const char *message)
{
    (void)user, (void)message;
}

static void read_beir(const fuzz_part *parts, size_t n)
{
    static const char *const names[] = {"queries.jsonl", "corpus.jsonl", "qrels.tsv"};
    char paths[3][4096];
    for (size_t i = 0; i < 3; i++) {
        const char *path = i < n ? fuzz_write(names[i], parts[i].data, parts[i].size)
                                 : fuzz_write(names[i], "", 0);
        strncpy(paths[i], path, sizeof paths[i] - 1);
        paths[i][sizeof paths[i] - 1] = '\0';
    }
    retrieval_dataset ds;
    semb_error err = {0};
    if (beir_dataset_read(paths[0], paths[1], paths[2], quiet, NULL, &ds, &err)) {
        if (ds.n_queries || !err.message[0])
            abort();
        return;
    }
    check_retrieval(&ds);
    retrieval_dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part parts[3];
    size_t n = fuzz_split(data, size, parts, 3);
    if (n == 1) {
        const char *path = fuzz_write("data.tsv", data, size);
        read_sts(path);
        read_pairs(path);
    } else {
        read_beir(parts, n);
    }
    return 0;
}
