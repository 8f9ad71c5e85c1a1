/* writer — `ragd ingest`'s side of the store: ingest.log and its commit.
 *
 * Every store_writer_add() appends one record {magic, length, CRCs, payload}
 * to ingest.log with a single write(2); store_writer_add_text() one more per
 * article, holding its whole text. kill -9 can only leave a torn last
 * record, which the next open detects by its checksum and cuts off; every
 * earlier record is kept, so an interrupted ingest resumes where it stopped
 * (store_writer_has() tells the caller what to skip).
 *
 * Commit groups the log's passages into articles and hands them to the
 * snapshot builder (builder.c), after the live articles of the committed
 * store if there is one (its documents.log replayed): what the /documents
 * API put, replaced or deleted stays as the API left it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "obs/log.h"
#include "store/analyzer.h"
#include "store/builder.h"
#include "store/documents.h"
#include "store/format.h"
#include "store/hnsw.h"
#include "store/store.h"
#include "store/snapshot.h"
#include "store/store_internal.h"
#include "store/view.h"
#include "util/util.h"

#define MAX_FIELD_LEN (64u << 20)

struct store_writer {
    char *dir;
    char log_path[PATH_MAX];
    int log_fd;
    int lock_fd; /* the directory's writer lock */
    char model[MODEL_ID_MAX + 1];
    int dim;
    hnsw_params hnsw;
    uint64_t end; /* bytes of valid log */
    bool dirty;   /* appended since the last fsync */
    /* One entry per record: its offset and key; keys indexed by a hash table. */
    uint64_t *rec_off;
    char **keys;
    uint32_t n, cap;
    uint32_t n_text; /* of them, article-text records (passage index TEXT_RECORD) */
    uint32_t *slots; /* record index + 1; 0 = empty */
    uint32_t slots_cap;
    buf rec;
};

static uint64_t key_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static int64_t key_find(const store_writer *w, const char *key, size_t n, uint32_t *slot) {
    uint32_t i = (uint32_t)key_hash(key, n) & (w->slots_cap - 1);
    while (w->slots[i]) {
        const char *k = w->keys[w->slots[i] - 1];
        if (strlen(k) == n && memcmp(k, key, n) == 0) return w->slots[i] - 1;
        i = (i + 1) & (w->slots_cap - 1);
    }
    if (slot) *slot = i;
    return -1;
}

static void key_grow(store_writer *w) {
    uint32_t cap = w->slots_cap ? w->slots_cap * 2 : 1024;
    uint32_t *slots = xcalloc(cap, sizeof *slots);
    for (uint32_t r = 0; r < w->n; r++) {
        uint32_t i = (uint32_t)key_hash(w->keys[r], strlen(w->keys[r])) & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = r + 1;
    }
    free(w->slots);
    w->slots = slots;
    w->slots_cap = cap;
}

/* Remember record n (at offset off) under key; false if the key is known. */
static bool remember(store_writer *w, const char *key, size_t klen, uint64_t off) {
    if ((uint64_t)(w->n + 1) * 2 > w->slots_cap) key_grow(w);
    uint32_t slot;
    if (key_find(w, key, klen, &slot) >= 0) return false;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->rec_off = xrealloc(w->rec_off, (size_t)w->cap * sizeof *w->rec_off);
        w->keys = xrealloc(w->keys, (size_t)w->cap * sizeof *w->keys);
    }
    w->rec_off[w->n] = off;
    w->keys[w->n] = xstrndup(key, klen);
    w->slots[slot] = ++w->n;
    return true;
}

/* A parsed log record: pointers into the mapped log. */
typedef struct record {
    const char *f[LOG_FIELDS];
    uint32_t len[LOG_FIELDS];
    int32_t passage_index;
    const uint8_t *vec; /* dim floats, possibly unaligned */
} record;

/* Parse the record at off in a log of size bytes; returns its total length,
 * or 0 if it is torn or corrupt. */
