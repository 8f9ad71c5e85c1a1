/* openai_embeddings — POST /v1/embeddings as OpenAI's clients call it: input
 * as a string, strings, token ids or lists of token ids; encoding_format
 * float or base64; dimensions (384 only); errors in OpenAI's shape. Served by
 * `ragd model` and `ragd serve` through the model service's batcher. */
#ifndef RAGD_APP_OPENAI_EMBEDDINGS_H
#define RAGD_APP_OPENAI_EMBEDDINGS_H

#include "app/model_routes.h"

/* m's limits (max_texts, max_text_bytes) must be set; m outlives the server. */
void openai_embeddings_add(route_list *routes, model_service *m, size_t max_body);

#endif
