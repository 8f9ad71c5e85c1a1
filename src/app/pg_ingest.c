/* pg_ingest — see pg_ingest.h. */
#include "app/pg_ingest.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "app/documents_passages.h"
#include "ingest/corpus.h"
#include "ingest/ingest.h"
#include "ingest/progress.h"
#include "obs/log.h"
#include "store/pg/pg_store.h"
#include "util/util.h"

/* Articles asked about per view: a view keeps the rows it read until released. */
#define PRESENT_PER_VIEW 256

/* The indexes (into c) of the articles to load: not duplicates, not in the
 * database yet. Returns their count, or -1 with err set (the database could
 * not be reached). */
static long articles_to_load(store *st, const corpus *c, size_t *todo, long *present, char *err,
                             size_t errlen) {
    const store_view *v = NULL;
    long n = 0, asked = 0;
    for (size_t i = 0; i < c->count; i++) {
        const article *a = &c->articles[i];
        if (a->duplicate_of >= 0) continue;
        if (asked++ % PRESENT_PER_VIEW == 0) {
            store_release(v);
            v = store_acquire(st);
        }
        store_article_info info;
        if (store_article_get(v, a->id, &info) == 0) {
            (*present)++;
            continue;
        }
        if (store_view_failed(v, err, errlen)) {
            store_release(v);
            return -1;
        }
        todo[n++] = i;
    }
    store_release(v);
    return n;
}

/* Encode and bulk-load the articles group[0..m), split into dp[0..m). */
static int load_group(const pg_ingest_options *o, encoder *enc, pg_store *pg, const corpus *c,
                      const size_t *group, document_passages *dp, size_t m, ingest_progress *pr,
                      long *done, long total, pg_ingest_summary *sum, char *err, size_t errlen) {
    size_t npass = 0;
    for (size_t k = 0; k < m; k++) npass += dp[k].n;
    const char **texts = xmalloc(npass * sizeof *texts);
    size_t *lens = xmalloc(npass * sizeof *lens);
    float *vecs = xmalloc(npass * ENCODER_DIM * sizeof *vecs);
    for (size_t k = 0, at = 0; k < m; k++)
        for (size_t i = 0; i < dp[k].n; i++, at++) {
            texts[at] = dp[k].encoder_texts.data + dp[k].offsets[i];
            lens[at] = dp[k].lens[i];
        }
    int batch = o->batch_size > 0 ? o->batch_size : INGEST_DEFAULT_BATCH;
    int rc = 0;
    for (size_t b = 0; b < npass && rc == 0; b += (size_t)batch) {
        int n = (int)(npass - b < (size_t)batch ? npass - b : (size_t)batch);
        double t0 = now_seconds();
        if (encoder_embed(enc, n, texts + b, lens + b, vecs + b * ENCODER_DIM, NULL, err, errlen) < 0) {
            rc = -1;
            break;
        }
        sum->encode_seconds += now_seconds() - t0;
        *done += n;
        ingest_progress_update(pr, *done, *done >= total);
        if (o->on_progress && o->on_progress(*done, total, o->progress_ctx))
            rc = seterr(err, errlen, "interrupted after %ld of %ld passages", *done, total);
    }
    if (rc == 0) {
        store_article *arts = xmalloc(m * sizeof *arts);
        for (size_t k = 0, at = 0; k < m; at += dp[k].n, k++) {
            const article *a = &c->articles[group[k]];
            arts[k] = (store_article){.id = a->id, .heading = a->heading, .date = a->date,
                                      .topic = a->topic, .text = a->text, .n_passages = dp[k].n,
                                      .passages = (const char *const *)dp[k].texts,
                                      .vectors = vecs + at * ENCODER_DIM};
        }
        size_t added = 0;
        char why[512];
        if (pg_store_bulk_load(pg, arts, m, &added, why, sizeof why) < 0)
            rc = seterr(err, errlen, "loading into PostgreSQL: %s", why);
        sum->loaded += (long)added;
        if (rc == 0) sum->encoded += (long)npass;
        free(arts);
    }
    free(texts);
    free(lens);
    free(vecs);
    return rc;
}

