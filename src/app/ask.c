/* ask — POST /ask (see docs/api.md).
 *
 * The handler only validates: it runs on an HTTP event-loop thread that must
 * not wait. The work — encode the question, search the store, let the LLM
 * answer from the passages — runs as one job on the pipeline's workers; the
 * connection stays parked until the job answers (JSON) or while it streams
 * (SSE). Every step is timed, and a client that goes away stops the job at
 * the next step or the next token.
 */
#include "app/ask.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "app/request_check.h"
#include "app/retrieval.h"
#include "model/encoder.h"
#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "util/buf.h"
#include "util/util.h"

#define ASK_DEFAULT_TOP_K 5
#define ASK_MAX_TOP_K 50

typedef struct ask_job {
    pipeline *p;
    http_request *req;
    char *question;
    size_t question_len;
    char *topic;      /* NULL: every partition */
    int top_k;
    search_mode mode;
    int max_per_article; /* 0: no cap */
    char date_from[11], date_to[11]; /* "" = open end */
    bool explain;        /* each source says why it was chosen */
    bool stream;
    uint64_t seed;
    uint64_t queued_ns;
    buf answer;       /* JSON mode: the answer so far */
    uint64_t llm_start_ns, first_piece_ns;
    bool cancelled;
} ask_job;

static void job_free(ask_job *j) {
    free(j->question);
    free(j->topic);
    buf_free(&j->answer);
    free(j);
}

/* A rank and score of one half, or nulls when the hit was not in its list. */
static void explain_half(json_t *o, const char *rank_key, const char *score_key, int rank,
                         float score) {
    json_object_set_new(o, rank_key, rank ? json_integer(rank) : json_null());
    json_object_set_new(o, score_key, rank ? json_real((double)score) : json_null());
}

static json_t *sources_json(const store *s, const search_hit *hits, int n, bool explain) {
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        store_passage ps;
        if (store_get(s, hits[i].passage_id, &ps) < 0) continue;
        json_t *src = json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:s}", "id", (json_int_t)ps.id,
                                "article_id", ps.article_id, "heading", ps.heading, "date",
                                ps.date, "topic", ps.topic, "score", (double)hits[i].score,
                                "text", ps.text);
        if (explain) {
            json_t *e = json_object();
            explain_half(e, "lexical_rank", "lexical_score", hits[i].lexical_rank,
                         hits[i].lexical_score);
            explain_half(e, "vector_rank", "vector_score", hits[i].vector_rank,
                         hits[i].vector_score);
            json_object_set_new(e, "fused_score", json_real((double)hits[i].score));
            json_object_set_new(src, "explain", e);
        }
        json_array_append_new(arr, src);
    }
    return arr;
}

static json_t *timings_json(double encode, double search, double generate, double total) {
    return json_pack("{s:f, s:f, s:f, s:f}", "encode", encode * 1e3, "search", search * 1e3,
                     "llm", generate * 1e3, "total", total * 1e3);
}

/* Streams each piece as an SSE token event, or gathers it for the JSON answer. */
static int on_piece(int prompt, int article, const char *text, size_t len, void *ctx) {
    ask_job *j = ctx;
    if (!j->first_piece_ns) j->first_piece_ns = now_ns();
    if (http_request_cancelled(j->req)) return 1;
    if (j->stream) return http_stream_event(j->req, "token", text, len) < 0 ? 1 : 0;
    if (j->answer.len && len) buf_putc(&j->answer, ' ');
    buf_append(&j->answer, text, len);
    return 0;
}

static void fail(ask_job *j, int status, const char *message) {
    if (j->stream) {
        buf ev = BUF_INIT;
        buf_printf(&ev, "{\"error\":{\"code\":\"%s\",\"message\":\"", http_error_code(status));
        buf_json_escape(&ev, message, strlen(message));
        buf_puts(&ev, "\"}}");
        http_stream_event(j->req, "error", ev.data, ev.len);
        buf_free(&ev);
        http_stream_end(j->req);
    } else {
        if (status == 429 || status == 503) http_respond_overloaded(j->req, status, 1, message);
        else http_respond_error(j->req, status, "%s", message);
    }
}

