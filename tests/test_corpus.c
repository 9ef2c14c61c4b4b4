/* The corpus builder on small files written here in the exact formats Debian ships (WordNet
 * data files, dictd index + dictzip data, dpkg status and apt lists), so these run on machines
 * without the data packages; tests/cli_corpus.sh runs the real thing where they are. */
#include "support.h"

#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "corpus/corpus.h"
#include "corpus/corpus_internal.h"

/* ---- helpers ---- */

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void write_gzip(const char *path, const char *text)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, text, (unsigned)strlen(text)), (int)strlen(text));
    assert_int_equal(gzclose(gz), Z_OK);
}

static void write_lz4(const char *path, const char *text)
{
    size_t bound = LZ4F_compressFrameBound(strlen(text), NULL);
    char *out = malloc(bound);
    size_t n = LZ4F_compressFrame(out, bound, text, strlen(text), NULL);
    assert_false(LZ4F_isError(n));
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(out, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(out);
}

/* dictd's base64 numbers: most significant digit first, no padding. */
static void b64(size_t v, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = digits[v % 64];
        v /= 64;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* Writes NAME.dict.dz from blocks and NAME.index with one line per (headword, block). */
typedef struct index_entry {
    const char *headword;
    int block;
} index_entry;

static void write_dictd(const char *dir, const char *name, const char *const *blocks,
                        size_t n_blocks, const index_entry *entries, size_t n_entries)
{
    size_t offsets[16], total = 0;
    char data[16384] = "";
    for (size_t b = 0; b < n_blocks; b++) {
        offsets[b] = total;
        strcat(data, blocks[b]);
        total += strlen(blocks[b]);
    }
    char dict_name[256], index_name[256], index[8192] = "";
    snprintf(dict_name, sizeof dict_name, "%s.dict.dz", name);
    snprintf(index_name, sizeof index_name, "%s.index", name);
    write_gzip(test_path_in(dir, dict_name), data);
    for (size_t e = 0; e < n_entries; e++) {
        char off[16], len[16], line[512];
        b64(offsets[entries[e].block], off);
        b64(strlen(blocks[entries[e].block]), len);
        snprintf(line, sizeof line, "%s\t%s\t%s\n", entries[e].headword, off, len);
        strcat(index, line);
    }
    write_text(test_path_in(dir, index_name), index);
}

/* Index of the pair anchor -> positive, or -1. */
static long find_pair(const corpus_pairs *p, const char *anchor, const char *positive)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->anchors[i], anchor) == 0 && strcmp(p->positives[i], positive) == 0)
            return (long)i;
    return -1;
}

static void print_pairs(const corpus_pairs *p)
{
    for (size_t i = 0; i < p->count; i++)
        print_message("  %s -> %s\n", p->anchors[i], p->positives[i]);
}

#define assert_pair(p, a, b)                                                                   \
    do {                                                                                       \
        if (find_pair((p), (a), (b)) < 0) {                                                    \
            print_pairs(p);                                                                    \
            fail_msg("missing pair %s -> %s", (a), (b));                                       \
        }                                                                                      \
    } while (0)

static size_t count_lines(const char *path)
{
    size_t size;
    char *text = test_read_file(path, &size);
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    free(text);
    return lines;
}

/* ---- WordNet ---- */

static const char wordnet_license[] =
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  By obtaining, using  \n";

static void write_wordnet(const char *dir)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", wordnet_license,
             "00002452 03 n 01 thing 0 002 @ 00001930 n 0000 ~ 04347225 n 0000 | a separate "
             "and self-contained entity  \n"
             "02958343 06 n 05 car 0 auto 0 automobile 0 machine 0 motorcar 0 001 @ 03791235 n "
             "0000 | a motor vehicle with four wheels; usually propelled by an internal "
             "combustion engine; \"he needs a car to get to work\"  \n");
    write_text(test_path_in(dir, "data.noun"), text);
    snprintf(text, sizeof text, "%s%s", wordnet_license,
             "00002724 29 v 01 choke 0 002 @ 00001740 v 0000 + 14058252 n 0101 01 + 02 00 | "
             "breathe with great difficulty, as when experiencing a strong emotion; \"She "
             "choked with emotion when she spoke about her deceased husband\"  \n");
    write_text(test_path_in(dir, "data.verb"), text);
    snprintf(text, sizeof text, "%s%s", wordnet_license,
             "00001740 00 a 01 able(p) 0 005 = 05207437 n 0000 | (usually followed by `to') "
             "having the necessary means or skill or know-how or authority to do something; "
             "\"able to swim\"; \"she was able to program her computer\"; \"we were at last "
             "able to buy a car\"  \n"
             "01234567 00 s 02 Big_Apple 0 big_apple 0 000 | nickname for New York City; "
             "\"the lights of the Big Apple\" - Sinatra  \n");
    write_text(test_path_in(dir, "data.adj"), text);
    write_text(test_path_in(dir, "data.adv"), wordnet_license);
}

