/* store — the store as its callers see it: the data directory, its current
 * view, the read API of store.h over views, and live writes (documents.h).
 *
 * Locks, and what each protects (never two of the first three across I/O):
 *   view_lock   the current view pointer; held for a pointer copy and a count.
 *   write_lock  serialises writers' checks and log appends (and a merge,
 *               which holds it throughout: writes wait for a merge, reads do
 *               not); the head table (which ids are live once every appended
 *               record is applied) lives under it.
 *   apply_lock  applies durable records to memory in log order (seq), then
 *               publishes the next view. fsyncs happen between the two, in
 *               doclog's group commit, under neither.
 * A write: check + append (write_lock) → group fsync → apply in order
 * (apply_lock) → publish. A search takes a view and never waits for any of it.
 */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "store/builder.h"
#include "store/doclog.h"
#include "store/documents.h"
#include "store/snapshot.h"
#include "store/store_internal.h"
#include "store/view.h"
#include "util/util.h"

enum { REC_PUT = 1, REC_DELETE = 2 };
#define STORE_MAX_BATCH 100000

/* Which ids are live after every appended record: the writers' own answer to
 * "created?" and "deleted anything?" before their record is applied. */
typedef struct head_table {
    char **ids;
    bool *live;
    uint32_t cap, used;
} head_table;

struct store {
    store_base base; /* first: backend.c finds the ops here */
    char *dir;
    char model[MODEL_ID_MAX + 1];
    int dim;
    bool writable;
    int lock_fd;             /* writer.lock, held by a writable store; -1 otherwise */
    char read_only_why[512]; /* why writes are refused (!writable) */

    pthread_mutex_t view_lock;
    store_view *cur;

    pthread_mutex_t write_lock;
    head_table head;
    uint64_t last_seq;       /* records appended */
    doclog *log;

    pthread_mutex_t apply_lock;
    pthread_cond_t applied_cond;
    uint64_t applied_seq;    /* records applied, in order */
    epoch *ep;               /* the current epoch (the writers' side) */
    uint64_t gen;            /* generation of the newest published view */
    /* Figures of the newest state, copied into each view. */
    uint64_t n_passages, total_body;
    uint32_t snap_dead, n_articles, live_dead;
    size_t topic_passages[STORE_MAX_TOPICS], topic_articles[STORE_MAX_TOPICS];

    /* Store-wide topic names: appended, never moved or freed before close. */
    pthread_mutex_t topic_lock;
    char *topics[STORE_MAX_TOPICS];
    uint32_t n_topics;

    /* Merge thread. */
    pthread_mutex_t merge_lock;
    pthread_cond_t merge_cond;
    pthread_t merge_thread;
    bool merge_running, merge_wanted, stopping;
    size_t merge_threshold;

    _Atomic uint64_t writes, merges;
    _Atomic uint64_t merge_ns;
};

/* ---- views ------------------------------------------------------------- */

/* Defined below, used before. */
static void emb_close(store *s);
static size_t emb_count(const store_view *v, const char *topic);

static const store_view *emb_acquire(store *s) {
    pthread_mutex_lock(&s->view_lock);
    store_view *v = s->cur;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&s->view_lock);
    return v;
}

static void view_free(store_view *v) {
    epoch_unref(v->ep);
    free(v->names);
    free(v->topic_gidx);
    free(v->topic_counts);
    free(v->topic_articles);
    free(v);
}

static void emb_release(const store_view *cv) {
    if (cv == NULL) return;
    store_view *v = (store_view *)cv; /* the count is the one mutable part */
    if (atomic_fetch_sub(&v->refs, 1) == 1) view_free(v);
}

static int cmp_topic_idx(const void *a, const void *b, void *ctx) {
    const store *sort_store = ctx;
    return strcmp(sort_store->topics[*(const uint32_t *)a], sort_store->topics[*(const uint32_t *)b]);
}

/* A view of the newest state (apply_lock held, or no writer yet) made current. */
static void publish(store *s) {
    store_view *v = xcalloc(1, sizeof *v);
    v->base.ops = &embedded_store_ops;
    atomic_init(&v->refs, 1);
    epoch_ref(s->ep);
    v->ep = s->ep;
    v->gen = s->gen;
    v->n_live = s->ep->n_live;
    v->n_passages = s->n_passages;
    v->total_body = s->total_body;
    v->snap_dead = s->snap_dead;
    v->n_articles = s->n_articles;
    /* Writers preparing a put intern topics meanwhile (topic_lock). */
    pthread_mutex_lock(&s->topic_lock);
    uint32_t n_topics = s->n_topics;
    pthread_mutex_unlock(&s->topic_lock);
    uint32_t nt = 0, *idx = xmalloc(((size_t)n_topics + 1) * sizeof *idx);
    for (uint32_t t = 0; t < n_topics; t++)
        if (s->topic_passages[t] > 0) idx[nt++] = t;
    qsort_r(idx, nt, sizeof *idx, cmp_topic_idx, s);
    v->n_topics = (int)nt;
    v->names = xcalloc((size_t)nt + 1, sizeof *v->names);
    v->topic_counts = xcalloc((size_t)nt + 1, sizeof *v->topic_counts);
    v->topic_articles = xcalloc((size_t)nt + 1, sizeof *v->topic_articles);
    v->topic_gidx = idx;
    for (uint32_t i = 0; i < nt; i++) {
        v->names[i] = s->topics[idx[i]];
        v->topic_counts[i] = s->topic_passages[idx[i]];
        v->topic_articles[i] = s->topic_articles[idx[i]];
    }
    pthread_mutex_lock(&s->view_lock);
    store_view *old = s->cur;
    s->cur = v;
    pthread_mutex_unlock(&s->view_lock);
    emb_release(old);
    if (s->writable) { /* the serving store's figures (a topic that emptied shows 0) */
        for (uint32_t t = 0; t < n_topics; t++) {
            ragd_metrics_store_passages(s->topics[t], (double)s->topic_passages[t]);
            ragd_metrics_store_articles(s->topics[t], (double)s->topic_articles[t]);
        }
        ragd_metrics_store_live((double)(s->ep->n_live - s->live_dead), (double)s->snap_dead);
    }
}

