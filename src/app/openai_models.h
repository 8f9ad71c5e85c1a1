/* openai_models — GET /v1/models and GET /v1/models/{id} in OpenAI's shape,
 * on every role (model, serve, gateway): clients and UIs list the models
 * before they embed or chat.
 *
 * A role fills a catalog with the models it serves (the embedding model
 * everywhere; a role that serves chat adds its chat model) and registers the
 * routes. The catalog and the strings it points to must outlive the server.
 */
#ifndef RAGD_APP_OPENAI_MODELS_H
#define RAGD_APP_OPENAI_MODELS_H

#include <stdint.h>

#include "app/routes.h"

#define OPENAI_MODELS_MAX 8

typedef struct openai_model {
    const char *id;       /* "all-MiniLM-L6-v2": what clients pass as `model` */
    const char *owned_by; /* "sentence-transformers" */
} openai_model;

typedef struct openai_catalog {
    openai_model models[OPENAI_MODELS_MAX];
    int n;
    int64_t created; /* `created` of every entry: when the server started (Unix s) */
} openai_catalog;

/* A catalog stamped with the current time that names the embedding model
 * (every role serves it or routes to it). */
void openai_catalog_init(openai_catalog *c);
/* Add a model (borrowed strings). Returns 0, or -1 when the catalog is full
 * or already names id. */
int openai_catalog_add(openai_catalog *c, const char *id, const char *owned_by);
/* The entry named id, or NULL. */
const openai_model *openai_catalog_find(const openai_catalog *c, const char *id);

void openai_models_add_routes(route_list *routes, const openai_catalog *c);

#endif