/* Split, encode and load the articles todo[0..n) in groups of one transaction. */
static int load_all(const pg_ingest_options *o, encoder *enc, pg_store *pg, const corpus *c,
                    size_t *todo, long n, pg_ingest_summary *sum, char *err, size_t errlen) {
    const tokenizer *tok = encoder_tokenizer(enc);
    document_passages *dp = xcalloc(n ? (size_t)n : 1, sizeof *dp);
    long total = 0, kept = 0;
    for (long k = 0; k < n; k++) {
        const article *a = &c->articles[todo[k]];
        document_input d = {.id = (char *)a->id, .heading = a->heading, .text = a->text,
                            .text_len = a->text_len, .topic = a->topic};
        memcpy(d.date, a->date, sizeof d.date);
        if (document_split(tok, &d, &dp[kept]) == 0) {
            log_fields(LOG_WARN, "article without words to index skipped",
                       (log_field[]){LOG_STR("article_id", a->id), LOG_INT("line", a->line)}, 2);
            continue;
        }
        todo[kept] = todo[k];
        total += (long)dp[kept++].n;
    }
    ingest_progress pr;
    ingest_progress_start(&pr, o->progress, total);
    if (total) ingest_progress_update(&pr, 0, false);
    int rc = 0;
    if (o->on_progress && o->on_progress(0, total, o->progress_ctx))
        rc = seterr(err, errlen, "interrupted before encoding");
    long done = 0;
    for (long g = 0; g < kept && rc == 0; g += PG_STORE_BULK_BATCH) {
        size_t m = (size_t)(kept - g < PG_STORE_BULK_BATCH ? kept - g : PG_STORE_BULK_BATCH);
        rc = load_group(o, enc, pg, c, todo + g, dp + g, m, &pr, &done, total, sum, err, errlen);
    }
    for (long k = 0; k < kept; k++) document_passages_free(&dp[k]);
    free(dp);
    return rc;
}

int pg_ingest_run(const pg_ingest_options *o, encoder *enc, store *st, char *err, size_t errlen) {
    pg_store *pg = pg_store_of(st);
    assert(pg); /* the caller opened a store of the PostgreSQL backend */
    double t_start = now_seconds();
    pg_ingest_summary sum = {0};
    corpus c;
    int rc = corpus_load(o->csv_path, &c, err, errlen);
    sum.articles = (long)c.count;
    sum.duplicates = (long)c.duplicates;
    sum.malformed = (long)c.nproblems;
    if (rc == 0)
        log_fields(LOG_INFO, "ingest into PostgreSQL start",
                   (log_field[]){LOG_STR("csv", o->csv_path), LOG_STR("model", store_model_of(st)),
                                 LOG_INT("articles", sum.articles),
                                 LOG_INT("duplicates", sum.duplicates),
                                 LOG_INT("malformed_rows", sum.malformed)},
                   5);
    size_t *todo = xmalloc((c.count ? c.count : 1) * sizeof *todo);
    long n = rc == 0 ? articles_to_load(st, &c, todo, &sum.present, err, errlen) : -1;
    if (n < 0) rc = -1;
    if (rc == 0) rc = load_all(o, enc, pg, &c, todo, n, &sum, err, errlen);
    free(todo);
    corpus_free(&c);
    char why[256];
    long long stored = pg_store_count(pg, NULL, why, sizeof why);
    sum.store_total = stored < 0 ? -1 : (long)stored;
    sum.seconds = now_seconds() - t_start;
    if (o->summary) *o->summary = sum;
    if (rc < 0) return -1;
    log_fields(LOG_INFO, "ingest into PostgreSQL done",
               (log_field[]){LOG_INT("articles", sum.articles), LOG_INT("already_stored", sum.present),
                             LOG_INT("loaded", sum.loaded), LOG_INT("encoded", sum.encoded),
                             LOG_INT("duplicates_skipped", sum.duplicates),
                             LOG_INT("malformed_rows", sum.malformed),
                             LOG_INT("store_passages", sum.store_total),
                             LOG_DBL("encode_seconds", sum.encode_seconds),
                             LOG_DBL("seconds", sum.seconds)},
               9);
    return 0;
}

/* ---- from a data directory ---- */

