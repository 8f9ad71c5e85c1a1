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
#include "app/store_open.h"
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
    bool stream_open;    /* http_stream_begin done */
    bool cite;
    uint64_t seed;
    llm_turn *history; /* owned copies */
    int nhistory;
    uint64_t queued_ns;
    const ask_format *fmt;
    void *fmt_ctx;
    buf cited;        /* scratch for a piece with its " [n]" */
    int pieces_cited;
    uint64_t llm_start_ns, first_piece_ns;
} ask_job;

/* Everything of the job but the format's context. */
static void job_discard(ask_job *j) {
    free(j->question);
    free(j->topic);
    for (int i = 0; i < j->nhistory; i++) {
        free((char *)j->history[i].role);
        free((char *)j->history[i].content);
    }
    free(j->history);
    buf_free(&j->cited);
    free(j);
}

static void job_free(ask_job *j) {
    j->fmt->release(j->fmt_ctx);
    job_discard(j);
}

/* A rank and score of one half, or nulls when the hit was not in its list. */
static void explain_half(json_t *o, const char *rank_key, const char *score_key, int rank,
                         float score) {
    json_object_set_new(o, rank_key, rank ? json_integer(rank) : json_null());
    json_object_set_new(o, score_key, rank ? json_real((double)score) : json_null());
}

static json_t *sources_json(const store_view *s, const search_hit *hits, int n, bool explain) {
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

/* Hands each piece to the format, with its citation when asked for one. */
static int on_piece(int prompt, int article, const char *text, size_t len, void *ctx) {
    ask_job *j = ctx;
    if (!j->first_piece_ns) j->first_piece_ns = now_ns();
    if (http_request_cancelled(j->req)) return 1;
    if (j->cite && article >= 0) {
        /* The pieces of the mock are cut from different passages: a space
         * between them keeps the concatenated stream readable. */
        buf_clear(&j->cited);
        if (j->pieces_cited++) buf_putc(&j->cited, ' ');
        buf_append(&j->cited, text, len);
        buf_printf(&j->cited, " [%d]", article + 1);
        text = j->cited.data;
        len = j->cited.len;
    }
    return j->fmt->piece(j->fmt_ctx, j->req, text, len) < 0 ? 1 : 0;
}

static void begin_stream(ask_job *j) {
    assert(j->stream && !j->stream_open);
    http_stream_begin(j->req, 200, "text/event-stream; charset=utf-8");
    j->stream_open = true;
}

/* A failure of the pipeline: in-band for a stream. */
static void fail(ask_job *j, int status, const char *message) {
    if (j->stream && !j->stream_open) begin_stream(j);
    j->fmt->fail(j->fmt_ctx, j->req, j->stream, status, 1, message);
}

/* The store could not be reached: a real 503 even for a stream, which is
 * begun only once the search has answered (backend.h: reads of a server). */
static void store_unavailable(ask_job *j, const char *message) {
    log_fields(LOG_WARN, "store unavailable",
               (log_field[]){LOG_STR("rid", http_request_id(j->req)), LOG_STR("route", j->fmt->route),
                             LOG_STR("error", message)}, 3);
    j->fmt->fail(j->fmt_ctx, j->req, false, 503, STORE_RETRY_AFTER_S, message);
}

/* The client left: count it, and end what was begun. */
static void cancelled(ask_job *j) {
    ragd_metrics_cancelled(j->fmt->route);
    log_fields(LOG_INFO, "ask cancelled by client",
               (log_field[]){LOG_STR("rid", http_request_id(j->req)),
                             LOG_STR("route", j->fmt->route)}, 2);
    if (j->stream) http_stream_end(j->req);
    else http_respond_error(j->req, 499, "client closed the request");
}

static void run_ask(void *arg) {
    ask_job *j = arg;
    pipeline *p = j->p;
    uint64_t t0 = now_ns();
    ragd_metrics_queue_wait("ask", (double)(t0 - j->queued_ns) / 1e9);
    ragd_metrics_queue("ask", workqueue_depth(p->workers));
    if (http_request_cancelled(j->req)) {
        j->stream = false; /* nothing was begun */
        cancelled(j);
        job_free(j);
        return;
    }
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
    /* One view from the search to the last use of its passages' texts (the
     * prompt): a write or merge meanwhile cannot change what was found. */
    const store_view *view = store_acquire(p->store);
    retrieval_set_fusion(view, &q);
    char err[256];
    int n = store_search(view, &q, hits, err, sizeof err);
    uint64_t t2 = now_ns();
    ragd_metrics_search(retrieval_mode_name(j->mode), (double)(t2 - t1) / 1e9);
    if (n == STORE_ERR_UNAVAILABLE) {
        store_release(view);
        store_unavailable(j, err);
        job_free(j);
        return;
    }
    if (n < 0) {
        /* the handler checked every field, so a query the store refuses
         * (STORE_ERR_BAD_QUERY) or a missing analyzer is this process's fault */
        assert(n == STORE_ERR_BAD_QUERY || n == STORE_ERR_ANALYZER);
        store_release(view);
        fail(j, 500, err);
        job_free(j);
        return;
    }
    json_t *sources = sources_json(view, hits, n, j->explain);
    if (j->stream) {
        begin_stream(j);
        j->fmt->sources(j->fmt_ctx, j->req, sources);
    }

    /* 3. answer from the passages */
    const char *context[ASK_MAX_TOP_K], *heading[ASK_MAX_TOP_K], *date[ASK_MAX_TOP_K];
    for (int i = 0; i < n; i++) {
        store_passage ps;
        store_get(view, hits[i].passage_id, &ps);
        context[i] = ps.text;
        heading[i] = ps.heading;
        date[i] = ps.date;
    }
    llm_prompt prompt = {.question = j->question, .context = context, .ncontext = n,
                         .heading = heading, .date = date, .history = j->history,
                         .nhistory = j->nhistory};
    j->llm_start_ns = now_ns();
    int rc = p->generate(p->ctx, &prompt, j->seed, on_piece, j, &e);
    store_release(view);
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
        cancelled(j);
    } else {
        ask_result res = {.sources = sources,
                          .timings = timings_json(encode_s, search_s, llm_s, total_s)};
        j->fmt->done(j->fmt_ctx, j->req, &res);
    }
    job_free(j);
}

