/* snapshot — one immutable store.bin: map it, verify it, answer searches
 * over its rows. The store (store.c) hands snapshots out inside views; a
 * snapshot is freed when the last view holding it is released.
 *
 * Opening checks, in order, everything that could make a mapped pointer
 * wrong: magic, format version, header checksum, model and dim, section
 * bounds, every section's CRC32, then the cross-references between tables
 * (rows, topics, string offsets, graph links). After that, searches trust
 * the mapping and do no bounds checks in their loops.
 *
 * Rows are grouped by topic, so a topic is a contiguous row range: the exact
 * scan walks just that range, BM25 binary-searches into its postings, and
 * each topic has its own HNSW graph. A query over all topics scans all rows
 * (exact, BM25) or searches every topic's graph and merges (HNSW).
 */
#include "store/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store/format.h"
#include "store/hnsw.h"
#include "store/store_internal.h"
#include "store/vecmath.h"
#include "util/util.h"

#define RRF_K 60.0f
#define HYBRID_DEPTH 50 /* each half contributes its best max(k, this) */



static const char *rebuild_hint = "remove the data directory (or choose another --data-dir) "
                                  "and run `ragd ingest` to rebuild it";

bool store_exists(const char *data_dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data_dir, STORE_FILE);
    return file_exists(path);
}

int store_check_header(const disk_header *h, size_t file_size, const char *path,
                       const char *expected_model, int expected_dim, char *err, size_t errlen) {
    if (file_size < sizeof *h || memcmp(h->magic, STORE_MAGIC, 8) != 0)
        return seterr(err, errlen, "%s is not a ragd store (bad magic or truncated); %s", path,
                      rebuild_hint);
    if (h->version != STORE_FORMAT_VERSION)
        return seterr(err, errlen,
                      "%s has store format version %u but this ragd reads version %d; re-run "
                      "`ragd ingest` on it to rebuild the snapshot from its log (nothing is "
                      "encoded again), or %s",
                      path, h->version, STORE_FORMAT_VERSION, rebuild_hint);
    if (store_crc32(h, offsetof(disk_header, header_crc)) != h->header_crc)
        return seterr(err, errlen, "%s is corrupted (header checksum mismatch); %s", path,
                      rebuild_hint);
    char analyzer_id[ANALYZER_ID_MAX + 1];
    memcpy(analyzer_id, h->analyzer, ANALYZER_ID_MAX);
    analyzer_id[ANALYZER_ID_MAX] = '\0';
    if (strcmp(analyzer_id, ANALYZER_ID) != 0)
        return seterr(err, errlen,
                      "%s was indexed with BM25 analyzer \"%s\" but this ragd uses \"%s\"; "
                      "re-run `ragd ingest` on it to rebuild the index from its log (nothing is "
                      "encoded again), or %s",
                      path, analyzer_id, ANALYZER_ID, rebuild_hint);
    char model[MODEL_ID_MAX + 1];
    memcpy(model, h->model, MODEL_ID_MAX);
    model[MODEL_ID_MAX] = '\0';
    if (expected_model != NULL && strcmp(model, expected_model) != 0)
        return seterr(err, errlen,
                      "%s was built with model \"%s\" but this ragd uses \"%s\"; run ingest "
                      "with the same model, or %s",
                      path, model, expected_model, rebuild_hint);
    if (expected_dim > 0 && (int)h->dim != expected_dim)
        return seterr(err, errlen, "%s holds %u-dimensional vectors but the model gives %d; %s",
                      path, h->dim, expected_dim, rebuild_hint);
    return 0;
}

static int check_sections(snapshot *s, const char *path, char *err, size_t errlen) {
    const disk_header *h = s->h;
    for (int i = 0; i < SEC_COUNT; i++) {
        const disk_section *sec = &h->sections[i];
        if (sec->offset % SECTION_ALIGN != 0 || sec->offset < sizeof *h ||
            sec->offset > s->size || sec->size > s->size - sec->offset)
            return seterr(err, errlen, "%s is truncated or corrupted (section %d out of bounds); %s",
                          path, i, rebuild_hint);
        if (store_crc32(s->map + sec->offset, sec->size) != sec->crc)
            return seterr(err, errlen, "%s is corrupted (section %d checksum mismatch); %s", path,
                          i, rebuild_hint);
    }
    return 0;
}

