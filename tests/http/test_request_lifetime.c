/* test_request_lifetime — the request object's life in src/http (see
 * server_internal.h): a handler answers at once, or holds the request and
 * answers later from another thread, or streams; a client that leaves is
 * seen as cancelled by the stream's producer; a handler that neither answers
 * nor holds gets a 500; a request still held at server stop is answered 503
 * and stays valid until its holder lets go. The reference count is checked
 * at each step from the inside, and under the sanitizer build LeakSanitizer
 * and AddressSanitizer check that every request is freed exactly once.
 *
 * Every stream also goes through the one SSE writer: a lone CR in a token
 * must split its data line, as LF and CRLF do.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/server_internal.h"
#include "util/buf.h"
#include "util/util.h"

static http_server *server;

/* A binary semaphore the handlers and the test meet at. */
typedef struct signal_flag {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int raised;
} signal_flag;

static void flag_raise(signal_flag *f) {
    pthread_mutex_lock(&f->mu);
    f->raised++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void flag_wait(signal_flag *f, int count) {
    pthread_mutex_lock(&f->mu);
    while (f->raised < count) pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static signal_flag parked_entered = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static http_request *parked_request;
static atomic_int refs_seen_in_handler, refs_seen_after_hold;

/* ---- handlers ---- */

static void get_now(http_request *r, void *ctx) {
    atomic_store(&refs_seen_in_handler, atomic_load(&r->refs));
    http_respond(r, 200, "text/plain", "now", 3);
}

static void *answer_later(void *arg) {
    http_request *r = arg;
    http_respond(r, 200, "text/plain", "later", 5); /* ends the hold */
    return NULL;
}

static void get_later(http_request *r, void *ctx) {
    http_request_hold(r);
    http_request_hold(r); /* a second hold by the same owner is the same hold */
    atomic_store(&refs_seen_after_hold, atomic_load(&r->refs));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, answer_later, r), 0);
    pthread_detach(t);
}

static void *stream_tokens(void *arg) {
    http_request *r = arg;
    http_stream_begin(r, 200, "text/event-stream");
    http_stream_event(r, "token", "a\rb", 3);     /* lone CR */
    http_stream_event(r, "token", "c\r\nd\ne", 6); /* CRLF and LF */
    http_stream_event(r, "done", "{}", 2);
    http_stream_end(r);
    return NULL;
}

static void get_stream(http_request *r, void *ctx) {
    http_request_hold(r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stream_tokens, r), 0);
    pthread_detach(t);
}

static atomic_bool producer_saw_cancel;
static signal_flag producer_done = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

/* Streams until the client is gone; bounded so a broken cancel cannot hang. */
static void *stream_until_gone(void *arg) {
    http_request *r = arg;
    http_stream_begin(r, 200, "text/event-stream");
    char piece[1024];
    memset(piece, 'x', sizeof piece);
    for (long i = 0; i < 10L * 1000 * 1000; i++) {
        if (http_stream_event(r, "token", piece, sizeof piece) < 0) break;
        if (i % 64 == 0) usleep(1000);
    }
    atomic_store(&producer_saw_cancel, http_request_cancelled(r));
    http_stream_end(r);
    flag_raise(&producer_done);
    return NULL;
}

static void get_endless(http_request *r, void *ctx) {
    http_request_hold(r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stream_until_gone, r), 0);
    pthread_detach(t);
}

static void get_silent(http_request *r, void *ctx) { /* neither answers nor holds */ }

static void get_parked(http_request *r, void *ctx) {
    http_request_hold(r);
    parked_request = r;
    flag_raise(&parked_entered);
}

static const http_route routes[] = {
    {.method = "GET", .path = "/now", .handler = get_now},
    {.method = "GET", .path = "/later", .handler = get_later},
    {.method = "GET", .path = "/stream", .handler = get_stream},
    {.method = "GET", .path = "/endless", .handler = get_endless},
    {.method = "GET", .path = "/silent", .handler = get_silent},
    {.method = "GET", .path = "/parked", .handler = get_parked},
};

/* ---- a client ---- */

static size_t gather(char *p, size_t size, size_t n, void *ctx) {
    buf_append(ctx, p, size * n);
    return size * n;
}

static long get(const char *path, buf *body) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_server_port(server), path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gather);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L); /* only against a hang */
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

static int connect_raw(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(server))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int start(void **state) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    http_config cfg = HTTP_CONFIG_DEFAULTS;
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    char err[256];
    server = http_server_start(&cfg, routes, (int)ARRAY_LEN(routes), err, sizeof err);
    if (!server) fprintf(stderr, "%s\n", err);
    return server ? 0 : -1;
}

static int finish(void **state) {
    if (server) http_server_stop(server);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

static void answer_in_the_handler(void **state) {
    buf body = BUF_INIT;
    assert_int_equal(get("/now", &body), 200);
    assert_string_equal(body.data, "now");
    assert_int_equal(atomic_load(&refs_seen_in_handler), 1); /* libmicrohttpd's reference only */
    buf_free(&body);
}

static void hold_and_answer_from_another_thread(void **state) {
    buf body = BUF_INIT;
    assert_int_equal(get("/later", &body), 200);
    assert_string_equal(body.data, "later");
    assert_int_equal(atomic_load(&refs_seen_after_hold), 2); /* one hold, however often taken */
    buf_free(&body);
}

static void stream_splits_data_at_cr_lf_and_crlf(void **state) {
    buf body = BUF_INIT;
    assert_int_equal(get("/stream", &body), 200);
    assert_string_equal(body.data,
                        "event: token\ndata: a\ndata: b\n\n"
                        "event: token\ndata: c\ndata: d\ndata: e\n\n"
                        "event: done\ndata: {}\n\n");
    buf_free(&body);
}

static void client_leaving_cancels_the_stream(void **state) {
    int fd = connect_raw();
    const char req[] = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(send(fd, req, sizeof req - 1, MSG_NOSIGNAL) > 0);
    char first[256];
    assert_true(read(fd, first, sizeof first) > 0); /* the stream has begun */
    close(fd);
    flag_wait(&producer_done, 1);
    assert_true(atomic_load(&producer_saw_cancel));
}

static void no_answer_is_a_500(void **state) {
    buf body = BUF_INIT;
    assert_int_equal(get("/silent", &body), 500);
    assert_non_null(strstr(body.data, "\"internal_error\""));
    buf_free(&body);
}

static void *get_parked_in_thread(void *arg) {
    buf *body = arg;
    long status = get("/parked", body);
    buf_printf(body, "|%ld", status);
    return NULL;
}

/* Last: stopping the server answers the parked request 503; its holder's
 * late answer is then dropped and releases the request. */
static void stop_answers_held_requests(void **state) {
    buf body = BUF_INIT;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, get_parked_in_thread, &body), 0);
    flag_wait(&parked_entered, 1);
    http_server_stop(server);
    server = NULL;
    pthread_join(t, NULL);
    assert_non_null(strstr(body.data, "server shutting down"));
    assert_non_null(strstr(body.data, "|503"));
    assert_true(http_request_cancelled(parked_request));
    http_respond(parked_request, 200, "text/plain", "too late", 8); /* dropped; frees the request */
    buf_free(&body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_in_the_handler),
        cmocka_unit_test(hold_and_answer_from_another_thread),
        cmocka_unit_test(stream_splits_data_at_cr_lf_and_crlf),
        cmocka_unit_test(client_leaving_cancels_the_stream),
        cmocka_unit_test(no_answer_is_a_500),
        cmocka_unit_test(stop_answers_held_requests),
    };
    return cmocka_run_group_tests(tests, start, finish);
}
