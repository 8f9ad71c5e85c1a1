/* retrieval — default search mode, fusion weight and mode names; see retrieval.h. */
#include "app/retrieval.h"

#include <string.h>

#include "model/encoder.h"

bool retrieval_on_twin(const store_view *s) { return strcmp(store_model(s), ENCODER_MODEL_NAME) != 0; }

search_mode retrieval_default_mode(const store_view *s) {
    (void)s; /* hybrid on every store; what differs is how it fuses */
    return SEARCH_HYBRID;
}

void retrieval_set_fusion(const store_view *s, store_query *q) {
    q->lexical_first = retrieval_on_twin(s);
    q->vector_weight = 1.0f;
}

int retrieval_parse_mode(const char *name, search_mode *mode) {
    if (!strcmp(name, "hybrid")) *mode = SEARCH_HYBRID;
    else if (!strcmp(name, "vector")) *mode = SEARCH_VECTOR;
    else if (!strcmp(name, "lexical")) *mode = SEARCH_LEXICAL;
    else return -1;
    return 0;
}

const char *retrieval_mode_name(search_mode mode) {
    return mode == SEARCH_VECTOR ? "vector" : mode == SEARCH_LEXICAL ? "lexical" : "hybrid";
}
