/* fuzz_json_request — the request layer of the real server, over real
 * sockets: libmicrohttpd's parsing, the body collection and limits, the JSON
 * parsing and every route's validation, with the routes of `ragd serve`
 * (POST /ask, POST /encode, POST /v1/embeddings, GET|POST /llm_ask, GET
 * /v1/models[/{id}] and the common ones) wired exactly as cmd_serve.c does, in this process: the
 * random-twin encoder (one thread), the mock LLM, and a small real store.
 *
 * Input: byte 0 picks the target, byte 1 the framing, the rest is the body
 * (or the query string, or the whole raw request):
 *   target  0 POST /ask, 1 POST /encode, 2 POST /v1/embeddings,
 *           3 POST /llm_ask, 4 GET /llm_ask?<rest, percent-escaped>,
 *           5 raw bytes sent as they are (request line, headers, body)
 *   framing bit 0-1 Content-Type: application/json | application/json;
 *                   charset=utf-8 | text/plain | none
 *           bit 2   Transfer-Encoding: chunked (in two chunks) instead of
 *                   Content-Length
 *           bit 3   Accept: text/event-stream
 * The answer must come (the connection closes within the server's timeout),
 * carry a valid status line, and — outside raw mode — every 4xx/5xx must be
 * a JSON error {"error":{"code":str,"message":str}}; a 500 is a bug. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/ask.h"
#include "app/local_pipeline.h"
#include "app/model_stack.h"
#include "app/openai_models.h"
#include "app/web.h"
#include "fuzz_util.h"
#include "http/http.h"
#include "model/encoder.h"
#include "util/buf.h"
#include "util/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything the in-process server uses lives for the whole run. */
static model_stack model;
static store *the_store;
static local_backend backend;
static pipeline pipe_;
static web_role role = {.role = "serve"};
static route_list routes;
static openai_catalog models;
static http_server *server;
static int port;

static void die(const char *what, const char *err) {
    fprintf(stderr, "fuzz_json_request: %s: %s\n", what, err);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    fuzz_quiet_logs();
    char model_dir[1024], err[512];
    fuzz_shared_path("models/minilm-l6-h384-random", model_dir, sizeof model_dir);
    option_list unused = OPTION_LIST_INIT;
    model_opts mo;
    model_opts_add(&unused, &mo); /* the defaults */
    options_free(&unused);
    mo.encoder.model_dir = model_dir;
    mo.encoder.threads = 1;
    mo.encoder.llm_workers = 2;
    if (model_stack_open(&model, &mo, "fuzz") < 0) die("model stack", model_dir);
    const encoder_info *info = encoder_get_info(model.encoder);
    char dir[512];
    fuzz_build_store(dir, sizeof dir, encoder_identity(info), ENCODER_DIM);
    the_store = store_open(dir, encoder_identity(info), err,
                           sizeof err);
    if (!the_store) die("store", err);
    backend = (local_backend){.batcher = model.batcher, .llm = model.llm};
    pipe_ = (pipeline){.store = the_store, .workers = workqueue_start("fuzz-ask", 2, 64)};
    local_pipeline_init(&pipe_, &backend);
    web_add_routes(&routes, &role);
    ask_add_routes(&routes, &pipe_);
    model_routes_add(&routes, &model.service);
    openai_catalog_init(&models);
    openai_models_add_routes(&routes, &models);
    http_config cfg = HTTP_CONFIG_DEFAULTS;
    cfg.role = "fuzz";
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.connection_timeout_s = 1; /* raw pipelined inputs that half-close wait for it */
    server = http_server_start(&cfg, routes.items, routes.n, err, sizeof err);
    if (!server) die("server", err);
    port = http_server_port(server);
    return 0;
}

static int connect_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("fuzz_json_request: connect");
        abort();
    }
    struct timeval tv = {.tv_sec = 15};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the server may close early (413, 400): fine */
        p += w, n -= (size_t)w;
    }
}

/* Read until the server closes. A timeout means the server neither answered
 * nor dropped the connection within its own idle timeout: a hang. */
