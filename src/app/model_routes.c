/* model_routes — /encode, /v1/embeddings and /llm_ask (see docs/api.md).
 *
 * /encode and /v1/embeddings (openai_embeddings.c) never take a thread while they wait: the handler
 * validates, hands the texts to the batcher and parks the connection; the
 * batcher's completion writes the JSON (vectors printed by fmt_float, the
 * hot path) and wakes the connection. /llm_ask runs on a worker pool because
 * a real LLM backend blocks on its upstream while it streams.
 */
#include "app/model_routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "app/openai_embeddings.h"
#include "app/request_check.h"
#include "model/encoder.h"
#include "obs/ragd_metrics.h"
#include "util/buf.h"
#include "util/fmt_float.h"
#include "util/utf8.h"
#include "util/util.h"

typedef struct encode_job {
    http_request *req;
} encode_job;

static void encode_done(void *ctx, batcher_status status, int n, const float *vectors,
                        const int *ntokens, const char *err) {
    encode_job *j = ctx;
    if (status != BATCHER_OK) {
        http_respond_error(j->req, 500, "encoder failed: %s", err);
        free(j);
        return;
    }
    buf out = BUF_INIT;
    buf_reserve(&out, (size_t)n * ENCODER_DIM * 12 + 256);
    buf_printf(&out, "{\"model\":\"%s\",\"dim\":%d,\"embeddings\":[", ENCODER_MODEL_NAME, ENCODER_DIM);
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(&out, ',');
        buf_float_array(&out, vectors + (size_t)i * ENCODER_DIM, ENCODER_DIM);
    }
    buf_puts(&out, "],\"tokens\":[");
    for (int i = 0; i < n; i++) buf_printf(&out, "%s%d", i ? "," : "", ntokens[i]);
    buf_puts(&out, "]}");
    http_respond(j->req, 200, "application/json", out.data, out.len);
    buf_free(&out);
    free(j);
}

/* The texts of a request: input is a string (when one_string_ok) or an
 * array of strings under field. On true, texts/lens (malloc'd, pointing into
 * input) hold *n texts. */
static bool check_texts(const model_service *m, json_t *input, const char *field,
                        bool one_string_ok, const char ***texts, size_t **lens, int *n,
                        request_problem *p) {
    if (json_is_string(input) && !one_string_ok)
        return request_reject(p, 422, "'%s' must be an array of strings; for one string give 'text'",
                              field);
    if (!json_is_string(input) && !json_is_array(input))
        return request_reject(p, 400, "'%s' must be %san array of strings", field,
                              one_string_ok ? "a string or " : "");
    int count = json_is_string(input) ? 1 : (int)json_array_size(input);
    if (count == 0) return request_reject(p, 422, "'%s' is empty: nothing to encode", field);
    if (count > m->max_texts)
        return request_reject(p, 413, "%d texts in one request; the limit is %d", count, m->max_texts);
    for (int i = 0; i < count; i++) {
        json_t *t = json_is_string(input) ? input : json_array_get(input, (size_t)i);
        if (!json_is_string(t)) return request_reject(p, 400, "'%s'[%d] must be a string", field, i);
        if (json_string_length(t) > m->max_text_bytes)
            return request_reject(p, 413, "'%s'[%d] is %zu bytes; the limit is %zu", field, i,
                                  json_string_length(t), m->max_text_bytes);
    }
    *texts = xmalloc((size_t)count * sizeof **texts);
    *lens = xmalloc((size_t)count * sizeof **lens);
    for (int i = 0; i < count; i++) {
        json_t *t = json_is_string(input) ? input : json_array_get(input, (size_t)i);
        /* length-aware: a text may hold \u0000, which the encoder's cleaning drops */
        (*texts)[i] = json_string_value(t);
        (*lens)[i] = json_string_length(t);
    }
    *n = count;
    return true;
}

/* Hand the checked texts to the batcher and park the request. */
static void submit_texts(http_request *r, model_service *m, int n, const char **texts,
                         size_t *lens) {
    encode_job *j = xcalloc(1, sizeof *j);
    j->req = r;
    http_request_hold(r);
    if (batcher_submit(m->batcher, n, texts, lens, encode_done, j) != BATCHER_OK) {
        free(j);
        http_respond_overloaded(r, 429, 1, "the encoder queue is full; retry shortly");
    }
    free(texts);
    free(lens);
}

