/* chat_completions — POST /v1/chat/completions: OpenAI's chat API, grounded
 * (see docs/api.md, "OpenAI-compatible chat").
 *
 * The request is checked here and then answered by the /ask pipeline
 * (ask_submit): the last user message is the question, the user and
 * assistant turns before it go to the LLM as history (backends that take one),
 * and the optional extension fields "topic", "mode", "top_k" and "seed" steer
 * retrieval as they do on /ask. The answer comes back in OpenAI's shapes — a
 * `chat.completion` object, or with "stream": true `chat.completion.chunk`
 * events ending in `data: [DONE]` — with the passages in an extension field
 * "sources" (on the completion, and on the first chunk) and numbered
 * citations [n] in the text, so plain OpenAI clients work unchanged and aware
 * ones can show the sources. Errors are OpenAI's {"error": {…}} (sent
 * via openai_error.h; the HTTP layer's own 401/404/413 keep ragd's shape, whose
 * error.message the clients read as well).
 */
#include "app/chat_completions.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/ask.h"
#include "app/openai_error.h"
#include "app/request_check.h"
#include "util/buf.h"
#include "util/util.h"

/* Earlier turns beyond these are dropped, oldest first: the LLM's context
 * window is for the passages. */
#define CHAT_MAX_HISTORY_TURNS 16
#define CHAT_MAX_HISTORY_BYTES 8000
/* A request body larger than this is refused (413) before it is parsed. */
#define CHAT_MAX_BODY (256 * 1024)
#define CHAT_MAX_MESSAGES 1024

/* One answer being written. */
typedef struct chat_reply {
    bool stream;
    bool include_usage;     /* stream_options.include_usage */
    char id[64];            /* "chatcmpl-<request id>" */
    char *model;
    long long created;
    buf content;            /* the answer so far (for the JSON answer and usage) */
    size_t prompt_words;    /* question + history, for usage */
} chat_reply;

static void reply_free(void *ctx) {
    chat_reply *c = ctx;
    buf_free(&c->content);
    free(c->model);
    free(c);
}

/* Usage counts words (runs of non-space): ragd's LLM interface reports no
 * token counts, and a word count is honest about that (docs/api.md). */
static size_t count_words(const char *s, size_t len) {
    size_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < len; i++) {
        bool space = s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r';
        if (!space && !in_word) n++;
        in_word = !space;
    }
    return n;
}

static json_t *usage_json(const chat_reply *c, const json_t *sources) {
    size_t prompt = c->prompt_words;
    size_t i;
    json_t *src;
    json_array_foreach(sources, i, src) {
        const char *text = json_string_value(json_object_get(src, "text"));
        if (text) prompt += count_words(text, strlen(text));
    }
    size_t completion = count_words(c->content.data ? c->content.data : "", c->content.len);
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
                     (json_int_t)completion, "total_tokens", (json_int_t)(prompt + completion));
}

static json_t *chunk(const chat_reply *c, json_t *delta, const char *finish_reason) {
    json_t *choice = json_pack("{s:i, s:o, s:o}", "index", 0, "delta", delta, "finish_reason",
                               finish_reason ? json_string(finish_reason) : json_null());
    return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", c->id, "object",
                     "chat.completion.chunk", "created", (json_int_t)c->created, "model", c->model,
                     "choices", choice);
}

/* One `data:` event carrying value (stolen). */
static int send_data(http_request *r, json_t *value) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(value);
    if (!text) return -1;
    int rc = http_stream_event(r, NULL, text, strlen(text));
    free(text);
    return rc;
}

/* Streaming: the role chunk, with the passages it will answer from. */
static int chat_sources(void *ctx, http_request *r, const json_t *sources) {
    chat_reply *c = ctx;
    json_t *first = chunk(c, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL);
    json_object_set_new(first, "sources", json_deep_copy(sources));
    return send_data(r, first);
}

static int chat_piece(void *ctx, http_request *r, const char *text, size_t len) {
    chat_reply *c = ctx;
    buf_append(&c->content, text, len);
    if (!c->stream) return 0;
    return send_data(r, chunk(c, json_pack("{s:s%}", "content", text, len), NULL));
}

static void chat_done(void *ctx, http_request *r, const ask_result *res) {
    chat_reply *c = ctx;
    if (c->stream) {
        send_data(r, chunk(c, json_object(), "stop"));
        if (c->include_usage) {
            /* OpenAI's last chunk when asked for usage: no choices, the counts. */
            json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", c->id, "object",
                                  "chat.completion.chunk", "created", (json_int_t)c->created,
                                  "model", c->model, "choices", "usage",
                                  usage_json(c, res->sources));
            send_data(r, u);
        }
        http_stream_event(r, NULL, "[DONE]", 6);
        http_stream_end(r);
        json_decref(res->sources);
        json_decref(res->timings);
        return;
    }
    json_t *message = json_pack("{s:s, s:s%}", "role", "assistant", "content",
                                c->content.data ? c->content.data : "", c->content.len);
    json_t *body = json_pack(
        "{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s}], s:o, s:o, s:o}", "id", c->id, "object",
        "chat.completion", "created", (json_int_t)c->created, "model", c->model, "choices",
        "index", 0, "message", message, "finish_reason", "stop", "usage",
        usage_json(c, res->sources), "sources", res->sources, "timings_ms", res->timings);
    http_respond_json(r, 200, body);
}

