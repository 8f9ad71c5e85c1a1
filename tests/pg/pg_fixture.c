/* pg_fixture — the corpus slice of the PostgreSQL store tests (pg_fixture.h). */
#include "pg_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store_test_util.h"
#include "ingest/splitter.h"

#define SENTENCES_PER_PASSAGE 3
#define MAX_PASSAGES 8

void pg_fixture_build(pg_fixture *f, size_t n_articles) {
    assert_true(n_articles <= PG_FIXTURE_MAX_ARTICLES);
    memset(f, 0, sizeof *f);
    const char *shared = getenv("RAGD_SHARED_DIR");
    assert_non_null(shared);
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/data/news-articles/Articles.csv", shared);
    assert_int_equal(corpus_load(path, &f->corpus, err, sizeof err), 0);
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
        f->texts[used] = calloc(np, sizeof(char *));
        f->vectors[used] = malloc(np * PG_FIXTURE_DIM * sizeof(float));
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
    assert_int_equal(used, n_articles);
    f->n_articles = used;
}

void pg_fixture_free(pg_fixture *f) {
    for (size_t i = 0; i < f->n_articles; i++) {
        for (size_t p = 0; p < f->articles[i].n_passages; p++) free(f->texts[i][p]);
        free(f->texts[i]);
        free(f->vectors[i]);
        free(f->first_sentence[i]);
    }
    corpus_free(&f->corpus);
}

void pg_fixture_write_embedded(const pg_fixture *f, const char *dir, bool with_texts) {
    char err[512];
    store_writer *w = store_writer_open(dir, "m", PG_FIXTURE_DIM, err, sizeof err);
    if (w == NULL) fail_msg("store_writer_open: %s", err);
    for (size_t i = 0; i < f->n_articles; i++) {
        const store_article *a = &f->articles[i];
        for (size_t p = 0; p < a->n_passages; p++) {
            char key[64];
            snprintf(key, sizeof key, "%s#%zu", a->id, p);
            store_passage sp = {.article_id = a->id, .heading = a->heading, .date = a->date,
                                .topic = a->topic, .text = a->passages[p], .passage_index = (int)p};
            assert_int_equal(store_writer_add(w, key, &sp, a->vectors + p * PG_FIXTURE_DIM, err,
                                              sizeof err), 0);
        }
    }
    /* As ingest: the articles' texts after their passages. */
    for (size_t i = 0; with_texts && i < f->n_articles; i++)
        assert_int_equal(store_writer_add_text(w, f->articles[i].id, f->articles[i].text,
                                               strlen(f->articles[i].text), err, sizeof err), 0);
    if (store_writer_commit(w, err, sizeof err) != 0) fail_msg("commit: %s", err);
    store_writer_close(w);
}
