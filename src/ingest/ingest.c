/* ingest — see ingest.h. */
#include "ingest/ingest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ingest/corpus.h"
#include "ingest/progress.h"
#include "ingest/splitter.h"
#include "obs/log.h"
#include "store/store.h"
#include "util/util.h"

/* A passage waiting to be encoded. */
typedef struct pending {
    const article *a;
    size_t start, end;
    int index;
    char key[64];
} pending;

static bool heading_fits(const tokenizer *tok, const char *heading, int *pieces) {
    *pieces = count_pieces(tok, heading, strlen(heading));
    return *pieces > 0 && *pieces * 4 <= ENCODER_MAX_TOKENS;
}

int ingest_passage_budget(const tokenizer *tok, const char *heading) {
    int hp;
    return ENCODER_MAX_TOKENS - 2 - (heading_fits(tok, heading, &hp) ? hp : 0);
}

void ingest_encoder_text(const tokenizer *tok, const char *heading, const char *passage,
                         size_t passage_len, buf *out) {
    int hp;
    if (heading_fits(tok, heading, &hp)) {
        buf_puts(out, heading);
        buf_putc(out, '\n');
    }
    buf_append(out, passage, passage_len);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Key of a passage: article id, index, and a hash of all that is stored. */
static void passage_key(const tokenizer *tok, const article *a, size_t start, size_t end,
                        int index, char key[64]) {
    buf text = BUF_INIT;
    ingest_encoder_text(tok, a->heading, a->text + start, end - start, &text);
    uint64_t h = fnv1a(1469598103934665603ull, text.data, text.len);
    h = fnv1a(h, "\x1f", 1);
    h = fnv1a(h, a->date, strlen(a->date));
    h = fnv1a(h, "\x1f", 1);
    h = fnv1a(h, a->topic, strlen(a->topic));
    buf_free(&text);
    snprintf(key, 64, "%s#%d#%016" PRIx64, a->id, index, h);
}

/* Encode and add pend[0..n) in batches. */
static int encode_all(const ingest_options *o, encoder *enc, store_writer *w, pending *pend,
                      long n, ingest_summary *sum, char *err, size_t errlen) {
    const tokenizer *tok = encoder_tokenizer(enc);
    int batch = o->batch_size > 0 ? o->batch_size : INGEST_DEFAULT_BATCH;
    ingest_progress pr;
    ingest_progress_start(&pr, o->progress, n);
    float *vecs = xmalloc((size_t)batch * ENCODER_DIM * sizeof *vecs);
    const char **texts = xmalloc((size_t)batch * sizeof *texts);
    size_t *lens = xmalloc((size_t)batch * sizeof *lens);
    size_t *offs = xmalloc((size_t)batch * sizeof *offs);
    buf texts_buf = BUF_INIT;
    int rc = 0;
    double last_sync = now_seconds();
    if (n) ingest_progress_update(&pr, 0, false);
    if (o->on_progress && o->on_progress(0, n, o->progress_ctx))
        rc = seterr(err, errlen, "interrupted before encoding");
    for (long b = 0; b < n && rc == 0; b += batch) {
        int m = (int)(n - b < batch ? n - b : batch);
        buf_clear(&texts_buf);
        for (int i = 0; i < m; i++) {
            const pending *p = &pend[b + i];
            offs[i] = texts_buf.len;
            ingest_encoder_text(tok, p->a->heading, p->a->text + p->start, p->end - p->start,
                                &texts_buf);
            lens[i] = texts_buf.len - offs[i];
        }
        for (int i = 0; i < m; i++) texts[i] = texts_buf.data + offs[i];
        double t0 = now_seconds();
        if (encoder_embed(enc, m, texts, lens, vecs, NULL, err, errlen) < 0) {
            rc = -1;
            break;
        }
        sum->encode_seconds += now_seconds() - t0;
        for (int i = 0; i < m && rc == 0; i++) {
            const pending *p = &pend[b + i];
            char *text = xstrndup(p->a->text + p->start, p->end - p->start);
            store_passage sp = {.article_id = p->a->id,
                                .heading = p->a->heading,
                                .date = p->a->date,
                                .topic = p->a->topic,
                                .text = text,
                                .passage_index = p->index};
            rc = store_writer_add(w, p->key, &sp, vecs + (size_t)i * ENCODER_DIM, err, errlen);
            free(text);
            if (rc == 0) sum->encoded++;
        }
        /* Durable every few seconds: a power cut loses at most that much. */
        if (rc == 0 && now_seconds() - last_sync > 5.0) {
            rc = store_writer_sync(w, err, errlen);
            last_sync = now_seconds();
        }
        ingest_progress_update(&pr, b + m, b + m >= n);
        if (rc == 0 && o->on_progress && o->on_progress(b + m, n, o->progress_ctx))
            rc = seterr(err, errlen, "interrupted after %ld of %ld passages", b + m, n);
    }
    buf_free(&texts_buf);
    free(offs);
    free(lens);
    free(texts);
    free(vecs);
    return rc;
}

int ingest_run(const ingest_options *o, encoder *enc, char *err, size_t errlen) {
    double t_start = now_seconds();
    ingest_summary sum = {0};
    const tokenizer *tok = encoder_tokenizer(enc);
    const char *model = encoder_identity(encoder_get_info(enc));
    corpus c;
    if (corpus_load(o->csv_path, &c, err, errlen) < 0) {
        corpus_free(&c);
        return -1;
    }
    sum.articles = (long)c.count;
    sum.duplicates = (long)c.duplicates;
    sum.malformed = (long)c.nproblems;
    log_fields(LOG_INFO, "ingest start",
               (log_field[]){LOG_STR("csv", o->csv_path), LOG_STR("data_dir", o->data_dir),
                             LOG_STR("model", model), LOG_INT("articles", sum.articles),
                             LOG_INT("duplicates", sum.duplicates),
                             LOG_INT("malformed_rows", sum.malformed)},
               6);
    store_writer *w = store_writer_open(o->data_dir, model, ENCODER_DIM, err, errlen);
    if (!w) {
        corpus_free(&c);
        return -1;
    }
    pending *pend = NULL;
    size_t npend = 0, cap = 0;
    for (size_t i = 0; i < c.count; i++) {
        const article *a = &c.articles[i];
        if (a->duplicate_of >= 0) {
            const article *first = &c.articles[a->duplicate_of];
            log_fields(LOG_DEBUG, "duplicate article text skipped",
                       (log_field[]){LOG_INT("line", a->line), LOG_STR("article_id", a->id),
                                     LOG_STR("same_as", first->id),
                                     LOG_STR("heading", a->heading),
                                     LOG_STR("kept_heading", first->heading)},
                       5);
            continue;
        }
        text_span *spans;
        size_t ns = split_passages(tok, a->text, a->text_len, ingest_passage_budget(tok, a->heading),
                                   &spans);
        for (size_t k = 0; k < ns; k++) {
            pending p = {.a = a, .start = spans[k].start, .end = spans[k].end, .index = (int)k};
            passage_key(tok, a, p.start, p.end, p.index, p.key);
            sum.passages++;
            if (store_writer_has(w, p.key)) {
                sum.already++;
                continue;
            }
            if (npend == cap) {
                cap = cap ? cap * 2 : 1024;
                pend = xrealloc(pend, cap * sizeof *pend);
            }
            pend[npend++] = p;
        }
        free(spans);
    }
    int rc = encode_all(o, enc, w, pend, (long)npend, &sum, err, errlen);
    free(pend);
    /* The cleaned texts, for GET /documents/{id} (a log record each, after
     * the passages: an interrupted run has spent its time encoding). */
    for (size_t i = 0; i < c.count && rc == 0; i++)
        if (c.articles[i].duplicate_of < 0)
            rc = store_writer_add_text(w, c.articles[i].id, c.articles[i].text,
                                       c.articles[i].text_len, err, errlen);
    if (rc == 0) rc = store_writer_commit(w, err, errlen);
    sum.store_total = (long)store_writer_count(w);
    store_writer_close(w);
    corpus_free(&c);
    sum.seconds = now_seconds() - t_start;
    if (o->summary) *o->summary = sum;
    if (rc < 0) return -1;
    log_fields(LOG_INFO, "ingest done",
               (log_field[]){LOG_INT("articles", sum.articles), LOG_INT("passages", sum.passages),
                             LOG_INT("encoded", sum.encoded), LOG_INT("already_stored", sum.already),
                             LOG_INT("duplicates_skipped", sum.duplicates),
                             LOG_INT("malformed_rows", sum.malformed),
                             LOG_INT("store_passages", sum.store_total),
                             LOG_DBL("encode_seconds", sum.encode_seconds),
                             LOG_DBL("seconds", sum.seconds)},
               9);
    return 0;
}
