/* bert — see bert.h. The forward pass reads top to bottom like the model's
 * definition; each step is one parallel region of the pool (matrix products
 * split into row × column tiles, attention into sequence × head, the rest
 * into token ranges). */
#include "model/bert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/attention.h"
#include "model/pool.h"
#include "model/safetensors.h"
#include "util/util.h"

/* Sequences are run in groups of at most this many tokens: large enough for
 * the products to run at full speed, small enough that the activations
 * (~15 KB a token) stay modest for a batch of 128 passages. */
#define GROUP_TOKENS 4096
/* Rows of a product tile (a multiple of the kernel's 14-row blocks). */
#define TILE_ROWS 112
/* Packed weight bytes one tile sweeps; sized to stay in a core's L2. */
#define TILE_WEIGHT_BYTES (512 * 1024)

typedef struct bert_layer {
    gemm_matrix qkv, attn_out, ffn_in, ffn_out;
    float *qkv_w, *qkv_b; /* Q, K and V weights concatenated: one product */
    const float *ln_attn_g, *ln_attn_b, *ln_ffn_g, *ln_ffn_b;
} bert_layer;

struct bert {
    bert_config cfg;
    safetensors *st;
    const float *word, *position, *token_type, *ln_emb_g, *ln_emb_b;
    bert_layer *layer;
    pool *pool;
    gemm_backend backend;
    /* working memory, grown on demand and reused */
    int cap_tokens, cap_len;
    float *x, *qkv, *ctx, *h;
    float *attn_scratch; /* one slice per thread */
    int *seq_start;      /* packed offset of each sequence of the group, n+1 */
    int cap_seqs;
};

/* ---- loading ------------------------------------------------------------ */

static int config_int(json_t *root, const char *key, int *out, const char *path, char *err,
                      size_t errlen) {
    json_t *v = json_object_get(root, key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1000000)
        return seterr(err, errlen, "%s: \"%s\" is missing or not a positive integer", path, key);
    *out = (int)json_integer_value(v);
    return 0;
}

