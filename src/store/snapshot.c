/* snapshot — one immutable store.bin: map it, verify it, answer searches
 * over its rows. The store (store.c) hands snapshots out inside views; a
 * snapshot is freed when the last view holding it is released.
 *
 * Opening checks, in order, everything that could make a mapped pointer
 * wrong: magic, format version, header checksum, model and dim, section
 * bounds, every section's CRC32, then the cross-references between tables
 * (rows, topics, string offsets, graph links). After that, searches trust
 * the mapping and do no bounds checks in their loops.
 *
 * Rows are grouped by topic, so a topic is a contiguous row range: the exact
 * scan walks just that range, BM25 binary-searches into its postings, and
 * each topic has its own HNSW graph. A query over all topics scans all rows
 * (exact, BM25) or searches every topic's graph and merges (HNSW).
 */
#include "store/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store/format.h"
#include "store/hnsw.h"
#include "store/store_internal.h"
#include "store/vecmath.h"
#include "util/util.h"

#define RRF_K 60.0f
#define HYBRID_DEPTH 50 /* each half contributes its best max(k, this) */

struct snapshot {
    atomic_int refs; /* views holding it + the store while it is current */
    int fd;
    const uint8_t *map;
    size_t size;
    const disk_header *h;
    uint32_t n, n_topics, dim;
    const disk_topic *topics;
    const disk_passage *passages;
    const char *strings;
    size_t strings_len;
    const uint32_t *row_ids;
    const float *vectors;
    bm25_view bm25;
    hnsw_view *graphs;
    const char **topic_names;
    char model[MODEL_ID_MAX + 1];
    const vecmath_ops *ops;
    uint32_t max_topic_rows;
    pthread_mutex_t pool_lock; /* free HNSW scratch buffers, one per concurrent search */
    hnsw_scratch **pool;
    int pool_len, pool_cap;
    /* Free query analyzers (a Snowball stemmer is single-threaded), behind pool_lock. */
    analyzer **analyzers;
    int analyzers_len, analyzers_cap;
};

static const char *rebuild_hint = "remove the data directory (or choose another --data-dir) "
                                  "and run `ragd ingest` to rebuild it";

bool store_exists(const char *data_dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data_dir, STORE_FILE);
    return file_exists(path);
}

int store_check_header(const disk_header *h, size_t file_size, const char *path,
                       const char *expected_model, int expected_dim, char *err, size_t errlen) {
    if (file_size < sizeof *h || memcmp(h->magic, STORE_MAGIC, 8) != 0)
        return seterr(err, errlen, "%s is not a ragd store (bad magic or truncated); %s", path,
                      rebuild_hint);
    if (h->version != STORE_FORMAT_VERSION)
        return seterr(err, errlen,
                      "%s has store format version %u but this ragd reads version %d; re-run "
                      "`ragd ingest` on it to rebuild the snapshot from its log (nothing is "
                      "encoded again), or %s",
                      path, h->version, STORE_FORMAT_VERSION, rebuild_hint);
    if (store_crc32(h, offsetof(disk_header, header_crc)) != h->header_crc)
        return seterr(err, errlen, "%s is corrupted (header checksum mismatch); %s", path,
                      rebuild_hint);
    char analyzer_id[ANALYZER_ID_MAX + 1];
    memcpy(analyzer_id, h->analyzer, ANALYZER_ID_MAX);
    analyzer_id[ANALYZER_ID_MAX] = '\0';
    if (strcmp(analyzer_id, ANALYZER_ID) != 0)
        return seterr(err, errlen,
                      "%s was indexed with BM25 analyzer \"%s\" but this ragd uses \"%s\"; "
                      "re-run `ragd ingest` on it to rebuild the index from its log (nothing is "
                      "encoded again), or %s",
                      path, analyzer_id, ANALYZER_ID, rebuild_hint);
    char model[MODEL_ID_MAX + 1];
    memcpy(model, h->model, MODEL_ID_MAX);
    model[MODEL_ID_MAX] = '\0';
    if (expected_model != NULL && strcmp(model, expected_model) != 0)
        return seterr(err, errlen,
                      "%s was built with model \"%s\" but this ragd uses \"%s\"; run ingest "
                      "with the same model, or %s",
                      path, model, expected_model, rebuild_hint);
    if (expected_dim > 0 && (int)h->dim != expected_dim)
        return seterr(err, errlen, "%s holds %u-dimensional vectors but the model gives %d; %s",
                      path, h->dim, expected_dim, rebuild_hint);
    return 0;
}

