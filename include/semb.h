/*
 * semb: sentence embeddings in C. The public API.
 *
 * Handles are opaque. Every function that can fail returns a semb_status and, when the
 * caller passes a semb_error, fills it with a one-line message that names the file, line
 * or field at fault. Nothing in the library exits or aborts on bad input.
 */
#ifndef SEMB_H
#define SEMB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum semb_status {
    SEMB_OK = 0,
    SEMB_ERR_IO,          /* a file could not be opened, read, mapped or written */
    SEMB_ERR_FORMAT,      /* a file is malformed: JSON, safetensors, config values */
    SEMB_ERR_UNSUPPORTED, /* well formed, but not something semb implements */
    SEMB_ERR_INVALID_ARG, /* a caller passed a value out of range */
    SEMB_ERR_INPUT,       /* user text is unusable: invalid UTF-8, empty input */
    SEMB_ERR_NOMEM        /* an allocation failed */
} semb_status;

#define SEMB_ERROR_MESSAGE_SIZE 1024

/* Filled by failing calls; message is a NUL-terminated single line. */
typedef struct semb_error {
    semb_status status;
    char message[SEMB_ERROR_MESSAGE_SIZE];
} semb_error;

/* A static, never-NULL name for a status ("ok", "io error", ...). */
const char *semb_status_name(semb_status status);

/* The library version, e.g. "0.1.0". Static storage. */
const char *semb_version(void);

/* Sets the number of threads used by every parallel kernel (OpenMP and oneDNN share one
 * pool, so nothing is oversubscribed). n <= 0 means all cores. Call before encoding. */
void semb_set_threads(int n);

/* --- models ------------------------------------------------------------------------ */

typedef struct semb_model semb_model;

/* Loads a sentence-transformers model folder (modules.json, config.json,
 * model.safetensors, tokenizer.json or vocab.txt, 1_Pooling/, optional 2_Normalize/).
 * On success *out owns the model; free it with semb_model_free. On failure *out is NULL
 * and err names the file and field. */
semb_status semb_model_load(const char *dir, semb_model **out, semb_error *err);

/* Frees a model and everything it owns. NULL is allowed. */
void semb_model_free(semb_model *model);

/* Output dimension of the sentence embeddings. */
int semb_model_dimension(const semb_model *model);

/* Maximum number of tokens per sentence (special tokens included); longer texts are
 * truncated, as sentence-transformers does. */
int semb_model_max_seq_length(const semb_model *model);

/* Whether the model folder ends with a Normalize module (unit-length embeddings). */
int semb_model_normalizes(const semb_model *model);

/* How a model compares embeddings (config_sentence_transformers.json's similarity_fn_name;
 * cosine when the file or field is absent). Higher is more similar for all four: euclidean
 * and manhattan are negated distances, as sentence-transformers scores them. */
typedef enum semb_similarity {
    SEMB_SIMILARITY_COSINE,
    SEMB_SIMILARITY_DOT,
    SEMB_SIMILARITY_EUCLIDEAN,
    SEMB_SIMILARITY_MANHATTAN
} semb_similarity;

semb_similarity semb_model_similarity(const semb_model *model);

/* "cosine", "dot", "euclidean", "manhattan". */
const char *semb_similarity_name(semb_similarity similarity);

/* Parses a name semb_similarity_name gives (also "dot_product", "cos_sim"); SEMB_ERR_INVALID_ARG
 * for anything else, *out untouched. */
semb_status semb_similarity_from_name(const char *name, semb_similarity *out);

/* The text of the model's prompt called name (config_sentence_transformers.json "prompts",
 * e.g. "query" -> "query: "), or NULL when the model has none of that name. The string is
 * owned by the model. A prompt is prepended to each text before tokenizing, as
 * sentence-transformers' encode(prompt_name=...) does. */
const char *semb_model_prompt(const semb_model *model, const char *name);

/* The model's default_prompt_name (applied by sentence-transformers when encode() gets no
 * prompt), or NULL. Owned by the model. */
const char *semb_model_default_prompt_name(const semb_model *model);

