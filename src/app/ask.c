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
    bool stream;
    uint64_t seed;
    uint64_t queued_ns;
    buf answer;       /* JSON mode: the answer so far */
    uint64_t llm_start_ns, first_piece_ns;
    bool cancelled;
} ask_job;

static const char *mode_name(search_mode m) {
    return m == SEARCH_VECTOR ? "vector" : m == SEARCH_LEXICAL ? "lexical" : "hybrid";
}

static void job_free(ask_job *j) {
    free(j->question);
    free(j->topic);
    buf_free(&j->answer);
    free(j);
}

static json_t *sources_json(const store *s, const search_hit *hits, int n) {
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        store_passage ps;
        if (store_get(s, hits[i].passage_id, &ps) < 0) continue;
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:s}", "id", (json_int_t)ps.id,
                           "article_id", ps.article_id, "heading", ps.heading, "date", ps.date,
                           "topic", ps.topic, "score", (double)hits[i].score, "text", ps.text));
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
                     .mode = j->mode, .vector_weight = p->vector_weight};
    char err[256];
    int n = store_search(p->store, &q, hits, err, sizeof err);
    uint64_t t2 = now_ns();
    ragd_metrics_search(mode_name(j->mode), (double)(t2 - t1) / 1e9);
    if (n < 0) {
        /* STORE_ERR_BAD_QUERY, the only failure: post_ask checked every field,
         * so a query the store refuses is this process's fault */
        assert(n == STORE_ERR_BAD_QUERY);
        fail(j, 500, err);
        job_free(j);
        return;
    }
    json_t *sources = sources_json(p->store, hits, n);
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

static bool parse_mode(const char *name, search_mode *mode) {
    if (!strcmp(name, "hybrid")) *mode = SEARCH_HYBRID;
    else if (!strcmp(name, "vector")) *mode = SEARCH_VECTOR;
    else if (!strcmp(name, "lexical")) *mode = SEARCH_LEXICAL;
    else return false;
    return true;
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
        if (!parse_mode(json_string_value(m), &j->mode))
            return request_reject(pb, 422, "'mode' must be hybrid, vector or lexical");
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
    *j = (ask_job){.p = p, .req = r, .top_k = ASK_DEFAULT_TOP_K, .mode = SEARCH_HYBRID,
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
    *o = (ask_opts){.workers = 64, .max_inflight = 1024};
    options_add(l, (option_spec){"workers", "RAGD_WORKERS", OPT_INT, &o->workers, workers_help, 1, 4096});
    options_add(l, (option_spec){"max-inflight", "RAGD_MAX_INFLIGHT", OPT_INT, &o->max_inflight,
                                 "questions queued or running before 429", 1, 1 << 20});
}

workqueue *ask_workers_start(const ask_opts *o, const char *role) {
    workqueue *q = workqueue_start("ragd-ask", o->workers, o->max_inflight);
    if (!q) log_error("ragd %s: cannot start the /ask worker threads", role);
    return q;
}

float ask_vector_weight_for(const char *store_model) {
    /* Vectors of the random-weight twin carry no meaning: hybrid retrieval then
     * leans on its lexical half, the vector rank only breaking ties. */
    return strcmp(store_model, ENCODER_MODEL_NAME) == 0 ? 1.0f : 0.25f;
}

void ask_add_routes(route_list *routes, pipeline *p) {
    if (p->vector_weight <= 0) p->vector_weight = ask_vector_weight_for(store_model(p->store));
    if (p->max_top_k <= 0 || p->max_top_k > ASK_MAX_TOP_K) p->max_top_k = ASK_MAX_TOP_K;
    if (!p->max_question) p->max_question = 4096;
    routes_add(routes, "POST", "/ask", post_ask, p, 64 * 1024);
}