static int check_sections(snapshot *s, const char *path, char *err, size_t errlen) {
    const disk_header *h = s->h;
    for (int i = 0; i < SEC_COUNT; i++) {
        const disk_section *sec = &h->sections[i];
        if (sec->offset % SECTION_ALIGN != 0 || sec->offset < sizeof *h ||
            sec->offset > s->size || sec->size > s->size - sec->offset)
            return seterr(err, errlen, "%s is truncated or corrupted (section %d out of bounds); %s",
                          path, i, rebuild_hint);
        if (store_crc32(s->map + sec->offset, sec->size) != sec->crc)
            return seterr(err, errlen, "%s is corrupted (section %d checksum mismatch); %s", path,
                          i, rebuild_hint);
    }
    return 0;
}

static int check_tables(snapshot *s, const char *path, char *err, size_t errlen) {
    const disk_header *h = s->h;
    const disk_section *sec = h->sections;
    uint32_t n = s->n;
    if (sec[SEC_TOPICS].size != (uint64_t)s->n_topics * sizeof(disk_topic) ||
        sec[SEC_PASSAGES].size != (uint64_t)n * sizeof(disk_passage) ||
        sec[SEC_ROW_IDS].size != (uint64_t)n * 4 ||
        sec[SEC_VECTORS].size != (uint64_t)n * s->dim * sizeof(float) ||
        sec[SEC_STRINGS].size == 0 || s->strings[s->strings_len - 1] != '\0' ||
        sec[SEC_HNSW].size < (uint64_t)s->n_topics * 16)
        goto bad;
    uint32_t next_row = 0;
    for (uint32_t t = 0; t < s->n_topics; t++) {
        const disk_topic *tp = &s->topics[t];
        if (tp->name >= s->strings_len || tp->row_start != next_row || tp->rows > n - next_row)
            goto bad;
        next_row += tp->rows;
        if (tp->rows > s->max_topic_rows) s->max_topic_rows = tp->rows;
        /* Names sorted and distinct, so snap_topics() is sorted and lookups unambiguous. */
        if (t > 0 && strcmp(s->strings + s->topics[t - 1].name, s->strings + tp->name) >= 0)
            goto bad;
    }
    if (next_row != n) goto bad;
    for (uint32_t id = 0; id < n; id++) {
        const disk_passage *p = &s->passages[id];
        if (p->article_id >= s->strings_len || p->heading >= s->strings_len ||
            p->date >= s->strings_len || p->text >= s->strings_len ||
            p->text_len > s->strings_len - p->text || p->row >= n || p->topic >= s->n_topics ||
            s->row_ids[p->row] != id || p->row < s->topics[p->topic].row_start ||
            p->row - s->topics[p->topic].row_start >= s->topics[p->topic].rows)
            goto bad;
    }
    return 0;
bad:
    return seterr(err, errlen, "%s is corrupted (inconsistent tables); %s", path, rebuild_hint);
}

static int open_indexes(snapshot *s, const char *path, char *err, size_t errlen) {
    const disk_section *sec = s->h->sections;
    char why[256];
    if (bm25_view_open(&s->bm25, s->map + sec[SEC_BM25].offset, sec[SEC_BM25].size, s->n, why,
                       sizeof why) != 0)
        return seterr(err, errlen, "%s is corrupted (%s); %s", path, why, rebuild_hint);
    const uint8_t *base = s->map + sec[SEC_HNSW].offset;
    const uint64_t *offs = (const uint64_t *)(const void *)base;
    const uint64_t *lens = offs + s->n_topics;
    s->graphs = xcalloc(s->n_topics ? s->n_topics : 1, sizeof *s->graphs);
    for (uint32_t t = 0; t < s->n_topics; t++) {
        if (offs[t] % 8 != 0 || offs[t] > sec[SEC_HNSW].size ||
            lens[t] > sec[SEC_HNSW].size - offs[t] ||
            hnsw_view_open(&s->graphs[t], base + offs[t], lens[t], s->topics[t].rows, why,
                           sizeof why) != 0)
            return seterr(err, errlen, "%s is corrupted (topic %u: %s); %s", path, t,
                          offs[t] % 8 ? "misaligned graph" : why, rebuild_hint);
    }
    return 0;
}

