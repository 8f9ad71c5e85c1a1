/* live — the epoch: live segment, tombstones and article directory; see live.h. */
#include "store/live.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

uint64_t live_term_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t id_slot(const char *id, uint32_t cap) {
    return (uint32_t)live_term_hash(id, strlen(id)) & (cap - 1);
}

static void dir_put(live_article **slots, uint32_t cap, live_article *a) {
    uint32_t i = id_slot(a->id, cap);
    while (slots[i] && strcmp(slots[i]->id, a->id) != 0) i = (i + 1) & (cap - 1);
    slots[i] = a;
}

static void dir_grow(epoch *e) {
    uint32_t cap = e->slots_cap ? e->slots_cap * 2 : 1024;
    live_article **slots = xcalloc(cap, sizeof *slots);
    for (uint32_t i = 0; i < e->slots_cap; i++)
        if (e->slots[i]) dir_put(slots, cap, e->slots[i]);
    free(e->slots);
    e->slots = slots;
    e->slots_cap = cap;
}

static void own(epoch *e, live_article *a) {
    if (e->n_owned == e->owned_cap) {
        e->owned_cap = e->owned_cap ? e->owned_cap * 2 : 256;
        e->owned = xrealloc(e->owned, (size_t)e->owned_cap * sizeof *e->owned);
    }
    e->owned[e->n_owned++] = a;
}

epoch *epoch_new(snapshot *snap, uint32_t (*intern)(void *ctx, const char *topic), void *ctx) {
    epoch *e = xcalloc(1, sizeof *e);
    atomic_init(&e->refs, 1);
    e->snap = snap;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Readers come in streams: prefer the writer so an insert is not starved. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->dir_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    e->snap_topic = xcalloc((size_t)snap->n_topics + 1, sizeof *e->snap_topic);
    for (uint32_t t = 0; t < snap->n_topics; t++) e->snap_topic[t] = intern(ctx, snap->topic_names[t]);
    e->snap_dead = xmalloc(((size_t)snap->n + 1) * sizeof *e->snap_dead);
    for (uint32_t r = 0; r < snap->n; r++) atomic_init(&e->snap_dead[r], LIVE_ALIVE);
    while ((uint64_t)e->slots_cap < 2 * ((uint64_t)snap->n_articles + 1)) dir_grow(e);
    for (uint32_t a = 0; a < snap->n_articles; a++) {
        const disk_article *da = &snap->articles[a];
        live_article *la = xcalloc(1, sizeof *la);
        la->id = (char *)(snap->strings + da->id);
        la->heading = (char *)(snap->strings + da->heading);
        la->date = (char *)(snap->strings + da->date);
        la->text = da->text == UINT64_MAX ? NULL : (char *)(snap->strings + da->text);
        la->topic = e->snap_topic[snap->passages[da->first_passage].topic];
        la->in_snapshot = true;
        la->first = da->first_passage;
        la->n_passages = da->n_passages;
        atomic_init(&la->dead, LIVE_ALIVE);
        own(e, la);
        dir_put(e->slots, e->slots_cap, la);
        e->n_ids++;
    }
    return e;
}

void epoch_ref(epoch *e) { atomic_fetch_add(&e->refs, 1); }

void epoch_unref(epoch *e) {
    if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1) return;
    for (uint32_t i = 0; i < e->n_live; i++) {
        live_passage *p = epoch_passage(e, i);
        free((char *)p->text);
        free(p->terms);
        free(p->vec);
    }
    for (uint32_t c = 0; c < LIVE_MAX_CHUNKS && e->chunks[c]; c++) free(e->chunks[c]);
    for (uint32_t i = 0; i < e->n_owned; i++) {
        live_article *a = e->owned[i];
        if (!a->in_snapshot) {
            free(a->id);
            free(a->heading);
            free(a->date);
            free(a->text);
        }
        free(a);
    }
    free(e->owned);
    free(e->slots);
    free(e->snap_topic);
    free(e->snap_dead);
    pthread_rwlock_destroy(&e->dir_lock);
    snap_unref(e->snap);
    free(e);
}

live_article *epoch_find(const epoch *e, const char *id) {
    uint32_t i = id_slot(id, e->slots_cap);
    while (e->slots[i]) {
        if (strcmp(e->slots[i]->id, id) == 0) return e->slots[i];
        i = (i + 1) & (e->slots_cap - 1);
    }
    return NULL;
}

const live_article *epoch_visible(epoch *e, const char *id, uint64_t gen) {
    pthread_rwlock_rdlock(&e->dir_lock);
    const live_article *a = epoch_find(e, id);
    while (a && !(a->born <= gen && atomic_load(&a->dead) > gen)) a = a->older;
    pthread_rwlock_unlock(&e->dir_lock);
    return a;
}

void epoch_insert(epoch *e, live_article *a) {
    pthread_rwlock_wrlock(&e->dir_lock);
    a->older = epoch_find(e, a->id);
    if (a->older == NULL) {
        if ((uint64_t)(e->n_ids + 1) * 2 > e->slots_cap) dir_grow(e);
        e->n_ids++;
    }
    dir_put(e->slots, e->slots_cap, a);
    own(e, a);
    pthread_rwlock_unlock(&e->dir_lock);
}

uint32_t epoch_reserve(epoch *e, uint32_t n) {
    uint32_t first = e->n_live;
    assert((uint64_t)first + n <= (uint64_t)LIVE_CHUNK * LIVE_MAX_CHUNKS);
    for (uint32_t i = first; i < first + n; i++)
        if (e->chunks[i / LIVE_CHUNK] == NULL)
            e->chunks[i / LIVE_CHUNK] = xcalloc(LIVE_CHUNK, sizeof(live_passage));
    return first;
}

/* ---- terms ---------------------------------------------------------------- */

typedef struct term_acc {
    live_term *t;
    uint32_t n, cap;
    bool heading;
    uint32_t body_len;
} term_acc;

static void on_term(const char *w, size_t n, void *ctx) {
    term_acc *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->t = xrealloc(a->t, (size_t)a->cap * sizeof *a->t);
    }
    a->t[a->n++] = (live_term){live_term_hash(w, n), a->heading ? 0 : 1, a->heading ? 1 : 0};
    if (!a->heading) a->body_len++;
}

static int cmp_term(const void *x, const void *y) {
    uint64_t a = ((const live_term *)x)->hash, b = ((const live_term *)y)->hash;
    return (a > b) - (a < b);
}

/* Frequencies capped as bm25.c caps them, so scores match a snapshot's. */
#define TF_BODY_MAX 0xFFFFFFu
#define TF_HEADING_MAX 255u

void live_analyze(analyzer *an, const char *heading, const char *text, live_passage *p) {
    term_acc a = {0};
    a.heading = true;
    if (heading && *heading) analyzer_terms(an, heading, strlen(heading), on_term, &a);
    a.heading = false;
    if (text && *text) analyzer_terms(an, text, strlen(text), on_term, &a);
    if (a.n > 1) qsort(a.t, a.n, sizeof *a.t, cmp_term);
    uint32_t out = 0;
    for (uint32_t i = 0; i < a.n;) {
        live_term m = {a.t[i].hash, 0, 0};
        for (; i < a.n && a.t[i].hash == m.hash; i++) {
            m.body += a.t[i].body;
            m.heading += a.t[i].heading;
        }
        if (m.body > TF_BODY_MAX) m.body = TF_BODY_MAX;
        if (m.heading > TF_HEADING_MAX) m.heading = TF_HEADING_MAX;
        a.t[out++] = m;
    }
    p->terms = a.t;
    p->n_terms = out;
    p->body_len = a.body_len;
}
