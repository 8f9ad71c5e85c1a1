/* ingest_test_util — paths of the shared corpus and model for the ingest tests. */
#ifndef RAGD_TESTS_INGEST_UTIL_H
#define RAGD_TESTS_INGEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

static inline const char *shared_dir(void) {
    const char *d = getenv("RAGD_SHARED_DIR");
    return d && *d ? d : "../shared";
}

static inline const char *corpus_path(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/data/news-articles/Articles.csv", shared_dir());
    return path;
}

static inline const char *vocab_path(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/models/all-MiniLM-L6-v2/vocab.txt", shared_dir());
    return path;
}

#endif
