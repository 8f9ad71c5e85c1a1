/* cmd_ask — `ragd ask "question"`: a command-line client of a running ragd
 * (`serve` or `gateway`) that streams the answer as it is written.
 *
 * It POSTs /ask with `Accept: text/event-stream` and feeds the bytes libcurl
 * hands over to the incremental SSE parser (model/sse.h), so each `token`
 * event reaches the terminal the moment it arrives; `sources` and `done` are
 * kept and printed after the answer (numbered sources, then timings), because
 * the answer is what a reader waits for. Pieces are joined with one space,
 * exactly as the server joins them for a JSON answer, so the streamed text
 * and `--json`'s "answer" are the same string.
 *
 * With --json it asks for the plain JSON answer and prints it unchanged.
 *
 * The HTTP status decides how the body is read: anything but 200 is an error
 * whose JSON body ({"error":{"code","message"}}) becomes the message; an
 * `error` event inside the stream is one too. Exit status: 0 answered,
 * 1 the server could not be reached or answered with an error, 2 bad usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/commands.h"
#include "app/role.h"
#include "obs/curl_global.h"
#include "model/sse.h"
#include "util/buf.h"
#include "util/util.h"

/* An error body or JSON answer larger than this is not something ragd sends. */
#define ASK_MAX_BODY (16u << 20)

typedef struct ask_client {
    CURL *curl;
    bool json;           /* --json: gather the body, print it at the end */
    int status;          /* 0 until the first body byte: then the HTTP status */
    bool streaming;      /* status 200 and an event stream: bytes go to the parser */
    sse_parser parser;
    buf body;            /* the body when it is not an event stream */
    json_t *sources;     /* from `event: sources` */
    json_t *timings;     /* from `event: done` */
    char *stream_error;  /* from `event: error`: "code: message" */
    bool done;           /* `event: done` arrived */
    int tokens;          /* token events printed */
    bool body_too_large;
    char sse_err[256];
} ask_client;

/* "code: message" from {"error":{"code","message"}}, or NULL if text is not that. */
static char *error_from_json(const char *text, size_t len) {
    json_t *doc = json_loadb(text, len, 0, NULL);
    json_t *err = json_object_get(doc, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *message = json_string_value(json_object_get(err, "message"));
    char *out = NULL;
    if (message) {
        buf b = BUF_INIT;
        buf_printf(&b, "%s%s%s", code ? code : "", code ? ": " : "", message);
        out = buf_detach(&b);
    }
    json_decref(doc);
    return out;
}

static int on_event(const sse_event *ev, void *ctx) {
    ask_client *c = ctx;
    if (!strcmp(ev->event, "token")) {
        /* the same joining rule as the server's JSON answer */
        if (c->tokens && ev->data_len) fputc(' ', stdout);
        fwrite(ev->data, 1, ev->data_len, stdout);
        fflush(stdout);
        c->tokens++;
    } else if (!strcmp(ev->event, "sources")) {
        json_decref(c->sources);
        c->sources = json_loadb(ev->data, ev->data_len, 0, NULL);
    } else if (!strcmp(ev->event, "done")) {
        json_t *doc = json_loadb(ev->data, ev->data_len, 0, NULL);
        json_t *t = json_object_get(doc, "timings_ms");
        json_decref(c->timings);
        c->timings = json_incref(t ? t : doc);
        json_decref(doc);
        c->done = true;
    } else if (!strcmp(ev->event, "error")) {
        free(c->stream_error);
        c->stream_error = error_from_json(ev->data, ev->data_len);
        if (!c->stream_error) c->stream_error = xstrndup(ev->data, ev->data_len);
        return 1; /* nothing useful follows an error */
    }
    return 0;
}

/* libcurl's write callback: the status and content type are known by the
 * time the first body byte arrives, so the reading mode is chosen then. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    ask_client *c = userdata;
    size_t n = size * nmemb;
    if (!c->status) {
        long status = 0;
        char *ctype = NULL;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ctype);
        c->status = (int)status;
        c->streaming = !c->json && status == 200 && ctype &&
                       !strncasecmp(ctype, "text/event-stream", 17);
    }
    if (c->streaming) {
        int rc = sse_parser_feed(&c->parser, ptr, n, c->sse_err, sizeof c->sse_err);
        return rc == 0 ? n : 0; /* 0 makes libcurl stop: an error event or a broken stream */
    }
    if (c->body.len + n > ASK_MAX_BODY) {
        c->body_too_large = true;
        return 0;
    }
    buf_append(&c->body, ptr, n);
    return n;
}

