/* live — the changes since a snapshot: an epoch is one snapshot plus the
 * live segment written on top of it (passages put since, searched exactly,
 * with their BM25 terms), the generation stamps that hide replaced and
 * deleted passages (tombstones), and the directory of articles.
 *
 * Generations: every write makes generation g + 1. A passage or article
 * version carries born (the generation that added it) and dead (the one that
 * hid it; LIVE_ALIVE while live). A view of generation v sees exactly what
 * has born <= v < dead, so publishing a write copies nothing: the writer
 * stamps dead on the old version and appends the new one, then publishes a
 * view with the next generation. Older views keep seeing the old state.
 *
 * Threads: one writer at a time (the store's apply lock) appends and stamps;
 * readers read stamps atomically and live passages below their view's
 * prefix (chunks never move, so no lock). The article directory's hash
 * table grows, so it has a reader-writer lock the writer holds only for the
 * in-memory insert. An epoch is freed when its last view is released.
 */
#ifndef RAGD_STORE_LIVE_H
#define RAGD_STORE_LIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/snapshot.h"

#define LIVE_ALIVE UINT64_MAX
#define LIVE_CHUNK 1024
#define LIVE_MAX_CHUNKS 4096 /* 4 M live passages before a merge must run */
#define STORE_MAX_TOPICS 4096

/* One BM25 term of a live passage: the term's 64-bit FNV-1a hash (a
 * collision between two of a query's terms and a passage's is a 2^-64 event)
 * and its frequencies in the two fields. Sorted by hash. */
typedef struct live_term {
    uint64_t hash;
    uint32_t body, heading;
} live_term;

typedef struct live_article live_article;

typedef struct live_passage {
    const live_article *article;
    const char *text;
    int32_t passage_index;
    uint32_t body_len; /* body terms (BM25 length) */
    uint32_t n_terms;
    live_term *terms;
    float *vec;
    _Atomic uint64_t dead;
} live_passage;

/* One version of an article (snapshot or live). */
struct live_article {
    char *id, *heading, *date, *text; /* owned (live) or into the snapshot (snap) */
    uint32_t topic;                   /* store-wide topic index */
    bool in_snapshot;
    uint32_t first;                   /* snapshot passage id, or live passage index */
    uint32_t n_passages;
    uint64_t born;
    _Atomic uint64_t dead;
    live_article *older;              /* the version it replaced (same id), or NULL */
};

typedef struct epoch {
    atomic_int refs;
    snapshot *snap;
    uint32_t *snap_topic;   /* snapshot topic index -> store-wide topic index */
    _Atomic uint64_t *snap_dead; /* per snapshot row: generation that hid it */
    live_passage *chunks[LIVE_MAX_CHUNKS];
    uint32_t n_live;        /* live passages appended (writer's count) */
    /* Article directory: id -> newest version. */
    pthread_rwlock_t dir_lock;
    live_article **slots;
    uint32_t slots_cap, n_ids;
    live_article **owned;   /* every live version, for freeing */
    uint32_t n_owned, owned_cap;
} epoch;

static inline live_passage *epoch_passage(const epoch *e, uint32_t i) {
    return &e->chunks[i / LIVE_CHUNK][i % LIVE_CHUNK];
}

/* A fresh epoch over snap (takes the caller's reference); snapshot articles
 * enter the directory with born 0; topics are interned through intern. */
epoch *epoch_new(snapshot *snap, uint32_t (*intern)(void *ctx, const char *topic), void *ctx);
void epoch_ref(epoch *e);
void epoch_unref(epoch *e);

/* The newest version of id (any generation), or NULL. Caller holds dir_lock. */
live_article *epoch_find(const epoch *e, const char *id);
/* The version of id visible at generation gen, or NULL (takes dir_lock). */
const live_article *epoch_visible(epoch *e, const char *id, uint64_t gen);
/* Make a the newest version of its id (writer; takes dir_lock for writing). */
void epoch_insert(epoch *e, live_article *a);
/* Room for n more live passages; returns the index of the first. */
uint32_t epoch_reserve(epoch *e, uint32_t n);

/* The BM25 terms of a live passage (heading and body through the store's
 * analyzer), into p->terms / n_terms / body_len. */
void live_analyze(analyzer *an, const char *heading, const char *text, live_passage *p);
uint64_t live_term_hash(const char *term, size_t len);

#endif
