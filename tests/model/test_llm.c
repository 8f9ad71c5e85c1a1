/* test_llm — the LLM interface: the mock (the Python system's algorithm),
 * the prompt template, and the OpenAI-compatible backend against a real HTTP
 * server on a loopback port.
 *
 * The server (fake_server below) is test scaffolding: a thread that accepts
 * connections, records each request, and answers with a canned streamed chat
 * completion (chunked, cut at awkward places), an HTTP error, a stream that
 * never ends, a silent socket, or a plain JSON completion. The client code
 * under test — libcurl, the SSE parser, the JSON handling — is the real one. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "model/llm.h"
#include "model/prompt.h"
#include "util/buf.h"
#include "util/util.h"

/* ------------------------------------------------------------------------ */
/* Collecting emitted pieces                                                 */

typedef struct piece {
    int prompt, article;
    const char *text; /* as emitted: only the mock's stays valid (it points into the article) */
    size_t len;
    char *copy;       /* the text, kept */
} piece;

typedef struct pieces {
    piece *v;
    int n, cap;
    buf all;          /* every piece's text, with its indices, for comparisons */
    int cancel_after; /* return 1 after this many pieces (0 = never) */
} pieces;

static int collect(int prompt, int article, const char *text, size_t len, void *ctx) {
    pieces *ps = ctx;
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->v = xrealloc(ps->v, sizeof(piece) * (size_t)ps->cap);
    }
    ps->v[ps->n++] = (piece){prompt, article, text, len, xstrndup(text, len)};
    buf_printf(&ps->all, "%d/%d:", prompt, article);
    buf_append(&ps->all, text, len);
    buf_putc(&ps->all, '\x1e');
    return ps->cancel_after && ps->n >= ps->cancel_after;
}

static void pieces_free(pieces *ps) {
    for (int i = 0; i < ps->n; i++) free(ps->v[i].copy);
    free(ps->v);
    buf_free(&ps->all);
    memset(ps, 0, sizeof *ps);
}

/* The text of one prompt, in order. */
static char *prompt_text(const pieces *ps, int prompt) {
    buf b = BUF_INIT;
    for (int i = 0; i < ps->n; i++)
        if (ps->v[i].prompt == prompt) buf_append(&b, ps->v[i].copy, ps->v[i].len);
    return buf_detach(&b);
}

/* ------------------------------------------------------------------------ */
/* The mock                                                                  */

/* Articles with 1-, 2-, 3- and 4-byte characters, so a byte-based cut would
 * split sequences. */
static const char *ARTICLES[] = {
    "Zürich: the Swiss National Bank's decision surprised markets — the franc "
    "rose 30% against the euro within minutes. Händler sprachen von einem "
    "Schock; analysts in 東京 and São Paulo called it a \"tsunami\" 🌊. Exporters "
    "such as watchmakers warned of job cuts; tourism braced for fewer visitors.",
    "Karachi: Pakistan's cricket board named the squad for the World Cup. "
    "The selectors kept faith with the veteran opener, while the young fast "
    "bowler earned a first call-up after a strong domestic season. ✓ Done.",
    "短いニュース：株価は上昇した。",
    "x",
};
#define NARTICLES ((int)ARRAY_LEN(ARTICLES))

static size_t utf8_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static bool is_boundary(const char *article, size_t off) {
    return article[off] == '\0' || ((unsigned char)article[off] & 0xC0) != 0x80;
}

static int run_mock(llm *m, const llm_prompt *prompts, int n, uint64_t seed, pieces *out) {
    char err[256] = "";
    int rc = llm_generate(m, prompts, n, seed, collect, out, err, sizeof err);
    if (rc < 0) fail_msg("llm_generate: %s", err);
    return rc;
}

