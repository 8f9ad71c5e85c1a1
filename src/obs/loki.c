/* loki — the Loki push client (see loki.h).
 *
 * Design:
 * - One mutex (queue_lock) guards the queue and which client is active. The
 *   log sink holds it only to append a pointer to a fixed ring — it copies the
 *   line before locking and never waits for space: a full ring means the line
 *   is dropped and counted. The sink stays a plain static function whose
 *   context is the `active` pointer read under the lock, so a logging thread
 *   racing with loki_stop() can never touch a freed client.
 * - The sender thread takes up to batch_lines at a time (waiting batch_wait
 *   for a batch to fill, like promtail), groups them by level into streams,
 *   and POSTs the JSON push body with libcurl, reusing the connection.
 *   Transient failures (network, 429, 5xx) are retried with exponential
 *   backoff and jitter; a 4xx other than 429 means Loki will never take the
 *   batch, so it is dropped at once. A batch that exhausts its attempts is
 *   dropped too: Loki being away for long must cost lines, not memory.
 * - loki_stop() detaches the client from the sink, then gives the thread until
 *   the deadline to send what is queued; a request in flight is aborted at the
 *   deadline through curl's progress callback, and whatever is left is counted
 *   as dropped.
 * - The thread reports trouble once per outage (a warning when pushes start
 *   failing, a note when they recover), not once per attempt.
 * Loki wants valid UTF-8; log lines may carry bytes from the cp1252 corpus,
 * so invalid sequences are replaced by U+FFFD before encoding.
 */
#include "obs/loki.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "obs/curl_global.h"
#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "util/buf.h"
#include "util/util.h"

static const char push_path[] = "/loki/api/v1/push";
static const char *const level_names[] = {"debug", "info", "warn", "error"};

typedef struct queued_line {
    char *text;
    size_t len;
    uint64_t ts_ns;
    log_level level;
} queued_line;

struct loki_client {
    char *push_url;
    char *role;
    loki_options opt;
    pthread_t thread;
    pthread_cond_t wake; /* with queue_lock: lines arrived, or stop */
    /* The ring, under queue_lock. */
    queued_line *ring;
    size_t head, count;
    uint64_t last_ts_ns;
    /* Stop request: stop_at is written before stopping is set. */
    _Atomic int stopping;
    _Atomic double stop_at;
    _Atomic uint64_t pushed, dropped;
    /* Sender thread only. */
    CURL *curl;
    struct curl_slist *headers;
    int failing;
    uint64_t jitter_state;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static loki_client *active;

static void count_dropped(loki_client *c, size_t n) {
    atomic_fetch_add(&c->dropped, n);
    if (ragd_log_lines_dropped_total) metric_add(ragd_log_lines_dropped_total, (double)n);
}

static void count_pushed(loki_client *c, size_t n) {
    atomic_fetch_add(&c->pushed, n);
    if (ragd_log_lines_pushed_total) metric_add(ragd_log_lines_pushed_total, (double)n);
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct timespec monotonic_at(double seconds) {
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void sink(log_level level, const char *line, size_t len, void *unused) {
    (void)unused;
    char *copy = xmalloc(len + 1);
    memcpy(copy, line, len);
    copy[len] = '\0';
    pthread_mutex_lock(&queue_lock);
    loki_client *c = active;
    if (!c || c->count == c->opt.queue_lines) {
        if (c) count_dropped(c, 1);
        pthread_mutex_unlock(&queue_lock);
        free(copy);
        return;
    }
    /* Loki keeps a stream's entries in timestamp order; a wall clock stepped
     * back must not reorder them. */
    uint64_t ts = wall_ns();
    if (ts < c->last_ts_ns) ts = c->last_ts_ns;
    c->last_ts_ns = ts;
    c->ring[(c->head + c->count) % c->opt.queue_lines] =
        (queued_line){.text = copy, .len = len, .ts_ns = ts, .level = level};
    c->count++;
    if (c->count == 1 || c->count == c->opt.batch_lines) pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&queue_lock);
}

/* ---- the push request ---- */

/* s with every invalid UTF-8 sequence replaced by U+FFFD, into out. */
static void utf8_sanitize(buf *out, const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            buf_append(out, s + i, (size_t)n);
            i += (size_t)n;
        }
    }
}

static char *push_body(const loki_client *c, const queued_line *lines, size_t n) {
    json_t *values[4] = {NULL, NULL, NULL, NULL};
    buf clean = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        int lvl = (int)lines[i].level;
        if (lvl < 0 || lvl > 3) lvl = LOG_INFO;
        if (!values[lvl]) values[lvl] = json_array();
        char ts[24];
        snprintf(ts, sizeof ts, "%llu", (unsigned long long)lines[i].ts_ns);
        buf_clear(&clean);
        utf8_sanitize(&clean, lines[i].text, lines[i].len);
        json_array_append_new(values[lvl], json_pack("[s, s%]", ts, clean.data ? clean.data : "",
                                                     clean.len));
    }
    buf_free(&clean);
    json_t *streams = json_array();
    for (int lvl = 0; lvl < 4; lvl++) {
        if (!values[lvl]) continue;
        json_array_append_new(streams,
                              json_pack("{s:{s:s, s:s, s:s}, s:o}", "stream", "app", "ragd", "role",
                                        c->role, "level", level_names[lvl], "values", values[lvl]));
    }
    json_t *root = json_pack("{s:o}", "streams", streams);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return body;
}

