/*
 * semb: sentence embeddings in C. The public API.
 *
 * Handles are opaque. Every function that can fail returns a semb_status and, when the
 * caller passes a semb_error, fills it with a one-line message that names the file, line
 * or field at fault. Nothing in the library exits or aborts on bad input.
 *
 * Options: every options struct has a semb_..._options_default() that gives its defaults;
 * start from it and set the fields you change. Chosen over zero-means-default because it
 * breaks nothing: a zero is already a meaningful value in the structs that had _default()
 * (training's weight decay and clipping, a model's normalize and seed, k-means' iterations),
 * so making zero mean "default" there would change what existing callers get, while the
 * structs that took zeros for their defaults (encode, rank, eval, paraphrase, search) only
 * gained a _default() and still take zeros (or NULL options) as documented.
 *
 * Stability: public enums only grow at the end, so a value keeps its number once released
 * (index files store the storage precision and the similarity as numbers); struct fields
 * likewise are only added at the end, never reordered or removed.
 *
 * Visibility: SEMB_API marks every public function. The library is built static today, where
 * it changes nothing; it is there for a future shared build compiled with
 * -fvisibility=hidden, which then exports these functions and nothing else.
 */
#ifndef SEMB_H
#define SEMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef SEMB_API
#if defined(__GNUC__) || defined(__clang__)
#define SEMB_API __attribute__((visibility("default")))
#else
#define SEMB_API
#endif
#endif

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
    /* true when the error is about one item of a list the call was given (one of
     * semb_encode's texts): item is its 0-based index, and the message names it too
     * ("text 3: invalid UTF-8 at byte 7"), so that printing the message is enough */
    bool has_item;
    size_t item;
    size_t reason_at; /* where the reason starts in message, after the item's name (semb's own
                         callers use it to name the item their way: a file's line) */
} semb_error;

/* A static, never-NULL name for a status ("ok", "io error", ...). */
SEMB_API const char *semb_status_name(semb_status status);

/* The library version, e.g. "0.1.0". Static storage. */
SEMB_API const char *semb_version(void);

/* Where the library's warnings go: something that loads but looks wrong (a tokenizer limit
 * below the model's max_seq_length, weights the model does not use). fn gets one line, no
 * newline, valid during the call; user is passed through. The library never prints: with no
 * handler (the default, or fn NULL) warnings are dropped. Process-wide; set it once, before
 * loading models, as the semb command does (it prints them to stderr). */
typedef void (*semb_warning_fn)(void *user, const char *message);
SEMB_API void semb_set_warning_handler(semb_warning_fn fn, void *user);

/* Sets the number of threads used by every parallel kernel (OpenMP and oneDNN share one
 * pool, so nothing is oversubscribed). n <= 0 means all cores. Call before encoding. */
SEMB_API void semb_set_threads(int n);

/* --- models ------------------------------------------------------------------------ */

/* Threads. A semb_model serves one call at a time: every call that tokenizes, encodes,
 * evaluates or trains through it uses the buffers the handle owns (activations, the packed
 * or quantized copies of the weights it remakes when they are stale), so two threads must
 * not use one handle at once: load one per thread, or serialize the calls as `semb serve`'s
 * batcher does. The accessors that only describe the model (semb_model_dimension,
 * _similarity, _prompt, _max_seq_length, ...) may be called from any thread meanwhile. A
 * semb_index may be searched from several threads at once (semb_index_search_embeddings:
 * its file is mapped read-only and its graph loaded once under a lock); a search that
 * encodes its queries needs its model to itself. Handles share no state, apart from
 * semb_set_threads and semb_set_warning_handler, which are process-wide. */
typedef struct semb_model semb_model;

/* Loads a sentence-transformers model folder (modules.json, config.json,
 * model.safetensors, tokenizer.json or vocab.txt, 1_Pooling/, optional 2_Normalize/).
 * On success *out owns the model; free it with semb_model_free. On failure *out is NULL
 * and err names the file and field. */
SEMB_API semb_status semb_model_load(const char *dir, semb_model **out, semb_error *err);

/* Frees a model and everything it owns. NULL is allowed. */
SEMB_API void semb_model_free(semb_model *model);

/* Output dimension of the sentence embeddings. */
SEMB_API int semb_model_dimension(const semb_model *model);

/* Maximum number of tokens per sentence (special tokens included); longer texts are
 * truncated, as sentence-transformers does. */
SEMB_API int semb_model_max_seq_length(const semb_model *model);

/* Whether the model folder ends with a Normalize module (unit-length embeddings). */
SEMB_API int semb_model_normalizes(const semb_model *model);

/* How a model compares embeddings (config_sentence_transformers.json's similarity_fn_name;
 * cosine when the file or field is absent). Higher is more similar for all four: euclidean
 * and manhattan are negated distances, as sentence-transformers scores them. */
typedef enum semb_similarity {
    SEMB_SIMILARITY_COSINE,
    SEMB_SIMILARITY_DOT,
    SEMB_SIMILARITY_EUCLIDEAN,
    SEMB_SIMILARITY_MANHATTAN
} semb_similarity;

SEMB_API semb_similarity semb_model_similarity(const semb_model *model);

/* "cosine", "dot", "euclidean", "manhattan". */
SEMB_API const char *semb_similarity_name(semb_similarity similarity);

/* Parses a name semb_similarity_name gives (also "dot_product", "cos_sim"); SEMB_ERR_INVALID_ARG
 * for anything else, *out untouched. */