int view_find_topic(const store_view *v, const char *name) {
    int lo = 0, hi = v->n_topics;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(v->names[mid], name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static uint32_t intern_topic(void *ctx, const char *name) {
    store *s = ctx;
    pthread_mutex_lock(&s->topic_lock);
    uint32_t t = 0;
    while (t < s->n_topics && strcmp(s->topics[t], name) != 0) t++;
    if (t == s->n_topics) {
        if (s->n_topics == STORE_MAX_TOPICS) t = UINT32_MAX;
        else s->topics[s->n_topics++] = xstrdup(name);
    }
    pthread_mutex_unlock(&s->topic_lock);
    return t;
}

/* The figures of a fresh epoch: every snapshot passage visible. */
static void count_epoch(store *s) {
    const snapshot *sn = s->ep->snap;
    s->n_passages = sn->n;
    s->total_body = sn->total_body;
    s->snap_dead = 0;
    s->live_dead = 0;
    s->n_articles = sn->n_articles;
    memset(s->topic_passages, 0, sizeof s->topic_passages);
    memset(s->topic_articles, 0, sizeof s->topic_articles);
    for (uint32_t t = 0; t < sn->n_topics; t++) s->topic_passages[s->ep->snap_topic[t]] += sn->topics[t].rows;
    for (uint32_t a = 0; a < sn->n_articles; a++)
        s->topic_articles[s->ep->snap_topic[sn->passages[sn->articles[a].first_passage].topic]]++;
}

/* ---- head table --------------------------------------------------------- */

static uint32_t head_slot(const head_table *h, const char *id) {
    uint32_t i = (uint32_t)live_term_hash(id, strlen(id)) & (h->cap - 1);
    while (h->ids[i] && strcmp(h->ids[i], id) != 0) i = (i + 1) & (h->cap - 1);
    return i;
}

static void head_set(head_table *h, const char *id, bool live) {
    if ((uint64_t)(h->used + 1) * 2 > h->cap) {
        head_table g = {.cap = h->cap ? h->cap * 2 : 1024};
        g.ids = xcalloc(g.cap, sizeof *g.ids);
        g.live = xcalloc(g.cap, sizeof *g.live);
        for (uint32_t i = 0; i < h->cap; i++)
            if (h->ids[i]) {
                uint32_t j = head_slot(&g, h->ids[i]);
                g.ids[j] = h->ids[i];
                g.live[j] = h->live[i];
            }
        g.used = h->used;
        free(h->ids);
        free(h->live);
        *h = g;
    }
    uint32_t i = head_slot(h, id);
    if (!h->ids[i]) {
        h->ids[i] = xstrdup(id);
        h->used++;
    }
    h->live[i] = live;
}

static bool head_live(const head_table *h, const char *id) {
    if (h->cap == 0) return false;
    uint32_t i = head_slot(h, id);
    return h->ids[i] && h->live[i];
}

static void head_free(head_table *h) {
    for (uint32_t i = 0; i < h->cap; i++) free(h->ids[i]);
    free(h->ids);
    free(h->live);
    *h = (head_table){0};
}

/* ---- records --------------------------------------------------------------- */

/* A decoded or prepared article: everything apply needs, owned. */
typedef struct prep {
    live_article *art;
    uint32_t n;
    live_passage *ps;
} prep;

static void prep_free(prep *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i].art) {
            free(p[i].art->id);
            free(p[i].art->heading);
            free(p[i].art->date);
            free(p[i].art->text);
            free(p[i].art);
        }
        for (uint32_t j = 0; j < p[i].n; j++) {
            free((char *)p[i].ps[j].text);
            free(p[i].ps[j].terms);
            free(p[i].ps[j].vec);
        }
        free(p[i].ps);
    }
    free(p);
}

static char *dup_n(const char *p, size_t n) {
    char *s = xmalloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* The article, copied and analysed (no lock held). topic UINT32_MAX: too many topics. */
static void prepare(store *s, analyzer *an, const store_article *a, const size_t *plens, prep *out) {
    live_article *la = xcalloc(1, sizeof *la);
    la->id = xstrdup(a->id);
    la->heading = xstrdup(a->heading ? a->heading : "");
    la->date = xstrdup(a->date);
    la->text = a->text ? xstrdup(a->text) : NULL;
    la->topic = intern_topic(s, a->topic);
    la->n_passages = (uint32_t)a->n_passages;
    atomic_init(&la->dead, LIVE_ALIVE);
    out->art = la;
    out->n = (uint32_t)a->n_passages;
    out->ps = xcalloc(a->n_passages, sizeof *out->ps);
    size_t dim = (size_t)s->dim;
    for (size_t i = 0; i < a->n_passages; i++) {
        live_passage *p = &out->ps[i];
        p->text = plens ? dup_n(a->passages[i], plens[i]) : xstrdup(a->passages[i]);
        p->passage_index = (int32_t)i;
        p->vec = xmalloc(dim * sizeof(float));
        memcpy(p->vec, a->vectors + i * dim, dim * sizeof(float));
        live_analyze(an, la->heading, p->text, p);
        atomic_init(&p->dead, LIVE_ALIVE);
    }
}

static void put_u32(buf *b, uint32_t x) { buf_append(b, &x, 4); }

static void encode_put(const store_article *arts, size_t n, int dim, buf *out) {
    put_u32(out, REC_PUT);
    put_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const store_article *a = &arts[i];
        const char *f[5] = {a->id, a->heading ? a->heading : "", a->date, a->topic,
                            a->text ? a->text : ""};
        for (int j = 0; j < 5; j++) put_u32(out, (uint32_t)strlen(f[j]));
        put_u32(out, a->text != NULL);
        put_u32(out, (uint32_t)a->n_passages);
        for (int j = 0; j < 5; j++) buf_append(out, f[j], strlen(f[j]));
        for (size_t p = 0; p < a->n_passages; p++) {
            put_u32(out, (uint32_t)strlen(a->passages[p]));
            buf_append(out, a->passages[p], strlen(a->passages[p]));
        }
        buf_append(out, a->vectors, a->n_passages * (size_t)dim * sizeof(float));
    }
}

