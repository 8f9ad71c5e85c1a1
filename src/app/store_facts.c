/* store_facts — see store_facts.h. */
#include "app/store_facts.h"

#include "obs/ragd_metrics.h"

void store_facts_publish(store *s) {
    const store_view *st = store_acquire(s);
    const char *const *names;
    int n = store_topics(st, &names);
    for (int i = 0; i < n; i++) ragd_metrics_store_passages(names[i], (double)store_count(st, names[i]));
    store_release(st);
}

void store_facts_describe(store *s, json_t *health) {
    const store_view *st = s ? store_acquire(s) : NULL;
    json_object_set_new(health, "passages", json_integer(st ? (json_int_t)store_count(st, NULL) : 0));
    if (s) json_object_set_new(health, "store", json_string(store_kind(s)));
    char err[512];
    if (st && store_view_failed(st, err, sizeof err))
        json_object_set_new(health, "store_error", json_string(err));
    store_release(st);
}

bool store_facts_ready(store *s, buf *why) {
    char err[512];
    if (s && store_check(s, err, sizeof err) != 0) { /* a server down: back by itself */
        buf_printf(why, "the store cannot be reached: %s", err);
        return false;
    }
    const store_view *st = s ? store_acquire(s) : NULL;
    size_t n = st ? store_count(st, NULL) : 0;
    bool failed = st && store_view_failed(st, err, sizeof err);
    store_release(st);
    if (failed) {
        buf_printf(why, "the store cannot be reached: %s", err);
        return false;
    }
    if (n == 0) {
        buf_puts(why, "the store is empty");
        return false;
    }
    return true;
}
