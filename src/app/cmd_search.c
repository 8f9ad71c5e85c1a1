/* cmd_search — `ragd search "text"`: the passages of the store that best
 * match a query, ranked exactly as /ask retrieves them (the default mode,
 * fusion weight and article cap come from retrieval.h; --mode picks a half).
 * Prints one hit per paragraph (rank, score, topic, date, heading, a
 * snippet), or one JSON object per line with --json, which also says where
 * each hit came from (lexical and vector rank and score). The encoder is
 * opened only when the mode needs a query vector. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "app/retrieval.h"
#include "app/role.h"
#include "model/encoder.h"
#include "obs/log.h"
#include "app/store_open.h"
#include "store/documents.h"
#include "util/buf.h"
#include "util/util.h"

enum { SNIPPET_BYTES = 240 };

/* The first SNIPPET_BYTES of text on one line, cut at a character boundary. */
static void snippet(const char *text, buf *out) {
    size_t n = strlen(text);
    size_t cut = n > SNIPPET_BYTES ? SNIPPET_BYTES : n;
    while (cut < n && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
    for (size_t i = 0; i < cut; i++) buf_putc(out, text[i] == '\n' ? ' ' : text[i]);
    if (cut < n) buf_puts(out, "\xE2\x80\xA6");
}

static void print_hit(int rank, const search_hit *h, const store_passage *p, bool json) {
    buf line = BUF_INIT;
    if (json) {
        buf_printf(&line, "{\"rank\":%d,\"id\":%u,\"score\":%.6g,\"article_id\":\"", rank,
                   h->passage_id, (double)h->score);
        buf_json_escape(&line, p->article_id, strlen(p->article_id));
        buf_printf(&line, "\",\"passage_index\":%d,\"topic\":\"", p->passage_index);
        buf_json_escape(&line, p->topic, strlen(p->topic));
        buf_puts(&line, "\",\"date\":\"");
        buf_json_escape(&line, p->date, strlen(p->date));
        buf_puts(&line, "\",\"heading\":\"");
        buf_json_escape(&line, p->heading, strlen(p->heading));
        buf_puts(&line, "\",\"text\":\"");
        buf_json_escape(&line, p->text, strlen(p->text));
        buf_printf(&line, "\",\"lexical_rank\":%d,\"lexical_score\":%.6g,\"vector_rank\":%d,"
                          "\"vector_score\":%.6g}\n",
                   h->lexical_rank, (double)h->lexical_score, h->vector_rank,
                   (double)h->vector_score);
    } else {
        buf_printf(&line, "%2d. %.4f  %-8s  %s  %s  [article %s, passage %d]\n    ", rank,
                   (double)h->score, p->topic, p->date, p->heading, p->article_id,
                   p->passage_index);
        snippet(p->text, &line);
        buf_puts(&line, "\n\n");
    }
    fwrite(line.data, 1, line.len, stdout);
    buf_free(&line);
}

int cmd_search(int argc, char **argv) {
    const char *model_dir = NULL;
    const char *topic = NULL;
    const char *mode_name = "default";
    const char *date_from = "", *date_to = "";
    int k = 5, threads = 0, max_per_article = RETRIEVAL_DEFAULT_MAX_PER_ARTICLE;
    bool json = false, approximate = false;
    const option_spec specs[] = {
        {"top-k", NULL, OPT_INT, &k, "hits to print", 1, STORE_MAX_K},
        {"k", NULL, OPT_INT, &k, "same as --top-k", 1, STORE_MAX_K},
        {"topic", NULL, OPT_STRING, &topic, "search only this partition (business, sports)", 0, 0},
        {"mode", NULL, OPT_STRING, &mode_name,
         "default (what /ask does: hybrid, fused for this store), hybrid, vector or lexical", 0, 0},
        {"max-per-article", "RAGD_MAX_PER_ARTICLE", OPT_INT, &max_per_article,
         "hits of one article at most (0: no cap)", 0, RETRIEVAL_MAX_PER_ARTICLE_LIMIT},
        {"date-from", NULL, OPT_STRING, &date_from, "only passages dated on or after YYYY-MM-DD", 0, 0},
        {"date-to", NULL, OPT_STRING, &date_to, "only passages dated on or before YYYY-MM-DD", 0, 0},
        {"approximate", NULL, OPT_BOOL, &approximate, "vector half through HNSW instead of exact", 0, 0},
        {"json", NULL, OPT_BOOL, &json, "one JSON object per hit", 0, 0},
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &model_dir,
         "all-MiniLM-L6-v2 folder (default: ./models, then ../shared/models)", 0, 0},
        {"threads", "RAGD_THREADS", OPT_INT, &threads, "encoder threads (0: one per core)", 0, 1024},
    };
    role r;
    role_init(&r, "search", "\"query text\"", "Print the passages of the store that best match the query.");
    options_add_all(&r.options, specs, ARRAY_LEN(specs));
    store_opts so;
    store_opts_add(&r.options, &so, "store directory");
    r.max_positional = INT_MAX; /* exactly one, with its own message below */
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
    int npos = r.npositional, rc;
    if (npos != 1) {
        fprintf(stderr, "ragd search: give exactly one query (quote it), see 'ragd search --help'\n");
        return role_end(&r, 2);
    }
    const char *query = argv[1];
    search_mode mode = SEARCH_HYBRID;
    bool default_mode = !strcmp(mode_name, "default");
    if (!default_mode && retrieval_parse_mode(mode_name, &mode) < 0) {
        fprintf(stderr,
                "ragd search: --mode must be default, hybrid, vector or lexical, got '%s'\n",
                mode_name);
        return role_end(&r, 2);
    }
    const char *dates[2] = {*date_from ? date_from : NULL, *date_to ? date_to : NULL};
    for (int i = 0; i < 2; i++)
        if (dates[i] && !store_valid_date(dates[i])) {
            fprintf(stderr, "ragd search: --date-%s must be a date YYYY-MM-DD, got '%s'\n",
                    i ? "to" : "from", dates[i]);
            return role_end(&r, 2);
        }
    if (dates[0] && dates[1] && strcmp(dates[0], dates[1]) > 0) {
        fprintf(stderr, "ragd search: --date-from %s is after --date-to %s\n", dates[0], dates[1]);
        return role_end(&r, 2);
    }
    if (topic && !*topic) topic = NULL;
    if (store_opts_check(&so, "search") < 0) return role_end(&r, 2);
    char err[1024], where[300];
    store_opts_where(&so, where, sizeof where);
    encoder *enc = NULL;
    int open_status = 1;
    store *st = store_opts_open(&so, NULL, false, err, sizeof err, &open_status);
    if (!st) {
        fprintf(stderr, "ragd search: %s\n", err);
        return role_end(&r, open_status);
    }
    const store_view *s = store_acquire(st);
    if (default_mode) mode = retrieval_default_mode(s);
    rc = 1;
    float vec[ENCODER_DIM];
    search_hit *hits = xmalloc((size_t)k * sizeof *hits);
    store_query q = {.text = query, .text_len = strlen(query), .topic = topic, .k = k,
                     .mode = mode, .approximate = approximate, .date_from = dates[0],
                     .date_to = dates[1], .max_per_article = max_per_article};
    retrieval_set_fusion(s, &q);
    if (topic && !store_has_topic(s, topic)) {
        const char *const *names;
        int nt = store_topics(s, &names);
        buf known = BUF_INIT;
        for (int i = 0; i < nt; i++) buf_printf(&known, "%s%s", i ? ", " : "", names[i]);
        fprintf(stderr, "ragd search: no topic '%s' in the store (topics: %s)\n", topic,
                known.len ? known.data : "none");
        buf_free(&known);
        goto out;
    }
    if (mode != SEARCH_LEXICAL) {
        if (!(enc = encoder_open(model_dir, threads, err, sizeof err))) {
            fprintf(stderr, "ragd search: %s\n", err);
            goto out;
        }
        const char *identity = encoder_identity(encoder_get_info(enc));
        if (strcmp(identity, store_model(s)) != 0) {
            fprintf(stderr,
                    "ragd search: the store in the %s holds vectors of \"%s\" but the encoder is "
                    "\"%s\"; use the model it was built with, --mode lexical, or re-run "
                    "`ragd ingest`\n",
                    where, store_model(s), identity);
            goto out;
        }
        size_t len = strlen(query);
        if (encoder_embed(enc, 1, &query, &len, vec, NULL, err, sizeof err) < 0) {
            fprintf(stderr, "ragd search: %s\n", err);
            goto out;
        }
        q.vector = vec;
    }
    int n = store_search(s, &q, hits, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "ragd search: %s\n", err);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        store_passage p;
        if (store_get(s, hits[i].passage_id, &p) == 0) print_hit(i + 1, &hits[i], &p, json);
    }
    if (!n && !json) printf("no passage matches\n");
    rc = 0;
out:
    free(hits);
    store_release(s);
    store_close(st);
    if (enc) encoder_close(enc);
    return role_end(&r, rc);
}
