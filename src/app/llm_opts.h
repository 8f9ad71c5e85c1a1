/* llm_opts — choosing the answer generator from flags: the mock LLM (the
 * default, as the Python system shipped) or any OpenAI-compatible server. */
#ifndef RAGD_APP_LLM_OPTS_H
#define RAGD_APP_LLM_OPTS_H

#include "app/options.h"
#include "model/llm.h"

typedef struct llm_opts {
    const char *backend;  /* "mock" or "openai" */
    const char *url;
    const char *model;
    const char *api_key;
    double timeout_s;
} llm_opts;

void llm_opts_defaults(llm_opts *o);
/* Append the LLM's options (targets in o) to l. */
void llm_opts_add(option_list *l, llm_opts *o);
/* NULL with a message on stderr when the options do not make a backend. */
llm *llm_opts_create(const llm_opts *o, const char *cmd);

#endif
