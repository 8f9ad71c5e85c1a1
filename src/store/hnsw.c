/* hnsw — graph construction and search; see hnsw.h for the layout.
 *
 * Similarities, not distances: every comparison is "higher dot product is
 * closer". Neighbour selection uses the paper's heuristic (keep a candidate
 * only if it is closer to the new node than to every neighbour already
 * kept), which is what gives HNSW its recall on clustered data. */
#include "store/hnsw.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "store/vecmath.h"
#include "util/util.h"

#define HNSW_MAGIC 0x57534e48u /* "HNSW" */
#define HNSW_HEADER_WORDS 8
#define HNSW_MAX_LEVEL 16

struct hnsw_scratch {
    uint32_t *marks;
    uint32_t n, gen;
    heap cand, res;
    scored *sorted;
    int sorted_cap;
};

hnsw_scratch *hnsw_scratch_new(uint32_t n) {
    hnsw_scratch *s = xcalloc(1, sizeof *s);
    s->n = n;
    s->marks = xcalloc(n ? n : 1, sizeof *s->marks);
    return s;
}

void hnsw_scratch_free(hnsw_scratch *s) {
    if (s == NULL) return;
    free(s->marks);
    free(s->cand.items);
    free(s->res.items);
    free(s->sorted);
    free(s);
}

uint32_t hnsw_scratch_capacity(const hnsw_scratch *s) { return s->n; }

static void visit_begin(hnsw_scratch *s) {
    if (++s->gen == 0) {
        memset(s->marks, 0, (size_t)s->n * sizeof *s->marks);
        s->gen = 1;
    }
}

static inline bool visit(hnsw_scratch *s, uint32_t id) {
    if (s->marks[id] == s->gen) return false;
    s->marks[id] = s->gen;
    return true;
}

static void heap_reserve(heap *h, int need) {
    if (need <= h->cap) return;
    int cap = h->cap ? h->cap : 64;
    while (cap < need) cap *= 2;
    h->items = xrealloc(h->items, (size_t)cap * sizeof *h->items);
    h->cap = cap;
}

/* ---- the graph, during build or from the file ------------------------- */

typedef struct graph {
    uint32_t n, m, m0;
    uint8_t *levels;
    uint32_t *level0, *upper_of, *upper;
    const float *vectors;
    size_t dim;
    dot_fn dot;
    uint8_t *locks; /* NULL when searching (read-only) */
} graph;

static inline uint32_t *links_at(const graph *g, uint32_t node, int level) {
    if (level == 0) return g->level0 + (size_t)node * (1 + g->m0);
    return g->upper + ((size_t)g->upper_of[node] + (size_t)(level - 1)) * (1 + g->m);
}

static inline const float *vec(const graph *g, uint32_t row) {
    return g->vectors + (size_t)row * g->dim;
}

static inline void lock_node(const graph *g, uint32_t node) {
    if (g->locks == NULL) return;
    while (__atomic_test_and_set(&g->locks[node], __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&g->locks[node], __ATOMIC_RELAXED)) __builtin_ia32_pause();
}

static inline void unlock_node(const graph *g, uint32_t node) {
    if (g->locks != NULL) __atomic_clear(&g->locks[node], __ATOMIC_RELEASE);
}

/* Copy a node's links (under its lock while building) into buf; returns count. */
static inline uint32_t read_links(const graph *g, uint32_t node, int level, uint32_t *copy,
                                  const uint32_t **out) {
    const uint32_t *l = links_at(g, node, level);
    if (g->locks == NULL) {
        *out = l + 1;
        return l[0];
    }
    lock_node(g, node);
    uint32_t c = l[0];
    memcpy(copy, l + 1, c * sizeof *copy);
    unlock_node(g, node);
    *out = copy;
    return c;
}

/* Greedy walk on one upper level: move to a better neighbour until none is. */
static uint32_t greedy(const graph *g, const float *q, uint32_t cur, float *cur_sim, int level) {
    uint32_t copy[1 + 64 * 2];
    for (bool changed = true; changed;) {
        changed = false;
        const uint32_t *nb;
        uint32_t c = read_links(g, cur, level, copy, &nb);
        for (uint32_t j = 0; j < c; j++) {
            float s = g->dot(q, vec(g, nb[j]), g->dim);
            if (s > *cur_sim) {
                *cur_sim = s;
                cur = nb[j];
                changed = true;
            }
        }
    }
    return cur;
}

/* Beam search of one level from ep; leaves up to ef best in s->res (a
 * min-heap whose root is the worst kept). */