static void test_mock_one_event_per_article(void **state) {
    llm *m = llm_mock_new();
    assert_string_equal(llm_name(m), "mock");
    llm_prompt prompts[3] = {
        {.question = "what happened to the franc?", .context = ARTICLES, .ncontext = NARTICLES},
        {.question = "who is in the squad?", .context = ARTICLES + 1, .ncontext = 2},
        {.question = "no context", .context = NULL, .ncontext = 0},
    };
    pieces ps = {0};
    assert_int_equal(run_mock(m, prompts, 3, 1234, &ps), 0);
    assert_int_equal(ps.n, NARTICLES + 2);

    int next_article[3] = {0, 0, 0};
    for (int i = 0; i < ps.n; i++) {
        const piece *p = &ps.v[i];
        assert_in_range(p->prompt, 0, 1);
        /* Each prompt's events arrive in article order, one per article. */
        assert_int_equal(p->article, next_article[p->prompt]++);
        const char *article = prompts[p->prompt].context[p->article];
        size_t alen = strlen(article);
        /* A substring of its own article, cut on character boundaries. */
        assert_true(p->text >= article && p->text + p->len <= article + alen);
        size_t off = (size_t)(p->text - article);
        assert_true(is_boundary(article, off));
        assert_true(is_boundary(article, off + p->len));
        size_t chars = utf8_chars(p->text, p->len);
        assert_in_range(chars, 1, 128);
    }
    assert_int_equal(next_article[0], NARTICLES);
    assert_int_equal(next_article[1], 2);
    /* Round-robin: the first round carries article 0 of both prompts. */
    assert_int_equal(ps.v[0].prompt, 0);
    assert_int_equal(ps.v[1].prompt, 1);
    assert_int_equal(ps.v[1].article, 0);
    pieces_free(&ps);
    llm_free(m);
}

/* The paced mock says the same as the plain one: the pace only spaces the
 * pieces out (how long it waits is not asserted: no timing thresholds). */
static void test_mock_paced_same_answer(void **state) {
    llm *plain = llm_mock_new(), *paced = llm_mock_new_paced(1);
    llm_prompt p = {.question = "q", .context = ARTICLES, .ncontext = NARTICLES};
    pieces a = {0}, b = {0};
    assert_int_equal(run_mock(plain, &p, 1, 99, &a), 0);
    assert_int_equal(run_mock(paced, &p, 1, 99, &b), 0);
    assert_int_equal(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        assert_int_equal(a.v[i].article, b.v[i].article);
        assert_int_equal(a.v[i].len, b.v[i].len);
        assert_memory_equal(a.v[i].text, b.v[i].text, a.v[i].len);
    }
    pieces_free(&a);
    pieces_free(&b);
    llm_free(plain);
    llm_free(paced);
}

static void test_mock_seed_reproducible(void **state) {
    llm *m = llm_mock_new();
    llm_prompt prompts[2] = {{.question = "q1", .context = ARTICLES, .ncontext = NARTICLES}, {.question = "q2", .context = ARTICLES, .ncontext = 2}};
    pieces a = {0}, b = {0}, c = {0};
    run_mock(m, prompts, 2, 42, &a);
    run_mock(m, prompts, 2, 42, &b);
    run_mock(m, prompts, 2, 43, &c);
    assert_string_equal(a.all.data, b.all.data);
    assert_string_not_equal(a.all.data, c.all.data);
    /* Seed 0 draws a fresh seed per prompt: two runs differ. */
    pieces r1 = {0}, r2 = {0};
    run_mock(m, prompts, 2, 0, &r1);
    run_mock(m, prompts, 2, 0, &r2);
    assert_string_not_equal(r1.all.data, r2.all.data);
    pieces_free(&a);
    pieces_free(&b);
    pieces_free(&c);
    pieces_free(&r1);
    pieces_free(&r2);
    llm_free(m);
}

/* A prompt's answer depends on its context and seed only, not on the batch
 * around it — what lets a model service batch requests together. */
static void test_mock_answer_independent_of_batch(void **state) {
    llm *m = llm_mock_new();
    llm_prompt alone = {.question = "q", .context = ARTICLES, .ncontext = NARTICLES, .seed = 777};
    llm_prompt batch[3] = {
        {.question = "other", .context = ARTICLES + 1, .ncontext = 3, .seed = 5},
        {.question = "q", .context = ARTICLES, .ncontext = NARTICLES, .seed = 777},
        {.question = "third", .context = ARTICLES, .ncontext = 1},
    };
    pieces a = {0}, b = {0};
    run_mock(m, &alone, 1, 0, &a);
    run_mock(m, batch, 3, 99, &b);
    char *ta = prompt_text(&a, 0), *tb = prompt_text(&b, 1);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    pieces_free(&a);
    pieces_free(&b);
    llm_free(m);
}

/* The Python algorithm's distribution: starts anywhere in the article, pieces
 * of 1 to 128 characters, clipped at the article's end. */