/* Length of the text semb_model_fingerprint writes, NUL included. */
#define SEMB_FINGERPRINT_SIZE 33

/* Writes a 32-hex-digit identity of what the model computes into out (SEMB_FINGERPRINT_SIZE
 * bytes, caller-owned): a hash of every weight, the architecture, pooling, normalisation,
 * max sequence length and the tokenizer's output on a probe text. Two folders holding the
 * same model give the same fingerprint; a retrained, re-pooled or re-tokenized model a
 * different one. Embeddings stored by one model (an index) are only comparable with queries
 * encoded by a model of the same fingerprint. Never fails; reads the whole weight arena
 * (about 30 ms per 100 MB). */
void semb_model_fingerprint(const semb_model *model, char out[SEMB_FINGERPRINT_SIZE]);

/* --- tokenizing and encoding ---------------------------------------------------------- */

/* Tokenizes one UTF-8 text exactly as the model's Hugging Face tokenizer does, special
 * tokens added and truncation to the model's max sequence length applied.
 * On success *ids is a malloc'd array the caller frees, *count its length.
 * Fails with SEMB_ERR_INPUT on invalid UTF-8. */
semb_status semb_tokenize(const semb_model *model, const char *text, size_t length,
                          int32_t **ids, size_t *count, semb_error *err);

/* The number of tokens text[0..length) has before truncation, special tokens included, into
 * *count: a caller compares it with semb_model_max_seq_length to tell the user a text will be
 * cut. Fails with SEMB_ERR_INPUT on invalid UTF-8, SEMB_ERR_NOMEM. */
semb_status semb_count_tokens(const semb_model *model, const char *text, size_t length,
                              size_t *count, semb_error *err);

typedef struct semb_encode_options {
    int batch_size; /* sentences per forward pass; <= 0 means 32 */
    int normalize;  /* non-zero: L2-normalise even if the model has no Normalize module */
} semb_encode_options;

/* Encodes n UTF-8 texts into out[n * dimension] (row-major float32, caller-owned).
 * lengths may be NULL (then texts are NUL-terminated). opts may be NULL for defaults.
 * Results do not depend on batch size or order: sentences are sorted by length
 * internally and written back in input order. On failure the message names the
 * index of the offending text. */
semb_status semb_encode(semb_model *model, const char *const *texts, const size_t *lengths,
                        size_t n, float *out, const semb_encode_options *opts, semb_error *err);

/* --- new models ----------------------------------------------------------------------- */

typedef struct semb_init_options {
    const char *arch;        /* "bert", "distilbert" or "mpnet" */
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int max_position_embeddings; /* <= 0: 512 (514 for mpnet) */
    int max_seq_length;          /* <= 0: 256, capped by the position limit */
    const char *vocab_path;  /* vocab.txt or tokenizer.json (WordPiece) */
    const char *pooling;     /* NULL: "mean" */
    int normalize;           /* non-zero: add a Normalize module */
    uint64_t seed;
} semb_init_options;

/* The MiniLM-L6 shape (bert, hidden 384, 6 layers, 12 heads, FFN 1536, 512 positions, max
 * sequence length 256), mean pooling, normalized, seed 42; vocab_path is NULL (required). */
semb_init_options semb_init_options_default(void);

/* Writes a new sentence-transformers model folder at output_dir with randomly initialised
 * weights (normal(0, 0.02), LayerNorm 1/0, as Hugging Face initialises), the tokenizer files
 * copied in, and every config file sentence-transformers needs to load it. The folder is
 * assembled under a temporary name and renamed into place, so a failure leaves nothing;
 * output_dir must not exist yet. */
semb_status semb_model_init(const char *output_dir, const semb_init_options *opts,
                            semb_error *err);

/* --- training ------------------------------------------------------------------------------ */