static int check_tables(snapshot *s, const char *path, char *err, size_t errlen) {
    const disk_header *h = s->h;
    const disk_section *sec = h->sections;
    uint32_t n = s->n;
    if (sec[SEC_TOPICS].size != (uint64_t)s->n_topics * sizeof(disk_topic) ||
        sec[SEC_PASSAGES].size != (uint64_t)n * sizeof(disk_passage) ||
        sec[SEC_ROW_IDS].size != (uint64_t)n * 4 ||
        sec[SEC_VECTORS].size != (uint64_t)n * s->dim * sizeof(float) ||
        sec[SEC_STRINGS].size == 0 || s->strings[s->strings_len - 1] != '\0' ||
        sec[SEC_HNSW].size < (uint64_t)s->n_topics * 16)
        goto bad;
    uint32_t next_row = 0;
    for (uint32_t t = 0; t < s->n_topics; t++) {
        const disk_topic *tp = &s->topics[t];
        if (tp->name >= s->strings_len || tp->row_start != next_row || tp->rows > n - next_row)
            goto bad;
        next_row += tp->rows;
        if (tp->rows > s->max_topic_rows) s->max_topic_rows = tp->rows;
        /* Names sorted and distinct, so snap_topics() is sorted and lookups unambiguous. */
        if (t > 0 && strcmp(s->strings + s->topics[t - 1].name, s->strings + tp->name) >= 0)
            goto bad;
    }
    if (next_row != n) goto bad;
    for (uint32_t id = 0; id < n; id++) {
        const disk_passage *p = &s->passages[id];
        if (p->article_id >= s->strings_len || p->heading >= s->strings_len ||
            p->date >= s->strings_len || p->text >= s->strings_len ||
            p->text_len > s->strings_len - p->text || p->row >= n || p->topic >= s->n_topics ||
            s->row_ids[p->row] != id || p->row < s->topics[p->topic].row_start ||
            p->row - s->topics[p->topic].row_start >= s->topics[p->topic].rows)
            goto bad;
    }
    /* Articles: sorted distinct ids, each a run of passages of its own. */
    if (sec[SEC_ARTICLES].size != (uint64_t)s->n_articles * sizeof(disk_article)) goto bad;
    uint64_t covered = 0;
    for (uint32_t a = 0; a < s->n_articles; a++) {
        const disk_article *ar = &s->articles[a];
        if (ar->id >= s->strings_len || ar->heading >= s->strings_len ||
            ar->date >= s->strings_len || ar->topic >= s->strings_len ||
            (ar->text != UINT64_MAX && ar->text >= s->strings_len) || ar->n_passages == 0 ||
            ar->first_passage > n || ar->n_passages > n - ar->first_passage)
            goto bad;
        if (a > 0 && strcmp(s->strings + s->articles[a - 1].id, s->strings + ar->id) >= 0) goto bad;
        for (uint32_t p = ar->first_passage; p < ar->first_passage + ar->n_passages; p++)
            if (s->passages[p].article_id != ar->id) goto bad;
        covered += ar->n_passages;
    }
    if (covered != n) goto bad;
    return 0;
bad:
    return seterr(err, errlen, "%s is corrupted (inconsistent tables); %s", path, rebuild_hint);
}

static int open_indexes(snapshot *s, const char *path, char *err, size_t errlen) {
    const disk_section *sec = s->h->sections;
    char why[256];
    if (bm25_view_open(&s->bm25, s->map + sec[SEC_BM25].offset, sec[SEC_BM25].size, s->n, why,
                       sizeof why) != 0)
        return seterr(err, errlen, "%s is corrupted (%s); %s", path, why, rebuild_hint);
    const uint8_t *base = s->map + sec[SEC_HNSW].offset;
    const uint64_t *offs = (const uint64_t *)(const void *)base;
    const uint64_t *lens = offs + s->n_topics;
    s->graphs = xcalloc(s->n_topics ? s->n_topics : 1, sizeof *s->graphs);
    for (uint32_t t = 0; t < s->n_topics; t++) {
        if (offs[t] % 8 != 0 || offs[t] > sec[SEC_HNSW].size ||
            lens[t] > sec[SEC_HNSW].size - offs[t] ||
            hnsw_view_open(&s->graphs[t], base + offs[t], lens[t], s->topics[t].rows, why,
                           sizeof why) != 0)
            return seterr(err, errlen, "%s is corrupted (topic %u: %s); %s", path, t,
                          offs[t] % 8 ? "misaligned graph" : why, rebuild_hint);
    }
    return 0;
}

