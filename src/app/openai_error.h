/* openai_error — the error answers and body parsing of the OpenAI-compatible
 * routes (/v1/...), in OpenAI's shape:
 *   {"error":{"message":"…","type":"invalid_request_error","param":"input","code":"bad_request"}}
 * `type` follows OpenAI (invalid_request_error, authentication_error,
 * rate_limit_error, server_error), `param` names the offending request field
 * (or is null), and `code` is ragd's code for the status ("bad_request", …,
 * the same vocabulary as every other ragd route) unless a more specific one
 * is given ("model_not_found", as OpenAI answers for an unknown model).
 *
 * Errors the HTTP layer sends before a handler runs (401 API key, 404 unknown
 * path, 405, 413 body over the limit) keep ragd's {"error":{"code","message"}}:
 * the official clients read error.message from either.
 */
#ifndef RAGD_APP_OPENAI_ERROR_H
#define RAGD_APP_OPENAI_ERROR_H

#include <jansson.h>

#include "http/http.h"

/* The OpenAI error `type` for an HTTP status. */
const char *openai_error_type(int status);

/* Answer status with an OpenAI-shaped error. param: the request field at
 * fault or NULL; code: NULL for ragd's code of the status. */
void openai_respond_error(http_request *r, int status, const char *param, const char *code,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The request body as a JSON object, owned by the caller (json_decref). On a
 * wrong Content-Type (415), an empty or invalid body or one that is not an
 * object (400) the OpenAI-shaped error has been sent and NULL is returned. */
json_t *openai_request_json(http_request *r);

#endif
