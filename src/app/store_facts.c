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
    store_release(st);
}

bool store_facts_ready(store *s, buf *why) {
    const store_view *st = s ? store_acquire(s) : NULL;
    size_t n = st ? store_count(st, NULL) : 0;
    store_release(st);
    if (n == 0) {
        buf_puts(why, "the store is empty");
        return false;
    }
    return true;
}
