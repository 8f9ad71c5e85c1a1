/* test_model_client — the gateway's model-service client and remote pipeline
 * against fake model services (ragd's own HTTP server with scripted routes)
 * on loopback, for the answers a real `ragd model` gives only by accident:
 * malformed vectors, 429/500 answers, an `event: error`, a stream cut short,
 * a call that never answers, a client that cancels mid-stream, a replica that
 * runs other weights, and one that goes away between two requests.
 */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/model_client.h"
#include "app/remote_pipeline.h"
#include "http/http.h"
#include "model/encoder.h"
#include "util/buf.h"
#include "util/util.h"

#define TWIN "minilm-l6-h384-random"

typedef enum {
    ENCODE_OK,
    ENCODE_MALFORMED,
    ENCODE_429,
    ENCODE_500,
    ENCODE_HANG, /* answers only after the client gave up */
} encode_mode;

typedef enum {
    LLM_OK,
    LLM_ERROR_EVENT,
    LLM_NO_DONE,
    LLM_ENDLESS, /* tokens until the client goes away */
} llm_mode;

typedef struct fake {
    http_server *server;
    int port;
    char url[64];
    const char *weights;         /* what /health says */
    _Atomic encode_mode encode;
    _Atomic llm_mode llm;
    atomic_int encodes;          /* /encode requests seen */
    atomic_int llm_calls;
    atomic_int stream_stopped;   /* an endless stream saw its client leave */
    atomic_int hang_done;
    char last_llm_body[4096];    /* the JSON of the last /llm_ask */
    pthread_mutex_t mu;
} fake;

static void get_health(http_request *r, void *ctx) {
    fake *f = ctx;
    http_respond_json(r, 200, json_pack("{s:s, s:s, s:s}", "status", "ok", "role", "model", "weights", f->weights));
}

static void *answer_late(void *arg) {
    http_request *r = arg;
    usleep(1500 * 1000);
    http_respond_error(r, 500, "too late");
    return NULL;
}

static void post_encode(http_request *r, void *ctx) {
    fake *f = ctx;
    atomic_fetch_add(&f->encodes, 1);
    buf out = BUF_INIT;
    switch (atomic_load(&f->encode)) {
    case ENCODE_OK:
        buf_printf(&out, "{\"model\":\"all-MiniLM-L6-v2\",\"dim\":%d,\"embeddings\":[[", ENCODER_DIM);
        for (int i = 0; i < ENCODER_DIM; i++) buf_printf(&out, "%s%g", i ? "," : "", (double)i / 1024);
        buf_puts(&out, "]],\"tokens\":[5]}");
        http_respond(r, 200, "application/json", out.data, out.len);
        break;
    case ENCODE_MALFORMED:
        buf_puts(&out, "{\"model\":\"all-MiniLM-L6-v2\",\"dim\":384,\"embeddings\":[[0.5, 0.25]]}");
        http_respond(r, 200, "application/json", out.data, out.len);
        break;
    case ENCODE_429: http_respond_overloaded(r, 429, 1, "the encoder queue is full; retry shortly"); break;
    case ENCODE_500: http_respond_error(r, 500, "encoder failed: kaboom"); break;
    case ENCODE_HANG: {
        http_request_hold(r);
        pthread_t t;
        pthread_create(&t, NULL, answer_late, r);
        pthread_detach(t);
        break;
    }
    }
    buf_free(&out);
}

static void token(http_request *r, int prompt, int article, const char *text) {
    buf ev = BUF_INIT;
    buf_printf(&ev, "{\"prompt\":%d,\"article\":%d,\"text\":\"", prompt, article);
    buf_json_escape(&ev, text, strlen(text));
    buf_puts(&ev, "\"}");
    http_stream_event(r, "token", ev.data, ev.len);
    buf_free(&ev);
}

typedef struct endless {
    fake *f;
    http_request *r;
} endless;

static void *stream_endlessly(void *arg) {
    endless *e = arg;
    for (int i = 0; i < 100000; i++) {
        static const char more[] = "{\"prompt\":0,\"article\":0,\"text\":\"more\"}";
        if (http_stream_event(e->r, "token", more, strlen(more)) < 0 ||
            http_request_cancelled(e->r)) {
            atomic_store(&e->f->stream_stopped, 1);
            break;
        }
        usleep(2000);
    }
    http_stream_end(e->r);
    free(e);
    return NULL;
}