SEMB_API semb_status semb_similarity_from_name(const char *name, semb_similarity *out);

/* The text of the model's prompt called name (config_sentence_transformers.json "prompts",
 * e.g. "query" -> "query: "), or NULL when the model has none of that name. The string is
 * owned by the model. A prompt is prepended to each text before tokenizing, as
 * sentence-transformers' encode(prompt_name=...) does. */
SEMB_API const char *semb_model_prompt(const semb_model *model, const char *name);

/* The model's default_prompt_name (applied by sentence-transformers when encode() gets no
 * prompt), or NULL. Owned by the model. */
SEMB_API const char *semb_model_default_prompt_name(const semb_model *model);

/* Length of the text semb_model_fingerprint writes, NUL included. */
#define SEMB_FINGERPRINT_SIZE 33

/* Writes a 32-hex-digit identity of what the model computes into out (SEMB_FINGERPRINT_SIZE
 * bytes, caller-owned): a hash of every weight, the architecture, pooling, normalisation,
 * max sequence length and the tokenizer's output on a probe text. Two folders holding the
 * same model give the same fingerprint; a retrained, re-pooled or re-tokenized model a
 * different one. Embeddings stored by one model (an index) are only comparable with queries
 * encoded by a model of the same fingerprint. Never fails; reads the whole weight arena
 * (about 30 ms per 100 MB). */
SEMB_API void semb_model_fingerprint(const semb_model *model, char out[SEMB_FINGERPRINT_SIZE]);

/* --- tokenizing and encoding ---------------------------------------------------------- */

/* Tokenizes one UTF-8 text exactly as the model's Hugging Face tokenizer does, special
 * tokens added and truncation to the model's max sequence length applied.
 * On success *ids is a malloc'd array the caller frees, *count its length.
 * Fails with SEMB_ERR_INPUT on invalid UTF-8. */
SEMB_API semb_status semb_tokenize(const semb_model *model, const char *text, size_t length,
                                   int32_t **ids, size_t *count, semb_error *err);

/* The number of tokens text[0..length) has before truncation, special tokens included, into
 * *count: a caller compares it with semb_model_max_seq_length to tell the user a text will be
 * cut. Fails with SEMB_ERR_INPUT on invalid UTF-8, SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_count_tokens(const semb_model *model, const char *text, size_t length,
                                       size_t *count, semb_error *err);

/* The arithmetic of the encoder's matrix products (`--precision` of semb encode and train).
 * Not the storage precision of an index (semb_storage_precision). */
typedef enum semb_compute_precision {
    SEMB_COMPUTE_FP32 = 0, /* float32 throughout: the default */
    /* bf16 mixed precision, as PyTorch's autocast(bfloat16) on CPU: the linear layers
     * (forward and both backward products) round their inputs to bfloat16 and accumulate in
     * float32; attention, softmax, LayerNorm, activations, pooling, the loss and the
     * optimizer stay float32, and the weights are kept in float32 (bfloat16 copies are made
     * per optimizer step or encode call). Hardware bf16 (AVX512-BF16 or AMX, through oneDNN)
     * where the CPU has it; emulated elsewhere: the same results, no faster than float32. */
    SEMB_COMPUTE_BF16,
    /* Encoding only: dynamic int8 quantization of the linear layers, as ONNX Runtime's
     * quantize_dynamic: each weight row (output channel) to 7-bit integers with its own scale,
     * made once per model (and again after the weights change); each input row to 8 bits
     * with its own scale and zero point at every product; exact integer sums, float32
     * dequantization with the bias and activation fused. Attention, softmax, LayerNorm and
     * pooling stay float32. AVX2 integer kernels (scalar elsewhere: same results, slow).
     * Embeddings move by about 1e-3 in cosine from float32 (bench/README.md has the STS
     * change); training refuses it. */
    SEMB_COMPUTE_INT8
} semb_compute_precision;

/* "fp32", "bf16" or "int8"; "?" for a value outside the enum. */
SEMB_API const char *semb_compute_precision_name(semb_compute_precision precision);

/* Parses "fp32", "bf16" or "int8" (also "float32", "bfloat16"); SEMB_ERR_INVALID_ARG naming
 * the value and the accepted ones otherwise. */
SEMB_API semb_status semb_compute_precision_from_name(const char *name, semb_compute_precision *out,
                                                      semb_error *err);

typedef struct semb_encode_options {
    int batch_size; /* sentences per forward pass; <= 0 means 32 */
    int normalize;  /* non-zero: L2-normalise even if the model has no Normalize module */
    /* Text put before every input, as sentence-transformers' encode(prompt=...): "" for none;
     * NULL (and opts NULL) for the model's default prompt (semb_model_default_prompt_name),
     * none when it has none, as encode() without a prompt. When the model's Pooling says
     * include_prompt false, the prompt's tokens
     * (counted as sentence-transformers counts them: the prompt tokenized alone, less its
     * final special token) are left out of mean/max pooling. See semb_model_prompt. */
    const char *prompt;
    /* SEMB_COMPUTE_FP32 (0, the default), SEMB_COMPUTE_BF16 or SEMB_COMPUTE_INT8: the linear
     * weights are then copied to bfloat16 (quantized to int8) on the first such call and
     * again after they change (training). bf16 embeddings measured within cosine 0.999999 of
     * float32 ones. Another value: SEMB_ERR_INVALID_ARG. */
    semb_compute_precision precision;
} semb_encode_options;