static void search_level(const graph *g, const float *q, uint32_t ep, float ep_sim, int ef,
                         int level, hnsw_scratch *s) {
    uint32_t copy[1 + 64 * 2];
    visit_begin(s);
    visit(s, ep);
    s->cand.len = 0;
    s->res.len = 0;
    heap_reserve(&s->res, ef + 2);
    heap_reserve(&s->cand, 64);
    maxheap_push(&s->cand, (scored){ep_sim, ep});
    minheap_push(&s->res, (scored){ep_sim, ep});
    while (s->cand.len > 0) {
        scored c = maxheap_pop(&s->cand);
        if (s->res.len >= ef && c.score < s->res.items[0].score) break;
        const uint32_t *nb;
        uint32_t cnt = read_links(g, c.id, level, copy, &nb);
        for (uint32_t j = 0; j < cnt; j++) {
            if (j + 1 < cnt) __builtin_prefetch(vec(g, nb[j + 1]));
            uint32_t id = nb[j];
            if (!visit(s, id)) continue;
            float sim = g->dot(q, vec(g, id), g->dim);
            if (s->res.len < ef || sim > s->res.items[0].score) {
                heap_reserve(&s->cand, s->cand.len + 1);
                maxheap_push(&s->cand, (scored){sim, id});
                minheap_push(&s->res, (scored){sim, id});
                if (s->res.len > ef) minheap_pop(&s->res);
            }
        }
    }
}

static int by_score_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The heuristic: from cand (sorted best first, sims to the base node), keep
 * at most want, each closer to the base than to every one kept before it. */
static uint32_t select_neighbours(const graph *g, const scored *cand, int n, uint32_t want,
                                  uint32_t *out) {
    uint32_t kept = 0;
    for (int i = 0; i < n && kept < want; i++) {
        const float *v = vec(g, cand[i].id);
        bool good = true;
        for (uint32_t j = 0; j < kept; j++) {
            if (g->dot(v, vec(g, out[j]), g->dim) > cand[i].score) {
                good = false;
                break;
            }
        }
        if (good) out[kept++] = cand[i].id;
    }
    return kept;
}

static void add_backlink(const graph *g, uint32_t node, uint32_t newcomer, int level,
                         hnsw_scratch *s) {
    uint32_t cap = level == 0 ? g->m0 : g->m;
    lock_node(g, node);
    uint32_t *l = links_at(g, node, level);
    for (uint32_t j = 0; j < l[0]; j++)
        if (l[1 + j] == newcomer) {
            unlock_node(g, node);
            return;
        }
    if (l[0] < cap) {
        l[1 + l[0]++] = newcomer;
    } else {
        /* Full: re-select among the old links and the newcomer. */
        if (s->sorted_cap < (int)cap + 1) {
            s->sorted_cap = (int)cap + 1;
            s->sorted = xrealloc(s->sorted, (size_t)s->sorted_cap * sizeof *s->sorted);
        }
        const float *base = vec(g, node);
        int n = 0;
        for (uint32_t j = 0; j < l[0]; j++)
            s->sorted[n++] = (scored){g->dot(base, vec(g, l[1 + j]), g->dim), l[1 + j]};
        s->sorted[n++] = (scored){g->dot(base, vec(g, newcomer), g->dim), newcomer};
        qsort(s->sorted, (size_t)n, sizeof *s->sorted, by_score_desc);
        l[0] = select_neighbours(g, s->sorted, n, cap, l + 1);
    }
    unlock_node(g, node);
}

typedef struct builder {
    graph g;
    int ef_construction;
    pthread_mutex_t top_lock; /* guards entry and max_level */
    uint32_t entry;
    int32_t max_level;
    uint32_t next; /* next node to insert (atomic) */
} builder;