snapshot *snap_open(const char *data_dir, const char *expected_model, char *err, size_t errlen) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data_dir, STORE_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            seterr(err, errlen, "no store in %s (no %s): run `ragd ingest --data-dir %s` first",
                   data_dir, STORE_FILE, data_dir);
        else
            seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(disk_header)) {
        seterr(err, errlen, "%s is truncated or not a ragd store; %s", path, rebuild_hint);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        seterr(err, errlen, "cannot map %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    snapshot *s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->fd = fd;
    s->map = map;
    s->size = (size_t)st.st_size;
    s->h = map;
    s->ops = vecmath_get();
    pthread_mutex_init(&s->pool_lock, NULL);
    if (store_check_header(s->h, s->size, path, expected_model, 0, err, errlen) != 0 ||
        check_sections(s, path, err, errlen) != 0)
        goto fail;
    const disk_section *sec = s->h->sections;
    s->n = s->h->n_passages;
    s->n_topics = s->h->n_topics;
    s->dim = s->h->dim;
    memcpy(s->model, s->h->model, MODEL_ID_MAX);
    s->topics = (const disk_topic *)(const void *)(s->map + sec[SEC_TOPICS].offset);
    s->passages = (const disk_passage *)(const void *)(s->map + sec[SEC_PASSAGES].offset);
    s->strings = (const char *)(s->map + sec[SEC_STRINGS].offset);
    s->strings_len = sec[SEC_STRINGS].size;
    s->row_ids = (const uint32_t *)(const void *)(s->map + sec[SEC_ROW_IDS].offset);
    s->vectors = (const float *)(const void *)(s->map + sec[SEC_VECTORS].offset);
    if (s->dim == 0) {
        seterr(err, errlen, "%s is corrupted (dimension 0); %s", path, rebuild_hint);
        goto fail;
    }
    s->n_articles = s->h->n_articles;
    s->articles = (const disk_article *)(const void *)(s->map + sec[SEC_ARTICLES].offset);
    if (check_tables(s, path, err, errlen) != 0 || open_indexes(s, path, err, errlen) != 0)
        goto fail;
    for (uint32_t r = 0; r < s->n; r++) s->total_body += s->bm25.doclen[r];
    s->row_inv_norm = xmalloc(((size_t)s->n + 1) * sizeof *s->row_inv_norm);
    float avgdl = s->n ? (float)((double)s->total_body / (double)s->n) : 1.0f, bb = s->bm25.params.b;
    if (!(avgdl > 0)) avgdl = 1.0f;
    for (uint32_t r = 0; r < s->n; r++)
        s->row_inv_norm[r] = 1.0f / (1.0f - bb + bb * (float)s->bm25.doclen[r] / avgdl);
    s->row_article = xmalloc(((size_t)s->n + 1) * sizeof *s->row_article);
    s->article_len = xcalloc((size_t)s->n_articles + 1, sizeof *s->article_len);
    for (uint32_t a = 0; a < s->n_articles; a++) /* check_tables: runs cover every passage once */
        for (uint32_t id = s->articles[a].first_passage;
             id < s->articles[a].first_passage + s->articles[a].n_passages; id++) {
            uint32_t row = s->passages[id].row;
            s->row_article[row] = a;
            s->article_len[a] += s->bm25.doclen[row];
        }
    s->topic_names = xcalloc(s->n_topics + 1, sizeof *s->topic_names);
    for (uint32_t t = 0; t < s->n_topics; t++) s->topic_names[t] = s->strings + s->topics[t].name;
    return s;
fail:
    snap_close(s);
    return NULL;
}

void snap_ref(snapshot *s) { atomic_fetch_add(&s->refs, 1); }

void snap_unref(snapshot *s) {
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) snap_close(s);
}

