/* topics — GET /topics (see topics.h): {"topics": [{"name", "passages"}…],
 * "passages": total}, in the store's own order of partitions. */
#include "app/topics.h"

#include <assert.h>

#include "app/store_open.h"

static void get_topics(http_request *r, void *ctx) {
    const pipeline *p = ctx;
    assert(p->store); /* first_ingest gates this route until the store is open */
    const store_view *st = store_acquire(p->store); /* names and counts of one state */
    const char *const *names;
    int n = store_topics(st, &names);
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:I}", "name", names[i], "passages",
                                              (json_int_t)store_count(st, names[i])));
    json_t *body = json_pack("{s:o, s:I}", "topics", list, "passages",
                             (json_int_t)store_count(st, NULL));
    char err[512];
    int failed = store_view_failed(st, err, sizeof err); /* the counts above mean "unknown" */
    store_release(st);
    if (failed) {
        json_decref(body);
        http_respond_overloaded(r, 503, STORE_RETRY_AFTER_S, err);
        return;
    }
    http_respond_json(r, 200, body);
}

void topics_add_routes(route_list *routes, const pipeline *p) {
    /* The handler only reads: the cast drops const for the ctx slot. */
    routes_add(routes, "GET", "/topics", get_topics, (void *)p, 0);
}