static void insert(builder *b, uint32_t node, hnsw_scratch *s) {
    graph *g = &b->g;
    int level = g->levels[node];
    pthread_mutex_lock(&b->top_lock);
    int32_t top = b->max_level;
    uint32_t cur = b->entry;
    bool raises = level > top;
    if (!raises) pthread_mutex_unlock(&b->top_lock);

    const float *q = vec(g, node);
    float cur_sim = g->dot(q, vec(g, cur), g->dim);
    for (int lv = top; lv > level; lv--) cur = greedy(g, q, cur, &cur_sim, lv);

    uint32_t chosen[128];
    for (int lv = level < top ? level : top; lv >= 0; lv--) {
        search_level(g, q, cur, cur_sim, b->ef_construction, lv, s);
        int n = s->res.len;
        if (s->sorted_cap < n) {
            s->sorted_cap = n;
            s->sorted = xrealloc(s->sorted, (size_t)n * sizeof *s->sorted);
        }
        for (int i = n - 1; i >= 0; i--) s->sorted[i] = minheap_pop(&s->res);
        /* s->sorted is best first now. */
        cur = s->sorted[0].id;
        cur_sim = s->sorted[0].score;
        uint32_t kept = select_neighbours(g, s->sorted, n, g->m, chosen);
        lock_node(g, node);
        uint32_t *l = links_at(g, node, lv);
        memcpy(l + 1, chosen, kept * sizeof *chosen);
        l[0] = kept;
        unlock_node(g, node);
        for (uint32_t j = 0; j < kept; j++) add_backlink(g, chosen[j], node, lv, s);
    }
    if (raises) {
        b->entry = node;
        b->max_level = level;
        pthread_mutex_unlock(&b->top_lock);
    }
}

static void *build_thread(void *arg) {
    builder *b = arg;
    hnsw_scratch *s = hnsw_scratch_new(b->g.n);
    for (;;) {
        uint32_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->g.n) break;
        insert(b, i, s);
    }
    hnsw_scratch_free(s);
    return NULL;
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t pad4(size_t x) { return (x + 3) & ~(size_t)3; }

void hnsw_build(const float *vectors, uint32_t n, size_t dim, const hnsw_params *p, buf *out) {
    uint32_t m = p->m > 1 ? (uint32_t)p->m : 16;
    if (m > 64) m = 64;
    uint32_t m0 = 2 * m;
    int ef_c = p->ef_construction > 0 ? p->ef_construction : 100;
    if (ef_c < (int)m) ef_c = (int)m;

    uint8_t *levels = xcalloc(n ? n : 1, 1);
    uint32_t *upper_of = xmalloc(((size_t)n + 1) * sizeof *upper_of);
    uint64_t rng = p->seed ? p->seed : 0x5eed;
    double ml = 1.0 / log((double)m);
    size_t blocks = 0;
    int32_t max_level = -1;
    for (uint32_t i = 0; i < n; i++) {
        double u = ((double)(splitmix(&rng) >> 11) + 1.0) / 9007199254740993.0;
        int lv = (int)floor(-log(u) * ml);
        if (lv > HNSW_MAX_LEVEL) lv = HNSW_MAX_LEVEL;
        levels[i] = (uint8_t)lv;
        upper_of[i] = lv > 0 ? (uint32_t)blocks : UINT32_MAX;
        blocks += (size_t)lv;
    }

    size_t start = out->len;
    size_t words = HNSW_HEADER_WORDS;
    size_t levels_bytes = pad4(n);
    size_t total = words * 4 + levels_bytes + (size_t)n * (1 + m0) * 4 + (size_t)n * 4 +
                   blocks * (1 + m) * 4;
    buf_reserve(out, total);
    memset(out->data + start, 0, total);
    out->len = start + total;

    uint32_t *hdr = (uint32_t *)(void *)(out->data + start);
    builder b = {0};
    b.g.n = n;
    b.g.m = m;
    b.g.m0 = m0;
    b.g.levels = (uint8_t *)(hdr + words);
    b.g.level0 = (uint32_t *)(void *)(b.g.levels + levels_bytes);
    b.g.upper_of = b.g.level0 + (size_t)n * (1 + m0);
    b.g.upper = b.g.upper_of + n;
    b.g.vectors = vectors;
    b.g.dim = dim;
    b.g.dot = vecmath_get()->dot;
    memcpy(b.g.levels, levels, n);
    memcpy(b.g.upper_of, upper_of, (size_t)n * 4);
    free(levels);
    free(upper_of);

    if (n > 0) {
        b.g.locks = xcalloc(n, 1);
        b.ef_construction = ef_c;
        pthread_mutex_init(&b.top_lock, NULL);
        b.entry = 0;
        b.max_level = b.g.levels[0];
        b.next = 1;
        int threads = p->threads > 0 ? p->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (threads < 1) threads = 1;
        if ((uint32_t)threads > n / 256 + 1) threads = (int)(n / 256 + 1);
        /* Seed the graph on one thread so early nodes are not all racing
         * for the same few links. */
        hnsw_scratch *s = hnsw_scratch_new(n);
        uint32_t serial = n < 1000 ? n : 1000;
        for (; b.next < serial; b.next++) insert(&b, b.next, s);
        hnsw_scratch_free(s);
        pthread_t *tids = xcalloc((size_t)threads, sizeof *tids);
        int started = 0;
        for (int t = 1; t < threads; t++)
            if (pthread_create(&tids[t], NULL, build_thread, &b) == 0) started = t;
        build_thread(&b);
        for (int t = 1; t <= started; t++) pthread_join(tids[t], NULL);
        free(tids);
        pthread_mutex_destroy(&b.top_lock);
        free(b.g.locks);
        max_level = b.max_level;
    }
    hdr[0] = HNSW_MAGIC;
    hdr[1] = n;
    hdr[2] = m;
    hdr[3] = m0;
    hdr[4] = (uint32_t)max_level;
    hdr[5] = b.entry;
    hdr[6] = (uint32_t)blocks;
    hdr[7] = 0;
}

