/* ask — POST /ask: question → passages → answer, as JSON or Server-Sent Events. */
#ifndef RAGD_APP_ASK_H
#define RAGD_APP_ASK_H

#include "app/pipeline.h"
#include "app/routes.h"

/* Adds POST /ask; p must outlive the server. p->store may still be NULL
 * (a first ingest fills it in later) only if p->vector_weight is set. */
void ask_add_routes(route_list *routes, pipeline *p);
/* The hybrid fusion weight of the vector half for a store built by this model identity. */
float ask_vector_weight_for(const char *store_model);

#endif
