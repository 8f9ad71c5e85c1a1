/* http — the HTTP server every ragd role runs, on libmicrohttpd.
 *
 * Why libmicrohttpd: a GNU library packaged by Debian that already does what a
 * server facing the internet needs and what is tedious to get right by hand:
 * HTTP/1.1 keep-alive and pipelining, chunked request and response bodies,
 * per-connection timeouts (slow-loris), connection and header-memory limits,
 * an epoll event loop over a small thread pool, and suspend/resume of a
 * connection, which is what lets a request wait for the encoder, the store or
 * an upstream model service without holding a thread.
 *
 * The model this module offers handlers:
 *   - A route table maps (method, path) to a handler. Unknown paths get 404,
 *     known paths with another method 405 with Allow, both as JSON errors.
 *     A route path ending in a slash and an asterisk is a prefix route
 *     (written "/v1/models/\*" in these comments, as a C comment cannot hold
 *     the pair): "/v1/models/\*" matches
 *     "/v1/models/<anything non-empty, slashes included>" and the handler reads
 *     that tail with http_request_path_tail(). An exact route wins over a
 *     prefix route that also matches; among prefix routes the longest wins.
 *   - The body is collected (up to the route's limit, else 413) before the
 *     handler runs; http_request_json() parses and type-checks it (415/400).
 *   - A handler answers with exactly one http_respond*() call, or starts a
 *     stream (http_stream_begin → http_stream_write… → http_stream_end). It may
 *     do so later, from any thread: the request is then "held"
 *     (http_request_hold) and the connection is parked until the answer comes.
 *   - Every response carries X-Request-ID; every completed request is logged
 *     as one JSON line and counted in the http_* metrics.
 */
#ifndef RAGD_HTTP_HTTP_H
#define RAGD_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef void (*http_handler_fn)(http_request *req, void *ctx);

typedef struct http_route {
    const char *method;  /* "GET" or "POST" (GET routes also answer HEAD) */
    const char *path;    /* exact path, e.g. "/ask", or a prefix route "/v1/models/\*" */
    http_handler_fn handler;
    void *ctx;
    size_t max_body;     /* 0: the server's default */
    bool open;           /* answered without the API key (health probes, metrics) */
    bool quiet;          /* logged at debug level: scraped every few seconds */
} http_route;

typedef struct http_config {
    const char *role;          /* for logs: "serve", "gateway", "model" */
    const char *host;          /* bind address, default "0.0.0.0" */
    int port;                  /* 0 picks a free port (see http_server_port) */
    int threads;               /* event-loop threads (default 2) */
    size_t max_body;           /* default request body limit in bytes */
    int max_connections;       /* concurrent connections */
    int connection_timeout_s;  /* idle/slow client timeout */
    size_t max_header_bytes;   /* per-connection memory for headers */
    const char *api_key;       /* if set, Bearer auth on every route not marked open */
    const char *cors_origin;   /* if set, Access-Control-Allow-Origin value */
} http_config;

#define HTTP_CONFIG_DEFAULTS                                                                    \
    {.role = "ragd", .host = "0.0.0.0", .port = 8000, .threads = 2, .max_body = 1 << 20,     \
     .max_connections = 4096, .connection_timeout_s = 30, .max_header_bytes = 32 * 1024,       \
     .api_key = NULL, .cors_origin = NULL}

http_server *http_server_start(const http_config *cfg, const http_route *routes, int nroutes,
                               char *err, size_t errlen);
/* Stop accepting, finish nothing more, free everything. Requests still held
 * by other threads stay valid until those threads release them. */
void http_server_stop(http_server *s);
int http_server_port(const http_server *s);
/* Route matching (what the server uses; exposed for tests). */
enum { HTTP_MATCH_NONE = 0, HTTP_MATCH_PREFIX = 1, HTTP_MATCH_EXACT = 2 };
int http_route_match(const char *route_path, const char *path);
/* For a prefix route ("/a/\*") and a path it matches, the part after "/a/";
 * NULL when the route is exact or does not match. */
const char *http_route_tail(const char *route_path, const char *path);


/* ---- the request ---- */
const char *http_request_method(const http_request *r);
const char *http_request_path(const http_request *r);
const char *http_request_id(const http_request *r);
/* The path parameter of a prefix route: "abc" for "/v1/models/abc" on
 * "/v1/models/\*" (already percent-decoded); "" on an exact route. */
const char *http_request_path_tail(const http_request *r);
/* Headers and query values are readable only while the handler runs. */
const char *http_request_header(const http_request *r, const char *name);
const char *http_request_query(const http_request *r, const char *name);
/* Every value of a repeated query parameter (?context=a&context=b). */
typedef void (*http_query_fn)(const char *value, void *ctx);
int http_request_query_all(const http_request *r, const char *name, http_query_fn fn, void *ctx);
const char *http_request_body(const http_request *r, size_t *len);
/* true when the client asked for text/event-stream in Accept. */
bool http_request_wants_sse(const http_request *r);
/* Parse the body as a JSON object, borrowed (the request owns it). On failure
 * the error response (415 wrong content type, 400 bad JSON / not an object)
 * has been sent and NULL is returned. Call from the handler only. */
json_t *http_request_json(http_request *r);
/* Seconds since the request's headers arrived. */
double http_request_elapsed(const http_request *r);

/* Keep the request past the handler's return (answer later, any thread).
 * Every hold is paired with exactly one http_respond*() or http_stream_end(). */
void http_request_hold(http_request *r);
/* true once the client is gone (or the server stopping): stop working for it. */
bool http_request_cancelled(const http_request *r);

/* ---- answering (exactly once) ---- */
void http_respond(http_request *r, int status, const char *content_type, const char *body,
                  size_t len);
/* Takes ownership of body (a JSON value) and serialises it compactly. */
void http_respond_json(http_request *r, int status, json_t *body);
/* {"error":{"code":…,"message":…}} with the code derived from status. */
void http_respond_error(http_request *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like http_respond_error, with Retry-After (429/503). */
void http_respond_overloaded(http_request *r, int status, int retry_after_s, const char *message);
/* Extra header on the response about to be sent (before respond/stream_begin). */
void http_add_header(http_request *r, const char *name, const char *value);

/* ---- streaming (chunked; Server-Sent Events) ---- */
void http_stream_begin(http_request *r, int status, const char *content_type);
/* Queue bytes for the client. Returns -1 once the client is gone. */
int http_stream_write(http_request *r, const char *data, size_t len);
/* A Server-Sent Event: "event: name\ndata: …\n\n", formatted by sse_writer.h
 * (data split into data lines at every LF, CRLF and lone CR). */
int http_stream_event(http_request *r, const char *event, const char *data, size_t len);
void http_stream_end(http_request *r);

/* The error code string for a status ("bad_request", …). */
const char *http_error_code(int status);

#endif
