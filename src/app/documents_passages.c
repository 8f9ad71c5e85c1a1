/* documents_passages — see documents_passages.h. */
#include "app/documents_passages.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/splitter.h"
#include "model/encoder.h"
#include "util/util.h"

size_t document_split(const tokenizer *tok, const document_input *d, document_passages *out) {
    memset(out, 0, sizeof *out);
    text_span *spans = NULL;
    size_t n = split_passages(tok, d->text, d->text_len, ingest_passage_budget(tok, d->heading), &spans);
    if (n == 0) {
        free(spans);
        return 0;
    }
    out->n = n;
    out->texts = xmalloc(n * sizeof *out->texts);
    out->offsets = xmalloc(n * sizeof *out->offsets);
    out->lens = xmalloc(n * sizeof *out->lens);
    for (size_t i = 0; i < n; i++) {
        assert(spans[i].start < spans[i].end && spans[i].end <= d->text_len);
        out->texts[i] = xstrndup(d->text + spans[i].start, spans[i].end - spans[i].start);
        out->offsets[i] = out->encoder_texts.len;
        ingest_encoder_text(tok, d->heading, d->text + spans[i].start, spans[i].end - spans[i].start,
                            &out->encoder_texts);
        out->lens[i] = out->encoder_texts.len - out->offsets[i];
    }
    free(spans);
    return n;
}

int document_encode(const pipeline *p, document_passages *dps, size_t n, pipeline_error *e) {
    size_t total = 0;
    for (size_t d = 0; d < n; d++) {
        assert(dps[d].n > 0 && !dps[d].vectors);
        total += dps[d].n;
    }
    const char **texts = xmalloc(total * sizeof *texts);
    size_t *lens = xmalloc(total * sizeof *lens);
    float *vectors = xmalloc(total * ENCODER_DIM * sizeof *vectors);
    size_t k = 0;
    for (size_t d = 0; d < n; d++) {
        for (size_t i = 0; i < dps[d].n; i++, k++) {
            texts[k] = dps[d].encoder_texts.data + dps[d].offsets[i];
            lens[k] = dps[d].lens[i];
        }
    }
    assert(k == total && total <= INT32_MAX);
    int rc = p->embed_passages(p->ctx, (int)total, texts, lens, vectors, e);
    for (size_t d = 0, at = 0; rc == 0 && d < n; at += dps[d].n, d++) {
        dps[d].vectors = xmalloc(dps[d].n * ENCODER_DIM * sizeof *vectors);
        memcpy(dps[d].vectors, vectors + at * ENCODER_DIM, dps[d].n * ENCODER_DIM * sizeof *vectors);
    }
    free(texts);
    free(lens);
    free(vectors);
    return rc;
}

store_article document_article(const document_input *d, const document_passages *dp) {
    assert(dp->vectors);
    return (store_article){.id = d->id, .heading = d->heading, .date = d->date, .topic = d->topic,
                           .text = d->text, .n_passages = dp->n,
                           .passages = (const char *const *)dp->texts, .vectors = dp->vectors};
}

void document_passages_free(document_passages *dp) {
    for (size_t i = 0; i < dp->n; i++) free(dp->texts[i]);
    free(dp->texts);
    free(dp->offsets);
    free(dp->lens);
    buf_free(&dp->encoder_texts);
    free(dp->vectors);
    memset(dp, 0, sizeof *dp);
}
