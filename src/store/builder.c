/* builder — see builder.h. One struct owns every buffer of a build, so one
 * function frees them all on every path.
 *
 * Phases: topics (sorted by name) → rows grouped by topic, passage ids in
 * article order → strings, passage and article tables, vectors in row order
 * → BM25F postings over rows → one HNSW graph per topic → write. */
#include "store/builder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store/format.h"
#include "store/store.h"
#include "util/util.h"

int store_fsync_dir(const char *dir, char *err, size_t errlen) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return seterr(err, errlen, "cannot open %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0) return seterr(err, errlen, "cannot fsync %s: %s", dir, strerror(errno));
    return 0;
}

int store_write_all(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

typedef struct topic_tmp {
    bstr name;
    uint32_t count, start;
} topic_tmp;

static int cmp_bstr(bstr x, bstr y) {
    size_t n = x.n < y.n ? x.n : y.n;
    int c = memcmp(x.p, y.p, n);
    return c ? c : (x.n > y.n) - (x.n < y.n);
}

static int cmp_topic(const void *a, const void *b) {
    return cmp_bstr(((const topic_tmp *)a)->name, ((const topic_tmp *)b)->name);
}

static int cmp_article_index(const void *a, const void *b, void *ctx) {
    const build_article *sort_arts = ctx;
    return cmp_bstr(sort_arts[*(const uint32_t *)a].id, sort_arts[*(const uint32_t *)b].id);
}

/* Everything one build allocates. */
typedef struct build {
    topic_tmp *topics;
    uint32_t n_topics;
    uint32_t *pass_topic;   /* per passage id: topic index */
    uint32_t *row_ids, *row_of, *fill;
    const build_passage **pass; /* per passage id */
    uint32_t *pass_article; /* per passage id: article index */
    uint32_t *art_order;    /* article indexes sorted by id */
    disk_topic *dtopics;
    disk_passage *dp;
    disk_article *da;
    float *vectors;
    buf strings, bm, hn;
} build;

static void build_free(build *b) {
    free(b->topics);
    free(b->pass_topic);
    free(b->row_ids);
    free(b->row_of);
    free(b->fill);
    free(b->pass);
    free(b->pass_article);
    free(b->art_order);
    free(b->dtopics);
    free(b->dp);
    free(b->da);
    free(b->vectors);
    buf_free(&b->strings);
    buf_free(&b->bm);
    buf_free(&b->hn);
}

static uint64_t add_string(buf *strings, bstr s) {
    uint64_t off = strings->len;
    if (s.n) buf_append(strings, s.p, s.n);
    buf_putc(strings, '\0');
    return off;
}

static uint32_t topic_index(const build *b, bstr name) {
    uint32_t lo = 0, hi = b->n_topics;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp_bstr(b->topics[mid].name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return UINT32_MAX;
}

typedef struct out_file {
    int fd;
    uint64_t off;
} out_file;

static int out_section(out_file *o, disk_header *h, int kind, const void *data, size_t len) {
    static const uint8_t zeros[SECTION_ALIGN];
    size_t pad = (SECTION_ALIGN - o->off % SECTION_ALIGN) % SECTION_ALIGN;
    if (pad && store_write_all(o->fd, zeros, pad) != 0) return -1;
    o->off += pad;
    h->sections[kind] = (disk_section){.offset = o->off, .size = len, .crc = store_crc32(data, len)};
    if (len && store_write_all(o->fd, data, len) != 0) return -1;
    o->off += len;
    return 0;
}

static int write_file(const char *dir, disk_header *h, build *b, uint32_t n, size_t dim,
                      char *err, size_t errlen) {
    char tmp[PATH_MAX], final[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s", dir, STORE_TMP_FILE);
    snprintf(final, sizeof final, "%s/%s", dir, STORE_FILE);
    out_file o = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), .off = 0};
    if (o.fd < 0) return seterr(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    disk_header blank = {0};
    if (store_write_all(o.fd, &blank, sizeof blank) != 0) goto io_error;
    o.off = sizeof blank;
    if (out_section(&o, h, SEC_TOPICS, b->dtopics, (size_t)b->n_topics * sizeof *b->dtopics) != 0 ||
        out_section(&o, h, SEC_PASSAGES, b->dp, (size_t)n * sizeof *b->dp) != 0 ||
        out_section(&o, h, SEC_STRINGS, b->strings.data, b->strings.len) != 0 ||
        out_section(&o, h, SEC_ROW_IDS, b->row_ids, (size_t)n * 4) != 0 ||
        out_section(&o, h, SEC_VECTORS, b->vectors, (size_t)n * dim * sizeof(float)) != 0 ||
        out_section(&o, h, SEC_BM25, b->bm.data, b->bm.len) != 0 ||
        out_section(&o, h, SEC_HNSW, b->hn.data, b->hn.len) != 0 ||
        out_section(&o, h, SEC_ARTICLES, b->da, (size_t)h->n_articles * sizeof *b->da) != 0)
        goto io_error;
    h->header_crc = store_crc32(h, offsetof(disk_header, header_crc));
    if (pwrite(o.fd, h, sizeof *h, 0) != (ssize_t)sizeof *h || fsync(o.fd) != 0) goto io_error;
    int rc = close(o.fd);
    o.fd = -1;
    if (rc != 0) goto io_error;
    if (rename(tmp, final) != 0)
        return seterr(err, errlen, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
    return store_fsync_dir(dir, err, errlen);
io_error:
    seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    if (o.fd >= 0) close(o.fd);
    unlink(tmp);
    return -1;
}

int snapshot_build(const char *dir, const char *model, int dim_i, const hnsw_params *hnsw,
                   const build_article *arts, size_t n_arts, const build_coverage *cov,
                   char *err, size_t errlen) {
    size_t total = 0;
    for (size_t a = 0; a < n_arts; a++) total += arts[a].n;
    if (total >= UINT32_MAX || n_arts >= UINT32_MAX)
        return seterr(err, errlen, "too many passages for one store");
    uint32_t n = (uint32_t)total, na = (uint32_t)n_arts;
    size_t dim = (size_t)dim_i;
    build b = {.strings = BUF_INIT, .bm = BUF_INIT, .hn = BUF_INIT};
    bm25_builder *bmb =
        bm25_builder_new((bm25_params){BM25_DEFAULT_K1, BM25_DEFAULT_B, BM25_DEFAULT_W_HEADING});
    if (bmb == NULL)
        return seterr(err, errlen, "cannot make the BM25 analyzer (libstemmer without English?)");

    /* Passage ids in article order. */
    b.pass = xmalloc(((size_t)n + 1) * sizeof *b.pass);
    b.pass_article = xmalloc(((size_t)n + 1) * sizeof *b.pass_article);
    uint32_t id = 0;
    for (uint32_t a = 0; a < na; a++)
        for (size_t i = 0; i < arts[a].n; i++) {
            b.pass[id] = &arts[a].passages[i];
            b.pass_article[id++] = a;
        }

    /* Topics: distinct names, sorted. */
    b.topics = xmalloc(((size_t)n + na + 1) * sizeof *b.topics);
    uint32_t nt = 0;
    for (uint32_t a = 0; a < na; a++) b.topics[nt++] = (topic_tmp){arts[a].topic, 0, 0};
    for (uint32_t p = 0; p < n; p++)
        if (b.pass[p]->topic.p) b.topics[nt++] = (topic_tmp){b.pass[p]->topic, 0, 0};
    qsort(b.topics, nt, sizeof *b.topics, cmp_topic);
    for (uint32_t a = 0; a < nt; a++)
        if (b.n_topics == 0 || cmp_bstr(b.topics[b.n_topics - 1].name, b.topics[a].name) != 0)
            b.topics[b.n_topics++] = b.topics[a];
    b.pass_topic = xmalloc(((size_t)n + 1) * sizeof *b.pass_topic);
    for (uint32_t p = 0; p < n; p++) {
        uint32_t t = topic_index(&b, b.pass[p]->topic.p ? b.pass[p]->topic : arts[b.pass_article[p]].topic);
        b.pass_topic[p] = t;
        b.topics[t].count++;
    }
    uint32_t start = 0;
    for (uint32_t t = 0; t < b.n_topics; t++) {
        b.topics[t].start = start;
        start += b.topics[t].count;
    }

    /* Rows: grouped by topic, by id within a topic. */
    b.row_ids = xmalloc(((size_t)n + 1) * sizeof *b.row_ids);
    b.row_of = xmalloc(((size_t)n + 1) * sizeof *b.row_of);
    b.fill = xcalloc((size_t)b.n_topics + 1, sizeof *b.fill);
    for (uint32_t p = 0; p < n; p++) {
        uint32_t t = b.pass_topic[p];
        b.row_of[p] = b.topics[t].start + b.fill[t]++;
        b.row_ids[b.row_of[p]] = p;
    }

    b.dtopics = xcalloc((size_t)b.n_topics + 1, sizeof *b.dtopics);
    for (uint32_t t = 0; t < b.n_topics; t++)
        b.dtopics[t] = (disk_topic){add_string(&b.strings, b.topics[t].name), b.topics[t].start,
                                    b.topics[t].count};
    /* Article strings once; passages point at their article's. */
    b.da = xcalloc((size_t)na + 1, sizeof *b.da);
    id = 0;
    for (uint32_t a = 0; a < na; a++) {
        const build_article *ar = &arts[a];
        b.da[a] = (disk_article){.id = add_string(&b.strings, ar->id),
                                 .heading = add_string(&b.strings, ar->heading),
                                 .date = add_string(&b.strings, ar->date),
                                 .topic = b.dtopics[topic_index(&b, ar->topic)].name,
                                 .text = ar->text.p ? add_string(&b.strings, ar->text) : UINT64_MAX,
                                 .first_passage = id, .n_passages = (uint32_t)ar->n};
        id += (uint32_t)ar->n;
    }
    b.dp = xcalloc((size_t)n + 1, sizeof *b.dp);
    b.vectors = xmalloc(((size_t)n * dim + 1) * sizeof *b.vectors);
    for (uint32_t p = 0; p < n; p++) {
        const disk_article *da = &b.da[b.pass_article[p]];
        b.dp[p] = (disk_passage){.article_id = da->id, .heading = da->heading, .date = da->date,
                                 .text = add_string(&b.strings, b.pass[p]->text),
                                 .text_len = (uint32_t)b.pass[p]->text.n, .row = b.row_of[p],
                                 .topic = b.pass_topic[p], .passage_index = b.pass[p]->index};
        memcpy(b.vectors + (size_t)b.row_of[p] * dim, b.pass[p]->vec, dim * sizeof(float));
    }
    if (b.strings.len == 0) buf_putc(&b.strings, '\0');
    /* The article table sorted by id, for lookups and id-ordered pages. */
    b.art_order = xmalloc(((size_t)na + 1) * sizeof *b.art_order);
    for (uint32_t a = 0; a < na; a++) b.art_order[a] = a;
    qsort_r(b.art_order, na, sizeof *b.art_order, cmp_article_index, (void *)arts);
    disk_article *sorted = xmalloc(((size_t)na + 1) * sizeof *sorted);
    for (uint32_t a = 0; a < na; a++) sorted[a] = b.da[b.art_order[a]];
    free(b.da);
    b.da = sorted;

    /* BM25F over the heading and body fields of every row. */
    for (uint32_t row = 0; row < n; row++) {
        uint32_t p = b.row_ids[row];
        const build_article *ar = &arts[b.pass_article[p]];
        bm25_builder_add_text(bmb, BM25_HEADING, ar->heading.p, ar->heading.n);
        bm25_builder_add_text(bmb, BM25_BODY, b.pass[p]->text.p, b.pass[p]->text.n);
        bm25_builder_end_doc(bmb);
    }
    bm25_builder_finish(bmb, &b.bm);

    /* HNSW: u64 offsets and lengths per topic, then 8-aligned graphs. */
    for (uint32_t t = 0; t < b.n_topics; t++) buf_append(&b.hn, (const uint64_t[2]){0, 0}, 16);
    for (uint32_t t = 0; t < b.n_topics; t++) {
        while (b.hn.len % 8) buf_putc(&b.hn, 0);
        uint64_t off = b.hn.len;
        hnsw_build(b.vectors + (size_t)b.topics[t].start * dim, b.topics[t].count, dim, hnsw, &b.hn);
        uint64_t len = b.hn.len - off;
        memcpy(b.hn.data + (size_t)t * 8, &off, 8);
        memcpy(b.hn.data + ((size_t)b.n_topics + t) * 8, &len, 8);
    }
    if (b.hn.len == 0) buf_append(&b.hn, (const uint64_t[1]){0}, 8);

    disk_header h = {0};
    memcpy(h.magic, STORE_MAGIC, 8);
    h.version = STORE_FORMAT_VERSION;
    h.dim = (uint32_t)dim;
    memcpy(h.model, model, strlen(model));
    memcpy(h.analyzer, ANALYZER_ID, strlen(ANALYZER_ID));
    h.n_passages = n;
    h.n_topics = b.n_topics;
    h.n_articles = na;
    h.log_records = cov->log_records;
    h.log_bytes = cov->log_bytes;
    h.doc_log_id = cov->doc_log_id;
    h.doc_log_bytes = cov->doc_log_bytes;
    h.hnsw_m = (uint32_t)hnsw->m;
    h.hnsw_ef_construction = (uint32_t)hnsw->ef_construction;
    int rc = write_file(dir, &h, &b, n, dim, err, errlen);
    build_free(&b);
    return rc;
}