static void post_llm_ask(http_request *r, void *ctx) {
    fake *f = ctx;
    atomic_fetch_add(&f->llm_calls, 1);
    size_t len;
    const char *body = http_request_body(r, &len);
    pthread_mutex_lock(&f->mu);
    snprintf(f->last_llm_body, sizeof f->last_llm_body, "%.*s", (int)len, body);
    pthread_mutex_unlock(&f->mu);
    http_request_hold(r);
    http_stream_begin(r, 200, "text/event-stream");
    llm_mode mode = atomic_load(&f->llm);
    if (mode == LLM_ENDLESS) {
        endless *e = xcalloc(1, sizeof *e);
        e->f = f;
        e->r = r;
        pthread_t t;
        pthread_create(&t, NULL, stream_endlessly, e);
        pthread_detach(t);
        return;
    }
    token(r, 0, 0, "first piece");
    token(r, 0, 1, "second\nline \xc3\xa9t\xc3\xa9");
    static const char failure[] = "{\"error\":{\"code\":\"bad_gateway\",\"message\":\"llm backend exploded\"}}";
    static const char done[] = "{\"prompts\":1}";
    if (mode == LLM_ERROR_EVENT) http_stream_event(r, "error", failure, strlen(failure));
    else if (mode == LLM_OK) http_stream_event(r, "done", done, strlen(done));
    http_stream_end(r);
}

static void fake_start(fake *f, const char *weights) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->weights = weights;
    http_route rs[3] = {
        {.method = "GET", .path = "/health", .handler = get_health, .ctx = f},
        {.method = "POST", .path = "/encode", .handler = post_encode, .ctx = f},
        {.method = "POST", .path = "/llm_ask", .handler = post_llm_ask, .ctx = f},
    };
    http_config cfg = HTTP_CONFIG_DEFAULTS;
    cfg.role = "fake-model";
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    char err[256];
    f->server = http_server_start(&cfg, rs, 3, err, sizeof err);
    if (!f->server) fprintf(stderr, "fake: %s\n", err);
    assert_non_null(f->server);
    f->port = http_server_port(f->server);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
}

static void fake_stop(fake *f) {
    if (f->server) http_server_stop(f->server);
    f->server = NULL;
}

static model_client *client_for(const char *const *urls, int n, double timeout_s) {
    model_client_options o = {.urls = urls, .nurls = n, .timeout_s = timeout_s,
                              .probe_interval_s = 0.1, .expected_model = TWIN};
    char err[256];
    model_client *c = model_client_start(&o, err, sizeof err);
    if (!c) fprintf(stderr, "client: %s\n", err);
    assert_non_null(c);
    return c;
}

/* ---- collecting an answer ---- */

typedef struct pieces {
    int n;
    int prompt[8], article[8];
    char text[8][64];
    int cancel_after; /* 0: never */
} pieces;

static int collect(int prompt, int article, const char *text, size_t len, void *ctx) {
    pieces *p = ctx;
    if (p->n < 8) {
        p->prompt[p->n] = prompt;
        p->article[p->n] = article;
        snprintf(p->text[p->n], sizeof p->text[p->n], "%.*s", (int)len, text);
    }
    p->n++;
    return p->cancel_after && p->n >= p->cancel_after;
}

static const char *const ctx_texts[] = {"passage one", "passage two"};
static const llm_prompt prompt = {.question = "what happened?", .context = ctx_texts, .ncontext = 2};

/* ---- tests ---- */

static void embed_reads_the_vector(void **state) {
    fake f;
    fake_start(&f, "random twin");
    const char *urls[] = {f.url};
    model_client *c = client_for(urls, 1, 5);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    float vec[ENCODER_DIM];
    pipeline_error e = {0};
    assert_int_equal(p.embed(p.ctx, "a question", 10, vec, &e), 0);
    for (int i = 0; i < ENCODER_DIM; i++) assert_float_equal(vec[i], (float)i / 1024, 1e-6);
    model_client_stop(c);
    fake_stop(&f);
}

static void embed_failures_map_to_statuses(void **state) {
    fake f;
    fake_start(&f, "random twin");
    const char *urls[] = {f.url};
    model_client *c = client_for(urls, 1, 0.5);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    float vec[ENCODER_DIM];
    struct {
        encode_mode mode;
        int status;
        const char *says;
    } cases[] = {
        {ENCODE_MALFORMED, 502, "malformed"},
        {ENCODE_429, 503, "queue is full"},
        {ENCODE_500, 502, "kaboom"},
        {ENCODE_HANG, 504, "did not answer"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        atomic_store(&f.encode, cases[i].mode);
        pipeline_error e = {0};
        assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), -1);
        if (pipeline_http_status(e.code) != cases[i].status || !strstr(e.message, cases[i].says))
            fprintf(stderr, "case %zu: %d %s\n", i, pipeline_http_status(e.code), e.message);
        assert_int_equal(pipeline_http_status(e.code), cases[i].status);
        assert_non_null(strstr(e.message, cases[i].says));
    }
    /* none of these is a dead replica: it stays in rotation */
    assert_int_equal(model_client_up_count(c), 1);
    atomic_store(&f.encode, ENCODE_OK);
    pipeline_error e = {0};
    assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), 0);
    model_client_stop(c);
    usleep(1600 * 1000); /* let the hung answer's thread finish before the server goes */
    fake_stop(&f);
}

