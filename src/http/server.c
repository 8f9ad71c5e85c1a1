/* server — the libmicrohttpd daemon, request dispatch and request lifetime.
 *
 * libmicrohttpd calls one "access handler" several times per request: once
 * when the headers are in, once per piece of body, once with no body left
 * (when we dispatch to the route), and once more each time a parked
 * connection is resumed (when we queue the answer that another thread
 * produced). The request object lives in *con_cls between those calls; see
 * server_internal.h for who owns it when.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server_internal.h"
#include "obs/http_metrics.h"
#include "obs/log.h"
#include "util/util.h"

static atomic_uint_fast64_t request_counter;
static uint32_t request_prefix;

static void make_request_id(http_request *r) {
    const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-ID");
    if (given) {
        /* Accept a caller's id only if it is short and harmless in logs. */
        size_t n = strlen(given);
        bool ok = n > 0 && n < sizeof r->id;
        for (size_t i = 0; ok && i < n; i++) {
            char c = given[i];
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '-' || c == '_' || c == '.';
        }
        if (ok) {
            memcpy(r->id, given, n + 1);
            return;
        }
    }
    uint64_t n = atomic_fetch_add(&request_counter, 1) + 1;
    snprintf(r->id, sizeof r->id, "%08x%08llx", request_prefix, (unsigned long long)n);
}

/* The route path that serves path: an exact one if any, else the longest
 * prefix route that matches (see http.h); NULL for an unknown path. */
static const char *best_route_path(http_server *s, const char *path) {
    const char *best = NULL;
    for (int i = 0; i < s->nroutes; i++) {
        const char *p = s->routes[i].path;
        int m = http_route_match(p, path);
        if (m == HTTP_MATCH_EXACT) return p;
        if (m == HTTP_MATCH_PREFIX && (!best || strlen(p) > strlen(best))) best = p;
    }
    return best;
}

static const http_route *find_route(http_server *s, const char *path, const char *method,
                                    bool *path_known) {
    const char *route_path = best_route_path(s, path);
    *path_known = route_path != NULL;
    bool head = !strcmp(method, "HEAD");
    for (int i = 0; route_path && i < s->nroutes; i++) {
        const http_route *rt = &s->routes[i];
        if (strcmp(rt->path, route_path)) continue;
        if (!strcmp(rt->method, method) || (head && !strcmp(rt->method, "GET"))) return rt;
    }
    return NULL;
}

static void allowed_methods(http_server *s, const char *path, buf *out) {
    const char *route_path = best_route_path(s, path);
    for (int i = 0; route_path && i < s->nroutes; i++) {
        if (strcmp(s->routes[i].path, route_path)) continue;
        if (out->len) buf_puts(out, ", ");
        buf_puts(out, s->routes[i].method);
        if (!strcmp(s->routes[i].method, "GET")) buf_puts(out, ", HEAD");
    }
    if (s->cors_origin) buf_puts(out, ", OPTIONS");
}

/* Constant-time comparison, so the key cannot be guessed byte by byte from
 * response times. The length is not secret. */
static bool same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static bool authorised(http_request *r) {
    const char *key = r->server->api_key;
    assert(r->route); /* unknown paths are answered before authorisation */
    if (!key || r->route->open) return true;
    const char *auth = http_request_header(r, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) return false;
    return same_secret(auth + 7, key);
}

static void live_add(http_server *s, http_request *r) {
    pthread_mutex_lock(&s->live_mu);
    r->live_next = s->live;
    if (s->live) s->live->live_prev = r;
    s->live = r;
    pthread_mutex_unlock(&s->live_mu);
}

static void live_remove(http_server *s, http_request *r) {
    pthread_mutex_lock(&s->live_mu);
    if (r->live_prev) r->live_prev->live_next = r->live_next;
    else if (s->live == r) s->live = r->live_next;
    if (r->live_next) r->live_next->live_prev = r->live_prev;
    r->live_prev = r->live_next = NULL;
    pthread_mutex_unlock(&s->live_mu);
}

static http_request *request_new(http_server *s, struct MHD_Connection *conn, const char *url,
                                 const char *method) {
    http_request *r = xcalloc(1, sizeof *r);
    r->server = s;
    r->conn = conn;
    r->start_ns = now_ns();
    snprintf(r->method, sizeof r->method, "%s", method);
    r->path = xstrdup(url);
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->refs, 1);
    make_request_id(r);
    bool known;
    r->route = find_route(s, r->path, r->method, &known);
    r->max_body = r->route && r->route->max_body ? r->route->max_body : s->cfg.max_body;
    live_add(s, r);
    return r;
}

void http_request_release(http_request *r) {
    int before = atomic_fetch_sub(&r->refs, 1);
    assert(before >= 1 && "released more often than referenced");
    if (before != 1) return;
    if (r->response) MHD_destroy_response(r->response);
    json_decref(r->parsed);
    buf_free(&r->body);
    buf_free(&r->headers);
    buf_free(&r->stream);
    pthread_mutex_destroy(&r->mu);
    free(r->path);
    free(r);
}