static void chat_fail(void *ctx, http_request *r, bool streaming, int status, int retry_after_s,
                      const char *message) {
    if (streaming) {
        /* OpenAI's clients raise an error for a chunk that carries one. */
        char *body = openai_error_text(status, NULL, NULL, message);
        http_stream_event(r, NULL, body, strlen(body));
        free(body);
        http_stream_end(r);
    } else {
        if (status == 429 || status == 503) {
            char retry[16];
            snprintf(retry, sizeof retry, "%d", retry_after_s > 0 ? retry_after_s : 1);
            http_add_header(r, "Retry-After", retry);
        }
        openai_respond_error(r, status, NULL, NULL, "%s", message);
    }
}

static const ask_format chat_format = {.route = "/v1/chat/completions", .sources = chat_sources,
                                       .piece = chat_piece, .done = chat_done,
                                       .fail = chat_fail, .release = reply_free};

/* A message's text: a string, or OpenAI's array of parts of which the
 * {"type": "text"} ones count (joined by newlines); null is "". NUL
 * characters are dropped (json_text_without_nul). Returns the text,
 * malloc'd, or NULL when content is none of these. */
static char *message_text(const json_t *content, size_t *len) {
    if (json_is_string(content)) return json_text_without_nul(content, len);
    if (json_is_null(content)) {
        *len = 0;
        return xstrdup("");
    }
    if (!json_is_array(content)) return NULL;
    buf text = BUF_INIT;
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *type = json_object_get(part, "type"), *t = json_object_get(part, "text");
        if (!json_is_string(type)) {
            buf_free(&text);
            return NULL;
        }
        if (strcmp(json_string_value(type), "text")) continue; /* images etc.: not ours */
        if (!json_is_string(t)) {
            buf_free(&text);
            return NULL;
        }
        if (text.len) buf_putc(&text, '\n');
        size_t n;
        char *piece = json_text_without_nul(t, &n);
        buf_append(&text, piece, n);
        free(piece);
    }
    buf_putc(&text, '\0'); /* an array without text parts is "" */
    *len = text.len - 1;
    return buf_detach(&text);
}

static bool known_role(const char *role) {
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    for (size_t i = 0; i < ARRAY_LEN(roles); i++)
        if (!strcmp(role, roles[i])) return true;
    return false;
}

/* The conversation, checked: the last user turn and the turns before it. */
typedef struct conversation {
    char *question;         /* owned */
    size_t question_len;
    llm_turn turns[CHAT_MAX_HISTORY_TURNS];
    int nturns;
    size_t words;           /* of the question and the kept turns */
} conversation;

static void conversation_free(conversation *cv) {
    free(cv->question);
    for (int i = 0; i < cv->nturns; i++) free((char *)cv->turns[i].content);
}

/* Every message's shape, before anything is taken. */
static bool check_messages(const json_t *messages, long *last_user, request_problem *pb) {
    if (!messages) return request_reject_field(pb, 422, "messages", "'messages' is required");
    if (!json_is_array(messages))
        return request_reject_field(pb, 400, "messages", "'messages' must be an array");
    size_t n = json_array_size(messages);
    if (n == 0) return request_reject_field(pb, 422, "messages", "'messages' must not be empty");
    if (n > CHAT_MAX_MESSAGES)
        return request_reject_field(pb, 413, "messages", "'messages' has %zu entries; the limit is %d",
                                    n, CHAT_MAX_MESSAGES);
    *last_user = -1;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        if (!json_is_object(m))
            return request_reject_field(pb, 400, "messages", "messages[%zu] must be an object", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role))
            return request_reject_field(pb, 400, "messages", "messages[%zu].role must be a string", i);
        if (!known_role(json_string_value(role)))
            return request_reject_field(
                pb, 422, "messages",
                "messages[%zu].role '%.40s' is not system, developer, user, assistant or tool", i,
                json_string_value(role));
        size_t len;
        char *text = message_text(json_object_get(m, "content"), &len);
        if (!text)
            return request_reject_field(pb, 400, "messages",
                                        "messages[%zu].content must be a string or an array of "
                                        "{\"type\": \"text\", \"text\": …} parts", i);
        free(text);
        if (!strcmp(json_string_value(role), "user")) *last_user = (long)i;
    }
    if (*last_user < 0)
        return request_reject_field(pb, 422, "messages", "'messages' has no user message to answer");
    return true;
}

