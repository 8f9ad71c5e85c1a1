/* encoder — the sentence encoder (see encoder.h): finds the model folder,
 * loads tokenizer and BERT, and turns texts into unit vectors.
 *
 * Where the model comes from, in order:
 *   1. --model-dir / RAGD_MODEL_DIR, if given;
 *   2. the candidate folders of all-MiniLM-L6-v2 (model_dirs.h).
 * The first folder holding model.safetensors wins. If none does — the real
 * weights cannot be fetched on every machine — the random-weight twin
 * (minilm-l6-h384-random, beside the folder found, or in the same places) is
 * used with a loud warning that names scripts/get-model.sh: the product still
 * runs, its vectors just mean nothing.
 */
#include "model/encoder.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/bert.h"
#include "model/model_dirs.h"
#include "obs/log.h"
#include "util/util.h"


struct encoder {
    bert *bert;
    tokenizer *tok;
    encoder_info info;
    char *model_dir;
    /* grow-only token buffers: n × ENCODER_MAX_TOKENS ids */
    int32_t *ids;
    const int32_t **id_ptrs;
    int *lens;
    int cap;
};

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* dir/file into out; false if it does not fit. */
static bool path_join(char *out, size_t outlen, const char *dir, const char *file) {
    int n = snprintf(out, outlen, "%s/%s", dir, file);
    return n >= 0 && (size_t)n < outlen;
}

static bool has_weights(const char *dir) {
    char path[PATH_MAX];
    return path_join(path, sizeof path, dir, "model.safetensors") && file_exists(path);
}

/* The folder to load, malloc'd; *real says whether it holds the real
 * weights. NULL with err set if no model can be found at all. */
static char *locate_model(const char *dir_flag, bool *real, char *err, size_t errlen) {
    char *cands[MODEL_DIR_CANDIDATES];
    int n = 0;
    char *found = NULL;
    const char *twin_hint = NULL; /* a folder without weights: look beside it */

    if (dir_flag && *dir_flag) {
        if (!is_dir(dir_flag)) {
            seterr(err, errlen, "model folder %s does not exist", dir_flag);
            return NULL;
        }
        if (has_weights(dir_flag)) {
            const char *base = strrchr(dir_flag, '/');
            base = base ? base + 1 : dir_flag;
            *real = strcmp(base, ENCODER_TWIN_NAME) != 0;
            return xstrdup(dir_flag);
        }
        twin_hint = dir_flag;
    } else {
        n = model_candidate_dirs(ENCODER_MODEL_NAME, cands, (int)ARRAY_LEN(cands));
        for (int i = 0; i < n && !found; i++) {
            if (has_weights(cands[i]))
                found = xstrdup(cands[i]);
            else if (!twin_hint && is_dir(cands[i]))
                twin_hint = cands[i];
        }
        if (found) {
            for (int i = 0; i < n; i++) free(cands[i]);
            *real = true;
            return found;
        }
    }

    /* No real weights: the twin, beside the folder we saw, else anywhere. */
    char path[PATH_MAX];
    if (twin_hint && path_join(path, sizeof path, twin_hint, "../" ENCODER_TWIN_NAME) &&
        has_weights(path))
        found = xstrdup(path);
    char *twins[MODEL_DIR_CANDIDATES];
    int nt = found ? 0 : model_candidate_dirs(ENCODER_TWIN_NAME, twins, (int)ARRAY_LEN(twins));
    for (int i = 0; i < nt; i++) {
        if (!found && has_weights(twins[i])) found = xstrdup(twins[i]);
        free(twins[i]);
    }
    if (found) {
        log_warn("NO REAL MODEL WEIGHTS: %s/model.safetensors not found; running on the "
                 "random-weight twin %s — vectors are meaningless (retrieval leans on its lexical "
                 "half). Fetch the real weights with scripts/get-model.sh",
                 twin_hint ? twin_hint : "models/" ENCODER_MODEL_NAME, found);
        *real = false;
    } else {
        seterr(err, errlen,
               "no model found: no model.safetensors in %s nor in ./models/%s or "
               "../shared/models/%s; run scripts/get-model.sh",
               dir_flag && *dir_flag ? dir_flag : "(no --model-dir)", ENCODER_MODEL_NAME,
               ENCODER_MODEL_NAME);
    }
    for (int i = 0; i < n; i++) free(cands[i]);
    return found;
}

