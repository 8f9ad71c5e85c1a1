/* cmd_eval — `ragd eval --qrels FILE`: how well retrieval finds the article
 * each question is about. FILE is JSONL, one {"question", "article_id",
 * "kind"?} per line (article_id: the corpus's, as the store records it).
 * Every question is searched in every mode asked for — "default" (what /ask
 * does when the request names no mode, retrieval.h), hybrid, vector,
 * lexical — either in this process against a store (--data-dir) or through
 * a running server's POST /ask (--url), and scored with eval_metrics.h:
 * R@1/5/10, MRR@10 and nDCG@10, per kind and over all questions, and how
 * many questions got fewer than 10 sources ("short"). Prints a table, or one
 * JSON document with --json.
 *
 * The BM25F parameters can be overridden in-process (--bm25-k1, --bm25-b,
 * --heading-weight) for tuning runs; the answers of /ask are the server's
 * own settings. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "app/eval_metrics.h"
#include "app/role.h"
#include "app/retrieval.h"
#include "model/encoder.h"
#include "obs/curl_global.h"
#include "obs/log.h"
#include "app/store_open.h"
#include "store/documents.h"
#include "util/buf.h"
#include "util/util.h"

#define EVAL_K 10 /* sources per question: what R@10, MRR@10 and nDCG@10 need */
#define MAX_MODES 4
#define MAX_KINDS 16

typedef struct question {
    char *text, *article_id, *kind;
} question;

typedef struct qrels {
    question *q;
    int n, cap;
    const char *kinds[MAX_KINDS]; /* distinct kinds, in first-seen order */
    int nkinds;
} qrels;

/* A mode to evaluate: its name in the output and what /ask is sent. */
typedef struct eval_mode {
    const char *name;
    bool is_default; /* no mode in the request */
    search_mode mode;
} eval_mode;

typedef struct eval_config {
    const char *url;            /* NULL: in-process */
    int max_per_article;        /* -1: the default of /ask */
    const store_bm25_params *bm25;
} eval_config;

static void qrels_free(qrels *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->q[i].text);
        free(r->q[i].article_id);
        free(r->q[i].kind);
    }
    free(r->q);
}

/* Read FILE; -1 with a message naming the line on any malformed one. */
static int qrels_load(const char *path, qrels *r) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ragd eval: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        const char *qt = o ? json_string_value(json_object_get(o, "question")) : NULL;
        json_t *aid = o ? json_object_get(o, "article_id") : NULL;
        json_t *kind = o ? json_object_get(o, "kind") : NULL;
        char idbuf[32];
        const char *id = NULL;
        if (json_is_string(aid)) id = json_string_value(aid);
        else if (json_is_integer(aid)) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(aid));
            id = idbuf;
        }
        if (!qt || !*qt || !id || (kind && !json_is_null(kind) && !json_is_string(kind))) {
            fprintf(stderr,
                    "ragd eval: %s:%d: want {\"question\": string, \"article_id\": string, "
                    "\"kind\"?: string}%s%s\n",
                    path, lineno, o ? "" : ": ", o ? "" : je.text);
            json_decref(o);
            rc = -1;
            break;
        }
        const char *k = json_is_string(kind) ? json_string_value(kind) : "";
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 256;
            r->q = xrealloc(r->q, (size_t)r->cap * sizeof *r->q);
        }
        question *q = &r->q[r->n++];
        q->text = xstrdup(qt);
        q->article_id = xstrdup(id);
        q->kind = xstrdup(k);
        json_decref(o); /* k pointed into it: from here on, q->kind */
        bool known = !*q->kind;
        for (int i = 0; i < r->nkinds && !known; i++) known = !strcmp(r->kinds[i], q->kind);
        if (!known && r->nkinds < MAX_KINDS) r->kinds[r->nkinds++] = q->kind;
        else if (!known && r->nkinds == MAX_KINDS)
            fprintf(stderr, "ragd eval: more than %d kinds; '%s' counts in \"all\" only\n",
                    MAX_KINDS, q->kind);
    }
    free(line);
    fclose(f);
    if (rc == 0 && r->n == 0) {
        fprintf(stderr, "ragd eval: %s holds no question\n", path);
        rc = -1;
    }
    return rc;
}

