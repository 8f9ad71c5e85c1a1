/* fuzz_util — what the harnesses share: where the shared model files are
 * (RAGD_SHARED_DIR, else ../shared beside the source tree the harness was
 * built from), quiet logging so a run prints only libFuzzer's lines, and a
 * small real store built with the store writer. */
#ifndef RAGD_FUZZ_UTIL_H
#define RAGD_FUZZ_UTIL_H

#include <stddef.h>


/* "<shared dir>/<rel>" in out. */
void fuzz_shared_path(const char *rel, char *out, size_t outlen);
/* Log nothing (a bad input is expected to log a warning, once per input,
 * which would drown the fuzzer's own output). */
void fuzz_quiet_logs(void);
/* A fresh directory under /dev/shm (or /tmp) holding a committed store of a
 * few corpus passages in two topics ("business", "sports"), dim-float seeded
 * unit vectors, BM25 by the store's analyzer. Exits with a message on failure. */
void fuzz_build_store(char *dir, size_t dirlen, const char *model, int dim);

#endif
