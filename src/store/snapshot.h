/* snapshot — the store's internal view of one mapped, verified store.bin:
 * what the views (store.c) and the writers share. Reference counted: the
 * store holds one reference to its current snapshot, every view one more. */
#ifndef RAGD_STORE_SNAPSHOT_H
#define RAGD_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store/format.h"
#include "store/hnsw.h"
#include "store/vecmath.h"
#include "store/store.h"

typedef struct snapshot snapshot;

/* Exposed to the store's own files (views, search, merge); nothing outside
 * src/store sees it. Every pointer points into the mapping. */
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
    const disk_article *articles; /* sorted by id */
    uint32_t n_articles;
    /* Derived at open, for BM25's article field (search.c), owned: */
    uint32_t *row_article; /* row -> index into articles */
    uint32_t *article_len; /* article -> body terms of all its passages */
    float *row_inv_norm;   /* row -> 1 / BM25's length norm at the index's b and this
                            * snapshot's average length (search.c, while no write changed it) */
    uint64_t total_body; /* body terms of every passage (BM25 lengths) */
};

/* The store's scratch pools (behind pool_lock). */
hnsw_scratch *snap_scratch_take(snapshot *s);
void snap_scratch_give(snapshot *s, hnsw_scratch *sc);
analyzer *snap_analyzer_take(snapshot *s);
void snap_analyzer_give(snapshot *s, analyzer *a);

/* Map and verify data_dir/store.bin (store_open's checks and messages); the
 * result holds one reference. */
snapshot *snap_open(const char *data_dir, const char *expected_model, char *err, size_t errlen);
void snap_ref(snapshot *s);
/* Drop a reference; the last one unmaps the file. */
void snap_unref(snapshot *s);
void snap_close(snapshot *s);

const char *snap_model(const snapshot *s);
int snap_dim(const snapshot *s);
size_t snap_count(const snapshot *s, const char *topic);
int snap_topics(const snapshot *s, const char *const **names);
bool snap_has_topic(const snapshot *s, const char *topic);
int snap_get(const snapshot *s, uint32_t id, store_passage *out);
const float *snap_vector(const snapshot *s, uint32_t id);
/* The snapshot's topic index of name, or -1. */
int snap_find_topic(const snapshot *s, const char *name);
/* The article with this id (index into s->articles), or -1. */
int64_t snap_find_article(const snapshot *s, const char *id);
store_bm25_params snap_bm25(const snapshot *s);
const disk_header *snap_header(const snapshot *s);

#endif
