/* model_dirs — where a model folder may be: the one search that both the
 * encoder (looking for model.safetensors) and the gateway (looking only for
 * vocab.txt, to split BM25 queries as the store was built) use.
 *
 * The places, most specific first: ./models/<name>, ../shared/models/<name>,
 * the same two beside the executable's folder and up to MODEL_DIR_ANCESTORS
 * of its ancestors (so tests and tools run from a build folder find it),
 * then $RAGD_SHARED_DIR/models/<name>. */
#ifndef RAGD_MODEL_MODEL_DIRS_H
#define RAGD_MODEL_MODEL_DIRS_H

#include <stdbool.h>

#define MODEL_DIR_ANCESTORS 4
/* The most places model_candidate_dirs can write. */
#define MODEL_DIR_CANDIDATES (2 * MODEL_DIR_ANCESTORS + 3)

/* The candidate folders for a model called name, each malloc'd (the caller
 * frees them); returns how many (at most max). */
int model_candidate_dirs(const char *name, char **out, int max);

/* The path of file in the first folder that holds it: dir_flag alone if
 * given, else the candidates of the real model, then of the random twin
 * (both share one vocabulary). malloc'd, or NULL when none does. */
char *model_find_file(const char *dir_flag, const char *file);

#endif
