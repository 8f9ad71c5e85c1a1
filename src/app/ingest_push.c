/* ingest_push — see ingest_push.h. */
#include "app/ingest_push.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ingest/corpus.h"
#include "obs/curl_global.h"
#include "obs/log.h"
#include "util/buf.h"
#include "util/util.h"

/* Retries of one batch answered 503 before the push gives up. */
#define PUSH_MAX_RETRIES 600

typedef struct pusher {
    const ingest_push_options *o;
    CURL *curl;
    struct curl_slist *headers;
    char url[1024];
    bool bar;
    double start, last_report;
} pusher;

static size_t gather(char *data, size_t size, size_t n, void *ctx) {
    buf_append(ctx, data, size * n);
    return size * n;
}

static json_t *article_json(const article *a) {
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", a->id, "heading", a->heading, "text", a->text,
                     "date", a->date, "topic", a->topic);
}

/* The server's error message of an answer body, or the body itself. */
static void error_message(const buf *body, char *out, size_t outlen) {
    json_t *doc = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    json_t *items = json_object_get(json_object_get(doc, "error"), "documents");
    const char *first = json_string_value(json_object_get(json_array_get(items, 0), "message"));
    const char *first_id = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    if (msg && first)
        snprintf(out, outlen, "%s (first: article %s: %s)", msg, first_id ? first_id : "?", first);
    else
        snprintf(out, outlen, "%.300s", msg ? msg : body->data ? body->data : "(empty answer)");
    json_decref(doc);
}

/* POST one batch; retried while the server answers 503. 0, or -1 with err set. */
static int post_batch(pusher *p, const char *body, ingest_push_summary *sum, char *err, size_t errlen) {
    for (int attempt = 0;; attempt++) {
        buf answer = BUF_INIT;
        curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, &answer);
        CURLcode cc = curl_easy_perform(p->curl);
        long status = 0;
        curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
            buf_free(&answer);
            return seterr(err, errlen, "POST %s: %s", p->url, curl_easy_strerror(cc));
        }
        if (status == 503 && attempt < PUSH_MAX_RETRIES) {
            curl_off_t retry = 0;
            curl_easy_getinfo(p->curl, CURLINFO_RETRY_AFTER, &retry);
            buf_free(&answer);
            sleep(retry > 0 && retry < 60 ? (unsigned)retry : 1);
            continue;
        }
        int rc = 0;
        json_t *doc = status == 200 ? json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL) : NULL;
        json_t *results = json_object_get(doc, "documents");
        if (status != 200) {
            char msg[512];
            error_message(&answer, msg, sizeof msg);
            rc = seterr(err, errlen, "%s answered %ld: %s", p->url, status, msg);
        } else if (!json_is_array(results)) {
            rc = seterr(err, errlen, "%s answered 200 without a 'documents' list", p->url);
        } else {
            size_t i;
            json_t *r;
            json_array_foreach(results, i, r) {
                sum->sent++;
                sum->created += json_is_true(json_object_get(r, "created"));
                sum->passages += (long)json_integer_value(json_object_get(r, "passages"));
            }
        }
        json_decref(doc);
        buf_free(&answer);
        return rc;
    }
}

static void report(pusher *p, long done, long total, bool final) {
    double now = now_seconds();
    if (!final && now - p->last_report < (p->bar ? 0.1 : 5.0)) return;
    p->last_report = now;
    double rate = now > p->start ? (double)done / (now - p->start) : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    if (p->bar) {
        enum { WIDTH = 30 };
        int filled = total ? (int)((double)done * WIDTH / (double)total) : WIDTH;
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %ld/%ld articles  %.1f/s  ETA %.0f s ", bar, done, total, rate, eta);
        if (final) fputc('\n', stderr);
        fflush(stderr);
    } else {
        log_fields(LOG_INFO, "ingest push progress",
                   (log_field[]){LOG_INT("done", done), LOG_INT("total", total), LOG_DBL("per_second", rate),
                                 LOG_DBL("eta_seconds", eta)},
                   4);
    }
}

static int push_all(pusher *p, const corpus *c, ingest_push_summary *sum, char *err, size_t errlen) {
    long total = (long)(c->count - c->duplicates), done = 0;
    int rc = 0;
    report(p, 0, total, false);
    for (size_t i = 0; i < c->count && rc == 0;) {
        json_t *list = json_array();
        for (; i < c->count && json_array_size(list) < (size_t)p->o->batch_documents; i++)
            if (c->articles[i].duplicate_of < 0) json_array_append_new(list, article_json(&c->articles[i]));
        size_t n = json_array_size(list);
        if (n == 0) {
            json_decref(list);
            break;
        }
        json_t *req = json_pack("{s:o}", "documents", list);
        char *body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        rc = body ? post_batch(p, body, sum, err, errlen)
                  : seterr(err, errlen, "could not serialise articles %zu..%zu", i - n, i - 1);
        free(body);
        done += (long)n;
        report(p, done, total, rc == 0 && done == total);
    }
    return rc;
}

int ingest_push(const ingest_push_options *o, ingest_push_summary *sum, char *err, size_t errlen) {
    memset(sum, 0, sizeof *sum);
    double t0 = now_seconds();
    if (curl_global_ready("ragd ingest", err, errlen) < 0) return -1;
    corpus c;
    if (corpus_load(o->csv_path, &c, err, errlen) < 0) {
        corpus_free(&c);
        return -1;
    }
    sum->articles = (long)c.count;
    sum->duplicates = (long)c.duplicates;
    sum->malformed = (long)c.nproblems;
    pusher p = {.o = o, .curl = curl_easy_init(), .bar = o->progress && isatty(STDERR_FILENO)};
    p.start = p.last_report = now_seconds();
    size_t base = strlen(o->url);
    while (base && o->url[base - 1] == '/') base--;
    snprintf(p.url, sizeof p.url, "%.*s/documents", (int)base, o->url);
    int rc = -1;
    if (!p.curl) {
        seterr(err, errlen, "libcurl could not make a handle");
    } else {
        p.headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (o->api_key && *o->api_key) {
            buf auth = BUF_INIT;
            buf_printf(&auth, "Authorization: Bearer %s", o->api_key);
            p.headers = curl_slist_append(p.headers, auth.data);
            buf_free(&auth);
        }
        curl_easy_setopt(p.curl, CURLOPT_URL, p.url);
        curl_easy_setopt(p.curl, CURLOPT_HTTPHEADER, p.headers);
        curl_easy_setopt(p.curl, CURLOPT_WRITEFUNCTION, gather);
        curl_easy_setopt(p.curl, CURLOPT_NOSIGNAL, 1L);
        if (o->timeout_s > 0) curl_easy_setopt(p.curl, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
        log_fields(LOG_INFO, "ingest push start",
                   (log_field[]){LOG_STR("csv", o->csv_path), LOG_STR("url", p.url),
                                 LOG_INT("articles", sum->articles - sum->duplicates)},
                   3);
        rc = push_all(&p, &c, sum, err, errlen);
        curl_slist_free_all(p.headers);
        curl_easy_cleanup(p.curl);
    }
    corpus_free(&c);
    sum->seconds = now_seconds() - t0;
    return rc;
}
