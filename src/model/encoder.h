/* encoder — all-MiniLM-L6-v2 sentence embeddings: tokenizer + BERT forward
 * pass + mean pooling over the attention mask + L2 normalisation, exactly as
 * sentence-transformers computes them.
 *
 * An encoder owns its weights (mmapped safetensors), its tokenizer and its
 * working memory, allocated once. encoder_embed() is NOT reentrant: one
 * caller at a time (the model service funnels requests through its batcher);
 * inside one call it uses all of the encoder's threads.
 */
#ifndef RAGD_MODEL_ENCODER_H
#define RAGD_MODEL_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/tokenizer.h"

#define ENCODER_DIM 384
#define ENCODER_MAX_TOKENS 256 /* sentence_bert_config.json max_seq_length */
#define ENCODER_MODEL_NAME "all-MiniLM-L6-v2"
/* The random-weight twin: the same shapes and vocabulary, meaningless vectors. */
#define ENCODER_TWIN_NAME "minilm-l6-h384-random"

typedef struct encoder encoder;

typedef struct encoder_info {
    const char *model_name;  /* "all-MiniLM-L6-v2" */
    const char *model_dir;   /* the folder the weights came from */
    bool real_weights;       /* false when running on the random-weight twin */
    int dim;                 /* 384 */
    int max_tokens;          /* 256 */
    int threads;
} encoder_info;

/* Find the model: dir_flag (--model-dir / RAGD_MODEL_DIR) if given, else
 * ./models/all-MiniLM-L6-v2, else ../shared/models/all-MiniLM-L6-v2; a folder
 * without model.safetensors falls back to the random twin
 * (../shared/models/minilm-l6-h384-random) with a loud warning naming
 * scripts/get-model.sh. threads <= 0 means one per core. */
encoder *encoder_open(const char *dir_flag, int threads, char *err, size_t errlen);
void encoder_close(encoder *e);
const encoder_info *encoder_get_info(const encoder *e);
const tokenizer *encoder_tokenizer(const encoder *e);

/* Embed n texts: out receives n * ENCODER_DIM floats (unit vectors), ntokens
 * (optional) the number of ids each text used including [CLS]/[SEP] after
 * truncation. Returns 0, or -1 with err set. */
int encoder_embed(encoder *e, int n, const char *const *texts, const size_t *lens, float *out,
                  int *ntokens, char *err, size_t errlen);

/* The same from ids already tokenised (each starts with [CLS], ends with [SEP],
 * at most ENCODER_MAX_TOKENS long). Batches pad to the longest sequence;
 * padding never changes a result. */
int encoder_embed_ids(encoder *e, int n, const int32_t *const *ids, const int *lens, float *out,
                      char *err, size_t errlen);

/* The BERT inside, for benchmarks and tests (bert_set_backend, threads). */
struct bert;
struct bert *encoder_bert(encoder *e);

/* The identity a store records for the vectors it holds: the real model's
 * name, or the twin's when running on random weights, so that a store built on
 * one is refused by the other. */
static inline const char *encoder_identity(const encoder_info *info) {
    return info->real_weights ? ENCODER_MODEL_NAME : ENCODER_TWIN_NAME;
}

#endif