/* Batch size 32, no forced normalisation, the model's default prompt, float32. */
SEMB_API semb_encode_options semb_encode_options_default(void);

/* Encodes n UTF-8 texts into out[n * dimension] (row-major float32, caller-owned).
 * lengths may be NULL (then texts are NUL-terminated). opts may be NULL for defaults.
 * Results do not depend on batch size or order: sentences are sorted by length
 * internally and written back in input order. On failure the message names the
 * index of the offending text. */
SEMB_API semb_status semb_encode(semb_model *model, const char *const *texts,
                                 const size_t *lengths, size_t n, float *out,
                                 const semb_encode_options *opts, semb_error *err);

/* --- new models ----------------------------------------------------------------------- */

typedef struct semb_init_options {
    const char *arch;        /* "bert", "distilbert" or "mpnet" */
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int max_position_embeddings; /* <= 0: 512 (514 for mpnet) */
    int max_seq_length;          /* <= 0: 256, or the position limit when that is less;
                                    else 3 to the position limit (SEMB_ERR_INVALID_ARG) */
    const char *vocab_path;  /* vocab.txt or tokenizer.json (WordPiece) */
    const char *pooling;     /* NULL: "mean" */
    int normalize;           /* non-zero: add a Normalize module */
    uint64_t seed;
} semb_init_options;

/* The MiniLM-L6 shape (bert, hidden 384, 6 layers, 12 heads, FFN 1536, 512 positions, max
 * sequence length 0: 256), mean pooling, normalized, seed 42; vocab_path is NULL (required). */
SEMB_API semb_init_options semb_init_options_default(void);

/* Writes a new sentence-transformers model folder at output_dir with randomly initialised
 * weights (normal(0, 0.02), LayerNorm 1/0, as Hugging Face initialises), the tokenizer files
 * copied in, and every config file sentence-transformers needs to load it. The folder is
 * assembled under a temporary name and renamed into place, so a failure leaves nothing;
 * output_dir must not exist yet. */
SEMB_API semb_status semb_model_init(const char *output_dir, const semb_init_options *opts,
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
    int batch_size;             /* anchors per step, >= 2 (the loss's negatives) */
    int steps;                  /* optimizer steps */
    double epochs;              /* > 0: steps = ceil(epochs * lines of all files / batch_size),
                                   with "lines" from the data config or counted up front */
    int max_seq_length;         /* > 0: truncate training texts to this many tokens instead of
                                   the model's max_seq_length (3 to its position limit, else
                                   SEMB_ERR_INVALID_ARG); the saved model keeps its own */
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
    const char *log_path;       /* JSONL, one object per log interval, or NULL; on resume cut
                                   back to the checkpoint's step, then appended to; a failed
                                   write stops the run */
    int log_every;              /* steps per log line (1) */
    const char *dump_gradients_path; /* first step's gradients (before clipping), or NULL */
    int progress;               /* non-zero: a progress display on stderr (a redrawn line on a
                                   terminal, plain lines otherwise) */
    /* Where a run's messages go (data warnings naming FILE:LINE, evaluation results): one
     * line each, no newline, valid during the call. NULL: stderr, as "semb train: MESSAGE". */
    void (*on_message)(void *user, const char *message);
    void *message_user;
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
    semb_compute_precision precision; /* of the training forward and backward passes
                                   (SEMB_COMPUTE_FP32 default); kept in checkpoints: a resumed
                                   run must use the same. Evaluation during training is fp32 */
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
    double data_seconds;        /* the part of this run's steps spent getting batches: reading
                                   the files, sampling and tokenizing (done inside each step) */
} semb_train_result;

/* Defaults as sentence-transformers and the 1B-pairs recipe use them. */
SEMB_API semb_train_options semb_train_options_default(void);

/* Trains with MultipleNegativesRankingLoss (in-batch negatives, optional hard negatives),
 * AdamW and the chosen schedule, then saves the model as a sentence-transformers folder in
 * the format it was loaded from, with a model card (README.md, training_loss.svg), at the top
 * of output_dir, beside its checkpoint-<step> folders; every save is assembled under a
 * temporary name and renamed, so a failure or a kill never leaves a partial model. The options
 * are checked, and output_dir with them (missing or empty unless resuming), before any
 * training. Errors (SEMB_ERR_INVALID_ARG for options, SEMB_ERR_IO / SEMB_ERR_FORMAT naming
 * the file and line) go to err; a data file
 * with skipped lines reports them on stderr and goes on. The output folder is locked for the
 * whole run: while another run uses it, SEMB_ERR_IO naming it. On success *result (may be
 * NULL, caller-owned) says what the run did. */
SEMB_API semb_status semb_train_run(const semb_train_options *opts, semb_train_result *result,
                                    semb_error *err);

/* --- ranking candidates for a query (asymmetric QA) ------------------------------------ */

/* The prompt sentence-transformers' encode_query applies: the model's "query" prompt, or NULL
 * when it has none. Owned by the model. */
SEMB_API const char *semb_model_query_prompt(const semb_model *model);

/* The prompt sentence-transformers' encode_document applies: the model's "document" prompt,
 * else "passage", else "corpus", or NULL when it has none of them. Owned by the model. */
SEMB_API const char *semb_model_document_prompt(const semb_model *model);

