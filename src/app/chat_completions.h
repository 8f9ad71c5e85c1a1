/* chat_completions — POST /v1/chat/completions, OpenAI's chat API answered
 * by the /ask pipeline (grounded, with sources). */
#ifndef RAGD_APP_CHAT_COMPLETIONS_H
#define RAGD_APP_CHAT_COMPLETIONS_H

#include "app/pipeline.h"
#include "app/routes.h"

/* The "model" of an answer when the request names none. */
#define CHAT_MODEL_NAME "ragd"

/* Adds POST /v1/chat/completions; call after ask_add_routes (which sets the
 * pipeline's limits). p must outlive the server. */
void chat_completions_add_routes(route_list *routes, pipeline *p);

#endif