encoder *encoder_open(const char *dir_flag, int threads, char *err, size_t errlen) {
    if (!dir_flag || !*dir_flag) dir_flag = getenv("RAGD_MODEL_DIR");
    bool real = false;
    char *dir = locate_model(dir_flag, &real, err, errlen);
    if (!dir) return NULL;
    encoder *e = xcalloc(1, sizeof *e);
    e->model_dir = dir;
    char vocab[PATH_MAX], config[PATH_MAX], weights[PATH_MAX];
    if (!path_join(vocab, sizeof vocab, dir, "vocab.txt") ||
        !path_join(config, sizeof config, dir, "config.json") ||
        !path_join(weights, sizeof weights, dir, "model.safetensors")) {
        seterr(err, errlen, "model folder path too long: %s", dir);
        goto fail;
    }
    if (!(e->tok = tokenizer_open(vocab, err, errlen))) goto fail;
    if (!(e->bert = bert_open(config, weights, threads, err, errlen))) goto fail;
    const bert_config *c = bert_get_config(e->bert);
    if (c->hidden != ENCODER_DIM || c->max_positions < ENCODER_MAX_TOKENS ||
        c->vocab != tokenizer_vocab_size(e->tok)) {
        seterr(err, errlen,
               "%s: hidden size %d, %d positions, vocabulary %d do not fit %s (%d, >= %d, the "
               "%d pieces of vocab.txt)",
               config, c->hidden, c->max_positions, c->vocab, ENCODER_MODEL_NAME, ENCODER_DIM,
               ENCODER_MAX_TOKENS, tokenizer_vocab_size(e->tok));
        goto fail;
    }
    e->info = (encoder_info){.model_name = ENCODER_MODEL_NAME,
                             .model_dir = e->model_dir,
                             .real_weights = real,
                             .dim = ENCODER_DIM,
                             .max_tokens = ENCODER_MAX_TOKENS,
                             .threads = bert_threads(e->bert)};
    log_fields(LOG_INFO, "encoder loaded",
               (log_field[]){LOG_STR("model_dir", e->model_dir),
                             LOG_STR("weights", real ? "real" : "random twin"),
                             LOG_INT("threads", e->info.threads),
                             LOG_STR("gemm", gemm_backend_name(gemm_default_backend())),
                             LOG_STR("kernel", gemm_own_kernel_name())},
               5);
    return e;
fail:
    encoder_close(e);
    return NULL;
}

void encoder_close(encoder *e) {
    if (!e) return;
    bert_close(e->bert);
    tokenizer_close(e->tok);
    free(e->model_dir);
    free(e->ids);
    free(e->id_ptrs);
    free(e->lens);
    free(e);
}

const encoder_info *encoder_get_info(const encoder *e) { return &e->info; }
const tokenizer *encoder_tokenizer(const encoder *e) { return e->tok; }

static void reserve(encoder *e, int n) {
    if (n <= e->cap) return;
    free(e->ids);
    free(e->id_ptrs);
    free(e->lens);
    e->ids = xmalloc((size_t)n * ENCODER_MAX_TOKENS * sizeof *e->ids);
    e->id_ptrs = xmalloc((size_t)n * sizeof *e->id_ptrs);
    e->lens = xmalloc((size_t)n * sizeof *e->lens);
    e->cap = n;
}

int encoder_embed(encoder *e, int n, const char *const *texts, const size_t *lens, float *out,
                  int *ntokens, char *err, size_t errlen) {
    if (n <= 0) return 0;
    reserve(e, n);
    for (int i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        int32_t *ids = e->ids + (size_t)i * ENCODER_MAX_TOKENS;
        e->lens[i] = tokenizer_encode(e->tok, texts[i], len, ids, ENCODER_MAX_TOKENS, NULL);
        e->id_ptrs[i] = ids;
        if (ntokens) ntokens[i] = e->lens[i];
    }
    return bert_embed(e->bert, n, e->id_ptrs, e->lens, out, err, errlen);
}

int encoder_embed_ids(encoder *e, int n, const int32_t *const *ids, const int *lens, float *out,
                      char *err, size_t errlen) {
    if (n <= 0) return 0;
    for (int i = 0; i < n; i++)
        if (lens[i] < 2 || lens[i] > ENCODER_MAX_TOKENS)
            return seterr(err, errlen, "text %d has %d ids (2 to %d allowed)", i, lens[i],
                          ENCODER_MAX_TOKENS);
    return bert_embed(e->bert, n, ids, lens, out, err, errlen);
}

bert *encoder_bert(encoder *e) { return e->bert; }
