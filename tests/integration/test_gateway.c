/* test_gateway — the split deployment over real HTTP on loopback: a store
 * built by `ragd ingest` from a small corpus written here (the real corpus's
 * format: cp1252, CRLF, quoted fields with line breaks), two `ragd model`
 * replicas and a `ragd gateway` in front of them.
 *
 * Checks /ask as JSON and as Server-Sent Events (sources from the store, the
 * mock LLM's pieces taken from those sources, the seed honoured across the
 * network), the topic filter, round-robin spreading /encode over both
 * replicas, JSON errors for every kind of bad request, a replica's own
 * errors and a stalled replica (502 with its message, 504), and failover: one
 * replica killed with SIGKILL (requests keep succeeding, its ragd_model_up
 * drops to 0), both killed (quick 502/503 JSON errors, /ready 503), one
 * restarted (the gateway recovers by itself).
 *
 * The tests run in order and share the processes: each failover step starts
 * from the state the previous one left. Waiting loops are bounded only to
 * keep a broken build from hanging; no test asserts on a duration.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "json_error.h"
#include "util/util.h"

/* ---- the corpus ---- */

typedef struct article {
    const char *text;     /* as it goes into the CSV (cp1252 bytes) */
    const char *start;    /* its first words, as they must come back (UTF-8) */
    const char *heading;
    const char *date_csv; /* M/D/YYYY */
    const char *date_iso;
    const char *topic;
} article;

static const article corpus[] = {
    {"The central bank raised interest rates by half a percent to fight inflation; the stock market fell sharply.", "The central bank raised interest rates", "bank raises interest rates", "1/2/2015", "2015-01-02", "business"},
    {"Oil prices climbed to a two-year high as exporters agreed to cut production.\r\nAnalysts expect petrol to cost more next month.", "Oil prices climbed to a two-year high", "oil at two-year high", "1/3/2015", "2015-01-03", "business"},
    {"The government\x92s budget deficit narrowed after tax revenue grew faster than spending, the finance ministry said.", "The government\xe2\x80\x99s budget deficit narrowed", "deficit narrows", "1/4/2015", "2015-01-04", "business"},
    {"Karachi stock exchange index gained 300 points as foreign investors bought banking and cement shares.", "Karachi stock exchange index gained", "kse gains 300 points", "1/5/2015", "2015-01-05", "business"},
    {"Textile exporters asked for a cut in electricity tariffs, saying gas shortages had closed dozens of mills.", "Textile exporters asked for a cut", "textile exporters seek relief", "2/6/2015", "2015-02-06", "business"},
    {"A new trade agreement with China will cut tariffs on rice and cotton exports, the commerce minister announced.", "A new trade agreement with China", "trade deal with china", "3/7/2015", "2015-03-07", "business"},
    {"Gold prices fell for a third day as the dollar strengthened against major currencies.", "Gold prices fell for a third day", "gold falls again", "4/8/2015", "2015-04-08", "business"},
    {"The rupee weakened against the dollar in the interbank market amid rising import payments for fuel.", "The rupee weakened against the dollar", "rupee weakens", "5/9/2015", "2015-05-09", "business"},
    {"Telecom operators bid for 4G spectrum licences in an auction that raised over a billion dollars \x96 a record.", "Telecom operators bid for 4G spectrum", "spectrum auction", "6/10/2015", "2015-06-10", "business"},
    {"Car sales rose 20 percent this year as auto financing became cheaper with lower interest rates.", "Car sales rose 20 percent", "car sales up", "12/31/2016", "2016-12-31", "business"},
    {"Pakistan won the cricket match against Australia by five wickets with a brilliant century from the captain.", "Pakistan won the cricket match", "pakistan beat australia", "1/2/2016", "2016-01-02", "sports"},
    {"The football club signed a new striker for a record transfer fee before the start of the season.", "The football club signed a new striker", "club signs striker", "1/3/2016", "2016-01-03", "sports"},
    {"The tennis champion reached the final of the tournament after a three-set victory in the semi-final.", "The tennis champion reached the final", "champion into final", "2/4/2016", "2016-02-04", "sports"},
    {"The hockey team lost the Olympic qualifier on penalties after a tense draw in regular time.", "The hockey team lost the Olympic qualifier", "hockey heartbreak", "3/5/2016", "2016-03-05", "sports"},
    {"The fast bowler took six wickets as England were bowled out for 150 on the first day of the Test.", "The fast bowler took six wickets", "six wickets for fast bowler", "4/6/2016", "2016-04-06", "sports"},
    {"The marathon was won by a Kenyan runner who broke the course record by two minutes.", "The marathon was won by a Kenyan runner", "kenyan wins marathon", "5/7/2016", "2016-05-07", "sports"},
    {"The squash legend \x93Jansher\x94 returned to coach the national juniors after his retirement.", "The squash legend \xe2\x80\x9cJansher\xe2\x80\x9d returned", "jansher returns", "6/8/2016", "2016-06-08", "sports"},
    {"The cricket board announced the squad for the World Cup, leaving out two senior batsmen.\r\n\r\nSelectors said \"form\" decided it.", "The cricket board announced the squad", "world cup squad named", "7/9/2016", "2016-07-09", "sports"},
    {"The boxer defended his world title with a knockout in the seventh round in Las Vegas.", "The boxer defended his world title", "boxer keeps title", "8/10/2016", "2016-08-10", "sports"},
    {"The snooker championship final went to a deciding frame before the veteran won it.", "The snooker championship final", "veteran wins snooker final", "3/27/2017", "2017-03-27", "sports"},
};