typedef struct semb_train_options {
    const char *model_dir;      /* starting model (sentence-transformers folder) */
    /* Training data: any of data_path, data_specs and data_config_path, all used together.
     * Files are JSONL objects {"anchor", "positive"[, "negative": str or list]}, JSONL lists
     * ["anchor", "positive", negatives...] or TSV (anchor<TAB>positive[<TAB>negative...]),
     * plain, gzip or zstd; every line of a file with the same number of negatives. */
    const char *data_path;               /* one file, weight 1 */
    const char *const *data_specs;       /* n_data_specs of "FILE[:WEIGHT]" (a trailing ':NUMBER'
                                            is the weight, default 1) */
    size_t n_data_specs;
    const char *data_config_path;        /* [{"name", "weight", "lines"}, ...], names relative
                                            to its folder (the 1B-pairs recipe's format) */
    int datasets_per_batch;     /* shares of a batch, each from a file drawn by weight (2) */
    int shuffle_buffer;         /* examples held per file to shuffle each pass (10000); ignored
                                   when shuffle is 0 */
    size_t max_line_bytes;      /* longer lines are skipped (1 MiB) */
    int strict;                 /* the first unusable line is an error, not a warning */
    const char *output_dir;     /* where the trained model is saved: must not exist or be empty */
    int batch_size;             /* anchors per step */
    int steps;                  /* optimizer steps */
    double epochs;              /* > 0: steps = ceil(epochs * lines of all files / batch_size),
                                   with "lines" from the data config or counted up front */
    int max_seq_length;         /* > 0: truncate training texts to this many tokens instead of
                                   the model's max_seq_length (capped by its position limit);
                                   the saved model keeps its own */
    int mini_batch_size;        /* GradCache chunk in texts; <= 0: no GradCache */
    double lr;                  /* peak learning rate (2e-5) */
    int warmup_steps;           /* < 0: min(500, 10% of steps) */
    const char *scheduler;      /* "linear" (default), "constant", "cosine" */
    double weight_decay;        /* 0.01; never on biases and LayerNorm weights */
    double max_grad_norm;       /* 1.0; <= 0 disables clipping */
    const char *similarity;     /* "cosine" (default) or "dot" */
    double scale;               /* <= 0: 20 for cosine, 1 for dot */
    int symmetric;              /* MultipleNegativesSymmetricRankingLoss */
    double dropout;             /* < 0: the model config's; 0 turns dropout off */
    int shuffle;                /* non-zero: shuffle each pass; zero: file order, wrapping (one
                                   file gives batches in file order) */
    uint64_t seed;
    const char *log_path;       /* JSONL, one object per log interval (appended to on resume),
                                   or NULL */
    int log_every;              /* steps per log line (1) */
    const char *dump_gradients_path; /* first step's gradients (before clipping), or NULL */
    int progress;               /* non-zero: a progress display on stderr (a redrawn line on a
                                   terminal, plain lines otherwise) */
    /* Checkpoints: output_dir/checkpoint-<step>/ (model + optimizer + sampler + RNG), written
     * atomically every save_every steps and always at the end of a run. */
    int save_every;             /* <= 0: only at the end */
    int keep_checkpoints;       /* the most recent ones kept (2); < 1: all */
    const char *resume_dir;     /* continue from the latest checkpoint of an earlier run's
                                   output folder, up to `steps` (same options); output_dir may be
                                   NULL or the same folder; model_dir and init are not needed */
    double max_minutes;         /* > 0: stop after the step that passes this much wall time,
                                   with a checkpoint to resume from */
    /* Evaluation during training: STS Spearman on a TSV (score, sentence1, sentence2). */
    const char *eval_sts_path;
    int eval_every;             /* <= 0: only at the end */
    /* Starting from a fresh model instead of model_dir: semb_model_init with these options. */
    const semb_init_options *init;
    const char *model_name;     /* model card title; NULL: a default */
} semb_train_options;

/* What a training run did. */
typedef struct semb_train_result {
    int steps_done;             /* global step reached (counting steps of resumed runs) */
    int steps_total;
    int stopped_early;          /* non-zero: max_minutes ran out before steps_total */
    double final_loss;          /* mean loss of the last (up to) 50 steps */
    double seconds;             /* wall time of this run's training loop */
    double step_seconds;        /* median wall time of one step in this run (evaluations and
                                   checkpoints not included) */
    double eval_sts_spearman;   /* x100 at the end; NaN without eval_sts_path */
} semb_train_result;