void http_queue_pending(http_request *r) {
    if (!r->response || !r->conn) return;
    MHD_queue_response(r->conn, (unsigned)r->status, r->response);
    MHD_destroy_response(r->response);
    r->response = NULL;
}

/* Everything that can be answered before the handler runs. Returns true if it
 * answered. */
static bool answer_before_handler(http_request *r) {
    http_server *s = r->server;
    if (r->body_too_large) {
        http_respond_error(r, 413, "request body exceeds the limit of %zu bytes", r->max_body);
        return true;
    }
    if (!strcmp(r->method, "OPTIONS") && s->cors_origin) {
        buf allow = BUF_INIT;
        allowed_methods(s, r->path, &allow);
        http_add_header(r, "Access-Control-Allow-Methods", allow.data ? allow.data : "");
        http_add_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, X-Request-ID");
        http_add_header(r, "Access-Control-Max-Age", "600");
        buf_free(&allow);
        http_respond(r, 204, "text/plain", "", 0);
        return true;
    }
    if (!r->route) {
        bool known;
        find_route(s, r->path, r->method, &known);
        if (!known) {
            http_respond_error(r, 404, "no route %s", r->path);
        } else {
            buf allow = BUF_INIT;
            allowed_methods(s, r->path, &allow);
            http_add_header(r, "Allow", allow.data);
            http_respond_error(r, 405, "%s does not allow %s (allowed: %s)", r->path, r->method,
                               allow.data);
            buf_free(&allow);
        }
        return true;
    }
    if (!authorised(r)) {
        http_add_header(r, "WWW-Authenticate", "Bearer");
        http_respond_error(r, 401, "missing or wrong API key (Authorization: Bearer …)");
        return true;
    }
    return false;
}

/* A body declared (Content-Length) over the route's limit is refused as soon
 * as the headers are in, as nginx's client_max_body_size does: waiting for a
 * body that size (or for one the client never sends) would leave the client
 * with no answer at all. Queueing the answer in this first call also keeps
 * libmicrohttpd from sending "100 Continue", and since the body is never
 * read the connection is closed after the answer. */
static void answer_declared_too_large(http_request *r) {
    r->body_too_large = true;
    r->dispatched = true;
    http_add_header(r, "Connection", "close");
    answer_before_handler(r);
    pthread_mutex_lock(&r->mu);
    assert(r->response); /* answer_before_handler answers a body that is too large */
    http_queue_pending(r);
    pthread_mutex_unlock(&r->mu);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    http_server *s = cls;
    http_request *r = *con_cls;
    if (!r) {
        r = request_new(s, conn, url, method);
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > r->max_body) answer_declared_too_large(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->body_too_large && r->body.len + *upload_data_size <= r->max_body)
            buf_append(&r->body, upload_data, *upload_data_size);
        else
            r->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->dispatched) {
        r->dispatched = true;
        r->in_handler = true;
        if (!answer_before_handler(r)) r->route->handler(r, r->route->ctx);
        r->in_handler = false;
        pthread_mutex_lock(&r->mu);
        if (!r->answered && !r->ever_held) {
            pthread_mutex_unlock(&r->mu);
            log_error("handler for %s %s returned without an answer", r->method, r->path);
            http_respond_error(r, 500, "the server produced no answer");
            pthread_mutex_lock(&r->mu);
        }
    } else {
        pthread_mutex_lock(&r->mu);
    }
    /* Either the answer is here (queue it) or it is still being made (park). */
    if (r->response) {
        http_queue_pending(r);
    } else if (!r->suspended && !(r->answered && !r->streaming)) {
        /* (an answer already queued, as for a declared body too large, has
         * nothing left to wait for) */
        r->suspended = true;
        MHD_suspend_connection(conn);
    }
    pthread_mutex_unlock(&r->mu);
    return MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    http_server *s = cls;
    http_request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    atomic_store(&r->cancelled, true);
    pthread_mutex_lock(&r->mu);
    r->conn = NULL;
    int status = r->status ? r->status : 499; /* 499: the client left before an answer */
    size_t out_bytes = r->response_bytes;
    /* An answer made while the client was leaving, never queued: nobody will
     * send it now. Dropped here, since a stream's response holds a reference
     * to r (a cycle that http_request_release alone would never break). */
    struct MHD_Response *unsent = r->response;
    r->response = NULL;
    pthread_mutex_unlock(&r->mu);
    if (unsent) MHD_destroy_response(unsent);
    live_remove(s, r);

    double seconds = (double)(now_ns() - r->start_ns) / 1e9;
    /* "none" for unmatched paths, as the instrumentator labels them. */
    const char *handler = r->route ? r->route->path : "none";
    http_metrics_observe(handler, r->method, status, seconds, r->body.len, out_bytes);
    bool quiet = r->route && r->route->quiet;
    log_field fields[] = {
        LOG_STR("rid", r->id),          LOG_STR("role", s->role),
        LOG_STR("method", r->method),   LOG_STR("route", handler),
        LOG_STR("path", r->path),       LOG_INT("status", status),
        LOG_DBL("duration_ms", seconds * 1e3), LOG_INT("bytes_in", r->body.len),
        LOG_INT("bytes_out", out_bytes),
        LOG_STR("end", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted"),
    };
    log_fields(quiet ? LOG_DEBUG : LOG_INFO, "request", fields, ARRAY_LEN(fields));
    http_request_release(r);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    buf msg = BUF_INIT;
    buf_vprintf(&msg, fmt, ap);
    while (msg.len && (msg.data[msg.len - 1] == '\n')) msg.data[--msg.len] = '\0';
    log_warn("libmicrohttpd: %s", msg.data ? msg.data : "");
    buf_free(&msg);
}