static size_t keep_reply(char *data, size_t size, size_t nmemb, void *ctx) {
    buf *reply = ctx;
    size_t n = size * nmemb;
    if (reply->len < 300) buf_append(reply, data, n < 300 ? n : 300);
    return n;
}

static int abort_past_deadline(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
                               curl_off_t ultotal, curl_off_t ulnow) {
    loki_client *c = ctx;
    return atomic_load(&c->stopping) && now_seconds() >= atomic_load(&c->stop_at);
}

typedef enum { PUSH_OK, PUSH_RETRY, PUSH_REJECTED } push_result;

static push_result push_once(loki_client *c, const char *body, double timeout, char *why,
                             size_t whylen) {
    buf reply = BUF_INIT;
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000) + 1);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = curl_easy_perform(c->curl);
    push_result result;
    if (rc != CURLE_OK) {
        seterr(why, whylen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        result = PUSH_RETRY;
    } else {
        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            result = PUSH_OK;
        } else {
            seterr(why, whylen, "HTTP %ld: %.200s", status, reply.data ? reply.data : "");
            result = (status >= 400 && status < 500 && status != 429) ? PUSH_REJECTED : PUSH_RETRY;
        }
    }
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
    buf_free(&reply);
    return result;
}

/* Sleep for `seconds` unless a stop arrives (then until the stop deadline at most). */
static void backoff_sleep(loki_client *c, double seconds) {
    double until = now_seconds() + seconds;
    pthread_mutex_lock(&queue_lock);
    for (;;) {
        double limit = until;
        if (atomic_load(&c->stopping) && atomic_load(&c->stop_at) < limit)
            limit = atomic_load(&c->stop_at);
        if (now_seconds() >= limit) break;
        struct timespec ts = monotonic_at(limit);
        pthread_cond_timedwait(&c->wake, &queue_lock, &ts);
    }
    pthread_mutex_unlock(&queue_lock);
}

static double jitter(loki_client *c) {
    /* xorshift64: a factor in [0.5, 1) so replicas that failed together
     * do not retry together. */
    c->jitter_state ^= c->jitter_state << 13;
    c->jitter_state ^= c->jitter_state >> 7;
    c->jitter_state ^= c->jitter_state << 17;
    return 0.5 + (double)(c->jitter_state >> 11) / 9007199254740992.0 / 2;
}

static void send_batch(loki_client *c, const queued_line *lines, size_t n) {
    char *body = push_body(c, lines, n);
    double delay = c->opt.backoff_min;
    char why[256] = "";
    for (int attempt = 1;; attempt++) {
        double timeout = c->opt.request_timeout;
        if (atomic_load(&c->stopping)) {
            double left = atomic_load(&c->stop_at) - now_seconds();
            if (left <= 0) {
                count_dropped(c, n);
                break;
            }
            if (left < timeout) timeout = left;
        }
        push_result r = body ? push_once(c, body, timeout, why, sizeof why) : PUSH_REJECTED;
        if (!body) seterr(why, sizeof why, "could not encode the batch");
        if (r == PUSH_OK) {
            count_pushed(c, n);
            if (c->failing) log_info("loki: pushing again after failures");
            c->failing = 0;
            break;
        }
        if (r == PUSH_REJECTED) {
            count_dropped(c, n);
            log_warn("loki: push of %zu lines rejected, dropped: %s", n, why);
            break;
        }
        if (!c->failing) log_warn("loki: push to %s failed, retrying with backoff: %s", c->push_url, why);
        c->failing = 1;
        if (attempt >= c->opt.max_attempts) {
            count_dropped(c, n);
            break;
        }
        backoff_sleep(c, delay * jitter(c));
        delay = delay * 2 < c->opt.backoff_max ? delay * 2 : c->opt.backoff_max;
    }
    free(body);
}

static void *sender(void *arg) {
    loki_client *c = arg;
    queued_line *batch = xcalloc(c->opt.batch_lines, sizeof *batch);
    pthread_mutex_lock(&queue_lock);
    for (;;) {
        while (c->count == 0 && !atomic_load(&c->stopping))
            pthread_cond_wait(&c->wake, &queue_lock);
        if (c->count == 0) break; /* stopping and drained */
        if (!atomic_load(&c->stopping) && c->count < c->opt.batch_lines) {
            struct timespec until = monotonic_at(now_seconds() + c->opt.batch_wait);
            while (c->count < c->opt.batch_lines && !atomic_load(&c->stopping))
                if (pthread_cond_timedwait(&c->wake, &queue_lock, &until) == ETIMEDOUT) break;
        }
        size_t n = c->count < c->opt.batch_lines ? c->count : c->opt.batch_lines;
        for (size_t i = 0; i < n; i++) batch[i] = c->ring[(c->head + i) % c->opt.queue_lines];
        c->head = (c->head + n) % c->opt.queue_lines;
        c->count -= n;
        pthread_mutex_unlock(&queue_lock);
        send_batch(c, batch, n);
        for (size_t i = 0; i < n; i++) free(batch[i].text);
        pthread_mutex_lock(&queue_lock);
    }
    pthread_mutex_unlock(&queue_lock);
    free(batch);
    return NULL;
}

