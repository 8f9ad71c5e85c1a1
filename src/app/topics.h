/* topics — GET /topics: the store's partitions with their passage counts,
 * for clients that offer a topic choice (the chat page). */
#ifndef RAGD_APP_TOPICS_H
#define RAGD_APP_TOPICS_H

#include "app/routes.h"
#include "store/store.h"

/* Adds GET /topics over st, which must outlive the server. */
void topics_add_routes(route_list *routes, store *st);

#endif
