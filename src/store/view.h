/* view — what a store_view is inside the store: an epoch (snapshot + live
 * segment + tombstones + article directory, live.h) seen at one generation,
 * with the figures of that state (passage count and BM25 lengths, topics and
 * their counts) computed by the writer that published it. */
#ifndef RAGD_STORE_VIEW_H
#define RAGD_STORE_VIEW_H

#include <stdatomic.h>

#include "store/backend.h"
#include "store/documents.h"
#include "store/live.h"

struct store_view {
    store_base base; /* first: backend.c finds the ops here */
    atomic_int refs;
    epoch *ep;
    uint64_t gen;
    uint32_t n_live;        /* live passages [0, n_live) of the epoch belong to it */
    uint64_t n_passages;    /* visible passages: BM25's N */
    uint64_t total_body;    /* their body lengths: BM25's average length */
    uint32_t snap_dead;     /* tombstoned snapshot rows (0: document frequencies as stored) */
    uint32_t n_articles;    /* visible articles */
    /* Topics with a visible passage, sorted: names point into the store's
     * topic table (never freed before store_close). */
    int n_topics;
    const char **names;
    uint32_t *topic_gidx;   /* their store-wide indexes */
    size_t *topic_counts;   /* passages */
    size_t *topic_articles; /* articles */
};

static inline bool view_snap_visible(const store_view *v, uint32_t row) {
    return atomic_load_explicit(&v->ep->snap_dead[row], memory_order_relaxed) > v->gen;
}

static inline bool view_live_visible(const store_view *v, uint32_t i) {
    return i < v->n_live &&
           atomic_load_explicit(&epoch_passage(v->ep, i)->dead, memory_order_relaxed) > v->gen;
}

/* The view's topic position of name (index into names), or -1. */
int view_find_topic(const store_view *v, const char *name);

#endif