static void test_wordnet_pairs(void **state)
{
    char *dir = test_make_temp_dir();
    write_wordnet(dir);
    corpus_pairs gloss, examples;
    corpus_pairs_init(&gloss, 0);
    corpus_pairs_init(&examples, 0);
    semb_error err = {0};
    assert_int_equal(corpus_read_wordnet(dir, &gloss, &examples, &err), SEMB_OK);
    assert_int_equal(gloss.count, 5);
    assert_pair(&gloss, "thing", "a separate and self-contained entity");
    /* at most 4 synonyms, joined; definitions joined without the example */
    assert_pair(&gloss, "car, auto, automobile, machine",
                "a motor vehicle with four wheels; usually propelled by an internal combustion "
                "engine");
    assert_pair(&gloss, "able",
                "(usually followed by `to') having the necessary means or skill or know-how or "
                "authority to do something");
    /* same word in two cases is one synonym */
    assert_pair(&gloss, "Big Apple", "nickname for New York City");
    assert_int_equal(examples.count, 6);
    assert_pair(&examples, "he needs a car to get to work",
                "a motor vehicle with four wheels; usually propelled by an internal combustion "
                "engine");
    assert_pair(&examples, "She choked with emotion when she spoke about her deceased husband",
                "breathe with great difficulty, as when experiencing a strong emotion");
    assert_pair(&examples, "we were at last able to buy a car",
                "(usually followed by `to') having the necessary means or skill or know-how or "
                "authority to do something");
    /* the attribution after the closing quote is not part of the example */
    assert_pair(&examples, "the lights of the Big Apple", "nickname for New York City");
    /* "able to swim" -> ... is kept: 3 words is an example, not too short */
    assert_pair(&examples, "able to swim",
                "(usually followed by `to') having the necessary means or skill or know-how or "
                "authority to do something");
    corpus_pairs_free(&gloss);
    corpus_pairs_free(&examples);
    test_rmtree(dir);
    free(dir);
}

static void test_wordnet_malformed_line(void **state)
{
    char *dir = test_make_temp_dir();
    write_wordnet(dir);
    char text[1024];
    snprintf(text, sizeof text, "%s%s", wordnet_license, "00001740 29 v zz | no word count\n");
    write_text(test_path_in(dir, "data.verb"), text);
    corpus_pairs gloss, examples;
    corpus_pairs_init(&gloss, 0);
    corpus_pairs_init(&examples, 0);
    semb_error err = {0};
    assert_int_equal(corpus_read_wordnet(dir, &gloss, &examples, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "data.verb:3:"));
    write_wordnet(dir);
    remove(test_path_in(dir, "data.adv"));
    assert_int_equal(corpus_read_wordnet(dir, &gloss, &examples, &err), SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "data.adv"));
    corpus_pairs_free(&gloss);
    corpus_pairs_free(&examples);
    test_rmtree(dir);
    free(dir);
}

/* ---- GCIDE ---- */

