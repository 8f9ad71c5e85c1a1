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

#include <stdio.h>
#include <string.h>

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
        fail(j, e.status, e.message);
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
        fail(j, e.status, e.message);
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

#define REJECT(...)                        \
    do {                                   \
        http_respond_error(r, __VA_ARGS__); \
        return;                            \
    } while (0)

/* Validation: types are 400, values are 422, sizes 413 (docs/api.md). */
static void post_ask(http_request *r, void *ctx) {
    pipeline *p = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    json_t *question = json_object_get(body, "question");
    if (!question) REJECT(422, "'question' is required");
    if (!json_is_string(question)) REJECT(400, "'question' must be a string");
    const char *qtext = json_string_value(question);
    size_t qlen = json_string_length(question);
    size_t visible = 0;
    for (size_t i = 0; i < qlen; i++) visible += qtext[i] != ' ' && qtext[i] != '\t' && qtext[i] != '\n' && qtext[i] != '\r';
    if (!visible) REJECT(422, "'question' must not be empty");
    if (qlen > p->max_question)
        REJECT(413, "'question' is %zu bytes; the limit is %zu", qlen, p->max_question);
    if (memchr(qtext, '\0', qlen)) REJECT(400, "'question' contains a NUL character");

    int top_k = ASK_DEFAULT_TOP_K;
    json_t *k = json_object_get(body, "top_k");
    if (k && !json_is_null(k)) {
        if (!json_is_integer(k)) REJECT(400, "'top_k' must be an integer");
        json_int_t v = json_integer_value(k);
        if (v < 1 || v > p->max_top_k)
            REJECT(422, "'top_k' must be between 1 and %d", p->max_top_k);
        top_k = (int)v;
    }
    const char *topic = NULL;
    json_t *t = json_object_get(body, "topic");
    if (t && !json_is_null(t)) {
        if (!json_is_string(t)) REJECT(400, "'topic' must be a string or null");
        topic = json_string_value(t);
        if (!store_has_topic(p->store, topic)) {
            const char *const *names;
            int nt = store_topics(p->store, &names);
            buf known = BUF_INIT;
            for (int i = 0; i < nt; i++) buf_printf(&known, "%s%s", i ? ", " : "", names[i]);
            http_respond_error(r, 422, "unknown topic '%s' (known: %s)", topic, known.data ? known.data : "none");
            buf_free(&known);
            return;
        }
    }
    search_mode mode = retrieval_default_mode(p->store);
    json_t *m = json_object_get(body, "mode");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m)) REJECT(400, "'mode' must be a string");
        if (retrieval_parse_mode(json_string_value(m), &mode) < 0)
            REJECT(422, "'mode' must be hybrid, vector or lexical");
    }
    int max_per_article = p->max_per_article < 0 ? 0 : p->max_per_article;
    json_t *mpa = json_object_get(body, "max_per_article");
    if (mpa && !json_is_null(mpa)) {
        if (!json_is_integer(mpa)) REJECT(400, "'max_per_article' must be an integer");
        json_int_t v = json_integer_value(mpa);
        if (v < 0 || v > RETRIEVAL_MAX_PER_ARTICLE_LIMIT)
            REJECT(422, "'max_per_article' must be between 0 (no cap) and %d",
                   RETRIEVAL_MAX_PER_ARTICLE_LIMIT);
        max_per_article = (int)v;
    }
    const char *dates[2] = {NULL, NULL};
    static const char *const date_keys[2] = {"date_from", "date_to"};
    for (int i = 0; i < 2; i++) {
        json_t *d = json_object_get(body, date_keys[i]);
        if (!d || json_is_null(d)) continue;
        if (!json_is_string(d)) REJECT(400, "'%s' must be a string or null", date_keys[i]);
        if (!store_valid_date(json_string_value(d)))
            REJECT(422, "'%s' must be a date YYYY-MM-DD", date_keys[i]);
        dates[i] = json_string_value(d);
    }
    if (dates[0] && dates[1] && strcmp(dates[0], dates[1]) > 0)
        REJECT(422, "'date_from' (%s) is after 'date_to' (%s)", dates[0], dates[1]);
    bool explain = false;
    json_t *ex = json_object_get(body, "explain");
    if (ex && !json_is_null(ex)) {
        if (!json_is_boolean(ex)) REJECT(400, "'explain' must be true or false");
        explain = json_is_true(ex);
    }
    bool stream = http_request_wants_sse(r);
    json_t *s = json_object_get(body, "stream");
    if (s && !json_is_null(s)) {
        if (!json_is_boolean(s)) REJECT(400, "'stream' must be true or false");
        stream = stream || json_is_true(s);
    }
    uint64_t seed = 0;
    json_t *sd = json_object_get(body, "seed");
    if (sd && !json_is_null(sd)) {
        if (!json_is_integer(sd) || json_integer_value(sd) < 0)
            REJECT(400, "'seed' must be a non-negative integer");
        seed = (uint64_t)json_integer_value(sd);
    }

    ask_job *j = xcalloc(1, sizeof *j);
    j->p = p;
    j->req = r;
    j->question = xstrndup(qtext, qlen);
    j->question_len = qlen;
    j->topic = topic ? xstrdup(topic) : NULL;
    j->top_k = top_k;
    j->mode = mode;
    j->max_per_article = max_per_article;
    if (dates[0]) memcpy(j->date_from, dates[0], 11);
    if (dates[1]) memcpy(j->date_to, dates[1], 11);
    j->explain = explain;
    j->stream = stream;
    j->seed = seed;
    j->queued_ns = now_ns();
    http_request_hold(r);
    if (workqueue_push(p->workers, run_ask, j) < 0) {
        job_free(j);
        http_respond_overloaded(r, 429, 1, "too many questions in flight; retry shortly");
    }
}

void ask_add_routes(route_list *routes, pipeline *p) {
    if (p->max_per_article == 0) p->max_per_article = RETRIEVAL_DEFAULT_MAX_PER_ARTICLE;
    if (p->max_top_k <= 0 || p->max_top_k > ASK_MAX_TOP_K) p->max_top_k = ASK_MAX_TOP_K;
    if (!p->max_question) p->max_question = 4096;
    routes_add(routes, "POST", "/ask", post_ask, p, 64 * 1024);
}
