/* backend — the seam between the store API (store.h, documents.h) and its
 * implementations: the embedded store of a data directory (store.c,
 * search.c) and the PostgreSQL store (pg/pg_backend.c). The app layer never
 * sees this file: it calls store_search(v, …), store_put(s, …) and the rest
 * on whatever store it opened (store_open*, pg_store_open_backend), and
 * backend.c hands each call to the ops of that store.
 *
 * How a call finds its implementation: every `struct store` and every
 * `struct store_view` of every backend starts with a store_base, whose ops
 * pointer names the backend (a pointer to a struct is a pointer to its first
 * member, so backend.c reads it without knowing the rest of the struct).
 * A view's ops are its store's ops.
 *
 * What each op must do is what the public function of the same name
 * promises (store.h, documents.h), plus, for a backend that reads over the
 * network:
 *   - passage ids are view-local: the rows a view's searches returned, which
 *     store_get reads back from the view (the embedded store's ids happen to
 *     be snapshot-wide; neither survives the view);
 *   - a read of a view that could not reach its server returns what an empty
 *     answer would (0, false, -1) and marks the view failed: view_failed then
 *     says STORE_ERR_UNAVAILABLE and why, so callers answer 503, not 404;
 *   - store_search, store_put and store_delete return STORE_ERR_UNAVAILABLE
 *     themselves when the server is down, busy or failing over.
 */
#ifndef RAGD_STORE_BACKEND_H
#define RAGD_STORE_BACKEND_H

#include "store/documents.h"
#include "store/store.h"

typedef struct store_ops store_ops;

typedef struct store_base {
    const store_ops *ops;
} store_base;

struct store_ops {
    const char *kind; /* "embedded", "postgres": store_kind() */

    /* the store */
    void (*close)(store *s);
    const char *(*model_of)(const store *s);
    size_t (*passages_now)(store *s);
    int (*check)(store *s, char *err, size_t errlen);
    const store_view *(*acquire)(store *s);
    int (*put)(store *s, const store_article *articles, size_t n, store_write_result *results,
               char *err, size_t errlen);
    int (*delete_article)(store *s, const char *article_id, char *err, size_t errlen);
    int (*merge)(store *s, char *err, size_t errlen);
    void (*set_merge_threshold)(store *s, size_t passages);
    void (*live_stats)(store *s, store_live_stats *out);

    /* a view */
    void (*release)(const store_view *v);
    int (*view_failed)(const store_view *v, char *err, size_t errlen);
    const char *(*model)(const store_view *v);
    int (*dim)(const store_view *v);
    store_bm25_params (*bm25)(const store_view *v);
    size_t (*count)(const store_view *v, const char *topic);
    int (*topics)(const store_view *v, const char *const **names);
    bool (*has_topic)(const store_view *v, const char *topic);
    int (*get)(const store_view *v, uint32_t id, store_passage *out);
    const float *(*vector)(const store_view *v, uint32_t id);
    int (*search)(const store_view *v, const store_query *q, search_hit *hits, char *err,
                  size_t errlen);
    int (*article_get)(const store_view *v, const char *article_id, store_article_info *out);
    size_t (*article_list)(const store_view *v, const char *topic, const char *after,
                           size_t limit, store_article_info *out, bool *more);
    size_t (*article_count)(const store_view *v, const char *topic);
};

/* The embedded backend's ops (store.c), for its constructors. */
extern const store_ops embedded_store_ops;

#endif
