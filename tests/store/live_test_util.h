/* live_test_util — helpers of the live-document store tests: an empty
 * writable store of small-dimension vectors, random articles over a small
 * vocabulary (so passages share terms and BM25 statistics matter), and the
 * comparison of two stores' answers by article id, passage index and score. */
#ifndef RAGD_TESTS_LIVE_UTIL_H
#define RAGD_TESTS_LIVE_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/documents.h"
#include "store_test_util.h"

#define LDIM 8
#define LMAX_PASSAGES 4

static const char *const live_words[] = {
    "oil",    "price",  "market", "bank",   "cricket", "match",  "rain",   "election",
    "vote",   "court",  "judge",  "energy", "solar",   "wind",   "stock",  "trade",
    "export", "import", "team",   "goal",   "league",  "river",  "flood",  "school"};
#define LIVE_NWORDS (sizeof live_words / sizeof *live_words)
static const char *const live_topics[] = {"business", "sports", "weather"};

/* An empty committed store in a new directory, opened writable. */
static inline store *live_empty_store(char **dir_out) {
    char *dir = test_tempdir();
    char err[512];
    *dir_out = dir;
    store_writer *w = store_writer_open(dir, "m", LDIM, err, sizeof err);
    if (!w || store_writer_commit(w, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    store_writer_close(w);
    store *s = store_open_writable(dir, "m", err, sizeof err);
    if (!s) fprintf(stderr, "%s\n", err);
    *dir_out = dir;
    return s;
}

/* A random article (owned buffers inside). */
typedef struct live_doc {
    char id[32], heading[64], date[11], topic[16], text[512];
    char passages[LMAX_PASSAGES][128];
    const char *pp[LMAX_PASSAGES];
    float vecs[LMAX_PASSAGES * LDIM];
    size_t n;
} live_doc;

static inline void live_words_into(uint64_t *rng, char *out, size_t cap, int words) {
    out[0] = '\0';
    for (int w = 0; w < words; w++) {
        const char *word = live_words[test_rng(rng) % LIVE_NWORDS];
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", w ? " " : "", word);
    }
}

static inline void live_random_doc(uint64_t *rng, const char *id, live_doc *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    live_words_into(rng, d->heading, sizeof d->heading, 2);
    snprintf(d->date, sizeof d->date, "2016-%02d-%02d", (int)(test_rng(rng) % 12) + 1,
             (int)(test_rng(rng) % 28) + 1);
    snprintf(d->topic, sizeof d->topic, "%s", live_topics[test_rng(rng) % 3]);
    d->n = 1 + test_rng(rng) % LMAX_PASSAGES;
    for (size_t p = 0; p < d->n; p++) {
        live_words_into(rng, d->passages[p], sizeof d->passages[p], 3 + (int)(test_rng(rng) % 8));
        d->pp[p] = d->passages[p];
        test_unit_vector(rng, d->vecs + p * LDIM, LDIM);
        size_t len = strlen(d->text);
        snprintf(d->text + len, sizeof d->text - len, "%s%s", p ? " " : "", d->passages[p]);
    }
}

static inline store_article live_article_of(const live_doc *d) {
    return (store_article){d->id, d->heading, d->date, d->topic, d->text, d->n, d->pp, d->vecs};
}

static inline int live_put(store *s, const live_doc *d) {
    store_article a = live_article_of(d);
    store_write_result r;
    char err[512];
    int rc = store_put(s, &a, 1, &r, err, sizeof err);
    if (rc != 0) fprintf(stderr, "store_put: %s\n", err);
    return rc;
}

/* One hit as a store-independent key. */
typedef struct live_hit {
    char article[32];
    int index;
    float score;
} live_hit;

static inline int live_query(store *s, const store_query *q, live_hit *out) {
    const store_view *v = store_acquire(s);
    search_hit hits[64];
    char err[256];
    int n = store_search(v, q, hits, err, sizeof err);
    for (int i = 0; i < n; i++) {
        store_passage p;
        if (store_get(v, hits[i].passage_id, &p) != 0) {
            n = -100;
            break;
        }
        snprintf(out[i].article, sizeof out[i].article, "%s", p.article_id);
        out[i].index = p.passage_index;
        out[i].score = hits[i].score;
    }
    store_release(v);
    return n;
}

/* Same answers: the same count, scores equal within tol position by
 * position, and the same passages wherever a score is not tied with a
 * neighbour's (ties may be ordered by ids, which differ between stores).
 * The first `upto` hits are compared; a hit past them only tells of a tie. */
static inline bool live_same(const live_hit *a, int na, const live_hit *b, int nb, int upto,
                             float tol) {
    if (na != nb) {
        fprintf(stderr, "hit counts differ: %d vs %d\n", na, nb);
        return false;
    }
    for (int i = 0; i < na && i < upto; i++) {
        if (fabsf(a[i].score - b[i].score) > tol) {
            fprintf(stderr, "hit %d: score %.6f vs %.6f\n", i, a[i].score, b[i].score);
            return false;
        }
        bool tied = (i > 0 && fabsf(a[i].score - a[i - 1].score) <= tol) ||
                    (i + 1 < na && fabsf(a[i].score - a[i + 1].score) <= tol);
        if (!tied && (strcmp(a[i].article, b[i].article) != 0 || a[i].index != b[i].index)) {
            fprintf(stderr, "hit %d: %s#%d vs %s#%d\n", i, a[i].article, a[i].index,
                    b[i].article, b[i].index);
            return false;
        }
    }
    return true;
}

#endif
