/* remote_pipeline — /encode and streamed /llm_ask against the model services
 * (see remote_pipeline.h). */
#include "app/remote_pipeline.h"

#include <stdio.h>
#include <string.h>

#include "model/encoder.h"
#include "model/sse.h"
#include "util/buf.h"
#include "util/util.h"

/* An /encode answer for one text is ~5 KB; anything far larger is not one. */
#define ENCODE_ANSWER_MAX (1u << 20)

/* ---- embed ---- */

typedef struct encode_answer {
    buf body;
    bool too_large;
} encode_answer;

static int gather(const char *data, size_t len, void *ctx) {
    encode_answer *a = ctx;
    if (a->body.len + len > ENCODE_ANSWER_MAX) {
        a->too_large = true;
        return 1;
    }
    buf_append(&a->body, data, len);
    return 0;
}

/* The n vectors of an /encode answer into vecs; false if it is not that. */
static bool parse_embeddings(const buf *body, int n, float *vecs, char *why, size_t whylen) {
    json_error_t jerr;
    json_t *doc = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
    if (!doc) {
        snprintf(why, whylen, "not JSON (%.100s)", jerr.text);
        return false;
    }
    bool ok = false;
    json_t *dim = json_object_get(doc, "dim");
    json_t *rows = json_object_get(doc, "embeddings");
    if (!json_is_integer(dim) || json_integer_value(dim) != ENCODER_DIM) {
        snprintf(why, whylen, "'dim' is not %d", ENCODER_DIM);
    } else if (!json_is_array(rows) || json_array_size(rows) != (size_t)n) {
        snprintf(why, whylen, "'embeddings' does not hold %d vectors", n);
    } else {
        ok = true;
        for (int r = 0; r < n && ok; r++) {
            json_t *row = json_array_get(rows, (size_t)r);
            if (!json_is_array(row) || json_array_size(row) != ENCODER_DIM) {
                snprintf(why, whylen, "vector %d does not hold %d numbers", r, ENCODER_DIM);
                ok = false;
                break;
            }
            for (size_t i = 0; i < ENCODER_DIM && ok; i++) {
                json_t *x = json_array_get(row, i);
                ok = json_is_number(x);
                vecs[(size_t)r * ENCODER_DIM + i] = (float)json_number_value(x);
            }
            if (!ok) snprintf(why, whylen, "a vector component is not a number");
        }
    }
    json_decref(doc);
    return ok;
}

/* One /encode call for n texts (n <= REMOTE_TEXTS_PER_CALL) into vecs. */
static int encode_call(model_client *client, int n, const char *const *texts, const size_t *lens,
                       float *vecs, pipeline_error *e) {
    buf body = BUF_INIT;
    buf_puts(&body, "{\"texts\":[");
    for (int i = 0; i < n; i++) {
        buf_puts(&body, i ? ",\"" : "\"");
        buf_json_escape(&body, texts[i], lens[i]);
        buf_putc(&body, '"');
    }
    buf_puts(&body, "]}");
    encode_answer a = {.body = BUF_INIT};
    model_call call = {.path = "/encode", .lane = 0, .body = body.data, .len = body.len, .sink = gather, .ctx = &a};
    int rc = model_client_post(client, &call, e);
    buf_free(&body);
    char why[160];
    if (rc == 1) { /* only gather() aborts */
        e->code = PIPELINE_UPSTREAM_FAILED;
        snprintf(e->message, sizeof e->message, "the model service's /encode answer exceeds %u bytes",
                 ENCODE_ANSWER_MAX);
        rc = -1;
    } else if (rc == 0 && !parse_embeddings(&a.body, n, vecs, why, sizeof why)) {
        e->code = PIPELINE_UPSTREAM_FAILED;
        snprintf(e->message, sizeof e->message, "the model service's /encode answer is malformed: %s", why);
        rc = -1;
    }
    buf_free(&a.body);
    return rc;
}

static int remote_embed(void *ctx, const char *text, size_t len, float *vec, pipeline_error *e) {
    const char *texts[1] = {text};
    size_t lens[1] = {len};
    return encode_call(ctx, 1, texts, lens, vec, e);
}

/* An article's passages go in calls of at most this many texts: well under
 * the model service's --max-texts default (256) and ENCODE_ANSWER_MAX. */
#define REMOTE_TEXTS_PER_CALL 32