static const article *article_by_heading(const char *heading) {
    for (size_t i = 0; i < ARRAY_LEN(corpus); i++)
        if (!strcmp(corpus[i].heading, heading)) return &corpus[i];
    return NULL;
}

static void write_corpus(const char *path) {
    buf csv = BUF_INIT;
    buf_puts(&csv, "Article,Date,Heading,NewsType\r\n");
    for (size_t i = 0; i < ARRAY_LEN(corpus); i++) {
        buf_putc(&csv, '"');
        for (const char *p = corpus[i].text; *p; p++) {
            if (*p == '"') buf_putc(&csv, '"');
            buf_putc(&csv, *p);
        }
        buf_printf(&csv, "\",%s,%s,%s\r\n", corpus[i].date_csv, corpus[i].heading, corpus[i].topic);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(csv.data, 1, csv.len, f), csv.len);
    assert_int_equal(fclose(f), 0);
    buf_free(&csv);
}

/* ---- processes ---- */

static char workdir[64], data_dir[128];
static ragd_proc model_a, model_b, gateway;
static int port_b; /* model B comes back on the same port */

static int run_ingest(const char *csv) {
    pid_t pid = harness_fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const char *bin = getenv("RAGD_BIN");
        execl(bin, bin, "ingest", "--csv", csv, "--data-dir", data_dir, "--threads", "1",
              "--no-progress", (char *)NULL);
        _exit(127);
    }
    return harness_wait(pid);
}

static const char *const model_args[] = {"model", "--threads", "1", "--llm-workers", "4", NULL};

static void kill9(ragd_proc *p) {
    assert_true(p->pid > 0);
    ragd_kill(p);
}

static void model_url(const ragd_proc *p, char *out, size_t outlen) { ragd_url(p, "", out, outlen); }