typedef struct semb_rank_options {
    /* prepended to each query / candidate; "": none; NULL: the model's default prompt if it
     * has one (semb_encode_options.prompt), as encode() without a prompt */
    const char *query_prompt;
    const char *document_prompt;
    size_t top_k;                /* hits kept per query; 0 or more than n_candidates: all */
    int batch_size;              /* sentences per forward pass; <= 0 means 32 */
    semb_compute_precision precision; /* the encoder's arithmetic (semb_encode_options) */
} semb_rank_options;

/* The model's default prompt for both, all hits, batch size 32, float32. */
SEMB_API semb_rank_options semb_rank_options_default(void);

/* Ranks n_candidates NUL-terminated UTF-8 texts for each of n_queries queries by the model's
 * similarity function (semb_model_similarity; cosine on L2-normalised embeddings), the query
 * and the candidates each with their own prompt (opts may be NULL: no prompts, all hits).
 * Writes k = min(top_k, n_candidates) hits per query, best first, ties by candidate order
 * (lower index first), a NaN score last: indices[q * k + r] is the candidate at rank r + 1
 * of query q, scores[q * k + r] its score (both caller-owned, n_queries * k long). The
 * candidates are encoded once and held (n_candidates x dimension floats); queries go in
 * chunks. Errors: SEMB_ERR_INVALID_ARG for NULL arguments or no queries or candidates,
 * semb_encode's errors naming "query I" or "candidate I" (0-based), SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_rank(semb_model *model, const char *const *queries, size_t n_queries,
                               const char *const *candidates, size_t n_candidates,
                               const semb_rank_options *opts, size_t *indices, float *scores,
                               semb_error *err);

/* --- gender bias ----------------------------------------------------------------------- */

/* The lists a bias evaluation runs over. Occupations are noun phrases ("nurse"); each
 * template is an anchor naming the occupation without gender and a proposition differing
 * between the genders only by pronoun placeholders:
 *   {occupation}    the occupation as written          "The {occupation} left."
 *   {a_occupation}  with "a" or "an" by its first sound  "{a_occupation} left." -> "An engineer left."
 *   {pronoun}       she / he        {object}     her / him
 *   {possessive}    her / his       {reflexive}  herself / himself
 * A placeholder at the start of a sentence (the text's start, or after ". ", "! ", "? ") is
 * capitalised. Anchors hold {occupation} or {a_occupation} and neither a pronoun placeholder
 * nor a gendered pronoun (he, she, him, her, his, hers, himself, herself); propositions hold
 * at least one pronoun placeholder and may name the occupation too. */
typedef struct semb_bias_template {
    char *anchor;
    char *proposition;
} semb_bias_template;

typedef struct semb_bias_lists {
    char **occupations;
    size_t n_occupations;
    semb_bias_template *templates;
    size_t n_templates;
} semb_bias_lists;

/* The built-in lists, the text of the project's data/bias/occupations.txt and
 * data/bias/templates.tsv (compiled in, so no data folder is needed). Static storage. */
SEMB_API const char *semb_bias_default_occupations(void);
SEMB_API const char *semb_bias_default_templates(void);

/* Reads the lists from files, either path NULL for the built-in one. Occupations: one per
 * line, surrounding spaces trimmed. Templates: ANCHOR<TAB>PROPOSITION per line. In both,
 * blank lines and lines starting with '#' are skipped. Errors (SEMB_ERR_FORMAT) name
 * FILE:LINE: invalid UTF-8, a missing or second TAB, an anchor without an occupation or
 * with a pronoun, a proposition without a pronoun placeholder, an unknown or unclosed
 * placeholder, a duplicate line, a file with no entries; SEMB_ERR_IO when a file cannot be
 * read. On success *out owns the lists (semb_bias_lists_free); on failure it is empty. */
SEMB_API semb_status semb_bias_lists_load(const char *occupations_path, const char *templates_path,
                                          semb_bias_lists *out, semb_error *err);

SEMB_API void semb_bias_lists_free(semb_bias_lists *lists);

/* How often a set of cases is closer to the female or to the male proposition. Each case
 * scores the anchor against both propositions; a tie (equal scores) counts as neither. */
typedef struct semb_bias_counts {
    size_t cases;
    size_t female_closer;  /* score(anchor, female) > score(anchor, male) */
    size_t male_closer;
    size_t ties;
    double mean_difference; /* mean of score(anchor, female) - score(anchor, male) */
} semb_bias_counts;

typedef struct semb_bias_result {
    semb_bias_counts overall;
    semb_bias_counts *occupations; /* n_occupations, in list order */
    semb_bias_counts *templates;   /* n_templates, in list order */
    size_t n_occupations, n_templates;
    /* The scores of every case, occupation-major: case o * n_templates + t. */
    double *female_scores, *male_scores;
} semb_bias_result;

/* Builds every (occupation, template) case, encodes the anchor and both propositions (opts
 * as for semb_encode, NULL for defaults), scores them with the model's similarity function
 * (in double precision) and counts. On success *out owns its arrays (semb_bias_result_free).
 * Errors: SEMB_ERR_INVALID_ARG for NULL arguments or empty lists, semb_encode's errors,
 * SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_bias_evaluate(semb_model *model, const semb_bias_lists *lists,
                                        const semb_encode_options *opts, semb_bias_result *out,
                                        semb_error *err);

SEMB_API void semb_bias_result_free(semb_bias_result *result);
/* --- clustering --- */

