/* model_client — round-robin, health-checked HTTP client for the model
 * services (see model_client.h for the design). */
#include "app/model_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model/encoder.h"
#include "obs/curl_global.h"
#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "util/util.h"

#define URL_MAX 1024
#define ERROR_BODY_MAX 4096 /* bytes of a failed answer kept for its message */
#define HEALTH_BODY_MAX (64 * 1024)

enum { STATE_UNKNOWN = -1, STATE_DOWN = 0, STATE_UP = 1 };

typedef struct replica {
    char *url;             /* base URL, no trailing '/' */
    atomic_int state;      /* STATE_* */
    atomic_long requests;  /* attempts sent to it */
    atomic_long failures;  /* attempts that did not get a 2xx answer */
    pthread_mutex_t mu;    /* guards model and error */
    char model[64];        /* identity from its /health ("" unknown) */
    char error[256];       /* why it is down ("" when up) */
    /* the prober's own */
    CURL *probe;
    buf probe_body;
    char probe_err[CURL_ERROR_SIZE];
} replica;

struct model_client {
    replica *r;
    int n;
    atomic_uint next[MODEL_CLIENT_LANES]; /* round-robin cursors */
    long timeout_ms, connect_timeout_ms, probe_interval_ms, probe_timeout_ms;
    char *expected_model;
    pthread_key_t handles; /* per thread: handle_set */
    struct curl_slist *json_headers, *sse_headers;
    CURLM *multi;          /* the prober's */
    pthread_t prober;
    bool prober_running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
};

/* A worker thread's handles, one per replica, made on first use. */
typedef struct handle_set {
    int n;
    CURL *h[];
} handle_set;

static void free_handle_set(void *p) {
    handle_set *hs = p;
    for (int i = 0; i < hs->n; i++)
        if (hs->h[i]) curl_easy_cleanup(hs->h[i]);
    free(hs);
}

static CURL *thread_handle(model_client *c, int i) {
    handle_set *hs = pthread_getspecific(c->handles);
    if (!hs) {
        hs = xcalloc(1, sizeof *hs + (size_t)c->n * sizeof(CURL *));
        hs->n = c->n;
        pthread_setspecific(c->handles, hs);
    }
    if (!hs->h[i]) {
        hs->h[i] = curl_easy_init();
        if (!hs->h[i]) {
            fprintf(stderr, "ragd: curl_easy_init failed (out of memory)\n");
            abort();
        }
    }
    return hs->h[i];
}

/* ---- state ---- */

/* Record a replica's state; logs and sets the gauge only on a change. */
static void set_state(replica *r, int up, const char *model, const char *why) {
    pthread_mutex_lock(&r->mu);
    if (model) snprintf(r->model, sizeof r->model, "%s", model);
    snprintf(r->error, sizeof r->error, "%s", up ? "" : why);
    int before = atomic_exchange(&r->state, up ? STATE_UP : STATE_DOWN);
    pthread_mutex_unlock(&r->mu);
    if (before == (up ? STATE_UP : STATE_DOWN)) return;
    ragd_metrics_model_up(r->url, up);
    if (up)
        log_fields(LOG_INFO, "model service up",
                   (log_field[]){LOG_STR("url", r->url), LOG_STR("model", model ? model : "")}, 2);
    else
        log_fields(LOG_WARN, "model service down",
                   (log_field[]){LOG_STR("url", r->url), LOG_STR("reason", why)}, 2);
}

static bool is_up(replica *r) { return atomic_load(&r->state) == STATE_UP; }

int model_client_up_count(model_client *c) {
    int k = 0;
    for (int i = 0; i < c->n; i++) k += is_up(&c->r[i]);
    return k;
}

/* The next replica that is up after the lane's cursor, skipping `avoid`; -1 if none. */
static int pick(model_client *c, unsigned lane, int avoid) {
    unsigned start = atomic_fetch_add(&c->next[lane % MODEL_CLIENT_LANES], 1u);
    for (int k = 0; k < c->n; k++) {
        int i = (int)((start + (unsigned)k) % (unsigned)c->n);
        if (i != avoid && is_up(&c->r[i])) return i;
    }
    return -1;
}

/* ---- health probes ---- */

static size_t collect(char *data, size_t size, size_t nmemb, void *ud) {
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > HEALTH_BODY_MAX) return 0; /* a health answer is small */
    buf_append(b, data, n);
    return n;
}