static void post_encode(http_request *r, void *ctx) {
    model_service *m = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    json_t *texts = json_object_get(body, "texts");
    json_t *text = json_object_get(body, "text");
    request_problem p;
    const char **items = NULL;
    size_t *lens = NULL;
    int n = 0;
    bool ok;
    if (texts) ok = check_texts(m, texts, "texts", false, &items, &lens, &n, &p);
    else if (!text) ok = request_reject(&p, 422, "give 'texts' (an array of strings) or 'text' (a string)");
    else if (!json_is_string(text)) ok = request_reject(&p, 400, "'text' must be a string");
    else ok = check_texts(m, text, "text", true, &items, &lens, &n, &p);
    if (!ok) {
        http_respond_problem(r, &p);
        return;
    }
    submit_texts(r, m, n, items, lens);
}

/* ---- /llm_ask ---- */

typedef struct llm_job {
    model_service *m;
    http_request *req;
    int nprompts;
    llm_prompt *prompts;
    const char ***contexts;
    char **owned;         /* the question and context texts, copied */
    int nowned;
    uint64_t seed;
    uint64_t first_piece_ns;
} llm_job;

static void llm_job_free(llm_job *j) {
    for (int i = 0; i < j->nprompts; i++) free(j->contexts[i]);
    free(j->contexts);
    free(j->prompts);
    for (int i = 0; i < j->nowned; i++) free(j->owned[i]);
    free(j->owned);
    free(j);
}

/* Keep a copy of text in the job; returns the copy. */
static const char *job_keep(llm_job *j, char *text) {
    j->owned = xrealloc(j->owned, (size_t)(j->nowned + 1) * sizeof *j->owned);
    j->owned[j->nowned++] = text;
    return text;
}

static int emit_token(int prompt, int article, const char *text, size_t len, void *ctx) {
    llm_job *j = ctx;
    if (!j->first_piece_ns) j->first_piece_ns = now_ns();
    buf ev = BUF_INIT;
    buf_printf(&ev, "{\"prompt\":%d,\"article\":%d,\"text\":\"", prompt, article);
    buf_json_escape(&ev, text, len);
    buf_puts(&ev, "\"}");
    int rc = http_stream_event(j->req, "token", ev.data, ev.len);
    buf_free(&ev);
    return rc < 0 ? 1 : 0;
}

static void run_llm(void *arg) {
    llm_job *j = arg;
    http_stream_begin(j->req, 200, "text/event-stream; charset=utf-8");
    char err[256];
    uint64_t start = now_ns();
    int rc = llm_generate(j->m->llm, j->prompts, j->nprompts, j->seed, emit_token, j, err, sizeof err);
    if (rc == 0)
        ragd_metrics_llm(j->first_piece_ns ? (double)(j->first_piece_ns - start) / 1e9 : 0,
                         (double)(now_ns() - start) / 1e9);
    if (rc < 0) {
        buf ev = BUF_INIT;
        buf_puts(&ev, "{\"error\":{\"code\":\"bad_gateway\",\"message\":\"");
        buf_json_escape(&ev, err, strlen(err));
        buf_puts(&ev, "\"}}");
        http_stream_event(j->req, "error", ev.data, ev.len);
        buf_free(&ev);
    } else if (rc == 0) {
        char done[64];
        int n = snprintf(done, sizeof done, "{\"prompts\":%d}", j->nprompts);
        http_stream_event(j->req, "done", done, (size_t)n);
    }
    http_stream_end(j->req);
    llm_job_free(j);
}

static void start_llm(http_request *r, llm_job *j) {
    http_request_hold(r);
    if (workqueue_push(j->m->llm_workers, run_llm, j) < 0) {
        llm_job_free(j);
        http_respond_overloaded(r, 429, 1, "too many LLM requests in flight; retry shortly");
    }
}

/* Everything in a POST /llm_ask body, checked before anything is taken. */
static bool check_llm_body(const model_service *m, json_t *body, request_problem *p) {
    json_t *prompts = json_object_get(body, "prompts");
    if (!prompts) return request_reject(p, 422, "'prompts' is required");
    if (!json_is_array(prompts)) return request_reject(p, 400, "'prompts' must be an array");
    int n = (int)json_array_size(prompts);
    if (n == 0) return request_reject(p, 422, "'prompts' is empty");
    if (n > m->max_prompts) return request_reject(p, 413, "%d prompts; the limit is %d", n, m->max_prompts);
    for (int i = 0; i < n; i++) {
        json_t *pr = json_array_get(prompts, (size_t)i);
        if (!json_is_object(pr)) return request_reject(p, 400, "prompts[%d] must be an object", i);
        if (!json_is_string(json_object_get(pr, "question")))
            return request_reject(p, 400, "prompts[%d].question must be a string", i);
        json_t *c = json_object_get(pr, "context");
        if (c && !json_is_array(c))
            return request_reject(p, 400, "prompts[%d].context must be an array of strings", i);
        if ((int)json_array_size(c) > m->max_context)
            return request_reject(p, 413, "prompts[%d] has %zu context articles; the limit is %d", i,
                                  json_array_size(c), m->max_context);
        for (size_t k = 0; k < json_array_size(c); k++)
            if (!json_is_string(json_array_get(c, k)))
                return request_reject(p, 400, "prompts[%d].context[%zu] must be a string", i, k);
    }
    return true;
}

