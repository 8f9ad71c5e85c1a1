/* topk — the k best (score, id) pairs of a stream: a min-heap of size k whose
 * root is the worst kept score, so a candidate costs one compare unless it
 * beats it. Also the binary heaps HNSW's beam search needs. Header-only:
 * these run in the innermost loops. */
#ifndef RAGD_STORE_TOPK_H
#define RAGD_STORE_TOPK_H

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct scored {
    float score;
    uint32_t id;
} scored;

/* A heap of scored items. min_heap: root = smallest score. */
typedef struct heap {
    scored *items;
    int len, cap;
} heap;

/* Order: a is "above" b in a min-heap if it scores lower; ties broken by id
 * so results are deterministic. */
static inline int scored_below(scored a, scored b) {
    return a.score < b.score || (a.score == b.score && a.id > b.id);
}

static inline void minheap_sift_up(scored *h, int i) {
    scored x = h[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!scored_below(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline void minheap_sift_down(scored *h, int n, int i) {
    scored x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && scored_below(h[c + 1], h[c])) c++;
        if (!scored_below(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static inline void minheap_push(heap *h, scored x) {
    assert(h->len < h->cap); /* callers size the heap (k, or heap_reserve) before pushing */
    h->items[h->len] = x;
    minheap_sift_up(h->items, h->len++);
}

static inline scored minheap_pop(heap *h) {
    assert(h->len > 0);
    scored top = h->items[0];
    h->items[0] = h->items[--h->len];
    if (h->len > 0) minheap_sift_down(h->items, h->len, 0);
    return top;
}

/* Max-heap via negated order. */
static inline void maxheap_sift_up(scored *h, int i) {
    scored x = h[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!scored_below(h[p], x)) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline void maxheap_sift_down(scored *h, int n, int i) {
    scored x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && scored_below(h[c], h[c + 1])) c++;
        if (!scored_below(x, h[c])) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static inline void maxheap_push(heap *h, scored x) {
    assert(h->len < h->cap);
    h->items[h->len] = x;
    maxheap_sift_up(h->items, h->len++);
}

static inline scored maxheap_pop(heap *h) {
    assert(h->len > 0);
    scored top = h->items[0];
    h->items[0] = h->items[--h->len];
    if (h->len > 0) maxheap_sift_down(h->items, h->len, 0);
    return top;
}

/* Offer x to a top-k collector (a min-heap of capacity k). */
static inline void topk_offer(heap *h, scored x) {
    if (h->len < h->cap) {
        minheap_push(h, x);
    } else if (scored_below(h->items[0], x)) {
        h->items[0] = x;
        minheap_sift_down(h->items, h->len, 0);
    }
}

/* Empty the collector into out, best first; returns the count. */
static inline int topk_drain(heap *h, scored *out) {
    int n = h->len;
    for (int i = n - 1; i >= 0; i--) out[i] = minheap_pop(h);
    return n;
}

#endif
