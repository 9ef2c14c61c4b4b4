/* The transformer encoder's shape and hyper-parameters, read from a Hugging Face
 * config.json (BERT/MiniLM, DistilBERT and MPNet spell them differently). */
#ifndef SEMB_MODEL_ENCODER_CONFIG_H
#define SEMB_MODEL_ENCODER_CONFIG_H

#include <stdbool.h>

#include "kernels/activation.h"
#include "semb.h"

typedef enum encoder_arch { ENCODER_BERT, ENCODER_DISTILBERT, ENCODER_MPNET } encoder_arch;

/* The most layers semb lays out (encoder_params' table is sized by it). */
#define ENCODER_MAX_LAYERS 64

/* The shortest usable sequence: [CLS], one token, [SEP]. With fewer every text encodes alike. */
#define ENCODER_MIN_SEQ_LENGTH 3

typedef struct encoder_config {
    encoder_arch arch;
    int vocab_size;
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int max_position_embeddings;
    int type_vocab_size; /* BERT only; 0 for the others */
    int pad_token_id;
    int relative_attention_num_buckets; /* MPNet only */
    float layer_norm_eps;
    float hidden_dropout;
    float attention_dropout;
    activation_kind activation;
} encoder_config;

/* Reads and validates config.json. Unknown model types and unsupported options
 * (e.g. position_embedding_type other than "absolute") give SEMB_ERR_UNSUPPORTED; missing
 * or mistyped fields SEMB_ERR_FORMAT; both name the file and field. */
semb_status encoder_config_load(const char *path, encoder_config *cfg, semb_error *err);

/* config.json's keys, as each architecture spells them (DistilBERT: "dim", "n_layers"...);
 * keys an architecture lacks are NULL. Static storage. */
typedef struct encoder_config_keys {
    const char *vocab, *hidden, *layers, *heads, *intermediate, *positions, *type_vocab,
        *buckets, *activation, *dropout, *attn_dropout;
} encoder_config_keys;
const encoder_config_keys *encoder_config_keys_for(encoder_arch arch);

/* Checks every size against a sane cap (so no product of sizes overflows size_t) and that
 * they are consistent (hidden divisible by heads, positions enough for
 * ENCODER_MIN_SEQ_LENGTH...). SEMB_ERR_FORMAT naming `source` (where the sizes came from) and
 * the config.json key. */
semb_status encoder_config_validate(const encoder_config *cfg, const char *source,
                                    semb_error *err);

/* Writes cfg as a config.json that transformers can load (atomically). */
semb_status encoder_config_save(const encoder_config *cfg, const char *path, semb_error *err);

/* "bert", "distilbert", "mpnet". */
const char *encoder_arch_name(encoder_arch arch);
/* Parses an architecture name; returns false if unknown. */
bool encoder_arch_from_name(const char *name, encoder_arch *out);

/* The longest sequence the position embeddings allow (MPNet's positions start after the
 * padding index, so it is max_position_embeddings - pad_token_id - 1 there). */
int encoder_config_position_limit(const encoder_config *cfg);

/* The one rule for a maximum sequence length, wherever it comes from: at least
 * ENCODER_MIN_SEQ_LENGTH and at most encoder_config_position_limit. Otherwise returns status
 * (SEMB_ERR_FORMAT for a file, SEMB_ERR_INVALID_ARG for an option) with a message naming
 * `source` and `key` (the file and its key; or NULL and the option), and config.json's
 * max_position_embeddings when value is above the limit. */
semb_status encoder_config_check_max_length(const encoder_config *cfg, long long value,
                                            const char *source, const char *key,
                                            semb_status status, semb_error *err);

/* Hugging Face's activation name ("gelu", "gelu_new", ...) for an activation kind. */
const char *activation_hf_name(activation_kind kind);

#endif