/* Validation: types are 400, values are 422, sizes 413 (docs/api.md). */
bool ask_check_question(const pipeline *p, const char *qtext, size_t qlen, request_problem *pb) {
    assert(p->max_question > 0); /* ask_add_routes set the limits */
    assert(!memchr(qtext, '\0', qlen)); /* the caller dropped NUL characters */
    size_t visible = 0;
    for (size_t i = 0; i < qlen; i++) visible += !strchr(" \t\n\r", qtext[i]);
    if (!visible) return request_reject_field(pb, 422, "question", "'question' must not be empty");
    if (qlen > p->max_question)
        return request_reject_field(pb, 413, "question", "'question' is %zu bytes; the limit is %zu",
                                    qlen, p->max_question);
    return true;
}

/* An optional date field ("YYYY-MM-DD"): absent or null leaves out[0] '\0'. */
static bool check_date(const json_t *body, const char *key, char out[11], request_problem *pb) {
    json_t *d = json_object_get(body, key);
    if (!d || json_is_null(d)) return true;
    if (!json_is_string(d)) return request_reject_field(pb, 400, key, "'%s' must be a string or null", key);
    if (!store_valid_date(json_string_value(d)) || json_string_length(d) != 10)
        return request_reject_field(pb, 422, key, "'%s' must be a date YYYY-MM-DD", key);
    memcpy(out, json_string_value(d), 11);
    return true;
}

