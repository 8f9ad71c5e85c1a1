/* documents_passages — an API article as the passages and vectors the store
 * keeps, made exactly as `ragd ingest` makes a CSV article's: split_passages
 * with ingest_passage_budget (the heading's word pieces taken off the 256
 * window), each passage encoded as ingest_encoder_text ("heading\npassage")
 * at full precision, the passage alone stored. So an article PUT through the
 * API and the same article ingested from the CSV get the same passages and
 * the same vectors.
 *
 * Two steps, so a batch is validated whole before anything is encoded:
 * document_split (cheap, on the request's thread) and document_encode (the
 * encoder or the model services).
 */
#ifndef RAGD_APP_DOCUMENTS_PASSAGES_H
#define RAGD_APP_DOCUMENTS_PASSAGES_H

#include <stddef.h>

#include "app/documents_input.h"
#include "app/pipeline.h"
#include "model/tokenizer.h"
#include "store/documents.h"
#include "util/buf.h"

typedef struct document_passages {
    size_t n;
    char **texts;      /* the passages as stored, n of them */
    buf encoder_texts; /* what the encoder reads for each, back to back */
    size_t *offsets, *lens; /* passage i's encoder text: encoder_texts.data + offsets[i] */
    float *vectors;    /* n × ENCODER_DIM once encoded, else NULL */
} document_passages;

/* Split d into passages. Returns their count (0: the text has no words, and
 * out holds nothing to free). */
size_t document_split(const tokenizer *tok, const document_input *d, document_passages *out);

/* Encode every passage of the n articles in dps through one
 * p->embed_passages call (the encoder batches them together). 0, or -1
 * with e set (no article holds vectors then). */
int document_encode(const pipeline *p, document_passages *dps, size_t n, pipeline_error *e);

/* The store's view of an encoded article (pointers into d and dp). */
store_article document_article(const document_input *d, const document_passages *dp);

void document_passages_free(document_passages *dp);

#endif
