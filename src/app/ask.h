/* ask — POST /ask: question → passages → answer, as JSON or Server-Sent Events. */
#ifndef RAGD_APP_ASK_H
#define RAGD_APP_ASK_H

#include "app/pipeline.h"
#include "app/routes.h"

/* Adds POST /ask; p must outlive the server. */
void ask_add_routes(route_list *routes, pipeline *p);

#endif
