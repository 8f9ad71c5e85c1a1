/* documents_input — one article of a /documents write, validated and cleaned
 * exactly as ingest cleans a CSV row (corpus.c): heading and text through
 * clean_text, the topic trimmed and lower-cased like the CSV's NewsType.
 *
 * Statuses follow request_check.h: a missing field or a bad value is 422, a
 * field of the wrong type 400. Every check runs before anything is written,
 * so a rejected write changes nothing.
 */
#ifndef RAGD_APP_DOCUMENTS_INPUT_H
#define RAGD_APP_DOCUMENTS_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app/request_check.h"

/* Longest topic name accepted (bytes, after trimming). */
#define DOCUMENT_TOPIC_MAX 64

typedef struct document_input {
    char *id;
    char *heading;   /* cleaned */
    char *text;      /* cleaned: what the passages cover and GET returns */
    size_t text_len;
    char date[11];   /* YYYY-MM-DD */
    char *topic;     /* trimmed, lower-cased */
} document_input;

/* Validate the article object obj. path_id: the id from the URL (PUT), in
 * which case an "id" field, if present, must equal it; NULL: the id is the
 * object's "id" field (a batch item). On false p names the field and what is
 * wrong, and *out holds nothing to free. */
bool document_input_parse(json_t *obj, const char *path_id, document_input *out,
                          request_problem *p);
void document_input_free(document_input *d);

/* A topic as writes store it — spaces and tabs trimmed, ASCII lower-cased
 * like corpus.c does the CSV's NewsType — malloc'd; NULL after filling p
 * when it is empty, longer than DOCUMENT_TOPIC_MAX or holds a control
 * character. Also what GET /documents?topic= is matched by. */
char *document_topic_clean(const char *topic, size_t len, request_problem *p);

#endif
