/* test_loki — the Loki push client against a real HTTP listener run by the
 * test (a socket server thread that accepts pushes, parses the JSON and
 * answers with a scripted status), and against a port where nothing listens.
 *
 * Checked: lines arrive once, in order, with the stream labels app/role/level
 * and nanosecond timestamps; invalid UTF-8 is replaced; 5xx is retried and
 * 400 is dropped; a Loki that never answers does not hold logging up (the
 * overflow is counted exactly while the push is still outstanding); a Loki
 * that is down costs lines, counted, and stop still returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "obs/log.h"
#include "obs/loki.h"
#include "obs/metrics.h"
#include "obs/ragd_metrics.h"

/* ---- a scripted Loki stand-in: one request per connection ---- */

enum { MAX_REQUESTS = 64 };

typedef struct fake_loki {
    int listen_fd;
    int port;
    pthread_t thread;
    int quit;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int statuses[MAX_REQUESTS]; /* answer for request i; 0 means 204 */
    int hold;                   /* don't answer until released */
    int requests;               /* received so far */
    json_t *bodies[MAX_REQUESTS];
    char paths[MAX_REQUESTS][64];
    char content_types[MAX_REQUESTS][64];
} fake_loki;

static int read_request(int fd, char **body_out, char *path, size_t pathlen, char *ctype,
                        size_t ctypelen) {
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap + 1);
    char *end = NULL;
    while (!end) {
        if (len == cap) {
            cap *= 2;
            data = realloc(data, cap + 1);
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n <= 0) {
            free(data);
            return -1;
        }
        len += (size_t)n;
        data[len] = '\0';
        end = strstr(data, "\r\n\r\n");
    }
    size_t header_len = (size_t)(end - data) + 4;
    sscanf(data, "%*s %63s", path);
    (void)pathlen;
    size_t content_length = 0;
    ctype[0] = '\0';
    for (char *line = strstr(data, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            content_length = strtoul(line + 17, NULL, 10);
        if (strncasecmp(line + 2, "Content-Type:", 13) == 0) {
            const char *v = line + 15;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r");
            if (n >= ctypelen) n = ctypelen - 1;
            memcpy(ctype, v, n);
            ctype[n] = '\0';
        }
    }
    while (len < header_len + content_length) {
        if (len == cap) {
            cap *= 2;
            data = realloc(data, cap + 1);
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n <= 0) {
            free(data);
            return -1;
        }
        len += (size_t)n;
    }
    char *body = malloc(content_length + 1);
    memcpy(body, data + header_len, content_length);
    body[content_length] = '\0';
    free(data);
    *body_out = body;
    return 0;
}

static void *fake_loki_main(void *arg) {
    fake_loki *f = arg;
    for (;;) {
        struct pollfd p = {.fd = f->listen_fd, .events = POLLIN};
        pthread_mutex_lock(&f->lock);
        int quit = f->quit;
        pthread_mutex_unlock(&f->lock);
        if (quit) break;
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        char *body = NULL, path[64] = "", ctype[64] = "";
        if (read_request(fd, &body, path, sizeof path, ctype, sizeof ctype) == 0) {
            pthread_mutex_lock(&f->lock);
            int i = f->requests;
            if (i < MAX_REQUESTS) {
                f->bodies[i] = json_loads(body, 0, NULL);
                snprintf(f->paths[i], sizeof f->paths[i], "%s", path);
                snprintf(f->content_types[i], sizeof f->content_types[i], "%s", ctype);
            }
            f->requests++;
            pthread_cond_broadcast(&f->changed);
            while (f->hold && !f->quit) pthread_cond_wait(&f->changed, &f->lock);
            int status = i < MAX_REQUESTS && f->statuses[i] ? f->statuses[i] : 204;
            pthread_mutex_unlock(&f->lock);
            char reply[128];
            int n = snprintf(reply, sizeof reply,
                             "HTTP/1.1 %d Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                             status);
            (void)!write(fd, reply, (size_t)n);
            free(body);
        }
        close(fd);
    }
    return NULL;
}

static fake_loki *fake_loki_start(const int *statuses, int nstatuses, int hold) {
    fake_loki *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
    for (int i = 0; i < nstatuses; i++) f->statuses[i] = statuses[i];
    f->hold = hold;
    f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->listen_fd, 16), 0);
    socklen_t alen = sizeof a;
    getsockname(f->listen_fd, (struct sockaddr *)&a, &alen);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_loki_main, f), 0);
    return f;
}