static int read_config(const char *path, bert_config *c, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return seterr(err, errlen, "%s: %s", path, jerr.text);
    int rc = -1;
    if (config_int(root, "num_hidden_layers", &c->layers, path, err, errlen) ||
        config_int(root, "hidden_size", &c->hidden, path, err, errlen) ||
        config_int(root, "num_attention_heads", &c->heads, path, err, errlen) ||
        config_int(root, "intermediate_size", &c->ffn, path, err, errlen) ||
        config_int(root, "vocab_size", &c->vocab, path, err, errlen) ||
        config_int(root, "max_position_embeddings", &c->max_positions, path, err, errlen) ||
        config_int(root, "type_vocab_size", &c->type_vocab, path, err, errlen))
        goto out;
    json_t *eps = json_object_get(root, "layer_norm_eps");
    c->ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    const char *act = json_string_value(json_object_get(root, "hidden_act"));
    const char *pos = json_string_value(json_object_get(root, "position_embedding_type"));
    if (act && strcmp(act, "gelu")) {
        seterr(err, errlen, "%s: hidden_act \"%s\" is not supported (only BERT's erf \"gelu\")",
               path, act);
        goto out;
    }
    if (pos && strcmp(pos, "absolute")) {
        seterr(err, errlen, "%s: position_embedding_type \"%s\" is not supported", path, pos);
        goto out;
    }
    if (c->hidden != c->heads * ATTN_HEAD_DIM || c->hidden % GEMM_NR || c->ffn % GEMM_NR ||
        c->ffn > GEMM_MAX_K || c->hidden > GEMM_MAX_K) {
        seterr(err, errlen,
               "%s: hidden %d / heads %d / intermediate %d is not a shape this encoder runs "
               "(head size %d, multiples of %d, at most %d)",
               path, c->hidden, c->heads, c->ffn, ATTN_HEAD_DIM, GEMM_NR, GEMM_MAX_K);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* A tensor the model needs, checked: F32 of the given shape. */
static const float *want(const safetensors *st, const char *name, int64_t d0, int64_t d1,
                         char *err, size_t errlen) {
    int64_t shape[2] = {d0, d1};
    const st_tensor *t = safetensors_expect(st, name, ST_F32, d1 ? 2 : 1, shape, err, errlen);
    return t ? t->data : NULL;
}

/* Every tensor of the file must be one the model knows: a file of another
 * model (say, with a classifier head) is refused, not half-used. */
static bool known_tensor(const bert_config *c, const char *name) {
    static const char *const fixed[] = {
        "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias", "embeddings.position_ids", "pooler.dense.weight",
        "pooler.dense.bias"};
    static const char *const per_layer[] = {
        "attention.self.query.weight", "attention.self.query.bias",
        "attention.self.key.weight", "attention.self.key.bias",
        "attention.self.value.weight", "attention.self.value.bias",
        "attention.output.dense.weight", "attention.output.dense.bias",
        "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
        "intermediate.dense.weight", "intermediate.dense.bias",
        "output.dense.weight", "output.dense.bias",
        "output.LayerNorm.weight", "output.LayerNorm.bias"};
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++)
        if (!strcmp(name, fixed[i])) return true;
    int l, off = 0;
    if (sscanf(name, "encoder.layer.%d.%n", &l, &off) != 1 || off == 0 || l < 0 || l >= c->layers)
        return false;
    for (size_t i = 0; i < ARRAY_LEN(per_layer); i++)
        if (!strcmp(name + off, per_layer[i])) return true;
    return false;
}

static int load_weights(bert *b, char *err, size_t errlen) {
    const bert_config *c = &b->cfg;
    const safetensors *st = b->st;
    for (int i = 0; i < st->ntensors; i++)
        if (!known_tensor(c, st->tensors[i].name))
            return seterr(err, errlen, "%s: unexpected tensor '%s' (not a BERT model of %d layers)",
                          st->path, st->tensors[i].name, c->layers);
    int64_t H = c->hidden, F = c->ffn;
    if (!(b->word = want(st, "embeddings.word_embeddings.weight", c->vocab, H, err, errlen)) ||
        !(b->position =
              want(st, "embeddings.position_embeddings.weight", c->max_positions, H, err, errlen)) ||
        !(b->token_type =
              want(st, "embeddings.token_type_embeddings.weight", c->type_vocab, H, err, errlen)) ||
        !(b->ln_emb_g = want(st, "embeddings.LayerNorm.weight", H, 0, err, errlen)) ||
        !(b->ln_emb_b = want(st, "embeddings.LayerNorm.bias", H, 0, err, errlen)))
        return -1;
    b->layer = xcalloc((size_t)c->layers, sizeof *b->layer);
    for (int l = 0; l < c->layers; l++) {
        bert_layer *L = &b->layer[l];
        const float *w[3], *bias[3], *ow, *ob, *iw, *ib, *fw, *fb;
        static const char *const qkv[3] = {"query", "key", "value"};
        char name[96];
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.weight", l, qkv[j]);
            if (!(w[j] = want(st, name, H, H, err, errlen))) return -1;
            snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.bias", l, qkv[j]);
            if (!(bias[j] = want(st, name, H, 0, err, errlen))) return -1;
        }
#define WANT(dst, suffix, d0, d1)                                                                  \
    snprintf(name, sizeof name, "encoder.layer.%d.%s", l, suffix);                                 \
    if (!((dst) = want(st, name, d0, d1, err, errlen))) return -1;
        WANT(ow, "attention.output.dense.weight", H, H)
        WANT(ob, "attention.output.dense.bias", H, 0)
        WANT(L->ln_attn_g, "attention.output.LayerNorm.weight", H, 0)
        WANT(L->ln_attn_b, "attention.output.LayerNorm.bias", H, 0)
        WANT(iw, "intermediate.dense.weight", F, H)
        WANT(ib, "intermediate.dense.bias", F, 0)
        WANT(fw, "output.dense.weight", H, F)
        WANT(fb, "output.dense.bias", H, 0)
        WANT(L->ln_ffn_g, "output.LayerNorm.weight", H, 0)
        WANT(L->ln_ffn_b, "output.LayerNorm.bias", H, 0)
#undef WANT
        L->qkv_w = xmalloc((size_t)3 * H * H * sizeof(float));
        L->qkv_b = xmalloc((size_t)3 * H * sizeof(float));
        for (int j = 0; j < 3; j++) {
            memcpy(L->qkv_w + (size_t)j * H * H, w[j], (size_t)H * H * sizeof(float));
            memcpy(L->qkv_b + (size_t)j * H, bias[j], (size_t)H * sizeof(float));
        }
        gemm_matrix_init(&L->qkv, L->qkv_w, L->qkv_b, 3 * (int)H, (int)H);
        gemm_matrix_init(&L->attn_out, ow, ob, (int)H, (int)H);
        gemm_matrix_init(&L->ffn_in, iw, ib, (int)F, (int)H);
        gemm_matrix_init(&L->ffn_out, fw, fb, (int)H, (int)F);
    }
    return 0;
}

