/* documents_routes — see documents_routes.h. */
#include "app/documents_routes.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/documents_input.h"
#include "app/documents_passages.h"
#include "app/request_check.h"
#include "app/store_open.h"
#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "store/documents.h"
#include "util/util.h"

void documents_opts_add(option_list *l, documents_opts *o) {
    *o = (documents_opts){.max_batch = DOCUMENTS_DEFAULT_MAX_BATCH,
                          .max_body_kb = DOCUMENTS_DEFAULT_MAX_BODY_KB};
    const option_spec specs[] = {
        {"max-batch-documents", "RAGD_MAX_BATCH_DOCUMENTS", OPT_INT, &o->max_batch,
         "articles per POST /documents (413 past it)", 1, 100000},
        {"max-document-kb", "RAGD_MAX_DOCUMENT_KB", OPT_INT, &o->max_body_kb,
         "KiB of a PUT or POST /documents body (413 past it)", 1, 1 << 20},
    };
    options_add_all(l, specs, ARRAY_LEN(specs));
}

/* ---- writes: validated on the HTTP thread, encoded and stored on a worker ---- */

typedef enum write_kind { WRITE_PUT, WRITE_BATCH, WRITE_DELETE } write_kind;

static const char *const kind_names[] = {"put", "batch", "delete"};

typedef struct write_job {
    documents_service *svc;
    http_request *r;
    write_kind kind;
    size_t n;                     /* articles (0 for a delete) */
    document_input *docs;         /* n, validated */
    document_passages *passages;  /* n, split; encoded on the worker */
    char *delete_id;
} write_job;

static void job_free(write_job *j) {
    for (size_t i = 0; i < j->n; i++) {
        document_input_free(&j->docs[i]);
        document_passages_free(&j->passages[i]);
    }
    free(j->docs);
    free(j->passages);
    free(j->delete_id);
    free(j);
}

static void count_write(const write_job *j, const char *outcome) {
    ragd_metrics_document_write(kind_names[j->kind], outcome, http_request_elapsed(j->r));
}

static void fail_write(write_job *j, int status, const char *outcome, const char *message) {
    log_fields(LOG_WARN, "document write failed",
               (log_field[]){LOG_STR("kind", kind_names[j->kind]),
                             LOG_STR("id", j->n ? j->docs[0].id : j->delete_id),
                             LOG_INT("documents", j->n), LOG_STR("error", message)},
               4);
    count_write(j, outcome);
    if (status == 503) http_respond_overloaded(j->r, 503, 1, message);
    else http_respond_error(j->r, status, "%s", message);
}

/* The store's server could not be reached: nothing was written, retry later. */
static void store_unavailable(write_job *j, const char *message) {
    log_fields(LOG_WARN, "document write failed: store unavailable",
               (log_field[]){LOG_STR("kind", kind_names[j->kind]),
                             LOG_STR("id", j->n ? j->docs[0].id : j->delete_id),
                             LOG_STR("error", message)},
               3);
    count_write(j, "unavailable");
    http_respond_overloaded(j->r, 503, STORE_RETRY_AFTER_S, message);
}

/* A read of v found nothing: a 404, unless it could not reach the store (503). */
static void respond_not_found(http_request *r, const store_view *v, const char *id) {
    char err[512];
    if (store_view_failed(v, err, sizeof err)) http_respond_overloaded(r, 503, STORE_RETRY_AFTER_S, err);
    else http_respond_error(r, 404, "no article with id '%s'", id);
}

static json_t *write_result_json(const document_input *d, const store_write_result *res) {
    return json_pack("{s:s, s:i, s:b}", "id", d->id, "passages", res->passages, "created",
                     res->created);
}

