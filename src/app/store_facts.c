/* store_facts — see store_facts.h. */
#include "app/store_facts.h"

#include "obs/ragd_metrics.h"

void store_facts_publish(const store *st) {
    const char *const *names;
    int n = store_topics(st, &names);
    for (int i = 0; i < n; i++) ragd_metrics_store_passages(names[i], (double)store_count(st, names[i]));
}

void store_facts_describe(const store *st, json_t *health) {
    json_object_set_new(health, "passages", json_integer(st ? (json_int_t)store_count(st, NULL) : 0));
}

bool store_facts_ready(const store *st, buf *why) {
    if (!st || store_count(st, NULL) == 0) {
        buf_puts(why, "the store is empty");
        return false;
    }
    return true;
}