static void print_sources(const json_t *sources) {
    size_t n = json_array_size(sources);
    if (!n) {
        printf("\nNo sources: no passage matched.\n");
        return;
    }
    printf("\nSources:\n");
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(sources, i);
        const char *heading = json_string_value(json_object_get(s, "heading"));
        const char *date = json_string_value(json_object_get(s, "date"));
        const char *topic = json_string_value(json_object_get(s, "topic"));
        double score = json_number_value(json_object_get(s, "score"));
        printf("  [%zu] %s\n      %s · %s · score %.4f\n", i + 1, heading ? heading : "(no heading)",
               date ? date : "?", topic ? topic : "?", score);
    }
}

static void print_timings(const json_t *t) {
    printf("Timings: encode %.1f ms, search %.1f ms, llm %.1f ms, total %.1f ms\n",
           json_number_value(json_object_get(t, "encode")),
           json_number_value(json_object_get(t, "search")),
           json_number_value(json_object_get(t, "llm")),
           json_number_value(json_object_get(t, "total")));
}

/* The request body; the server validates every value, so a bad --topic or
 * --top-k is reported in the server's words. */
static char *request_body(const char *question, int top_k, const char *topic, const char *mode,
                          const char *seed, bool stream, char *err, size_t errlen) {
    json_t *body = json_pack("{s:s, s:i, s:s, s:b}", "question", question, "top_k", top_k, "mode",
                             mode, "stream", stream);
    if (!body) {
        seterr(err, errlen, "the question is not valid UTF-8");
        return NULL;
    }
    json_object_set_new(body, "topic", topic && *topic ? json_string(topic) : json_null());
    if (seed) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed, &end, 10);
        if (errno || !*seed || *end || seed[0] == '-' || v > (unsigned long long)INT64_MAX) {
            json_decref(body);
            seterr(err, errlen, "--seed expects a non-negative whole number, got '%s'", seed);
            return NULL;
        }
        json_object_set_new(body, "seed", json_integer((json_int_t)v));
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

/* base URL → …/ask (a URL that already names /ask is used as it is). */
static char *ask_url(const char *base) {
    size_t n = strlen(base);
    while (n && base[n - 1] == '/') n--;
    buf b = BUF_INIT;
    buf_append(&b, base, n);
    if (n < 4 || strcmp(b.data + n - 4, "/ask")) buf_puts(&b, "/ask");
    return buf_detach(&b);
}

static int run(ask_client *c, const char *url, const char *body, const char *api_key,
               double timeout_s) {
    c->curl = curl_easy_init();
    if (!c->curl) {
        fprintf(stderr, "ragd ask: cannot initialise libcurl\n");
        return 1;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, c->json ? "Accept: application/json"
                                                 : "Accept: text/event-stream");
    headers = curl_slist_append(headers, "Expect:");
    buf auth = BUF_INIT;
    if (api_key && *api_key) {
        buf_printf(&auth, "Authorization: Bearer %s", api_key);
        headers = curl_slist_append(headers, auth.data);
    }
    char *endpoint = ask_url(url);
    curl_easy_setopt(c->curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (timeout_s > 0) curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "ragd-ask");
    CURLcode rc = curl_easy_perform(c->curl);
    if (!c->status) {
        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        c->status = (int)status;
    }
    curl_slist_free_all(headers);
    buf_free(&auth);
    curl_easy_cleanup(c->curl);
    c->curl = NULL;

    int exit_code = 1;
    if (c->tokens) fputc('\n', stdout); /* end the answer's line before anything else */
    if (c->stream_error) {
        fprintf(stderr, "ragd ask: the server failed while answering: %s\n", c->stream_error);
    } else if (c->sse_err[0]) {
        fprintf(stderr, "ragd ask: unreadable answer stream from %s: %s\n", endpoint, c->sse_err);
    } else if (c->body_too_large) {
        fprintf(stderr, "ragd ask: the answer from %s is larger than %u MiB\n", endpoint,
                ASK_MAX_BODY >> 20);
    } else if (rc != CURLE_OK) {
        const char *why = curl_err[0] ? curl_err : curl_easy_strerror(rc);
        if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
            fprintf(stderr,
                    "ragd ask: cannot reach ragd at %s: %s (is 'ragd serve' running? set --url "
                    "or RAGD_URL)\n",
                    endpoint, why);
        else fprintf(stderr, "ragd ask: request to %s failed: %s\n", endpoint, why);
    } else if (c->status != 200) {
        char *message = error_from_json(c->body.data ? c->body.data : "", c->body.len);
        if (message) fprintf(stderr, "ragd ask: the server answered %d: %s\n", c->status, message);
        else
            fprintf(stderr, "ragd ask: the server answered %d with %.200s\n", c->status,
                    c->body.len ? c->body.data : "an empty body");
        free(message);
    } else if (c->json) {
        json_t *doc = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, NULL);
        if (!json_is_object(doc)) {
            fprintf(stderr, "ragd ask: the server's answer is not a JSON object: %.200s\n",
                    c->body.len ? c->body.data : "(empty)");
        } else {
            fwrite(c->body.data, 1, c->body.len, stdout);
            if (c->body.data[c->body.len - 1] != '\n') fputc('\n', stdout);
            exit_code = 0;
        }
        json_decref(doc);
    } else if (!c->streaming) {
        fprintf(stderr, "ragd ask: %s answered 200 but not with an event stream: %.200s\n",
                endpoint, c->body.len ? c->body.data : "(empty)");
    } else if (!c->done) {
        fprintf(stderr, "ragd ask: the answer stream from %s ended before its 'done' event\n",
                endpoint);
    } else {
        if (!c->tokens) printf("(the model wrote no answer)\n");
        print_sources(c->sources);
        print_timings(c->timings);
        exit_code = 0;
    }
    fflush(stdout);
    free(endpoint);
    return exit_code;
}

