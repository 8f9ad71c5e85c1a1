/* bench_lexical_store — a store of the whole corpus for measuring the
 * lexical half alone, built in seconds instead of encoding every passage:
 *
 *   bench_lexical_store VOCAB CSV DIR
 *
 * The passages are exactly ingest's (same corpus reader, splitter and
 * per-article budget, ingest.h), with their article ids, headings, dates and
 * topics, so BM25F ranks them as in a store built by `ragd ingest`; but the
 * vectors are seeded random 8-d noise and the store's model identity says
 * so ("lexical-only-random-vectors"), so no encoder will accept it for a
 * vector search. `ragd eval --mode default,lexical` and `ragd search --mode
 * lexical` work on it (the default search of a store not built by the real
 * model is lexical, app/retrieval.h). bench/retrieval.sh uses it when no
 * real store is given, and measures lexical search throughput on it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/corpus.h"
#include "ingest/ingest.h"
#include "ingest/splitter.h"
#include "model/tokenizer.h"
#include "store/store.h"
#include "util/util.h"

#define DIM 8
#define MODEL "lexical-only-random-vectors"

static float noise(uint64_t *x) {
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*x >> 40) & 0xFFFF) / 65536.0f - 0.5f;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_lexical_store VOCAB CSV DIR\n");
        return 2;
    }
    char err[1024];
    tokenizer *tok = tokenizer_open(argv[1], err, sizeof err);
    if (!tok) {
        fprintf(stderr, "bench_lexical_store: %s\n", err);
        return 1;
    }
    corpus c;
    int rc = 1;
    store_writer *w = NULL;
    if (corpus_load(argv[2], &c, err, sizeof err) < 0) {
        fprintf(stderr, "bench_lexical_store: %s\n", err);
        goto out;
    }
    if (!(w = store_writer_open(argv[3], MODEL, DIM, err, sizeof err))) {
        fprintf(stderr, "bench_lexical_store: %s\n", err);
        goto out;
    }
    uint64_t rng = 42;
    long passages = 0;
    for (size_t i = 0; i < c.count; i++) {
        const article *a = &c.articles[i];
        if (a->duplicate_of >= 0) continue; /* as ingest: stored once, under the first id */
        text_span *spans;
        size_t ns = split_passages(tok, a->text, a->text_len, ingest_passage_budget(tok, a->heading),
                                   &spans);
        for (size_t k = 0; k < ns; k++) {
            char key[64];
            snprintf(key, sizeof key, "%s#%zu", a->id, k);
            char *text = xstrndup(a->text + spans[k].start, spans[k].end - spans[k].start);
            float v[DIM], n = 0;
            for (int d = 0; d < DIM; d++) {
                v[d] = noise(&rng);
                n += v[d] * v[d];
            }
            for (int d = 0; d < DIM; d++) v[d] /= sqrtf(n);
            store_passage p = {.article_id = a->id, .heading = a->heading, .date = a->date,
                               .topic = a->topic, .text = text, .passage_index = (int)k};
            int added = store_writer_add(w, key, &p, v, err, sizeof err);
            free(text);
            if (added < 0) {
                fprintf(stderr, "bench_lexical_store: %s\n", err);
                free(spans);
                goto out;
            }
            passages++;
        }
        free(spans);
    }
    if (store_writer_commit(w, err, sizeof err) < 0) {
        fprintf(stderr, "bench_lexical_store: %s\n", err);
        goto out;
    }
    fprintf(stderr, "bench_lexical_store: %ld passages of %zu articles in %s\n", passages, c.count,
            argv[3]);
    rc = 0;
out:
    store_writer_close(w);
    corpus_free(&c);
    tokenizer_close(tok);
    return rc;
}