static void generate_streams_tokens_and_sends_the_prompt(void **state) {
    fake f;
    fake_start(&f, "random twin");
    const char *urls[] = {f.url};
    model_client *c = client_for(urls, 1, 5);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    pieces got = {0};
    pipeline_error e = {0};
    assert_int_equal(p.generate(p.ctx, &prompt, 42, collect, &got, &e), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.text[0], "first piece");
    assert_int_equal(got.article[0], 0);
    assert_string_equal(got.text[1], "second\nline \xc3\xa9t\xc3\xa9");
    assert_int_equal(got.article[1], 1);
    assert_int_equal(got.prompt[1], 0);
    json_t *sent = json_loads(f.last_llm_body, 0, NULL);
    assert_non_null(sent);
    json_t *p0 = json_array_get(json_object_get(sent, "prompts"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "question")), "what happened?");
    assert_int_equal(json_array_size(json_object_get(p0, "context")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p0, "context"), 1)), "passage two");
    assert_int_equal(json_integer_value(json_object_get(sent, "seed")), 42);
    json_decref(sent);
    model_client_stop(c);
    fake_stop(&f);
}

static void generate_failures_are_502(void **state) {
    fake f;
    fake_start(&f, "random twin");
    const char *urls[] = {f.url};
    model_client *c = client_for(urls, 1, 5);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    pieces got = {0};
    pipeline_error e = {0};
    atomic_store(&f.llm, LLM_ERROR_EVENT);
    assert_int_equal(p.generate(p.ctx, &prompt, 1, collect, &got, &e), -1);
    assert_int_equal(pipeline_http_status(e.code), 502);
    assert_non_null(strstr(e.message, "llm backend exploded"));
    assert_int_equal(got.n, 2); /* what came before the error was delivered */

    memset(&got, 0, sizeof got);
    memset(&e, 0, sizeof e);
    atomic_store(&f.llm, LLM_NO_DONE);
    assert_int_equal(p.generate(p.ctx, &prompt, 1, collect, &got, &e), -1);
    assert_int_equal(pipeline_http_status(e.code), 502);
    assert_non_null(strstr(e.message, "without its 'done'"));
    model_client_stop(c);
    fake_stop(&f);
}

static void cancelling_stops_the_upstream_stream(void **state) {
    fake f;
    fake_start(&f, "random twin");
    const char *urls[] = {f.url};
    model_client *c = client_for(urls, 1, 30);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    atomic_store(&f.llm, LLM_ENDLESS);
    pieces got = {.cancel_after = 3};
    pipeline_error e = {0};
    assert_int_equal(p.generate(p.ctx, &prompt, 1, collect, &got, &e), 1);
    assert_int_equal(got.n, 3);
    /* the fake model service notices its client left (bounded wait) */
    for (int i = 0; i < 1000 && !atomic_load(&f.stream_stopped); i++) usleep(10 * 1000);
    assert_true(atomic_load(&f.stream_stopped));
    model_client_stop(c);
    fake_stop(&f);
}

static void round_robin_and_retry_when_a_replica_goes_away(void **state) {
    fake a, b;
    fake_start(&a, "random twin");
    fake_start(&b, "random twin");
    const char *urls[] = {a.url, b.url};
    model_client *c = client_for(urls, 2, 5);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    float vec[ENCODER_DIM];
    pipeline_error e = {0};
    for (int i = 0; i < 6; i++) assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), 0);
    assert_int_equal(atomic_load(&a.encodes), 3);
    assert_int_equal(atomic_load(&b.encodes), 3);
    /* generate has its own rotation: alternating calls do not pin a replica */
    pieces got = {0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), 0);
        assert_int_equal(p.generate(p.ctx, &prompt, 1, collect, &got, &e), 0);
    }
    assert_int_equal(atomic_load(&a.encodes), 5);
    assert_int_equal(atomic_load(&b.encodes), 5);
    assert_int_equal(atomic_load(&a.llm_calls), 2);
    assert_int_equal(atomic_load(&b.llm_calls), 2);

    fake_stop(&a); /* gone between two requests, before any probe notices */
    for (int i = 0; i < 6; i++) {
        memset(&e, 0, sizeof e);
        assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), 0);
    }
    assert_int_equal(atomic_load(&b.encodes), 11);
    assert_int_equal(model_client_up_count(c), 1);
    json_t *d = model_client_describe(c);
    assert_true(json_is_false(json_object_get(json_array_get(d, 0), "up")));
    assert_true(json_is_true(json_object_get(json_array_get(d, 1), "up")));
    json_decref(d);

    fake_stop(&b); /* none left: 502 for the call that finds out, then 503 */
    memset(&e, 0, sizeof e);
    assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), -1);
    assert_true(pipeline_http_status(e.code) == 502 || pipeline_http_status(e.code) == 503);
    memset(&e, 0, sizeof e);
    assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), -1);
    assert_int_equal(pipeline_http_status(e.code), 503);
    assert_non_null(strstr(e.message, a.url));
    assert_non_null(strstr(e.message, b.url));
    buf why = BUF_INIT;
    model_client_why_down(c, &why);
    assert_non_null(strstr(why.data, b.url));
    buf_free(&why);
    model_client_stop(c);
}