snapshot *snap_open(const char *data_dir, const char *expected_model, char *err, size_t errlen) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data_dir, STORE_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            seterr(err, errlen, "no store in %s (no %s): run `ragd ingest --data-dir %s` first",
                   data_dir, STORE_FILE, data_dir);
        else
            seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(disk_header)) {
        seterr(err, errlen, "%s is truncated or not a ragd store; %s", path, rebuild_hint);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        seterr(err, errlen, "cannot map %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    snapshot *s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->fd = fd;
    s->map = map;
    s->size = (size_t)st.st_size;
    s->h = map;
    s->ops = vecmath_get();
    pthread_mutex_init(&s->pool_lock, NULL);
    if (store_check_header(s->h, s->size, path, expected_model, 0, err, errlen) != 0 ||
        check_sections(s, path, err, errlen) != 0)
        goto fail;
    const disk_section *sec = s->h->sections;
    s->n = s->h->n_passages;
    s->n_topics = s->h->n_topics;
    s->dim = s->h->dim;
    memcpy(s->model, s->h->model, MODEL_ID_MAX);
    s->topics = (const disk_topic *)(const void *)(s->map + sec[SEC_TOPICS].offset);
    s->passages = (const disk_passage *)(const void *)(s->map + sec[SEC_PASSAGES].offset);
    s->strings = (const char *)(s->map + sec[SEC_STRINGS].offset);
    s->strings_len = sec[SEC_STRINGS].size;
    s->row_ids = (const uint32_t *)(const void *)(s->map + sec[SEC_ROW_IDS].offset);
    s->vectors = (const float *)(const void *)(s->map + sec[SEC_VECTORS].offset);
    if (s->dim == 0) {
        seterr(err, errlen, "%s is corrupted (dimension 0); %s", path, rebuild_hint);
        goto fail;
    }
    if (check_tables(s, path, err, errlen) != 0 || open_indexes(s, path, err, errlen) != 0)
        goto fail;
    s->topic_names = xcalloc(s->n_topics + 1, sizeof *s->topic_names);
    for (uint32_t t = 0; t < s->n_topics; t++) s->topic_names[t] = s->strings + s->topics[t].name;
    return s;
fail:
    snap_close(s);
    return NULL;
}

void snap_ref(snapshot *s) { atomic_fetch_add(&s->refs, 1); }

void snap_unref(snapshot *s) {
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) snap_close(s);
}

void snap_close(snapshot *s) {
    if (s == NULL) return;
    for (int i = 0; i < s->pool_len; i++) hnsw_scratch_free(s->pool[i]);
    free(s->pool);
    for (int i = 0; i < s->analyzers_len; i++) analyzer_free(s->analyzers[i]);
    free(s->analyzers);
    pthread_mutex_destroy(&s->pool_lock);
    free(s->graphs);
    free(s->topic_names);
    munmap((void *)s->map, s->size);
    close(s->fd);
    free(s);
}

const char *snap_model(const snapshot *s) { return s->model; }

int snap_dim(const snapshot *s) { return (int)s->dim; }

static int find_topic(const snapshot *s, const char *topic) {
    uint32_t lo = 0, hi = s->n_topics;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->topic_names[mid], topic);
        if (c == 0) return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool snap_has_topic(const snapshot *s, const char *topic) { return find_topic(s, topic) >= 0; }

size_t snap_count(const snapshot *s, const char *topic) {
    if (topic == NULL) return s->n;
    int t = find_topic(s, topic);
    return t < 0 ? 0 : s->topics[t].rows;
}

int snap_topics(const snapshot *s, const char *const **names) {
    *names = s->topic_names;
    return (int)s->n_topics;
}

int snap_get(const snapshot *s, uint32_t id, store_passage *out) {
    if (id >= s->n) return -1;
    const disk_passage *p = &s->passages[id];
    out->id = id;
    out->article_id = s->strings + p->article_id;
    out->heading = s->strings + p->heading;
    out->date = s->strings + p->date;
    out->topic = s->topic_names[p->topic];
    out->text = s->strings + p->text;
    out->passage_index = p->passage_index;
    return 0;
}

const float *snap_vector(const snapshot *s, uint32_t id) {
    if (id >= s->n) return NULL;
    return s->vectors + (size_t)s->passages[id].row * s->dim;
}

/* ---- search ------------------------------------------------------------ */

bool store_valid_date(const char *d) {
    if (d == NULL || strlen(d) != 10 || d[4] != '-' || d[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) return false;
    int y = atoi(d), m = atoi(d + 5), day = atoi(d + 8);
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || day < 1 || day > days[m - 1]) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && day == 29 && !leap);
}

