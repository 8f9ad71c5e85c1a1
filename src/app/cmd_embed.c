/* cmd_embed — `ragd embed [--model-dir D] [--threads N] [text…]`: print one
 * JSON array of 384 floats per text, in order. Texts come from the arguments,
 * or, with none, from standard input, one per line (a trailing CR is
 * dropped). Lines are encoded in batches, so piping a file through it runs at
 * the encoder's batch speed. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "app/role.h"
#include "model/encoder.h"
#include "util/buf.h"
#include "util/fmt_float.h"
#include "util/util.h"

#define BATCH 64

/* Embed texts[0..n) and print their vectors; 0 or -1 after a message. */
static int embed_and_print(encoder *e, int n, const char *const *texts, const size_t *lens,
                           float *vecs, buf *out) {
    char err[512];
    if (encoder_embed(e, n, texts, lens, vecs, NULL, err, sizeof err)) {
        fprintf(stderr, "ragd embed: %s\n", err);
        return -1;
    }
    buf_clear(out);
    for (int i = 0; i < n; i++) {
        buf_float_array(out, vecs + (size_t)i * ENCODER_DIM, ENCODER_DIM);
        buf_putc(out, '\n');
    }
    if (fwrite(out->data, 1, out->len, stdout) != out->len || fflush(stdout)) {
        fprintf(stderr, "ragd embed: cannot write the output\n");
        return -1;
    }
    return 0;
}

int cmd_embed(int argc, char **argv) {
    const char *model_dir = NULL;
    int threads = 0;
    const option_spec specs[] = {
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &model_dir,
         "model folder (default: ./models/all-MiniLM-L6-v2, then ../shared/models/…)", 0, 0},
        {"threads", "RAGD_THREADS", OPT_INT, &threads, "encoder threads (0: one per core)", 0,
         256},
    };
    role r;
    role_init(&r, "embed", "[text…]",
              "Print one JSON vector (384 floats) per text: the arguments, or else each line of "
              "standard input.");
    options_add_all(&r.options, specs, ARRAY_LEN(specs));
    r.max_positional = INT_MAX;
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
    int npos = r.npositional;

    char err[512];
    encoder *e = encoder_open(model_dir, threads, err, sizeof err);
    if (!e) {
        fprintf(stderr, "ragd embed: %s\n", err);
        return role_end(&r, 1);
    }
    float *vecs = xmalloc((size_t)BATCH * ENCODER_DIM * sizeof *vecs);
    buf out = BUF_INIT;
    int status = 0;
    if (npos > 0) {
        for (int first = 0; first < npos && !status; first += BATCH) {
            int n = npos - first < BATCH ? npos - first : BATCH;
            status = embed_and_print(e, n, (const char *const *)argv + 1 + first, NULL, vecs, &out);
        }
    } else {
        char *lines[BATCH] = {0};
        size_t caps[BATCH] = {0}, lens[BATCH];
        int n = 0;
        for (;;) {
            ssize_t got = getline(&lines[n], &caps[n], stdin);
            if (got >= 0) {
                size_t len = (size_t)got;
                if (len && lines[n][len - 1] == '\n') len--;
                if (len && lines[n][len - 1] == '\r') len--;
                lens[n++] = len;
            }
            if ((got < 0 && n > 0) || n == BATCH) {
                status = embed_and_print(e, n, (const char *const *)lines, lens, vecs, &out);
                n = 0;
            }
            if (got < 0 || status) break;
        }
        if (ferror(stdin)) {
            fprintf(stderr, "ragd embed: error reading standard input\n");
            status = -1;
        }
        for (int i = 0; i < BATCH; i++) free(lines[i]);
    }
    buf_free(&out);
    free(vecs);
    encoder_close(e);
    return role_end(&r, status ? 1 : 0);
}
