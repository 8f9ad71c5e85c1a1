/* request_check — validating a request's JSON fields without hidden returns.
 *
 * Each check returns true when the field is acceptable and stores its value;
 * on false it has filled a request_problem (the HTTP status and a message for
 * people) that the handler answers with http_respond_problem(). Statuses
 * follow docs/api.md: a wrong type is 400, a wrong value 422, too much 413.
 * A handler validates everything before it takes anything, so a bad request
 * changes nothing.
 */
#ifndef RAGD_APP_REQUEST_CHECK_H
#define RAGD_APP_REQUEST_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

typedef struct request_problem {
    int status;          /* 4xx, set by request_reject */
    char message[320];
} request_problem;

/* Fill p; always returns false, so a check can end with `return request_reject(…)`. */
bool request_reject(request_problem *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answer r with the problem as the JSON error body. */
void http_respond_problem(http_request *r, const request_problem *p);

/* An optional "seed": absent or null leaves *seed alone; else a non-negative integer. */
bool check_seed(json_t *body, uint64_t *seed, request_problem *p);

/* A JSON string's text without its NUL characters, malloc'd, *len its length.
 * Every valid JSON string is accepted (\u0000 included); NUL carries no text
 * (BERT's cleaning drops it) and the prompt, the store's query and the logs
 * take C strings, so it is dropped where a C string is needed. */
char *json_text_without_nul(const json_t *s, size_t *len);

#endif