static int setup(void **state) {
    snprintf(workdir, sizeof workdir, "/tmp/ragd-test-gateway-XXXXXX");
    if (!mkdtemp(workdir)) return -1;
    snprintf(data_dir, sizeof data_dir, "%s/data", workdir);
    char csv[128];
    snprintf(csv, sizeof csv, "%s/articles.csv", workdir);
    write_corpus(csv);
    if (run_ingest(csv) != 0) {
        fprintf(stderr, "ragd ingest failed\n");
        return -1;
    }
    if (ragd_start(&model_a, model_args, 60) < 0) return -1;
    if (ragd_start(&model_b, model_args, 60) < 0) return -1;
    port_b = model_b.port;
    char url_a[64], url_b[64];
    model_url(&model_a, url_a, sizeof url_a);
    model_url(&model_b, url_b, sizeof url_b);
    const char *args[] = {"gateway", "--model-url", url_a, "--model-url", url_b, "--data-dir", data_dir,
                          "--health-interval", "0.2", "--workers", "4", NULL};
    return ragd_start(&gateway, args, 60);
}

static int teardown(void **state) {
    char *log = ragd_log(&gateway);
    int rc = ragd_stop(&gateway);
    if (rc != 0) fprintf(stderr, "ragd gateway exited with %d; its log:\n%s\n", rc, log);
    free(log);
    if (model_a.pid) ragd_stop(&model_a);
    if (model_b.pid) ragd_stop(&model_b);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", workdir);
    return rc == 0 ? 0 : -1;
}

/* ---- HTTP helpers ---- */

static void get(const ragd_proc *p, const char *path, http_reply *r) {
    char url[256];
    ragd_url(p, path, url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, r), 0);
}

static void ask(const char *body, const char *const *headers, http_reply *r) {
    char url[256];
    ragd_url(&gateway, "/ask", url, sizeof url);
    assert_int_equal(http_call("POST", url, "application/json", body, strlen(body), headers, r), 0);
}

static json_t *json_body(const http_reply *r) {
    json_error_t jerr;
    json_t *doc = json_loads(r->body.data, 0, &jerr);
    if (!doc) fprintf(stderr, "not JSON (%s): %s\n", jerr.text, r->body.data);
    assert_non_null(doc);
    return doc;
}

/* Each source must be a passage of the corpus written above, with the
 * metadata it was ingested with. */
static void assert_sources_from_store(json_t *sources, const char *topic) {
    assert_true(json_is_array(sources));
    assert_true(json_array_size(sources) > 0);
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        const char *heading = json_string_value(json_object_get(s, "heading"));
        assert_non_null(heading);
        const article *a = article_by_heading(heading);
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(s, "topic")), a->topic);
        assert_string_equal(json_string_value(json_object_get(s, "date")), a->date_iso);
        const char *text = json_string_value(json_object_get(s, "text"));
        assert_non_null(text);
        assert_non_null(strstr(text, a->start));
        assert_true(json_is_number(json_object_get(s, "score")));
        assert_true(json_is_integer(json_object_get(s, "id")));
        assert_true(json_is_string(json_object_get(s, "article_id")));
        if (topic) assert_string_equal(a->topic, topic);
    }
}

typedef struct sse_ev {
    char name[32];
    buf data;
} sse_ev;

/* Split an SSE body into events ("event:" and "data:" lines; data lines joined by '\n'). */
static int parse_sse(const char *body, sse_ev *out, int max) {
    int n = 0;
    const char *p = body;
    sse_ev cur = {{0}, BUF_INIT};
    bool has_data = false;
    while (*p && n < max) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len && p[len - 1] == '\r') len--;
        if (len == 0) {
            if (has_data) {
                if (!cur.name[0]) strcpy(cur.name, "message");
                out[n++] = cur;
            } else {
                buf_free(&cur.data);
            }
            memset(&cur, 0, sizeof cur);
            has_data = false;
        } else if (!strncmp(p, "event:", 6)) {
            const char *v = p + 6 + (p[6] == ' ');
            snprintf(cur.name, sizeof cur.name, "%.*s", (int)(len - (size_t)(v - p)), v);
        } else if (!strncmp(p, "data:", 5)) {
            const char *v = p + 5 + (p[5] == ' ');
            if (has_data) buf_putc(&cur.data, '\n');
            buf_append(&cur.data, v, len - (size_t)(v - p));
            has_data = true;
        }
        if (!eol) break;
        p = eol + 1;
    }
    buf_free(&cur.data);
    return n;
}