static int remote_embed_passages(void *ctx, int n, const char *const *texts, const size_t *lens,
                                 float *vecs, pipeline_error *e) {
    for (int b = 0; b < n; b += REMOTE_TEXTS_PER_CALL) {
        int m = n - b < REMOTE_TEXTS_PER_CALL ? n - b : REMOTE_TEXTS_PER_CALL;
        if (encode_call(ctx, m, texts + b, lens + b, vecs + (size_t)b * ENCODER_DIM, e) < 0) return -1;
    }
    return 0;
}

/* ---- generate ---- */

typedef struct answer_stream {
    sse_parser parser;
    llm_emit_fn emit;
    void *emit_ctx;
    bool done;       /* `event: done` arrived */
    bool cancelled;  /* emit asked to stop */
    pipeline_error *e;
    bool failed;     /* e is set */
} answer_stream;

static int fail_stream(answer_stream *s, const char *fmt, const char *detail) {
    s->failed = true;
    s->e->code = PIPELINE_UPSTREAM_FAILED;
    snprintf(s->e->message, sizeof s->e->message, fmt, detail);
    return 1;
}

static int on_event(const sse_event *ev, void *ctx) {
    answer_stream *s = ctx;
    if (!strcmp(ev->event, "done")) {
        s->done = true;
        return 0;
    }
    bool is_token = !strcmp(ev->event, "token"), is_error = !strcmp(ev->event, "error");
    if (!is_token && !is_error) return 0; /* unknown events are for newer clients */
    json_t *doc = json_loadb(ev->data, ev->data_len, 0, NULL);
    int stop = 0;
    if (is_error) {
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        stop = fail_stream(s, "the model service's LLM failed: %s", msg ? msg : ev->data);
    } else {
        json_t *text = json_object_get(doc, "text");
        json_t *prompt = json_object_get(doc, "prompt"), *article = json_object_get(doc, "article");
        if (!json_is_string(text) || !json_is_integer(prompt) || !json_is_integer(article)) {
            stop = fail_stream(s, "the model service sent a malformed token event: %.120s", ev->data);
        } else if (s->emit((int)json_integer_value(prompt), (int)json_integer_value(article),
                           json_string_value(text), json_string_length(text), s->emit_ctx)) {
            s->cancelled = true;
            stop = 1;
        }
    }
    json_decref(doc);
    return stop;
}

static int feed(const char *data, size_t len, void *ctx) {
    answer_stream *s = ctx;
    char err[128];
    int rc = sse_parser_feed(&s->parser, data, len, err, sizeof err);
    if (rc < 0 && !s->failed) fail_stream(s, "the model service's answer stream is unusable: %s", err);
    return rc != 0;
}

static int remote_generate(void *ctx, const llm_prompt *prompt, uint64_t seed, llm_emit_fn emit,
                           void *emit_ctx, pipeline_error *e) {
    model_client *client = ctx;
    json_t *context = json_array();
    for (int i = 0; i < prompt->ncontext; i++)
        json_array_append_new(context, json_string(prompt->context[i]));
    json_t *req = json_pack("{s:[{s:s, s:o}], s:I}", "prompts", "question", prompt->question,
                            "context", context, "seed",
                            (json_int_t)((prompt->seed ? prompt->seed : seed) & INT64_MAX));
    if (!req) { /* only a question that is not UTF-8 can make json_pack fail */
        e->code = PIPELINE_BAD_INPUT;
        snprintf(e->message, sizeof e->message, "the question or a passage is not valid UTF-8");
        return -1;
    }
    if (prompt->nhistory > 0) {
        json_t *history = json_array();
        for (int i = 0; i < prompt->nhistory; i++)
            json_array_append_new(history, json_pack("{s:s, s:s}", "role", prompt->history[i].role,
                                                     "content", prompt->history[i].content));
        json_object_set_new(json_array_get(json_object_get(req, "prompts"), 0), "history", history);
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    answer_stream s = {.emit = emit, .emit_ctx = emit_ctx, .e = e};
    sse_parser_init(&s.parser, on_event, &s);
    model_call call = {.path = "/llm_ask", .lane = 1, .body = body, .len = strlen(body), .event_stream = true,
                       .sink = feed, .ctx = &s};
    int rc = model_client_post(client, &call, e);
    sse_parser_free(&s.parser);
    free(body);
    if (s.failed) return -1;
    if (s.cancelled) return 1;
    if (rc == 0 && !s.done) {
        e->code = PIPELINE_UPSTREAM_FAILED;
        snprintf(e->message, sizeof e->message,
                 "the model service ended the answer stream without its 'done' event");
        return -1;
    }
    return rc;
}

void remote_pipeline_init(pipeline *p, model_client *client) {
    p->embed = remote_embed;
    p->embed_passages = remote_embed_passages;
    p->generate = remote_generate;
    p->ctx = client;
}