/* The identity encoder_identity() gives for the weights a /health names. */
static const char *identity_of(const char *weights) {
    encoder_info info = {.real_weights = !strcmp(weights, "real")};
    if (strcmp(weights, "real") && strcmp(weights, "random twin")) return NULL;
    return encoder_identity(&info);
}

static void judge_probe(model_client *c, replica *r, CURLcode rc) {
    char why[256];
    long status = 0;
    curl_easy_getinfo(r->probe, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        set_state(r, 0, NULL, r->probe_err[0] ? r->probe_err : curl_easy_strerror(rc));
        return;
    }
    if (status != 200) {
        snprintf(why, sizeof why, "GET /health answered %ld", status);
        set_state(r, 0, NULL, why);
        return;
    }
    json_t *doc = json_loadb(r->probe_body.data ? r->probe_body.data : "", r->probe_body.len, 0, NULL);
    const char *weights = json_string_value(json_object_get(doc, "weights"));
    const char *model = weights ? identity_of(weights) : NULL;
    if (!model && c->expected_model) {
        set_state(r, 0, "", "its /health does not say which weights it runs (is it a ragd model service?)");
    } else if (model && c->expected_model && strcmp(model, c->expected_model)) {
        snprintf(why, sizeof why,
                 "it runs %s but the store holds vectors of %s: start it with the matching "
                 "weights or re-ingest",
                 model, c->expected_model);
        set_state(r, 0, model, why);
    } else {
        set_state(r, 1, model ? model : "", NULL);
    }
    json_decref(doc);
}

/* Probe every replica concurrently; returns when all have answered or timed out. */
static void probe_round(model_client *c) {
    for (int i = 0; i < c->n; i++) {
        buf_clear(&c->r[i].probe_body);
        c->r[i].probe_err[0] = '\0';
        curl_multi_add_handle(c->multi, c->r[i].probe);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) break;
        if (running) curl_multi_poll(c->multi, NULL, 0, 100, NULL);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        for (int i = 0; i < c->n; i++)
            if (c->r[i].probe == m->easy_handle) judge_probe(c, &c->r[i], m->data.result);
    }
    for (int i = 0; i < c->n; i++) curl_multi_remove_handle(c->multi, c->r[i].probe);
}

static void *prober_main(void *arg) {
    model_client *c = arg;
    pthread_setname_np(pthread_self(), "ragd-probe");
    pthread_mutex_lock(&c->stop_mu);
    while (!c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += c->probe_interval_ms / 1000;
        until.tv_nsec += (c->probe_interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!c->stopping && pthread_cond_timedwait(&c->stop_cv, &c->stop_mu, &until) == 0) {}
        if (c->stopping) break;
        pthread_mutex_unlock(&c->stop_mu);
        probe_round(c);
        pthread_mutex_lock(&c->stop_mu);
    }
    pthread_mutex_unlock(&c->stop_mu);
    return NULL;
}

/* ---- requests ---- */

typedef struct transfer {
    const model_call *call;
    long status;
    bool started; /* the first body byte arrived (status known) */
    bool aborted; /* the sink said stop */
    buf error_body;
    CURL *curl;
} transfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    transfer *t = ud;
    size_t n = size * nmemb;
    if (!t->started) {
        t->started = true;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    }
    if (t->status < 200 || t->status > 299) {
        size_t room = ERROR_BODY_MAX - t->error_body.len;
        buf_append(&t->error_body, data, n < room ? n : room);
        return n;
    }
    if (t->call->sink(data, n, t->call->ctx)) {
        t->aborted = true;
        return 0; /* fails the transfer with CURLE_WRITE_ERROR and drops the connection */
    }
    return n;
}

/* The message of a replica's JSON error body, else the body's start. */
static void upstream_message(const buf *body, char *out, size_t outlen) {
    json_t *doc = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    if (msg) snprintf(out, outlen, "%s", msg);
    else snprintf(out, outlen, "%.*s", (int)(body->len < 200 ? body->len : 200), body->data ? body->data : "");
    json_decref(doc);
}

enum { TRY_OK, TRY_ABORTED, TRY_UNREACHABLE, TRY_FAILED };

/* One attempt on replica i. TRY_UNREACHABLE: no HTTP answer began (the
 * caller may retry elsewhere); e is set for TRY_UNREACHABLE and TRY_FAILED. */