static void free_events(sse_ev *ev, int n) {
    for (int i = 0; i < n; i++) buf_free(&ev[i].data);
}

/* Sum of a metric's samples whose line contains every label given. */
static double metric_sum(const char *text, const char *name, const char *label1, const char *label2) {
    double sum = 0;
    size_t nlen = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char *l = xstrndup(line, len);
        if (!strncmp(l, name, nlen) && (l[nlen] == '{' || l[nlen] == ' ') &&
            (!label1 || strstr(l, label1)) && (!label2 || strstr(l, label2))) {
            const char *v = strrchr(l, ' ');
            if (v) sum += strtod(v + 1, NULL);
        }
        free(l);
        line = eol ? eol + 1 : NULL;
    }
    return sum;
}

static double encode_requests(const ragd_proc *model) {
    http_reply r;
    get(model, "/metrics", &r);
    assert_int_equal(r.status, 200);
    double n = metric_sum(r.body.data, "http_requests_total", "handler=\"/encode\"", "status=\"2xx\"");
    http_reply_free(&r);
    return n;
}

static double model_up_gauge(const ragd_proc *model) {
    char label[96];
    snprintf(label, sizeof label, "url=\"http://127.0.0.1:%d\"", model->port);
    http_reply r;
    get(&gateway, "/metrics", &r);
    double v = strstr(r.body.data, label) ? metric_sum(r.body.data, "ragd_model_up", label, NULL) : -1;
    http_reply_free(&r);
    return v;
}

static long ready_status(void) {
    http_reply r;
    get(&gateway, "/ready", &r);
    long s = r.status;
    http_reply_free(&r);
    return s;
}

/* Poll until /ready answers want (bounded; not a timing assertion). */
static void wait_ready(long want) {
    for (int i = 0; i < 600 && ready_status() != want; i++) usleep(50 * 1000);
    assert_int_equal(ready_status(), want);
}

/* ---- tests ---- */

static void health_lists_both_replicas(void **state) {
    http_reply r;
    get(&gateway, "/health", &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_body(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "role")), "gateway");
    assert_int_equal(json_integer_value(json_object_get(doc, "passages")), ARRAY_LEN(corpus));
    json_t *services = json_object_get(doc, "model_services");
    assert_int_equal(json_array_size(services), 2);
    size_t i;
    json_t *s;
    json_array_foreach(services, i, s) {
        assert_true(json_is_true(json_object_get(s, "up")));
        /* the replicas run the weights the store's vectors came from */
        assert_string_equal(json_string_value(json_object_get(s, "model")),
                            json_string_value(json_object_get(doc, "model")));
    }
    json_decref(doc);
    http_reply_free(&r);
    assert_int_equal(ready_status(), 200);
}