static const char *const gcide_blocks[] = {
    "\n00-database-short\n   The Collaborative International Dictionary of English\n\n",
    "Apple \\Ap\"ple\\ ([a^]p\"p'l), n. [OE. appel, eppel, AS. [ae]ppel,\n"
    "   [ae]pl; akin to Fries. & D. appel; of\n"
    "   unknown origin.]\n"
    "   1. The fleshy pome or fruit of a rosaceous tree ({Pyrus\n"
    "      malus}) cultivated in numberless varieties. --Holland.\n"
    "      [1913 Webster]\n"
    "\n"
    "   2. (bot.) Any tree of the genus {Pyrus}.\n"
    "      [1913 Webster]\n"
    "\n"
    "   {Apple brandy}, brandy made from apples.\n"
    "\n"
    "   {Apple borer} (Zool.), a coleopterous insect, the larva of which bores\n"
    "      into the trunk of the apple tree.\n"
    "      [1913 Webster]\n"
    "\n"
    "   {Apple of love}, or {Love apple}, the tomato.\n\n",
    "Wier \\Wier\\, n.\n   Same as {Weir}.\n   [1913 Webster]\n\n",
    "Encyclop[ae]dia \\En*cy`clo*p[ae]\"di*a\\, n. [NL.]\n"
    "   A work in which the various branches of science or art are\n"
    "   discussed separately, in alphabetical order; as, the Encyclop[ae]dia\n"
    "   Britannica. [Obs. or Prov. Eng.\n"
    "   ]\n"
    "   [1913 Webster] Encyclopedical\n\n",
    "Pelagic \\Pe*lag\"ic\\, a. [L. pelagicus.]\n"
    "   Of or pertaining to the ocean; -- applied especially to\n"
    "   animals that live at the surface, as in the Caf['e].\n"
    "   [1913 Webster]\n\n",
};

static void test_gcide_pairs(void **state)
{
    char *dir = test_make_temp_dir();
    const index_entry entries[] = {
        {"00-database-short", 0}, {"Apple", 1}, {"Apple brandy", 1}, {"Apple borer", 1},
        {"Wier", 2}, {"Encyclopaedia", 3}, {"Pelagic", 4},
    };
    write_dictd(dir, "gcide", gcide_blocks, 5, entries, sizeof entries / sizeof entries[0]);
    corpus_pairs pairs;
    corpus_pairs_init(&pairs, 0);
    semb_error err = {0};
    assert_int_equal(corpus_read_dictd(test_path_in(dir, "gcide.index"),
                                       test_path_in(dir, "gcide.dict.dz"),
                                       CORPUS_DICTD_GCIDE, &pairs, &err),
                     SEMB_OK);
    /* the first sense only, without its number, etymology, braces or the quotation credit */
    assert_pair(&pairs, "Apple",
                "The fleshy pome or fruit of a rosaceous tree (Pyrus malus) cultivated in "
                "numberless varieties.");
    assert_pair(&pairs, "Apple brandy", "brandy made from apples.");
    assert_pair(&pairs, "Apple borer",
                "a coleopterous insect, the larva of which bores into the trunk of the apple "
                "tree.");
    /* entities become UTF-8; a label running over a line end goes as a whole; text after a
     * source line does not join the definition */
    assert_pair(&pairs, "Encyclopædia",
                "A work in which the various branches of science or art are discussed "
                "separately, in alphabetical order; as, the Encyclopædia Britannica.");
    assert_pair(&pairs, "Pelagic",
                "Of or pertaining to the ocean; -- applied especially to animals that live at "
                "the surface, as in the Cafe\xcc\x81.");
    /* "Same as X" only points elsewhere; "{A}, or {B}, ..." is not cut; metadata skipped;
     * three headwords of the Apple block give its pairs once */
    assert_int_equal(pairs.count, 5);
    assert_int_equal(pairs.dropped_duplicate, 0);
    corpus_pairs_free(&pairs);
    test_rmtree(dir);
    free(dir);
}

/* ---- FOLDOC and Jargon ---- */

static const char *const foldoc_blocks[] = {
    "\n\n00-database-short\n     The Free On-line Dictionary of Computing\n",
    "artificial neural network\nneural network\nNN\n\n"
    "   <artificial intelligence> (ANN) A network of many very simple\n"
    "   {processors}, each possibly having local memory.\n\n"
    "   A second paragraph.\n\n   (1997-10-13)\n\n",
    "bit bucket\n\n   <jargon>\n\n   (2006-01-19)\n\n",
};

