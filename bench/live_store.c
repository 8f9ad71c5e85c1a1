/* bench_live_store — the live store's costs on the real corpus's passages
 * (ingest's reader, splitter and budget) with seeded random 384-d unit
 * vectors (no encoding: this measures the store, not the encoder):
 *
 *   bench_live_store VOCAB CSV DIR
 *
 *   1. search latency with LIVE_PASSAGES passages in the live segment,
 *      then with the same passages merged into the snapshot (vector exact,
 *      lexical, hybrid; the same queries; CPU time per query);
 *   2. merge time for those passages, then for the whole corpus;
 *   3. group commit: N concurrent writers putting ~2 KB articles, fsyncs
 *      against writes.
 * DIR must not exist or be empty; it is left behind for inspection. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/corpus.h"
#include "ingest/ingest.h"
#include "ingest/splitter.h"
#include "model/tokenizer.h"
#include "store/documents.h"
#include "store/store.h"
#include "util/util.h"

#define DIM 384
#define MODEL "bench-live-random"
#define LIVE_PASSAGES 2000
#define QUERIES 200

static float noise(uint64_t *x) {
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*x >> 40) & 0xFFFF) / 65536.0f - 0.5f;
}

static void unit(uint64_t *rng, float *v) {
    double n = 0;
    for (int d = 0; d < DIM; d++) {
        v[d] = noise(rng);
        n += (double)v[d] * v[d];
    }
    for (int d = 0; d < DIM; d++) v[d] = (float)(v[d] / sqrt(n));
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One article as store_put takes it, with owned buffers. */
typedef struct doc {
    store_article a;
    char **texts;
    float *vecs;
} doc;

static void doc_free(doc *d) {
    for (size_t i = 0; i < d->a.n_passages; i++) free(d->texts[i]);
    free(d->texts);
    free(d->vecs);
}