/* What a search keeps: the query's date range, on a row. */
typedef struct row_filter {
    const snapshot *s;
    const char *from, *to; /* NULL: open end */
} row_filter;

static bool row_in_range(uint32_t row, const void *ctx) {
    const row_filter *f = ctx;
    const char *date = f->s->strings + f->s->passages[f->s->row_ids[row]].date;
    /* ISO dates order as strings; a passage with no date matches no range. */
    if (strlen(date) < 10) return false;
    if (f->from != NULL && strncmp(date, f->from, 10) < 0) return false;
    if (f->to != NULL && strncmp(date, f->to, 10) > 0) return false;
    return true;
}

static void exact_scan(const snapshot *s, const float *q, uint32_t lo, uint32_t hi,
                       const row_filter *f, heap *top) {
    const float *v = s->vectors + (size_t)lo * s->dim;
    size_t dim = s->dim;
    dot4_fn dot4 = s->ops->dot4;
    uint32_t r = lo;
    float d[4];
    for (; r + 4 <= hi; r += 4, v += 4 * dim) {
        dot4(q, v, dim, d);
        for (int j = 0; j < 4; j++) {
            /* Inline threshold test: most rows lose to the current k-th best. */
            if ((top->len < top->cap || d[j] > top->items[0].score) &&
                (f == NULL || row_in_range(r + (uint32_t)j, f)))
                topk_offer(top, (scored){d[j], r + (uint32_t)j});
        }
    }
    for (; r < hi; r++, v += dim)
        if (f == NULL || row_in_range(r, f)) topk_offer(top, (scored){s->ops->dot(q, v, dim), r});
}

static hnsw_scratch *scratch_take(snapshot *s) {
    hnsw_scratch *sc = NULL;
    pthread_mutex_lock(&s->pool_lock);
    if (s->pool_len > 0) sc = s->pool[--s->pool_len];
    pthread_mutex_unlock(&s->pool_lock);
    return sc ? sc : hnsw_scratch_new(s->max_topic_rows);
}

static void scratch_give(snapshot *s, hnsw_scratch *sc) {
    pthread_mutex_lock(&s->pool_lock);
    if (s->pool_len == s->pool_cap) {
        s->pool_cap = s->pool_cap ? s->pool_cap * 2 : 8;
        s->pool = xrealloc(s->pool, (size_t)s->pool_cap * sizeof *s->pool);
    }
    s->pool[s->pool_len++] = sc;
    pthread_mutex_unlock(&s->pool_lock);
}

static analyzer *analyzer_take(snapshot *s) {
    analyzer *a = NULL;
    pthread_mutex_lock(&s->pool_lock);
    if (s->analyzers_len > 0) a = s->analyzers[--s->analyzers_len];
    pthread_mutex_unlock(&s->pool_lock);
    return a ? a : analyzer_new();
}

static void analyzer_give(snapshot *s, analyzer *a) {
    pthread_mutex_lock(&s->pool_lock);
    if (s->analyzers_len == s->analyzers_cap) {
        s->analyzers_cap = s->analyzers_cap ? s->analyzers_cap * 2 : 8;
        s->analyzers = xrealloc(s->analyzers, (size_t)s->analyzers_cap * sizeof *s->analyzers);
    }
    s->analyzers[s->analyzers_len++] = a;
    pthread_mutex_unlock(&s->pool_lock);
}

/* The best depth rows by vector similarity over topics [t0, t1), best first. */
static int vector_rows(const snapshot *cs, const store_query *q, uint32_t t0, uint32_t t1,
                       const row_filter *f, int depth, scored *out) {
    snapshot *s = (snapshot *)cs; /* the pools are the one mutable part, behind their lock */
    heap top = {.items = xmalloc((size_t)depth * sizeof(scored)), .len = 0, .cap = depth};
    if (!q->approximate || f != NULL) {
        /* A graph walk cannot skip rows out of the date range without losing
         * recall, so a filtered query scans exactly. */
        exact_scan(s, q->vector, s->topics[t0].row_start,
                   s->topics[t1 - 1].row_start + s->topics[t1 - 1].rows, f, &top);
    } else {
        int ef = q->ef_search > 0 ? q->ef_search : (depth * 2 > 128 ? depth * 2 : 128);
        if (ef < depth) ef = depth;
        hnsw_scratch *sc = scratch_take(s);
        scored *part = xmalloc((size_t)depth * sizeof *part);
        for (uint32_t t = t0; t < t1; t++) {
            int n = hnsw_search(&s->graphs[t], s->vectors + (size_t)s->topics[t].row_start * s->dim,
                                s->dim, q->vector, depth, ef, sc, part);
            for (int i = 0; i < n; i++)
                topk_offer(&top, (scored){part[i].score, part[i].id + s->topics[t].row_start});
        }
        free(part);
        scratch_give(s, sc);
    }
    int n = topk_drain(&top, out);
    free(top.items);
    return n;
}

