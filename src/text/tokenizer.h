/* Hugging Face `tokenizers` semantics for WordPiece models (BERT, DistilBERT, MPNet):
 * added/special tokens matched in the raw text, BertNormalizer, BertPreTokenizer,
 * WordPiece, then TemplateProcessing ([CLS] A [SEP]) or RobertaProcessing (<s> A </s>),
 * with right truncation that keeps room for the special tokens. */
#ifndef SEMB_TEXT_TOKENIZER_H
#define SEMB_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"

typedef struct semb_tokenizer semb_tokenizer;

/* A growable id buffer the caller keeps across calls, so encoding allocates nothing in
 * the steady state. Zero-initialise; release with token_buffer_free. The scratch fields
 * are the tokenizer's working space for the normalised text (not for callers). */
typedef struct token_buffer {
    int32_t *ids;
    size_t count, capacity;
    char *scratch;
    size_t scratch_capacity;
} token_buffer;

void token_buffer_free(token_buffer *buffer);

/* Loads the tokenizer of a model folder: tokenizer.json if present, else vocab.txt with
 * tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars, special
 * token strings, added_tokens_decoder) and special_tokens_map.json. model_type ("bert",
 * "distilbert", "mpnet", or NULL) picks the post-processor when only vocab.txt exists:
 * mpnet uses <s> A </s>, the others [CLS] A [SEP]. *out owned by caller (tokenizer_free).
 * Errors name the file and field (e.g. "dir/tokenizer.json: model.type: 'BPE' is not
 * supported (only WordPiece)"); invalid JSON gives its line and column. Supported in
 * tokenizer.json: WordPiece model, BertNormalizer (or none), BertPreTokenizer, and
 * TemplateProcessing / RobertaProcessing / BertProcessing (or none); its truncation and
 * padding sections are ignored (truncation is per call, see tokenizer_encode). */
semb_status tokenizer_load_dir(const char *dir, const char *model_type, semb_tokenizer **out,
                               semb_error *err);

/* Loads from one tokenizer.json file (as tokenizer_load_dir describes). */
semb_status tokenizer_load_json(const char *path, semb_tokenizer **out, semb_error *err);

/* Loads from a vocab.txt (one token per line, id = line number) with explicit settings;
 * the five special tokens become added tokens (with roberta_processing the mask token
 * takes the space before it, as MPNetTokenizer's does). */
typedef struct tokenizer_vocab_options {
    int lowercase;              /* BertNormalizer lowercase */
    int strip_accents;          /* -1: follow lowercase (HF default), 0 no, 1 yes */
    int tokenize_chinese_chars; /* 1 in every BERT tokenizer */
    int roberta_processing;     /* 1: <s> A </s> (MPNet); 0: [CLS] A [SEP] */
    const char *cls_token, *sep_token, *unk_token, *pad_token, *mask_token; /* NULL: defaults */
} tokenizer_vocab_options;
semb_status tokenizer_load_vocab(const char *vocab_path, const tokenizer_vocab_options *opts,
                                 semb_tokenizer **out, semb_error *err);

/* Whether the normalizer lowercases (what tokenizer_config.json's do_lower_case must say:
 * transformers rebuilds the normalizer from that flag when the two disagree). */
bool tokenizer_lowercases(const semb_tokenizer *tok);

void tokenizer_free(semb_tokenizer *tok);

/* Tokenizes text[0..length) into out (replacing its contents): special tokens added,
 * and when max_tokens > 0 the content is truncated on the right so that the result,
 * special tokens included, has at most max_tokens ids (as transformers'
 * truncation=True, max_length=max_tokens). Thread-safe for concurrent calls on one
 * tokenizer (each thread with its own buffer); allocates only to grow out. Errors:
 * SEMB_ERR_INPUT "text is not valid UTF-8 (at byte offset N)"; SEMB_ERR_INVALID_ARG when
 * max_tokens is below the number of special tokens (e.g. 1); SEMB_ERR_NOMEM. On error
 * out->count is 0. */
semb_status tokenizer_encode(const semb_tokenizer *tok, const char *text, size_t length,
                             size_t max_tokens, token_buffer *out, semb_error *err);

/* One more than the largest id the tokenizer can produce (vocabulary and added tokens). */
size_t tokenizer_vocab_size(const semb_tokenizer *tok);
/* The padding token's id (tokenizer.json padding.pad_id, else [PAD] or <pad>; the
 * pad_token setting for vocab.txt), or -1 when there is none. */
int32_t tokenizer_pad_id(const semb_tokenizer *tok);
/* Number of special tokens the post-processor adds around one sentence (2 for both). */
size_t tokenizer_num_special_tokens(const semb_tokenizer *tok);
/* The id of a token string in the vocabulary (or added tokens), -1 if absent. */
int32_t tokenizer_token_to_id(const semb_tokenizer *tok, const char *token);

#endif
