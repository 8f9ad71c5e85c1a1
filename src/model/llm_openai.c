/* llm_openai — the LLM backend for any OpenAI-compatible chat-completions
 * server (llama.cpp server, vLLM, Ollama, OpenAI itself).
 *
 * One prompt is one streamed request: POST {base}/v1/chat/completions with
 * {"model", "messages": [system, user], "stream": true, "seed"?}; the system
 * and user messages come from prompt.c. The response is Server-Sent Events,
 * each `data:` a JSON chunk whose choices[0].delta.content is the next piece
 * of text, ending with `data: [DONE]`. A batch runs its prompts in turn on one
 * curl handle, so they share a kept-alive connection.
 *
 * libcurl calls on_body with each piece of the body as it arrives; the first
 * call decides what the body is from the status and Content-Type: an SSE
 * stream (fed to sse.c, whose events go to on_event), or a body to keep whole
 * — a server's error response, or a plain JSON completion from a server that
 * ignored "stream". Cancellation: when emit returns non-zero, on_body returns
 * a short count, which makes libcurl abort the transfer at once and close the
 * connection, so the server notices and stops generating.
 *
 * Every call owns its curl handle and buffers; the llm itself is read-only
 * after creation, so any number of threads may generate concurrently.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/llm_impl.h"
#include "model/prompt.h"
#include "model/sse.h"
#include "obs/curl_global.h"
#include "util/buf.h"
#include "util/util.h"

/* An error response is quoted, not stored: keep enough to find its message. */
#define MAX_ERROR_BODY (64u << 10)
/* A non-streamed completion is held whole; bigger than any real answer. */
#define MAX_JSON_BODY (16u << 20)
/* How much of a server's error text goes into our message. */
#define MAX_QUOTED_ERROR 300

typedef struct openai_llm {
    llm base;
    char *endpoint;    /* …/v1/chat/completions */
    char *model;
    char *auth_header; /* "Authorization: Bearer …", or NULL */
    long timeout_ms;   /* 0 = none */
    char *name;        /* "openai:<model>" */
} openai_llm;

/* The state of one request. */
typedef struct request {
    const openai_llm *o;
    CURL *curl;
    int prompt;
    llm_emit_fn emit;
    void *ctx;
    int started;   /* on_body has seen the first bytes and classified them */
    long status;
    int streaming; /* 2xx and text/event-stream */
    sse_parser sse;
    buf body;      /* error or plain-JSON body */
    int done;      /* saw [DONE] */
    int finished;  /* saw a finish_reason (some servers omit [DONE]) */
    int cancelled;
    int failed;    /* err holds why */
    char err[512];
} request;



static int fail(request *r, const char *fmt, const char *detail) {
    r->failed = 1;
    snprintf(r->err, sizeof r->err, fmt, detail);
    return 1;
}

/* The message inside an OpenAI-style {"error": {"message": …}} object, or an
 * {"error": "…"} string, or FastAPI's {"detail": "…"}; NULL if none. */
static const char *error_message(json_t *root) {
    json_t *e = json_object_get(root, "error");
    if (json_is_string(e)) return json_string_value(e);
    const char *m = json_string_value(json_object_get(e, "message"));
    if (m) return m;
    m = json_string_value(json_object_get(root, "detail"));
    if (m) return m;
    return json_string_value(json_object_get(root, "message"));
}

static int emit_text(request *r, const char *text, size_t len) {
    if (len == 0) return 0;
    if (r->emit(r->prompt, -1, text, len, r->ctx)) {
        r->cancelled = 1;
        return 1;
    }
    return 0;
}

static int on_event(const sse_event *ev, void *ctx) {
    request *r = ctx;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        r->done = 1;
        return 1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(ev->data, ev->data_len, 0, &jerr);
    if (!root) return fail(r, "invalid JSON in the stream: %s", jerr.text);
    int stop = 0;
    const char *server_error = json_object_get(root, "error") ? error_message(root) : NULL;
    if (server_error || !strcmp(ev->event, "error")) {
        stop = fail(r, "the server reported an error mid-stream: %.300s",
                    server_error ? server_error : ev->data);
    } else {
        json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
        json_t *content = json_object_get(json_object_get(choice, "delta"), "content");
        if (json_is_string(content))
            stop = emit_text(r, json_string_value(content), json_string_length(content));
        if (json_is_string(json_object_get(choice, "finish_reason"))) r->finished = 1;
    }
    json_decref(root);
    return stop;
}