static size_t parse_record(const uint8_t *log, size_t size, size_t off, int dim, record *r) {
    disk_log_record h;
    if (size - off < sizeof h) return 0;
    memcpy(&h, log + off, sizeof h);
    if (h.magic != LOG_RECORD_MAGIC ||
        store_crc32(&h, offsetof(disk_log_record, header_crc)) != h.header_crc ||
        h.payload_len > size - off - sizeof h)
        return 0;
    const uint8_t *p = log + off + sizeof h;
    if (store_crc32(p, h.payload_len) != h.payload_crc) return 0;
    size_t fixed = LOG_FIELDS * 4 + 4;
    if (h.payload_len < fixed) return 0;
    memcpy(r->len, p, LOG_FIELDS * 4);
    memcpy(&r->passage_index, p + LOG_FIELDS * 4, 4);
    size_t need = fixed + (size_t)dim * 4;
    for (int i = 0; i < LOG_FIELDS; i++) need += r->len[i];
    if (need != h.payload_len) return 0;
    const uint8_t *q = p + fixed;
    for (int i = 0; i < LOG_FIELDS; i++) {
        r->f[i] = (const char *)q;
        q += r->len[i];
    }
    r->vec = q;
    return sizeof h + h.payload_len;
}

static int make_dirs(const char *dir) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

static int init_log_header(store_writer *w, char *err, size_t errlen) {
    disk_log_header h = {0};
    memcpy(h.magic, LOG_MAGIC, 8);
    h.version = LOG_FORMAT_VERSION;
    h.dim = (uint32_t)w->dim;
    memcpy(h.model, w->model, strlen(w->model));
    h.crc = store_crc32(&h, offsetof(disk_log_header, crc));
    if (ftruncate(w->log_fd, 0) != 0 || pwrite(w->log_fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        fsync(w->log_fd) != 0)
        return seterr(err, errlen, "cannot write %s: %s", w->log_path, strerror(errno));
    w->end = sizeof h;
    return store_fsync_dir(w->dir, err, errlen);
}

static int check_log_header(store_writer *w, const disk_log_header *h, char *err, size_t errlen) {
    const char *hint = "remove the data directory (or choose another --data-dir) to rebuild";
    if (memcmp(h->magic, LOG_MAGIC, 8) != 0 ||
        store_crc32(h, offsetof(disk_log_header, crc)) != h->crc)
        return seterr(err, errlen, "%s is not a ragd ingest log or its header is corrupted; %s",
                      w->log_path, hint);
    if (h->version != LOG_FORMAT_VERSION)
        return seterr(err, errlen, "%s has log format version %u but this ragd writes version %d; %s",
                      w->log_path, h->version, LOG_FORMAT_VERSION, hint);
    char model[MODEL_ID_MAX + 1];
    memcpy(model, h->model, MODEL_ID_MAX);
    model[MODEL_ID_MAX] = '\0';
    if (strcmp(model, w->model) != 0)
        return seterr(err, errlen,
                      "%s was written with model \"%s\" but this ingest uses \"%s\"; %s",
                      w->log_path, model, w->model, hint);
    if ((int)h->dim != w->dim)
        return seterr(err, errlen, "%s holds %u-dimensional vectors but the model gives %d; %s",
                      w->log_path, h->dim, w->dim, hint);
    return 0;
}

/* Read every intact record; cut a torn or corrupt tail. */
static int replay(store_writer *w, size_t size, char *err, size_t errlen) {
    if (size < sizeof(disk_log_header)) return init_log_header(w, err, errlen);
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, w->log_fd, 0);
    if (map == MAP_FAILED) return seterr(err, errlen, "cannot map %s: %s", w->log_path, strerror(errno));
    const uint8_t *log = map;
    disk_log_header h;
    memcpy(&h, log, sizeof h);
    if (check_log_header(w, &h, err, errlen) != 0) {
        munmap(map, size);
        return -1;
    }
    size_t off = sizeof h;
    record r;
    uint32_t dups = 0;
    for (;;) {
        size_t len = parse_record(log, size, off, w->dim, &r);
        if (len == 0) break;
        if (!remember(w, r.f[LF_KEY], r.len[LF_KEY], off)) dups++;
        else if (r.passage_index == TEXT_RECORD) w->n_text++;
        off += len;
    }
    munmap(map, size);
    if (dups) log_warn("%s: %u duplicate records ignored", w->log_path, dups);
    if (off < size) {
        log_warn("%s: discarding %zu bytes of torn or corrupt records after %u intact ones "
                 "(an interrupted ingest)",
                 w->log_path, size - off, w->n);
        if (ftruncate(w->log_fd, (off_t)off) != 0 || fsync(w->log_fd) != 0)
            return seterr(err, errlen, "cannot truncate %s: %s", w->log_path, strerror(errno));
    }
    w->end = off;
    return 0;
}