typedef struct reader {
    const uint8_t *p, *end;
    bool bad;
} reader;

static uint32_t get_u32(reader *r) {
    uint32_t x = 0;
    if (r->end - r->p < 4) r->bad = true;
    else memcpy(&x, r->p, 4), r->p += 4;
    return x;
}

static const char *get_bytes(reader *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const char *q = (const char *)r->p;
    r->p += n;
    return q;
}

/* ---- applying ------------------------------------------------------------- */

/* Hide the visible version of id at generation gen (apply_lock held). */
static void tombstone(store *s, const char *id, uint64_t gen) {
    epoch *e = s->ep;
    live_article *old = epoch_find(e, id);
    if (old == NULL || atomic_load(&old->dead) != LIVE_ALIVE) return;
    atomic_store(&old->dead, gen);
    const snapshot *sn = e->snap;
    for (uint32_t i = 0; i < old->n_passages; i++) {
        uint32_t body, topic = old->topic;
        if (old->in_snapshot) {
            const disk_passage *dp = &sn->passages[old->first + i];
            atomic_store(&e->snap_dead[dp->row], gen);
            body = sn->bm25.doclen[dp->row];
            topic = e->snap_topic[dp->topic]; /* a passage-level ingest may mix topics */
            s->snap_dead++;
        } else {
            live_passage *p = epoch_passage(e, old->first + i);
            atomic_store(&p->dead, gen);
            body = p->body_len;
            s->live_dead++;
        }
        s->total_body -= body;
        s->topic_passages[topic]--;
    }
    s->n_passages -= old->n_passages;
    s->topic_articles[old->topic]--;
    s->n_articles--;
}

/* Apply one put batch at generation gen: takes ownership of the preps. */
static void apply_put(store *s, prep *pr, size_t n, uint64_t gen) {
    epoch *e = s->ep;
    for (size_t i = 0; i < n; i++) {
        live_article *a = pr[i].art;
        tombstone(s, a->id, gen);
        uint32_t first = epoch_reserve(e, pr[i].n);
        for (uint32_t j = 0; j < pr[i].n; j++) {
            live_passage *dst = epoch_passage(e, first + j);
            *dst = pr[i].ps[j];
            dst->article = a;
            atomic_init(&dst->dead, LIVE_ALIVE);
            s->total_body += dst->body_len;
        }
        free(pr[i].ps);
        e->n_live = first + pr[i].n;
        a->in_snapshot = false;
        a->first = first;
        a->born = gen;
        epoch_insert(e, a);
        s->n_passages += pr[i].n;
        s->topic_passages[a->topic] += pr[i].n;
        s->topic_articles[a->topic]++;
        s->n_articles++;
    }
    free(pr);
}

/* Decode a log record into preps (put) or an id (delete). -1 if malformed. */
static int decode(store *s, analyzer *an, const uint8_t *payload, size_t len, int *type,
                  prep **preps, size_t *n_preps, char **del_id) {
    reader r = {payload, payload + len, false};
    *type = (int)get_u32(&r);
    *preps = NULL;
    *n_preps = 0;
    *del_id = NULL;
    if (*type == REC_DELETE) {
        uint32_t l = get_u32(&r);
        const char *id = get_bytes(&r, l);
        if (r.bad || r.p != r.end) return -1;
        *del_id = dup_n(id, l);
        return 0;
    }
    if (*type != REC_PUT) return -1;
    uint32_t n = get_u32(&r);
    if (r.bad || n == 0 || n > STORE_MAX_BATCH) return -1;
    prep *pr = xcalloc(n, sizeof *pr);
    size_t done = 0, dim = (size_t)s->dim;
    for (; done < n; done++) {
        uint32_t lens[5];
        for (int j = 0; j < 5; j++) lens[j] = get_u32(&r);
        uint32_t has_text = get_u32(&r), np = get_u32(&r);
        if (r.bad || np == 0 || np > (uint32_t)(r.end - r.p)) break;
        const char *f[5];
        for (int j = 0; j < 5; j++) f[j] = get_bytes(&r, lens[j]);
        const char **ptexts = xcalloc(np, sizeof *ptexts);
        size_t *plens = xcalloc(np, sizeof *plens);
        for (uint32_t p = 0; p < np && !r.bad; p++) {
            plens[p] = get_u32(&r);
            ptexts[p] = get_bytes(&r, plens[p]);
        }
        const char *vecs = get_bytes(&r, (size_t)np * dim * sizeof(float));
        if (r.bad) {
            free(ptexts);
            free(plens);
            break;
        }
        char *id = dup_n(f[0], lens[0]), *heading = dup_n(f[1], lens[1]), *date = dup_n(f[2], lens[2]),
             *topic = dup_n(f[3], lens[3]), *text = has_text ? dup_n(f[4], lens[4]) : NULL;
        float *fv = xmalloc((size_t)np * dim * sizeof(float) + 1);
        memcpy(fv, vecs, (size_t)np * dim * sizeof(float));
        store_article a = {id, heading, date, topic, text, np, ptexts, fv};
        prepare(s, an, &a, plens, &pr[done]);
        bool topic_ok = pr[done].art->topic != UINT32_MAX;
        free(id), free(heading), free(date), free(topic), free(text), free(fv);
        free(ptexts);
        free(plens);
        if (!topic_ok) {
            done++;
            break;
        }
    }
    if (done < n || r.p != r.end) {
        prep_free(pr, done);
        return -1;
    }
    *preps = pr;
    *n_preps = n;
    return 0;
}