bert *bert_open(const char *config_path, const char *weights_path, int threads, char *err,
                size_t errlen) {
    bert *b = xcalloc(1, sizeof *b);
    if (read_config(config_path, &b->cfg, err, errlen)) goto fail;
    if (!(b->st = safetensors_open(weights_path, err, errlen))) goto fail;
    if (load_weights(b, err, errlen)) goto fail;
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    b->pool = pool_create(threads < 1 ? 1 : threads);
    bert_set_backend(b, GEMM_AUTO); /* packs for our own kernels if they are the default */
    /* RAGD_GEMM=int8 opts into the quantised products (not exact; see gemm.h) */
    const char *gemm = getenv("RAGD_GEMM");
    if (gemm && !strcmp(gemm, "int8") && bert_set_backend(b, GEMM_INT8))
        fprintf(stderr, "RAGD_GEMM=int8 ignored: this CPU has no AVX-512 VNNI\n");
    else if (gemm && !strcmp(gemm, "int16") && bert_set_backend(b, GEMM_INT16))
        fprintf(stderr, "RAGD_GEMM=int16 ignored: this CPU has no AVX2\n");
    else if (gemm && !strcmp(gemm, "openblas"))
        b->backend = GEMM_OPENBLAS;
    else if (gemm && !strcmp(gemm, "own"))
        bert_set_backend(b, GEMM_OWN);
    return b;
fail:
    bert_close(b);
    return NULL;
}

void bert_close(bert *b) {
    if (!b) return;
    pool_destroy(b->pool);
    if (b->layer)
        for (int l = 0; l < b->cfg.layers; l++) {
            bert_layer *L = &b->layer[l];
            gemm_matrix_free(&L->qkv);
            gemm_matrix_free(&L->attn_out);
            gemm_matrix_free(&L->ffn_in);
            gemm_matrix_free(&L->ffn_out);
            free(L->qkv_w);
            free(L->qkv_b);
        }
    free(b->layer);
    safetensors_close(b->st);
    free(b->x);
    free(b->qkv);
    free(b->ctx);
    free(b->h);
    free(b->attn_scratch);
    free(b->seq_start);
    free(b);
}

const bert_config *bert_get_config(const bert *b) { return &b->cfg; }
int bert_threads(const bert *b) { return pool_threads(b->pool); }
/* Prepare every dense matrix of the model with prep (each one a no-op when
 * already done); whether any work was done. */
static bool prepare_all(bert *b, void (*prep)(gemm_matrix *), bool (*done)(const gemm_matrix *)) {
    bool worked = false;
    for (int l = 0; l < b->cfg.layers; l++) {
        bert_layer *L = &b->layer[l];
        gemm_matrix *ms[4] = {&L->qkv, &L->attn_out, &L->ffn_in, &L->ffn_out};
        for (int i = 0; i < 4; i++) {
            worked |= !done(ms[i]);
            prep(ms[i]);
        }
    }
    return worked;
}
static bool has_packed(const gemm_matrix *m) { return m->packed; }
static bool has_q8(const gemm_matrix *m) { return m->q8; }
static bool has_q16(const gemm_matrix *m) { return m->q16; }