static int put_docs(store *s, doc *docs, size_t from, size_t to) {
    char err[512];
    for (size_t i = from; i < to; i += 16) {
        size_t n = to - i < 16 ? to - i : 16;
        store_article arts[16];
        store_write_result res[16];
        for (size_t j = 0; j < n; j++) arts[j] = docs[i + j].a;
        if (store_put(s, arts, n, res, err, sizeof err) != 0) {
            fprintf(stderr, "bench_live_store: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* CPU microseconds per query in each mode, on the current view. */
static void time_searches(store *s, const doc *docs, size_t n_docs, double us[3]) {
    uint64_t rng = 7;
    const store_view *v = store_acquire(s);
    search_mode modes[3] = {SEARCH_VECTOR, SEARCH_LEXICAL, SEARCH_HYBRID};
    for (int m = 0; m < 3; m++) {
        double t0 = cpu_seconds();
        for (int q = 0; q < QUERIES; q++) {
            float vec[DIM];
            unit(&rng, vec);
            const char *text = docs[(size_t)q * 7 % n_docs].a.heading;
            store_query sq = {.vector = vec, .text = text, .text_len = strlen(text), .k = 10,
                              .mode = modes[m]};
            search_hit hits[10];
            char err[256];
            if (store_search(v, &sq, hits, err, sizeof err) < 0) fprintf(stderr, "%s\n", err);
        }
        us[m] = (cpu_seconds() - t0) / QUERIES * 1e6;
    }
    store_release(v);
}

typedef struct writer_job {
    store *s;
    int index, count;
    pthread_barrier_t *start;
} writer_job;

static void *writer(void *arg) {
    writer_job *j = arg;
    uint64_t rng = 1000 + (uint64_t)j->index;
    char text[4][600];
    const char *pp[4];
    float vecs[4 * DIM];
    pthread_barrier_wait(j->start);
    for (int i = 0; i < j->count; i++) {
        for (int p = 0; p < 4; p++) { /* 4 passages of ~500 bytes: a 2 KB article */
            int len = 0;
            while (len < 500)
                len += snprintf(text[p] + len, sizeof text[p] - (size_t)len, "word%u ",
                                (unsigned)(noise(&rng) * 1000 + 1000));
            pp[p] = text[p];
            unit(&rng, vecs + p * DIM);
        }
        char id[32];
        snprintf(id, sizeof id, "w%d-%d", j->index, i);
        store_article a = {id, "bench heading", "2016-01-01", "bench", NULL, 4, pp, vecs};
        store_write_result r;
        char err[256];
        if (store_put(j->s, &a, 1, &r, err, sizeof err) != 0) {
            fprintf(stderr, "bench_live_store: %s\n", err);
            return (void *)1;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_live_store VOCAB CSV DIR\n");
        return 2;
    }
    char err[1024];
    tokenizer *tok = tokenizer_open(argv[1], err, sizeof err);
    if (!tok) {
        fprintf(stderr, "bench_live_store: %s\n", err);
        return 1;
    }
    corpus c;
    if (corpus_load(argv[2], &c, err, sizeof err) < 0) {
        fprintf(stderr, "bench_live_store: %s\n", err);
        return 1;
    }
    /* The corpus as articles, split as ingest splits them. */
    doc *docs = xcalloc(c.count + 1, sizeof *docs);
    size_t n_docs = 0, passages = 0, live_docs = 0;
    uint64_t rng = 42;
    for (size_t i = 0; i < c.count; i++) {
        const article *a = &c.articles[i];
        if (a->duplicate_of >= 0) continue;
        text_span *spans;
        size_t ns = split_passages(tok, a->text, a->text_len, ingest_passage_budget(tok, a->heading),
                                   &spans);
        if (ns == 0) {
            free(spans);
            continue;
        }
        doc *d = &docs[n_docs++];
        d->texts = xcalloc(ns, sizeof *d->texts);
        d->vecs = xmalloc(ns * DIM * sizeof *d->vecs);
        for (size_t k = 0; k < ns; k++) {
            d->texts[k] = xstrndup(a->text + spans[k].start, spans[k].end - spans[k].start);
            unit(&rng, d->vecs + k * DIM);
        }
        d->a = (store_article){a->id, a->heading, a->date, a->topic, a->text, ns,
                               (const char *const *)d->texts, d->vecs};
        passages += ns;
        if (passages - ns < LIVE_PASSAGES) live_docs = n_docs;
        free(spans);
    }
    size_t live_passages = 0;
    for (size_t i = 0; i < live_docs; i++) live_passages += docs[i].a.n_passages;

    int rc = 1;
    store *s = NULL;
    store_writer *w = store_writer_open(argv[3], MODEL, DIM, err, sizeof err);
    if (!w || store_writer_commit(w, err, sizeof err) != 0) {
        fprintf(stderr, "bench_live_store: %s\n", err);
        store_writer_close(w);
        goto out;
    }
    store_writer_close(w);
    if (!(s = store_open_writable(argv[3], MODEL, err, sizeof err))) {
        fprintf(stderr, "bench_live_store: %s\n", err);
        goto out;
    }
    store_set_merge_threshold(s, 0);
    if (put_docs(s, docs, 0, live_docs) != 0) goto out;
    double us_live[3], us_snap[3];
    time_searches(s, docs, live_docs, us_live);
    double t0 = now_seconds();
    if (store_merge(s, err, sizeof err) != 0) {
        fprintf(stderr, "bench_live_store: %s\n", err);
        goto out;
    }
    double merge_small = now_seconds() - t0;
    time_searches(s, docs, live_docs, us_snap);
    if (put_docs(s, docs, live_docs, n_docs) != 0) goto out;
    t0 = now_seconds();
    if (store_merge(s, err, sizeof err) != 0) {
        fprintf(stderr, "bench_live_store: %s\n", err);
        goto out;
    }
    double merge_full = now_seconds() - t0;
    printf("{\"live_passages\": %zu, \"articles\": %zu,\n"
           " \"search_us_per_query_live\": {\"vector\": %.1f, \"lexical\": %.1f, \"hybrid\": %.1f},\n"
           " \"search_us_per_query_snapshot\": {\"vector\": %.1f, \"lexical\": %.1f, \"hybrid\": %.1f},\n"
           " \"merge_seconds\": {\"%zu_passages\": %.2f, \"corpus_%zu_passages\": %.2f},\n"
           " \"group_commit\": [",
           live_passages, live_docs, us_live[0], us_live[1], us_live[2], us_snap[0], us_snap[1],
           us_snap[2], live_passages, merge_small, passages, merge_full);
    int writers[] = {1, 2, 4, 8, 16};
    for (int wi = 0; wi < 5; wi++) {
        int n = writers[wi], per = 240 / n;
        store_live_stats before, after;
        store_live_stats_get(s, &before);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)n);
        pthread_t th[16];
        writer_job jobs[16];
        double t = now_seconds();
        for (int i = 0; i < n; i++) {
            jobs[i] = (writer_job){s, wi * 100 + i, per, &start};
            pthread_create(&th[i], NULL, writer, &jobs[i]);
        }
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
        t = now_seconds() - t;
        pthread_barrier_destroy(&start);
        store_live_stats_get(s, &after);
        printf("%s{\"writers\": %d, \"writes\": %llu, \"fsyncs\": %llu, \"writes_per_s\": %.0f}",
               wi ? ", " : "", n, (unsigned long long)(after.writes - before.writes),
               (unsigned long long)(after.fsyncs - before.fsyncs),
               (double)(after.writes - before.writes) / t);
    }
    printf("]}\n");
    rc = 0;
out:
    store_close(s);
    for (size_t i = 0; i < n_docs; i++) doc_free(&docs[i]);
    free(docs);
    corpus_free(&c);
    tokenizer_close(tok);
    return rc;
}
