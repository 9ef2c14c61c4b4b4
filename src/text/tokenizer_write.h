/* Writing the tokenizer files of a model folder the way Hugging Face writes them, so that
 * both semb and transformers / tokenizers load them: vocab.txt, tokenizer.json (a BERT
 * WordPiece tokenizer), tokenizer_config.json and special_tokens_map.json. */
#ifndef SEMB_TEXT_TOKENIZER_WRITE_H
#define SEMB_TEXT_TOKENIZER_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* The special tokens by role; bos and eos may be NULL (BERT has none). */
typedef struct tokenizer_special_tokens {
    const char *cls, *sep, *pad, *unk, *mask;
    const char *bos, *eos;
} tokenizer_special_tokens;

/* BERT's: [CLS] [SEP] [PAD] [UNK] [MASK]. */
extern const tokenizer_special_tokens tokenizer_bert_specials;

/* Writes dir/tokenizer_config.json (tokenizer_class, do_lower_case, tokenize_chinese_chars,
 * model_max_length, the special tokens) and dir/special_tokens_map.json, each atomically.
 * Errors name the file (SEMB_ERR_IO, SEMB_ERR_NOMEM). */
semb_status tokenizer_write_config_files(const char *dir, const char *tokenizer_class,
                                         bool lowercase, int model_max_length,
                                         const tokenizer_special_tokens *specials,
                                         semb_error *err);

/* Writes path atomically as vocab.txt: tokens[id] on line id + 1. SEMB_ERR_INVALID_ARG when
 * a token is empty, not UTF-8 or holds a line break (it could not be read back). */
semb_status tokenizer_write_vocab_txt(const char *path, const char *const *tokens, size_t count,
                                      semb_error *err);

/* Writes path atomically as the tokenizer.json of a BERT WordPiece tokenizer over tokens[id]:
 * BertNormalizer (lowercase and accent stripping together, as BertWordPieceTokenizer),
 * BertPreTokenizer, [CLS] A [SEP] / [CLS] A [SEP] B [SEP] TemplateProcessing, WordPiece
 * decoder and model ("##", max_input_chars_per_word 100) and the five specials as added
 * tokens. bos/eos are ignored. SEMB_ERR_INVALID_ARG when a special token is missing from
 * tokens, or a token is empty, repeated or not UTF-8. */
semb_status tokenizer_write_wordpiece_json(const char *path, const char *const *tokens,
                                           size_t count, bool lowercase,
                                           const tokenizer_special_tokens *specials,
                                           semb_error *err);

/* Creates the folder dir with vocab.txt, tokenizer.json, tokenizer_config.json
 * (BertTokenizer) and special_tokens_map.json for tokens[id]. The folder is assembled under
 * a temporary sibling name and renamed into place, so dir either appears complete or not
 * at all. Errors: SEMB_ERR_IO when dir already exists (it is never overwritten) or cannot
 * be created; those of the writers above. */
semb_status tokenizer_write_wordpiece_folder(const char *dir, const char *const *tokens,
                                             size_t count, bool lowercase,
                                             int model_max_length,
                                             const tokenizer_special_tokens *specials,
                                             semb_error *err);

#endif