static const char *const jargon_blocks[] = {
    "page out\n vi.\n\n    [MIT]\n\n"
    "    1. To become unaware of one's surroundings temporarily, due to daydreaming\n"
    "    or preoccupation. See {\n    page in}.\n\n    2. Syn. swap out.\n\n",
    "code\n\n\n    1. n. The stuff that software writers write.\n\n    2. v. To write code.\n\n",
    "/dev/null\n /dev-nuhl/, n.\n\n"
    "    [from the Unix null device] A notional \xe2\x80\x98" "black hole\xe2\x80\x99.\n\n",
};

static void test_plain_dictd_pairs(void **state)
{
    char *dir = test_make_temp_dir();
    const index_entry foldoc_entries[] = {
        {"00-database-short", 0}, {"artificial neural network", 1}, {"neural network", 1},
        {"nn", 1}, {"bit bucket", 2},
    };
    write_dictd(dir, "foldoc", foldoc_blocks, 3, foldoc_entries, 5);
    const index_entry jargon_entries[] = {{"page out", 0}, {"code", 1}, {"/dev/null", 2}};
    write_dictd(dir, "jargon", jargon_blocks, 3, jargon_entries, 3);
    corpus_pairs foldoc, jargon;
    corpus_pairs_init(&foldoc, 0);
    corpus_pairs_init(&jargon, 0);
    semb_error err = {0};
    assert_int_equal(corpus_read_dictd(test_path_in(dir, "foldoc.index"),
                                       test_path_in(dir, "foldoc.dict.dz"), CORPUS_DICTD_PLAIN,
                                       &foldoc, &err),
                     SEMB_OK);
    /* the domain label goes, the cross reference is unwrapped, the first paragraph only; an
     * entry with nothing but a label and a date gives nothing */
    assert_int_equal(foldoc.count, 1);
    assert_pair(&foldoc, "artificial neural network",
                "(ANN) A network of many very simple processors, each possibly having local "
                "memory.");
    assert_int_equal(corpus_read_dictd(test_path_in(dir, "jargon.index"),
                                       test_path_in(dir, "jargon.dict.dz"), CORPUS_DICTD_PLAIN,
                                       &jargon, &err),
                     SEMB_OK);
    assert_int_equal(jargon.count, 3);
    assert_pair(&jargon, "page out",
                "To become unaware of one's surroundings temporarily, due to daydreaming or "
                "preoccupation. See page in.");
    assert_pair(&jargon, "code", "The stuff that software writers write.");
    assert_pair(&jargon, "/dev/null", "A notional \xe2\x80\x98" "black hole\xe2\x80\x99.");
    corpus_pairs_free(&foldoc);
    corpus_pairs_free(&jargon);
    test_rmtree(dir);
    free(dir);
}

static void test_dictd_bad_index(void **state)
{
    char *dir = test_make_temp_dir();
    write_gzip(test_path_in(dir, "x.dict.dz"), "word\n\n   A definition of the word.\n");
    corpus_pairs pairs;
    corpus_pairs_init(&pairs, 0);
    semb_error err = {0};
    write_text(test_path_in(dir, "x.index"), "word\tA\tj\nbroken line\n"); /* j: 35 bytes */
    assert_int_equal(corpus_read_dictd(test_path_in(dir, "x.index"),
                                       test_path_in(dir, "x.dict.dz"),
                                       CORPUS_DICTD_PLAIN, &pairs, &err),
                     SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "x.index:2:"));
    write_text(test_path_in(dir, "x.index"), "word\tA\tBAA\n"); /* 4096 bytes: past the end */
    assert_int_equal(corpus_read_dictd(test_path_in(dir, "x.index"),
                                       test_path_in(dir, "x.dict.dz"),
                                       CORPUS_DICTD_PLAIN, &pairs, &err),
                     SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "past the end"));
    write_text(test_path_in(dir, "x.dict.dz"), "\x1f\x8b\x08\x00garbage");
    write_text(test_path_in(dir, "x.index"), "word\tA\tj\n");
    assert_int_not_equal(corpus_read_dictd(test_path_in(dir, "x.index"),
                                           test_path_in(dir, "x.dict.dz"),
                                           CORPUS_DICTD_PLAIN, &pairs, &err),
                         SEMB_OK);
    assert_int_equal(corpus_read_dictd(test_path_in(dir, "none.index"),
                                       test_path_in(dir, "x.dict.dz"),
                                       CORPUS_DICTD_PLAIN, &pairs, &err),
                     SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "none.index"));
    corpus_pairs_free(&pairs);
    test_rmtree(dir);
    free(dir);
}