static int attempt(model_client *c, int i, const model_call *call, pipeline_error *e) {
    replica *r = &c->r[i];
    CURL *h = thread_handle(c, i);
    curl_easy_reset(h); /* options only: the kept-alive connection stays */
    char url[URL_MAX], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s%s", r->url, call->path);
    transfer t = {.call = call, .curl = h};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, call->event_stream ? c->sse_headers : c->json_headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    atomic_fetch_add(&r->requests, 1);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL); /* errbuf is about to go out of scope */
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (t.aborted) {
        buf_free(&t.error_body);
        return TRY_ABORTED;
    }
    if (rc == CURLE_OK && status >= 200 && status <= 299) {
        buf_free(&t.error_body);
        return TRY_OK;
    }
    atomic_fetch_add(&r->failures, 1);
    const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (rc != CURLE_OK) {
        buf_free(&t.error_body);
        long sent = 0; /* request bytes written: 0 if no connection was made */
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
        bool slow = rc == CURLE_OPERATION_TIMEDOUT && sent > 0;
        e->code = rc == CURLE_OPERATION_TIMEDOUT ? PIPELINE_UPSTREAM_TIMEOUT : PIPELINE_UPSTREAM_FAILED;
        if (slow) {
            /* A replica that is slow is not dead: only the probe judges it,
             * and another try would only double the wait. */
            snprintf(e->message, sizeof e->message, "model service %s did not answer %s within %.1f s",
                     r->url, call->path, (double)c->timeout_ms / 1e3);
            return TRY_FAILED;
        }
        /* Refused, reset, or dropped: marked down now, retried elsewhere if
         * no answer had begun. */
        snprintf(e->message, sizeof e->message, "model service %s: %.160s", r->url, what);
        set_state(r, 0, NULL, what);
        return status == 0 ? TRY_UNREACHABLE : TRY_FAILED;
    }
    char msg[200];
    upstream_message(&t.error_body, msg, sizeof msg);
    buf_free(&t.error_body);
    bool overloaded = status == 429 || status == 503;
    e->code = overloaded ? PIPELINE_OVERLOADED : PIPELINE_UPSTREAM_FAILED;
    snprintf(e->message, sizeof e->message, "model service %s answered %s with %ld: %s", r->url,
             call->path, status, msg);
    return TRY_FAILED;
}

void model_client_why_down(model_client *c, buf *out) {
    const char *sep = "";
    for (int i = 0; i < c->n; i++) {
        replica *r = &c->r[i];
        if (is_up(r)) continue;
        pthread_mutex_lock(&r->mu);
        buf_printf(out, "%s%s: %s", sep, r->url, r->error[0] ? r->error : "not probed yet");
        sep = "; ";
        pthread_mutex_unlock(&r->mu);
    }
}

int model_client_post(model_client *c, const model_call *call, pipeline_error *e) {
    int first = pick(c, call->lane, -1);
    if (first < 0) {
        buf why = BUF_INIT;
        model_client_why_down(c, &why);
        e->code = PIPELINE_OVERLOADED;
        snprintf(e->message, sizeof e->message, "no model service is up (%s)", why.data ? why.data : "");
        buf_free(&why);
        return -1;
    }
    int rc = attempt(c, first, call, e);
    if (rc == TRY_UNREACHABLE) {
        int second = pick(c, call->lane, first);
        if (second >= 0) {
            log_fields(LOG_INFO, "retrying on another model service",
                       (log_field[]){LOG_STR("failed", c->r[first].url), LOG_STR("retry", c->r[second].url),
                                     LOG_STR("path", call->path)},
                       3);
            rc = attempt(c, second, call, e);
        }
    }
    return rc == TRY_OK ? 0 : rc == TRY_ABORTED ? 1 : -1;
}

json_t *model_client_describe(model_client *c) {
    json_t *arr = json_array();
    for (int i = 0; i < c->n; i++) {
        replica *r = &c->r[i];
        pthread_mutex_lock(&r->mu);
        int state = atomic_load(&r->state);
        json_array_append_new(
            arr, json_pack("{s:s, s:b, s:s?, s:s?, s:I, s:I}", "url", r->url, "up", state == STATE_UP,
                           "model", r->model[0] ? r->model : NULL, "error",
                           state == STATE_UP ? NULL : r->error[0] ? r->error : "not probed yet",
                           "requests", (json_int_t)atomic_load(&r->requests), "failures",
                           (json_int_t)atomic_load(&r->failures)));
        pthread_mutex_unlock(&r->mu);
    }
    return arr;
}

