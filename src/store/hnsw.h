/* hnsw — Hierarchical Navigable Small World graphs (Malkov & Yashunin 2016)
 * for approximate maximum-inner-product search over unit vectors.
 *
 * A graph is one flat blob, the same in memory while building and on disk:
 *   header (magic, n, M, M0 = 2M, max level, entry point, upper block count)
 *   levels   uint8[n] (padded to 4 bytes)
 *   level0   uint32[n][1 + M0]     count, then neighbour ids
 *   upper_of uint32[n]             first upper block of a node (or none)
 *   upper    uint32[blocks][1 + M] one block per node per level >= 1
 * Levels are drawn up front from a seeded generator, so every node's storage
 * is laid out before insertion starts; insertion then runs on several
 * threads with one spin lock per node (as hnswlib does), and the finished
 * blob is written to the store as is and searched in place from the mmap.
 * Vectors are not copied: the graph refers to rows of the store's matrix.
 */
#ifndef RAGD_STORE_HNSW_H
#define RAGD_STORE_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "store/topk.h"
#include "util/buf.h"

typedef struct hnsw_params {
    int m;               /* links per node on levels >= 1 (2m on level 0); default 16 */
    int ef_construction; /* beam width while inserting; default 100 */
    int threads;         /* <= 0: one per core */
    uint64_t seed;       /* level generator seed */
} hnsw_params;

/* Build a graph over n rows of dim floats and append its blob to out
 * (4-byte aligned data; out should start 8-aligned). */
void hnsw_build(const float *vectors, uint32_t n, size_t dim, const hnsw_params *p, buf *out);

typedef struct hnsw_view {
    uint32_t n, m, m0, entry, upper_blocks;
    int32_t max_level;
    const uint8_t *levels;
    const uint32_t *level0, *upper_of, *upper;
} hnsw_view;

/* Point v into a blob of len bytes (checks sizes and that every link names a
 * node of the graph). 0, or -1 with err set. */
int hnsw_view_open(hnsw_view *v, const void *blob, size_t len, uint32_t n_expected, char *err,
                   size_t errlen);

/* Scratch memory of one search (visited marks and heaps); reuse it across
 * searches of graphs with at most n nodes, one thread at a time. */
typedef struct hnsw_scratch hnsw_scratch;
hnsw_scratch *hnsw_scratch_new(uint32_t n);
void hnsw_scratch_free(hnsw_scratch *s);
uint32_t hnsw_scratch_capacity(const hnsw_scratch *s);

/* The k nearest rows (by dot product) to q, best first, into out (room for
 * k); ef >= k is the beam width. Returns the count. */
int hnsw_search(const hnsw_view *v, const float *vectors, size_t dim, const float *q, int k, int ef,
                hnsw_scratch *s, scored *out);

#endif