/* Replay one record on open: applied as its own generation. */
static int replay_record(void *ctx, const uint8_t *payload, size_t len, char *err, size_t errlen) {
    store *s = ctx;
    analyzer *an = snap_analyzer_take(s->ep->snap);
    if (an == NULL) return seterr(err, errlen, "cannot make the BM25 analyzer");
    int type;
    prep *pr;
    size_t n;
    char *del;
    int rc = decode(s, an, payload, len, &type, &pr, &n, &del);
    snap_analyzer_give(s->ep->snap, an);
    if (rc != 0)
        return seterr(err, errlen, "%s/%s holds a record this ragd cannot read (checksum "
                      "intact, content malformed)", s->dir, DOC_LOG_FILE);
    s->gen++;
    if (type == REC_DELETE) {
        tombstone(s, del, s->gen);
        head_set(&s->head, del, false);
        free(del);
    } else {
        for (size_t i = 0; i < n; i++) head_set(&s->head, pr[i].art->id, true);
        apply_put(s, pr, n, s->gen);
    }
    return 0;
}

/* ---- opening ----------------------------------------------------------------- */

/* Take data_dir's writer lock: 0, or -1 naming the process that holds it. */
int store_lock_dir(const char *data_dir, int *fd_out, char *err, size_t errlen) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data_dir, STORE_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        return seterr(err, errlen, "%s is being written by another process (%s); stop it first",
                      data_dir, holder[0] ? holder : "unknown");
    }
    /* Who holds it, for the next one's message: "pid N: ragd serve …". */
    char who[256];
    int len = snprintf(who, sizeof who, "pid %ld: ", (long)getpid());
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (f) {
        size_t got = fread(who + len, 1, sizeof who - (size_t)len - 2, f);
        fclose(f);
        for (size_t i = 0; i < got; i++)
            if (who[len + (int)i] == '\0') who[len + (int)i] = ' ';
        len += (int)got;
    }
    who[len++] = '\n';
    if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)len, 0) != len) {
        /* The lock holds without the note; only the next message is vaguer. */
    }
    *fd_out = fd;
    return 0;
}

static void *merge_main(void *arg);

static store *open_store(const char *data_dir, const char *expected_model, bool writable,
                         char *err, size_t errlen) {
    int lock_fd = -1;
    char why[512] = "";
    if (writable && store_exists(data_dir) &&
        store_lock_dir(data_dir, &lock_fd, why, sizeof why) != 0)
        /* A second server on the same directory still answers searches; its
         * writes are refused (store_put says who holds the lock). */
        log_warn("store: %s; serving it read-only", why);
    snapshot *snap = snap_open(data_dir, expected_model, err, errlen);
    if (snap == NULL) {
        if (lock_fd >= 0) close(lock_fd);
        return NULL;
    }
    store *s = xcalloc(1, sizeof *s);
    s->base.ops = &embedded_store_ops;
    s->dir = xstrdup(data_dir);
    s->lock_fd = lock_fd;
    s->writable = lock_fd >= 0;
    snprintf(s->read_only_why, sizeof s->read_only_why, "%s",
             !writable ? "the store was opened read-only" : why);
    snprintf(s->model, sizeof s->model, "%s", snap_model(snap));
    s->dim = snap_dim(snap);
    s->merge_threshold = STORE_DEFAULT_MERGE_PASSAGES;
    pthread_mutex_init(&s->view_lock, NULL);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->apply_lock, NULL);
    pthread_cond_init(&s->applied_cond, NULL);
    pthread_mutex_init(&s->topic_lock, NULL);
    pthread_mutex_init(&s->merge_lock, NULL);
    pthread_cond_init(&s->merge_cond, NULL);
    const disk_header *h = snap_header(snap);
    s->ep = epoch_new(snap, intern_topic, s);
    count_epoch(s);
    for (uint32_t a = 0; a < snap->n_articles; a++)
        head_set(&s->head, snap->strings + snap->articles[a].id, true);
    s->log = doclog_open(data_dir, s->model, s->dim, h->doc_log_id, h->doc_log_bytes, s->writable,
                         replay_record, s, err, errlen);
    if (s->log == NULL) {
        publish(s); /* store_close releases a view */
        emb_close(s);
        return NULL;
    }
    publish(s);
    if (s->writable) {
        if (pthread_create(&s->merge_thread, NULL, merge_main, s) == 0) s->merge_running = true;
        else log_warn("store: no background merge thread (%s)", strerror(errno));
    }
    return s;
}

store *store_open(const char *data_dir, const char *expected_model, char *err, size_t errlen) {
    return open_store(data_dir, expected_model, false, err, errlen);
}

store *store_open_writable(const char *data_dir, const char *expected_model, char *err,
                           size_t errlen) {
    return open_store(data_dir, expected_model, true, err, errlen);
}