static size_t on_body(char *bytes, size_t size, size_t nmemb, void *userdata) {
    request *r = userdata;
    size_t n = size * nmemb;
    if (!r->started) {
        r->started = 1;
        const char *type = NULL;
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(r->curl, CURLINFO_CONTENT_TYPE, &type);
        r->streaming = r->status >= 200 && r->status < 300 && type &&
                       strncasecmp(type, "text/event-stream", 17) == 0;
    }
    if (!r->streaming) {
        bool ok = r->status >= 200 && r->status < 300;
        size_t cap = ok ? MAX_JSON_BODY : MAX_ERROR_BODY;
        if (r->body.len + n > cap) {
            if (!ok) return n; /* enough of the error text is kept already */
            fail(r, "the completion is larger than %s", "16 MiB");
            return 0;
        }
        buf_append(&r->body, bytes, n);
        return n;
    }
    int rc = sse_parser_feed(&r->sse, bytes, n, r->err, sizeof r->err);
    if (rc < 0) r->failed = 1;
    if (rc == 0 || (r->done && !r->failed && !r->cancelled)) return n; /* after [DONE]: drain */
    return 0; /* cancelled or failed: abort the transfer */
}

/* Append a readable form of a server's error body to out. */
static void describe_error_body(buf *out, const buf *body) {
    if (body->len == 0) {
        buf_puts(out, "(empty body)");
        return;
    }
    json_t *root = json_loadb(body->data, body->len, 0, NULL);
    const char *msg = root ? error_message(root) : NULL;
    const char *text = msg ? msg : body->data;
    size_t len = msg ? strlen(msg) : body->len;
    /* One line, bounded: error pages can be whole HTML documents. */
    size_t emitted = 0;
    bool space = false;
    for (size_t i = 0; i < len && emitted < MAX_QUOTED_ERROR; i++) {
        unsigned char c = (unsigned char)text[i];
        if (isspace(c) || c < 0x20) {
            space = emitted > 0;
            continue;
        }
        if (space) buf_putc(out, ' '), emitted++;
        space = false;
        buf_putc(out, (char)c);
        emitted++;
    }
    if (emitted >= MAX_QUOTED_ERROR) buf_puts(out, "…");
    json_decref(root);
}

/* A 2xx body that was not a stream: a plain chat.completion object. */
static int emit_plain_completion(request *r) {
    json_error_t jerr;
    json_t *root = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
    if (!root) {
        fail(r, "the response is neither an event stream nor JSON: %s", jerr.text);
        return -1;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "message"), "content");
    int rc;
    if (!json_is_string(content)) {
        rc = -1;
        fail(r, "the response has no %s", "choices[0].message.content");
    } else {
        rc = emit_text(r, json_string_value(content), json_string_length(content));
    }
    json_decref(root);
    return rc;
}

static char *request_body(const openai_llm *o, const llm_prompt *p, uint64_t seed) {
    buf user = BUF_INIT;
    prompt_user(&user, p, PROMPT_DEFAULT_MAX_BYTES);
    json_t *messages = json_array();
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "system", "content",
                                              prompt_system()));
    json_array_append_new(messages, json_pack("{s:s, s:s%}", "role", "user", "content",
                                              user.data, user.len));
    json_t *root = json_pack("{s:s, s:o, s:b}", "model", o->model, "messages", messages,
                             "stream", 1);
    /* Servers read "seed" as a 32-bit integer (llama.cpp) or an int (OpenAI). */
    if (seed) json_object_set_new(root, "seed", json_integer((json_int_t)(seed % 2147483647u)));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    buf_free(&user);
    return text;
}

