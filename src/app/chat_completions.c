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
 * ones can show the sources. Errors are OpenAI's {"error": {…}} (the route is
 * marked openai_errors, so the server's own 401/413/415 are too).
 */
#include "app/chat_completions.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/ask.h"
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

static void chat_fail(void *ctx, http_request *r, bool streaming, int status, const char *message) {
    if (streaming) {
        /* OpenAI's clients raise an error for a chunk that carries one. */
        char *body = http_error_body(r, status, NULL, message);
        http_stream_event(r, NULL, body, strlen(body));
        free(body);
        http_stream_end(r);
    } else if (status == 429 || status == 503) {
        http_respond_overloaded(r, status, 1, message);
    } else {
        http_respond_error(r, status, "%s", message);
    }
}

static const ask_format chat_format = {.route = "/v1/chat/completions", .sources = chat_sources,
                                       .piece = chat_piece, .done = chat_done,
                                       .fail = chat_fail, .release = reply_free};

/* A message's text: a string, or OpenAI's array of parts of which the
 * {"type": "text"} ones count (joined by newlines). NULL when it is neither;
 * *owned is set when the caller must free the result. */
static const char *message_text(const json_t *content, char **owned, size_t *len) {
    *owned = NULL;
    if (json_is_string(content)) {
        *len = json_string_length(content);
        return json_string_value(content);
    }
    if (json_is_null(content)) {
        *len = 0;
        return "";
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
        buf_append(&text, json_string_value(t), json_string_length(t));
    }
    *len = text.len;
    *owned = text.data ? buf_detach(&text) : NULL;
    return *owned ? *owned : "";
}

static bool known_role(const char *role) {
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    for (size_t i = 0; i < ARRAY_LEN(roles); i++)
        if (!strcmp(role, roles[i])) return true;
    return false;
}

/* The conversation, checked: the last user turn and the turns before it. */
typedef struct conversation {
    const char *question;
    size_t question_len;
    llm_turn turns[CHAT_MAX_HISTORY_TURNS];
    int nturns;
    size_t words;           /* of the question and the kept turns */
    char *owned[CHAT_MAX_HISTORY_TURNS + 1];
    int nowned;
} conversation;

static void conversation_free(conversation *cv) {
    for (int i = 0; i < cv->nowned; i++) free(cv->owned[i]);
}

#define REJECT(status, param, ...)                                  \
    do {                                                            \
        http_respond_error_param(r, status, param, __VA_ARGS__);    \
        return false;                                               \
    } while (0)

static bool read_conversation(http_request *r, const json_t *messages, conversation *cv) {
    if (!messages) REJECT(422, "messages", "'messages' is required");
    if (!json_is_array(messages)) REJECT(400, "messages", "'messages' must be an array");
    size_t n = json_array_size(messages);
    if (n == 0) REJECT(422, "messages", "'messages' must not be empty");
    if (n > CHAT_MAX_MESSAGES)
        REJECT(413, "messages", "'messages' has %zu entries; the limit is %d", n, CHAT_MAX_MESSAGES);
    long last_user = -1;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        if (!json_is_object(m)) REJECT(400, "messages", "messages[%zu] must be an object", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role)) REJECT(400, "messages", "messages[%zu].role must be a string", i);
        if (!known_role(json_string_value(role)))
            REJECT(422, "messages", "messages[%zu].role '%.40s' is not system, developer, user, assistant or tool",
                   i, json_string_value(role));
        json_t *content = json_object_get(m, "content");
        char *owned;
        size_t len;
        if (!message_text(content, &owned, &len))
            REJECT(400, "messages",
                   "messages[%zu].content must be a string or an array of {\"type\": \"text\", \"text\": …} parts", i);
        free(owned);
        if (!strcmp(json_string_value(role), "user")) last_user = (long)i;
    }
    if (last_user < 0) REJECT(422, "messages", "'messages' has no user message to answer");

    json_t *q = json_object_get(json_array_get(messages, (size_t)last_user), "content");
    char *owned;
    cv->question = message_text(q, &owned, &cv->question_len);
    if (owned) cv->owned[cv->nowned++] = owned;
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
        const char *text = message_text(json_object_get(m, "content"), &owned, &len);
        if (bytes + len > CHAT_MAX_HISTORY_BYTES || memchr(text, '\0', len)) {
            free(owned);
            break;
        }
        bytes += len;
        first--;
        cv->turns[first] = (llm_turn){.role = role, .content = text};
        if (owned) cv->owned[cv->nowned++] = owned;
        cv->words += count_words(text, len);
    }
    cv->nturns = CHAT_MAX_HISTORY_TURNS - first;
    memmove(cv->turns, cv->turns + first, (size_t)cv->nturns * sizeof cv->turns[0]);
    return true;
}

static bool bad(ask_reject *why, int status, const char *param, const char *message) {
    *why = (ask_reject){.status = status, .param = param};
    snprintf(why->message, sizeof why->message, "%s", message);
    return false;
}

static void post_chat_completions(http_request *r, void *ctx) {
    pipeline *p = ctx;
    json_t *body = http_request_json(r);
    if (!body) return;
    conversation cv = {0};
    if (!read_conversation(r, json_object_get(body, "messages"), &cv)) {
        conversation_free(&cv);
        return;
    }
    ask_params params = {.question = cv.question, .question_len = cv.question_len,
                         .cite = true, .history = cv.turns, .nhistory = cv.nturns};
    ask_reject why = {0};
    bool ok = ask_check_question(p, params.question, params.question_len, &why) &&
              ask_read_options(p, body, &params, &why);
    if (!ok && !strcmp(why.param, "question")) {
        char inner[sizeof why.message];
        snprintf(inner, sizeof inner, "%s", why.message);
        snprintf(why.message, sizeof why.message, "the last user message: %.200s", inner);
        why.param = "messages";
    }
    json_t *model = json_object_get(body, "model"), *stream = json_object_get(body, "stream"),
           *options = json_object_get(body, "stream_options"), *n = json_object_get(body, "n");
    json_t *include_usage = json_object_get(options, "include_usage");
    if (ok && model && !json_is_null(model) && !json_is_string(model))
        ok = bad(&why, 400, "model", "'model' must be a string");
    if (ok && stream && !json_is_null(stream) && !json_is_boolean(stream))
        ok = bad(&why, 400, "stream", "'stream' must be true or false");
    if (ok && options && !json_is_null(options) &&
        (!json_is_object(options) || (include_usage && !json_is_boolean(include_usage))))
        ok = bad(&why, 400, "stream_options",
                 "'stream_options' must be an object whose include_usage is true or false");
    if (ok && n && !json_is_null(n) && !(json_is_integer(n) && json_integer_value(n) == 1))
        ok = bad(&why, 422, "n", "only one choice (n = 1) is answered");
    if (!ok) {
        http_respond_error_param(r, why.status, why.param, "%s", why.message);
        conversation_free(&cv);
        return;
    }
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
    if (rc < 0) {
        reply_free(c);
        http_respond_overloaded(r, 429, 1, "too many questions in flight; retry shortly");
    }
}

void chat_completions_add_routes(route_list *routes, pipeline *p) {
    assert(p->max_question > 0); /* ask_add_routes ran first */
    routes_add_openai(routes, "POST", "/v1/chat/completions", post_chat_completions, p, CHAT_MAX_BODY);
}