/* The best depth rows by BM25F, or -1 if no analyzer could be made. */
static int lexical_rows(const snapshot *cs, const store_query *q, uint32_t t0, uint32_t t1,
                        const row_filter *f, int depth, scored *out) {
    snapshot *s = (snapshot *)cs;
    uint32_t lo = s->topics[t0].row_start, hi = s->topics[t1 - 1].row_start + s->topics[t1 - 1].rows;
    bm25_params params;
    if (q->bm25 != NULL)
        params = (bm25_params){q->bm25->k1, q->bm25->b, q->bm25->heading_weight};
    analyzer *a = analyzer_take(s);
    if (a == NULL) return -1;
    int n = bm25_search(&s->bm25, q->bm25 ? &params : NULL, a, q->text, q->text_len, lo, hi,
                        f ? row_in_range : NULL, f, depth, out);
    analyzer_give(s, a);
    return n;
}

/* A candidate of the final list, with where it came from. */
typedef struct candidate {
    float score;
    uint32_t row;
    int lexical_rank, vector_rank;
    float lexical_score, vector_score;
} candidate;

static int by_score_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Reciprocal rank fusion: score(d) = sum over lists of w / (60 + rank), rank
 * from 1, w = 1 for the lexical list and vector_weight for the vector list.
 * Rank-based, so it needs no calibration between cosine and BM25 scales, and
 * k = 60 (Cormack et al. 2009) damps the head of each list. */
static int fuse(const scored *va, int nv, float vector_weight, const scored *la, int nl,
                candidate *out) {
    int n = 0;
    for (int i = 0; i < nv; i++)
        out[n++] = (candidate){.score = vector_weight / (RRF_K + (float)(i + 1)), .row = va[i].id,
                               .vector_rank = i + 1, .vector_score = va[i].score};
    for (int i = 0; i < nl; i++) {
        float add = 1.0f / (RRF_K + (float)(i + 1));
        int j = 0;
        while (j < nv && out[j].row != la[i].id) j++;
        if (j == nv) out[j = n++] = (candidate){.row = la[i].id};
        out[j].score += add;
        out[j].lexical_rank = i + 1;
        out[j].lexical_score = la[i].score;
    }
    qsort(out, (size_t)n, sizeof *out, by_score_desc);
    return n;
}

/* Lexical-first fusion (store_query.lexical_first): the lexical list, then
 * the vector list's rows not in it; each keeps its place in both lists. */
static int lexical_then_vector(const scored *va, int nv, const scored *la, int nl,
                               candidate *out) {
    int n = 0;
    for (int i = 0; i < nl; i++)
        out[n++] = (candidate){.row = la[i].id, .lexical_rank = i + 1, .lexical_score = la[i].score};
    for (int i = 0; i < nv; i++) {
        int j = 0;
        while (j < nl && out[j].row != va[i].id) j++;
        if (j == nl) out[j = n++] = (candidate){.row = va[i].id};
        out[j].vector_rank = i + 1;
        out[j].vector_score = va[i].score;
    }
    for (int i = 0; i < n; i++) out[i].score = 1.0f / (RRF_K + (float)(i + 1));
    return n;
}

/* The first k candidates, at most cap (> 0) of one article: candidates are
 * best first, so each article keeps its best passages. */
static int cap_per_article(const snapshot *s, const candidate *c, int n, int cap, int k,
                           search_hit *hits) {
    int out = 0;
    for (int i = 0; i < n && out < k; i++) {
        uint32_t id = s->row_ids[c[i].row];
        const char *article = s->strings + s->passages[id].article_id;
        int same = 0;
        for (int j = 0; j < out && same < cap; j++)
            same += strcmp(article, s->strings + s->passages[hits[j].passage_id].article_id) == 0;
        if (same >= cap) continue;
        hits[out++] = (search_hit){id, c[i].score, c[i].lexical_rank, c[i].vector_rank,
                                   c[i].lexical_score, c[i].vector_score};
    }
    return out;
}

/* seterr's -1 is the query's fault: STORE_ERR_BAD_QUERY (store.h). */
_Static_assert(STORE_ERR_BAD_QUERY == -1, "store_search returns seterr's -1 as STORE_ERR_BAD_QUERY");

