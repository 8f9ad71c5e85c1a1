/* test_safetensors — the weights loader refuses a wrong file with a message
 * that says what is wrong: truncated data, a header longer than the file, a
 * broken header, a tensor of the wrong shape or dtype, a missing or foreign
 * tensor. Each case is the twin's model.safetensors with one defect, written
 * to a temporary file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/bert.h"
#include "model/safetensors.h"
#include "util/util.h"

static char *model;     /* the twin's bytes */
static size_t model_len;
static char weights_path[4200], config_path[4200], tmp_path[4200];

static int setup(void **state) {
    const char *shared = getenv("RAGD_SHARED_DIR");
    if (!shared || !*shared) shared = "../shared";
    snprintf(weights_path, sizeof weights_path, "%s/models/minilm-l6-h384-random/model.safetensors",
             shared);
    snprintf(config_path, sizeof config_path, "%s/models/minilm-l6-h384-random/config.json", shared);
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/ragd-test-st-%d.safetensors", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    char err[256];
    model = read_file(weights_path, &model_len, err, sizeof err);
    if (!model) fprintf(stderr, "%s\n", err);
    return model ? 0 : -1;
}

static int teardown(void **state) {
    free(model);
    unlink(tmp_path);
    return 0;
}

static void write_variant(const char *data, size_t len) {
    FILE *f = fopen(tmp_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The twin with the first occurrence of `from` in its JSON header replaced
 * by `to` (same length, so every offset stays valid). */
static void write_header_edit(const char *from, const char *to) {
    assert_int_equal(strlen(from), strlen(to));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (uint8_t)model[i];
    char *copy = xmalloc(model_len);
    memcpy(copy, model, model_len);
    char *hdr = copy + 8, *end = hdr + hlen;
    char *at = NULL;
    for (char *p = hdr; p + strlen(from) <= end; p++)
        if (!memcmp(p, from, strlen(from))) {
            at = p;
            break;
        }
    assert_non_null(at);
    memcpy(at, to, strlen(to));
    write_variant(copy, model_len);
    free(copy);
}

/* bert_open on the temporary file must fail with a message containing each
 * of the given fragments. */
static void expect_refused(const char *frag1, const char *frag2) {
    char err[512] = "";
    bert *b = bert_open(config_path, tmp_path, 1, err, sizeof err);
    if (b) bert_close(b);
    assert_null(b);
    printf("refused: %s\n", err);
    assert_non_null(strstr(err, frag1));
    if (frag2) assert_non_null(strstr(err, frag2));
}

static void test_the_twin_loads(void **state) {
    char err[512] = "";
    safetensors *st = safetensors_open(weights_path, err, sizeof err);
    assert_non_null(st);
    assert_int_equal(st->ntensors, 6 * 16 + 8);
    const st_tensor *t = safetensors_find(st, "encoder.layer.5.output.dense.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F32);
    assert_int_equal(t->shape[0], 384);
    assert_int_equal(t->shape[1], 1536);
    assert_int_equal(t->nbytes, 384 * 1536 * 4);
    safetensors_close(st);
}

static void test_truncated_file(void **state) {
    write_variant(model, model_len - 1000);
    expect_refused("truncated", "pooler.dense.weight"); /* the last tensor in the file */
}

static void test_header_longer_than_file(void **state) {
    write_variant(model, 5000);
    expect_refused("truncated", NULL);
    write_variant(model, 4);
    expect_refused("truncated", NULL);
}

static void test_broken_header(void **state) {
    write_header_edit("{\"dtype\":\"F32\"", "[\"dtype\":\"F32\"");
    expect_refused("header", NULL);
}

static void test_wrong_shape(void **state) {
    /* same element count, transposed: only a shape check can catch it */
    write_header_edit("\"shape\":[1536,384]", "\"shape\":[384,1536]");
    expect_refused("intermediate.dense.weight", "shape [384, 1536], expected [1536, 384]");
}

static void test_wrong_dtype(void **state) {
    write_header_edit("\"dtype\":\"F32\",\"shape\":[384,384]", "\"dtype\":\"I32\",\"shape\":[384,384]");
    expect_refused("is I32, expected F32", NULL);
}

static void test_byte_count_mismatch(void **state) {
    write_header_edit("\"shape\":[2,384]", "\"shape\":[3,384]");
    expect_refused("token_type_embeddings", "occupies");
}

static void test_foreign_and_missing_tensor(void **state) {
    write_header_edit("pooler.dense.bias", "classifier.biasXX");
    expect_refused("unexpected tensor 'classifier.biasXX'", NULL);
    write_header_edit("embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta");
    expect_refused("unexpected tensor", NULL);
}

static void test_missing_file(void **state) {
    char err[512] = "";
    assert_null(safetensors_open("/nonexistent/model.safetensors", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/model.safetensors"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_twin_loads),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_header_longer_than_file),
        cmocka_unit_test(test_broken_header),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_wrong_dtype),
        cmocka_unit_test(test_byte_count_mismatch),
        cmocka_unit_test(test_foreign_and_missing_tensor),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
