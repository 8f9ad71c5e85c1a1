/* openai_embeddings — POST /v1/embeddings (see openai_embeddings.h, docs/api.md).
 *
 * Token-id input: the ids are the model's own WordPiece ids (what a client
 * gets from all-MiniLM-L6-v2's tokenizer). Hugging Face tokenizers add [CLS]
 * and [SEP] by default and other tokenizers do not, so a leading [CLS] and a
 * trailing [SEP] are taken as given and added where missing: "[CLS] a b
 * [SEP]" and "a b" are the same input and embed exactly as the text "a b"
 * does. Longer sequences are cut as text is (the first 254 pieces, then
 * [SEP]), and usage counts the ids encoded, [CLS] and [SEP] included, as for
 * text.
 *
 * Like /encode, the handler validates everything, hands the inputs to the
 * batcher and parks the connection; the batcher's completion writes the
 * answer (vectors as JSON floats or as base64 of their little-endian float32
 * bytes) and wakes it.
 */
#include "app/openai_embeddings.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "app/openai_error.h"
#include "model/encoder.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/fmt_float.h"
#include "util/util.h"

typedef struct embed_job {
    http_request *req;
    bool base64;
} embed_job;

/* One vector as base64 of its float32 values, little-endian whatever the host. */
static void append_base64_vector(buf *out, const float *v) {
    unsigned char bytes[ENCODER_DIM * 4];
    for (int i = 0; i < ENCODER_DIM; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        for (int k = 0; k < 4; k++) bytes[i * 4 + k] = (unsigned char)(bits >> (8 * k));
    }
    base64_append(out, bytes, sizeof bytes);
}

