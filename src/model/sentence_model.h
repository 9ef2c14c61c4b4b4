/* A loaded sentence-transformers model (the struct behind the public semb_model handle):
 * encoder + tokenizer + pooling + optional normalisation. Internal code (training,
 * evaluation, the server) reaches the parts through this header. */
#ifndef SEMB_MODEL_SENTENCE_MODEL_H
#define SEMB_MODEL_SENTENCE_MODEL_H

#include "io/st_folder.h"
#include "model/encoder.h"
#include "model/encoder_bf16.h"
#include "model/pooling.h"
#include "text/tokenizer.h"

struct semb_model {
    st_folder folder;
    encoder_config config;
    encoder_params params;
    semb_tokenizer *tokenizer;
    pooling_config pooling;
    bool normalize;
    int max_seq_length;
    encoder_workspace workspace; /* reused across semb_encode calls on this model */
    packed_batch_buffers batch_buffers; /* semb_encode's token ids, reused likewise */
    encoder_bf16_weights bf16_weights; /* SEMB_COMPUTE_BF16: made afresh by each semb_encode */
};

/* Resolves the max sequence length into *out as sentence-transformers does:
 * sentence_bert_config.json's max_seq_length, else tokenizer_config.json's model_max_length,
 * else the position limit. Each length the files give must pass
 * encoder_config_check_max_length (SEMB_ERR_FORMAT naming the file and key); a
 * model_max_length below max_seq_length is only warned about (semb_set_warning_handler), as
 * sentence-transformers truncates at max_seq_length regardless. */
semb_status sentence_model_resolve_max_seq_length(const st_folder *folder,
                                                  const encoder_config *cfg, int *out,
                                                  semb_error *err);

#endif