/* k-means (scikit-learn's KMeans with init="k-means++", algorithm="lloyd"). */
typedef struct semb_kmeans_options {
    int k;           /* clusters, 1 <= k <= number of points */
    int n_init;      /* restarts, the lowest inertia kept (1, as scikit-learn's "auto") */
    int max_iter;    /* Lloyd iterations per restart (300) */
    double tol;      /* convergence: total squared centroid shift <= tol x the mean
                        per-dimension variance of the data (1e-4) */
    uint64_t seed;   /* the same seed gives the same clustering (0) */
} semb_kmeans_options;

/* The defaults above for k clusters. */
SEMB_API semb_kmeans_options semb_kmeans_options_default(int k);

/* Clusters embeddings[n, dim] (row-major) by squared Euclidean distance: greedy k-means++
 * initialisation, Lloyd iterations as blocked matrix products, empty clusters re-seeded from
 * the point farthest from its centroid, n_init restarts. For a cosine model pass L2-normalised
 * embeddings. Writes labels[n] (each in [0, k), caller-owned); centroids[k * dim] and inertia
 * (sum of squared distances to the centroids) when not NULL. Fails with SEMB_ERR_INVALID_ARG
 * (k <= 0, k > n, bad options, a non-finite value naming the row) or SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_kmeans(const float *embeddings, size_t n, int dim,
                                 const semb_kmeans_options *opts, int32_t *labels, float *centroids,
                                 double *inertia, semb_error *err);

/* Communities found by semb_community_detection: community c is
 * members[offsets[c] .. offsets[c + 1]), row indices of the embeddings. */
typedef struct semb_communities {
    size_t count;
    size_t *offsets;  /* count + 1 entries */
    size_t *members;
} semb_communities;

/* sentence-transformers' util.community_detection (fast clustering) on embeddings[n, dim],
 * by cosine similarity (rows are normalised internally; the input is not modified). Point i
 * is a candidate when at least min(min_size, n) points (itself included) score >= threshold
 * with it; its candidate community is all of them: i first, then by decreasing similarity
 * (ties: lower index first). Candidates are taken largest first (ties: lower i first); each
 * keeps the members no earlier community took and is kept if min(min_size, n) remain.
 * Communities come out largest first (ties: in the order they were found). Rows are scored in
 * blocks of batch_size (<= 0: 1024), so memory is O(batch_size x n). On success *out owns its
 * arrays (semb_communities_free). Fails with SEMB_ERR_INVALID_ARG (n == 0, threshold outside
 * [-1, 1], min_size < 1, a non-finite value) or SEMB_ERR_NOMEM; *out is then empty. */
SEMB_API semb_status semb_community_detection(const float *embeddings, size_t n, int dim,
                                              double threshold, int min_size, int batch_size,
                                              semb_communities *out, semb_error *err);

SEMB_API void semb_communities_free(semb_communities *communities);

/* How well a clustering matches reference labels, as scikit-learn.metrics computes them. */
typedef struct semb_cluster_scores {
    double homogeneity;    /* 1 - H(class | cluster) / H(class); 1 when there is one class */
    double completeness;   /* 1 - H(cluster | class) / H(cluster); 1 when one cluster */
    double v_measure;      /* their harmonic mean (beta = 1); 0 when both are 0 */
    double adjusted_rand;  /* adjusted Rand index; 1 for identical partitions */
    size_t classes, clusters;
} semb_cluster_scores;

/* Scores clusters[n] against classes[n] (any int32 values; only equality matters). n == 0
 * gives 1 for all, as scikit-learn. Fails with SEMB_ERR_NOMEM only. */
SEMB_API semb_status semb_cluster_scores_compute(const int32_t *classes, const int32_t *clusters,
                                                 size_t n, semb_cluster_scores *out,
                                                 semb_error *err);

/* --- similarity and STS ---------------------------------------------------------------- */

/* out[i * n_b + j] = the similarity of a[i] and b[j] (row-major [n_a, dim] and [n_b, dim]
 * float32 embeddings, not modified; out caller-owned [n_a, n_b]) under sim, higher = more
 * similar: sentence-transformers' similarity() of a model with that similarity_fn_name
 * (cosine: 0 for a zero row; euclidean, manhattan: negated distances). Blocked matrix
 * products for cosine, dot and euclidean. Fails with SEMB_ERR_INVALID_ARG for NULL arrays,
 * dim < 1 or more than INT_MAX rows on a side, SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_similarity_scores(semb_similarity sim, const float *a, size_t n_a,
                                            const float *b, size_t n_b, int dim, float *out,
                                            semb_error *err);

/* STS correlations as sentence-transformers' EmbeddingSimilarityEvaluator reports them. */
typedef struct semb_sts_metrics {
    double spearman; /* in [-1, 1]; NaN when undefined (constant gold or predicted scores) */
    double pearson;
    size_t pairs;
    /* the same under each similarity function, indexed by semb_similarity (spearman_cosine,
     * spearman_dot, ... of EmbeddingSimilarityEvaluator); the two above are the model's own */
    double spearman_by[4], pearson_by[4];
} semb_sts_metrics;

/* Embeds sentence1[i] and sentence2[i] (NUL-terminated UTF-8) for i < n, scores each pair by
 * the model's similarity function and correlates the scores with gold[i]. opts may be NULL
 * (batch size 32; opts->prompt as semb_encode: NULL gives the model's default prompt, as
 * sentence-transformers' encode() inside EmbeddingSimilarityEvaluator). Fails with SEMB_ERR_INPUT when n < 2, with
 * semb_encode's errors naming the pair ("pair:7: sentence2: ...", 1-based), SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_eval_sts(semb_model *model, const char *const *sentence1,
                                   const char *const *sentence2, const double *gold, size_t n,
                                   const semb_encode_options *opts, semb_sts_metrics *out,
                                   semb_error *err);

/* --- evaluation: retrieval, triplets, paraphrase mining --------------------------------- */

