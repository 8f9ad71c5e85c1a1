/* attention — scaled dot-product attention of one head over one sequence.
 *
 * out[i] = Σ_j softmax_j(q_i·k_j / √d) v_j for the L real tokens of a
 * sequence: the keys of other sequences and padding are never visited, which
 * is exactly what BERT's additive -inf mask achieves (their weights are 0),
 * so a sequence's result cannot depend on what it is batched with.
 *
 * q, k, v point at a head's first column in rows of `stride` floats (the
 * fused QKV buffer); d = ATTN_HEAD_DIM. An AVX-512 version (keys transposed
 * so 16 scores come from one FMA chain, vector exp) is chosen at run time;
 * the portable loop is the definition.
 */
#ifndef RAGD_MODEL_ATTENTION_H
#define RAGD_MODEL_ATTENTION_H

#define ATTN_HEAD_DIM 32

/* Floats of scratch attention_head() needs for a sequence of L tokens. */
int attention_scratch_floats(int L);

void attention_head(const float *q, const float *k, const float *v, int stride, int L, float *out,
                    int ostride, float *scratch);

/* Use the portable loop even where AVX-512 exists (tests of the fallback). */
void attention_force_portable(int on);

#endif