/* The articles of one page of v with their passages and vectors, as
 * store_articles into arts (the vectors in *vecs and the text pointers in
 * *texts, for the caller to free). 0, or -1 with err set. */
static int copy_page(const store_view *v, const store_article_info *page, size_t n,
                        store_article *arts, const char ***texts, float **vecs, char *err,
                        size_t errlen) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += page[i].n_passages;
    *texts = xmalloc((total ? total : 1) * sizeof **texts);
    *vecs = xmalloc((total ? total : 1) * ENCODER_DIM * sizeof **vecs);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const store_article_info *a = &page[i];
        arts[i] = (store_article){.id = a->id, .heading = a->heading, .date = a->date,
                                  .topic = a->topic, .text = a->text, .n_passages = a->n_passages,
                                  .passages = *texts + at, .vectors = *vecs + at * ENCODER_DIM};
        for (size_t k = 0; k < a->n_passages; k++, at++) {
            store_passage p;
            const float *vec = store_vector(v, a->first_passage + (uint32_t)k);
            if (store_get(v, a->first_passage + (uint32_t)k, &p) < 0 || !vec)
                return seterr(err, errlen, "article %s: passage %zu cannot be read", a->id, k);
            (*texts)[at] = p.text;
            memcpy(*vecs + at * ENCODER_DIM, vec, ENCODER_DIM * sizeof **vecs);
        }
        /* a store whose log predates article texts: its passages stand in */
        if (!arts[i].text) arts[i].text = (*texts)[at - a->n_passages];
    }
    return 0;
}

int pg_ingest_copy(const char *data_dir, store *st, bool progress, pg_ingest_summary *summary,
                   char *err, size_t errlen) {
    pg_store *pg = pg_store_of(st);
    assert(pg);
    double t_start = now_seconds();
    pg_ingest_summary sum = {0};
    char why[512];
    store *src = store_open(data_dir, store_model_of(st), why, sizeof why);
    if (!src) return seterr(err, errlen, "%s", why);
    const store_view *v = store_acquire(src);
    sum.articles = (long)store_article_count(v, NULL);
    ingest_progress pr;
    ingest_progress_start(&pr, progress, (long)store_count(v, NULL));
    store_article_info *page = xmalloc(PG_STORE_BULK_BATCH * sizeof *page);
    store_article *arts = xmalloc(PG_STORE_BULK_BATCH * sizeof *arts);
    char after[STORE_ARTICLE_ID_MAX + 1] = "";
    long done = 0;
    int rc = 0;
    bool more = true;
    while (more && rc == 0) {
        size_t n = store_article_list(v, NULL, after, PG_STORE_BULK_BATCH, page, &more);
        if (n == 0) break;
        snprintf(after, sizeof after, "%s", page[n - 1].id);
        const char **texts = NULL;
        float *vecs = NULL;
        if (copy_page(v, page, n, arts, &texts, &vecs, err, errlen) < 0) {
            rc = -1;
        } else {
            size_t added = 0;
            long passages = 0;
            for (size_t i = 0; i < n; i++) passages += (long)page[i].n_passages;
            if (pg_store_bulk_load(pg, arts, n, &added, why, sizeof why) < 0)
                rc = seterr(err, errlen, "loading into PostgreSQL: %s", why);
            sum.loaded += (long)added;
            sum.present += (long)(n - added);
            done += passages;
            ingest_progress_update(&pr, done, !more || rc != 0);
        }
        free(texts);
        free(vecs);
    }
    free(arts);
    free(page);
    store_release(v);
    store_close(src);
    long long stored = pg_store_count(pg, NULL, why, sizeof why);
    sum.store_total = stored < 0 ? -1 : (long)stored;
    sum.seconds = now_seconds() - t_start;
    if (summary) *summary = sum;
    if (rc == 0)
        log_fields(LOG_INFO, "data directory copied into PostgreSQL",
                   (log_field[]){LOG_STR("data_dir", data_dir), LOG_INT("articles", sum.articles),
                                 LOG_INT("already_stored", sum.present), LOG_INT("loaded", sum.loaded),
                                 LOG_INT("store_passages", sum.store_total), LOG_DBL("seconds", sum.seconds)},
                   6);
    return rc;
}
