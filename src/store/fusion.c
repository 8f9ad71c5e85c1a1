/* fusion — the fusion of a search's two ranked lists and the article cap,
 * shared by both backends (fusion.h). The float arithmetic and the order of
 * operations are the embedded store's, so its results are unchanged. */
#include "store/fusion.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

typedef struct candidate {
    float score;
    uint32_t key;
    int lexical_rank, vector_rank;
    float lexical_score, vector_score;
} candidate;

int fusion_depth(const store_query *q) {
    int k = q->k;
    /* The article cap drops candidates, so each half looks deeper. */
    int depth = q->max_per_article > 0 ? 4 * k : k;
    if (q->mode == SEARCH_HYBRID && depth < FUSION_HYBRID_DEPTH) depth = FUSION_HYBRID_DEPTH;
    if (depth > STORE_MAX_K) depth = STORE_MAX_K;
    if (depth < k) depth = k;
    return depth;
}

static int by_score_desc(const void *a, const void *b, void *ctx) {
    const candidate *x = a, *y = b;
    const fusion_keys *keys = ctx;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (keys->tie != NULL) return keys->tie(x->key, y->key, keys->ctx);
    return (x->key > y->key) - (x->key < y->key);
}

/* Reciprocal rank fusion: score(d) = sum over lists of w / (60 + rank), rank
 * from 1, w = 1 for the lexical list and vector_weight for the vector list.
 * Rank-based, so it needs no calibration between cosine and BM25 scales, and
 * k = 60 damps the head of each list. */
static int fuse(const scored *va, int nv, float vector_weight, const scored *la, int nl,
                const fusion_keys *keys, candidate *out) {
    int n = 0;
    for (int i = 0; i < nv; i++)
        out[n++] = (candidate){.score = vector_weight / (FUSION_RRF_K + (float)(i + 1)),
                               .key = va[i].id, .vector_rank = i + 1, .vector_score = va[i].score};
    for (int i = 0; i < nl; i++) {
        float add = 1.0f / (FUSION_RRF_K + (float)(i + 1));
        int j = 0;
        while (j < nv && out[j].key != la[i].id) j++;
        if (j == nv) out[j = n++] = (candidate){.key = la[i].id};
        out[j].score += add;
        out[j].lexical_rank = i + 1;
        out[j].lexical_score = la[i].score;
    }
    qsort_r(out, (size_t)n, sizeof *out, by_score_desc, (void *)keys);
    return n;
}

/* Lexical-first fusion (store_query.lexical_first): the lexical list, then
 * the vector list's passages not in it; each keeps its place in both lists. */
static int lexical_then_vector(const scored *va, int nv, const scored *la, int nl,
                               candidate *out) {
    int n = 0;
    for (int i = 0; i < nl; i++)
        out[n++] = (candidate){.key = la[i].id, .lexical_rank = i + 1, .lexical_score = la[i].score};
    for (int i = 0; i < nv; i++) {
        int j = 0;
        while (j < nl && out[j].key != va[i].id) j++;
        if (j == nl) out[j = n++] = (candidate){.key = va[i].id};
        out[j].vector_rank = i + 1;
        out[j].vector_score = va[i].score;
    }
    for (int i = 0; i < n; i++) out[i].score = 1.0f / (FUSION_RRF_K + (float)(i + 1));
    return n;
}

static search_hit to_hit(const candidate *c) {
    return (search_hit){c->key, c->score, c->lexical_rank, c->vector_rank, c->lexical_score,
                        c->vector_score};
}

/* The first k candidates, at most cap (> 0) of one article: candidates are
 * best first, so each article keeps its best passages. */
static int cap_per_article(const fusion_keys *keys, const candidate *c, int n, int cap, int k,
                           search_hit *hits) {
    assert(keys->article != NULL); /* fusion.h: needed under a cap */
    int out = 0;
    for (int i = 0; i < n && out < k; i++) {
        const char *article = keys->article(c[i].key, keys->ctx);
        int same = 0;
        for (int j = 0; j < out && same < cap; j++)
            same += strcmp(article, keys->article(hits[j].passage_id, keys->ctx)) == 0;
        if (same >= cap) continue;
        hits[out++] = to_hit(&c[i]);
    }
    return out;
}

int fusion_run(const store_query *q, const scored *va, int nv, const scored *la, int nl,
               const fusion_keys *keys, search_hit *hits) {
    if (q->mode == SEARCH_LEXICAL) nv = 0;
    if (q->mode == SEARCH_VECTOR) nl = 0;
    assert(nv >= 0 && nl >= 0);
    candidate *c = xmalloc(((size_t)nv + (size_t)nl + 1) * sizeof *c);
    int nc = 0;
    if (q->mode == SEARCH_HYBRID && q->lexical_first) {
        nc = lexical_then_vector(va, nv, la, nl, c);
    } else if (q->mode == SEARCH_HYBRID) {
        float w = q->vector_weight > 0 && q->vector_weight < 1 ? q->vector_weight : 1.0f;
        nc = fuse(va, nv, w, la, nl, keys, c);
    } else if (q->mode == SEARCH_VECTOR) {
        for (int i = 0; i < nv; i++)
            c[nc++] = (candidate){.score = va[i].score, .key = va[i].id, .vector_rank = i + 1,
                                  .vector_score = va[i].score};
    } else {
        for (int i = 0; i < nl; i++)
            c[nc++] = (candidate){.score = la[i].score, .key = la[i].id, .lexical_rank = i + 1,
                                  .lexical_score = la[i].score};
    }
    int n;
    if (q->max_per_article > 0) {
        n = cap_per_article(keys, c, nc, q->max_per_article, q->k, hits);
    } else {
        n = nc < q->k ? nc : q->k;
        for (int i = 0; i < n; i++) hits[i] = to_hit(&c[i]);
    }
    free(c);
    return n;
}