static void server_free(http_server *s) {
    for (int i = 0; i < s->nroutes; i++) free((char *)s->routes[i].path), free((char *)s->routes[i].method);
    free(s->routes);
    free(s->role);
    free(s->host);
    free(s->api_key);
    free(s->cors_origin);
    pthread_mutex_destroy(&s->live_mu);
    free(s);
}

/* The accept policy: once stopping, a new connection is closed as soon as it
 * is accepted. This is how the server stops taking work, rather than
 * MHD_quiesce_daemon(): on an epoll daemon with its own threads, quiescing
 * races the worker's own removal of the listening socket from its epoll set,
 * and libmicrohttpd (0.9.75, and upstream still) aborts the process when it
 * loses that race ("Failed to remove listen FD from epoll set"). */
static enum MHD_Result accept_unless_stopping(void *cls, const struct sockaddr *addr,
                                              socklen_t addrlen) {
    (void)addr;
    (void)addrlen;
    const http_server *s = cls;
    return atomic_load(&s->stopping) ? MHD_NO : MHD_YES;
}

http_server *http_server_start(const http_config *cfg, const http_route *routes, int nroutes,
                               char *err, size_t errlen) {
    if (!request_prefix) request_prefix = (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 16));
    http_server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->role = xstrdup(cfg->role ? cfg->role : "ragd");
    s->host = xstrdup(cfg->host ? cfg->host : "0.0.0.0");
    s->api_key = cfg->api_key && *cfg->api_key ? xstrdup(cfg->api_key) : NULL;
    s->cors_origin = cfg->cors_origin && *cfg->cors_origin ? xstrdup(cfg->cors_origin) : NULL;
    s->routes = xcalloc((size_t)nroutes, sizeof *s->routes);
    s->nroutes = nroutes;
    for (int i = 0; i < nroutes; i++) {
        s->routes[i] = routes[i];
        s->routes[i].path = xstrdup(routes[i].path);
        s->routes[i].method = xstrdup(routes[i].method);
    }
    pthread_mutex_init(&s->live_mu, NULL);

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, s->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, s->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        seterr(err, errlen, "bind address '%s' is not an IPv4 or IPv6 address", s->host);
        server_free(s);
        return NULL;
    }
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 2;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, accept_unless_stopping, s, access_handler, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, /* first, so every message goes through it */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_connections > 0 ? cfg->max_connections : 4096),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->connection_timeout_s > 0 ? cfg->connection_timeout_s : 30),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg->max_header_bytes ? cfg->max_header_bytes : 32 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_END);
    if (!s->daemon) {
        seterr(err, errlen, "cannot listen on %s:%d (in use, or not permitted)", s->host, cfg->port);
        server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    return s;
}

int http_server_port(const http_server *s) { return s->port; }

/* Wake every parked connection with something to finish on. Returns how many
 * requests are still live. */
static int wake_parked(http_server *s) {
    int live = 0;
    pthread_mutex_lock(&s->live_mu);
    for (http_request *r = s->live; r; r = r->live_next) {
        live++;
        atomic_store(&r->cancelled, true);
        pthread_mutex_lock(&r->mu);
        if (!r->response && r->conn && !r->answered && r->dispatched) {
            r->answered = true;
            static const char body[] =
                "{\"error\":{\"code\":\"unavailable\",\"message\":\"server shutting down\"}}";
            r->response = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                                          MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r->response, "Content-Type", "application/json");
            r->status = 503;
        }
        if (r->streaming) r->stream_ended = true;
        if (r->conn && (r->suspended || r->reader_suspended)) {
            r->suspended = r->reader_suspended = false;
            MHD_resume_connection(r->conn);
        }
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&s->live_mu);
    return live;
}

void http_server_stop(http_server *s) {
    if (!s) return;
    atomic_store(&s->stopping, true);
    /* Stop accepting (accept_unless_stopping now refuses); then, because
     * libmicrohttpd refuses to stop while any connection is parked (parked
     * connections are not polled, so it could not close them), answer and
     * wake every parked request and give the event loop up to 10 s to send
     * those answers before the daemon goes. */
    for (int i = 0; i < 1000 && wake_parked(s) > 0; i++) usleep(10 * 1000);
    MHD_stop_daemon(s->daemon);
    server_free(s);
}
