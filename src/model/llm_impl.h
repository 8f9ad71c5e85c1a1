/* llm_impl — what a backend provides behind llm.h (private to src/model).
 *
 * struct llm is a tiny vtable in the style of SQLite's sqlite3_vfs: each
 * backend embeds it as its first member, so an llm* is also a pointer to the
 * backend's own struct. llm.c only dispatches. */
#ifndef RAGD_MODEL_LLM_IMPL_H
#define RAGD_MODEL_LLM_IMPL_H

#include "model/llm.h"

struct llm {
    const char *name;
    int (*generate)(llm *m, const llm_prompt *prompts, int nprompts, uint64_t seed,
                    llm_emit_fn emit, void *ctx, char *err, size_t errlen);
    void (*destroy)(llm *m);
};

#endif