/* ---- Debian ---- */

static const char dpkg_status[] =
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Description: GNU C Library: Shared libraries\n"
    " Contains the standard libraries that are used by nearly all programs on\n"
    " the system.\n"
    " .\n"
    " A second paragraph that is not used.\n"
    "Homepage: https://www.gnu.org/software/libc/libc.html\n"
    "\n"
    "Package: oldthing\n"
    "Description: transitional package for newthing\n"
    " This is a transitional package. It can safely be removed.\n"
    "\n"
    "Package: nodesc\n"
    "Version: 1.0\n";

static void test_debian_stanzas(void **state)
{
    char *dir = test_make_temp_dir();
    write_text(test_path_in(dir, "status"), dpkg_status);
    write_lz4(test_path_in(dir, "x_i18n_Translation-en.lz4"),
              "Package: libc6\n"
              "Description-md5: 0123\n"
              "Description-en: another short text\n"
              " Another long text that must lose to the status file.\n"
              "\n"
              "Package: grep\n"
              "Description-md5: 4567\n"
              "Description-en: GNU grep, egrep and fgrep\n"
              " 'grep' is a utility to search for text in files; it can be used from the\n"
              " command line or in scripts.\n");
    write_gzip(test_path_in(dir, "x_Packages.gz"),
               "Package: 0ad\nVersion: 0.0.26-3\nDescription: Real-time strategy game of "
               "ancient warfare\nDescription-md5: d943\n\nPackage: grep\nDescription: other\n");
    corpus_pairs descriptions, names;
    corpus_pairs_init(&descriptions, 0);
    corpus_pairs_init(&names, 0);
    corpus_hash_set descriptions_seen = {0}, names_seen = {0};
    semb_error err = {0};
    const char *files[] = {"status", "x_i18n_Translation-en.lz4", "x_Packages.gz"};
    for (size_t f = 0; f < 3; f++)
        assert_int_equal(corpus_read_debian_stanzas(test_path_in(dir, files[f]), &descriptions,
                                                    &descriptions_seen, &names, &names_seen,
                                                    &err),
                         SEMB_OK);
    assert_int_equal(descriptions.count, 2);
    assert_pair(&descriptions, "GNU C Library: Shared libraries",
                "Contains the standard libraries that are used by nearly all programs on the "
                "system.");
    assert_pair(&descriptions, "GNU grep, egrep and fgrep",
                "'grep' is a utility to search for text in files; it can be used from the "
                "command line or in scripts.");
    assert_int_equal(names.count, 3);
    assert_pair(&names, "libc6", "GNU C Library: Shared libraries");
    assert_pair(&names, "grep", "GNU grep, egrep and fgrep");
    assert_pair(&names, "0ad", "Real-time strategy game of ancient warfare");
    corpus_hash_set_free(&descriptions_seen);
    corpus_hash_set_free(&names_seen);
    corpus_pairs_free(&descriptions);
    corpus_pairs_free(&names);
    test_rmtree(dir);
    free(dir);
}

static void test_read_file_formats(void **state)
{
    char *dir = test_make_temp_dir();
    const char text[] = "same text in three containers\n";
    write_text(test_path_in(dir, "plain"), text);
    write_gzip(test_path_in(dir, "gz"), text);
    write_lz4(test_path_in(dir, "lz4"), text);
    const char *names[] = {"plain", "gz", "lz4"};
    for (int i = 0; i < 3; i++) {
        corpus_buffer b;
        semb_error err = {0};
        assert_int_equal(corpus_read_file(test_path_in(dir, names[i]), &b, &err), SEMB_OK);
        assert_int_equal(b.size, strlen(text));
        assert_string_equal(b.data, text);
        corpus_buffer_free(&b);
    }
    /* an LZ4 frame cut short is an error, not a silently shorter text */
    write_text(test_path_in(dir, "cut"), "\x04\x22\x4d\x18\x64\x40\xa7");
    corpus_buffer b;
    semb_error err = {0};
    assert_int_equal(corpus_read_file(test_path_in(dir, "cut"), &b, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "cut"));
    test_rmtree(dir);
    free(dir);
}