static int parse_modes(const char *list, eval_mode *modes) {
    int n = 0;
    char *copy = xstrdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_MODES) break;
        eval_mode m = {.name = NULL};
        if (!strcmp(t, "default")) m = (eval_mode){"default", true, SEARCH_HYBRID};
        else if (!strcmp(t, "hybrid")) m = (eval_mode){"hybrid", false, SEARCH_HYBRID};
        else if (!strcmp(t, "vector")) m = (eval_mode){"vector", false, SEARCH_VECTOR};
        else if (!strcmp(t, "lexical")) m = (eval_mode){"lexical", false, SEARCH_LEXICAL};
        else {
            fprintf(stderr, "ragd eval: --mode takes default, hybrid, vector, lexical; got '%s'\n", t);
            free(copy);
            return -1;
        }
        modes[n++] = m;
    }
    free(copy);
    if (n == 0) fprintf(stderr, "ragd eval: --mode names no mode\n");
    return n ? n : -1;
}

/* ---- one question through a running server ---------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx) {
    buf_append(ctx, data, size * nmemb);
    return size * nmemb;
}

/* The article ids of /ask's sources for q, into ids (room for EVAL_K, freed
 * by the caller). Returns their count, or -1 with a message. */
static int ask_server(CURL *curl, const eval_config *c, const eval_mode *m, const char *q,
                      char **ids) {
    json_t *req = json_pack("{s:s, s:i}", "question", q, "top_k", EVAL_K);
    if (!m->is_default) json_object_set_new(req, "mode", json_string(retrieval_mode_name(m->mode)));
    if (c->max_per_article >= 0)
        json_object_set_new(req, "max_per_article", json_integer(c->max_per_article));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    buf url = BUF_INIT, resp = BUF_INIT;
    size_t ul = strlen(c->url);
    buf_append(&url, c->url, ul && c->url[ul - 1] == '/' ? ul - 1 : ul);
    buf_puts(&url, "/ask");
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    free(body);
    int n = -1;
    json_t *o = rc == CURLE_OK && status == 200 ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
    json_t *sources = json_object_get(o, "sources");
    if (rc != CURLE_OK)
        fprintf(stderr, "ragd eval: POST %s: %s\n", url.data, curl_easy_strerror(rc));
    else if (!json_is_array(sources))
        fprintf(stderr, "ragd eval: POST %s answered %ld: %.*s\n", url.data, status,
                (int)(resp.len > 300 ? 300 : resp.len), resp.data ? resp.data : "");
    else {
        n = 0;
        for (size_t i = 0; i < json_array_size(sources) && n < EVAL_K; i++) {
            const char *id = json_string_value(json_object_get(json_array_get(sources, i), "article_id"));
            ids[n++] = xstrdup(id ? id : "");
        }
    }
    json_decref(o);
    buf_free(&url);
    buf_free(&resp);
    return n;
}

/* ---- report ------------------------------------------------------------- */

static void print_table(const eval_mode *modes, int nmodes, const qrels *r,
                        eval_totals (*t)[MAX_KINDS + 1], const int *short_lists) {
    printf("%-8s %-14s %5s %6s %6s %6s %7s %8s %6s\n", "mode", "kind", "n", "R@1", "R@5", "R@10",
           "MRR@10", "nDCG@10", "short");
    for (int m = 0; m < nmodes; m++)
        for (int k = 0; k <= r->nkinds; k++) {
            eval_totals e = eval_mean(&t[m][k]);
            if (k > 0 && e.n == 0) continue;
            printf("%-8s %-14s %5d %6.3f %6.3f %6.3f %7.3f %8.3f", modes[m].name,
                   k == 0 ? "all" : r->kinds[k - 1], e.n, e.r1, e.r5, e.r10, e.mrr10, e.ndcg10);
            if (k == 0) printf(" %6d", short_lists[m]);
            putchar('\n');
        }
}

static void print_json(const eval_mode *modes, int nmodes, const qrels *r,
                       eval_totals (*t)[MAX_KINDS + 1], const int *short_lists,
                       const char *qrels_path, const eval_config *c) {
    json_t *out = json_pack("{s:s, s:i, s:s}", "qrels", qrels_path, "top_k", EVAL_K, "against",
                            c->url ? c->url : "store");
    json_t *res = json_array();
    for (int m = 0; m < nmodes; m++)
        for (int k = 0; k <= r->nkinds; k++) {
            eval_totals e = eval_mean(&t[m][k]);
            if (k > 0 && e.n == 0) continue;
            json_array_append_new(
                res, json_pack("{s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:f}", "mode", modes[m].name,
                               "kind", k == 0 ? "all" : r->kinds[k - 1], "n", e.n, "r1", e.r1,
                               "r5", e.r5, "r10", e.r10, "mrr10", e.mrr10, "ndcg10", e.ndcg10));
            if (k == 0)
                json_object_set_new(json_array_get(res, json_array_size(res) - 1), "short",
                                    json_integer(short_lists[m]));
        }
    json_object_set_new(out, "results", res);
    char *s = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(4));
    puts(s);
    free(s);
    json_decref(out);
}

