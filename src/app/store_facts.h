/* store_facts — what a serving role says about the store it answers from,
 * the same in `serve` and `gateway`: passages per topic as metrics, the
 * passage count in /health, and "not ready" while the store is empty. */
#ifndef RAGD_APP_STORE_FACTS_H
#define RAGD_APP_STORE_FACTS_H

#include <jansson.h>
#include <stdbool.h>

#include "store/documents.h"
#include "util/buf.h"

/* ragd_store_passages{topic=…} for every topic of st. */
void store_facts_publish(store *st);
/* "passages": the store's size, and "store": its kind ("embedded",
 * "postgres"), into the /health object; "store_error" when it cannot be reached. */
void store_facts_describe(store *st, json_t *health);
/* false (why says so) while there is no store, it cannot be reached
 * (store_check: a database down or failing over; true again by itself once
 * it is back) or it holds no passage. */
bool store_facts_ready(store *st, buf *why);

#endif
