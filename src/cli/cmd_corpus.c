/* semb corpus: the quickstart's first step on its own, pair datasets from Debian's text
 * packages (src/corpus/corpus.h says which and how). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "corpus/corpus.h"

void cli_print_missing_sources(const char *command, unsigned missing)
{
    char packages[256] = "";
    for (unsigned bit = 1; bit & CORPUS_SOURCE_ALL; bit <<= 1) {
        if (!(missing & bit))
            continue;
        const char *package = corpus_source_package((corpus_source)bit);
        if (package) {
            fprintf(stderr, "semb %s: %s is not installed (package %s); building without it\n",
                    command, corpus_source_name((corpus_source)bit), package);
            strncat(packages, " ", sizeof packages - strlen(packages) - 1);
            strncat(packages, package, sizeof packages - strlen(packages) - 1);
        } else {
            fprintf(stderr, "semb %s: no dpkg status file, so no package descriptions "
                            "(not a Debian system?)\n", command);
        }
    }
    if (packages[0])
        fprintf(stderr, "semb %s: to add them: sudo apt-get install%s\n", command, packages);
}

int cmd_corpus(int argc, char **argv)
{
    const char *output = NULL, *source_list = "all", *wordnet_dir = NULL, *dictd_dir = NULL,
               *dpkg_status = NULL, *apt_lists = NULL;
    double held_out = 0.02;
    int seed = 42, max_chars = 1000;
    const cli_option options[] = {
        {"--output", CLI_STRING, &output, "folder for the datasets (required; created if missing)"},
        {"--sources", CLI_STRING, &source_list,
         "comma-separated: wordnet, gcide, foldoc, jargon, debian (default all)"},
        {"--held-out", CLI_FLOAT, &held_out,
         "held-out pairs per dataset: a fraction below 1 (default 0.02) or a count"},
        {"--seed", CLI_INT, &seed, "picks the held-out split and the train order (default 42)"},
        {"--max-chars", CLI_INT, &max_chars, "longest text kept, in bytes (default 1000)"},
        {"--wordnet-dir", CLI_STRING, &wordnet_dir, "WordNet data files (/usr/share/wordnet)"},
        {"--dictd-dir", CLI_STRING, &dictd_dir, "dictd databases (/usr/share/dictd)"},
        {"--dpkg-status", CLI_STRING, &dpkg_status, "dpkg status file (/var/lib/dpkg/status)"},
        {"--apt-lists", CLI_STRING, &apt_lists, "apt's package lists (/var/lib/apt/lists)"},
    };
    int rc = cli_parse(argc, argv, "corpus", "--output DIR [options]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!output)
        return cli_failf("corpus", "--output is required (see --help)"), 2;
    if (max_chars < 100)
        return cli_failf("corpus", "--max-chars must be at least 100"), 2;
    semb_error err = {0};
    unsigned sources;
    if (corpus_parse_sources(source_list, &sources, &err))
        return cli_fail("corpus", &err), 2;
    corpus_options o = {.output_dir = output, .sources = sources, .held_out = held_out,
                        .seed = (uint64_t)seed, .max_chars = (size_t)max_chars,
                        .wordnet_dir = wordnet_dir, .dictd_dir = dictd_dir,
                        .dpkg_status = dpkg_status, .apt_lists_dir = apt_lists};
    corpus_report report;
    semb_status st = corpus_build(&o, &report, &err);
    cli_print_missing_sources("corpus", report.missing);
    if (st)
        return cli_fail("corpus", &err);
    if (report.notes[0])
        fprintf(stderr, "%s", report.notes);
    printf("%-20s %9s %9s %7s %9s\n", "dataset", "train", "held-out", "weight", "dropped");
    size_t train = 0, heldout = 0;
    for (size_t i = 0; i < report.dataset_count; i++) {
        const corpus_dataset_report *d = &report.datasets[i];
        printf("%-20s %9zu %9zu %7.0f %9zu\n", d->name, d->train_pairs, d->heldout_pairs,
               d->weight, d->dropped);
        train += d->train_pairs;
        heldout += d->heldout_pairs;
    }
    printf("%-20s %9zu %9zu\n", "total", train, heldout);
    printf("wrote %s/<dataset>.{train,heldout}.jsonl and %s/data_config.json in %.1f s\n", output,
           output, report.seconds);
    return 0;
}
