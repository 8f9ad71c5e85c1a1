/* bert — the BERT encoder of all-MiniLM-L6-v2 and sentence-transformers'
 * pooling: token ids in, unit-length sentence vectors out.
 *
 *   x = LayerNorm(word[id] + position[i] + token_type[0])
 *   6 × { x = LayerNorm(x + Wo · attention(Wq x, Wk x, Wv x))
 *         x = LayerNorm(x + W2 · gelu(W1 x)) }
 *   v = normalise(mean of x over the sequence's tokens)
 *
 * The weights are loaded from a safetensors file and checked, tensor by
 * tensor, against the shapes config.json implies. A batch is laid out packed:
 * the tokens of all sequences one after another, so the matrix products see
 * one tall matrix with no padding rows at all, and attention and pooling run
 * per sequence over its own tokens. That computes exactly what padding to
 * the longest sequence with an attention mask computes (padded keys get
 * weight 0, padded rows are never pooled), without spending work on the pad.
 *
 * A bert owns a thread pool and grow-only working memory: one caller at a
 * time.
 */
#ifndef RAGD_MODEL_BERT_H
#define RAGD_MODEL_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "model/gemm.h"

typedef struct bert_config {
    int layers, hidden, heads, ffn, vocab, max_positions, type_vocab;
    float ln_eps;
} bert_config;

typedef struct bert bert;

/* Read config.json and model.safetensors; NULL with err set (naming the file
 * and, for a wrong weights file, the tensor and what differs). */
bert *bert_open(const char *config_path, const char *weights_path, int threads, char *err,
                size_t errlen);
void bert_close(bert *b);

const bert_config *bert_get_config(const bert *b);
int bert_threads(const bert *b);

/* Which matrix-product backend to use (GEMM_AUTO by default, or what the
 * environment's RAGD_GEMM=own|openblas|int8|int16 says; bench/encode compares
 * them). GEMM_INT8 / GEMM_INT16 quantise the weights on first use; -1 if the
 * CPU lacks their kernel (AVX-512 VNNI / AVX2). */
int bert_set_backend(bert *b, gemm_backend backend);
gemm_backend bert_get_backend(const bert *b);

/* n sequences of ids (each typically [CLS] … [SEP]; lens[i] >= 1 and <=
 * max_positions) → n × hidden floats of mean-pooled, L2-normalised vectors.
 * Returns 0, or -1 with err set for an id or length out of range. */
int bert_embed(bert *b, int n, const int32_t *const *ids, const int *lens, float *out, char *err,
               size_t errlen);

#endif