static void test_mock_piece_distribution(void **state) {
    char article[1001];
    for (int i = 0; i < 1000; i++) article[i] = (char)('a' + i % 26);
    article[1000] = '\0';
    const char *ctx[] = {article};
    llm *m = llm_mock_new();
    size_t min_start = SIZE_MAX, max_start = 0, min_len = SIZE_MAX, max_len = 0;
    int clipped = 0;
    for (uint64_t seed = 1; seed <= 3000; seed++) {
        llm_prompt p = {.question = "q", .context = ctx, .ncontext = 1};
        pieces ps = {0};
        run_mock(m, &p, 1, seed, &ps);
        assert_int_equal(ps.n, 1);
        size_t start = (size_t)(ps.v[0].text - article), len = ps.v[0].len;
        if (start < min_start) min_start = start;
        if (start > max_start) max_start = start;
        if (len < min_len) min_len = len;
        if (len > max_len) max_len = len;
        clipped += start + len == 1000 && len < 128;
        pieces_free(&ps);
    }
    assert_true(min_len >= 1 && max_len == 128);
    assert_true(min_len <= 5);
    assert_true(min_start < 20 && max_start > 980);
    assert_true(clipped > 0); /* pieces near the end are cut by the slice */
    llm_free(m);
}

static void test_mock_cancel(void **state) {
    llm *m = llm_mock_new();
    llm_prompt prompts[2] = {{.question = "q1", .context = ARTICLES, .ncontext = NARTICLES}, {.question = "q2", .context = ARTICLES, .ncontext = NARTICLES}};
    pieces ps = {.cancel_after = 3};
    char err[128];
    assert_int_equal(llm_generate(m, prompts, 2, 7, collect, &ps, err, sizeof err), 1);
    assert_int_equal(ps.n, 3);
    pieces_free(&ps);
    llm_free(m);
}

static void test_mock_empty_inputs(void **state) {
    llm *m = llm_mock_new();
    pieces ps = {0};
    char err[128] = "";
    /* No prompts, and a prompt without context: nothing to say. */
    assert_int_equal(llm_generate(m, NULL, 0, 1, collect, &ps, err, sizeof err), 0);
    llm_prompt none = {.question = "q", .context = NULL, .ncontext = 0};
    assert_int_equal(llm_generate(m, &none, 1, 1, collect, &ps, err, sizeof err), 0);
    assert_int_equal(ps.n, 0);
    /* An empty article still gets its one (empty) event. */
    const char *ctx[] = {"", "abc"};
    llm_prompt p = {.question = "q", .context = ctx, .ncontext = 2};
    assert_int_equal(llm_generate(m, &p, 1, 1, collect, &ps, err, sizeof err), 0);
    assert_int_equal(ps.n, 2);
    assert_int_equal(ps.v[0].len, 0);
    assert_in_range(ps.v[1].len, 1, 3);
    /* Invalid arguments are errors with a message, not crashes. */
    const char *bad_ctx[] = {"fine", NULL};
    llm_prompt bad = {.question = "q", .context = bad_ctx, .ncontext = 2};
    assert_int_equal(llm_generate(m, &bad, 1, 1, collect, &ps, err, sizeof err), -1);
    assert_non_null(strstr(err, "article 1"));
    llm_prompt no_question = {.question = NULL, .context = ctx, .ncontext = 1};
    assert_int_equal(llm_generate(m, &no_question, 1, 1, collect, &ps, err, sizeof err), -1);
    assert_int_equal(llm_generate(m, &p, 1, 1, NULL, &ps, err, sizeof err), -1);
    pieces_free(&ps);
    llm_free(m);
}

typedef struct mock_thread {
    llm *m;
    const llm_prompt *prompts;
    int n;
    pieces out;
    int rc;
} mock_thread;

static void *mock_thread_main(void *arg) {
    mock_thread *t = arg;
    char err[128];
    for (int i = 0; i < 50 && t->rc == 0; i++) {
        pieces_free(&t->out);
        t->rc = llm_generate(t->m, t->prompts, t->n, 2024, collect, &t->out, err, sizeof err);
    }
    return NULL;
}