int cmd_ask(int argc, char **argv) {
    const char *url = "http://127.0.0.1:8000";
    const char *topic = NULL;
    const char *mode = "hybrid";
    const char *seed = NULL;
    const char *api_key = NULL;
    int top_k = 5;
    double timeout_s = 300;
    bool json = false;
    const option_spec specs[] = {
        {"url", "RAGD_URL", OPT_STRING, &url, "the ragd server (serve or gateway)", 0, 0},
        {"topic", NULL, OPT_STRING, &topic, "search only this topic (business, sports)", 0, 0},
        {"top-k", NULL, OPT_INT, &top_k, "passages the answer is grounded on", 0, 0},
        {"k", NULL, OPT_INT, &top_k, "same as --top-k", 0, 0},
        {"mode", NULL, OPT_STRING, &mode, "retrieval: hybrid, vector or lexical", 0, 0},
        {"json", NULL, OPT_BOOL, &json, "print the plain JSON answer instead of streaming", 0, 0},
        {"seed", NULL, OPT_STRING, &seed, "a whole number: the mock LLM's answer becomes reproducible", 0, 0},
        {"api-key", "RAGD_API_KEY", OPT_STRING, &api_key, "sent as 'Authorization: Bearer KEY'", 0, 0},
        {"timeout", "RAGD_ASK_TIMEOUT", OPT_DOUBLE, &timeout_s, "seconds the whole answer may take (0: no limit)", 0, 0},
    };
    role r;
    role_init(&r, "ask", "\"question\"",
              "Ask a running ragd a question; the answer streams as it is written, then its "
              "numbered sources and timings.");
    options_add_all(&r.options, specs, ARRAY_LEN(specs));
    r.max_positional = INT_MAX; /* several words without quotes are one question */
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
    int npos = r.npositional, rc;
    if (npos < 1) {
        fprintf(stderr, "ragd ask: give a question (quote it), see 'ragd ask --help'\n");
        return role_end(&r, 2);
    }
    /* Several words without quotes are one question. */
    buf question = BUF_INIT;
    for (int i = 1; i <= npos; i++) buf_printf(&question, "%s%s", i > 1 ? " " : "", argv[i]);
    char err[256];
    char *body = request_body(question.data, top_k, topic, mode, seed, !json, err, sizeof err);
    buf_free(&question);
    if (!body) {
        fprintf(stderr, "ragd ask: %s\n", err);
        return role_end(&r, 2);
    }
    if (curl_global_ready("ragd ask", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        free(body);
        return role_end(&r, 1);
    }
    ask_client c = {.json = json};
    sse_parser_init(&c.parser, on_event, &c);
    rc = run(&c, url, body, api_key, timeout_s);
    sse_parser_free(&c.parser);
    buf_free(&c.body);
    json_decref(c.sources);
    json_decref(c.timings);
    free(c.stream_error);
    free(body);
    return role_end(&r, rc);
}