/* The optional fields, each defaulting when absent or null. */
bool ask_read_options(const pipeline *p, const json_t *body, ask_params *params,
                      request_problem *pb) {
    assert(p->max_top_k > 0);
    params->top_k = ASK_DEFAULT_TOP_K;
    json_t *k = json_object_get(body, "top_k");
    if (k && !json_is_null(k)) {
        if (!json_is_integer(k)) return request_reject_field(pb, 400, "top_k", "'top_k' must be an integer");
        json_int_t v = json_integer_value(k);
        if (v < 1 || v > p->max_top_k)
            return request_reject_field(pb, 422, "top_k", "'top_k' must be between 1 and %d",
                                        p->max_top_k);
        params->top_k = (int)v;
    }
    params->topic = NULL;
    json_t *t = json_object_get(body, "topic");
    if (t && !json_is_null(t)) {
        if (!json_is_string(t))
            return request_reject_field(pb, 400, "topic", "'topic' must be a string or null");
        const char *topic = json_string_value(t);
        const store_view *view = store_acquire(p->store);
        if (strlen(topic) != json_string_length(t) || !store_has_topic(view, topic)) {
            const char *const *names;
            int nt = store_topics(view, &names);
            buf known = BUF_INIT;
            for (int i = 0; i < nt; i++) buf_printf(&known, "%s%s", i ? ", " : "", names[i]);
            store_release(view);
            request_reject_field(pb, 422, "topic", "unknown topic '%.100s' (known: %s)", topic,
                                 known.data ? known.data : "none");
            buf_free(&known);
            return false;
        }
        store_release(view);
        params->topic = topic;
    }
    assert(p->store); /* a first ingest gates these routes until the store is open */
    const store_view *view = store_acquire(p->store);
    params->mode = retrieval_default_mode(view);
    store_release(view);
    json_t *m = json_object_get(body, "mode");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m)) return request_reject_field(pb, 400, "mode", "'mode' must be a string");
        if (retrieval_parse_mode(json_string_value(m), &params->mode) < 0)
            return request_reject_field(pb, 422, "mode", "'mode' must be hybrid, vector or lexical");
    }
    params->max_per_article = p->max_per_article < 0 ? 0 : p->max_per_article;
    json_t *mpa = json_object_get(body, "max_per_article");
    if (mpa && !json_is_null(mpa)) {
        if (!json_is_integer(mpa))
            return request_reject_field(pb, 400, "max_per_article", "'max_per_article' must be an integer");
        json_int_t v = json_integer_value(mpa);
        if (v < 0 || v > RETRIEVAL_MAX_PER_ARTICLE_LIMIT)
            return request_reject_field(pb, 422, "max_per_article",
                                        "'max_per_article' must be between 0 (no cap) and %d",
                                        RETRIEVAL_MAX_PER_ARTICLE_LIMIT);
        params->max_per_article = (int)v;
    }
    params->date_from[0] = params->date_to[0] = '\0';
    if (!check_date(body, "date_from", params->date_from, pb) ||
        !check_date(body, "date_to", params->date_to, pb))
        return false;
    if (params->date_from[0] && params->date_to[0] && strcmp(params->date_from, params->date_to) > 0)
        return request_reject_field(pb, 422, "date_from", "'date_from' (%s) is after 'date_to' (%s)",
                                    params->date_from, params->date_to);
    params->explain = false;
    json_t *ex = json_object_get(body, "explain");
    if (ex && !json_is_null(ex)) {
        if (!json_is_boolean(ex))
            return request_reject_field(pb, 400, "explain", "'explain' must be true or false");
        params->explain = json_is_true(ex);
    }
    params->seed = 0;
    return check_seed((json_t *)body, &params->seed, pb);
}

int ask_submit(pipeline *p, http_request *r, const ask_params *params, const ask_format *fmt,
               void *fmt_ctx) {
    assert(params->top_k >= 1 && params->top_k <= ASK_MAX_TOP_K);
    ask_job *j = xcalloc(1, sizeof *j);
    j->p = p;
    j->req = r;
    j->question = xstrndup(params->question, params->question_len);
    j->question_len = params->question_len;
    j->topic = params->topic ? xstrdup(params->topic) : NULL;
    j->top_k = params->top_k;
    j->mode = params->mode;
    j->max_per_article = params->max_per_article;
    memcpy(j->date_from, params->date_from, sizeof j->date_from);
    memcpy(j->date_to, params->date_to, sizeof j->date_to);
    j->explain = params->explain;
    j->stream = params->stream;
    j->cite = params->cite;
    j->seed = params->seed;
    if (params->nhistory > 0) {
        j->history = xcalloc((size_t)params->nhistory, sizeof *j->history);
        for (int i = 0; i < params->nhistory; i++)
            j->history[i] = (llm_turn){.role = xstrdup(params->history[i].role),
                                       .content = xstrdup(params->history[i].content)};
        j->nhistory = params->nhistory;
    }
    j->fmt = fmt;
    j->fmt_ctx = fmt_ctx;
    j->queued_ns = now_ns();
    http_request_hold(r);
    if (workqueue_push(p->workers, run_ask, j) < 0) {
        job_discard(j); /* the caller keeps fmt_ctx */
        return -1;
    }
    return 0;
}