static void test_mock_concurrent(void **state) {
    llm *m = llm_mock_new();
    llm_prompt prompts[2] = {{.question = "q1", .context = ARTICLES, .ncontext = NARTICLES}, {.question = "q2", .context = ARTICLES + 1, .ncontext = 3}};
    pieces ref = {0};
    run_mock(m, prompts, 2, 2024, &ref);
    mock_thread t[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (mock_thread){m, prompts, 2, {0}, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, mock_thread_main, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(t[i].rc, 0);
        assert_string_equal(t[i].out.all.data, ref.all.data);
        pieces_free(&t[i].out);
    }
    pieces_free(&ref);
    llm_free(m);
}

/* ------------------------------------------------------------------------ */
/* The prompt template                                                       */

static void test_prompt_template(void **state) {
    const char *ctx[] = {"The  franc\n\nsurged.\r\n", "Squad named."};
    const char *heading[] = {"SNB shock", NULL};
    const char *date[] = {"2015-01-15", "2015-02-01"};
    llm_prompt p = {.question = "  What happened\nto the franc? ", .context = ctx, .ncontext = 2,
                    .heading = heading, .date = date};
    buf out = BUF_INIT;
    prompt_user(&out, &p, PROMPT_DEFAULT_MAX_BYTES);
    assert_string_equal(out.data,
                        "Passages:\n"
                        "[1] SNB shock (2015-01-15): The franc surged.\n"
                        "[2] (2015-02-01): Squad named.\n"
                        "\nQuestion: What happened to the franc?"
                        "\n\nAnswer (cite the passages you use by number, like [1]):");
    assert_non_null(strstr(prompt_system(), "[1]"));
    buf_free(&out);

    llm_prompt bare = {.question = "q?", .context = ctx + 1, .ncontext = 1};
    prompt_user(&out, &bare, PROMPT_DEFAULT_MAX_BYTES);
    assert_non_null(strstr(out.data, "[1] Squad named.\n"));
    buf_free(&out);

    llm_prompt empty = {.question = "q?", .context = NULL, .ncontext = 0};
    prompt_user(&out, &empty, PROMPT_DEFAULT_MAX_BYTES);
    assert_non_null(strstr(out.data, "none were found"));
    buf_free(&out);
}

static bool valid_utf8(const char *s, size_t len) {
    json_t *j = json_stringn(s, len); /* jansson validates UTF-8 */
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

/* The cap holds for any budget, cuts fall between characters, every passage
 * gets a fair part, and invalid UTF-8 comes out replaced. */
static void test_prompt_length_cap(void **state) {
    buf longtext = BUF_INIT;
    for (int i = 0; i < 400; i++) buf_puts(&longtext, "Größe 東京 😀 ");
    const char *ctx[] = {longtext.data, "short passage", longtext.data, "bad \xC3 byte \xFF"};
    buf question = BUF_INIT;
    for (int i = 0; i < 300; i++) buf_puts(&question, "why ");
    llm_prompt p = {.question = question.data, .context = ctx, .ncontext = 4};
    size_t budgets[] = {0, 100, 256, 257, 300, 1000, 2999, 12000, 100000};
    for (size_t b = 0; b < ARRAY_LEN(budgets); b++) {
        buf out = BUF_INIT;
        buf_puts(&out, "prefix-");
        prompt_user(&out, &p, budgets[b]);
        size_t cap = budgets[b] < PROMPT_MIN_BYTES ? PROMPT_MIN_BYTES : budgets[b];
        if (out.len - 7 > cap) fail_msg("budget %zu: wrote %zu bytes", budgets[b], out.len - 7);
        assert_true(valid_utf8(out.data, out.len));
        assert_non_null(strstr(out.data, "Question: why"));
        if (budgets[b] >= 1000) {
            /* All four passages appear, the long ones cut with an ellipsis. */
            assert_non_null(strstr(out.data, "[1] Größe"));
            assert_non_null(strstr(out.data, "[2] short passage\n"));
            assert_non_null(strstr(out.data, "[3] Größe"));
            assert_non_null(strstr(out.data, "[4] bad \xEF\xBF\xBD byte \xEF\xBF\xBD\n"));
            if (budgets[b] < 16000 && !strstr(out.data, "…\n[2]"))
                fail_msg("budget %zu: passage 1 not cut: %s", budgets[b], out.data);
        }
        if (budgets[b] == 100000) assert_null(strstr(out.data, "…\n[2]")); /* fits whole */
        buf_free(&out);
    }
    buf_free(&question);
    buf_free(&longtext);
}

/* ------------------------------------------------------------------------ */
/* A fake OpenAI-compatible server on 127.0.0.1                              */

enum server_mode {
    MODE_STREAM,    /* a streamed completion: "Answer #<n> …" */
    MODE_ERROR_500, /* {"error": {"message": "model exploded"}} */
    MODE_ERROR_404, /* a plain-text error page */
    MODE_ENDLESS,   /* tokens until the client goes away */
    MODE_SILENT,    /* reads the request, never answers */
    MODE_PLAIN,     /* a non-streamed chat.completion */
    MODE_TRUNCATED, /* two tokens, then the connection drops */
    MODE_MIDSTREAM_ERROR,
};

typedef struct fake_server {
    int listen_fd;
    int port;
    pthread_t thread;
    enum server_mode mode;
    pthread_mutex_t mu;
    int stop;
    int nrequests;
    buf last_request;  /* request line, headers and body of the last request */
    int saw_hangup;    /* MODE_ENDLESS: a write failed because the client left */
    int endless_sent;  /* tokens written before the hang-up */
} fake_server;

static bool server_stopping(fake_server *s) {
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static bool send_all(int fd, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_str(int fd, const char *s) { return send_all(fd, s, strlen(s)); }

/* One HTTP chunk. */
static bool send_chunk(int fd, const char *data, size_t len) {
    char head[32];
    snprintf(head, sizeof head, "%zx\r\n", len);
    return send_str(fd, head) && send_all(fd, data, len) && send_str(fd, "\r\n");
}

/* Send an SSE text as HTTP chunks of 7 bytes, so events, lines and UTF-8
 * sequences all straddle reads. */
static bool send_chunked_7(int fd, const char *text) {
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i += 7)
        if (!send_chunk(fd, text + i, len - i < 7 ? len - i : 7)) return false;
    return true;
}

static void sse_token(buf *b, const char *content_json) {
    buf_printf(b,
               "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
               "\"delta\":{\"content\":%s},\"finish_reason\":null}]}\n\n",
               content_json);
}

/* Read one request (headers + Content-Length body); false on EOF/error. */
static bool read_request(fake_server *s, int fd, buf *req) {
    buf_clear(req);
    size_t header_end = 0, want = SIZE_MAX;
    char tmp[4096];
    while (req->len < want) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 100);
        if (pr == 0) {
            if (server_stopping(s)) return false;
            continue;
        }
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_append(req, tmp, (size_t)n);
        if (!header_end) {
            char *end = strstr(req->data, "\r\n\r\n");
            if (!end) continue;
            header_end = (size_t)(end - req->data) + 4;
            const char *cl = strcasestr(req->data, "\r\nContent-Length:");
            want = header_end + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
    }
    return true;
}

static void answer(fake_server *s, int fd, int request_no) {
    static const char STREAM_HEAD[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    buf b = BUF_INIT;
    switch (s->mode) {
    case MODE_STREAM: {
        buf_puts(&b, ": keep-alive comment\n\n");
        buf_puts(&b, "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                     "\"assistant\"},\"finish_reason\":null}]}\n\n");
        char num[32];
        snprintf(num, sizeof num, "\"#%d\"", request_no);
        sse_token(&b, "\"Answer \"");
        sse_token(&b, num);
        sse_token(&b, "\": the franc rose [1], café \\u00e9t\\u00e9\\n\"");
        sse_token(&b, "\"\xE6\x9D\xB1\xE4\xBA\xAC [2].\"");
        buf_puts(&b, "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
                     "\"finish_reason\":\"stop\"}]}\r\n\r\n");
        buf_puts(&b, "data: [DONE]\n\n");
        send_str(fd, STREAM_HEAD);
        send_chunked_7(fd, b.data);
        send_str(fd, "0\r\n\r\n");
        break;
    }
    case MODE_ERROR_500: {
        const char body[] = "{\"error\":{\"message\":\"model exploded\",\"type\":\"server_error\"}}";
        buf_printf(&b,
                   "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   sizeof body - 1, body);
        send_str(fd, b.data);
        break;
    }
    case MODE_ERROR_404: {
        const char body[] = "No such route:\n  /v1/x\n";
        buf_printf(&b,
                   "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   sizeof body - 1, body);
        send_str(fd, b.data);
        break;
    }
    case MODE_ENDLESS: {
        send_str(fd, STREAM_HEAD);
        int sent = 0;
        bool ok = true;
        while (ok && sent < 20000 && !server_stopping(s)) {
            buf_clear(&b);
            sse_token(&b, "\"tok \"");
            ok = send_chunk(fd, b.data, b.len);
            if (ok) sent++;
            if (sent % 16 == 0) usleep(1000); /* a model produces tokens over time */
        }
        pthread_mutex_lock(&s->mu);
        s->saw_hangup = !ok;
        s->endless_sent = sent;
        pthread_mutex_unlock(&s->mu);
        break;
    }
    case MODE_SILENT:
        while (!server_stopping(s)) usleep(10000);
        break;
    case MODE_PLAIN: {
        const char body[] = "{\"id\":\"c2\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                            "\"message\":{\"role\":\"assistant\",\"content\":\"Plain answer [1].\"},"
                            "\"finish_reason\":\"stop\"}]}";
        buf_printf(&b,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   sizeof body - 1, body);
        send_str(fd, b.data);
        break;
    }
    case MODE_TRUNCATED:
        send_str(fd, STREAM_HEAD);
        sse_token(&b, "\"partial \"");
        sse_token(&b, "\"answer\"");
        send_chunk(fd, b.data, b.len);
        break; /* no [DONE], no last chunk: the connection just closes */
    case MODE_MIDSTREAM_ERROR:
        sse_token(&b, "\"Some text\"");
        buf_puts(&b, "data: {\"error\":{\"message\":\"context length exceeded\"}}\n\n");
        send_str(fd, STREAM_HEAD);
        send_chunked_7(fd, b.data);
        send_str(fd, "0\r\n\r\n");
        break;
    }
    buf_free(&b);
}

static void *server_main(void *arg) {
    fake_server *s = arg;
    buf req = BUF_INIT;
    while (!server_stopping(s)) {
        struct pollfd pfd = {s->listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        if (read_request(s, fd, &req)) {
            pthread_mutex_lock(&s->mu);
            int no = ++s->nrequests;
            buf_clear(&s->last_request);
            buf_append(&s->last_request, req.data, req.len);
            pthread_mutex_unlock(&s->mu);
            answer(s, fd, no);
        }
        close(fd);
    }
    buf_free(&req);
    return NULL;
}

static fake_server *server_start(enum server_mode mode) {
    fake_server *s = xcalloc(1, sizeof *s);
    s->mode = mode;
    pthread_mutex_init(&s->mu, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->listen_fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(s->listen_fd, 16), 0);
    socklen_t alen = sizeof addr;
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen), 0);
    s->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
    return s;
}

static void server_stop(fake_server *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    buf_free(&s->last_request);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static char *server_url(const fake_server *s, const char *suffix) {
    buf b = BUF_INIT;
    buf_printf(&b, "http://127.0.0.1:%d%s", s->port, suffix);
    return buf_detach(&b);
}

/* The JSON body of the last request. */
static json_t *last_body(fake_server *s) {
    const char *body = strstr(s->last_request.data, "\r\n\r\n");
    assert_non_null(body);
    json_error_t jerr;
    json_t *j = json_loads(body + 4, 0, &jerr);
    if (!j) fail_msg("request body is not JSON: %s", jerr.text);
    return j;
}

/* ------------------------------------------------------------------------ */
/* The OpenAI-compatible backend                                             */

static const char *PASSAGES[] = {"The franc rose 30%.", "Tokyo markets fell."};
static const char *HEADINGS[] = {"SNB shock", "Nikkei"};

static void test_openai_stream(void **state) {
    fake_server *s = server_start(MODE_STREAM);
    char *url = server_url(s, "/");
    char err[512] = "";
    llm *m = llm_openai_new(url, "qwen2.5-7b", "sk-test-123", 10, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(llm_name(m), "openai:qwen2.5-7b");
    llm_prompt prompts[2] = {
        {.question = "What happened to the franc?", .context = PASSAGES, .ncontext = 2, .heading = HEADINGS},
        {.question = "And Tokyo?", .context = PASSAGES + 1, .ncontext = 1},
    };
    pieces ps = {0};
    int rc = llm_generate(m, prompts, 2, 31337, collect, &ps, err, sizeof err);
    if (rc != 0) fail_msg("llm_generate: %s", err);
    char *t0 = prompt_text(&ps, 0), *t1 = prompt_text(&ps, 1);
    assert_string_equal(t0, "Answer #1: the franc rose [1], café été\n東京 [2].");
    assert_string_equal(t1, "Answer #2: the franc rose [1], café été\n東京 [2].");
    for (int i = 0; i < ps.n; i++) assert_int_equal(ps.v[i].article, -1);
    /* Prompt 0's pieces all come before prompt 1's: a batch runs in turn. */
    assert_int_equal(ps.v[0].prompt, 0);
    assert_int_equal(ps.v[ps.n - 1].prompt, 1);
    free(t0);
    free(t1);

    /* What the server received (the last request is prompt 1's). */
    assert_int_equal(s->nrequests, 2);
    assert_non_null(strstr(s->last_request.data, "POST /v1/chat/completions HTTP/1.1\r\n"));
    assert_non_null(strcasestr(s->last_request.data, "\r\nAuthorization: Bearer sk-test-123\r\n"));
    assert_non_null(strcasestr(s->last_request.data, "\r\nContent-Type: application/json\r\n"));
    json_t *body = last_body(s);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "qwen2.5-7b");
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_int_equal(json_integer_value(json_object_get(body, "seed")), 31337);
    json_t *messages = json_object_get(body, "messages");
    assert_int_equal(json_array_size(messages), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 0), "role")), "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 0), "content")),
                        prompt_system());
    const char *user = json_string_value(json_object_get(json_array_get(messages, 1), "content"));
    assert_non_null(strstr(user, "[1] Tokyo markets fell.\n"));
    assert_non_null(strstr(user, "Question: And Tokyo?"));
    json_decref(body);

    pieces_free(&ps);
    llm_free(m);
    free(url);
    server_stop(s);
}

/* A conversation's earlier turns go between the rules and the grounded question. */
static void test_openai_history(void **state) {
    fake_server *s = server_start(MODE_STREAM);
    char *url = server_url(s, "/v1");
    char err[512] = "";
    llm *m = llm_openai_new(url, "m", NULL, 10, err, sizeof err);
    assert_non_null(m);
    const llm_turn turns[2] = {{.role = "user", .content = "What happened to the franc?"},
                               {.role = "assistant", .content = "It rose 30% [1]."}};
    llm_prompt p = {.question = "And Tokyo?", .context = PASSAGES, .ncontext = 2,
                    .history = turns, .nhistory = 2};
    pieces ps = {0};
    if (llm_generate(m, &p, 1, 0, collect, &ps, err, sizeof err) != 0) fail_msg("%s", err);
    json_t *body = last_body(s);
    json_t *messages = json_object_get(body, "messages");
    assert_int_equal(json_array_size(messages), 4);
    static const char *const roles[] = {"system", "user", "assistant", "user"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(messages, i), "role")), roles[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 2), "content")),
                        "It rose 30% [1].");
    const char *user = json_string_value(json_object_get(json_array_get(messages, 3), "content"));
    assert_non_null(strstr(user, "Question: And Tokyo?"));
    json_decref(body);
    pieces_free(&ps);
    llm_free(m);
    free(url);
    server_stop(s);
}

