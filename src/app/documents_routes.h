/* documents_routes — the /documents API (issue #12) of `ragd serve` and
 * `ragd gateway`: create, replace, delete and read whole articles in the
 * live store (store/documents.h) while it is searched. See docs/api.md.
 *
 *   PUT    /documents/{id}   one article        → {"id","passages","created"}
 *   POST   /documents        {"documents":[…]}  → {"documents":[{"id","passages","created"}…]}
 *   DELETE /documents/{id}                      → {"id","deleted":true}, 404 if absent
 *   GET    /documents/{id}   the article and its passages
 *   GET    /documents?topic=&limit=&cursor=     a page of articles in id order
 *
 * A batch is all-or-nothing: every item is validated first; if any is bad
 * the answer is one 4xx listing each bad item (index, id, field, message)
 * and nothing is written; else all are encoded and stored by one store_put,
 * which makes them durable and visible together.
 *
 * Writes are encoded on the /ask workers (they wait on the encoder or the
 * model services, never on an HTTP thread); a 200 means the write is fsynced
 * and the next search sees it. Each write logs one line with the article id
 * and is counted in ragd_document_writes_total / ragd_document_write_seconds.
 */
#ifndef RAGD_APP_DOCUMENTS_ROUTES_H
#define RAGD_APP_DOCUMENTS_ROUTES_H

#include <stddef.h>

#include "app/options.h"
#include "app/pipeline.h"
#include "app/routes.h"
#include "model/tokenizer.h"

#define DOCUMENTS_DEFAULT_MAX_BATCH 100
#define DOCUMENTS_DEFAULT_MAX_BODY_KB 8192
#define DOCUMENTS_DEFAULT_LIST_LIMIT 100
#define DOCUMENTS_MAX_LIST_LIMIT 1000

typedef struct documents_opts {
    int max_batch;    /* documents per POST /documents (413 past it) */
    int max_body_kb;  /* body of a PUT or POST (413 past it) */
} documents_opts;

/* Set o to the defaults and append --max-batch-documents and --max-document-kb. */
void documents_opts_add(option_list *l, documents_opts *o);

typedef struct documents_service {
    pipeline *pipeline;         /* its store (read at each request), workers, embed_passages */
    const tokenizer *tokenizer; /* splits articles as ingest does */
    documents_opts opts;
} documents_service;

/* Add the routes above (behind the API key). svc must outlive the server. */
void documents_add_routes(route_list *routes, documents_service *svc);

#endif