/* ---- start and stop ---- */

static void apply_defaults(loki_options *o) {
    if (!o->queue_lines) o->queue_lines = 10000;
    if (!o->batch_lines) o->batch_lines = 1000;
    if (o->batch_lines > o->queue_lines) o->batch_lines = o->queue_lines;
    if (!(o->batch_wait > 0)) o->batch_wait = 1;
    if (!(o->backoff_min > 0)) o->backoff_min = 0.1;
    if (!(o->backoff_max > 0)) o->backoff_max = 10;
    if (o->backoff_max < o->backoff_min) o->backoff_max = o->backoff_min;
    if (o->max_attempts <= 0) o->max_attempts = 10;
    if (!(o->request_timeout > 0)) o->request_timeout = 10;
    if (!(o->stop_deadline > 0)) o->stop_deadline = 5;
}

static void client_free(loki_client *c) {
    if (c->curl) curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    for (size_t i = 0; i < c->count; i++) free(c->ring[(c->head + i) % c->opt.queue_lines].text);
    free(c->ring);
    pthread_cond_destroy(&c->wake);
    free(c->push_url);
    free(c->role);
    free(c);
}

loki_client *loki_start_opts(const char *url, const char *role, const loki_options *opts,
                             char *err, size_t errlen) {
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        seterr(err, errlen, "Loki URL must start with http:// or https://, got '%s'",
               url ? url : "(none)");
        return NULL;
    }
    if (curl_global_ready("loki", err, errlen) < 0) return NULL;
    loki_client *c = xcalloc(1, sizeof *c);
    if (opts) c->opt = *opts;
    apply_defaults(&c->opt);
    size_t ulen = strlen(url);
    while (ulen > 0 && url[ulen - 1] == '/') ulen--;
    buf u = BUF_INIT;
    buf_append(&u, url, ulen);
    if (ulen < sizeof push_path - 1 || strcmp(u.data + ulen - (sizeof push_path - 1), push_path) != 0)
        buf_puts(&u, push_path);
    c->push_url = buf_detach(&u);
    c->role = xstrdup(role && *role ? role : "ragd");
    c->ring = xcalloc(c->opt.queue_lines, sizeof *c->ring);
    c->jitter_state = now_ns() | 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &ca);
    pthread_condattr_destroy(&ca);

    c->curl = curl_easy_init();
    if (!c->curl) {
        seterr(err, errlen, "libcurl could not create a handle");
        client_free(c);
        return NULL;
    }
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before each batch. */
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_URL, c->push_url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, abort_past_deadline);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "ragd-loki/1");

    pthread_mutex_lock(&queue_lock);
    if (active) {
        pthread_mutex_unlock(&queue_lock);
        seterr(err, errlen, "a Loki client is already running");
        client_free(c);
        return NULL;
    }
    active = c;
    pthread_mutex_unlock(&queue_lock);
    int rc = pthread_create(&c->thread, NULL, sender, c);
    if (rc != 0) {
        pthread_mutex_lock(&queue_lock);
        active = NULL;
        pthread_mutex_unlock(&queue_lock);
        seterr(err, errlen, "cannot start the Loki thread: %s", strerror(rc));
        client_free(c);
        return NULL;
    }
    log_set_sink(sink, NULL);
    return c;
}

loki_client *loki_start(const char *url, const char *role, char *err, size_t errlen) {
    return loki_start_opts(url, role, NULL, err, errlen);
}

void loki_finish(loki_client *c, uint64_t *pushed, uint64_t *dropped) {
    if (!c) {
        loki_stats(NULL, pushed, dropped);
        return;
    }
    pthread_mutex_lock(&queue_lock);
    if (active == c) {
        active = NULL;
        log_set_sink(NULL, NULL);
    }
    atomic_store(&c->stop_at, now_seconds() + c->opt.stop_deadline);
    atomic_store(&c->stopping, 1);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&queue_lock);
    pthread_join(c->thread, NULL);
    loki_stats(c, pushed, dropped);
    client_free(c);
}

void loki_stop(loki_client *c) { loki_finish(c, NULL, NULL); }

void loki_stats(loki_client *c, uint64_t *pushed, uint64_t *dropped) {
    if (pushed) *pushed = c ? atomic_load(&c->pushed) : 0;
    if (dropped) *dropped = c ? atomic_load(&c->dropped) : 0;
}
