/* llm_opts — see llm_opts.h. */
#include "app/llm_opts.h"

#include <stdio.h>
#include <string.h>

void llm_opts_defaults(llm_opts *o) {
    *o = (llm_opts){.backend = "mock", .url = NULL, .model = "default", .api_key = NULL,
                    .timeout_s = 120};
}

void llm_opts_add(option_list *l, llm_opts *o) {
    const option_spec specs[] = {
        {"llm", "RAGD_LLM", OPT_STRING, &o->backend, "answer generator: mock or openai", 0, 0},
        {"llm-url", "RAGD_LLM_URL", OPT_STRING, &o->url, "OpenAI-compatible server (llama.cpp, vLLM, Ollama), e.g. http://127.0.0.1:8081/v1", 0, 0},
        {"llm-model", "RAGD_LLM_MODEL", OPT_STRING, &o->model, "model name sent to the OpenAI-compatible server", 0, 0},
        {"llm-api-key", "RAGD_LLM_API_KEY", OPT_STRING, &o->api_key, "Bearer key for the OpenAI-compatible server", 0, 0},
        {"llm-timeout", "RAGD_LLM_TIMEOUT", OPT_DOUBLE, &o->timeout_s, "seconds one LLM answer may take", 0, 0},
    };
    options_add_all(l, specs, sizeof specs / sizeof specs[0]);
}

llm *llm_opts_create(const llm_opts *o, const char *cmd) {
    if (!strcmp(o->backend, "mock")) return llm_mock_new();
    if (!strcmp(o->backend, "openai")) {
        if (!o->url) {
            fprintf(stderr, "ragd %s: --llm openai needs --llm-url\n", cmd);
            return NULL;
        }
        char err[256];
        llm *m = llm_openai_new(o->url, o->model, o->api_key, o->timeout_s, err, sizeof err);
        if (!m) fprintf(stderr, "ragd %s: %s\n", cmd, err);
        return m;
    }
    fprintf(stderr, "ragd %s: --llm must be mock or openai, got '%s'\n", cmd, o->backend);
    return NULL;
}