static void test_openai_no_key_and_base_url_forms(void **state) {
    static const char *suffixes[] = {"", "/v1", "/v1/", "/v1/chat/completions"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        fake_server *s = server_start(MODE_STREAM);
        char *url = server_url(s, suffixes[i]);
        char err[512] = "";
        llm *m = llm_openai_new(url, "m", NULL, 10, err, sizeof err);
        assert_non_null(m);
        llm_prompt p = {.question = "q", .context = PASSAGES, .ncontext = 1};
        pieces ps = {0};
        if (llm_generate(m, &p, 1, 0, collect, &ps, err, sizeof err) != 0)
            fail_msg("base URL %s: %s", url, err);
        assert_true(ps.n > 0);
        assert_non_null(strstr(s->last_request.data, "POST /v1/chat/completions HTTP/1.1\r\n"));
        assert_null(strcasestr(s->last_request.data, "Authorization:"));
        json_t *body = last_body(s);
        assert_null(json_object_get(body, "seed")); /* seed 0 = the server's choice */
        json_decref(body);
        pieces_free(&ps);
        llm_free(m);
        free(url);
        server_stop(s);
    }
}

static void expect_error(enum server_mode mode, double timeout, const char *want1,
                         const char *want2) {
    fake_server *s = server_start(mode);
    char *url = server_url(s, "");
    char err[512] = "";
    llm *m = llm_openai_new(url, "m", "k", timeout, err, sizeof err);
    assert_non_null(m);
    llm_prompt p = {.question = "q", .context = PASSAGES, .ncontext = 2};
    pieces ps = {0};
    int rc = llm_generate(m, &p, 1, 0, collect, &ps, err, sizeof err);
    if (rc != -1) fail_msg("mode %d: expected an error, got %d", mode, rc);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("mode %d: error '%s' lacks '%s' / '%s'", mode, err, want1, want2 ? want2 : "");
    assert_non_null(strstr(err, url)); /* says which server failed */
    pieces_free(&ps);
    llm_free(m);
    free(url);
    server_stop(s);
}

