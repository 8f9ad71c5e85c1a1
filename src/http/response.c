/* response — answering a request: whole bodies, JSON, errors, and streams.
 *
 * An answer may come from the handler itself or later from another thread.
 * http_set_response() covers both: the libmicrohttpd callback that is running
 * (or that resuming the parked connection triggers) queues it.
 *
 * Streams are chunked responses whose body is read by libmicrohttpd from a
 * per-request buffer that producers append to. When the buffer is empty the
 * reader parks the connection and the next write wakes it, so a stream costs
 * no thread and no busy loop while it waits for tokens.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http/server_internal.h"
#include "http/sse_writer.h"
#include "obs/log.h"
#include "util/util.h"

/* A producer further ahead of its client than this is treated as a lost client. */
#define STREAM_BACKLOG_LIMIT (16u << 20)

const char *http_error_code(int status) {
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 422: return "unprocessable_entity";
    case 429: return "too_many_requests";
    case 500: return "internal_error";
    case 501: return "not_implemented";
    case 502: return "bad_gateway";
    case 503: return "unavailable";
    case 504: return "gateway_timeout";
    default: return status >= 500 ? "internal_error" : "bad_request";
    }
}

void http_add_header(http_request *r, const char *name, const char *value) {
    pthread_mutex_lock(&r->mu);
    buf_append(&r->headers, name, strlen(name) + 1);
    buf_append(&r->headers, value, strlen(value) + 1);
    pthread_mutex_unlock(&r->mu);
}

/* Called with r->mu held. */
static void apply_headers(http_request *r, struct MHD_Response *resp) {
    MHD_add_response_header(resp, "X-Request-ID", r->id);
    if (r->server->cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->server->cors_origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    for (size_t off = 0; off < r->headers.len;) {
        const char *name = r->headers.data + off;
        const char *value = name + strlen(name) + 1;
        MHD_add_response_header(resp, name, value);
        off = (size_t)(value - r->headers.data) + strlen(value) + 1;
    }
}

void http_set_response(http_request *r, struct MHD_Response *resp, int status) {
    pthread_mutex_lock(&r->mu);
    if (r->answered) {
        /* Only a server stop (which answers parked requests 503 and cancels
         * them) may answer first: a handler answers exactly once (http.h). */
        bool cancelled = atomic_load(&r->cancelled);
        pthread_mutex_unlock(&r->mu);
        MHD_destroy_response(resp);
        assert(cancelled && "a request is answered exactly once");
        if (!cancelled) log_error("request %s answered twice", r->id);
    } else {
        r->answered = true;
        r->status = status;
        if (!r->conn) {
            /* The connection (and maybe the server) is gone: nothing to send. */
            MHD_destroy_response(resp);
        } else {
            apply_headers(r, resp);
            r->response = resp;
            if (r->suspended) {
                r->suspended = false;
                MHD_resume_connection(r->conn);
            }
        }
        pthread_mutex_unlock(&r->mu);
    }
    if (!r->streaming) {
        /* A whole answer ends the hold; a stream's hold ends at http_stream_end. */
        pthread_mutex_lock(&r->mu);
        bool release = r->held;
        r->held = false;
        pthread_mutex_unlock(&r->mu);
        if (release) http_request_release(r);
    }
}

void http_request_hold(http_request *r) {
    pthread_mutex_lock(&r->mu);
    assert(!r->answered && "hold before answering: the answer ends the hold");
    if (!r->held) {
        r->held = true;
        r->ever_held = true;
        atomic_fetch_add(&r->refs, 1);
    }
    pthread_mutex_unlock(&r->mu);
}

bool http_request_cancelled(const http_request *r) { return atomic_load(&r->cancelled); }

void http_respond(http_request *r, int status, const char *content_type, const char *body,
                  size_t len) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", content_type);
    pthread_mutex_lock(&r->mu);
    r->response_bytes = len;
    pthread_mutex_unlock(&r->mu);
    http_set_response(r, resp, status);
}

void http_respond_json(http_request *r, int status, json_t *body) {
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(body);
    if (!text) {
        http_respond_error(r, 500, "could not serialise the answer");
        return;
    }
    size_t len = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    pthread_mutex_lock(&r->mu);
    r->response_bytes = len;
    pthread_mutex_unlock(&r->mu);
    http_set_response(r, resp, status);
}

static void respond_error_text(http_request *r, int status, const char *message) {
    buf body = BUF_INIT;
    buf_printf(&body, "{\"error\":{\"code\":\"%s\",\"message\":\"", http_error_code(status));
    buf_json_escape(&body, message, strlen(message));
    buf_puts(&body, "\"}}");
    http_respond(r, status, "application/json", body.data, body.len);
    buf_free(&body);
}

void http_respond_error(http_request *r, int status, const char *fmt, ...) {
    buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    respond_error_text(r, status, msg.data ? msg.data : "");
    buf_free(&msg);
}

void http_respond_overloaded(http_request *r, int status, int retry_after_s, const char *message) {
    char value[16];
    snprintf(value, sizeof value, "%d", retry_after_s > 0 ? retry_after_s : 1);
    http_add_header(r, "Retry-After", value);
    respond_error_text(r, status, message);
}

/* ---- streams ---- */

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max) {
    http_request *r = cls;
    pthread_mutex_lock(&r->mu);
    size_t avail = r->stream.len - r->stream_off;
    ssize_t n;
    if (avail) {
        n = (ssize_t)(avail < max ? avail : max);
        memcpy(out, r->stream.data + r->stream_off, (size_t)n);
        r->stream_off += (size_t)n;
        r->response_bytes += (size_t)n;
        if (r->stream_off == r->stream.len) {
            buf_clear(&r->stream);
            r->stream_off = 0;
        }
    } else if (r->stream_ended) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (atomic_load(&r->cancelled) || !r->conn) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        /* Nothing yet: park until http_stream_write wakes us. */
        r->reader_suspended = true;
        MHD_suspend_connection(r->conn);
        n = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void stream_freed(void *cls) { http_request_release(cls); }

void http_stream_begin(http_request *r, int status, const char *content_type) {
    atomic_fetch_add(&r->refs, 1); /* the response's reference, dropped by stream_freed */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, r, stream_freed);
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&r->mu);
    r->streaming = true;
    pthread_mutex_unlock(&r->mu);
    http_set_response(r, resp, status);
}

int http_stream_write(http_request *r, const char *data, size_t len) {
    pthread_mutex_lock(&r->mu);
    if (!r->conn || atomic_load(&r->cancelled) || r->stream_ended ||
        r->stream.len - r->stream_off > STREAM_BACKLOG_LIMIT) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    buf_append(&r->stream, data, len);
    if (r->reader_suspended) {
        r->reader_suspended = false;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int http_stream_event(http_request *r, const char *event, const char *data, size_t len) {
    buf ev = BUF_INIT;
    sse_write_event(&ev, event, NULL, data, len);
    int rc = http_stream_write(r, ev.data, ev.len);
    buf_free(&ev);
    return rc;
}

void http_stream_end(http_request *r) {
    pthread_mutex_lock(&r->mu);
    assert(r->streaming && "http_stream_end ends a stream that http_stream_begin began");
    r->stream_ended = true;
    if (r->reader_suspended && r->conn) {
        r->reader_suspended = false;
        MHD_resume_connection(r->conn);
    }
    bool release = r->held;
    r->held = false;
    pthread_mutex_unlock(&r->mu);
    if (release) http_request_release(r);
}