/* ---- /ask's own wire format ---- */

typedef struct ask_wire {
    bool stream;
    bool cite;  /* pieces arrive spaced already */
    buf answer; /* JSON mode: the answer so far */
} ask_wire;

static int wire_sources(void *ctx, http_request *r, const json_t *sources) {
    char *text = json_dumps(sources, JSON_COMPACT | JSON_REAL_PRECISION(6));
    int rc = http_stream_event(r, "sources", text, strlen(text));
    free(text);
    return rc;
}

static int wire_piece(void *ctx, http_request *r, const char *text, size_t len) {
    ask_wire *w = ctx;
    if (w->stream) return http_stream_event(r, "token", text, len);
    if (w->answer.len && len && !w->cite) buf_putc(&w->answer, ' ');
    buf_append(&w->answer, text, len);
    return 0;
}

static void wire_done(void *ctx, http_request *r, const ask_result *res) {
    ask_wire *w = ctx;
    if (w->stream) {
        json_decref(res->sources);
        json_t *done = json_pack("{s:o}", "timings_ms", res->timings);
        char *text = json_dumps(done, JSON_COMPACT | JSON_REAL_PRECISION(6));
        http_stream_event(r, "done", text, strlen(text));
        free(text);
        json_decref(done);
        http_stream_end(r);
    } else {
        json_t *body = json_pack("{s:s%, s:o, s:o}", "answer", w->answer.data ? w->answer.data : "",
                                 w->answer.len, "sources", res->sources, "timings_ms", res->timings);
        http_respond_json(r, 200, body);
    }
}

static void wire_fail(void *ctx, http_request *r, bool streaming, int status, int retry_after_s,
                      const char *message) {
    if (streaming) {
        buf ev = BUF_INIT;
        buf_printf(&ev, "{\"error\":{\"code\":\"%s\",\"message\":\"", http_error_code(status));
        buf_json_escape(&ev, message, strlen(message));
        buf_puts(&ev, "\"}}");
        http_stream_event(r, "error", ev.data, ev.len);
        buf_free(&ev);
        http_stream_end(r);
    } else {
        if (status == 429 || status == 503) http_respond_overloaded(r, status, retry_after_s, message);
        else http_respond_error(r, status, "%s", message);
    }
}

static void wire_release(void *ctx) {
    ask_wire *w = ctx;
    buf_free(&w->answer);
    free(w);
}

static const ask_format ask_wire_format = {.route = "/ask", .sources = wire_sources,
                                           .piece = wire_piece, .done = wire_done,
                                           .fail = wire_fail, .release = wire_release};

/* An optional boolean field: absent or null leaves *value alone. */
static bool check_flag(json_t *body, const char *name, bool *value, request_problem *pb) {
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) return request_reject_field(pb, 400, name, "'%s' must be true or false", name);
    *value = json_is_true(v);
    return true;
}

/* "question": a string; on true *text is it without NUL characters (malloc'd). */
static bool read_question(json_t *body, char **text, size_t *len, request_problem *pb) {
    json_t *q = json_object_get(body, "question");
    if (!q) return request_reject_field(pb, 422, "question", "'question' is required");
    if (!json_is_string(q)) return request_reject_field(pb, 400, "question", "'question' must be a string");
    *text = json_text_without_nul(q, len);
    return true;
}

static void post_ask(http_request *r, void *ctx) {
    pipeline *p = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    request_problem problem;
    ask_params params = {0};
    char *question = NULL;
    bool stream = false, cite = false;
    bool ok = read_question(body, &question, &params.question_len, &problem) &&
              ask_check_question(p, question, params.question_len, &problem) &&
              ask_read_options(p, body, &params, &problem) &&
              check_flag(body, "stream", &stream, &problem) &&
              check_flag(body, "cite", &cite, &problem);
    if (!ok) {
        free(question);
        http_respond_problem(r, &problem);
        return;
    }
    params.question = question;
    params.stream = http_request_wants_sse(r) || stream;
    params.cite = cite;
    ask_wire *w = xcalloc(1, sizeof *w);
    w->stream = params.stream;
    w->cite = params.cite;
    int rc = ask_submit(p, r, &params, &ask_wire_format, w);
    free(question); /* ask_submit copied it */
    if (rc < 0) {
        wire_release(w);
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
