/* fusion — what both backends do after their two halves ran: how deep each
 * half looks, and turning the vector list and the lexical list into the
 * final hits — reciprocal-rank fusion (optionally weighted), lexical-first,
 * or one list alone — with the per-article cap. The embedded store (search.c)
 * and the PostgreSQL store (pg/pg_search.c) both call it, so a query fuses
 * the same way on either.
 *
 * Passages are named by an opaque key (a uint32_t the backend chooses: the
 * embedded store's view id, the PostgreSQL view's row index). The same
 * passage must have the same key in both lists; keys become
 * search_hit.passage_id. */
#ifndef RAGD_STORE_FUSION_H
#define RAGD_STORE_FUSION_H

#include "store/store.h"
#include "store/topk.h"

/* RRF's constant (Cormack et al. 2009): score(d) = sum w / (60 + rank). */
#define FUSION_RRF_K 60.0f
/* In hybrid mode each half contributes its best max(depth, this). */
#define FUSION_HYBRID_DEPTH 50

/* What fusion needs to know about keys. */
typedef struct fusion_keys {
    /* Order between two passages of equal fused score (< 0: a first; never 0
     * for distinct keys); NULL: by key, smaller first. */
    int (*tie)(uint32_t a, uint32_t b, void *ctx);
    /* The article id of a key (for max_per_article; may be NULL when no cap). */
    const char *(*article)(uint32_t key, void *ctx);
    void *ctx;
} fusion_keys;

/* How many passages each half of q should return (best first): k, deeper
 * under an article cap (it drops candidates) and in hybrid mode. */
int fusion_depth(const store_query *q);

/* The hits of q (room for q->k) from the vector list vec (nv, best first,
 * score = cosine) and the lexical list lex (nl, best first, score = BM25F);
 * a list q's mode does not use is ignored. Returns the hit count. */
int fusion_run(const store_query *q, const scored *vec, int nv, const scored *lex, int nl,
               const fusion_keys *keys, search_hit *hits);

#endif