int bert_set_backend(bert *b, gemm_backend backend) {
    gemm_backend resolved = backend == GEMM_AUTO ? gemm_default_backend() : backend;
    bool worked = false;
    if (resolved == GEMM_INT8) {
        if (!gemm_int8_supported() || b->cfg.hidden % 16 || b->cfg.ffn % 16) return -1;
        worked = prepare_all(b, gemm_matrix_prepare_int8, has_q8);
    } else if (resolved == GEMM_INT16) {
        if (!gemm_int16_supported() || b->cfg.hidden % 16 || b->cfg.ffn % 16) return -1;
        worked = prepare_all(b, gemm_matrix_prepare_int16, has_q16);
    } else if (resolved == GEMM_OWN) {
        worked = prepare_all(b, gemm_matrix_prepare_own, has_packed);
    }
    /* Preparing read the weights through the file mapping; the prepared
     * copies are what the kernels read now, so let those pages go (RSS). If
     * OpenBLAS runs later, it faults them back in from the page cache. */
    if (worked) safetensors_release_pages(b->st);
    b->backend = backend;
    return 0;
}

gemm_backend bert_get_backend(const bert *b) { return b->backend; }

/* Grow-only: after the first batch of a given size, no allocation at all. */
static void reserve(bert *b, int tokens, int max_len, int seqs) {
    const bert_config *c = &b->cfg;
    if (tokens > b->cap_tokens) {
        size_t t = (size_t)tokens;
        free(b->x);
        free(b->qkv);
        free(b->ctx);
        free(b->h);
        b->x = xmalloc(t * c->hidden * sizeof(float));
        b->qkv = xmalloc(t * 3 * c->hidden * sizeof(float));
        b->ctx = xmalloc(t * c->hidden * sizeof(float));
        b->h = xmalloc(t * c->ffn * sizeof(float));
        b->cap_tokens = tokens;
    }
    if (max_len > b->cap_len) {
        free(b->attn_scratch);
        b->attn_scratch = xmalloc((size_t)pool_threads(b->pool) *
                                  attention_scratch_floats(max_len) * sizeof(float));
        b->cap_len = max_len;
    }
    if (seqs + 1 > b->cap_seqs) {
        free(b->seq_start);
        b->seq_start = xmalloc((size_t)(seqs + 1) * sizeof(int));
        b->cap_seqs = seqs + 1;
    }
}

/* ---- parallel steps ------------------------------------------------------- */

typedef struct product {
    gemm_backend backend;
    const gemm_matrix *W;
    const float *A;
    float *C;
    const float *R;
    gemm_epilogue epi;
    int M, mblock, nmb, nchunks, npanels;
} product;

static void product_task(void *ctx, int t, int thread) {
    const product *p = ctx;
    int chunk = t / p->nmb, mb = t % p->nmb;
    int m0 = mb * p->mblock, m1 = m0 + p->mblock < p->M ? m0 + p->mblock : p->M;
    int n0 = chunk * p->npanels / p->nchunks * GEMM_NR;
    int n1 = (chunk + 1) * p->npanels / p->nchunks * GEMM_NR;
    int k = p->W->k, n = p->W->n;
    gemm_tile(p->backend, p->W, p->A, k, m0, m1, n0, n1, p->C, n, p->epi, p->R, n);
}