static void emb_close(store *s) {
    if (s == NULL) return;
    if (s->merge_running) {
        pthread_mutex_lock(&s->merge_lock);
        s->stopping = true;
        pthread_cond_signal(&s->merge_cond);
        pthread_mutex_unlock(&s->merge_lock);
        pthread_join(s->merge_thread, NULL);
    }
    emb_release(s->cur);
    epoch_unref(s->ep);
    doclog_close(s->log);
    head_free(&s->head);
    for (uint32_t t = 0; t < s->n_topics; t++) free(s->topics[t]);
    pthread_mutex_destroy(&s->view_lock);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->apply_lock);
    pthread_cond_destroy(&s->applied_cond);
    pthread_mutex_destroy(&s->topic_lock);
    pthread_mutex_destroy(&s->merge_lock);
    pthread_cond_destroy(&s->merge_cond);
    if (s->lock_fd >= 0) close(s->lock_fd); /* closing drops the flock */
    free(s->dir);
    free(s);
}

/* ---- reads -------------------------------------------------------------- */

static const char *emb_model(const store_view *v) { return v->ep->snap->model; }
static const char *emb_model_of(const store *s) { return s->model; }
static int emb_dim(const store_view *v) { return (int)v->ep->snap->dim; }

static size_t emb_passages_now(store *s) {
    const store_view *v = emb_acquire(s);
    size_t n = emb_count(v, NULL);
    emb_release(v);
    return n;
}

static size_t emb_count(const store_view *v, const char *topic) {
    if (topic == NULL) return v->n_passages;
    int t = view_find_topic(v, topic);
    return t < 0 ? 0 : v->topic_counts[t];
}

static int emb_topics(const store_view *v, const char *const **names) {
    *names = v->names;
    return v->n_topics;
}

static bool emb_has_topic(const store_view *v, const char *topic) { return view_find_topic(v, topic) >= 0; }

static int emb_get(const store_view *v, uint32_t id, store_passage *out) {
    const snapshot *sn = v->ep->snap;
    if (id < sn->n) {
        if (!view_snap_visible(v, sn->passages[id].row)) return -1;
        return snap_get(sn, id, out);
    }
    if (!view_live_visible(v, id - sn->n)) return -1;
    const live_passage *p = epoch_passage(v->ep, id - sn->n);
    const live_article *a = p->article;
    *out = (store_passage){.id = id, .article_id = a->id, .heading = a->heading, .date = a->date,
                           .topic = NULL, .text = p->text,
                           .passage_index = p->passage_index};
    /* The topic's name from the view (a live article's topic is visible). */
    for (int t = 0; t < v->n_topics; t++)
        if (v->topic_gidx[t] == a->topic) out->topic = v->names[t];
    return out->topic ? 0 : -1;
}

static const float *emb_vector(const store_view *v, uint32_t id) {
    const snapshot *sn = v->ep->snap;
    if (id < sn->n) return view_snap_visible(v, sn->passages[id].row) ? snap_vector(sn, id) : NULL;
    return view_live_visible(v, id - sn->n) ? epoch_passage(v->ep, id - sn->n)->vec : NULL;
}

static store_bm25_params emb_bm25(const store_view *v) { return snap_bm25(v->ep->snap); }

static void fill_info(const store_view *v, const live_article *a, store_article_info *out) {
    *out = (store_article_info){.id = a->id, .heading = a->heading, .date = a->date,
                                .topic = "", .text = a->text, .n_passages = a->n_passages,
                                .first_passage = a->in_snapshot ? a->first
                                                                : v->ep->snap->n + a->first};
    for (int t = 0; t < v->n_topics; t++)
        if (v->topic_gidx[t] == a->topic) out->topic = v->names[t];
}

static int emb_article_get(const store_view *v, const char *article_id, store_article_info *out) {
    const live_article *a = epoch_visible(v->ep, article_id, v->gen);
    if (a == NULL) return -1;
    fill_info(v, a, out);
    return 0;
}

static int cmp_article_ptr(const void *x, const void *y) {
    return strcmp((*(const live_article *const *)x)->id, (*(const live_article *const *)y)->id);
}

static size_t emb_article_list(const store_view *v, const char *topic, const char *after, size_t limit,
                          store_article_info *out, bool *more) {
    *more = false;
    int64_t gt = -1;
    if (topic != NULL) {
        int t = view_find_topic(v, topic);
        if (t < 0) return 0;
        gt = v->topic_gidx[t];
    }
    epoch *e = v->ep;
    pthread_rwlock_rdlock(&e->dir_lock);
    const live_article **all = xmalloc(((size_t)e->n_ids + 1) * sizeof *all);
    size_t n = 0;
    for (uint32_t i = 0; i < e->slots_cap; i++) {
        const live_article *a = e->slots[i];
        while (a && !(a->born <= v->gen && atomic_load(&a->dead) > v->gen)) a = a->older;
        if (a && (gt < 0 || a->topic == (uint32_t)gt) && (!after || !*after || strcmp(a->id, after) > 0))
            all[n++] = a;
    }
    pthread_rwlock_unlock(&e->dir_lock);
    qsort(all, n, sizeof *all, cmp_article_ptr);
    size_t got = n < limit ? n : limit;
    for (size_t i = 0; i < got; i++) fill_info(v, all[i], &out[i]);
    *more = n > got;
    free(all);
    return got;
}

static size_t emb_article_count(const store_view *v, const char *topic) {
    if (topic == NULL) return v->n_articles;
    int t = view_find_topic(v, topic);
    return t < 0 ? 0 : v->topic_articles[t];
}

/* ---- writes --------------------------------------------------------------- */