static void json_ask_answers_from_the_store(void **state) {
    const char *q = "{\"question\": \"Who took six wickets in the cricket Test?\", \"top_k\": 3, \"seed\": 7}";
    http_reply r;
    ask(q, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_body(&r);
    json_t *sources = json_object_get(doc, "sources");
    assert_int_equal(json_array_size(sources), 3);
    assert_sources_from_store(sources, NULL);
    const char *answer = json_string_value(json_object_get(doc, "answer"));
    assert_non_null(answer);
    assert_true(strlen(answer) > 0);
    json_t *t = json_object_get(doc, "timings_ms");
    const char *keys[] = {"encode", "search", "llm", "total"};
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) assert_true(json_is_number(json_object_get(t, keys[k])));
    http_reply_free(&r);

    /* the same question with the same seed gives the same answer: the seed
     * reaches the model service (whichever replica answers) */
    for (int i = 0; i < 2; i++) {
        ask(q, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *again = json_body(&r);
        assert_string_equal(json_string_value(json_object_get(again, "answer")), answer);
        json_decref(again);
        http_reply_free(&r);
    }
    json_decref(doc);
}

/* SSE: sources, then one token per source (the mock LLM: a piece of each
 * passage, in order), then done; the same seed as JSON gives the same text. */
static void sse_ask_streams_sources_tokens_done(void **state) {
    const char *q = "{\"question\": \"interest rates and the stock market\", \"top_k\": 4, \"seed\": 11";
    char body[256];
    snprintf(body, sizeof body, "%s, \"stream\": true}", q);
    http_reply r;
    ask(body, NULL, &r);
    assert_int_equal(r.status, 200);
    char *ctype = http_reply_header(&r, "Content-Type");
    assert_non_null(strstr(ctype, "text/event-stream"));
    free(ctype);
    sse_ev ev[64];
    int n = parse_sse(r.body.data, ev, 64);
    assert_true(n >= 3);
    assert_string_equal(ev[0].name, "sources");
    json_t *sources = json_loads(ev[0].data.data, 0, NULL);
    assert_non_null(sources);
    assert_sources_from_store(sources, NULL);
    int nsources = (int)json_array_size(sources);
    assert_int_equal(n, nsources + 2);
    buf joined = BUF_INIT;
    for (int i = 0; i < nsources; i++) {
        assert_string_equal(ev[1 + i].name, "token");
        const char *text = json_string_value(json_object_get(json_array_get(sources, (size_t)i), "text"));
        assert_non_null(strstr(text, ev[1 + i].data.data ? ev[1 + i].data.data : ""));
        if (joined.len && ev[1 + i].data.len) buf_putc(&joined, ' ');
        buf_append(&joined, ev[1 + i].data.data ? ev[1 + i].data.data : "", ev[1 + i].data.len);
    }
    assert_string_equal(ev[n - 1].name, "done");
    json_t *done = json_loads(ev[n - 1].data.data, 0, NULL);
    assert_true(json_is_object(json_object_get(done, "timings_ms")));
    json_decref(done);
    free_events(ev, n);
    http_reply_free(&r);

    /* Accept: text/event-stream asks for the stream too */
    snprintf(body, sizeof body, "%s}", q);
    const char *accept[] = {"Accept: text/event-stream", NULL};
    ask(body, accept, &r);
    assert_int_equal(r.status, 200);
    n = parse_sse(r.body.data, ev, 64);
    assert_int_equal(n, nsources + 2);
    assert_string_equal(ev[n - 1].name, "done");
    free_events(ev, n);
    http_reply_free(&r);

    /* the JSON answer for the same question and seed is the same text */
    ask(body, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_body(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "answer")), joined.data ? joined.data : "");
    json_t *again = json_object_get(doc, "sources");
    assert_int_equal(json_array_size(again), nsources);
    for (int i = 0; i < nsources; i++) /* scores are rounded differently in the two forms */
        assert_int_equal(json_integer_value(json_object_get(json_array_get(again, (size_t)i), "id")),
                         json_integer_value(json_object_get(json_array_get(sources, (size_t)i), "id")));
    json_decref(doc);
    http_reply_free(&r);
    buf_free(&joined);
    json_decref(sources);
}