/* ---- life ---- */


static long ms(double s, long fallback) { return s > 0 ? (long)(s * 1e3 + 0.5) : fallback; }

model_client *model_client_start(const model_client_options *o, char *err, size_t errlen) {
    if (o->nurls <= 0) {
        seterr(err, errlen, "no model service URL given");
        return NULL;
    }
    for (int i = 0; i < o->nurls; i++) {
        const char *u = o->urls[i];
        if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
            seterr(err, errlen, "model service URL '%s' must start with http:// or https://", u);
            return NULL;
        }
        if (strlen(u) > URL_MAX - 64) {
            seterr(err, errlen, "model service URL '%.40s…' is too long", u);
            return NULL;
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(o->urls[k], u)) {
                seterr(err, errlen, "model service URL %s is given twice", u);
                return NULL;
            }
    }
    if (curl_global_ready("model client", err, errlen) < 0) return NULL;
    model_client *c = xcalloc(1, sizeof *c);
    c->n = o->nurls;
    c->r = xcalloc((size_t)c->n, sizeof *c->r);
    c->timeout_ms = ms(o->timeout_s, 0);
    c->connect_timeout_ms = ms(o->connect_timeout_s, 1000);
    c->probe_interval_ms = ms(o->probe_interval_s, 1000);
    c->probe_timeout_ms = ms(o->probe_timeout_s, 500);
    c->expected_model = o->expected_model ? xstrdup(o->expected_model) : NULL;
    pthread_key_create(&c->handles, free_handle_set);
    c->json_headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->json_headers = curl_slist_append(c->json_headers, "Accept: application/json");
    c->json_headers = curl_slist_append(c->json_headers, "Expect:");
    c->sse_headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->sse_headers = curl_slist_append(c->sse_headers, "Accept: text/event-stream");
    c->sse_headers = curl_slist_append(c->sse_headers, "Expect:");
    c->multi = curl_multi_init();
    pthread_mutex_init(&c->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < c->n; i++) {
        replica *r = &c->r[i];
        size_t len = strlen(o->urls[i]);
        while (len > 0 && o->urls[i][len - 1] == '/') len--;
        r->url = xstrndup(o->urls[i], len);
        atomic_init(&r->state, STATE_UNKNOWN);
        pthread_mutex_init(&r->mu, NULL);
        char url[URL_MAX];
        snprintf(url, sizeof url, "%s/health", r->url);
        r->probe = curl_easy_init();
        curl_easy_setopt(r->probe, CURLOPT_URL, url);
        curl_easy_setopt(r->probe, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(r->probe, CURLOPT_WRITEDATA, &r->probe_body);
        curl_easy_setopt(r->probe, CURLOPT_ERRORBUFFER, r->probe_err);
        curl_easy_setopt(r->probe, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->probe, CURLOPT_TIMEOUT_MS, c->probe_timeout_ms);
        curl_easy_setopt(r->probe, CURLOPT_CONNECTTIMEOUT_MS, c->probe_timeout_ms);
    }
    probe_round(c);
    if (pthread_create(&c->prober, NULL, prober_main, c) == 0) {
        c->prober_running = true;
    } else {
        seterr(err, errlen, "cannot start the model services' health prober");
        model_client_stop(c);
        return NULL;
    }
    return c;
}

void model_client_stop(model_client *c) {
    if (!c) return;
    if (c->prober_running) {
        pthread_mutex_lock(&c->stop_mu);
        c->stopping = true;
        pthread_cond_signal(&c->stop_cv);
        pthread_mutex_unlock(&c->stop_mu);
        pthread_join(c->prober, NULL);
    }
    handle_set *mine = pthread_getspecific(c->handles);
    if (mine) {
        pthread_setspecific(c->handles, NULL);
        free_handle_set(mine);
    }
    pthread_key_delete(c->handles);
    for (int i = 0; i < c->n; i++) {
        replica *r = &c->r[i];
        curl_easy_cleanup(r->probe);
        buf_free(&r->probe_body);
        pthread_mutex_destroy(&r->mu);
        free(r->url);
    }
    curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->json_headers);
    curl_slist_free_all(c->sse_headers);
    pthread_cond_destroy(&c->stop_cv);
    pthread_mutex_destroy(&c->stop_mu);
    free(c->expected_model);
    free(c->r);
    free(c);
}