static void embeddings_done(void *ctx, batcher_status status, int n, const float *vectors,
                            const int *ntokens, const char *err) {
    embed_job *j = ctx;
    if (status != BATCHER_OK) {
        openai_respond_error(j->req, 500, NULL, NULL, "encoder failed: %s", err);
        free(j);
        return;
    }
    buf out = BUF_INIT;
    buf_reserve(&out, (size_t)n * (j->base64 ? 2200 : ENCODER_DIM * 12 + 64) + 256);
    long total = 0;
    buf_puts(&out, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < n; i++) {
        const float *v = vectors + (size_t)i * ENCODER_DIM;
        buf_printf(&out, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
        if (j->base64) {
            buf_putc(&out, '"');
            append_base64_vector(&out, v);
            buf_putc(&out, '"');
        } else {
            buf_float_array(&out, v, ENCODER_DIM);
        }
        buf_putc(&out, '}');
        total += ntokens[i];
    }
    buf_printf(&out, "],\"model\":\"%s\",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
               ENCODER_MODEL_NAME, total, total);
    http_respond(j->req, 200, "application/json", out.data, out.len);
    buf_free(&out);
    free(j);
}

/* The inputs of one request, validated: texts, or id sequences already in
 * the encoder's form ([CLS] … [SEP], at most ENCODER_MAX_TOKENS). */
typedef struct embed_inputs {
    int n;
    bool token_ids;
    const char **texts; /* borrowed from the request's JSON */
    size_t *text_lens;
    int32_t **ids;      /* owned */
    int *id_lens;
} embed_inputs;

static void inputs_free(embed_inputs *in) {
    for (int i = 0; in->ids && i < in->n; i++) free(in->ids[i]);
    free(in->ids);
    free(in->id_lens);
    free(in->texts);
    free(in->text_lens);
}

/* One list of ids → the encoder's sequence in in->ids[i]. Returns 0, or -1
 * with the error sent. */
static int take_token_list(http_request *r, embed_inputs *in, int i, json_t *list, int vocab,
                           const char *where) {
    size_t len = json_array_size(list);
    if (len == 0) {
        openai_respond_error(r, 400, "input", NULL, "%s is an empty list of token ids", where);
        return -1;
    }
    for (size_t k = 0; k < len; k++) {
        json_t *t = json_array_get(list, k);
        if (!json_is_integer(t)) {
            openai_respond_error(r, 400, "input", NULL, "%s[%zu] must be an integer token id", where, k);
            return -1;
        }
        json_int_t id = json_integer_value(t);
        if (id < 0 || id >= vocab) {
            openai_respond_error(r, 400, "input", NULL,
                                 "%s[%zu] = %lld is not a token id of %s (ids are 0 to %d)", where, k,
                                 (long long)id, ENCODER_MODEL_NAME, vocab - 1);
            return -1;
        }
    }
    size_t start = json_integer_value(json_array_get(list, 0)) == TOKEN_CLS;
    size_t end = len;
    if (end > start && json_integer_value(json_array_get(list, end - 1)) == TOKEN_SEP) end--;
    size_t pieces = end - start;
    if (pieces > ENCODER_MAX_TOKENS - 2) pieces = ENCODER_MAX_TOKENS - 2; /* as text is cut */
    int32_t *seq = xmalloc((pieces + 2) * sizeof *seq);
    seq[0] = TOKEN_CLS;
    for (size_t k = 0; k < pieces; k++) seq[k + 1] = (int32_t)json_integer_value(json_array_get(list, start + k));
    seq[pieces + 1] = TOKEN_SEP;
    in->ids[i] = seq;
    in->id_lens[i] = (int)pieces + 2;
    return 0;
}

/* input: a string, an array of strings, an array of token ids, or an array
 * of arrays of token ids. Returns 0, or -1 with the error sent. */
static int collect_inputs(http_request *r, const model_service *m, json_t *input, embed_inputs *in) {
    static const char shapes[] =
        "'input' must be a string, an array of strings, an array of token ids or an array of arrays of token ids";
    if (!json_is_string(input) && !json_is_array(input)) {
        openai_respond_error(r, 400, "input", NULL, "%s", shapes);
        return -1;
    }
    json_t *first = json_is_array(input) ? json_array_get(input, 0) : input;
    if (!first) {
        openai_respond_error(r, 422, "input", NULL, "'input' is empty: nothing to encode");
        return -1;
    }
    bool one_token_list = json_is_integer(first);
    in->token_ids = one_token_list || json_is_array(first);
    in->n = json_is_string(input) || one_token_list ? 1 : (int)json_array_size(input);
    if (!in->token_ids && !json_is_string(first)) {
        openai_respond_error(r, 400, "input", NULL, "%s", shapes);
        return -1;
    }
    if (in->n > m->max_texts) {
        openai_respond_error(r, 413, "input", NULL, "%d inputs in one request; the limit is %d", in->n,
                             m->max_texts);
        return -1;
    }
    if (in->token_ids) {
        int vocab = tokenizer_vocab_size(encoder_tokenizer(batcher_encoder(m->batcher)));
        in->ids = xcalloc((size_t)in->n, sizeof *in->ids);
        in->id_lens = xcalloc((size_t)in->n, sizeof *in->id_lens);
        if (one_token_list) return take_token_list(r, in, 0, input, vocab, "input");
        for (int i = 0; i < in->n; i++) {
            json_t *list = json_array_get(input, (size_t)i);
            char where[32];
            snprintf(where, sizeof where, "input[%d]", i);
            if (!json_is_array(list)) {
                openai_respond_error(r, 400, "input", NULL,
                                     "%s must be a list of token ids like the other inputs", where);
                return -1;
            }
            if (take_token_list(r, in, i, list, vocab, where) < 0) return -1;
        }
        return 0;
    }
    in->texts = xmalloc((size_t)in->n * sizeof *in->texts);
    in->text_lens = xmalloc((size_t)in->n * sizeof *in->text_lens);
    for (int i = 0; i < in->n; i++) {
        json_t *t = json_is_string(input) ? input : json_array_get(input, (size_t)i);
        if (!json_is_string(t)) {
            openai_respond_error(r, 400, "input", NULL, "input[%d] must be a string like the other inputs", i);
            return -1;
        }
        in->texts[i] = json_string_value(t);
        in->text_lens[i] = json_string_length(t);
        if (in->text_lens[i] > m->max_text_bytes) {
            openai_respond_error(r, 413, "input", NULL, "input[%d] is %zu bytes; the limit is %zu", i,
                                 in->text_lens[i], m->max_text_bytes);
            return -1;
        }
    }
    return 0;
}

/* encoding_format: absent or null means float (OpenAI's default). Returns
 * 0 with *base64 set, or -1 with the error sent. */
static int read_format(http_request *r, json_t *body, bool *base64) {
    json_t *fmt = json_object_get(body, "encoding_format");
    *base64 = false;
    if (!fmt || json_is_null(fmt)) return 0;
    const char *f = json_string_value(fmt);
    if (f && !strcmp(f, "float")) return 0;
    if (f && !strcmp(f, "base64")) return *base64 = true, 0;
    if (f)
        openai_respond_error(r, 400, "encoding_format", NULL,
                             "unknown encoding_format '%s': give \"float\" or \"base64\"", f);
    else
        openai_respond_error(r, 400, "encoding_format", NULL,
                             "'encoding_format' must be the string \"float\" or \"base64\"");
    return -1;
}

/* dimensions: this model has only its full 384; anything else is refused
 * rather than silently answered at another size. */
static int check_dimensions(http_request *r, json_t *body) {
    json_t *d = json_object_get(body, "dimensions");
    if (!d || json_is_null(d)) return 0;
    if (!json_is_integer(d)) {
        openai_respond_error(r, 400, "dimensions", NULL, "'dimensions' must be an integer");
        return -1;
    }
    if (json_integer_value(d) != ENCODER_DIM) {
        openai_respond_error(r, 400, "dimensions", NULL,
                             "%s has %d dimensions and no shorter form: 'dimensions' %lld is not "
                             "supported (give %d or leave it out)",
                             ENCODER_MODEL_NAME, ENCODER_DIM, (long long)json_integer_value(d), ENCODER_DIM);
        return -1;
    }
    return 0;
}

static void post_embeddings(http_request *r, void *ctx) {
    model_service *m = ctx;
    json_t *body = openai_request_json(r);
    if (!body) return;
    embed_inputs in = {0};
    bool base64;
    json_t *input = json_object_get(body, "input");
    if (!input) {
        openai_respond_error(r, 422, "input", NULL, "'input' is required");
        goto out;
    }
    /* "model" and "user" are accepted and not checked: this service has one
     * embedding model, and clients send their own default names. */
    if (read_format(r, body, &base64) < 0 || check_dimensions(r, body) < 0 ||
        collect_inputs(r, m, input, &in) < 0)
        goto out;
    embed_job *j = xcalloc(1, sizeof *j);
    j->req = r;
    j->base64 = base64;
    http_request_hold(r);
    batcher_status rc = in.token_ids
                 ? batcher_submit_ids(m->batcher, in.n, (const int32_t *const *)in.ids, in.id_lens,
                                      embeddings_done, j)
                 : batcher_submit(m->batcher, in.n, in.texts, in.text_lens, embeddings_done, j);
    if (rc != BATCHER_OK) {
        free(j);
        http_add_header(r, "Retry-After", "1");
        openai_respond_error(r, 429, NULL, NULL, "the encoder queue is full; retry shortly");
    }
out:
    inputs_free(&in);
    json_decref(body);
}

void openai_embeddings_add(route_list *routes, model_service *m, size_t max_body) {
    routes_add(routes, "POST", "/v1/embeddings", post_embeddings, m, max_body);
}