bool store_valid_article_id(const char *id, size_t len) {
    if (id == NULL || len == 0 || len > STORE_ARTICLE_ID_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static int check_article(const store *s, const store_article *a, size_t i, char *err, size_t errlen) {
    if (a->id == NULL || !store_valid_article_id(a->id, strlen(a->id)))
        return seterr(err, errlen, "article %zu: id must be 1..%d characters of A-Z a-z 0-9 . _ : -",
                      i, STORE_ARTICLE_ID_MAX);
    if (a->date == NULL || !store_valid_date(a->date))
        return seterr(err, errlen, "article %zu (%s): date must be YYYY-MM-DD", i, a->id);
    if (a->topic == NULL || a->topic[0] == '\0')
        return seterr(err, errlen, "article %zu (%s): topic must not be empty", i, a->id);
    for (const char *c = a->topic; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            return seterr(err, errlen, "article %zu (%s): topic must be lower case", i, a->id);
    if (a->n_passages < 1 || a->n_passages > 1000000 || a->passages == NULL || a->vectors == NULL)
        return seterr(err, errlen, "article %zu (%s): needs at least one passage with its vector", i, a->id);
    for (size_t p = 0; p < a->n_passages; p++) {
        if (a->passages[p] == NULL)
            return seterr(err, errlen, "article %zu (%s): passage %zu has no text", i, a->id, p);
        for (int d = 0; d < s->dim; d++)
            if (!isfinite(a->vectors[p * (size_t)s->dim + (size_t)d]))
                return seterr(err, errlen, "article %zu (%s): passage %zu has a non-finite vector", i, a->id, p);
    }
    return 0;
}

static void want_merge(store *s);

/* Append payload, then make it durable and apply it in log order. Under
 * write_lock: precheck (NULL, or false: nothing to write, returns 0) before
 * the append, on_appended (the head table is its to update) after it.
 * Returns 1 when written. */
static int commit_record(store *s, const char *op, double t0, const buf *payload,
                         bool (*precheck)(store *, void *), void (*on_appended)(store *, void *),
                         void *ctx, void (*apply)(store *, void *, uint64_t), char *err,
                         size_t errlen) {
    pthread_mutex_lock(&s->write_lock);
    if (precheck && !precheck(s, ctx)) {
        pthread_mutex_unlock(&s->write_lock);
        return 0;
    }
    uint64_t end;
    if (doclog_append(s->log, payload->data, payload->len, &end, err, errlen) != 0) {
        pthread_mutex_unlock(&s->write_lock);
        return -1;
    }
    uint64_t seq = ++s->last_seq;
    on_appended(s, ctx);
    pthread_mutex_unlock(&s->write_lock);
    int led = doclog_sync(s->log, end, err, errlen);
    int rc = led < 0 ? -1 : 0;
    pthread_mutex_lock(&s->apply_lock);
    while (s->applied_seq != seq - 1) pthread_cond_wait(&s->applied_cond, &s->apply_lock);
    /* A failed fsync leaves the log refusing every later write; what it did
     * not make durable is not shown. */
    if (rc == 0) {
        s->gen++;
        apply(s, ctx, s->gen);
        publish(s);
    }
    s->applied_seq = seq;
    pthread_cond_broadcast(&s->applied_cond);
    pthread_mutex_unlock(&s->apply_lock);
    if (rc == 0) {
        atomic_fetch_add(&s->writes, 1);
        ragd_metrics_store_write(op, now_seconds() - t0, led);
        want_merge(s);
    }
    return rc == 0 ? 1 : -1;
}

typedef struct put_ctx {
    const store_article *arts;
    size_t n;
    store_write_result *results;
    prep *preps;
} put_ctx;

static void put_appended(store *s, void *c) {
    put_ctx *p = c;
    for (size_t i = 0; i < p->n; i++) {
        p->results[i].created = !head_live(&s->head, p->arts[i].id);
        p->results[i].passages = (int)p->arts[i].n_passages;
        head_set(&s->head, p->arts[i].id, true);
    }
}

static void put_apply(store *s, void *c, uint64_t gen) {
    put_ctx *p = c;
    apply_put(s, p->preps, p->n, gen);
    p->preps = NULL;
}

static int emb_put(store *s, const store_article *articles, size_t n, store_write_result *results,
              char *err, size_t errlen) {
    if (!s->writable) return seterr(err, errlen, "writes are refused: %s", s->read_only_why);
    double t0 = now_seconds();
    if (n == 0 || n > STORE_MAX_BATCH)
        return seterr(err, errlen, "a batch holds 1..%d articles", STORE_MAX_BATCH);
    for (size_t i = 0; i < n; i++) {
        if (check_article(s, &articles[i], i, err, errlen) != 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(articles[i].id, articles[j].id) == 0)
                return seterr(err, errlen, "article %zu: id %s appears twice in the batch", i,
                              articles[i].id);
    }
    const store_view *v = emb_acquire(s);
    analyzer *an = snap_analyzer_take(v->ep->snap);
    if (an == NULL) {
        emb_release(v);
        return seterr(err, errlen, "cannot make the BM25 analyzer");
    }
    prep *pr = xcalloc(n, sizeof *pr);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        prepare(s, an, &articles[i], NULL, &pr[i]);
        if (pr[i].art->topic == UINT32_MAX && rc == 0)
            rc = seterr(err, errlen, "article %zu: more than %d topics", i, STORE_MAX_TOPICS);
    }
    snap_analyzer_give(v->ep->snap, an);
    emb_release(v);
    if (rc != 0) {
        prep_free(pr, n);
        return -1;
    }
    buf payload = BUF_INIT;
    encode_put(articles, n, s->dim, &payload);
    put_ctx ctx = {articles, n, results, pr};
    rc = commit_record(s, "put", t0, &payload, NULL, put_appended, &ctx, put_apply, err, errlen);
    if (rc > 0)
        for (size_t i = 0; i < n; i++)
            log_fields(LOG_DEBUG, "store: article put",
                       (log_field[]){LOG_STR("article_id", articles[i].id),
                                     LOG_INT("passages", articles[i].n_passages),
                                     LOG_INT("created", results[i].created)},
                       3);
    buf_free(&payload);
    if (ctx.preps) prep_free(ctx.preps, n);
    return rc < 0 ? -1 : 0;
}

typedef struct del_ctx {
    const char *id;
} del_ctx;

static bool del_live(store *s, void *c) { return head_live(&s->head, ((del_ctx *)c)->id); }

static void del_appended(store *s, void *c) { head_set(&s->head, ((del_ctx *)c)->id, false); }

static void del_apply(store *s, void *c, uint64_t gen) { tombstone(s, ((del_ctx *)c)->id, gen); }

static int emb_delete(store *s, const char *article_id, char *err, size_t errlen) {
    if (!s->writable) return seterr(err, errlen, "writes are refused: %s", s->read_only_why);
    if (article_id == NULL || !store_valid_article_id(article_id, strlen(article_id))) return 0;
    buf payload = BUF_INIT;
    put_u32(&payload, REC_DELETE);
    put_u32(&payload, (uint32_t)strlen(article_id));
    buf_append(&payload, article_id, strlen(article_id));
    /* Whether it is live is decided under write_lock: a put of it may be in flight. */
    del_ctx ctx = {article_id};
    int rc = commit_record(s, "delete", now_seconds(), &payload, del_live, del_appended, &ctx,
                           del_apply, err, errlen);
    if (rc > 0)
        log_fields(LOG_DEBUG, "store: article deleted",
                   (log_field[]){LOG_STR("article_id", article_id)}, 1);
    buf_free(&payload);
    return rc;
}

/* ---- merge ------------------------------------------------------------------ */

static int cmp_article_order(const void *x, const void *y) {
    const live_article *a = *(const live_article *const *)x, *b = *(const live_article *const *)y;
    if (a->in_snapshot != b->in_snapshot) return a->in_snapshot ? -1 : 1;
    return (a->first > b->first) - (a->first < b->first);
}

void store_log_position(store *s, uint64_t *id, uint64_t *end) {
    *id = s->log ? doclog_id(s->log) : 0;
    *end = s->log ? doclog_end(s->log) : 0;
}

build_article *store_view_articles(const store_view *v, build_passage **ps_out, size_t *n_out) {
    epoch *e = v->ep;
    const snapshot *sn = e->snap;
    size_t dim = sn->dim;
    pthread_rwlock_rdlock(&e->dir_lock);
    const live_article **order = xmalloc(((size_t)e->n_ids + 1) * sizeof *order);
    size_t n_vis = 0;
    for (uint32_t i = 0; i < e->slots_cap; i++) {
        const live_article *a = e->slots[i];
        while (a && !(a->born <= v->gen && atomic_load(&a->dead) > v->gen)) a = a->older;
        if (a) order[n_vis++] = a;
    }
    qsort(order, n_vis, sizeof *order, cmp_article_order);
    build_article *arts = xcalloc(n_vis + 1, sizeof *arts);
    build_passage *ps = xmalloc(((size_t)v->n_passages + 1) * sizeof *ps);
    size_t n = 0, np = 0;
    for (size_t k = 0; k < n_vis; k++) {
        const live_article *a = order[k];
        build_article *b = &arts[n++];
        const char *topic = "";
        for (int t = 0; t < v->n_topics; t++)
            if (v->topic_gidx[t] == a->topic) topic = v->names[t];
        *b = (build_article){{a->id, strlen(a->id)}, {a->heading, strlen(a->heading)},
                             {a->date, strlen(a->date)}, {topic, strlen(topic)},
                             {a->text, a->text ? strlen(a->text) : 0}, a->n_passages, ps + np};
        for (uint32_t j = 0; j < a->n_passages; j++) {
            if (a->in_snapshot) {
                const disk_passage *dp = &sn->passages[a->first + j];
                const char *pt = sn->topic_names[dp->topic];
                ps[np++] = (build_passage){{sn->strings + dp->text, dp->text_len},
                                           dp->passage_index, sn->vectors + (size_t)dp->row * dim,
                                           {pt, strlen(pt)}};
            } else {
                const live_passage *lp = epoch_passage(e, a->first + j);
                ps[np++] = (build_passage){{lp->text, strlen(lp->text)}, lp->passage_index, lp->vec, {NULL, 0}};
            }
        }
    }
    pthread_rwlock_unlock(&e->dir_lock);
    free(order);
    assert(np == v->n_passages);
    *ps_out = ps;
    *n_out = n;
    return arts;
}

static int emb_merge(store *s, char *err, size_t errlen) {
    if (!s->writable) return seterr(err, errlen, "cannot merge: %s", s->read_only_why);
    double t0 = now_seconds();
    /* Writers wait for the merge; searches go on with their views. */
    pthread_mutex_lock(&s->write_lock);
    pthread_mutex_lock(&s->apply_lock);
    while (s->applied_seq != s->last_seq) pthread_cond_wait(&s->applied_cond, &s->apply_lock);
    pthread_mutex_unlock(&s->apply_lock);
    const store_view *v = emb_acquire(s);
    int rc = 0;
    size_t live = v->n_live, dead = s->snap_dead;
    if (live == 0 && dead == 0) goto out; /* nothing to fold */
    build_passage *ps;
    size_t n_arts;
    build_article *arts = store_view_articles(v, &ps, &n_arts);
    const disk_header *h = snap_header(v->ep->snap);
    build_coverage cov = {h->log_records, h->log_bytes, doclog_id(s->log), doclog_end(s->log)};
    hnsw_params hp = {.m = h->hnsw_m ? (int)h->hnsw_m : 16,
                      .ef_construction = h->hnsw_ef_construction ? (int)h->hnsw_ef_construction : 100,
                      .threads = 0, .seed = 0x5eed};
    rc = snapshot_build(s->dir, s->model, s->dim, &hp, arts, n_arts, &cov, err, errlen);
    free(arts);
    free(ps);
    if (rc != 0) goto out;
    /* store.bin now covers the whole log: start the next generation of it.
     * A crash before this leaves store.bin covering the old log to its end. */
    if (doclog_rotate(s->log, err, errlen) != 0) {
        rc = -1;
        goto out;
    }
    snapshot *snap = snap_open(s->dir, s->model, err, errlen);
    if (snap == NULL) {
        rc = -1;
        goto out;
    }
    pthread_mutex_lock(&s->apply_lock);
    epoch *old = s->ep;
    s->ep = epoch_new(snap, intern_topic, s);
    epoch_unref(old); /* views of it keep it until released */
    count_epoch(s);
    s->gen++;
    publish(s);
    pthread_mutex_unlock(&s->apply_lock);
    double secs = now_seconds() - t0;
    atomic_fetch_add(&s->merges, 1);
    atomic_store(&s->merge_ns, (uint64_t)(secs * 1e9));
    ragd_metrics_store_merge(secs);
    log_fields(LOG_INFO, "store: merged the live segment into a new snapshot",
               (log_field[]){LOG_STR("data_dir", s->dir), LOG_INT("live_passages", live),
                             LOG_INT("tombstones", dead), LOG_INT("passages", snap->n),
                             LOG_INT("articles", snap->n_articles), LOG_DBL("seconds", secs)},
               6);
out:
    emb_release(v);
    pthread_mutex_unlock(&s->write_lock);
    return rc;
}

static size_t pending_merge(store *s) {
    pthread_mutex_lock(&s->apply_lock);
    size_t n = s->ep->n_live + s->snap_dead;
    pthread_mutex_unlock(&s->apply_lock);
    return n;
}

static void want_merge(store *s) {
    if (!s->merge_running) return;
    pthread_mutex_lock(&s->merge_lock);
    size_t threshold = s->merge_threshold;
    pthread_mutex_unlock(&s->merge_lock);
    if (threshold == 0 || pending_merge(s) < threshold) return;
    pthread_mutex_lock(&s->merge_lock);
    s->merge_wanted = true;
    pthread_cond_signal(&s->merge_cond);
    pthread_mutex_unlock(&s->merge_lock);
}

static void *merge_main(void *arg) {
    store *s = arg;
    pthread_setname_np(pthread_self(), "ragd-merge");
    pthread_mutex_lock(&s->merge_lock);
    while (!s->stopping) {
        if (!s->merge_wanted) {
            pthread_cond_wait(&s->merge_cond, &s->merge_lock);
            continue;
        }
        s->merge_wanted = false;
        pthread_mutex_unlock(&s->merge_lock);
        char err[512];
        if (emb_merge(s, err, sizeof err) != 0) log_error("store: background merge failed: %s", err);
        pthread_mutex_lock(&s->merge_lock);
    }
    pthread_mutex_unlock(&s->merge_lock);
    return NULL;
}

static void emb_set_merge_threshold(store *s, size_t passages) {
    pthread_mutex_lock(&s->merge_lock);
    s->merge_threshold = passages;
    pthread_mutex_unlock(&s->merge_lock);
    want_merge(s);
}

static void emb_live_stats(store *s, store_live_stats *out) {
    pthread_mutex_lock(&s->apply_lock);
    *out = (store_live_stats){.live_passages = s->ep->n_live - s->live_dead,
                              .tombstones = s->snap_dead,
                              .writes = atomic_load(&s->writes),
                              .fsyncs = s->log ? doclog_fsyncs(s->log) : 0,
                              .merges = atomic_load(&s->merges),
                              .last_merge_seconds = (double)atomic_load(&s->merge_ns) / 1e9,
                              .log_bytes = s->log ? doclog_end(s->log) : 0};
    pthread_mutex_unlock(&s->apply_lock);
}

static int emb_check(store *s, char *err, size_t errlen) {
    (void)s, (void)err, (void)errlen;
    return 0; /* open means ready: there is no server to lose */
}

static int emb_view_failed(const store_view *v, char *err, size_t errlen) {
    (void)v, (void)err, (void)errlen;
    return 0; /* reads of a mapped file do not fail */
}

const store_ops embedded_store_ops = {
    .kind = "embedded",
    .close = emb_close,
    .model_of = emb_model_of,
    .passages_now = emb_passages_now,
    .check = emb_check,
    .acquire = emb_acquire,
    .put = emb_put,
    .delete_article = emb_delete,
    .merge = emb_merge,
    .set_merge_threshold = emb_set_merge_threshold,
    .live_stats = emb_live_stats,
    .release = emb_release,
    .view_failed = emb_view_failed,
    .model = emb_model,
    .dim = emb_dim,
    .bm25 = emb_bm25,
    .count = emb_count,
    .topics = emb_topics,
    .has_topic = emb_has_topic,
    .get = emb_get,
    .vector = emb_vector,
    .search = embedded_search,
    .article_get = emb_article_get,
    .article_list = emb_article_list,
    .article_count = emb_article_count,
};
