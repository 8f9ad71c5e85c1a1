/* fuzz_store — store_open on damaged and hostile store.bin files, then every
 * kind of search on whatever it accepts: it must refuse with a message or
 * work, never crash, read out of bounds or loop.
 *
 * At start a real small store is built with the store writer (real
 * analyzer, two topics, passages from the corpus, dim 8 so a run stays
 * fast) in a temporary directory (fuzz_build_store); its store.bin is the pristine
 * image. Each input is a recipe applied to a copy of that image:
 *   byte 0 (flags): bit 0 — recompute every section CRC and the header CRC
 *                   after patching, so the damage gets past the checksums
 *                   and reaches the structural checks (a CRC is no defence
 *                   against a crafted file);
 *                   bit 1 — the rest of the input is the whole file (no
 *                   image), for truly arbitrary bytes;
 *                   bit 2 — truncate the file to the length in bytes 1–2.
 *   then patches: [offset u16 LE][n u8][n bytes], offset modulo file size.
 * The file is written back, opened, and searched in all modes (exact and
 * HNSW, with and without a topic, k = 1 and a large k, with and without a
 * date range and an article cap), every hit fetched. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "store/format.h"
#include "store/documents.h"
#include "store/store.h"
#include "util/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIM 8
#define MODEL "fuzz-model"

static char dir[512];
static char store_path[600];
static uint8_t *image;
static size_t image_len;

static void die(const char *what, const char *err) {
    fprintf(stderr, "fuzz_store: %s: %s\n", what, err);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet_logs();
    char err[512];
    fuzz_build_store(dir, sizeof dir, MODEL, DIM);
    snprintf(store_path, sizeof store_path, "%s/%s", dir, STORE_FILE);
    image = (uint8_t *)read_file(store_path, &image_len, err, sizeof err);
    if (!image) die("read", err);
    /* The pristine image must open: otherwise every input is a refusal. */
    store *s = store_open(dir, MODEL, err, sizeof err);
    if (!s) die("pristine store", err);
    store_close(s);
    const char *seed_out = getenv("FUZZ_STORE_WRITE_IMAGE");
    if (seed_out) { /* for refreshing fuzz/corpus/fuzz_store/ */
        FILE *f = fopen(seed_out, "wb");
        if (f) fwrite(image, 1, image_len, f), fclose(f);
    }
    return 0;
}

static void fix_checksums(uint8_t *file, size_t len) {
    if (len < sizeof(disk_header)) return;
    disk_header h;
    memcpy(&h, file, sizeof h);
    for (int i = 0; i < SEC_COUNT; i++) {
        disk_section *sec = &h.sections[i];
        if (sec->offset <= len && sec->size <= len - sec->offset)
            sec->crc = store_crc32(file + sec->offset, sec->size);
    }
    h.header_crc = store_crc32(&h, offsetof(disk_header, header_crc));
    memcpy(file, &h, sizeof h);
}

static void search_all(const store_view *s) {
    static const char *const topics[] = {NULL, "business", "sports", "none"};
    static const search_mode modes[] = {SEARCH_VECTOR, SEARCH_LEXICAL, SEARCH_HYBRID};
    /* A hostile header may claim any dim when there are no vectors at all;
     * callers compare store_dim() with their encoder's before searching. */
    int dim = store_dim(s);
    float *q = dim > 0 && dim <= 4096 ? calloc((size_t)dim, sizeof *q) : NULL;
    if (q) q[0] = 1.0f;
    search_hit hits[STORE_MAX_K];
    char err[256];
    const char *const *names;
    int nt = store_topics(s, &names);
    for (int t = 0; t < nt; t++) (void)store_count(s, names[t]);
    for (size_t t = 0; t < ARRAY_LEN(topics); t++)
        for (size_t m = 0; m < ARRAY_LEN(modes); m++)
            for (int approx = 0; approx < 2; approx++)
                for (int k = 1; k <= STORE_MAX_K; k += STORE_MAX_K - 1) {
                    /* The filters read the passage table (dates, article
                     * ids) inside the search: every other query uses them. */
                    bool filtered = (k + approx + (int)m) % 2;
                    store_query query = {.vector = q, .text = "pakistan cricket oil", .text_len = 20,
                                         .topic = topics[t], .k = k, .mode = modes[m],
                                         .approximate = approx, .ef_search = 0,
                                         .lexical_first = approx,
                                         .date_from = filtered ? "2015-06-01" : NULL,
                                         .date_to = filtered ? "2016-06-30" : NULL,
                                         .max_per_article = filtered ? 2 : 0};
                    int n = store_search(s, &query, hits, err, sizeof err);
                    if (n > k) abort();
                    for (int i = 0; i < n; i++) {
                        store_passage p;
                        if (store_get(s, hits[i].passage_id, &p) != 0) abort();
                        if (!store_vector(s, hits[i].passage_id)) abort();
                    }
                }
    size_t count = store_count(s, NULL);
    for (uint32_t id = 0; id < count; id++) {
        store_passage p;
        if (store_get(s, id, &p) != 0) abort();
        volatile size_t sink = strlen(p.text) + strlen(p.heading) + strlen(p.topic) +
                               strlen(p.date) + strlen(p.article_id);
        (void)sink;
    }
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t flags = data[0];
    uint8_t *file;
    size_t len;
    if (flags & 2) {
        len = size - 1;
        file = malloc(len ? len : 1);
        memcpy(file, data + 1, len);
    } else {
        len = image_len;
        file = malloc(len);
        memcpy(file, image, len);
        size_t i = 1;
        if ((flags & 4) && size >= 3) {
            size_t cut = (size_t)data[1] | (size_t)data[2] << 8;
            if (cut < len) len = cut;
            i = 3;
        }
        while (len && i + 3 <= size) {
            size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % len;
            size_t n = data[i + 2];
            i += 3;
            if (n > size - i) n = size - i;
            if (n > len - off) n = len - off;
            memcpy(file + off, data + i, n);
            i += n;
        }
    }
    if (flags & 1) fix_checksums(file, len);
    const char *dump = getenv("FUZZ_STORE_DUMP"); /* to look at a crashing file */
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (f) fwrite(file, 1, len, f), fclose(f);
    }

    int fd = open(store_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, file, len) != (ssize_t)len) abort();
    close(fd);
    free(file);

    char err[512] = "";
    store *s = store_open(dir, MODEL, err, sizeof err);
    if (!s) {
        if (!err[0]) abort(); /* a refusal names its cause */
        return 0;
    }
    const store_view *v = store_acquire(s);
    search_all(v);
    store_release(v);
    store_close(s);
    return 0;
}