int cmd_eval(int argc, char **argv) {
    const char *qrels_path = "", *url = "", *model_dir = NULL;
    const char *mode_list = "default,hybrid,vector,lexical";
    int threads = 0, max_per_article = -1;
    double k1 = 0, b = -1, heading_weight = -1, article_weight = -1;
    bool json = false;
    const option_spec specs[] = {
        {"qrels", NULL, OPT_STRING, &qrels_path, "JSONL questions {\"question\", \"article_id\", \"kind\"?}", 0, 0},
        {"url", NULL, OPT_STRING, &url, "a running ragd (serve or gateway): ask its POST /ask instead of a store", 0, 0},
        {"mode", NULL, OPT_STRING, &mode_list, "comma-separated: default (as /ask), hybrid, vector, lexical", 0, 0},
        {"max-per-article", NULL, OPT_INT, &max_per_article, "sources of one article at most (-1: the /ask default, 0: no cap)", -1, RETRIEVAL_MAX_PER_ARTICLE_LIMIT},
        {"bm25-k1", NULL, OPT_DOUBLE, &k1, "BM25F k1 for a tuning run (0: the store's; without --url)", 0, 0},
        {"bm25-b", NULL, OPT_DOUBLE, &b, "BM25F body length normalisation b in [0, 1] (-1: the store's)", 0, 0},
        {"heading-weight", NULL, OPT_DOUBLE, &heading_weight, "BM25F heading field weight (-1: the store's)", 0, 0},
        {"article-weight", NULL, OPT_DOUBLE, &article_weight, "weight of the article field: each passage adds its whole article's BM25F times this (-1: the default, 0: passages alone)", 0, 0},
        {"json", NULL, OPT_BOOL, &json, "print the results as one JSON document", 0, 0},
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &model_dir, "all-MiniLM-L6-v2 folder, for modes with vectors (without --url)", 0, 0},
        {"threads", "RAGD_THREADS", OPT_INT, &threads, "encoder threads (0: one per core)", 0, 1024},
    };
    role cmd;
    role_init(&cmd, "eval", "--qrels FILE",
              "Measure R@1/5/10, MRR@10 and nDCG@10 of retrieval on questions with known "
              "articles, per mode and kind.");
    cmd.log_level = "warn"; /* the table is the output; a line per question is noise */
    options_add_all(&cmd.options, specs, ARRAY_LEN(specs));
    store_opts so;
    store_opts_add(&cmd.options, &so, "store directory (without --url)");
    if (!role_begin(&cmd, argc, argv)) return role_end(&cmd, cmd.exit_status);
    int rc;
    if (!*qrels_path) {
        fprintf(stderr, "ragd eval: give --qrels FILE (and no other argument), see 'ragd eval --help'\n");
        return role_end(&cmd, 2);
    }
    bool tuned = k1 != 0 || b >= 0 || heading_weight >= 0 || article_weight >= 0;
    if (k1 < 0 || b > 1 || (b < 0 && b != -1) || (heading_weight < 0 && heading_weight != -1) ||
        (article_weight < 0 && article_weight != -1)) {
        fprintf(stderr, "ragd eval: --bm25-k1 must be > 0, --bm25-b in [0, 1], --heading-weight >= 0\n");
        return role_end(&cmd, 2);
    }
    if (*url && tuned) {
        fprintf(stderr, "ragd eval: --bm25-k1, --bm25-b and --heading-weight tune an in-process store; "
                        "drop --url\n");
        return role_end(&cmd, 2);
    }
    eval_mode modes[MAX_MODES];
    int nmodes = parse_modes(mode_list, modes);
    if (nmodes < 0) return role_end(&cmd, 2);
    qrels r = {0};
    if (qrels_load(qrels_path, &r) < 0) {
        qrels_free(&r);
        return role_end(&cmd, 2);
    }

    char err[1024];
    store *st = NULL;
    const store_view *s = NULL; /* one view for the whole run */
    encoder *enc = NULL;
    CURL *curl = NULL;
    store_bm25_params params;
    eval_config c = {.url = *url ? url : NULL, .max_per_article = max_per_article};
    rc = 1;
    if (c.url) {
        if (curl_global_ready("ragd eval", err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            goto out;
        }
        if (!(curl = curl_easy_init())) {
            fprintf(stderr, "ragd eval: cannot initialise libcurl\n");
            goto out;
        }
    } else {
        if (store_opts_check(&so, "eval") < 0) {
            rc = 2;
            goto out;
        }
        if (!(st = store_opts_open(&so, NULL, false, err, sizeof err, &rc))) {
            fprintf(stderr, "ragd eval: %s\n", err);
            goto out;
        }
        rc = 1;
        s = store_acquire(st);
        bool need_vectors = false;
        for (int m = 0; m < nmodes; m++) {
            if (modes[m].is_default) modes[m].mode = retrieval_default_mode(s);
            need_vectors |= modes[m].mode != SEARCH_LEXICAL;
        }
        if (need_vectors) {
            if (!(enc = encoder_open(model_dir, threads, err, sizeof err))) {
                fprintf(stderr, "ragd eval: %s\n", err);
                goto out;
            }
            const char *identity = encoder_identity(encoder_get_info(enc));
            if (strcmp(identity, store_model(s)) != 0) {
                fprintf(stderr, "ragd eval: the store holds vectors of \"%s\" but the encoder is "
                                "\"%s\"; evaluate --mode lexical or use the store's model\n",
                        store_model(s), identity);
                goto out;
            }
        }
        if (tuned) {
            /* Unset parameters keep the defaults the store was built with. */
            params = store_bm25(s);
            if (k1 > 0) params.k1 = (float)k1;
            if (b >= 0) params.b = (float)b;
            if (heading_weight >= 0) params.heading_weight = (float)heading_weight;
            if (article_weight >= 0) params.article_weight = (float)article_weight;
            c.bm25 = &params;
        }
    }

    eval_totals (*totals)[MAX_KINDS + 1] = xcalloc((size_t)nmodes, sizeof *totals);
    int short_lists[MAX_MODES] = {0}; /* questions given fewer than EVAL_K sources */
    float vec[ENCODER_DIM];
    search_hit hits[EVAL_K];
    char *ids[EVAL_K];
    int failed = 0;
    for (int i = 0; i < r.n && !failed; i++) {
        const question *q = &r.q[i];
        bool have_vec = false;
        int kind = 0;
        for (int k = 0; k < r.nkinds; k++)
            if (!strcmp(r.kinds[k], q->kind)) kind = k + 1;
        for (int m = 0; m < nmodes && !failed; m++) {
            int n;
            if (c.url) {
                n = ask_server(curl, &c, &modes[m], q->text, ids);
                if (n < 0) {
                    failed = 1;
                    break;
                }
            } else {
                store_query sq = {.text = q->text, .text_len = strlen(q->text), .k = EVAL_K,
                                  .mode = modes[m].mode,
                                  .max_per_article = max_per_article < 0
                                                         ? RETRIEVAL_DEFAULT_MAX_PER_ARTICLE
                                                         : max_per_article,
                                  .bm25 = c.bm25};
                retrieval_set_fusion(s, &sq);
                if (sq.mode != SEARCH_LEXICAL) {
                    size_t len = strlen(q->text);
                    if (!have_vec &&
                        encoder_embed(enc, 1, (const char *const *)&q->text, &len, vec, NULL, err,
                                      sizeof err) < 0) {
                        fprintf(stderr, "ragd eval: %s\n", err);
                        failed = 1;
                        break;
                    }
                    have_vec = true;
                    sq.vector = vec;
                }
                n = store_search(s, &sq, hits, err, sizeof err);
                if (n < 0) {
                    fprintf(stderr, "ragd eval: %s\n", err);
                    failed = 1;
                    break;
                }
                for (int h = 0; h < n; h++) {
                    store_passage p;
                    store_get(s, hits[h].passage_id, &p);
                    ids[h] = xstrdup(p.article_id);
                }
            }
            short_lists[m] += n < EVAL_K;
            int rank = eval_first_rank((const char *const *)ids, n, q->article_id);
            eval_add(&totals[m][0], rank);
            if (kind) eval_add(&totals[m][kind], rank);
            for (int h = 0; h < n; h++) free(ids[h]);
        }
    }
    if (!failed) {
        if (json) print_json(modes, nmodes, &r, totals, short_lists, qrels_path, &c);
        else print_table(modes, nmodes, &r, totals, short_lists);
        rc = 0;
    }
    free(totals);
out:
    if (curl) curl_easy_cleanup(curl);
    if (enc) encoder_close(enc);
    store_release(s);
    store_close(st);
    qrels_free(&r);
    return role_end(&cmd, rc);
}