/* C[M][n] = epi(A[M][k] · Wᵀ + b (+ R)), tiled over the pool. */
static void run_product(bert *b, const gemm_matrix *W, const float *A, int M, float *C,
                        gemm_epilogue epi, const float *R) {
    int threads = pool_threads(b->pool);
    gemm_backend backend = b->backend == GEMM_AUTO ? gemm_default_backend() : b->backend;
    product p = {.backend = backend, .W = W, .A = A, .C = C, .R = R, .epi = epi, .M = M,
                 .npanels = W->n / GEMM_NR};
    if (backend == GEMM_OPENBLAS) {
        /* Few big calls: OpenBLAS blocks internally. Split rows when there
         * are many, columns otherwise. */
        bool by_rows = M >= 64 * threads;
        p.nmb = by_rows ? threads : 1;
        p.mblock = (M + p.nmb - 1) / p.nmb;
        p.nchunks = by_rows ? 1 : (threads < p.npanels ? threads : p.npanels);
    } else {
        p.mblock = TILE_ROWS;
        p.nmb = (M + TILE_ROWS - 1) / TILE_ROWS;
        int panel_bytes = W->k * GEMM_NR * (int)sizeof(float);
        int per_chunk = TILE_WEIGHT_BYTES / panel_bytes;
        if (per_chunk < 1) per_chunk = 1;
        p.nchunks = (p.npanels + per_chunk - 1) / per_chunk;
        /* few rows (a query): split the columns finer so every thread works */
        int want = (2 * threads + p.nmb - 1) / p.nmb;
        if (p.nchunks < want) p.nchunks = want < p.npanels ? want : p.npanels;
    }
    pool_run(b->pool, p.nmb * p.nchunks, product_task, &p);
}

typedef struct rows_job {
    bert *b;
    const int32_t *const *ids;
    const int *seq_start;
    int first_seq, nseqs;
    float *x;
    const float *g, *beta;
    int T;
} rows_job;

#define ROWS_PER_TASK 32

/* x = (x - mean) / sqrt(var + eps) · g + beta, per row (two passes, as
 * PyTorch: the variance of the centred values, never E[x²] - E[x]²). */
static void layer_norm_row(float *x, int H, const float *g, const float *beta, float eps) {
    float mean = 0;
    for (int i = 0; i < H; i++) mean += x[i];
    mean /= (float)H;
    float var = 0;
    for (int i = 0; i < H; i++) {
        float d = x[i] - mean;
        var += d * d;
    }
    var /= (float)H;
    float inv = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < H; i++) x[i] = (x[i] - mean) * inv * g[i] + beta[i];
}

static void layer_norm_task(void *ctx, int t, int thread) {
    const rows_job *j = ctx;
    int H = j->b->cfg.hidden;
    int r1 = (t + 1) * ROWS_PER_TASK < j->T ? (t + 1) * ROWS_PER_TASK : j->T;
    for (int r = t * ROWS_PER_TASK; r < r1; r++)
        layer_norm_row(j->x + (size_t)r * H, H, j->g, j->beta, j->b->cfg.ln_eps);
}

static void layer_norm(bert *b, float *x, int T, const float *g, const float *beta) {
    rows_job j = {.b = b, .x = x, .g = g, .beta = beta, .T = T};
    pool_run(b->pool, (T + ROWS_PER_TASK - 1) / ROWS_PER_TASK, layer_norm_task, &j);
}

/* One task per sequence: word + position + token type 0, then LayerNorm. */
static void embed_task(void *ctx, int s, int thread) {
    const rows_job *j = ctx;
    const bert *b = j->b;
    int H = b->cfg.hidden;
    const int32_t *ids = j->ids[j->first_seq + s];
    int start = j->seq_start[s], len = j->seq_start[s + 1] - start;
    for (int i = 0; i < len; i++) {
        float *x = j->x + (size_t)(start + i) * H;
        const float *w = b->word + (size_t)ids[i] * H, *p = b->position + (size_t)i * H;
        for (int d = 0; d < H; d++) x[d] = w[d] + p[d] + b->token_type[d];
        layer_norm_row(x, H, b->ln_emb_g, b->ln_emb_b, b->cfg.ln_eps);
    }
}

typedef struct attn_job {
    bert *b;
    const int *seq_start;
    int heads;
} attn_job;

