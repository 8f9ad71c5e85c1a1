/* llm — the one interface every answer generator sits behind.
 *
 * A generator takes a batch of prompts (a question and the context articles
 * retrieved for it) and streams answer text back through a callback as it is
 * produced, so the gateway can forward it as Server-Sent Events without ever
 * holding a whole answer. Two backends:
 *
 *   - mock   (llm_mock.c): the Python system's mock LLM — one piece of text per
 *            context article, a random substring of that article. Seedable.
 *   - openai (llm_openai.c): any OpenAI-compatible /v1/chat/completions server
 *            (llama.cpp server, vLLM, Ollama …), streamed, one request per prompt.
 *
 * An llm is immutable after creation: llm_generate may be called by several
 * threads at once on the same llm, each call independent (per-call PRNG state,
 * per-call HTTP handle). llm_free must not race with a running llm_generate.
 */
#ifndef RAGD_MODEL_LLM_H
#define RAGD_MODEL_LLM_H

#include <stddef.h>
#include <stdint.h>

/* One question and the context articles to answer it from. Nothing is owned:
 * the strings must outlive the llm_generate call. The fields after ncontext
 * are optional — leave them zero; initialise with designated initializers
 * ({.question = q, .context = c, .ncontext = n}), since -Wextra rejects a
 * positional initializer that stops early. heading/date give the prompt template each article's title and date, and a
 * per-prompt seed lets a model service batch requests that carry different
 * seeds into one llm_generate call. */
/* One earlier turn of a conversation ("user" or "assistant"), for backends
 * that take a chat history (the OpenAI-compatible one; the mock ignores it).
 * The model service's /llm_ask takes at most LLM_MAX_HISTORY per prompt. */
#define LLM_MAX_HISTORY 64
typedef struct llm_turn {
    const char *role;
    const char *content;
} llm_turn;

typedef struct llm_prompt {
    const char *question;
    const char *const *context;
    int ncontext;
    const char *const *heading; /* NULL, or ncontext entries (each may be NULL) */
    const char *const *date;    /* NULL, or ncontext entries (each may be NULL) */
    uint64_t seed;              /* 0 = use llm_generate's seed */
    const llm_turn *history;    /* NULL, or nhistory earlier turns, oldest first */
    int nhistory;
} llm_prompt;

/* Called for every piece of answer text as it is produced; prompt = index in
 * the batch, article = index of the context article the piece came from (-1 if
 * not applicable, as for a real LLM whose text mixes passages). text is not
 * NUL-terminated and is only valid during the call. Return non-zero to cancel
 * (the client went away): generation stops and llm_generate returns 1. */
typedef int (*llm_emit_fn)(int prompt, int article, const char *text, size_t len, void *ctx);

typedef struct llm llm;

/* The mock LLM (never fails). */
llm *llm_mock_new(void);
/* The mock that waits delay_ms before each piece after the first, so a person
 * (or a browser test) can watch an answer stream in; 0 is llm_mock_new(). */
#define LLM_MOCK_MAX_DELAY_MS 10000
llm *llm_mock_new_paced(int delay_ms);

/* An OpenAI-compatible chat-completions backend. base_url is the server's root
 * ("http://127.0.0.1:8081" or ".../v1"; "/chat/completions" is appended after
 * ensuring a "/v1"); model is the "model" field sent; api_key (may be NULL or "")
 * is sent as "Authorization: Bearer <key>"; timeout_s bounds each request
 * (0 = no limit). NULL with err set when the arguments are unusable. */
llm *llm_openai_new(const char *base_url, const char *model, const char *api_key,
                    double timeout_s, char *err, size_t errlen);

/* Answer every prompt of the batch, streaming through emit. Pieces of
 * different prompts may interleave (the mock answers a batch round-robin, one
 * article of every prompt per round, as the Python system did); the pieces of
 * one prompt always arrive in order.
 * seed: 0 = random; otherwise the mock's answer to a prompt is a pure function
 * of (its context, its seed), whatever else is in the batch (a real LLM
 * receives the seed as the request's "seed", which most servers honour).
 * Returns 0 ok, 1 cancelled by emit, -1 error (err set). */
int llm_generate(llm *m, const llm_prompt *prompts, int nprompts, uint64_t seed,
                 llm_emit_fn emit, void *ctx, char *err, size_t errlen);

/* "mock" or "openai:<model>" — for logs, metrics and /health. */
const char *llm_name(const llm *m);

void llm_free(llm *m);

#endif