int hnsw_view_open(hnsw_view *v, const void *blob, size_t len, uint32_t n_expected, char *err,
                   size_t errlen) {
    const uint32_t *hdr = blob;
    if (len < HNSW_HEADER_WORDS * 4 || hdr[0] != HNSW_MAGIC)
        return seterr(err, errlen, "HNSW graph: bad header");
    uint32_t n = hdr[1], m = hdr[2], m0 = hdr[3], blocks = hdr[6];
    int32_t max_level = (int32_t)hdr[4];
    if (n != n_expected || m < 2 || m > 64 || m0 != 2 * m || max_level > HNSW_MAX_LEVEL ||
        (n > 0 && (max_level < 0 || hdr[5] >= n)))
        return seterr(err, errlen, "HNSW graph: inconsistent header");
    size_t need = HNSW_HEADER_WORDS * 4 + pad4(n) + (size_t)n * (1 + m0) * 4 + (size_t)n * 4 +
                  (size_t)blocks * (1 + m) * 4;
    if (need != len) return seterr(err, errlen, "HNSW graph: size mismatch");
    v->n = n;
    v->m = m;
    v->m0 = m0;
    v->entry = hdr[5];
    v->max_level = max_level;
    v->upper_blocks = blocks;
    v->levels = (const uint8_t *)(hdr + HNSW_HEADER_WORDS);
    v->level0 = (const uint32_t *)(const void *)(v->levels + pad4(n));
    v->upper_of = v->level0 + (size_t)n * (1 + m0);
    v->upper = v->upper_of + n;
    if (n > 0 && v->levels[v->entry] != max_level)
        return seterr(err, errlen, "HNSW graph: entry point not on the top level");
    /* Every link must name a node of the graph that exists on that level, or
     * a search would follow it into another node's storage. */
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *l = v->level0 + (size_t)i * (1 + m0);
        if (l[0] > m0) return seterr(err, errlen, "HNSW graph: node %u has too many links", i);
        for (uint32_t j = 1; j <= l[0]; j++)
            if (l[j] >= n) return seterr(err, errlen, "HNSW graph: link out of range");
        int lv = v->levels[i];
        if (lv == 0) continue;
        if (lv > max_level || (size_t)v->upper_of[i] + (size_t)lv > blocks)
            return seterr(err, errlen, "HNSW graph: bad level table");
        for (int L = 1; L <= lv; L++) {
            const uint32_t *u = v->upper + ((size_t)v->upper_of[i] + (size_t)(L - 1)) * (1 + m);
            if (u[0] > m) return seterr(err, errlen, "HNSW graph: upper block overfull");
            for (uint32_t j = 1; j <= u[0]; j++)
                if (u[j] >= n || v->levels[u[j]] < L)
                    return seterr(err, errlen, "HNSW graph: link to a node not on its level");
        }
    }
    return 0;
}

int hnsw_search(const hnsw_view *v, const float *vectors, size_t dim, const float *q, int k, int ef,
                hnsw_scratch *s, scored *out) {
    if (v->n == 0 || k <= 0) return 0;
    if (ef < k) ef = k;
    graph g = {.n = v->n,
               .m = v->m,
               .m0 = v->m0,
               .levels = (uint8_t *)v->levels,
               .level0 = (uint32_t *)v->level0,
               .upper_of = (uint32_t *)v->upper_of,
               .upper = (uint32_t *)v->upper,
               .vectors = vectors,
               .dim = dim,
               .dot = vecmath_get()->dot,
               .locks = NULL};
    uint32_t cur = v->entry;
    float cur_sim = g.dot(q, vec(&g, cur), dim);
    for (int lv = v->max_level; lv > 0; lv--) cur = greedy(&g, q, cur, &cur_sim, lv);
    search_level(&g, q, cur, cur_sim, ef, 0, s);
    while (s->res.len > k) minheap_pop(&s->res);
    return topk_drain(&s->res, out);
}