/* ---- pairs and the split ---- */

static void add(corpus_pairs *p, const char *a, const char *b)
{
    semb_error err = {0};
    assert_int_equal(corpus_pairs_add(p, a, strlen(a), b, strlen(b), &err), SEMB_OK);
}

static void test_pairs_cleaning(void **state)
{
    corpus_pairs p;
    corpus_pairs_init(&p, 100);
    add(&p, "  word \n", "a   definition\n\twith  spaces ");
    assert_int_equal(p.count, 1);
    assert_string_equal(p.anchors[0], "word");
    assert_string_equal(p.positives[0], "a definition with spaces");
    add(&p, "word", "a definition with spaces"); /* same after cleaning */
    assert_int_equal(p.dropped_duplicate, 1);
    add(&p, "", "a definition with spaces");
    add(&p, "word", "short");
    add(&p, "word", "oneveryveryverylongword");
    assert_int_equal(p.dropped_short, 3);
    add(&p, "bad \xff byte", "a definition with spaces");
    assert_int_equal(p.dropped_utf8, 1);
    add(&p, "The Same Text", "the same text");
    assert_int_equal(p.dropped_same, 1);
    char long_text[300] = "";
    for (int i = 0; i < 10; i++)
        strcat(long_text, "A sentence of twenty. "); /* 22 bytes each */
    add(&p, "long", long_text); /* cut after the 4th sentence: 87 bytes */
    assert_int_equal(p.count, 2);
    assert_int_equal(strlen(p.positives[1]), 87);
    memset(long_text, 'x', 250);
    long_text[250] = '\0';
    long_text[5] = ' ';
    add(&p, "long", long_text); /* no sentence end to cut at */
    add(&p, long_text, "a definition with spaces"); /* anchors are never cut */
    assert_int_equal(p.dropped_long, 2);
    assert_int_equal(corpus_pairs_dropped(&p), 8);
    corpus_pairs_free(&p);
}

typedef struct split_files {
    char **anchors, **positives;
    size_t n;
} split_files;

/* Reads a JSONL file of {"anchor", "positive"} objects written by corpus_pairs_write. */
static split_files read_split(const char *path)
{
    size_t size;
    char *text = test_read_file(path, &size);
    split_files s = {calloc(1000, sizeof(char *)), calloc(1000, sizeof(char *)), 0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char a[256], b[256];
        assert_int_equal(sscanf(line, "{\"anchor\": \"%255[^\"]\", \"positive\": \"%255[^\"]\"}", a,
                                b),
                         2);
        s.anchors[s.n] = strdup(a);
        s.positives[s.n++] = strdup(b);
    }
    free(text);
    return s;
}

static void free_split(split_files *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->anchors[i]);
        free(s->positives[i]);
    }
    free(s->anchors);
    free(s->positives);
}

static bool split_has_text(const split_files *s, const char *text)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->anchors[i], text) == 0 || strcmp(s->positives[i], text) == 0)
            return true;
    return false;
}

/* 200 pairs; every tenth positive is shared by two anchors and every seventh anchor has two
 * positives (chains of linked pairs where both happen), so a split by pair or by anchor alone
 * would leak texts. */
static void fill_linked_pairs(corpus_pairs *p)
{
    for (int i = 0; i < 200; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "anchor %d", i % 7 == 1 ? i - 1 : i);
        snprintf(b, sizeof b, "positive text %d", i % 10 == 5 ? i - 2 : i);
        add(p, a, b);
    }
}