int snap_search(const snapshot *s, const store_query *q, search_hit *hits, char *err, size_t errlen) {
    if (q->k < 1 || q->k > STORE_MAX_K)
        return seterr(err, errlen, "k must be between 1 and %d", STORE_MAX_K);
    bool need_vec = q->mode != SEARCH_LEXICAL, need_text = q->mode != SEARCH_VECTOR;
    if (q->mode != SEARCH_HYBRID && q->mode != SEARCH_VECTOR && q->mode != SEARCH_LEXICAL)
        return seterr(err, errlen, "unknown search mode %d", (int)q->mode);
    if (need_vec && q->vector == NULL) return seterr(err, errlen, "this search mode needs a query vector");
    if (need_text && q->text == NULL) return seterr(err, errlen, "this search mode needs query text");
    if (q->date_from != NULL && !store_valid_date(q->date_from))
        return seterr(err, errlen, "date_from must be a date YYYY-MM-DD");
    if (q->date_to != NULL && !store_valid_date(q->date_to))
        return seterr(err, errlen, "date_to must be a date YYYY-MM-DD");
    if (q->date_from != NULL && q->date_to != NULL && strcmp(q->date_from, q->date_to) > 0)
        return seterr(err, errlen, "date_from is after date_to");
    if (q->max_per_article < 0) return seterr(err, errlen, "max_per_article must be 0 or more");
    uint32_t t0 = 0, t1 = s->n_topics;
    if (q->topic != NULL) {
        int t = find_topic(s, q->topic);
        if (t < 0) return 0;
        t0 = (uint32_t)t;
        t1 = t0 + 1;
    }
    if (t0 >= t1 || s->n == 0) return 0;
    row_filter filter = {s, q->date_from, q->date_to};
    const row_filter *f = q->date_from || q->date_to ? &filter : NULL;

    int k = q->k;
    /* The article cap drops candidates, so each half looks deeper. */
    int depth = q->max_per_article > 0 ? 4 * k : k;
    if (q->mode == SEARCH_HYBRID && depth < HYBRID_DEPTH) depth = HYBRID_DEPTH;
    if (depth > STORE_MAX_K) depth = STORE_MAX_K;
    if (depth < k) depth = k;
    scored *va = xmalloc((size_t)depth * sizeof *va), *la = xmalloc((size_t)depth * sizeof *la);
    candidate *c = xmalloc((size_t)depth * 2 * sizeof *c);
    int nv = need_vec ? vector_rows(s, q, t0, t1, f, depth, va) : 0;
    int nl = need_text ? lexical_rows(s, q, t0, t1, f, depth, la) : 0;
    int n = STORE_ERR_ANALYZER;
    if (nl < 0) {
        seterr(err, errlen, "cannot make the BM25 analyzer (libstemmer without English?)");
        goto done;
    }
    int nc = 0;
    if (q->mode == SEARCH_HYBRID && q->lexical_first) {
        nc = lexical_then_vector(va, nv, la, nl, c);
    } else if (q->mode == SEARCH_HYBRID) {
        float w = q->vector_weight > 0 && q->vector_weight < 1 ? q->vector_weight : 1.0f;
        nc = fuse(va, nv, w, la, nl, c);
    } else if (q->mode == SEARCH_VECTOR) {
        for (int i = 0; i < nv; i++)
            c[nc++] = (candidate){.score = va[i].score, .row = va[i].id, .vector_rank = i + 1,
                                  .vector_score = va[i].score};
    } else {
        for (int i = 0; i < nl; i++)
            c[nc++] = (candidate){.score = la[i].score, .row = la[i].id, .lexical_rank = i + 1,
                                  .lexical_score = la[i].score};
    }
    if (q->max_per_article > 0) {
        n = cap_per_article(s, c, nc, q->max_per_article, k, hits);
    } else {
        n = nc < k ? nc : k;
        for (int i = 0; i < n; i++)
            hits[i] = (search_hit){s->row_ids[c[i].row], c[i].score, c[i].lexical_rank,
                                   c[i].vector_rank, c[i].lexical_score, c[i].vector_score};
    }
done:
    free(va);
    free(la);
    free(c);
    return n;
}

store_bm25_params snap_bm25(const snapshot *s) {
    const bm25_params *p = &s->bm25.params;
    return (store_bm25_params){p->k1, p->b, p->w_heading};
}

const disk_header *snap_header(const snapshot *s) { return s->h; }