/* Defaults as sentence-transformers and the 1B-pairs recipe use them. */
semb_train_options semb_train_options_default(void);

/* Trains with MultipleNegativesRankingLoss (in-batch negatives, optional hard negatives),
 * AdamW and the chosen schedule, then saves the model as a sentence-transformers folder in
 * the format it was loaded from, with a model card (README.md, training_loss.svg), at the top
 * of output_dir, beside its checkpoint-<step> folders; every save is assembled under a
 * temporary name and renamed, so a failure or a kill never leaves a partial model. The options
 * are checked, and output_dir with them (missing or empty unless resuming), before any training. Errors (SEMB_ERR_INVALID_ARG for
 * options, SEMB_ERR_IO / SEMB_ERR_FORMAT naming the file and line) go to err; a data file
 * with skipped lines reports them on stderr and goes on. */
semb_status semb_train(const semb_train_options *opts, semb_error *err);

/* semb_train, also filling *result (may be NULL) when it succeeds. */
semb_status semb_train_run(const semb_train_options *opts, semb_train_result *result,
                           semb_error *err);

/* --- search index --------------------------------------------------------------------- */

/* How an index stores its embeddings (sentence-transformers' quantize_embeddings):
 * float32 (4 bytes a dimension), int8 (1 byte: per-dimension ranges from calibration
 * embeddings, 255 buckets) or binary (1 bit: the sign, packed 8 per byte). */
typedef enum semb_precision {
    SEMB_PRECISION_FLOAT32,
    SEMB_PRECISION_INT8,
    SEMB_PRECISION_BINARY
} semb_precision;

/* "float32", "int8", "binary". */
const char *semb_precision_name(semb_precision precision);

/* Parses a name semb_precision_name gives; SEMB_ERR_INVALID_ARG naming it otherwise. */
semb_status semb_precision_from_name(const char *name, semb_precision *out, semb_error *err);

typedef struct semb_index_build_options {
    /* The corpus: a file, or texts in memory (corpus_path NULL). */
    const char *corpus_path;
    const char *input_format;      /* "text" (one document a line; blank lines skipped) or
                                      "jsonl" (a JSON string, or an object with "text" and
                                      optional "title" (title + " " + text, stripped, as BEIR
                                      evaluation joins them) and "id" or "_id" (string or
                                      integer)); NULL: "text" */
    const char *const *texts;      /* n_texts UTF-8 documents when corpus_path is NULL */
    const size_t *lengths;         /* may be NULL: texts NUL-terminated */
    const char *const *ids;        /* NULL: ids are the positions 0, 1, ... */
    size_t n_texts;
    semb_precision precision;
    const char *calibration_path;  /* int8: a text file (one text a line) whose embeddings
                                      give the ranges; NULL: the corpus itself */
    const char *document_prompt;   /* prepended to each document; NULL: the model's "document"
                                      prompt, else "passage", else "corpus", else none */
    int batch_size;                /* sentences per forward pass; <= 0: 32 */
    size_t chunk_size;             /* documents read and encoded at a time; 0: 4096 */
    const char *model_name;        /* recorded for messages; NULL: "model" */
    /* Called after each chunk (may be NULL): documents embedded so far of total. */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
} semb_index_build_options;

/* Defaults: text input, float32, the model's document prompt, batch 32, chunks of 4096. */
semb_index_build_options semb_index_build_options_default(void);

typedef struct semb_index_build_result {
    size_t documents;
    size_t truncated;            /* documents longer than the model's max sequence length */
    size_t first_truncated_line; /* 1-based corpus line (or position + 1) of the first one */
    uint64_t file_bytes;
    const char *document_prompt; /* the prompt used: opts', the model's, or ""; static or
                                    owned by the model or opts */
} semb_index_build_result;

