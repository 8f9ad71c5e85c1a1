/* pg_fixture — the corpus slice of the PostgreSQL store tests and of
 * bench_pg_search (pg_fixture.h). No cmocka here: the bench links it too. */
#include "pg_fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store_test_util.h"
#include "ingest/splitter.h"
#include "util/util.h"

#define SENTENCES_PER_PASSAGE 3
#define MAX_PASSAGES 8

int pg_fixture_build(pg_fixture *f, size_t n_articles) {
    memset(f, 0, sizeof *f);
    const char *shared = getenv("RAGD_SHARED_DIR");
    if (shared == NULL) {
        fprintf(stderr, "pg_fixture: RAGD_SHARED_DIR is not set\n");
        return -1;
    }
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/data/news-articles/Articles.csv", shared);
    if (corpus_load(path, &f->corpus, err, sizeof err) != 0) {
        fprintf(stderr, "pg_fixture: %s\n", err);
        return -1;
    }
    if (n_articles == 0 || n_articles > f->corpus.count) n_articles = f->corpus.count;
    f->articles = xcalloc(n_articles, sizeof *f->articles);
    f->texts = xcalloc(n_articles, sizeof *f->texts);
    f->vectors = xcalloc(n_articles, sizeof *f->vectors);
    f->first_sentence = xcalloc(n_articles, sizeof *f->first_sentence);
    uint64_t seed = 13;
    size_t used = 0;
    for (size_t i = 0; i < f->corpus.count && used < n_articles; i++) {
        const article *a = &f->corpus.articles[i];
        if (a->duplicate_of >= 0) continue;
        text_span *sp = NULL;
        size_t ns = split_sentences(a->text, a->text_len, &sp);
        if (ns == 0) {
            free(sp);
            continue;
        }
        size_t np = (ns + SENTENCES_PER_PASSAGE - 1) / SENTENCES_PER_PASSAGE;
        if (np > MAX_PASSAGES) np = MAX_PASSAGES;
        f->texts[used] = xcalloc(np, sizeof(char *));
        f->vectors[used] = xmalloc(np * PG_FIXTURE_DIM * sizeof(float));
        for (size_t p = 0; p < np; p++) {
            size_t s0 = p * SENTENCES_PER_PASSAGE, s1 = s0 + SENTENCES_PER_PASSAGE;
            if (s1 > ns) s1 = ns;
            f->texts[used][p] = strndup(a->text + sp[s0].start, sp[s1 - 1].end - sp[s0].start);
            test_unit_vector(&seed, f->vectors[used] + p * PG_FIXTURE_DIM, PG_FIXTURE_DIM);
        }
        f->first_sentence[used] = strndup(a->text + sp[0].start, sp[0].end - sp[0].start);
        free(sp);
        f->articles[used] = (store_article){.id = a->id, .heading = a->heading, .date = a->date,
                                            .topic = a->topic, .text = a->text, .n_passages = np,
                                            .passages = (const char *const *)f->texts[used],
                                            .vectors = f->vectors[used]};
        f->n_passages += np;
        used++;
    }
    f->n_articles = used;
    if (used < n_articles && n_articles != f->corpus.count) {
        fprintf(stderr, "pg_fixture: only %zu usable articles, %zu wanted\n", used, n_articles);
        return -1;
    }
    return 0;
}

void pg_fixture_free(pg_fixture *f) {
    for (size_t i = 0; i < f->n_articles; i++) {
        for (size_t p = 0; p < f->articles[i].n_passages; p++) free(f->texts[i][p]);
        free(f->texts[i]);
        free(f->vectors[i]);
        free(f->first_sentence[i]);
    }
    free(f->articles);
    free(f->texts);
    free(f->vectors);
    free(f->first_sentence);
    corpus_free(&f->corpus);
}

int pg_fixture_write_embedded(const pg_fixture *f, const char *dir, bool with_texts) {
    char err[512];
    store_writer *w = store_writer_open(dir, "m", PG_FIXTURE_DIM, err, sizeof err);
    if (w == NULL) {
        fprintf(stderr, "pg_fixture: store_writer_open: %s\n", err);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->n_articles; i++) {
        const store_article *a = &f->articles[i];
        for (size_t p = 0; rc == 0 && p < a->n_passages; p++) {
            char key[64];
            snprintf(key, sizeof key, "%s#%zu", a->id, p);
            store_passage sp = {.article_id = a->id, .heading = a->heading, .date = a->date,
                                .topic = a->topic, .text = a->passages[p], .passage_index = (int)p};
            rc = store_writer_add(w, key, &sp, a->vectors + p * PG_FIXTURE_DIM, err, sizeof err);
        }
    }
    /* As ingest: the articles' texts after their passages. */
    for (size_t i = 0; rc == 0 && with_texts && i < f->n_articles; i++)
        rc = store_writer_add_text(w, f->articles[i].id, f->articles[i].text,
                                   strlen(f->articles[i].text), err, sizeof err);
    if (rc == 0) rc = store_writer_commit(w, err, sizeof err);
    if (rc != 0) fprintf(stderr, "pg_fixture: writing the embedded store: %s\n", err);
    store_writer_close(w);
    return rc;
}
