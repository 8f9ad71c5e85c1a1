/* fuzz_util — see fuzz_util.h. */
#include "fuzz_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "obs/log.h"
#include "store/store.h"
#include "util/util.h"

void fuzz_shared_path(const char *rel, char *out, size_t outlen) {
    const char *dir = getenv("RAGD_SHARED_DIR");
    snprintf(out, outlen, "%s/%s", dir && *dir ? dir : RAGD_FUZZ_SHARED_DIR, rel);
}

void fuzz_quiet_logs(void) {
    /* Above LOG_ERROR: nothing is written. */
    log_set_level((log_level)(LOG_ERROR + 1));
}

static const char *const passages[][4] = { /* heading, topic, date, text */
    {"sindh govt decides to cut public transport fares by 7pc", "business", "2015-01-01",
     "KARACHI: The Sindh government has decided to bring down public transport fares by 7 per cent"},
    {"asia stocks up in new year trad", "business", "2015-01-02",
     "HONG KONG: Asian markets started 2015 on an upswing in limited trading on Friday"},
    {"Oil prices climb after US oil output f", "business", "2016-03-04",
     "SINGAPORE: Oil futures rose in Asian trade on Friday, buoyed by renewed optimism"},
    {"Privatization Commission approves leasing out PSM", "business", "2017-01-17",
     "ISLAMABAD: The board of Privatization Commission on Tuesday approved leasing out Pakistan Steel Mills"},
    {"Afghanistan beaten after giving tough time to England", "sports", "2016-03-23",
     "Delhi: Cricket minnows Afghanistan gave a tough time to England in the World Twenty20"},
    {"Pakistani cricketers to don Edhi Foundation logo on jersey", "sports", "2016-06-17",
     "LAHORE: In order to pay tribute to philanthropist Edhi\xe2\x80\x99s services for humanity, the Pakistan Cricket Board"},
    {"Cricket board names squad", "sports", "2016-07-01",
     "The Pakistan Cricket Board named a sixteen-man squad for the tour of England on Friday"},
};

static void unit_vector(uint64_t seed, float *v, int dim) {
    double n = 0;
    for (int i = 0; i < dim; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(seed >> 40) / (double)(1ull << 24) - 0.5);
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n));
}

static void die(const char *what, const char *err) {
    fprintf(stderr, "fuzz: %s: %s\n", what, err);
    exit(1);
}

void fuzz_build_store(char *dir, size_t dirlen, const char *model, int dim) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, dirlen, "%s/ragd-fuzz-XXXXXX", base);
    if (!mkdtemp(dir)) die("mkdtemp", dir);
    char err[512];
    store_writer *w = store_writer_open(dir, model, dim, err, sizeof err);
    if (!w) die("store writer", err);
    store_writer_set_hnsw(w, 4, 16, 1);
    float *v = xmalloc((size_t)dim * sizeof *v);
    for (size_t i = 0; i < ARRAY_LEN(passages); i++) {
        unit_vector(i + 1, v, dim);
        char key[32], article[32];
        snprintf(key, sizeof key, "k%zu", i);
        snprintf(article, sizeof article, "%zu", i);
        store_passage p = {.article_id = article, .heading = passages[i][0], .topic = passages[i][1],
                           .date = passages[i][2], .text = passages[i][3], .passage_index = 0};
        if (store_writer_add(w, key, &p, v, err, sizeof err) != 0) die("store add", err);
    }
    free(v);
    if (store_writer_commit(w, err, sizeof err) != 0) die("store commit", err);
    store_writer_close(w);
}