/* Embeds a corpus with model and writes one index file at output_path (atomically: a
 * temporary file renamed into place; on failure nothing is left). The corpus file is read
 * twice: a first pass checks every line (UTF-8, JSON, ids) and counts, so a bad line is
 * reported before any encoding; then documents are read, encoded and written chunk by chunk,
 * so memory holds one chunk plus 24 bytes and the id of each document (int8 with the corpus
 * as calibration also writes the float embeddings to a temporary file beside the output).
 * Ids are the JSONL "id"/"_id" values, else the 1-based line numbers of the corpus file (or
 * the positions of in-memory texts); duplicate ids are an error naming both lines, as is a
 * JSONL file where some documents have ids and others not. Integer ids stay integers; a mix
 * of integer and string ids is stored as strings. result may be NULL. Errors:
 * SEMB_ERR_INPUT (empty corpus, invalid UTF-8, bad JSON, naming file:line),
 * SEMB_ERR_INVALID_ARG, SEMB_ERR_IO, SEMB_ERR_NOMEM, and semb_encode's. */
semb_status semb_index_build(semb_model *model, const semb_index_build_options *opts,
                             const char *output_path, semb_index_build_result *result,
                             semb_error *err);

typedef struct semb_index semb_index;

/* Opens an index file (memory-mapped, read-only) after validating it; a corrupt or
 * truncated file is SEMB_ERR_FORMAT naming the file and what is wrong. *out owns the
 * mapping; close it with semb_index_close. */
semb_status semb_index_open(const char *path, semb_index **out, semb_error *err);

/* Unmaps and frees. NULL is allowed. Hits' id and text pointers die with the index. */
void semb_index_close(semb_index *index);

size_t semb_index_count(const semb_index *index);
int semb_index_dimension(const semb_index *index);
semb_precision semb_index_precision(const semb_index *index);
semb_similarity semb_index_similarity(const semb_index *index);
/* The model name recorded at build time and its fingerprint; owned by the index. */
const char *semb_index_model_name(const semb_index *index);
const char *semb_index_fingerprint(const semb_index *index);

/* SEMB_OK when model computes the embeddings the index holds (same fingerprint); otherwise
 * SEMB_ERR_INVALID_ARG with a message naming both models and their fingerprints. */
semb_status semb_index_check_model(const semb_index *index, const semb_model *model,
                                   const char *model_name, semb_error *err);

typedef struct semb_search_options {
    int exact;              /* binary indexes: score every document with the float query
                                instead of rescoring a Hamming shortlist */
    int rescore_multiplier; /* binary: the Hamming shortlist holds multiplier * k documents
                               (ST's rescore_multiplier); <= 0: 4 */
    const char *query_prompt; /* NULL: the model's "query" prompt, else none */
} semb_search_options;

/* One search result. id and text point into the index. */
typedef struct semb_search_hit {
    size_t rank;        /* 1 = best */
    float score;        /* the model's similarity of the query and the stored embedding
                           (dequantized int8, or the +-1 vector of a binary row) */
    size_t document;    /* 0-based position in the corpus */
    const char *id;     /* NUL-terminated */
    int id_is_integer;  /* the id is an integer (print it unquoted) */
    const char *text;   /* NUL-terminated */
} semb_search_hit;

/* The k best documents for each of n queries (query embeddings as the model gives them,
 * queries[n * dimension]), into hits[q * k + r], best first; ties in corpus order. Every
 * query gets *per_query = min(k, documents) hits. Exact over the whole index: blocked
 * matrix products on OpenMP threads (semb_set_threads). Errors: SEMB_ERR_INVALID_ARG (k
 * == 0), SEMB_ERR_NOMEM. */
semb_status semb_index_search_embeddings(const semb_index *index, const float *queries,
                                         size_t n, size_t k, const semb_search_options *opts,
                                         semb_search_hit *hits, size_t *per_query,
                                         semb_error *err);

/* Encodes n query texts with model (after semb_index_check_model passes; the query prompt
 * prepended; texts over the max sequence length are truncated: compare semb_count_tokens
 * to tell the user) and searches them as semb_index_search_embeddings does. */
semb_status semb_index_search(const semb_index *index, semb_model *model,
                              const char *const *queries, size_t n, size_t k,
                              const semb_search_options *opts, semb_search_hit *hits,
                              size_t *per_query, semb_error *err);

#ifdef __cplusplus
}
#endif
#endif
