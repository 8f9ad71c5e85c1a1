/* documents_client — the /documents tests' calls to a running ragd: one
 * request with an optional API key, and the JSON answers they read. */
#ifndef RAGD_TESTS_DOCUMENTS_CLIENT_H
#define RAGD_TESTS_DOCUMENTS_CLIENT_H

#include <jansson.h>

#include "harness.h"

/* method path (with query) and an optional JSON body; key NULL: no
 * Authorization header. 0 when an answer came back. */
int doc_call(const ragd_proc *p, const char *key, const char *method, const char *path,
             const char *body, http_reply *out);
/* The same, failing the test unless the status is want; the body parsed. */
json_t *doc_call_json(const ragd_proc *p, const char *key, const char *method, const char *path,
                      json_t *body, long want);
/* PUT /documents/id, 200 expected: the answer. */
json_t *doc_put(const ragd_proc *p, const char *key, const char *id, const char *heading,
                const char *text, const char *date, const char *topic);
/* The 1-based rank of the first /ask source of article_id (0: none) among
 * top_k in mode (topic NULL: all). */
int doc_ask_rank(const ragd_proc *p, const char *key, const char *question, const char *mode,
                 const char *topic, int top_k, const char *article_id);

#endif