/* Run one prompt on an existing handle. 0 ok, 1 cancelled, -1 error. */
static int run_prompt(const openai_llm *o, CURL *curl, struct curl_slist *headers,
                      const llm_prompt *p, int index, uint64_t seed, llm_emit_fn emit,
                      void *ctx, char *err, size_t errlen) {
    char *body = request_body(o, p, p->seed ? p->seed : seed);
    if (!body) return seterr(err, errlen, "openai: cannot encode prompt %d as JSON", index);
    request r = {.o = o, .curl = curl, .prompt = index, .emit = emit, .ctx = ctx};
    sse_parser_init(&r.sse, on_event, &r);
    char curl_err[CURL_ERROR_SIZE] = "";

    curl_easy_setopt(curl, CURLOPT_URL, o->endpoint);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ragd");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     o->timeout_ms > 0 && o->timeout_ms < 10000 ? o->timeout_ms : 10000L);

    CURLcode res = curl_easy_perform(curl);
    if (!r.started) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);

    int rc = 0;
    if (r.cancelled) {
        rc = 1;
    } else if (r.failed) {
        rc = seterr(err, errlen, "openai: %s: %s", o->endpoint, r.err);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        rc = seterr(err, errlen, "openai: %s: timed out after %.3g s", o->endpoint,
                    (double)o->timeout_ms / 1000.0);
    } else if (res != CURLE_OK) {
        rc = seterr(err, errlen, "openai: %s: %s%s%s", o->endpoint, curl_easy_strerror(res),
                    curl_err[0] ? ": " : "", curl_err);
    } else if (r.status < 200 || r.status >= 300) {
        buf msg = BUF_INIT;
        describe_error_body(&msg, &r.body);
        rc = seterr(err, errlen, "openai: HTTP %ld from %s: %s", r.status, o->endpoint, msg.data);
        buf_free(&msg);
    } else if (!r.streaming) {
        rc = emit_plain_completion(&r);
        if (rc < 0) seterr(err, errlen, "openai: %s: %s", o->endpoint, r.err);
    } else if (!r.done && !r.finished) {
        rc = seterr(err, errlen, "openai: %s: the stream ended before [DONE]", o->endpoint);
    }
    sse_parser_free(&r.sse);
    buf_free(&r.body);
    free(body);
    return rc;
}

static int openai_generate(llm *m, const llm_prompt *prompts, int nprompts, uint64_t seed,
                           llm_emit_fn emit, void *ctx, char *err, size_t errlen) {
    const openai_llm *o = (const openai_llm *)m;
    CURL *curl = curl_easy_init();
    if (!curl) return seterr(err, errlen, "openai: cannot create a curl handle");
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    if (o->auth_header) headers = curl_slist_append(headers, o->auth_header);
    int rc = 0;
    for (int i = 0; i < nprompts && rc == 0; i++)
        rc = run_prompt(o, curl, headers, &prompts[i], i, seed, emit, ctx, err, errlen);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

static void openai_destroy(llm *m) {
    openai_llm *o = (openai_llm *)m;
    free(o->endpoint);
    free(o->model);
    free(o->auth_header);
    free(o->name);
    free(o);
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* base_url → the chat-completions endpoint: accept the server root, …/v1, or
 * the full endpoint, as the various servers' docs each show a different one. */
static char *endpoint_of(const char *base_url) {
    size_t len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/') len--;
    buf b = BUF_INIT;
    buf_append(&b, base_url, len);
    if (!ends_with(base_url, len, "/chat/completions")) {
        if (!ends_with(base_url, len, "/v1")) buf_puts(&b, "/v1");
        buf_puts(&b, "/chat/completions");
    }
    return buf_detach(&b);
}

llm *llm_openai_new(const char *base_url, const char *model, const char *api_key,
                    double timeout_s, char *err, size_t errlen) {
    if (!base_url || (strncasecmp(base_url, "http://", 7) && strncasecmp(base_url, "https://", 8))) {
        seterr(err, errlen, "openai: the base URL must start with http:// or https:// (got '%s')",
               base_url ? base_url : "");
        return NULL;
    }
    if (!model || !*model) {
        seterr(err, errlen, "openai: a model name is required");
        return NULL;
    }
    if (!(timeout_s >= 0) || timeout_s > 86400) {
        seterr(err, errlen, "openai: the timeout must be between 0 and 86400 seconds");
        return NULL;
    }
    if (api_key && strpbrk(api_key, "\r\n")) {
        seterr(err, errlen, "openai: the API key contains a line break");
        return NULL;
    }
    if (curl_global_ready("openai", err, errlen) < 0) return NULL;
    openai_llm *o = xcalloc(1, sizeof *o);
    o->endpoint = endpoint_of(base_url);
    o->model = xstrdup(model);
    if (api_key && *api_key) {
        buf h = BUF_INIT;
        buf_printf(&h, "Authorization: Bearer %s", api_key);
        o->auth_header = buf_detach(&h);
    }
    o->timeout_ms = (long)(timeout_s * 1000.0 + 0.5);
    buf name = BUF_INIT;
    buf_printf(&name, "openai:%s", model);
    o->name = buf_detach(&name);
    o->base.name = o->name;
    o->base.generate = openai_generate;
    o->base.destroy = openai_destroy;
    return &o->base;
}