static void run_put(write_job *j) {
    pipeline *p = j->svc->pipeline;
    pipeline_error e = {0};
    if (document_encode(p, j->passages, j->n, &e) < 0) {
        fail_write(j, pipeline_http_status(e.code), e.code == PIPELINE_OVERLOADED ? "overloaded" : "failed",
                   e.message);
        return;
    }
    store_article *articles = xmalloc(j->n * sizeof *articles);
    store_write_result *results = xcalloc(j->n, sizeof *results);
    for (size_t i = 0; i < j->n; i++) articles[i] = document_article(&j->docs[i], &j->passages[i]);
    char err[512];
    int rc = store_put(p->store, articles, j->n, results, err, sizeof err);
    if (rc == STORE_ERR_UNAVAILABLE) {
        store_unavailable(j, err);
    } else if (rc < 0) {
        /* Every article was validated as the store checks them: this is the store's fault. */
        fail_write(j, 500, "failed", err);
    } else {
        double seconds = http_request_elapsed(j->r);
        for (size_t i = 0; i < j->n; i++)
            log_fields(LOG_INFO, "document written",
                       (log_field[]){LOG_STR("id", j->docs[i].id), LOG_STR("kind", kind_names[j->kind]),
                                     LOG_STR("topic", j->docs[i].topic),
                                     LOG_INT("passages", results[i].passages),
                                     LOG_STR("created", results[i].created ? "true" : "false"),
                                     LOG_DBL("seconds", seconds)},
                       6);
        count_write(j, "ok");
        json_t *body;
        if (j->kind == WRITE_PUT) {
            body = write_result_json(&j->docs[0], &results[0]);
        } else {
            json_t *list = json_array();
            for (size_t i = 0; i < j->n; i++) json_array_append_new(list, write_result_json(&j->docs[i], &results[i]));
            body = json_pack("{s:o}", "documents", list);
        }
        http_respond_json(j->r, 200, body);
    }
    free(articles);
    free(results);
}

static void run_delete(write_job *j) {
    char err[512];
    int rc = store_delete(j->svc->pipeline->store, j->delete_id, err, sizeof err);
    if (rc == STORE_ERR_UNAVAILABLE) {
        store_unavailable(j, err);
    } else if (rc < 0) {
        fail_write(j, 500, "failed", err);
    } else if (rc == 0) {
        count_write(j, "not_found");
        http_respond_error(j->r, 404, "no article with id '%s'", j->delete_id);
    } else {
        log_fields(LOG_INFO, "document deleted",
                   (log_field[]){LOG_STR("id", j->delete_id), LOG_DBL("seconds", http_request_elapsed(j->r))},
                   2);
        count_write(j, "ok");
        http_respond_json(j->r, 200, json_pack("{s:s, s:b}", "id", j->delete_id, "deleted", 1));
    }
}

static void run_write(void *arg) {
    write_job *j = arg;
    assert(j->svc->pipeline->store); /* first_ingest gates these routes until the store is open */
    if (j->kind == WRITE_DELETE) run_delete(j);
    else run_put(j);
    job_free(j);
}

/* Hand j to the workers (the request is held until run_write answers it). */
static void submit(write_job *j) {
    http_request_hold(j->r);
    if (workqueue_push(j->svc->pipeline->workers, run_write, j) < 0) {
        fail_write(j, 503, "overloaded", "too many requests in flight; retry later");
        job_free(j);
    }
}

static void reject(http_request *r, write_kind kind, const request_problem *p) {
    ragd_metrics_document_write(kind_names[kind], "rejected", http_request_elapsed(r));
    http_respond_problem(r, p);
}

/* The article id of a /documents/{id} path, or NULL after filling p. */
static const char *path_id(http_request *r, request_problem *p) {
    const char *id = http_request_path_tail(r);
    size_t n = strlen(id);
    if (store_valid_article_id(id, n)) return id;
    if (n > STORE_ARTICLE_ID_MAX)
        request_reject_field(p, 422, "id", "the article id is %zu bytes; the limit is %d", n, STORE_ARTICLE_ID_MAX);
    else
        request_reject_field(p, 422, "id", "the article id '%.60s' holds a character outside A-Z a-z 0-9 . _ : -", id);
    return NULL;
}

/* Validate and split one article into slot i of j. false after filling p. */
static bool take_article(write_job *j, size_t i, json_t *obj, const char *url_id, request_problem *p) {
    if (!document_input_parse(obj, url_id, &j->docs[i], p)) return false;
    if (document_split(j->svc->tokenizer, &j->docs[i], &j->passages[i]) == 0) {
        document_input_free(&j->docs[i]);
        return request_reject_field(p, 422, "text", "'text' holds no words to index");
    }
    return true;
}

