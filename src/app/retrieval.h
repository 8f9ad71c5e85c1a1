/* retrieval — the one owner of how passages are retrieved by default, used
 * by POST /ask (ask.c), `ragd search` (cmd_search.c) and `ragd eval`
 * (cmd_eval.c) alike, so the three rank the same.
 *
 * The default mode is hybrid. How hybrid fuses depends on the store:
 *   - real weights: reciprocal rank fusion of the two lists, equal weights;
 *   - the random-weight twin (or any store not built by the real model):
 *     its vectors carry no meaning, and fused in at weight 0.25 they ranked
 *     the target article lower than BM25 alone (issue 14: R@1 0.45 vs 0.59),
 *     so BM25's list comes first, whole and in its order, and vector hits
 *     only fill the places after it (store_query.lexical_first). The top
 *     of the list is lexical's: never worse than lexical on any metric, and
 *     a question sharing no word with the corpus still gets sources.
 *
 * Diversity: at most RETRIEVAL_DEFAULT_MAX_PER_ARTICLE passages of one
 * article among the sources, unless the caller says otherwise. */
#ifndef RAGD_APP_RETRIEVAL_H
#define RAGD_APP_RETRIEVAL_H

#include <stdbool.h>

#include "store/documents.h"

#define RETRIEVAL_DEFAULT_MAX_PER_ARTICLE 2
#define RETRIEVAL_MAX_PER_ARTICLE_LIMIT 50

/* True when the store's vectors come from the random-weight twin. */
bool retrieval_on_twin(const store_view *s);
/* The mode of a search that names none. */
search_mode retrieval_default_mode(const store_view *s);
/* Set q's fusion (vector_weight, lexical_first) for this store. */
void retrieval_set_fusion(const store_view *s, store_query *q);
/* "hybrid", "vector", "lexical" → mode; -1 for anything else. */
int retrieval_parse_mode(const char *name, search_mode *mode);
const char *retrieval_mode_name(search_mode mode);

#endif