/* Options shared by the evaluators. Zero-initialised means the defaults. */
typedef struct semb_eval_options {
    int batch_size;              /* sentences per forward pass; <= 0: 32 */
    /* retrieval: prepended to every query / document (e.g. "query: "); "": none; NULL: the
     * model's default prompt if any (the CLI defaults to the model's "query" / "document"
     * prompts) */
    const char *query_prompt;
    const char *document_prompt;
    size_t chunk_size;           /* texts embedded at once, which bounds memory; 0: 16384 */
    semb_compute_precision precision; /* the encoder's arithmetic (semb_encode_options) */
} semb_eval_options;

/* Batch size 32, the model's default prompt, chunks of 16384 texts, float32. */
SEMB_API semb_eval_options semb_eval_options_default(void);

/* Retrieval metrics as sentence-transformers' InformationRetrievalEvaluator computes them,
 * means over queries, all fractions in [0, 1]. With rel_k the relevant documents among a
 * query's top k and R its number of relevant documents: accuracy@k = [rel_k > 0],
 * precision@k = rel_k / k, recall@k = rel_k / R, MRR@10 = 1 / rank of the first relevant
 * document in the top 10 (0 if none), NDCG@10 = DCG of the top 10 (binary gains, 1 / log2(rank
 * + 1)) over the DCG of min(R, 10) relevant documents ranked first, MAP@100 = the sum of the
 * precisions at the ranks of the relevant documents in the top 100, over min(R, 100). Ties in
 * score: an irrelevant document ranks before a relevant one, then the lower index first, so
 * that a model scoring everything alike earns nothing from the order of the corpus. */
#define SEMB_RETRIEVAL_CUTOFFS 4 /* accuracy, precision and recall at 1, 3, 5 and 10 */
typedef struct semb_retrieval_metrics {
    double mrr_at_10, ndcg_at_10, map_at_100;
    double accuracy_at[SEMB_RETRIEVAL_CUTOFFS];  /* @1, @3, @5, @10 */
    double precision_at[SEMB_RETRIEVAL_CUTOFFS];
    double recall_at[SEMB_RETRIEVAL_CUTOFFS];
    size_t queries, documents;
} semb_retrieval_metrics;

/* The k of each entry of the @-arrays above: 1, 3, 5, 10. */
SEMB_API int semb_retrieval_cutoff(int index);

/* Ranks documents[0..n_documents) for every query under the model's similarity function
 * (semb_model_similarity) and fills *out. Query q's relevant documents are
 * relevant[relevant_offsets[q] .. relevant_offsets[q + 1]): ascending, distinct document
 * indices, at least one per query (queries without any are the caller's to drop, as BEIR
 * does). Exact: every score is computed; the corpus is embedded chunk by chunk (opts->chunk_size
 * documents), so memory is the query embeddings, one chunk and the 100 best documents per
 * query. Fails with SEMB_ERR_INVALID_ARG for relevance lists breaking that contract, and with
 * the errors of semb_encode prefixed by "retrieval queries: " or "retrieval corpus: ". */
SEMB_API semb_status semb_eval_retrieval(semb_model *model, const char *const *queries,
                                         size_t n_queries, const char *const *documents,
                                         size_t n_documents, const size_t *relevant_offsets,
                                         const size_t *relevant, const semb_eval_options *opts,
                                         semb_retrieval_metrics *out, semb_error *err);

/* Triplet accuracy as sentence-transformers' TripletEvaluator: the share of triplets whose
 * anchor is strictly more similar to the positive than to the negative (a tie counts as
 * wrong), under the model's similarity function and under each of the four. */
typedef struct semb_triplet_metrics {
    double accuracy;                  /* under semb_model_similarity */
    double accuracy_by_function[4];   /* indexed by semb_similarity */
    size_t triplets;
} semb_triplet_metrics;

/* Embeds the n triplets (opts->chunk_size at a time) and fills *out. Fails with
 * SEMB_ERR_INPUT when n is 0, and with the errors of semb_encode. */
SEMB_API semb_status semb_eval_triplets(semb_model *model, const char *const *anchors,
                                        const char *const *positives, const char *const *negatives,
                                        size_t n, const semb_eval_options *opts,
                                        semb_triplet_metrics *out, semb_error *err);

/* One mined pair: sentences i < j and their similarity. */
typedef struct semb_scored_pair {
    double score;
    size_t i, j;
} semb_scored_pair;

typedef struct semb_paraphrase_options {
    size_t top_k;             /* neighbours kept per sentence; 0: 100 */
    size_t max_pairs;         /* pairs returned at most; 0: 500,000 */
    size_t query_chunk_size;  /* sentences ranked at once; 0: 1024 */
    size_t corpus_chunk_size; /* sentences scored against them at once; 0: 8192 */
} semb_paraphrase_options;

/* top_k 100, max_pairs 500,000, query chunks of 1024, corpus chunks of 8192. */
SEMB_API semb_paraphrase_options semb_paraphrase_options_default(void);