static void test_split_shares_no_text(void **state)
{
    char *dir = test_make_temp_dir();
    corpus_pairs p;
    corpus_pairs_init(&p, 0);
    fill_linked_pairs(&p);
    assert_int_equal(p.count, 200);
    semb_error err = {0};
    corpus_dataset_report r = {0};
    assert_int_equal(corpus_pairs_write(&p, dir, "t", 0.1, 7, &r, &err), SEMB_OK);
    assert_int_equal(r.heldout_pairs, 20);
    assert_int_equal(r.train_pairs, 180);
    split_files train = read_split(test_path_in(dir, "t.train.jsonl"));
    split_files heldout = read_split(test_path_in(dir, "t.heldout.jsonl"));
    assert_int_equal(train.n, 180);
    assert_int_equal(heldout.n, 20);
    for (size_t i = 0; i < heldout.n; i++) {
        assert_false(split_has_text(&train, heldout.anchors[i]));
        assert_false(split_has_text(&train, heldout.positives[i]));
    }
    /* same seed: same files; another seed: another held-out set */
    char *first = test_read_file(test_path_in(dir, "t.heldout.jsonl"), NULL);
    assert_int_equal(corpus_pairs_write(&p, dir, "t", 0.1, 7, &r, &err), SEMB_OK);
    char *again = test_read_file(test_path_in(dir, "t.heldout.jsonl"), NULL);
    assert_string_equal(first, again);
    assert_int_equal(corpus_pairs_write(&p, dir, "t", 0.1, 8, &r, &err), SEMB_OK);
    char *other = test_read_file(test_path_in(dir, "t.heldout.jsonl"), NULL);
    assert_string_not_equal(first, other);
    /* a count instead of a fraction */
    assert_int_equal(corpus_pairs_write(&p, dir, "t", 33, 7, &r, &err), SEMB_OK);
    assert_int_equal(r.heldout_pairs, 33);
    assert_int_equal(count_lines(test_path_in(dir, "t.heldout.jsonl")), 33);
    free(first);
    free(again);
    free(other);
    free_split(&train);
    free_split(&heldout);
    corpus_pairs_free(&p);
    test_rmtree(dir);
    free(dir);
}

static void test_split_independent_of_input_order(void **state)
{
    char *dir = test_make_temp_dir();
    corpus_pairs forward, backward;
    corpus_pairs_init(&forward, 0);
    corpus_pairs_init(&backward, 0);
    for (int i = 0; i < 100; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "word %d", i);
        snprintf(b, sizeof b, "meaning of %d", i);
        add(&forward, a, b);
        snprintf(a, sizeof a, "word %d", 99 - i);
        snprintf(b, sizeof b, "meaning of %d", 99 - i);
        add(&backward, a, b);
    }
    semb_error err = {0};
    corpus_dataset_report r;
    assert_int_equal(corpus_pairs_write(&forward, dir, "f", 0.05, 1, &r, &err), SEMB_OK);
    assert_int_equal(corpus_pairs_write(&backward, dir, "b", 0.05, 1, &r, &err), SEMB_OK);
    split_files f = read_split(test_path_in(dir, "f.heldout.jsonl"));
    split_files b = read_split(test_path_in(dir, "b.heldout.jsonl"));
    assert_int_equal(f.n, 5);
    assert_int_equal(b.n, 5);
    for (size_t i = 0; i < f.n; i++)
        assert_true(split_has_text(&b, f.anchors[i]));
    free_split(&f);
    free_split(&b);
    corpus_pairs_free(&forward);
    corpus_pairs_free(&backward);
    test_rmtree(dir);
    free(dir);
}

static void test_json_escaping(void **state)
{
    char *dir = test_make_temp_dir();
    corpus_pairs p;
    corpus_pairs_init(&p, 0);
    add(&p, "say \"hi\"", "a back\\slash and caf\xc3\xa9 text");
    semb_error err = {0};
    corpus_dataset_report r;
    assert_int_equal(corpus_pairs_write(&p, dir, "e", 0.02, 1, &r, &err), SEMB_OK);
    assert_int_equal(r.heldout_pairs, 0); /* one pair: all of it is needed for training */
    char *text = test_read_file(test_path_in(dir, "e.train.jsonl"), NULL);
    assert_string_equal(text, "{\"anchor\": \"say \\\"hi\\\"\", \"positive\": \"a back\\\\slash "
                              "and caf\xc3\xa9 text\"}\n");
    free(text);
    corpus_pairs_free(&p);
    test_rmtree(dir);
    free(dir);
}

/* ---- the whole build ---- */