static void run_ask(void *arg) {
    ask_job *j = arg;
    pipeline *p = j->p;
    uint64_t t0 = now_ns();
    ragd_metrics_queue_wait("ask", (double)(t0 - j->queued_ns) / 1e9);
    ragd_metrics_queue("ask", workqueue_depth(p->workers));
    if (http_request_cancelled(j->req)) {
        http_respond_error(j->req, 499, "client closed the request");
        job_free(j);
        return;
    }
    if (j->stream) http_stream_begin(j->req, 200, "text/event-stream; charset=utf-8");

    /* 1. encode (not needed for a purely lexical search) */
    float vec[ENCODER_DIM];
    pipeline_error e = {0};
    if (j->mode != SEARCH_LEXICAL &&
        p->embed(p->ctx, j->question, j->question_len, vec, &e) < 0) {
        fail(j, pipeline_http_status(e.code), e.message);
        job_free(j);
        return;
    }
    uint64_t t1 = now_ns();

    /* 2. search */
    search_hit hits[ASK_MAX_TOP_K];
    store_query q = {.vector = j->mode == SEARCH_LEXICAL ? NULL : vec, .text = j->question,
                     .text_len = j->question_len, .topic = j->topic, .k = j->top_k,
                     .mode = j->mode,
                     .date_from = j->date_from[0] ? j->date_from : NULL,
                     .date_to = j->date_to[0] ? j->date_to : NULL,
                     .max_per_article = j->max_per_article};
    retrieval_set_fusion(p->store, &q);
    char err[256];
    int n = store_search(p->store, &q, hits, err, sizeof err);
    uint64_t t2 = now_ns();
    ragd_metrics_search(retrieval_mode_name(j->mode), (double)(t2 - t1) / 1e9);
    if (n < 0) {
        /* post_ask checked every field, so a query the store refuses
         * (STORE_ERR_BAD_QUERY) or a missing analyzer is this process's fault */
        assert(n == STORE_ERR_BAD_QUERY || n == STORE_ERR_ANALYZER);
        fail(j, 500, err);
        job_free(j);
        return;
    }
    json_t *sources = sources_json(p->store, hits, n, j->explain);
    if (j->stream) {
        char *text = json_dumps(sources, JSON_COMPACT | JSON_REAL_PRECISION(6));
        http_stream_event(j->req, "sources", text, strlen(text));
        free(text);
    }

    /* 3. answer from the passages */
    const char *context[ASK_MAX_TOP_K], *heading[ASK_MAX_TOP_K], *date[ASK_MAX_TOP_K];
    for (int i = 0; i < n; i++) {
        store_passage ps;
        store_get(p->store, hits[i].passage_id, &ps);
        context[i] = ps.text;
        heading[i] = ps.heading;
        date[i] = ps.date;
    }
    llm_prompt prompt = {.question = j->question, .context = context, .ncontext = n,
                         .heading = heading, .date = date};
    j->llm_start_ns = now_ns();
    int rc = p->generate(p->ctx, &prompt, j->seed, on_piece, j, &e);
    uint64_t t3 = now_ns();
    if (rc == 0)
        ragd_metrics_llm(j->first_piece_ns ? (double)(j->first_piece_ns - j->llm_start_ns) / 1e9 : 0,
                         (double)(t3 - j->llm_start_ns) / 1e9);
    double encode_s = (double)(t1 - t0) / 1e9, search_s = (double)(t2 - t1) / 1e9,
           llm_s = (double)(t3 - t2) / 1e9, total_s = http_request_elapsed(j->req);
    if (rc < 0) {
        json_decref(sources);
        fail(j, pipeline_http_status(e.code), e.message);
    } else if (rc == 1) {
        json_decref(sources);
        log_fields(LOG_INFO, "ask cancelled by client",
                   (log_field[]){LOG_STR("rid", http_request_id(j->req))}, 1);
        if (j->stream) http_stream_end(j->req);
        else http_respond_error(j->req, 499, "client closed the request");
    } else if (j->stream) {
        json_decref(sources);
        json_t *done = json_pack("{s:o}", "timings_ms", timings_json(encode_s, search_s, llm_s, total_s));
        char *text = json_dumps(done, JSON_COMPACT | JSON_REAL_PRECISION(6));
        http_stream_event(j->req, "done", text, strlen(text));
        free(text);
        json_decref(done);
        http_stream_end(j->req);
    } else {
        json_t *body = json_pack("{s:s%, s:o, s:o}", "answer", j->answer.data ? j->answer.data : "",
                                 j->answer.len, "sources", sources, "timings_ms",
                                 timings_json(encode_s, search_s, llm_s, total_s));
        http_respond_json(j->req, 200, body);
    }
    job_free(j);
}