static void test_openai_http_errors(void **state) {
    expect_error(MODE_ERROR_500, 10, "HTTP 500", "model exploded");
    expect_error(MODE_ERROR_404, 10, "HTTP 404", "No such route: /v1/x");
    expect_error(MODE_MIDSTREAM_ERROR, 10, "context length exceeded", NULL);
    expect_error(MODE_TRUNCATED, 10, "openai:", NULL);
    expect_error(MODE_SILENT, 0.3, "timed out", NULL);
}

static void test_openai_plain_json(void **state) {
    fake_server *s = server_start(MODE_PLAIN);
    char *url = server_url(s, "");
    char err[512] = "";
    llm *m = llm_openai_new(url, "m", NULL, 10, err, sizeof err);
    llm_prompt p = {.question = "q", .context = PASSAGES, .ncontext = 1};
    pieces ps = {0};
    assert_int_equal(llm_generate(m, &p, 1, 0, collect, &ps, err, sizeof err), 0);
    char *t = prompt_text(&ps, 0);
    assert_string_equal(t, "Plain answer [1].");
    free(t);
    pieces_free(&ps);
    llm_free(m);
    free(url);
    server_stop(s);
}

static void test_openai_cancel_hangs_up(void **state) {
    fake_server *s = server_start(MODE_ENDLESS);
    char *url = server_url(s, "");
    char err[512] = "";
    llm *m = llm_openai_new(url, "m", NULL, 60, err, sizeof err);
    llm_prompt prompts[2] = {{.question = "q", .context = PASSAGES, .ncontext = 1}, {.question = "never asked", .context = PASSAGES, .ncontext = 1}};
    pieces ps = {.cancel_after = 3};
    assert_int_equal(llm_generate(m, prompts, 2, 0, collect, &ps, err, sizeof err), 1);
    /* Wait for the server to finish with the connection, then check it saw the
     * client leave long before its 20000 tokens. */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int finished = s->endless_sent > 0 || s->saw_hangup;
        pthread_mutex_unlock(&s->mu);
        if (finished) break;
        usleep(10000);
    }
    assert_true(s->saw_hangup);
    assert_true(s->endless_sent < 20000);
    assert_int_equal(s->nrequests, 1);
    llm_free(m);
    pieces_free(&ps);
    free(url);
    server_stop(s);
}