static bool read_conversation(const json_t *messages, conversation *cv, request_problem *pb) {
    long last_user = -1;
    if (!check_messages(messages, &last_user, pb)) return false;
    json_t *q = json_object_get(json_array_get(messages, (size_t)last_user), "content");
    cv->question = message_text(q, &cv->question_len);
    assert(cv->question); /* check_messages saw every content */
    cv->words = count_words(cv->question, cv->question_len);

    /* Earlier user/assistant turns, newest first until a limit, kept in order.
     * System messages of the client are not passed on: ragd's own rules
     * (answer from the passages, cite them) stay the only instructions. */
    size_t bytes = 0;
    int first = CHAT_MAX_HISTORY_TURNS;
    for (long i = last_user - 1; i >= 0 && first > 0; i--) {
        json_t *m = json_array_get(messages, (size_t)i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (strcmp(role, "user") && strcmp(role, "assistant")) continue;
        size_t len;
        char *text = message_text(json_object_get(m, "content"), &len);
        if (bytes + len > CHAT_MAX_HISTORY_BYTES) {
            free(text);
            break;
        }
        bytes += len;
        first--;
        cv->turns[first] = (llm_turn){.role = role, .content = text};
        cv->words += count_words(text, len);
    }
    cv->nturns = CHAT_MAX_HISTORY_TURNS - first;
    memmove(cv->turns, cv->turns + first, (size_t)cv->nturns * sizeof cv->turns[0]);
    return true;
}

/* The OpenAI fields ragd reads besides "messages", and its extensions. */
static bool check_chat_options(const json_t *body, request_problem *pb) {
    json_t *model = json_object_get(body, "model"), *stream = json_object_get(body, "stream"),
           *options = json_object_get(body, "stream_options"), *n = json_object_get(body, "n");
    json_t *include_usage = json_object_get(options, "include_usage");
    if (model && !json_is_null(model) && !json_is_string(model))
        return request_reject_field(pb, 400, "model", "'model' must be a string");
    if (stream && !json_is_null(stream) && !json_is_boolean(stream))
        return request_reject_field(pb, 400, "stream", "'stream' must be true or false");
    if (options && !json_is_null(options) &&
        (!json_is_object(options) || (include_usage && !json_is_boolean(include_usage))))
        return request_reject_field(pb, 400, "stream_options",
                                    "'stream_options' must be an object whose include_usage is true or false");
    if (n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1))
        return request_reject_field(pb, 422, "n", "only one choice (n = 1) is answered");
    return true;
}

static void post_chat_completions(http_request *r, void *ctx) {
    pipeline *p = ctx;
    json_t *body = openai_request_json(r);
    if (!body) return;
    conversation cv = {0};
    request_problem pb = {0};
    ask_params params = {.cite = true};
    bool ok = read_conversation(json_object_get(body, "messages"), &cv, &pb);
    if (ok && !ask_check_question(p, cv.question, cv.question_len, &pb)) {
        /* the question is the last user message: say so, in its field */
        char inner[sizeof pb.message];
        snprintf(inner, sizeof inner, "%s", pb.message);
        snprintf(pb.message, sizeof pb.message, "the last user message: %.200s", inner);
        pb.param = "messages";
        ok = false;
    }
    ok = ok && ask_read_options(p, body, &params, &pb) && check_chat_options(body, &pb);
    if (!ok) {
        openai_respond_error(r, pb.status, pb.param, NULL, "%s", pb.message);
        conversation_free(&cv);
        json_decref(body);
        return;
    }
    params.question = cv.question;
    params.question_len = cv.question_len;
    params.history = cv.turns;
    params.nhistory = cv.nturns;
    json_t *model = json_object_get(body, "model"), *stream = json_object_get(body, "stream");
    json_t *include_usage = json_object_get(json_object_get(body, "stream_options"), "include_usage");
    params.stream = json_is_true(stream);

    chat_reply *c = xcalloc(1, sizeof *c);
    c->stream = params.stream;
    c->include_usage = json_is_true(include_usage);
    snprintf(c->id, sizeof c->id, "chatcmpl-%s", http_request_id(r));
    c->model = xstrdup(json_is_string(model) && json_string_length(model) ? json_string_value(model)
                                                                           : CHAT_MODEL_NAME);
    c->created = (long long)time(NULL);
    c->prompt_words = cv.words;
    int rc = ask_submit(p, r, &params, &chat_format, c);
    conversation_free(&cv); /* ask_submit copied what it keeps */
    json_decref(body);      /* params.topic borrowed from it, copied too */
    if (rc < 0) {
        reply_free(c);
        http_add_header(r, "Retry-After", "1");
        openai_respond_error(r, 429, NULL, NULL, "too many questions in flight; retry shortly");
    }
}

void chat_completions_add_routes(route_list *routes, pipeline *p) {
    assert(p->max_question > 0); /* ask_add_routes ran first */
    routes_add(routes, "POST", "/v1/chat/completions", post_chat_completions, p, CHAT_MAX_BODY);
}