static void test_build_with_missing_sources(void **state)
{
    char *root = test_make_temp_dir();
    char wordnet[4096], dictd[4096], lists[4096], out[4096];
    snprintf(wordnet, sizeof wordnet, "%s/wordnet", root);
    snprintf(dictd, sizeof dictd, "%s/dictd", root);
    snprintf(lists, sizeof lists, "%s/lists", root);
    snprintf(out, sizeof out, "%s/out/corpus", root);
    mkdir(wordnet, 0777);
    mkdir(dictd, 0777);
    mkdir(lists, 0777);
    write_wordnet(wordnet);
    write_dictd(dictd, "jargon", jargon_blocks, 3,
                (const index_entry[]){{"page out", 0}, {"code", 1}, {"/dev/null", 2}}, 3);
    write_text(test_path_in(root, "status"), dpkg_status);
    write_text(test_path_in(lists, "x_Packages.xz"), "not read");
    corpus_options o = {.output_dir = out, .held_out = 0.02, .seed = 1, .wordnet_dir = wordnet,
                        .dictd_dir = dictd, .dpkg_status = test_path_in(root, "status"),
                        .apt_lists_dir = lists};
    corpus_report report;
    semb_error err = {0};
    assert_int_equal(corpus_build(&o, &report, &err), SEMB_OK);
    assert_int_equal(report.missing, CORPUS_SOURCE_GCIDE | CORPUS_SOURCE_FOLDOC);
    assert_non_null(strstr(report.notes, "x_Packages.xz"));
    assert_int_equal(report.dataset_count, 5); /* wordnet x2, jargon, debian x2 */
    assert_string_equal(report.datasets[0].name, "wordnet_gloss");
    assert_int_equal(report.datasets[0].train_pairs + report.datasets[0].heldout_pairs, 5);
    assert_int_equal(count_lines(test_path_in(out, "wordnet_gloss.train.jsonl")),
                     report.datasets[0].train_pairs);
    char *config = test_read_file(test_path_in(out, "data_config.json"), NULL);
    assert_non_null(strstr(config, "{\"name\": \"jargon.train.jsonl\", \"weight\": 1, \"lines\": 2}"));
    assert_null(strstr(config, "gcide"));
    free(config);
    /* only missing sources requested: an error naming the packages, nothing written */
    o.sources = CORPUS_SOURCE_GCIDE;
    o.output_dir = test_path_in(root, "never");
    assert_int_equal(corpus_build(&o, &report, &err), SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "dict-gcide"));
    assert_int_equal(report.missing, CORPUS_SOURCE_GCIDE);
    struct stat st;
    assert_int_not_equal(stat(test_path_in(root, "never"), &st), 0);
    o.held_out = 2.5;
    assert_int_equal(corpus_build(&o, &report, &err), SEMB_ERR_INVALID_ARG);
    test_rmtree(root);
    free(root);
}

static void test_parse_sources(void **state)
{
    unsigned mask;
    semb_error err = {0};
    assert_int_equal(corpus_parse_sources("wordnet,debian", &mask, &err), SEMB_OK);
    assert_int_equal(mask, CORPUS_SOURCE_WORDNET | CORPUS_SOURCE_DEBIAN);
    assert_int_equal(corpus_parse_sources("all", &mask, &err), SEMB_OK);
    assert_int_equal(mask, CORPUS_SOURCE_ALL);
    assert_int_equal(corpus_parse_sources("wordnet,gcid", &mask, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "'gcid'"));
    assert_string_equal(corpus_source_package(CORPUS_SOURCE_FOLDOC), "dict-foldoc");
    assert_null(corpus_source_package(CORPUS_SOURCE_DEBIAN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wordnet_pairs),
        cmocka_unit_test(test_wordnet_malformed_line),
        cmocka_unit_test(test_gcide_pairs),
        cmocka_unit_test(test_plain_dictd_pairs),
        cmocka_unit_test(test_dictd_bad_index),
        cmocka_unit_test(test_debian_stanzas),
        cmocka_unit_test(test_read_file_formats),
        cmocka_unit_test(test_pairs_cleaning),
        cmocka_unit_test(test_split_shares_no_text),
        cmocka_unit_test(test_split_independent_of_input_order),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_build_with_missing_sources),
        cmocka_unit_test(test_parse_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
