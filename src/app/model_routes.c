/* model_routes — /encode, /v1/embeddings and /llm_ask (see docs/api.md).
 *
 * /encode and /v1/embeddings never take a thread while they wait: the handler
 * validates, hands the texts to the batcher and parks the connection; the
 * batcher's completion writes the JSON (vectors printed by fmt_float, the
 * hot path) and wakes the connection. /llm_ask runs on a worker pool because
 * a real LLM backend blocks on its upstream while it streams.
 */
#include "app/model_routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model/encoder.h"
#include "obs/ragd_metrics.h"
#include "util/buf.h"
#include "util/fmt_float.h"
#include "util/utf8.h"
#include "util/util.h"

#define REJECT(...)                        \
    do {                                   \
        http_respond_error(r, __VA_ARGS__); \
        return;                            \
    } while (0)

typedef enum { SHAPE_RAGD, SHAPE_OPENAI } encode_shape;

typedef struct encode_job {
    http_request *req;
    encode_shape shape;
} encode_job;

static void encode_done(void *ctx, int status, int n, const float *vectors, const int *ntokens,
                        const char *err) {
    encode_job *j = ctx;
    if (status < 0) {
        http_respond_error(j->req, 500, "encoder failed: %s", err);
        free(j);
        return;
    }
    buf out = BUF_INIT;
    buf_reserve(&out, (size_t)n * ENCODER_DIM * 12 + 256);
    if (j->shape == SHAPE_RAGD) {
        buf_printf(&out, "{\"model\":\"%s\",\"dim\":%d,\"embeddings\":[", ENCODER_MODEL_NAME, ENCODER_DIM);
        for (int i = 0; i < n; i++) {
            if (i) buf_putc(&out, ',');
            buf_float_array(&out, vectors + (size_t)i * ENCODER_DIM, ENCODER_DIM);
        }
        buf_puts(&out, "],\"tokens\":[");
        for (int i = 0; i < n; i++) buf_printf(&out, "%s%d", i ? "," : "", ntokens[i]);
        buf_puts(&out, "]}");
    } else {
        long total = 0;
        buf_puts(&out, "{\"object\":\"list\",\"data\":[");
        for (int i = 0; i < n; i++) {
            buf_printf(&out, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
            buf_float_array(&out, vectors + (size_t)i * ENCODER_DIM, ENCODER_DIM);
            buf_putc(&out, '}');
            total += ntokens[i];
        }
        buf_printf(&out, "],\"model\":\"%s\",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
                   ENCODER_MODEL_NAME, total, total);
    }
    http_respond(j->req, 200, "application/json", out.data, out.len);
    buf_free(&out);
    free(j);
}

/* Collect the texts of a request: a string or an array of strings under key
 * (and, for /encode, the single-text alternative "text"). */
static void encode_request(http_request *r, model_service *m, json_t *input, const char *field,
                           encode_shape shape) {
    int n = json_is_string(input) ? 1 : (int)json_array_size(input);
    if (!json_is_string(input) && !json_is_array(input))
        REJECT(400, "'%s' must be a string or an array of strings", field);
    if (n == 0) REJECT(422, "'%s' is empty: nothing to encode", field);
    if (n > m->max_texts) REJECT(413, "%d texts in one request; the limit is %d", n, m->max_texts);
    const char **texts = xmalloc((size_t)n * sizeof *texts);
    size_t *lens = xmalloc((size_t)n * sizeof *lens);
    for (int i = 0; i < n; i++) {
        json_t *t = json_is_string(input) ? input : json_array_get(input, (size_t)i);
        if (!json_is_string(t)) {
            free(texts), free(lens);
            REJECT(400, "'%s'[%d] must be a string", field, i);
        }
        texts[i] = json_string_value(t);
        lens[i] = json_string_length(t);
        if (lens[i] > m->max_text_bytes) {
            size_t too_long = lens[i];
            free(texts), free(lens);
            REJECT(413, "'%s'[%d] is %zu bytes; the limit is %zu", field, i, too_long, m->max_text_bytes);
        }
    }
    encode_job *j = xcalloc(1, sizeof *j);
    j->req = r;
    j->shape = shape;
    http_request_hold(r);
    if (batcher_submit(m->batcher, n, texts, lens, encode_done, j) < 0) {
        free(j);
        http_respond_overloaded(r, 429, 1, "the encoder queue is full; retry shortly");
    }
    free(texts);
    free(lens);
}

static void post_encode(http_request *r, void *ctx) {
    json_t *body = http_request_json(r);
    if (!body) return;
    json_t *texts = json_object_get(body, "texts");
    if (texts) {
        encode_request(r, ctx, texts, "texts", SHAPE_RAGD);
        return;
    }
    json_t *text = json_object_get(body, "text");
    if (!text) REJECT(422, "give 'texts' (an array of strings) or 'text' (a string)");
    if (!json_is_string(text)) REJECT(400, "'text' must be a string");
    encode_request(r, ctx, text, "text", SHAPE_RAGD);
}

static void post_embeddings(http_request *r, void *ctx) {
    json_t *body = http_request_json(r);
    if (!body) return;
    json_t *input = json_object_get(body, "input");
    if (!input) REJECT(422, "'input' is required");
    json_t *fmt = json_object_get(body, "encoding_format");
    if (fmt && !(json_is_string(fmt) && !strcmp(json_string_value(fmt), "float")))
        REJECT(422, "only encoding_format \"float\" is supported");
    encode_request(r, ctx, input, "input", SHAPE_OPENAI);
}

/* ---- /llm_ask ---- */

typedef struct llm_job {
    model_service *m;
    http_request *req;
    json_t *doc;          /* owns the strings of the prompts (POST) */
    int nprompts;
    llm_prompt *prompts;
    const char ***contexts;
    llm_turn **turns;     /* per prompt: its history (strings borrowed from doc) */
    char **owned;         /* GET: copies of the query values */
    int nowned;
    uint64_t seed;
    uint64_t first_piece_ns;
} llm_job;

static void llm_job_free(llm_job *j) {
    for (int i = 0; i < j->nprompts; i++) {
        free(j->contexts[i]);
        if (j->turns) free(j->turns[i]);
    }
    free(j->contexts);
    free(j->turns);
    free(j->prompts);
    for (int i = 0; i < j->nowned; i++) free(j->owned[i]);
    free(j->owned);
    json_decref(j->doc);
    free(j);
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

static void post_llm_ask(http_request *r, void *ctx) {
    model_service *m = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    json_t *prompts = json_object_get(body, "prompts");
    if (!prompts) REJECT(422, "'prompts' is required");
    if (!json_is_array(prompts)) REJECT(400, "'prompts' must be an array");
    int n = (int)json_array_size(prompts);
    if (n == 0) REJECT(422, "'prompts' is empty");
    if (n > m->max_prompts) REJECT(413, "%d prompts; the limit is %d", n, m->max_prompts);
    json_t *seed = json_object_get(body, "seed");
    if (seed && !json_is_null(seed) && (!json_is_integer(seed) || json_integer_value(seed) < 0))
        REJECT(400, "'seed' must be a non-negative integer");
    /* Validate everything before taking anything. */
    for (int i = 0; i < n; i++) {
        json_t *p = json_array_get(prompts, (size_t)i);
        if (!json_is_object(p)) REJECT(400, "prompts[%d] must be an object", i);
        json_t *q = json_object_get(p, "question");
        if (!json_is_string(q)) REJECT(400, "prompts[%d].question must be a string", i);
        json_t *c = json_object_get(p, "context");
        if (c && !json_is_array(c)) REJECT(400, "prompts[%d].context must be an array of strings", i);
        if ((int)json_array_size(c) > m->max_context)
            REJECT(413, "prompts[%d] has %zu context articles; the limit is %d", i, json_array_size(c), m->max_context);
        for (size_t k = 0; k < json_array_size(c); k++)
            if (!json_is_string(json_array_get(c, k)))
                REJECT(400, "prompts[%d].context[%zu] must be a string", i, k);
        json_t *h = json_object_get(p, "history");
        if (h && !json_is_array(h)) REJECT(400, "prompts[%d].history must be an array", i);
        if (json_array_size(h) > LLM_MAX_HISTORY)
            REJECT(413, "prompts[%d] has %zu history turns; the limit is %d", i, json_array_size(h), LLM_MAX_HISTORY);
        for (size_t k = 0; k < json_array_size(h); k++) {
            json_t *turn = json_array_get(h, k);
            const char *role = json_string_value(json_object_get(turn, "role"));
            if (!role || (strcmp(role, "user") && strcmp(role, "assistant")) ||
                !json_is_string(json_object_get(turn, "content")))
                REJECT(400, "prompts[%d].history[%zu] must be {\"role\": \"user\" or \"assistant\", \"content\": string}", i, k);
        }
    }
    llm_job *j = xcalloc(1, sizeof *j);
    j->m = m;
    j->req = r;
    j->doc = json_incref(body);
    j->seed = seed && json_is_integer(seed) ? (uint64_t)json_integer_value(seed) : 0;
    j->nprompts = n;
    j->prompts = xcalloc((size_t)n, sizeof *j->prompts);
    j->contexts = xcalloc((size_t)n, sizeof *j->contexts);
    for (int i = 0; i < n; i++) {
        json_t *p = json_array_get(prompts, (size_t)i);
        json_t *c = json_object_get(p, "context");
        int nc = (int)json_array_size(c);
        j->contexts[i] = xcalloc((size_t)(nc ? nc : 1), sizeof(char *));
        for (int k = 0; k < nc; k++) j->contexts[i][k] = json_string_value(json_array_get(c, (size_t)k));
        json_t *h = json_object_get(p, "history");
        int nh = (int)json_array_size(h);
        if (nh && !j->turns) j->turns = xcalloc((size_t)n, sizeof *j->turns);
        for (int k = 0; k < nh; k++) {
            if (!k) j->turns[i] = xcalloc((size_t)nh, sizeof **j->turns);
            json_t *turn = json_array_get(h, (size_t)k);
            j->turns[i][k] = (llm_turn){.role = json_string_value(json_object_get(turn, "role")),
                                        .content = json_string_value(json_object_get(turn, "content"))};
        }
        j->prompts[i] = (llm_prompt){.question = json_string_value(json_object_get(p, "question")),
                                     .context = j->contexts[i], .ncontext = nc,
                                     .history = nh ? j->turns[i] : NULL, .nhistory = nh};
    }
    start_llm(r, j);
}

static void collect_context(const char *value, void *ctx) {
    llm_job *j = ctx;
    j->owned = xrealloc(j->owned, (size_t)(j->nowned + 1) * sizeof *j->owned);
    j->owned[j->nowned++] = xstrdup(value);
}

static void get_llm_ask(http_request *r, void *ctx) {
    model_service *m = ctx;
    const char *question = http_request_query(r, "question");
    if (!question) REJECT(422, "the 'question' query parameter is required");
    const char *seed = http_request_query(r, "seed");
    char *end = NULL;
    unsigned long long seed_value = seed ? strtoull(seed, &end, 10) : 0;
    if (seed && (!*seed || *end || seed[0] == '-')) REJECT(400, "'seed' must be a non-negative integer");
    llm_job *j = xcalloc(1, sizeof *j);
    j->m = m;
    j->req = r;
    j->seed = seed_value;
    collect_context(question, j); /* owned[0] is the question, the rest context */
    http_request_query_all(r, "context", collect_context, j);
    for (int i = 0; i < j->nowned; i++) {
        /* JSON bodies are checked by the parser; query values are not, and
         * they go back out inside the events' JSON. */
        if (!utf8_valid(j->owned[i], strlen(j->owned[i]))) {
            llm_job_free(j);
            REJECT(400, "'%s' is not valid UTF-8", i ? "context" : "question");
        }
    }
    int nc = j->nowned - 1;
    if (nc > m->max_context) {
        llm_job_free(j);
        REJECT(413, "%d context articles; the limit is %d", nc, m->max_context);
    }
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
    routes_add(routes, "POST", "/v1/embeddings", post_embeddings, m, body);
    routes_add(routes, "GET", "/llm_ask", get_llm_ask, m, 0);
    routes_add(routes, "POST", "/llm_ask", post_llm_ask, m, 16u << 20);
}
