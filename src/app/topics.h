/* topics — GET /topics: the store's partitions with their passage counts,
 * for clients that offer a topic choice (the chat page). */
#ifndef RAGD_APP_TOPICS_H
#define RAGD_APP_TOPICS_H

#include "app/pipeline.h"
#include "app/routes.h"

/* Adds GET /topics over p's store, read at each request (a first ingest
 * fills it in later; the route is gated until then). p must outlive the server. */
void topics_add_routes(route_list *routes, const pipeline *p);

#endif