static void post_llm_ask(http_request *r, void *ctx) {
    model_service *m = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    request_problem problem;
    uint64_t seed = 0;
    if (!check_llm_body(m, body, &problem) || !check_seed(body, &seed, &problem)) {
        http_respond_problem(r, &problem);
        return;
    }
    json_t *prompts = json_object_get(body, "prompts");
    int n = (int)json_array_size(prompts);
    llm_job *j = xcalloc(1, sizeof *j);
    j->m = m;
    j->req = r;
    j->seed = seed;
    j->nprompts = n;
    j->prompts = xcalloc((size_t)n, sizeof *j->prompts);
    j->contexts = xcalloc((size_t)n, sizeof *j->contexts);
    for (int i = 0; i < n; i++) {
        json_t *pr = json_array_get(prompts, (size_t)i);
        json_t *c = json_object_get(pr, "context");
        int nc = (int)json_array_size(c);
        j->contexts[i] = xcalloc((size_t)(nc ? nc : 1), sizeof(char *));
        for (int k = 0; k < nc; k++)
            j->contexts[i][k] = job_keep(j, json_text_without_nul(json_array_get(c, (size_t)k), NULL));
        const char *q = job_keep(j, json_text_without_nul(json_object_get(pr, "question"), NULL));
        j->prompts[i] = (llm_prompt){.question = q, .context = j->contexts[i], .ncontext = nc};
    }
    start_llm(r, j);
}

static void collect_context(const char *value, void *ctx) { job_keep(ctx, xstrdup(value)); }

/* The query values of GET /llm_ask (owned[0] the question, the rest context). */
static bool check_llm_query(const model_service *m, const llm_job *j, const char *seed,
                            request_problem *p) {
    char *end = NULL;
    if (seed && (!*seed || seed[0] == '-' || (strtoull(seed, &end, 10), *end)))
        return request_reject(p, 400, "'seed' must be a non-negative integer");
    for (int i = 0; i < j->nowned; i++) {
        /* JSON bodies are checked by the parser; query values are not, and
         * they go back out inside the events' JSON. */
        if (!utf8_valid(j->owned[i], strlen(j->owned[i])))
            return request_reject(p, 400, "'%s' is not valid UTF-8", i ? "context" : "question");
    }
    if (j->nowned - 1 > m->max_context)
        return request_reject(p, 413, "%d context articles; the limit is %d", j->nowned - 1,
                              m->max_context);
    return true;
}

static void get_llm_ask(http_request *r, void *ctx) {
    model_service *m = ctx;
    const char *question = http_request_query(r, "question");
    request_problem problem;
    if (!question) {
        request_reject(&problem, 422, "the 'question' query parameter is required");
        http_respond_problem(r, &problem);
        return;
    }
    const char *seed = http_request_query(r, "seed");
    llm_job *j = xcalloc(1, sizeof *j);
    j->m = m;
    j->req = r;
    collect_context(question, j);
    http_request_query_all(r, "context", collect_context, j);
    if (!check_llm_query(m, j, seed, &problem)) {
        llm_job_free(j);
        http_respond_problem(r, &problem);
        return;
    }
    j->seed = seed ? strtoull(seed, NULL, 10) : 0;
    int nc = j->nowned - 1;
    j->nprompts = 1;
    j->prompts = xcalloc(1, sizeof *j->prompts);
    j->contexts = xcalloc(1, sizeof *j->contexts);
    j->contexts[0] = xcalloc((size_t)(nc ? nc : 1), sizeof(char *));
    for (int k = 0; k < nc; k++) j->contexts[0][k] = j->owned[k + 1];
    j->prompts[0] = (llm_prompt){.question = j->owned[0], .context = j->contexts[0], .ncontext = nc};
    start_llm(r, j);
}

void model_routes_add(route_list *routes, model_service *m) {
    if (m->max_texts <= 0) m->max_texts = 256;
    if (!m->max_text_bytes) m->max_text_bytes = 64 * 1024;
    if (m->max_prompts <= 0) m->max_prompts = 64;
    if (m->max_context <= 0) m->max_context = 50;
    size_t body = (size_t)m->max_texts * m->max_text_bytes;
    if (body > (64u << 20)) body = 64u << 20;
    routes_add(routes, "POST", "/encode", post_encode, m, body);
    openai_embeddings_add(routes, m, body);
    routes_add(routes, "GET", "/llm_ask", get_llm_ask, m, 0);
    routes_add(routes, "POST", "/llm_ask", post_llm_ask, m, 16u << 20);
}