static void read_all(int fd, buf *out) {
    char chunk[8192];
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            buf_append(out, chunk, (size_t)n);
            continue;
        }
        if (n == 0 || errno == ECONNRESET) break;
        if (errno == EINTR) continue; /* libFuzzer's -timeout alarm */
        fprintf(stderr, "fuzz_json_request: no answer and no close: %s\n", strerror(errno));
        abort();
    }
    buf_append(out, "", 0);
}

static void check_error_body(const char *resp, size_t len) {
    const char *body = strstr(resp, "\r\n\r\n");
    if (!body) abort();
    body += 4;
    const char *headers_end = body;
    const char *ctype = strcasestr(resp, "\r\nContent-Type: application/json");
    if (!ctype || ctype > headers_end) {
        fprintf(stderr, "error without a JSON content type:\n%.*s\n", (int)(len > 2000 ? 2000 : len), resp);
        abort();
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len - (size_t)(body - resp), 0, &jerr);
    json_t *e = json_object_get(doc, "error");
    if (!json_is_string(json_object_get(e, "code")) || !json_is_string(json_object_get(e, "message"))) {
        fprintf(stderr, "error body is not {\"error\":{code,message}}:\n%.*s\n",
                (int)(len > 2000 ? 2000 : len), resp);
        abort();
    }
    json_decref(doc);
}

static const char *const targets[] = {"/ask", "/encode", "/v1/embeddings", "/llm_ask"};
static const char *const ctypes[] = {"application/json", "application/json; charset=utf-8",
                                     "text/plain", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int target = data[0] % 6;
    int framing = data[1];
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    buf req = BUF_INIT;
    if (target == 5) {
        buf_append(&req, body, len);
    } else {
        if (target == 4) {
            buf_puts(&req, "GET /llm_ask?");
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)body[i];
                if (c <= ' ' || c >= 0x7f || c == '#') buf_printf(&req, "%%%02X", c);
                else buf_putc(&req, (char)c);
            }
            buf_puts(&req, " HTTP/1.1\r\n");
        } else {
            buf_printf(&req, "POST %s HTTP/1.1\r\n", targets[target]);
        }
        buf_puts(&req, "Host: fuzz\r\nConnection: close\r\n");
        if (framing & 8) buf_puts(&req, "Accept: text/event-stream\r\n");
        if (target != 4) {
            const char *ct = ctypes[framing & 3];
            if (ct) buf_printf(&req, "Content-Type: %s\r\n", ct);
            if (framing & 4) {
                size_t half = len / 2;
                buf_puts(&req, "Transfer-Encoding: chunked\r\n\r\n");
                if (half) {
                    buf_printf(&req, "%zx\r\n", half);
                    buf_append(&req, body, half);
                    buf_puts(&req, "\r\n");
                }
                if (len - half) {
                    buf_printf(&req, "%zx\r\n", len - half);
                    buf_append(&req, body + half, len - half);
                    buf_puts(&req, "\r\n");
                }
                buf_puts(&req, "0\r\n\r\n");
            } else {
                buf_printf(&req, "Content-Length: %zu\r\n\r\n", len);
                buf_append(&req, body, len);
            }
        } else {
            buf_puts(&req, "\r\n");
        }
    }
    uint64_t t0 = now_ns();
    int fd = connect_server();
    send_all(fd, req.data ? req.data : "", req.len);
    shutdown(fd, SHUT_WR);
    uint64_t t1 = now_ns();
    buf resp = BUF_INIT;
    read_all(fd, &resp);
    close(fd);
    if (getenv("FUZZ_TRACE"))
        fprintf(stderr, "target %d: sent in %.1f ms, answered in %.1f ms: %.40s\n", target,
                (double)(t1 - t0) / 1e6, (double)(now_ns() - t1) / 1e6, resp.data);

    if (target != 5) {
        int status = 0;
        if (resp.len < 12 || sscanf(resp.data, "HTTP/1.1 %d", &status) != 1) {
            fprintf(stderr, "no status line; request was:\n%.*s\n", (int)(req.len > 2000 ? 2000 : req.len), req.data);
            abort();
        }
        if (status >= 500) {
            fprintf(stderr, "server error:\n%s\n", resp.data);
            abort();
        }
        if (status >= 400) check_error_body(resp.data, resp.len);
    }
    buf_free(&resp);
    buf_free(&req);
    return 0;
}