/* Paraphrase mining, sentence-transformers' util.paraphrase_mining_embeddings: every sentence
 * keeps its top_k most similar other sentences, and the union of those pairs, each once as
 * (i < j), is returned best first, at most max_pairs of them. embeddings is [n, dim] row-major,
 * scored under sim (cosine normalises a copy). The order is total: score descending, then i,
 * then j ascending; a sentence's neighbours are chosen in the same order (among equal scores
 * the lower index). Scores are exact (accumulated in double, the same from either side), so
 * the result depends on neither the chunk sizes nor the thread count; memory is one
 * query chunk x corpus chunk tile, top_k neighbours per query of a chunk and 2 x max_pairs
 * candidates. On success *pairs (malloc'd, free() it) holds *n_pairs entries (0 when n < 2).
 * Fails with SEMB_ERR_INVALID_ARG for dim <= 0 and SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_paraphrase_mine_embeddings(const float *embeddings, size_t n, int dim,
                                                     semb_similarity sim,
                                                     const semb_paraphrase_options *opts,
                                                     semb_scored_pair **pairs, size_t *n_pairs,
                                                     semb_error *err);

/* Embeds texts[0..n) with model (eval_opts->batch_size) and mines them as above under the
 * model's similarity function. Errors are those above and of semb_encode. */
SEMB_API semb_status semb_paraphrase_mine(semb_model *model, const char *const *texts, size_t n,
                                          const semb_eval_options *eval_opts,
                                          const semb_paraphrase_options *opts,
                                          semb_scored_pair **pairs, size_t *n_pairs,
                                          semb_error *err);

/* Paraphrase-mining evaluation as sentence-transformers' ParaphraseMiningEvaluator: walking
 * the mined pairs best first, each gold duplicate met adds the precision at its rank; average
 * precision is that sum over all gold duplicates (found or not). The best F1 over those ranks
 * gives precision, recall and the threshold, the midpoint of that pair's score and the next
 * one's (the same pair's when it is the last). Among pairs of equal score, non-duplicates are
 * walked first. */
typedef struct semb_paraphrase_metrics {
    double average_precision, f1, precision, recall, threshold;
    size_t sentences, duplicates, candidates; /* gold duplicate pairs; pairs mined */
} semb_paraphrase_metrics;

/* Mines texts[0..n) and scores the result against the gold duplicates (dup_a[k], dup_b[k]),
 * k < n_duplicates, indices into texts (order within a pair free; repeats merged; a pair of a
 * sentence with itself is SEMB_ERR_INVALID_ARG). add_transitive_closure: a~b and b~c make a~c.
 * Fails with SEMB_ERR_INPUT when there is no duplicate pair, and with the errors of
 * semb_paraphrase_mine. */
SEMB_API semb_status semb_eval_paraphrase_mining(semb_model *model, const char *const *texts,
                                                 size_t n, const size_t *dup_a, const size_t *dup_b,
                                                 size_t n_duplicates, int add_transitive_closure,
                                                 const semb_eval_options *eval_opts,
                                                 const semb_paraphrase_options *opts,
                                                 semb_paraphrase_metrics *out, semb_error *err);

/* --- search index --------------------------------------------------------------------- */

/* How an index stores its embeddings (sentence-transformers' quantize_embeddings):
 * float32 (4 bytes a dimension), int8 (1 byte: per-dimension ranges from calibration
 * embeddings, 255 buckets) or binary (1 bit: the sign, packed 8 per byte). */
typedef enum semb_storage_precision {
    SEMB_STORAGE_FLOAT32,
    SEMB_STORAGE_INT8,
    SEMB_STORAGE_BINARY
} semb_storage_precision;

/* "float32", "int8", "binary". */
SEMB_API const char *semb_storage_precision_name(semb_storage_precision precision);

/* Parses a name semb_storage_precision_name gives; SEMB_ERR_INVALID_ARG naming it otherwise. */
SEMB_API semb_status semb_storage_precision_from_name(const char *name, semb_storage_precision *out,
                                                       semb_error *err);

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
    semb_storage_precision precision;
    const char *calibration_path;  /* int8: a text file (one text a line) whose embeddings
                                      give the ranges; NULL: the corpus itself */
    const char *document_prompt;   /* prepended to each document; NULL: the model's "document"
                                      prompt, else "passage", else "corpus", else its default
                                      prompt, else none */
    const char *corpus_name;       /* how messages and the index's meta name the corpus file
                                      (e.g. "<stdin>" for a spooled copy); NULL: corpus_path */
    int batch_size;                /* sentences per forward pass; <= 0: 32 */
    size_t chunk_size;             /* documents read and encoded at a time; 0: 4096 */
    const char *model_name;        /* recorded for messages; NULL: "model" */
    /* An HNSW graph (approximate search, hnswlib) over the stored embeddings, as an "hnsw"
       section of the same file: built while the chunks are written, over the rows as search
       reads them back (float32 as stored, int8 dequantized, binary as +1/-1 vectors), so
       approximate scores equal exact ones. Not for manhattan models (SEMB_ERR_UNSUPPORTED).
       Building holds the float vectors of the whole corpus in memory (4 * dimension bytes a
       document, whatever the precision) plus the links. */
    int hnsw;                      /* nonzero: build the graph */
    int hnsw_m;                    /* links per element and level (2M on level 0), 2..2048;
                                      0: 16 */
    int hnsw_ef_construction;      /* candidate list while linking, >= 1; 0: 200 */
    /* Called after each chunk (may be NULL): documents embedded so far of total. */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
} semb_index_build_options;

/* Defaults: text input, float32, the model's document prompt, batch 32, chunks of 4096. */
SEMB_API semb_index_build_options semb_index_build_options_default(void);