/* "question": a string with something besides white space, within the size
 * limit. On true, *question is its text without NUL characters (malloc'd). */
static bool check_question(const pipeline *p, json_t *body, char **question, size_t *len,
                           request_problem *pb) {
    json_t *q = json_object_get(body, "question");
    if (!q) return request_reject(pb, 422, "'question' is required");
    if (!json_is_string(q)) return request_reject(pb, 400, "'question' must be a string");
    size_t n;
    char *text = json_text_without_nul(q, &n);
    size_t visible = 0;
    for (size_t i = 0; i < n; i++) visible += !strchr(" \t\n\r", text[i]);
    if (!visible) {
        free(text);
        return request_reject(pb, 422, "'question' must not be empty");
    }
    if (json_string_length(q) > p->max_question) {
        free(text);
        return request_reject(pb, 413, "'question' is %zu bytes; the limit is %zu",
                              json_string_length(q), p->max_question);
    }
    *question = text;
    *len = n;
    return true;
}

/* An optional date field ("YYYY-MM-DD"): absent or null leaves out[0] '\0'. */
static bool check_date(json_t *body, const char *key, char out[11], request_problem *pb) {
    json_t *d = json_object_get(body, key);
    if (!d || json_is_null(d)) return true;
    if (!json_is_string(d)) return request_reject(pb, 400, "'%s' must be a string or null", key);
    if (!store_valid_date(json_string_value(d)) || json_string_length(d) != 10)
        return request_reject(pb, 422, "'%s' must be a date YYYY-MM-DD", key);
    memcpy(out, json_string_value(d), 11);
    return true;
}

/* The optional fields of /ask, each defaulting when absent or null. */
static bool check_ask_options(const pipeline *p, json_t *body, ask_job *j, request_problem *pb) {
    json_t *k = json_object_get(body, "top_k");
    if (k && !json_is_null(k)) {
        if (!json_is_integer(k)) return request_reject(pb, 400, "'top_k' must be an integer");
        json_int_t v = json_integer_value(k);
        if (v < 1 || v > p->max_top_k)
            return request_reject(pb, 422, "'top_k' must be between 1 and %d", p->max_top_k);
        j->top_k = (int)v;
    }
    json_t *t = json_object_get(body, "topic");
    if (t && !json_is_null(t)) {
        if (!json_is_string(t)) return request_reject(pb, 400, "'topic' must be a string or null");
        const char *topic = json_string_value(t);
        if (strlen(topic) != json_string_length(t) || !store_has_topic(p->store, topic)) {
            const char *const *names;
            int nt = store_topics(p->store, &names);
            buf known = BUF_INIT;
            for (int i = 0; i < nt; i++) buf_printf(&known, "%s%s", i ? ", " : "", names[i]);
            request_reject(pb, 422, "unknown topic '%s' (known: %s)", topic,
                           known.data ? known.data : "none");
            buf_free(&known);
            return false;
        }
        j->topic = xstrdup(topic);
    }
    json_t *m = json_object_get(body, "mode");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m)) return request_reject(pb, 400, "'mode' must be a string");
        if (retrieval_parse_mode(json_string_value(m), &j->mode) < 0)
            return request_reject(pb, 422, "'mode' must be hybrid, vector or lexical");
    }
    json_t *mpa = json_object_get(body, "max_per_article");
    if (mpa && !json_is_null(mpa)) {
        if (!json_is_integer(mpa))
            return request_reject(pb, 400, "'max_per_article' must be an integer");
        json_int_t v = json_integer_value(mpa);
        if (v < 0 || v > RETRIEVAL_MAX_PER_ARTICLE_LIMIT)
            return request_reject(pb, 422, "'max_per_article' must be between 0 (no cap) and %d",
                                  RETRIEVAL_MAX_PER_ARTICLE_LIMIT);
        j->max_per_article = (int)v;
    }
    if (!check_date(body, "date_from", j->date_from, pb) ||
        !check_date(body, "date_to", j->date_to, pb))
        return false;
    if (j->date_from[0] && j->date_to[0] && strcmp(j->date_from, j->date_to) > 0)
        return request_reject(pb, 422, "'date_from' (%s) is after 'date_to' (%s)", j->date_from,
                              j->date_to);
    json_t *ex = json_object_get(body, "explain");
    if (ex && !json_is_null(ex)) {
        if (!json_is_boolean(ex)) return request_reject(pb, 400, "'explain' must be true or false");
        j->explain = json_is_true(ex);
    }
    json_t *s = json_object_get(body, "stream");
    if (s && !json_is_null(s)) {
        if (!json_is_boolean(s)) return request_reject(pb, 400, "'stream' must be true or false");
        j->stream = j->stream || json_is_true(s);
    }
    return check_seed(body, &j->seed, pb);
}