static write_job *job_new(documents_service *svc, http_request *r, write_kind kind, size_t n) {
    write_job *j = xcalloc(1, sizeof *j);
    *j = (write_job){.svc = svc, .r = r, .kind = kind, .n = n}; /* unfilled slots free as empty */
    if (n) {
        j->docs = xcalloc(n, sizeof *j->docs);
        j->passages = xcalloc(n, sizeof *j->passages);
    }
    return j;
}

static void put_document(http_request *r, void *ctx) {
    documents_service *svc = ctx;
    request_problem p;
    const char *id = path_id(r, &p);
    if (!id) {
        reject(r, WRITE_PUT, &p);
        return;
    }
    json_t *body = http_request_json(r);
    if (!body) {
        ragd_metrics_document_write("put", "rejected", http_request_elapsed(r));
        return;
    }
    write_job *j = job_new(svc, r, WRITE_PUT, 1);
    if (!take_article(j, 0, body, id, &p)) {
        job_free(j);
        reject(r, WRITE_PUT, &p);
        return;
    }
    submit(j);
}

/* One bad batch item for the 4xx answer. */
static json_t *item_problem(size_t index, json_t *item, const request_problem *p) {
    json_t *id = json_is_object(item) ? json_object_get(item, "id") : NULL;
    json_t *o = json_pack("{s:I, s:s}", "index", (json_int_t)index, "message", p->message);
    json_object_set_new(o, "id", json_is_string(id) ? json_copy(id) : json_null());
    json_object_set_new(o, "field", p->param ? json_string(p->param) : json_null());
    return o;
}

static void post_documents(http_request *r, void *ctx) {
    documents_service *svc = ctx;
    request_problem p;
    json_t *body = http_request_json(r);
    if (!body) {
        ragd_metrics_document_write("batch", "rejected", http_request_elapsed(r));
        return;
    }
    json_t *list = json_object_get(body, "documents");
    if (!list) {
        request_reject_field(&p, 422, "documents", "'documents' is required");
        reject(r, WRITE_BATCH, &p);
        return;
    }
    if (!json_is_array(list)) {
        request_reject_field(&p, 400, "documents", "'documents' must be an array of articles");
        reject(r, WRITE_BATCH, &p);
        return;
    }
    size_t n = json_array_size(list);
    if (n == 0) {
        request_reject_field(&p, 422, "documents", "'documents' must not be empty");
        reject(r, WRITE_BATCH, &p);
        return;
    }
    if (n > (size_t)svc->opts.max_batch) {
        request_reject_field(&p, 413, "documents", "%zu documents in one request; the limit is %d", n,
                             svc->opts.max_batch);
        reject(r, WRITE_BATCH, &p);
        return;
    }
    write_job *j = job_new(svc, r, WRITE_BATCH, n);
    json_t *problems = json_array();
    int status = 422;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(list, i);
        bool ok = take_article(j, i, item, NULL, &p);
        for (size_t k = 0; ok && k < i; k++) {
            if (j->docs[k].id && !strcmp(j->docs[k].id, j->docs[i].id))
                ok = request_reject_field(&p, 422, "id", "the id '%s' is also documents[%zu]'s", j->docs[i].id, k);
        }
        if (!ok) {
            if (p.status == 400) status = 400; /* any item of the wrong shape makes the batch a 400 */
            json_array_append_new(problems, item_problem(i, item, &p));
        }
    }
    size_t bad = json_array_size(problems);
    if (bad) {
        job_free(j);
        ragd_metrics_document_write("batch", "rejected", http_request_elapsed(r));
        char message[160];
        snprintf(message, sizeof message, "%zu of %zu documents are invalid; nothing was written", bad, n);
        http_respond_json(r, status, json_pack("{s:{s:s, s:s, s:o}}", "error", "code", http_error_code(status),
                                               "message", message, "documents", problems));
        return;
    }
    json_decref(problems);
    submit(j);
}

static void delete_document(http_request *r, void *ctx) {
    documents_service *svc = ctx;
    request_problem p;
    const char *id = path_id(r, &p);
    if (!id) {
        reject(r, WRITE_DELETE, &p);
        return;
    }
    write_job *j = job_new(svc, r, WRITE_DELETE, 0);
    j->delete_id = xstrdup(id);
    submit(j);
}

/* ---- reads: a view, on the HTTP thread (no encoder, no fsync) ---- */

