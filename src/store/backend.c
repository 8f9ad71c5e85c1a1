/* backend — the store API's public functions, each handing the call to the
 * ops of the store (or view) it is given: the embedded store or PostgreSQL
 * (backend.h says how a call finds them and what a networked backend adds).
 * Nothing else belongs here: a function that needs more than the dispatch
 * belongs to a backend. */
#include "store/backend.h"

#include <assert.h>
#include <stddef.h>

static const store_ops *ops_of_store(const store *s) {
    const store_ops *ops = ((const store_base *)s)->ops;
    assert(ops != NULL); /* every constructor sets the ops before returning */
    return ops;
}

static const store_ops *ops_of_view(const store_view *v) {
    const store_ops *ops = ((const store_base *)v)->ops;
    assert(ops != NULL);
    return ops;
}

const char *store_kind(const store *s) { return ops_of_store(s)->kind; }

void store_close(store *s) {
    if (s != NULL) ops_of_store(s)->close(s);
}

const char *store_model_of(const store *s) { return ops_of_store(s)->model_of(s); }
size_t store_passages_now(store *s) { return ops_of_store(s)->passages_now(s); }
int store_check(store *s, char *err, size_t errlen) { return ops_of_store(s)->check(s, err, errlen); }

const store_view *store_acquire(store *s) {
    const store_view *v = ops_of_store(s)->acquire(s);
    assert(v != NULL && ops_of_view(v) == ops_of_store(s)); /* a view has its store's ops */
    return v;
}

int store_put(store *s, const store_article *articles, size_t n, store_write_result *results,
              char *err, size_t errlen) {
    return ops_of_store(s)->put(s, articles, n, results, err, errlen);
}

int store_delete(store *s, const char *article_id, char *err, size_t errlen) {
    return ops_of_store(s)->delete_article(s, article_id, err, errlen);
}

int store_merge(store *s, char *err, size_t errlen) { return ops_of_store(s)->merge(s, err, errlen); }

void store_set_merge_threshold(store *s, size_t passages) {
    ops_of_store(s)->set_merge_threshold(s, passages);
}

void store_live_stats_get(store *s, store_live_stats *out) { ops_of_store(s)->live_stats(s, out); }

void store_release(const store_view *v) {
    if (v != NULL) ops_of_view(v)->release(v);
}

int store_view_failed(const store_view *v, char *err, size_t errlen) {
    return ops_of_view(v)->view_failed(v, err, errlen);
}

const char *store_model(const store_view *v) { return ops_of_view(v)->model(v); }
int store_dim(const store_view *v) { return ops_of_view(v)->dim(v); }
store_bm25_params store_bm25(const store_view *v) { return ops_of_view(v)->bm25(v); }

size_t store_count(const store_view *v, const char *topic) { return ops_of_view(v)->count(v, topic); }

int store_topics(const store_view *v, const char *const **names) {
    return ops_of_view(v)->topics(v, names);
}

bool store_has_topic(const store_view *v, const char *topic) {
    return ops_of_view(v)->has_topic(v, topic);
}

int store_get(const store_view *v, uint32_t id, store_passage *out) {
    return ops_of_view(v)->get(v, id, out);
}

const float *store_vector(const store_view *v, uint32_t id) { return ops_of_view(v)->vector(v, id); }

int store_search(const store_view *v, const store_query *q, search_hit *hits, char *err,
                 size_t errlen) {
    return ops_of_view(v)->search(v, q, hits, err, errlen);
}

int store_article_get(const store_view *v, const char *article_id, store_article_info *out) {
    return ops_of_view(v)->article_get(v, article_id, out);
}

size_t store_article_list(const store_view *v, const char *topic, const char *after, size_t limit,
                          store_article_info *out, bool *more) {
    return ops_of_view(v)->article_list(v, topic, after, limit, out, more);
}

size_t store_article_count(const store_view *v, const char *topic) {
    return ops_of_view(v)->article_count(v, topic);
}
