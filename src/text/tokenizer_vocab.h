/* The vocab.txt route shared by tokenizer_load_vocab and tokenizer_load_dir (internal). */
#ifndef SEMB_TEXT_TOKENIZER_VOCAB_H
#define SEMB_TEXT_TOKENIZER_VOCAB_H

#include "text/tokenizer_internal.h"

/* Builds a tokenizer from vocab_path with the normaliser settings and special-token strings
 * of opts (NULL strings: the BERT or RoBERTa-style defaults) and the given added tokens
 * (which should include the special tokens, with their flags). The cls and sep strings of
 * opts frame the sentence. *out owned by the caller. Errors: SEMB_ERR_IO for an unreadable
 * file; SEMB_ERR_FORMAT naming vocab_path for a line that is not UTF-8, or an unknown or
 * special token without an id. */
semb_status tokenizer_build_from_vocab(const char *vocab_path,
                                       const tokenizer_vocab_options *opts,
                                       const added_token_spec *added, size_t added_count,
                                       semb_tokenizer **out, semb_error *err);

#endif