store_writer *store_writer_open(const char *data_dir, const char *model, int dim, char *err,
                                size_t errlen) {
    if (model == NULL || model[0] == '\0' || strlen(model) > MODEL_ID_MAX) {
        seterr(err, errlen, "model identity must be 1..%d bytes", MODEL_ID_MAX);
        return NULL;
    }
    if (dim <= 0 || dim > 65536) {
        seterr(err, errlen, "bad vector dimension %d", dim);
        return NULL;
    }
    if (make_dirs(data_dir) != 0) {
        seterr(err, errlen, "cannot create %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    store_writer *w = xcalloc(1, sizeof *w);
    w->dir = xstrdup(data_dir);
    w->log_fd = -1;
    w->lock_fd = -1;
    snprintf(w->model, sizeof w->model, "%s", model);
    w->dim = dim;
    w->hnsw = (hnsw_params){.m = 16, .ef_construction = 100, .threads = 0, .seed = 0x5eed};
    snprintf(w->log_path, sizeof w->log_path, "%s/%s", data_dir, LOG_FILE);
    key_grow(w);

    char store_path[PATH_MAX];
    snprintf(store_path, sizeof store_path, "%s/%s", data_dir, STORE_FILE);
    bool has_store = file_exists(store_path);
    if (has_store && !file_exists(w->log_path)) {
        seterr(err, errlen,
               "%s has a store but no %s to add to; remove the directory to rebuild it",
               data_dir, LOG_FILE);
        goto fail;
    }
    if (has_store) {
        /* Refuse early (before any encoding) if the committed store is of
         * another model or dim: its message is the clearest. A store of
         * another format version or analyzer is rebuilt from the log at
         * commit, as is a corrupted one. */
        disk_header h;
        int fd = open(store_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h) {
            int rc = store_check_header(&h, (size_t)st.st_size, store_path, model, dim, err, errlen);
            close(fd);
            if (rc != 0 && h.version == STORE_FORMAT_VERSION && memcmp(h.magic, STORE_MAGIC, 8) == 0 &&
                store_crc32(&h, offsetof(disk_header, header_crc)) == h.header_crc &&
                strncmp(h.analyzer, ANALYZER_ID, ANALYZER_ID_MAX) == 0)
                goto fail; /* intact header of this format, other model or dim */
        } else if (fd >= 0) {
            close(fd);
        }
    }
    if (store_lock_dir(data_dir, &w->lock_fd, err, errlen) != 0) goto fail;
    w->log_fd = open(w->log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (w->log_fd < 0) {
        seterr(err, errlen, "cannot open %s: %s", w->log_path, strerror(errno));
        goto fail;
    }
    if (flock(w->log_fd, LOCK_EX | LOCK_NB) != 0) {
        seterr(err, errlen, "%s is being written by another ingest (locked)", w->log_path);
        goto fail;
    }
    struct stat st;
    if (fstat(w->log_fd, &st) != 0) {
        seterr(err, errlen, "cannot stat %s: %s", w->log_path, strerror(errno));
        goto fail;
    }
    if (replay(w, (size_t)st.st_size, err, errlen) != 0) goto fail;
    return w;
fail:
    store_writer_close(w);
    return NULL;
}

void store_writer_set_hnsw(store_writer *w, int m, int ef_construction, int threads) {
    if (m > 0) w->hnsw.m = m;
    if (ef_construction > 0) w->hnsw.ef_construction = ef_construction;
    w->hnsw.threads = threads;
}

bool store_writer_has(const store_writer *w, const char *passage_key) {
    return key_find(w, passage_key, strlen(passage_key), NULL) >= 0;
}

size_t store_writer_count(const store_writer *w) { return w->n - w->n_text; }

/* Append one record of the six fields (f[LF_KEY] not yet in the log). */
static int append_record(store_writer *w, const char *const f[LOG_FIELDS], int32_t pi,
                         const float *vec, char *err, size_t errlen) {
    const char *passage_key = f[LF_KEY];
    if (w->n == UINT32_MAX - 1) return seterr(err, errlen, "store is full");
    uint32_t len[LOG_FIELDS];
    for (int i = 0; i < LOG_FIELDS; i++) {
        size_t l = f[i] ? strlen(f[i]) : 0;
        if (l > MAX_FIELD_LEN) return seterr(err, errlen, "passage %s: field too long", passage_key);
        len[i] = (uint32_t)l;
    }
    buf_clear(&w->rec);
    disk_log_record h = {.magic = LOG_RECORD_MAGIC};
    buf_append(&w->rec, &h, sizeof h);
    buf_append(&w->rec, len, sizeof len);
    buf_append(&w->rec, &pi, 4);
    for (int i = 0; i < LOG_FIELDS; i++)
        if (len[i]) buf_append(&w->rec, f[i], len[i]);
    if (vec) buf_append(&w->rec, vec, (size_t)w->dim * sizeof *vec);
    else for (int d = 0; d < w->dim; d++) buf_append(&w->rec, &(float){0.0f}, sizeof(float));
    h.payload_len = (uint32_t)(w->rec.len - sizeof h);
    h.payload_crc = store_crc32(w->rec.data + sizeof h, h.payload_len);
    h.header_crc = store_crc32(&h, offsetof(disk_log_record, header_crc));
    memcpy(w->rec.data, &h, sizeof h);
    if (store_write_all(w->log_fd, w->rec.data, w->rec.len) != 0) {
        int e = errno;
        /* Keep the log clean: drop whatever part of the record made it out. */
        if (ftruncate(w->log_fd, (off_t)w->end) != 0) log_error("cannot cut %s back: %s", w->log_path, strerror(errno));
        return seterr(err, errlen, "cannot append to %s: %s", w->log_path, strerror(e));
    }
    remember(w, passage_key, len[LF_KEY], w->end);
    if (pi == TEXT_RECORD) w->n_text++;
    w->end += w->rec.len;
    w->dirty = true;
    return 0;
}

int store_writer_add(store_writer *w, const char *passage_key, const store_passage *p,
                     const float *vec, char *err, size_t errlen) {
    if (passage_key == NULL || passage_key[0] == '\0')
        return seterr(err, errlen, "a passage needs a non-empty key");
    if (store_writer_has(w, passage_key)) return 0;
    if (p->topic == NULL || p->topic[0] == '\0')
        return seterr(err, errlen, "passage %s has no topic", passage_key);
    if (p->passage_index < 0)
        return seterr(err, errlen, "passage %s: negative passage index", passage_key);
    const char *f[LOG_FIELDS] = {passage_key, p->article_id, p->heading, p->date, p->topic, p->text};
    return append_record(w, f, p->passage_index, vec, err, errlen);
}

int store_writer_add_text(store_writer *w, const char *article_id, const char *text, size_t len,
                          char *err, size_t errlen) {
    if (article_id == NULL || article_id[0] == '\0')
        return seterr(err, errlen, "an article text needs its article id");
    uint64_t h = key_hash(text, len);
    char key[STORE_ARTICLE_ID_MAX + 64];
    snprintf(key, sizeof key, "%.*s#text#%016llx", STORE_ARTICLE_ID_MAX, article_id,
             (unsigned long long)h);
    if (store_writer_has(w, key)) return 0;
    char *copy = xstrndup(text, len);
    const char *f[LOG_FIELDS] = {key, article_id, "", "", "", copy};
    int rc = append_record(w, f, TEXT_RECORD, NULL, err, errlen);
    free(copy);
    return rc;
}

int store_writer_sync(store_writer *w, char *err, size_t errlen) {
    if (!w->dirty) return 0;
    if (fsync(w->log_fd) != 0)
        return seterr(err, errlen, "cannot fsync %s: %s", w->log_path, strerror(errno));
    w->dirty = false;
    return 0;
}

/* ---- commit -------------------------------------------------------------- */

static bool snapshot_current(store_writer *w) {
    char err[512];
    snapshot *s = snap_open(w->dir, w->model, err, sizeof err);
    if (s == NULL) return false;
    const disk_header *h = snap_header(s);
    bool same = h->log_records == w->n && h->log_bytes == w->end && (int)h->dim == w->dim;
    snap_unref(s);
    return same;
}

static int cmp_by_index(const void *a, const void *b) {
    const build_passage *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* The log's passages as articles: grouped by article id in the order the
 * articles first appear, each article's passages by passage index. With a
 * committed store (cur, its view of the API's writes included), the store's
 * live articles come first and keep their ids, and the log adds only
 * articles the store has never held: an id the API put, replaced or deleted,
 * or one an earlier commit already folded in (records below covered), is
 * not touched again. */
static int build_from_log(store_writer *w, const uint8_t *log, store *cur, char *err,
                          size_t errlen) {
    uint32_t n = w->n;
    record *recs = xcalloc(n ? n : 1, sizeof *recs);
    for (uint32_t i = 0; i < n; i++) parse_record(log, w->end, w->rec_off[i], w->dim, &recs[i]);
    /* Article of each record through a hash of article ids. */
    uint32_t cap = 1024;
    while (cap < 2 * (n + 1)) cap *= 2;
    uint32_t *slots = xcalloc(cap, sizeof *slots); /* group index + 1 */
    uint32_t *any = xmalloc(((size_t)n + 1) * sizeof *any), n_groups = 0; /* a record of it */
    uint32_t *first = xmalloc(((size_t)n + 1) * sizeof *first); /* its first passage record */
    uint32_t *text_of = xmalloc(((size_t)n + 1) * sizeof *text_of); /* its last text record */
    uint32_t *count = xcalloc((size_t)n + 1, sizeof *count);
    uint32_t *art_of = xmalloc(((size_t)n + 1) * sizeof *art_of);
    for (uint32_t i = 0; i < n; i++) {
        const record *r = &recs[i];
        uint32_t j = (uint32_t)key_hash(r->f[LF_ARTICLE], r->len[LF_ARTICLE]) & (cap - 1);
        for (;; j = (j + 1) & (cap - 1)) {
            if (slots[j] == 0) {
                any[n_groups] = i;
                first[n_groups] = text_of[n_groups] = UINT32_MAX;
                slots[j] = ++n_groups;
                break;
            }
            const record *f = &recs[any[slots[j] - 1]];
            if (f->len[LF_ARTICLE] == r->len[LF_ARTICLE] &&
                memcmp(f->f[LF_ARTICLE], r->f[LF_ARTICLE], r->len[LF_ARTICLE]) == 0)
                break;
        }
        uint32_t g = slots[j] - 1;
        art_of[i] = g;
        if (r->passage_index == TEXT_RECORD) {
            text_of[g] = i;
            continue;
        }
        if (first[g] == UINT32_MAX) first[g] = i;
        count[g]++;
    }
    /* Articles: the groups with passages, in the order of their first one. */
    uint32_t *art_index = xmalloc(((size_t)n_groups + 1) * sizeof *art_index), n_arts = 0;
    for (uint32_t i = 0; i < n; i++)
        if (recs[i].passage_index != TEXT_RECORD && first[art_of[i]] == i) art_index[art_of[i]] = n_arts++;
    build_passage *ps = xmalloc(((size_t)n + 1) * sizeof *ps);
    build_article *arts = xcalloc((size_t)n_arts + 1, sizeof *arts);
    uint32_t *art_first = xmalloc(((size_t)n_arts + 1) * sizeof *art_first);
    uint32_t *fill = xcalloc((size_t)n_arts + 1, sizeof *fill);
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t g = art_of[i];
        if (recs[i].passage_index == TEXT_RECORD || first[g] != i) continue;
        uint32_t a = art_index[g];
        const record *f = &recs[i];
        const record *t = text_of[g] != UINT32_MAX ? &recs[text_of[g]] : NULL;
        arts[a] = (build_article){.id = {f->f[LF_ARTICLE], f->len[LF_ARTICLE]},
                                  .heading = {f->f[LF_HEADING], f->len[LF_HEADING]},
                                  .date = {f->f[LF_DATE], f->len[LF_DATE]},
                                  .topic = {f->f[LF_TOPIC], f->len[LF_TOPIC]},
                                  .text = {t ? t->f[LF_TEXT] : NULL, t ? t->len[LF_TEXT] : 0},
                                  .n = count[g], .passages = ps + at};
        art_first[a] = i;
        at += count[g];
    }
    for (uint32_t i = 0; i < n; i++) {
        if (recs[i].passage_index == TEXT_RECORD) continue;
        uint32_t a = art_index[art_of[i]];
        build_passage *p = (build_passage *)arts[a].passages + fill[a]++;
        *p = (build_passage){{recs[i].f[LF_TEXT], recs[i].len[LF_TEXT]}, recs[i].passage_index,
                             recs[i].vec, {recs[i].f[LF_TOPIC], recs[i].len[LF_TOPIC]}};
    }
    for (uint32_t a = 0; a < n_arts; a++)
        qsort((void *)arts[a].passages, arts[a].n, sizeof(build_passage), cmp_by_index);
    build_coverage cov = {.log_records = n, .log_bytes = w->end};
    build_article *all = arts;
    size_t n_all = n_arts;
    build_passage *vps = NULL;
    build_article *varts = NULL;
    const store_view *v = NULL;
    if (cur != NULL) {
        v = store_acquire(cur);
        uint64_t covered = snap_header(v->ep->snap)->log_records;
        size_t nv;
        varts = store_view_articles(v, &vps, &nv);
        all = xmalloc((nv + n_arts + 1) * sizeof *all);
        memcpy(all, varts, nv * sizeof *all);
        n_all = nv;
        long kept = 0, skipped = 0;
        for (uint32_t a = 0; a < n_arts; a++) {
            char id[STORE_ARTICLE_ID_MAX + 256];
            snprintf(id, sizeof id, "%.*s", (int)arts[a].id.n, arts[a].id.p);
            store_article_info info;
            if (art_first[a] < covered || store_article_get(v, id, &info) == 0) {
                skipped++;
                continue;
            }
            all[n_all++] = arts[a];
            kept++;
        }
        store_log_position(cur, &cov.doc_log_id, &cov.doc_log_bytes);
        log_info("store: commit keeps %zu articles of the store (live writes included) and adds "
                 "%ld new ones from %s (%ld already known)", nv, kept, LOG_FILE, skipped);
    }
    int rc = snapshot_build(w->dir, w->model, w->dim, &w->hnsw, all, n_all, &cov, err, errlen);
    if (all != arts) free(all);
    free(varts);
    free(vps);
    store_release(v);
    free(recs);
    free(slots);
    free(first);
    free(any);
    free(text_of);
    free(art_index);
    free(art_first);
    free(count);
    free(art_of);
    free(ps);
    free(arts);
    free(fill);
    return rc;
}

int store_writer_commit(store_writer *w, char *err, size_t errlen) {
    if (store_writer_sync(w, err, errlen) != 0) return -1;
    if (snapshot_current(w)) return 0;
    void *map = mmap(NULL, w->end, PROT_READ, MAP_SHARED, w->log_fd, 0);
    if (map == MAP_FAILED) return seterr(err, errlen, "cannot map %s: %s", w->log_path, strerror(errno));
    double t0 = now_seconds();
    /* A committed store of this model (with its documents.log replayed) is
     * the base; an unreadable one (older format, other analyzer) is rebuilt
     * from the log alone. */
    char why[512];
    store *cur = store_exists(w->dir) ? store_open(w->dir, w->model, why, sizeof why) : NULL;
    int rc = build_from_log(w, map, cur, err, errlen);
    store_close(cur);
    munmap(map, w->end);
    if (rc == 0)
        log_info("store: committed %u passages to %s/%s in %.2f s", w->n, w->dir, STORE_FILE,
                 now_seconds() - t0);
    return rc;
}

void store_writer_close(store_writer *w) {
    if (w == NULL) return;
    if (w->log_fd >= 0) close(w->log_fd); /* closing drops the flock */
    if (w->lock_fd >= 0) close(w->lock_fd);
    for (uint32_t i = 0; i < w->n; i++) free(w->keys[i]);
    free(w->keys);
    free(w->rec_off);
    free(w->slots);
    buf_free(&w->rec);
    free(w->dir);
    free(w);
}