static json_t *article_summary(const store_article_info *a) {
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", a->id, "heading", a->heading, "date", a->date,
                     "topic", a->topic, "passages", (json_int_t)a->n_passages);
}

static void get_document(http_request *r, void *ctx) {
    documents_service *svc = ctx;
    request_problem p;
    const char *id = path_id(r, &p);
    if (!id) {
        http_respond_problem(r, &p);
        return;
    }
    const store_view *v = store_acquire(svc->pipeline->store);
    store_article_info a;
    if (store_article_get(v, id, &a) < 0) {
        respond_not_found(r, v, id);
        store_release(v);
        return;
    }
    json_t *passages = json_array();
    for (size_t i = 0; i < a.n_passages; i++) {
        store_passage sp;
        uint32_t pid = a.first_passage + (uint32_t)i;
        if (store_get(v, pid, &sp) < 0) continue; /* cannot happen: the view holds the article */
        assert(sp.passage_index == (int)i);
        json_array_append_new(passages, json_pack("{s:I, s:i, s:s}", "id", (json_int_t)pid, "index",
                                                  sp.passage_index, "text", sp.text));
    }
    json_t *body = article_summary(&a);
    json_object_set_new(body, "text", a.text ? json_string(a.text) : json_null());
    json_object_set_new(body, "passages", passages);
    store_release(v);
    http_respond_json(r, 200, body);
}

/* ?limit=: DOCUMENTS_DEFAULT_LIST_LIMIT when absent; false after filling p. */
static bool list_limit(http_request *r, size_t *limit, request_problem *p) {
    const char *s = http_request_query(r, "limit");
    *limit = DOCUMENTS_DEFAULT_LIST_LIMIT;
    if (!s) return true;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > DOCUMENTS_MAX_LIST_LIMIT)
        return request_reject_field(p, 422, "limit", "'limit' must be an integer from 1 to %d (got '%.40s')",
                                    DOCUMENTS_MAX_LIST_LIMIT, s);
    *limit = (size_t)v;
    return true;
}

static void list_documents(http_request *r, void *ctx) {
    documents_service *svc = ctx;
    request_problem p;
    size_t limit;
    if (!list_limit(r, &limit, &p)) {
        http_respond_problem(r, &p);
        return;
    }
    const char *cursor = http_request_query(r, "cursor");
    if (cursor && *cursor && !store_valid_article_id(cursor, strlen(cursor))) {
        request_reject_field(&p, 422, "cursor", "'cursor' must be an article id (the last page's next_cursor)");
        http_respond_problem(r, &p);
        return;
    }
    char *topic = NULL;
    const char *given_topic = http_request_query(r, "topic");
    if (given_topic && *given_topic) { /* matched as a write stores it: trimmed, lower case */
        topic = document_topic_clean(given_topic, strlen(given_topic), &p);
        if (!topic) {
            http_respond_problem(r, &p);
            return;
        }
    }
    const store_view *v = store_acquire(svc->pipeline->store);
    store_article_info *page = xmalloc(limit * sizeof *page);
    bool more = false;
    size_t n = store_article_list(v, topic, cursor, limit, page, &more);
    char err[512];
    if (store_view_failed(v, err, sizeof err)) {
        store_release(v);
        free(page);
        free(topic);
        http_respond_overloaded(r, 503, STORE_RETRY_AFTER_S, err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, article_summary(&page[i]));
    json_t *body = json_pack("{s:o}", "documents", list);
    json_object_set_new(body, "next_cursor", more && n ? json_string(page[n - 1].id) : json_null());
    store_release(v);
    free(page);
    free(topic);
    http_respond_json(r, 200, body);
}

void documents_add_routes(route_list *routes, documents_service *svc) {
    assert(svc->pipeline && svc->tokenizer && svc->pipeline->embed_passages);
    size_t max_body = (size_t)svc->opts.max_body_kb * 1024;
    routes_add(routes, "PUT", "/documents/*", put_document, svc, max_body);
    routes_add(routes, "DELETE", "/documents/*", delete_document, svc, 0);
    routes_add(routes, "GET", "/documents/*", get_document, svc, 0);
    routes_add(routes, "POST", "/documents", post_documents, svc, max_body);
    routes_add(routes, "GET", "/documents", list_documents, svc, 0);
}