static void a_replica_with_other_weights_is_not_used(void **state) {
    fake real, twin;
    fake_start(&real, "real");
    fake_start(&twin, "random twin");
    const char *urls[] = {real.url, twin.url};
    model_client *c = client_for(urls, 2, 5);
    assert_int_equal(model_client_up_count(c), 1);
    json_t *d = model_client_describe(c);
    json_t *r0 = json_array_get(d, 0);
    assert_true(json_is_false(json_object_get(r0, "up")));
    assert_string_equal(json_string_value(json_object_get(r0, "model")), "all-MiniLM-L6-v2");
    assert_non_null(strstr(json_string_value(json_object_get(r0, "error")), TWIN));
    json_decref(d);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    float vec[ENCODER_DIM];
    pipeline_error e = {0};
    for (int i = 0; i < 4; i++) assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), 0);
    assert_int_equal(atomic_load(&real.encodes), 0);
    assert_int_equal(atomic_load(&twin.encodes), 4);
    model_client_stop(c);
    fake_stop(&real);
    fake_stop(&twin);
}

static void a_replica_coming_up_later_is_found(void **state) {
    fake f;
    fake_start(&f, "random twin");
    char url[64];
    snprintf(url, sizeof url, "%s", f.url);
    int port = f.port;
    fake_stop(&f);
    const char *urls[] = {url};
    model_client *c = client_for(urls, 1, 5);
    assert_int_equal(model_client_up_count(c), 0);
    /* the same port again (bind may need a retry while the old socket closes) */
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    f.weights = "random twin";
    http_route rs[] = {
        {.method = "GET", .path = "/health", .handler = get_health, .ctx = &f},
        {.method = "POST", .path = "/encode", .handler = post_encode, .ctx = &f},
    };
    http_config cfg = HTTP_CONFIG_DEFAULTS;
    cfg.host = "127.0.0.1";
    cfg.port = port;
    char err[256];
    for (int i = 0; i < 100 && !f.server; i++) {
        f.server = http_server_start(&cfg, rs, 2, err, sizeof err);
        if (!f.server) usleep(50 * 1000);
    }
    assert_non_null(f.server);
    for (int i = 0; i < 1000 && model_client_up_count(c) == 0; i++) usleep(10 * 1000);
    assert_int_equal(model_client_up_count(c), 1);
    pipeline p = {0};
    remote_pipeline_init(&p, c);
    float vec[ENCODER_DIM];
    pipeline_error e = {0};
    assert_int_equal(p.embed(p.ctx, "q", 1, vec, &e), 0);
    model_client_stop(c);
    fake_stop(&f);
}

static void bad_options_are_refused(void **state) {
    char err[256];
    const char *ftp[] = {"ftp://x"};
    model_client_options o = {.urls = ftp, .nurls = 1};
    assert_null(model_client_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "http://"));
    const char *twice[] = {"http://127.0.0.1:1", "http://127.0.0.1:1"};
    o = (model_client_options){.urls = twice, .nurls = 2};
    assert_null(model_client_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "twice"));
    o = (model_client_options){.urls = NULL, .nurls = 0};
    assert_null(model_client_start(&o, err, sizeof err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embed_reads_the_vector),
        cmocka_unit_test(embed_failures_map_to_statuses),
        cmocka_unit_test(generate_streams_tokens_and_sends_the_prompt),
        cmocka_unit_test(generate_failures_are_502),
        cmocka_unit_test(cancelling_stops_the_upstream_stream),
        cmocka_unit_test(round_robin_and_retry_when_a_replica_goes_away),
        cmocka_unit_test(a_replica_with_other_weights_is_not_used),
        cmocka_unit_test(a_replica_coming_up_later_is_found),
        cmocka_unit_test(bad_options_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