typedef struct semb_index_build_result {
    size_t documents;
    size_t truncated;            /* documents longer than the model's max sequence length */
    size_t first_truncated_line; /* 1-based corpus line (or position + 1) of the first one */
    uint64_t file_bytes;
    const char *document_prompt; /* the prompt used: opts', the model's, or ""; static or
                                    owned by the model or opts */
    uint64_t hnsw_bytes;         /* the graph's section; 0 without one */
    double hnsw_seconds;         /* wall time spent linking the graph */
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
 * SEMB_ERR_INVALID_ARG (also hnsw_m or hnsw_ef_construction out of range),
 * SEMB_ERR_UNSUPPORTED (hnsw with a manhattan model, before any encoding), SEMB_ERR_IO,
 * SEMB_ERR_NOMEM, and semb_encode's. */
SEMB_API semb_status semb_index_build(semb_model *model, const semb_index_build_options *opts,
                                      const char *output_path, semb_index_build_result *result,
                                      semb_error *err);

typedef struct semb_index semb_index;

/* Opens an index file (memory-mapped, read-only) after validating it; a corrupt or
 * truncated file is SEMB_ERR_FORMAT naming the file and what is wrong. *out owns the
 * mapping; close it with semb_index_close. */
SEMB_API semb_status semb_index_open(const char *path, semb_index **out, semb_error *err);

/* Unmaps and frees. NULL is allowed. Hits' id and text pointers die with the index. */
SEMB_API void semb_index_close(semb_index *index);

SEMB_API size_t semb_index_count(const semb_index *index);
SEMB_API int semb_index_dimension(const semb_index *index);
SEMB_API semb_storage_precision semb_index_precision(const semb_index *index);
SEMB_API semb_similarity semb_index_similarity(const semb_index *index);
/* The model name recorded at build time and its fingerprint; owned by the index. */
SEMB_API const char *semb_index_model_name(const semb_index *index);
SEMB_API const char *semb_index_fingerprint(const semb_index *index);

/* SEMB_OK when model computes the embeddings the index holds (same fingerprint); otherwise
 * SEMB_ERR_INVALID_ARG with a message naming both models and their fingerprints. */
SEMB_API semb_status semb_index_check_model(const semb_index *index, const semb_model *model,
                                            const char *model_name, semb_error *err);

typedef struct semb_search_options {
    int exact;              /* score every document: no HNSW graph, and for binary indexes
                               no Hamming shortlist (the float query against every row) */
    int rescore_multiplier; /* binary: the Hamming shortlist holds multiplier * k documents
                               (ST's rescore_multiplier); <= 0: 4 */
    const char *query_prompt; /* prepended to each query; "": none; NULL: the model's "query"
                                 prompt, or where it has none its default prompt as
                                 semb_encode applies it (semb_encode_options.prompt) */
    size_t ef;              /* with a graph: the candidate list of the approximate search
                               (recall against speed); 0: max(k, 100); below k: k */
} semb_search_options;

/* Approximate where the index has a graph, rescore multiplier 4, the model's query prompt,
 * ef max(k, 100). */
SEMB_API semb_search_options semb_search_options_default(void);

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
 * query gets *per_query = min(k, documents) hits. An index with an HNSW graph is searched
 * approximately unless opts->exact (the graph is loaded by the first such search, see
 * semb_index_load_graph; the hits' scores are exact similarities, only the set may miss
 * some of the true top k); otherwise exact over the whole index: blocked matrix products
 * on OpenMP threads (semb_set_threads). Errors: SEMB_ERR_INVALID_ARG (k == 0),
 * SEMB_ERR_FORMAT (a corrupt graph, or one built for other embeddings), SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_index_search_embeddings(const semb_index *index, const float *queries,
                                                  size_t n, size_t k,
                                                  const semb_search_options *opts,
                                                  semb_search_hit *hits, size_t *per_query,
                                                  semb_error *err);

/* What an index's HNSW graph was built with (present 0: the index has none). */
typedef struct semb_index_graph {
    int present;
    int m, ef_construction;
    uint64_t seed;
    uint64_t bytes; /* the "hnsw" section */
} semb_index_graph;

/* Fills *out from the index's header and meta; does not load the graph. */
SEMB_API void semb_index_graph_info(const semb_index *index, semb_index_graph *out);

/* Loads the index's HNSW graph now (a server at start-up; otherwise the first approximate
 * search does it), validating every link and that it was built over the embeddings this
 * file holds; afterwards searches share it (loading is serialized by a lock). The graph's
 * copy of the vectors takes 4 * dimension bytes a document in memory, whatever the
 * precision. SEMB_OK at once when there is no graph or it is loaded. Errors:
 * SEMB_ERR_FORMAT naming the file (corrupt or truncated graph, other embeddings), repeated
 * by every later call; SEMB_ERR_NOMEM. */
SEMB_API semb_status semb_index_load_graph(semb_index *index, semb_error *err);

/* Encodes n query texts with model (after semb_index_check_model passes; the query prompt
 * prepended; texts over the max sequence length are truncated: compare semb_count_tokens
 * to tell the user) and searches them as semb_index_search_embeddings does. */
SEMB_API semb_status semb_index_search(const semb_index *index, semb_model *model,
                                       const char *const *queries, size_t n, size_t k,
                                       const semb_search_options *opts, semb_search_hit *hits,
                                       size_t *per_query, semb_error *err);

#ifdef __cplusplus
}
#endif
#endif