static void attention_task(void *ctx, int t, int thread) {
    const attn_job *j = ctx;
    bert *b = j->b;
    int H = b->cfg.hidden, s = t / j->heads, h = t % j->heads;
    int start = j->seq_start[s], len = j->seq_start[s + 1] - start;
    const float *q = b->qkv + (size_t)start * 3 * H + h * ATTN_HEAD_DIM;
    attention_head(q, q + H, q + 2 * H, 3 * H, len, b->ctx + (size_t)start * H + h * ATTN_HEAD_DIM,
                   H, b->attn_scratch + (size_t)thread * attention_scratch_floats(b->cap_len));
}

/* ---- the forward pass ------------------------------------------------------ */

static void forward_group(bert *b, const int32_t *const *ids, int first, int nseqs, int T,
                          float *out) {
    const bert_config *c = &b->cfg;
    const int H = c->hidden;
    rows_job rj = {.b = b, .ids = ids, .seq_start = b->seq_start, .first_seq = first,
                   .nseqs = nseqs, .x = b->x, .T = T};
    pool_run(b->pool, nseqs, embed_task, &rj);

    attn_job aj = {.b = b, .seq_start = b->seq_start, .heads = c->heads};
    for (int l = 0; l < c->layers; l++) {
        const bert_layer *L = &b->layer[l];
        run_product(b, &L->qkv, b->x, T, b->qkv, GEMM_EPI_BIAS, NULL);
        pool_run(b->pool, nseqs * c->heads, attention_task, &aj);
        run_product(b, &L->attn_out, b->ctx, T, b->x, GEMM_EPI_BIAS_ADD, b->x);
        layer_norm(b, b->x, T, L->ln_attn_g, L->ln_attn_b);
        run_product(b, &L->ffn_in, b->x, T, b->h, GEMM_EPI_BIAS_GELU, NULL);
        run_product(b, &L->ffn_out, b->h, T, b->x, GEMM_EPI_BIAS_ADD, b->x);
        layer_norm(b, b->x, T, L->ln_ffn_g, L->ln_ffn_b);
    }

    /* sentence-transformers: mean over the sequence's tokens, then
     * x / max(‖x‖, 1e-12). */
    for (int s = 0; s < nseqs; s++) {
        int start = b->seq_start[s], len = b->seq_start[s + 1] - start;
        float *v = out + (size_t)s * H;
        for (int d = 0; d < H; d++) v[d] = 0;
        for (int i = 0; i < len; i++) {
            const float *x = b->x + (size_t)(start + i) * H;
            for (int d = 0; d < H; d++) v[d] += x[d];
        }
        double norm = 0;
        for (int d = 0; d < H; d++) {
            v[d] /= (float)len;
            norm += (double)v[d] * v[d];
        }
        float inv = 1.0f / (float)fmax(sqrt(norm), 1e-12);
        for (int d = 0; d < H; d++) v[d] *= inv;
    }
}

int bert_embed(bert *b, int n, const int32_t *const *ids, const int *lens, float *out, char *err,
               size_t errlen) {
    const bert_config *c = &b->cfg;
    for (int s = 0; s < n; s++) {
        if (lens[s] < 1 || lens[s] > c->max_positions)
            return seterr(err, errlen, "sequence %d has %d tokens (1 to %d allowed)", s, lens[s],
                          c->max_positions);
        for (int i = 0; i < lens[s]; i++)
            if (ids[s][i] < 0 || ids[s][i] >= c->vocab)
                return seterr(err, errlen, "sequence %d: token id %d is outside the vocabulary",
                              s, (int)ids[s][i]);
    }
    for (int first = 0; first < n;) {
        /* the next group: as many sequences as fit in GROUP_TOKENS (at least one) */
        int T = 0, max_len = 0, end = first;
        while (end < n && (end == first || T + lens[end] <= GROUP_TOKENS)) {
            T += lens[end];
            if (lens[end] > max_len) max_len = lens[end];
            end++;
        }
        reserve(b, T, max_len, end - first);
        b->seq_start[0] = 0;
        for (int s = first; s < end; s++)
            b->seq_start[s - first + 1] = b->seq_start[s - first] + lens[s];
        forward_group(b, ids, first, end - first, T, out + (size_t)first * c->hidden);
        first = end;
    }
    return 0;
}