static void fake_loki_release(fake_loki *f) {
    pthread_mutex_lock(&f->lock);
    f->hold = 0;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

static void fake_loki_wait_requests(fake_loki *f, int n) {
    pthread_mutex_lock(&f->lock);
    while (f->requests < n) pthread_cond_wait(&f->changed, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

static void fake_loki_stop(fake_loki *f) {
    pthread_mutex_lock(&f->lock);
    f->quit = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    for (int i = 0; i < MAX_REQUESTS; i++) json_decref(f->bodies[i]);
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static char *url_of(const fake_loki *f) {
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", f->port);
    return url;
}

/* How many times a line whose msg is `msg` arrived in accepted requests
 * (those answered 2xx), and checks of every stream's labels and timestamps. */
static int count_msg(fake_loki *f, const char *role, const char *msg, const char **level_out) {
    int found = 0;
    for (int i = 0; i < f->requests && i < MAX_REQUESTS; i++) {
        int status = f->statuses[i] ? f->statuses[i] : 204;
        if (status / 100 != 2) continue;
        json_t *streams = json_object_get(f->bodies[i], "streams");
        assert_true(json_is_array(streams));
        size_t si;
        json_t *stream;
        json_array_foreach(streams, si, stream) {
            json_t *labels = json_object_get(stream, "stream");
            assert_string_equal(json_string_value(json_object_get(labels, "app")), "ragd");
            assert_string_equal(json_string_value(json_object_get(labels, "role")), role);
            const char *level = json_string_value(json_object_get(labels, "level"));
            assert_non_null(level);
            unsigned long long last_ts = 0;
            size_t vi;
            json_t *value;
            json_array_foreach(json_object_get(stream, "values"), vi, value) {
                const char *ts = json_string_value(json_array_get(value, 0));
                assert_non_null(ts);
                assert_true(strspn(ts, "0123456789") == strlen(ts) && strlen(ts) >= 19);
                unsigned long long t = strtoull(ts, NULL, 10);
                assert_true(t >= last_ts);
                last_ts = t;
                json_t *line = json_loads(json_string_value(json_array_get(value, 1)), 0, NULL);
                assert_non_null(line); /* each line is the JSON log object */
                assert_string_equal(json_string_value(json_object_get(line, "level")), level);
                if (strcmp(json_string_value(json_object_get(line, "msg")), msg) == 0) {
                    found++;
                    if (level_out) *level_out = level;
                }
                json_decref(line);
            }
        }
    }
    return found;
}

static int setup(void **state) {
    (void)state;
    metrics_reset();
    ragd_metrics_register();
    log_set_level(LOG_INFO);
    return 0;
}

static loki_options fast_options(void) {
    return (loki_options){.batch_wait = 0.02, .backoff_min = 0.01, .backoff_max = 0.05,
                          .stop_deadline = 10};
}

static void test_lines_arrive_with_labels(void **state) {
    (void)state;
    fake_loki *f = fake_loki_start(NULL, 0, 0);
    loki_options o = fast_options();
    char err[256];
    loki_client *c = loki_start_opts(url_of(f), "gateway", &o, err, sizeof err);
    assert_non_null(c);
    for (int i = 0; i < 20; i++) log_info("line %d", i);
    for (int i = 0; i < 5; i++) log_warn("warning %d", i);
    log_debug("below the level");
    log_info("bad \xff byte");
    uint64_t pushed, dropped;
    loki_finish(c, &pushed, &dropped);

    assert_true(f->requests >= 1);
    assert_string_equal(f->paths[0], "/loki/api/v1/push");
    assert_string_equal(f->content_types[0], "application/json");
    for (int i = 0; i < 20; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "line %d", i);
        const char *level = NULL;
        assert_int_equal(count_msg(f, "gateway", msg, &level), 1);
        assert_string_equal(level, "info");
    }
    const char *level = NULL;
    assert_int_equal(count_msg(f, "gateway", "warning 4", &level), 1);
    assert_string_equal(level, "warn");
    assert_int_equal(count_msg(f, "gateway", "below the level", NULL), 0);
    assert_int_equal(count_msg(f, "gateway", "bad \xEF\xBF\xBD byte", NULL), 1);
    assert_int_equal(pushed, 26);
    assert_int_equal(dropped, 0);
    assert_true(metric_value(ragd_log_lines_pushed_total) == 26);
    fake_loki_stop(f);
}

static void test_server_errors_are_retried(void **state) {
    (void)state;
    const int script[] = {500, 503, 204};
    fake_loki *f = fake_loki_start(script, 3, 0);
    loki_options o = fast_options();
    char err[256];
    loki_client *c = loki_start_opts(url_of(f), "model", &o, err, sizeof err);
    assert_non_null(c);
    log_info("retry me");
    fake_loki_wait_requests(f, 3);
    uint64_t pushed, dropped;
    loki_finish(c, &pushed, &dropped);
    /* The same batch was offered three times and accepted once. */
    for (int i = 0; i < 2; i++) assert_non_null(f->bodies[i]);
    assert_int_equal(count_msg(f, "model", "retry me", NULL), 1);
    assert_int_equal(dropped, 0);
    assert_true(pushed >= 1);
    fake_loki_stop(f);
}

static void test_rejected_batch_is_dropped_not_retried(void **state) {
    (void)state;
    const int script[] = {400};
    fake_loki *f = fake_loki_start(script, 1, 0);
    loki_options o = fast_options();
    o.batch_lines = 2;  /* the two lines below make one batch ... */
    o.batch_wait = 600; /* ... however slowly they are logged */
    char err[256];
    loki_client *c = loki_start_opts(url_of(f), "serve", &o, err, sizeof err);
    assert_non_null(c);
    log_info("rejected one");
    log_info("rejected two");
    fake_loki_wait_requests(f, 1);
    uint64_t pushed, dropped;
    loki_finish(c, &pushed, &dropped);
    assert_int_equal(dropped, 2);
    assert_true(metric_value(ragd_log_lines_dropped_total) == 2);
    assert_int_equal(count_msg(f, "serve", "rejected one", NULL), 0);
    json_t *first = json_array_get(json_object_get(f->bodies[0], "streams"), 0);
    assert_int_equal(json_array_size(json_object_get(first, "values")), 2);
    /* Nothing retried the rejected batch: any later request carries other lines. */
    fake_loki_stop(f);
}

static void test_slow_loki_does_not_block_logging(void **state) {
    (void)state;
    fake_loki *f = fake_loki_start(NULL, 0, 1); /* accepts, then holds its answer */
    loki_options o = fast_options();
    o.queue_lines = 16;
    o.batch_lines = 4;
    o.request_timeout = 600;
    char err[256];
    loki_client *c = loki_start_opts(url_of(f), "serve", &o, err, sizeof err);
    assert_non_null(c);
    log_info("first");
    fake_loki_wait_requests(f, 1); /* the sender is now stuck inside its push */
    for (int i = 0; i < 26; i++) log_info("while stuck %d", i);
    /* Every call above returned with the push still unanswered: 16 lines
     * queued, 10 dropped. */
    uint64_t pushed, dropped;
    loki_stats(c, &pushed, &dropped);
    assert_int_equal(pushed, 0);
    assert_int_equal(dropped, 10);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(f->requests, 1);
    pthread_mutex_unlock(&f->lock);
    fake_loki_release(f);
    loki_finish(c, &pushed, &dropped);
    assert_int_equal(pushed, 17);
    assert_int_equal(dropped, 10);
    assert_int_equal(count_msg(f, "serve", "while stuck 15", NULL), 1);
    assert_int_equal(count_msg(f, "serve", "while stuck 16", NULL), 0);
    fake_loki_stop(f);
}

static void test_down_loki_drops_and_counts(void **state) {
    (void)state;
    /* A port that was just free: connections are refused. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &alen);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    close(s);

    loki_options o = fast_options();
    o.queue_lines = 8;
    o.batch_lines = 4;
    o.max_attempts = 3;
    o.stop_deadline = 0.2;
    char err[256];
    loki_client *c = loki_start_opts(url, "serve", &o, err, sizeof err);
    assert_non_null(c);
    for (int i = 0; i < 100; i++) log_info("into the void %d", i);
    uint64_t pushed, dropped;
    loki_finish(c, &pushed, &dropped);
    assert_int_equal(pushed, 0);
    /* The 100 lines, plus the client's own "push failed" warning. */
    assert_true(dropped >= 100);
    assert_true(metric_value(ragd_log_lines_dropped_total) == (double)dropped);
}

static void test_bad_url_and_second_client(void **state) {
    (void)state;
    char err[256] = "";
    assert_null(loki_start("localhost:3100", "serve", err, sizeof err));
    assert_non_null(strstr(err, "http://"));
    fake_loki *f = fake_loki_start(NULL, 0, 0);
    loki_client *c = loki_start(url_of(f), "serve", err, sizeof err);
    assert_non_null(c);
    assert_null(loki_start(url_of(f), "serve", err, sizeof err));
    assert_non_null(strstr(err, "already running"));
    loki_stop(c);
    loki_stop(NULL);
    fake_loki_stop(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lines_arrive_with_labels, setup),
        cmocka_unit_test_setup(test_server_errors_are_retried, setup),
        cmocka_unit_test_setup(test_rejected_batch_is_dropped_not_retried, setup),
        cmocka_unit_test_setup(test_slow_loki_does_not_block_logging, setup),
        cmocka_unit_test_setup(test_down_loki_drops_and_counts, setup),
        cmocka_unit_test_setup(test_bad_url_and_second_client, setup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    metrics_reset();
    return failed;
}