static void topic_filter_keeps_to_its_partition(void **state) {
    const char *topics[] = {"business", "sports"};
    for (size_t t = 0; t < ARRAY_LEN(topics); t++) {
        char body[256];
        /* a question about the other topic: only the filter keeps it out */
        snprintf(body, sizeof body, "{\"question\": \"%s\", \"top_k\": 10, \"topic\": \"%s\"}",
                 t == 0 ? "cricket wickets football tennis" : "oil prices interest rates stock market",
                 topics[t]);
        http_reply r;
        ask(body, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *doc = json_body(&r);
        assert_sources_from_store(json_object_get(doc, "sources"), topics[t]);
        json_decref(doc);
        http_reply_free(&r);
    }
    http_reply r;
    ask("{\"question\": \"anything\", \"topic\": \"politics\"}", NULL, &r);
    assert_json_error(&r, 422, NULL);
    http_reply_free(&r);
}

static void round_robin_spreads_encode_over_both(void **state) {
    double a0 = encode_requests(&model_a), b0 = encode_requests(&model_b);
    enum { N = 10 };
    for (int i = 0; i < N; i++) {
        http_reply r;
        ask("{\"question\": \"gold and the dollar\", \"top_k\": 2}", NULL, &r);
        assert_int_equal(r.status, 200);
        http_reply_free(&r);
    }
    double a1 = encode_requests(&model_a), b1 = encode_requests(&model_b);
    assert_true(a1 > a0);
    assert_true(b1 > b0);
    assert_int_equal((int)(a1 - a0 + b1 - b0), N); /* one /encode per question, none lost or doubled */
}

static void bad_requests_get_json_4xx(void **state) {
    char url[256];
    ragd_url(&gateway, "/ask", url, sizeof url);
    http_reply r;
    struct {
        const char *ctype, *body;
        long status;
    } cases[] = {
        {"application/json", "{\"question\": ", 400},                 /* malformed JSON */
        {"application/json", "[1, 2]", 400},                          /* not an object */
        {"text/plain", "{\"question\": \"hi\"}", 415},                /* wrong content type */
        {"application/json", "{}", 422},                              /* no question */
        {"application/json", "{\"question\": 42}", 400},              /* wrong type */
        {"application/json", "{\"question\": \"  \\n \"}", 422},      /* empty question */
        {"application/json", "{\"question\": \"hi\", \"top_k\": \"5\"}", 400},
        {"application/json", "{\"question\": \"hi\", \"top_k\": 0}", 422},
        {"application/json", "{\"question\": \"hi\", \"top_k\": 100000}", 422},
        {"application/json", "{\"question\": \"hi\", \"topic\": 3}", 400},
        {"application/json", "{\"question\": \"hi\", \"mode\": \"fuzzy\"}", 422},
        {"application/json", "{\"question\": \"hi\", \"stream\": \"yes\"}", 400},
        {"application/json", "{\"question\": \"hi\", \"seed\": -1}", 400},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(http_call("POST", url, cases[i].ctype, cases[i].body, strlen(cases[i].body), NULL, &r), 0);
        assert_json_error(&r, cases[i].status, NULL);
        http_reply_free(&r);
    }
    /* a question over the size limit, and a body over the route's limit */
    size_t big = 200 * 1024;
    char *text = xmalloc(big + 64);
    int k = snprintf(text, 64, "{\"question\": \"");
    memset(text + k, 'a', big);
    strcpy(text + k + 8192, "\"}");
    assert_int_equal(http_call("POST", url, "application/json", text, strlen(text), NULL, &r), 0);
    assert_json_error(&r, 413, NULL);
    http_reply_free(&r);
    memset(text + k, 'a', big);
    strcpy(text + k + big, "\"}");
    assert_int_equal(http_call("POST", url, "application/json", text, strlen(text), NULL, &r), 0);
    assert_json_error(&r, 413, NULL);
    http_reply_free(&r);
    free(text);
    /* wrong method, unknown route */
    get(&gateway, "/ask", &r);
    assert_json_error(&r, 405, NULL);
    http_reply_free(&r);
    get(&gateway, "/encode", &r); /* the gateway does not serve the model routes */
    assert_json_error(&r, 404, NULL);
    http_reply_free(&r);
    /* nothing was harmed */
    ask("{\"question\": \"tennis final\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
}

/* A separate gateway in front of one replica that refuses long texts and,
 * later, stops answering (SIGSTOP): the replica's own 4xx comes back as 502
 * with its message, a stalled call as 504; both as JSON. Its probes run
 * once, so the stall is met by a request, not hidden by a health check.
 *
 * The replica is paused with ragd_pause, which returns only once every one
 * of its threads has stopped. A bare kill(SIGSTOP) returns as soon as the
 * kernel has woken one thread to begin the group stop; on a loaded machine
 * that thread may wait for a CPU while the replica's HTTP and encoder
 * threads go on answering, so the request meant to stall got 200.
 *
 * Its own setup and teardown: the teardown continues and stops both
 * processes even when an assertion failed half-way. */
static ragd_proc strict, gw2;

static int start_strict_pair(void **state) {
    (void)state;
    const char *strict_args[] = {"model", "--threads", "1", "--max-text-kb", "1", NULL};
    memset(&strict, 0, sizeof strict);
    memset(&gw2, 0, sizeof gw2);
    if (ragd_start(&strict, strict_args, 60) < 0) return -1;
    char url[64];
    model_url(&strict, url, sizeof url);
    const char *gw_args[] = {"gateway", "--model-url", url, "--data-dir", data_dir, "--health-interval", "1000",
                             "--upstream-timeout", "2", "--workers", "2", NULL};
    return ragd_start(&gw2, gw_args, 60);
}

static int stop_strict_pair(void **state) {
    (void)state;
    int rc = 0;
    if (gw2.pid > 0) {
        char *log = ragd_log(&gw2);
        rc = ragd_stop(&gw2);
        if (rc != 0) fprintf(stderr, "second gateway exited with %d; its log:\n%s\n", rc, log);
        free(log);
    }
    if (strict.pid > 0) ragd_stop(&strict); /* continues it first if it is still paused */
    return rc == 0 ? 0 : -1;
}

static void upstream_failures_map_to_502_and_504(void **state) {
    char ask_url[256];
    ragd_url(&gw2, "/ask", ask_url, sizeof ask_url);

    const char *ok = "{\"question\": \"hockey qualifier\"}";
    http_reply r;
    assert_int_equal(http_call("POST", ask_url, "application/json", ok, strlen(ok), NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);

    buf long_q = BUF_INIT;
    buf_puts(&long_q, "{\"question\": \"");
    for (int i = 0; i < 200; i++) buf_puts(&long_q, "cricket ");
    buf_puts(&long_q, "\"}");
    assert_int_equal(http_call("POST", ask_url, "application/json", long_q.data, long_q.len, NULL, &r), 0);
    assert_json_error(&r, 502, NULL);
    assert_non_null(strstr(r.body.data, "the limit is")); /* the replica's own words */
    http_reply_free(&r);
    buf_free(&long_q);

    assert_int_equal(ragd_pause(&strict), 0);
    assert_int_equal(http_call("POST", ask_url, "application/json", ok, strlen(ok), NULL, &r), 0);
    assert_json_error(&r, 504, NULL);
    assert_non_null(strstr(r.body.data, "did not answer"));
    http_reply_free(&r);
    assert_int_equal(ragd_resume(&strict), 0);

    /* continued, it answers again: the stall did not mark it down */
    assert_int_equal(http_call("POST", ask_url, "application/json", ok, strlen(ok), NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
}

static void one_replica_killed_requests_keep_succeeding(void **state) {
    assert_true(model_up_gauge(&model_a) == 1);
    ragd_proc dead = model_a;
    kill9(&model_a);
    /* every question still succeeds: one that picks the dead replica is
     * retried on the live one */
    for (int i = 0; i < 10; i++) {
        http_reply r;
        ask(i % 2 ? "{\"question\": \"marathon record\", \"stream\": true}" : "{\"question\": \"marathon record\"}",
            NULL, &r);
        assert_int_equal(r.status, 200);
        if (i % 2) {
            sse_ev ev[32];
            int n = parse_sse(r.body.data, ev, 32);
            assert_true(n >= 2);
            assert_string_equal(ev[n - 1].name, "done");
            free_events(ev, n);
        }
        http_reply_free(&r);
    }
    for (int i = 0; i < 600 && model_up_gauge(&dead) != 0; i++) usleep(50 * 1000);
    assert_true(model_up_gauge(&dead) == 0);
    assert_true(model_up_gauge(&model_b) == 1);
    http_reply r;
    get(&gateway, "/health", &r);
    json_t *doc = json_body(&r);
    assert_int_equal(json_integer_value(json_object_get(doc, "model_services_up")), 1);
    json_t *a = json_array_get(json_object_get(doc, "model_services"), 0);
    assert_true(json_is_false(json_object_get(a, "up")));
    assert_true(json_is_string(json_object_get(a, "error")));
    json_decref(doc);
    http_reply_free(&r);
    assert_int_equal(ready_status(), 200);
}

static void both_killed_errors_are_quick_json(void **state) {
    ragd_proc dead = model_b;
    kill9(&model_b);
    for (int i = 0; i < 5; i++) {
        http_reply r;
        ask("{\"question\": \"snooker final\"}", NULL, &r);
        assert_true(r.status == 502 || r.status == 503);
        assert_json_error(&r, r.status, NULL);
        http_reply_free(&r);
    }
    wait_ready(503);
    for (int i = 0; i < 600 && model_up_gauge(&dead) != 0; i++) usleep(50 * 1000);
    assert_true(model_up_gauge(&dead) == 0);
    /* once both are known down: 503 */
    http_reply r;
    ask("{\"question\": \"snooker final\"}", NULL, &r);
    assert_json_error(&r, 503, NULL);
    http_reply_free(&r);
    /* a stream reports the failure as an error event */
    ask("{\"question\": \"snooker final\", \"stream\": true}", NULL, &r);
    sse_ev ev[8];
    int n = parse_sse(r.body.data, ev, 8);
    assert_true(n >= 1);
    assert_string_equal(ev[n - 1].name, "error");
    json_t *err = json_loads(ev[n - 1].data.data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "error"), "code")), "unavailable");
    json_decref(err);
    free_events(ev, n);
    http_reply_free(&r);
    /* lexical search needs no model service for the sources, but the answer does */
    ask("{\"question\": \"snooker final\", \"mode\": \"lexical\"}", NULL, &r);
    assert_json_error(&r, 503, NULL);
    http_reply_free(&r);
}

static void restarted_replica_is_used_again(void **state) {
    assert_int_equal(ragd_start_at(&model_b, model_args, port_b, 60), 0);
    wait_ready(200);
    assert_true(model_up_gauge(&model_b) == 1);
    double b0 = encode_requests(&model_b);
    for (int i = 0; i < 4; i++) {
        http_reply r;
        ask("{\"question\": \"boxer world title\", \"top_k\": 2}", NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *doc = json_body(&r);
        assert_sources_from_store(json_object_get(doc, "sources"), NULL);
        json_decref(doc);
        http_reply_free(&r);
    }
    assert_int_equal((int)(encode_requests(&model_b) - b0), 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_lists_both_replicas),
        cmocka_unit_test(json_ask_answers_from_the_store),
        cmocka_unit_test(sse_ask_streams_sources_tokens_done),
        cmocka_unit_test(topic_filter_keeps_to_its_partition),
        cmocka_unit_test(round_robin_spreads_encode_over_both),
        cmocka_unit_test(bad_requests_get_json_4xx),
        cmocka_unit_test_setup_teardown(upstream_failures_map_to_502_and_504, start_strict_pair,
                                        stop_strict_pair),
        cmocka_unit_test(one_replica_killed_requests_keep_succeeding),
        cmocka_unit_test(both_killed_errors_are_quick_json),
        cmocka_unit_test(restarted_replica_is_used_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