void snap_close(snapshot *s) {
    if (s == NULL) return;
    for (int i = 0; i < s->pool_len; i++) hnsw_scratch_free(s->pool[i]);
    free(s->pool);
    for (int i = 0; i < s->analyzers_len; i++) analyzer_free(s->analyzers[i]);
    free(s->analyzers);
    pthread_mutex_destroy(&s->pool_lock);
    free(s->graphs);
    free(s->topic_names);
    free(s->row_article);
    free(s->row_inv_norm);
    free(s->article_len);
    munmap((void *)s->map, s->size);
    close(s->fd);
    free(s);
}

const char *snap_model(const snapshot *s) { return s->model; }

int snap_dim(const snapshot *s) { return (int)s->dim; }

int snap_find_topic(const snapshot *s, const char *topic) {
    uint32_t lo = 0, hi = s->n_topics;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->topic_names[mid], topic);
        if (c == 0) return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool snap_has_topic(const snapshot *s, const char *topic) { return snap_find_topic(s, topic) >= 0; }

size_t snap_count(const snapshot *s, const char *topic) {
    if (topic == NULL) return s->n;
    int t = snap_find_topic(s, topic);
    return t < 0 ? 0 : s->topics[t].rows;
}

int snap_topics(const snapshot *s, const char *const **names) {
    *names = s->topic_names;
    return (int)s->n_topics;
}

int snap_get(const snapshot *s, uint32_t id, store_passage *out) {
    if (id >= s->n) return -1;
    const disk_passage *p = &s->passages[id];
    out->id = id;
    out->article_id = s->strings + p->article_id;
    out->heading = s->strings + p->heading;
    out->date = s->strings + p->date;
    out->topic = s->topic_names[p->topic];
    out->text = s->strings + p->text;
    out->passage_index = p->passage_index;
    return 0;
}

const float *snap_vector(const snapshot *s, uint32_t id) {
    if (id >= s->n) return NULL;
    return s->vectors + (size_t)s->passages[id].row * s->dim;
}

/* ---- search ------------------------------------------------------------ */

bool store_valid_date(const char *d) {
    if (d == NULL || strlen(d) != 10 || d[4] != '-' || d[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) return false;
    int y = atoi(d), m = atoi(d + 5), day = atoi(d + 8);
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || day < 1 || day > days[m - 1]) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && day == 29 && !leap);
}

hnsw_scratch *snap_scratch_take(snapshot *s) {
    hnsw_scratch *sc = NULL;
    pthread_mutex_lock(&s->pool_lock);
    if (s->pool_len > 0) sc = s->pool[--s->pool_len];
    pthread_mutex_unlock(&s->pool_lock);
    return sc ? sc : hnsw_scratch_new(s->max_topic_rows);
}

void snap_scratch_give(snapshot *s, hnsw_scratch *sc) {
    pthread_mutex_lock(&s->pool_lock);
    if (s->pool_len == s->pool_cap) {
        s->pool_cap = s->pool_cap ? s->pool_cap * 2 : 8;
        s->pool = xrealloc(s->pool, (size_t)s->pool_cap * sizeof *s->pool);
    }
    s->pool[s->pool_len++] = sc;
    pthread_mutex_unlock(&s->pool_lock);
}

analyzer *snap_analyzer_take(snapshot *s) {
    analyzer *a = NULL;
    pthread_mutex_lock(&s->pool_lock);
    if (s->analyzers_len > 0) a = s->analyzers[--s->analyzers_len];
    pthread_mutex_unlock(&s->pool_lock);
    return a ? a : analyzer_new();
}

void snap_analyzer_give(snapshot *s, analyzer *a) {
    pthread_mutex_lock(&s->pool_lock);
    if (s->analyzers_len == s->analyzers_cap) {
        s->analyzers_cap = s->analyzers_cap ? s->analyzers_cap * 2 : 8;
        s->analyzers = xrealloc(s->analyzers, (size_t)s->analyzers_cap * sizeof *s->analyzers);
    }
    s->analyzers[s->analyzers_len++] = a;
    pthread_mutex_unlock(&s->pool_lock);
}

store_bm25_params snap_bm25(const snapshot *s) {
    const bm25_params *p = &s->bm25.params;
    return (store_bm25_params){p->k1, p->b, p->w_heading, BM25_DEFAULT_W_ARTICLE};
}

const disk_header *snap_header(const snapshot *s) { return s->h; }

int64_t snap_find_article(const snapshot *s, const char *id) {
    uint32_t lo = 0, hi = s->n_articles;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->strings + s->articles[mid].id, id);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}