static void test_openai_connection_refused(void **state) {
    /* A port that was just free: bind, read it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    char err[512] = "";
    llm *m = llm_openai_new(url, "m", NULL, 5, err, sizeof err);
    llm_prompt p = {.question = "q", .context = PASSAGES, .ncontext = 1};
    pieces ps = {0};
    assert_int_equal(llm_generate(m, &p, 1, 0, collect, &ps, err, sizeof err), -1);
    assert_non_null(strstr(err, url));
    assert_non_null(strstr(err, "onnect")); /* "Couldn't connect to server" */
    llm_free(m);
    pieces_free(&ps);
}

static void test_openai_bad_config(void **state) {
    char err[256] = "";
    assert_null(llm_openai_new("ftp://x", "m", NULL, 1, err, sizeof err));
    assert_non_null(strstr(err, "http://"));
    assert_null(llm_openai_new("http://x", "", NULL, 1, err, sizeof err));
    assert_non_null(strstr(err, "model"));
    assert_null(llm_openai_new("http://x", "m", NULL, -1, err, sizeof err));
    assert_non_null(strstr(err, "timeout"));
    assert_null(llm_openai_new("http://x", "m", "key\r\nX-Evil: 1", 1, err, sizeof err));
    assert_non_null(strstr(err, "line break"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mock_one_event_per_article),
        cmocka_unit_test(test_mock_seed_reproducible),
        cmocka_unit_test(test_mock_paced_same_answer),
        cmocka_unit_test(test_mock_answer_independent_of_batch),
        cmocka_unit_test(test_mock_piece_distribution),
        cmocka_unit_test(test_mock_cancel),
        cmocka_unit_test(test_mock_empty_inputs),
        cmocka_unit_test(test_mock_concurrent),
        cmocka_unit_test(test_prompt_template),
        cmocka_unit_test(test_prompt_length_cap),
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_openai_history),
        cmocka_unit_test(test_openai_no_key_and_base_url_forms),
        cmocka_unit_test(test_openai_http_errors),
        cmocka_unit_test(test_openai_plain_json),
        cmocka_unit_test(test_openai_cancel_hangs_up),
        cmocka_unit_test(test_openai_connection_refused),
        cmocka_unit_test(test_openai_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