/* Validation: types are 400, values are 422, sizes 413 (docs/api.md). */
static void post_ask(http_request *r, void *ctx) {
    pipeline *p = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    ask_job *j = xcalloc(1, sizeof *j);
    assert(p->store); /* a first ingest gates this route until the store is open */
    *j = (ask_job){.p = p, .req = r, .top_k = ASK_DEFAULT_TOP_K,
                   .mode = retrieval_default_mode(p->store),
                   .max_per_article = p->max_per_article < 0 ? 0 : p->max_per_article,
                   .stream = http_request_wants_sse(r)};
    request_problem problem;
    if (!check_question(p, body, &j->question, &j->question_len, &problem) ||
        !check_ask_options(p, body, j, &problem)) {
        job_free(j);
        http_respond_problem(r, &problem);
        return;
    }
    j->queued_ns = now_ns();
    http_request_hold(r);
    if (workqueue_push(p->workers, run_ask, j) < 0) {
        job_free(j);
        http_respond_overloaded(r, 429, 1, "too many questions in flight; retry shortly");
    }
}

void ask_opts_add(option_list *l, ask_opts *o, const char *workers_help) {
    *o = (ask_opts){.workers = 64, .max_inflight = 1024,
                    .max_per_article = RETRIEVAL_DEFAULT_MAX_PER_ARTICLE};
    options_add(l, (option_spec){"workers", "RAGD_WORKERS", OPT_INT, &o->workers, workers_help, 1, 4096});
    options_add(l, (option_spec){"max-inflight", "RAGD_MAX_INFLIGHT", OPT_INT, &o->max_inflight,
                                 "questions queued or running before 429", 1, 1 << 20});
    options_add(l, (option_spec){"max-per-article", "RAGD_MAX_PER_ARTICLE", OPT_INT,
                                 &o->max_per_article,
                                 "sources of one article a question gets unless it says "
                                 "'max_per_article' (0: no cap)",
                                 0, RETRIEVAL_MAX_PER_ARTICLE_LIMIT});
}

int ask_pipeline_max_per_article(const ask_opts *o) {
    return o->max_per_article ? o->max_per_article : -1;
}

workqueue *ask_workers_start(const ask_opts *o, const char *role) {
    workqueue *q = workqueue_start("ragd-ask", o->workers, o->max_inflight);
    if (!q) log_error("ragd %s: cannot start the /ask worker threads", role);
    return q;
}

void ask_add_routes(route_list *routes, pipeline *p) {
    if (p->max_per_article == 0) p->max_per_article = RETRIEVAL_DEFAULT_MAX_PER_ARTICLE;
    if (p->max_top_k <= 0 || p->max_top_k > ASK_MAX_TOP_K) p->max_top_k = ASK_MAX_TOP_K;
    if (!p->max_question) p->max_question = 4096;
    routes_add(routes, "POST", "/ask", post_ask, p, 64 * 1024);
}
