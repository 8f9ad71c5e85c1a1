/* search — store_search over a view: the snapshot's rows and the live
 * segment searched together, tombstoned passages skipped, BM25 statistics
 * (N, average length, document frequencies) of exactly the view's visible
 * passages, then the fusion of the two halves (fusion.c).
 *
 * Ids of a view: snapshot passage ids [0, n) then live passages n + i. The
 * vector half scans the snapshot's topic rows (or walks its HNSW graphs)
 * and the live passages of the topic exactly; the lexical half scores the
 * snapshot's postings and the live passages' term lists with the same
 * formula as bm25.c, so a view scores a passage exactly as a store rebuilt
 * from its visible passages would. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/fusion.h"
#include "store/store_internal.h"
#include "store/view.h"
#include "util/util.h"

#define TF_BODY_MASK 0xFFFFFFu
#define TF_HEADING_SHIFT 24

/* What a search keeps besides visibility: the query's date range. */
typedef struct keep {
    const store_view *v;
    const char *from, *to; /* NULL: open end */
    int64_t gtopic;        /* store-wide topic, -1: all */
} keep;

static bool date_ok(const keep *f, const char *date) {
    if (f->from == NULL && f->to == NULL) return true;
    /* ISO dates order as strings; a passage with no date matches no range. */
    if (strlen(date) < 10) return false;
    if (f->from != NULL && strncmp(date, f->from, 10) < 0) return false;
    if (f->to != NULL && strncmp(date, f->to, 10) > 0) return false;
    return true;
}

static bool keep_row(const keep *f, uint32_t row) {
    const snapshot *s = f->v->ep->snap;
    return view_snap_visible(f->v, row) &&
           date_ok(f, s->strings + s->passages[s->row_ids[row]].date);
}

static bool keep_live(const keep *f, uint32_t i) {
    if (!view_live_visible(f->v, i)) return false;
    const live_passage *p = epoch_passage(f->v->ep, i);
    return (f->gtopic < 0 || p->article->topic == (uint32_t)f->gtopic) && date_ok(f, p->article->date);
}

/* Snapshot rows [lo, hi) by exact dot product; heap ids are rows. */
static void exact_scan(const snapshot *s, const float *q, uint32_t lo, uint32_t hi,
                       const keep *f, heap *top) {
    const float *v = s->vectors + (size_t)lo * s->dim;
    size_t dim = s->dim;
    dot4_fn dot4 = s->ops->dot4;
    uint32_t r = lo;
    float d[4];
    for (; r + 4 <= hi; r += 4, v += 4 * dim) {
        dot4(q, v, dim, d);
        for (int j = 0; j < 4; j++) {
            /* Inline threshold test: most rows lose to the current k-th best. */
            if ((top->len < top->cap || d[j] > top->items[0].score) && keep_row(f, r + (uint32_t)j))
                topk_offer(top, (scored){d[j], r + (uint32_t)j});
        }
    }
    for (; r < hi; r++, v += dim)
        if (keep_row(f, r)) topk_offer(top, (scored){s->ops->dot(q, v, dim), r});
}

/* The best depth passages by vector similarity, best first, as view ids.
 * st: the snapshot's topic (-1: none of its rows; -2: all topics). */
static int vector_ids(const store_view *v, const store_query *q, int st, const keep *f,
                      int depth, scored *out) {
    snapshot *s = v->ep->snap;
    heap top = {.items = xmalloc((size_t)depth * sizeof(scored)), .len = 0, .cap = depth};
    bool dated = q->date_from || q->date_to;
    if (st != -1 && s->n > 0 && s->n_topics > 0) {
        uint32_t t0 = st >= 0 ? (uint32_t)st : 0, t1 = st >= 0 ? t0 + 1 : s->n_topics;
        if (!q->approximate || dated) {
            /* A graph walk cannot skip rows out of the date range without
             * losing recall, so a filtered query scans exactly. */
            exact_scan(s, q->vector, s->topics[t0].row_start,
                       s->topics[t1 - 1].row_start + s->topics[t1 - 1].rows, f, &top);
        } else {
            int ef = q->ef_search > 0 ? q->ef_search : (depth * 2 > 128 ? depth * 2 : 128);
            if (ef < depth) ef = depth;
            hnsw_scratch *sc = snap_scratch_take(s);
            scored *part = xmalloc((size_t)depth * sizeof *part);
            for (uint32_t t = t0; t < t1; t++) {
                int n = hnsw_search(&s->graphs[t], s->vectors + (size_t)s->topics[t].row_start * s->dim,
                                    s->dim, q->vector, depth, ef, sc, part);
                for (int i = 0; i < n; i++) {
                    uint32_t row = part[i].id + s->topics[t].row_start;
                    if (view_snap_visible(v, row)) topk_offer(&top, (scored){part[i].score, row});
                }
            }
            free(part);
            snap_scratch_give(s, sc);
        }
    }
    /* Rows to view ids; then the live passages, exactly. */
    for (int i = 0; i < top.len; i++) top.items[i].id = s->row_ids[top.items[i].id];
    for (uint32_t i = 0; i < v->n_live; i++)
        if (keep_live(f, i))
            topk_offer(&top, (scored){s->ops->dot(q->vector, epoch_passage(v->ep, i)->vec, s->dim),
                                      s->n + i});
    int n = topk_drain(&top, out);
    free(top.items);
    return n;
}

/* ---- lexical -------------------------------------------------------------- */

typedef struct qterm {
    int64_t snap_term; /* index in the snapshot's dictionary, -1: not in it */
    uint64_t hash;     /* live_term_hash */
} qterm;

typedef struct qterms {
    const bm25_view *bm;
    qterm *t;
    int n, cap;
} qterms;

static void on_query_term(const char *w, size_t n, void *ctx) {
    qterms *q = ctx;
    uint64_t h = live_term_hash(w, n);
    for (int i = 0; i < q->n; i++)
        if (q->t[i].hash == h) return;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->t = xrealloc(q->t, (size_t)q->cap * sizeof *q->t);
    }
    q->t[q->n++] = (qterm){bm25_find_term(q->bm, w, n), h};
}

static const live_term *live_find(const live_passage *p, uint64_t h) {
    uint32_t lo = 0, hi = p->n_terms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->terms[mid].hash == h) return &p->terms[mid];
        if (p->terms[mid].hash < h) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* One posting's BM25F contribution (bm25.h's formula, in bm25.c's float order). */
static inline float term_score(float idf, float body, uint32_t heading, uint32_t doclen,
                               float avgdl, float k1, float bb, float wh) {
    float tf = wh * (float)heading;
    if (body > 0.0f) tf += body / (1.0f - bb + bb * (float)doclen / avgdl);
    if (tf <= 0.0f) return 0.0f; /* heading-only posting with w_heading 0 */
    return idf * tf * (k1 + 1.0f) / (tf + k1);
}

/* The same with the length norm's inverse given, 1 / (1 - b + b * len / avgdl):
 * a snapshot row's is computed when the snapshot opens, an article's once per
 * query, instead of once per posting. */
static inline float term_score_normed(float idf, float body, uint32_t heading, float inv_norm, float k1,
                                      float wh) {
    float tf = wh * (float)heading + body * inv_norm;
    if (tf <= 0.0f) return 0.0f;
    return idf * tf * (k1 + 1.0f) / (tf + k1);
}

typedef struct live_match {
    uint32_t passage;
    const live_term *term;
} live_match;

typedef struct accum {
    float *acc;
    uint32_t *touched;
    uint32_t n, cap;
} accum;

static void accum_add(accum *a, uint32_t slot, float s) {
    if (a->acc[slot] == 0.0f) {
        if (a->n == a->cap) {
            a->cap = a->cap ? a->cap * 2 : 256;
            a->touched = xrealloc(a->touched, (size_t)a->cap * sizeof *a->touched);
        }
        a->touched[a->n++] = slot;
    }
    a->acc[slot] += s;
}

/* ---- the article field (bm25.h): each article's BM25F as one document ---- */

/* What one term gathers of one article, kept together (one cache line). */
typedef struct article_slot {
    uint32_t seen;    /* the term that last counted it */
    uint32_t heading; /* this term's heading tf */
    float body;       /* this term's body tf */
    float inv_norm;   /* its length norm's inverse, 0 until needed */
} article_slot;

/* Per query. Slots: snapshot article a is slot a; the live article whose
 * first passage is live passage i is slot n_snap + i. One query term at a
 * time gathers the term's article tf (body summed, heading once) in range,
 * and its document frequency over every visible article. */
typedef struct article_field {
    float weight;            /* w_article; 0: off */
    uint32_t n_snap, n_slots; /* n_snap + the view's live passages */
    float n_articles, avg_len;
    article_slot *slot;
    float *score;            /* per slot: the summed article score */
    uint32_t *best;          /* per slot: 1 + the accum slot of its best passage, 0 none */
    uint32_t *touched, n_touched, stamp, df; /* this term's slots in range */
    uint32_t *scored, n_scored;              /* slots with a score, each once */
} article_field;

static void article_field_init(article_field *af, const store_view *v, float weight) {
    const snapshot *s = v->ep->snap;
    memset(af, 0, sizeof *af);
    if (!(weight > 0.0f) || v->n_articles == 0) return;
    af->weight = weight;
    af->n_snap = s->n_articles;
    af->n_articles = (float)v->n_articles;
    af->avg_len = (float)((double)v->total_body / (double)v->n_articles);
    if (!(af->avg_len > 0)) af->avg_len = 1.0f;
    af->n_slots = s->n_articles + v->n_live;
    size_t slots = (size_t)af->n_slots + 1;
    af->slot = xcalloc(slots, sizeof *af->slot);
    af->score = xcalloc(slots, sizeof *af->score);
    af->best = xcalloc(slots, sizeof *af->best);
    af->touched = xmalloc(slots * sizeof *af->touched);
    af->scored = xmalloc(slots * sizeof *af->scored);
}

static void article_field_free(article_field *af) {
    free(af->slot);
    free(af->score);
    free(af->best);
    free(af->touched);
    free(af->scored);
}

/* A visible passage of slot holds the term; in_range: its tf counts (the
 * rows searched; an article's passages are all in range or none). */
static inline void article_field_posting(article_field *af, uint32_t slot, bool in_range,
                                         uint32_t body, uint32_t heading) {
    assert(slot < af->n_slots && af->stamp > 0); /* seen starts at 0: no term yet */
    article_slot *as = &af->slot[slot];
    if (as->seen != af->stamp) {
        as->seen = af->stamp;
        af->df++;
        if (in_range) {
            af->touched[af->n_touched++] = slot;
            as->body = 0.0f;
            as->heading = 0;
        }
    }
    if (!in_range) return;
    as->body += (float)body;
    if (heading > as->heading) as->heading = heading;
}

/* Body terms of all the passages of slot's article. */
static uint32_t article_len(const store_view *v, const article_field *af, uint32_t slot) {
    if (slot < af->n_snap) return v->ep->snap->article_len[slot];
    const live_article *a = epoch_passage(v->ep, slot - af->n_snap)->article;
    uint32_t len = 0;
    for (uint32_t i = 0; i < a->n_passages; i++) len += epoch_passage(v->ep, a->first + i)->body_len;
    return len;
}

/* The term's postings are all in: score it for every article in range. */
static void article_field_end_term(article_field *af, const store_view *v, const bm25_params *pr) {
    if (af->df > 0) {
        float fdf = (float)af->df;
        float idf = logf(1.0f + (af->n_articles - fdf + 0.5f) / (fdf + 0.5f));
        for (uint32_t i = 0; i < af->n_touched; i++) {
            uint32_t slot = af->touched[i];
            article_slot *as = &af->slot[slot];
            if (as->inv_norm == 0.0f)
                as->inv_norm = 1.0f / (1.0f - pr->b + pr->b * (float)article_len(v, af, slot) / af->avg_len);
            float sc = term_score_normed(idf, as->body, as->heading, as->inv_norm, pr->k1,
                                         pr->w_heading);
            if (sc <= 0.0f) continue;
            if (af->score[slot] == 0.0f) af->scored[af->n_scored++] = slot;
            af->score[slot] += sc;
        }
    }
    af->n_touched = 0;
    af->df = 0;
}

/* The article score goes to each article's best passage only (the one that
 * stands for it; ties: the lower id, as PostgreSQL's seq): its other
 * passages keep their own scores, so under the per-article cap a second
 * slice of the story does not ride on the first's article score and push
 * the next article out of the sources. */
static void article_field_apply(article_field *af, const store_view *v, accum *rows, uint32_t lo,
                                accum *live) {
    const snapshot *s = v->ep->snap;
    uint32_t *best = af->best;
    for (uint32_t i = 0; i < rows->n; i++) {
        uint32_t at = rows->touched[i], slot = s->row_article[at + lo];
        uint32_t b = best[slot];
        if (b == 0 || rows->acc[at] > rows->acc[b - 1] ||
            (rows->acc[at] == rows->acc[b - 1] && s->row_ids[at + lo] < s->row_ids[b - 1 + lo]))
            best[slot] = at + 1;
    }
    for (uint32_t i = 0; i < live->n; i++) {
        uint32_t at = live->touched[i], slot = af->n_snap + epoch_passage(v->ep, at)->article->first;
        uint32_t b = best[slot];
        if (b == 0 || live->acc[at] > live->acc[b - 1] || (live->acc[at] == live->acc[b - 1] && at < b - 1))
            best[slot] = at + 1;
    }
    for (uint32_t i = 0; i < af->n_scored; i++) {
        uint32_t slot = af->scored[i];
        if (best[slot] == 0) continue; /* no passage of it scored (a heading-only match at weight 0) */
        accum *acc = slot < af->n_snap ? rows : live;
        acc->acc[best[slot] - 1] += af->weight * af->score[slot];
    }
}

/* The best depth passages by BM25F, best first, as view ids; -1 if no
 * analyzer could be made. */
static int lexical_ids(const store_view *v, const store_query *q, int st, const keep *f,
                       int depth, scored *out) {
    snapshot *s = v->ep->snap;
    const bm25_view *bm = &s->bm25;
    bm25_params pr = bm->params;
    if (q->bm25 != NULL) pr = (bm25_params){q->bm25->k1, q->bm25->b, q->bm25->heading_weight};
    analyzer *an = snap_analyzer_take(s);
    if (an == NULL) return -1;
    qterms qt = {.bm = bm};
    analyzer_terms(an, q->text, q->text_len, on_query_term, &qt);
    snap_analyzer_give(s, an);
    if (qt.n == 0 || v->n_passages == 0) {
        free(qt.t);
        return 0;
    }
    uint32_t lo = 0, hi = 0; /* the snapshot rows searched */
    if (st != -1 && s->n_topics > 0) {
        uint32_t t0 = st >= 0 ? (uint32_t)st : 0, t1 = st >= 0 ? t0 + 1 : s->n_topics;
        lo = s->topics[t0].row_start;
        hi = s->topics[t1 - 1].row_start + s->topics[t1 - 1].rows;
    }
    accum rows = {.acc = xcalloc((size_t)(hi - lo) + 1, sizeof(float))};
    accum live = {.acc = xcalloc((size_t)v->n_live + 1, sizeof(float))};
    live_match *matches = xmalloc(((size_t)v->n_live + 1) * sizeof *matches);
    uint32_t n_matches = 0;
    float n_docs = (float)v->n_passages;
    float avgdl = (float)((double)v->total_body / (double)v->n_passages);
    if (!(avgdl > 0)) avgdl = 1.0f;
    /* The snapshot's own length norms hold while no write changed N or the
     * lengths and the query keeps the index's b (then the figures are its). */
    bool own_norms = v->n_passages == s->n && v->total_body == s->total_body && pr.b == bm->params.b;
    const float *inv_norm = own_norms ? s->row_inv_norm : NULL;
    article_field af;
    article_field_init(&af, v, q->bm25 != NULL ? q->bm25->article_weight : BM25_DEFAULT_W_ARTICLE);
    for (int i = 0; i < qt.n; i++) {
        const qterm *t = &qt.t[i];
        uint32_t a = 0, z = 0;
        if (t->snap_term >= 0) {
            a = bm->post_off[t->snap_term];
            z = bm->post_off[t->snap_term + 1];
        }
        /* Document frequency over the visible passages only. */
        uint64_t df = 0;
        if (v->snap_dead == 0) df = z - a;
        else
            for (uint32_t p = a; p < z; p++) df += view_snap_visible(v, bm->post_doc[p]);
        /* One pass over the live passages finds the term for the document
         * frequency and remembers the hits the search keeps, to score below. */
        n_matches = 0;
        af.stamp = (uint32_t)i + 1;
        for (uint32_t j = 0; j < v->n_live; j++) {
            if (!view_live_visible(v, j)) continue;
            const live_passage *lp = epoch_passage(v->ep, j);
            const live_term *lt = live_find(lp, t->hash);
            if (lt == NULL) continue;
            df++;
            bool kept = keep_live(f, j);
            if (kept) matches[n_matches++] = (live_match){j, lt};
            if (af.weight > 0.0f)
                article_field_posting(&af, af.n_snap + lp->article->first, kept, lt->body, lt->heading);
        }
        if (df == 0) continue;
        float fdf = (float)df;
        float idf = logf(1.0f + (n_docs - fdf + 0.5f) / (fdf + 0.5f));
        if (af.weight > 0.0f) {
            /* Every posting, for the articles' document frequency; those in
             * range also score their passage. */
            for (uint32_t p = a; p < z; p++) {
                uint32_t d = bm->post_doc[p];
                if (!view_snap_visible(v, d)) continue;
                uint32_t packed = bm->post_tf[p];
                uint32_t body = packed & TF_BODY_MASK, heading = packed >> TF_HEADING_SHIFT;
                bool in_range = d >= lo && d < hi;
                article_field_posting(&af, s->row_article[d], in_range, body, heading);
                if (!in_range) continue;
                float sc = inv_norm ? term_score_normed(idf, body, heading, inv_norm[d], pr.k1, pr.w_heading)
                                    : term_score(idf, body, heading, bm->doclen[d], avgdl, pr.k1, pr.b,
                                                 pr.w_heading);
                if (sc > 0.0f) accum_add(&rows, d - lo, sc);
            }
            article_field_end_term(&af, v, &pr);
        } else {
            /* Snapshot postings of the rows searched: first one at or after lo. */
            uint32_t l = a, r = z;
            while (l < r) {
                uint32_t mid = l + (r - l) / 2;
                if (bm->post_doc[mid] < lo) l = mid + 1;
                else r = mid;
            }
            for (uint32_t p = l; p < z && bm->post_doc[p] < hi; p++) {
                uint32_t d = bm->post_doc[p];
                if (!view_snap_visible(v, d)) continue;
                uint32_t packed = bm->post_tf[p];
                float sc = term_score(idf, packed & TF_BODY_MASK, packed >> TF_HEADING_SHIFT,
                                      bm->doclen[d], avgdl, pr.k1, pr.b, pr.w_heading);
                if (sc > 0.0f) accum_add(&rows, d - lo, sc);
            }
        }
        for (uint32_t m = 0; m < n_matches; m++) {
            const live_passage *lp = epoch_passage(v->ep, matches[m].passage);
            const live_term *lt = matches[m].term;
            float sc = term_score(idf, lt->body, lt->heading, lp->body_len, avgdl, pr.k1, pr.b,
                                  pr.w_heading);
            if (sc > 0.0f) accum_add(&live, matches[m].passage, sc);
        }
    }
    if (af.weight > 0.0f) article_field_apply(&af, v, &rows, lo, &live);
    article_field_free(&af);
    heap h = {.items = xmalloc((size_t)depth * sizeof(scored)), .len = 0, .cap = depth};
    for (uint32_t i = 0; i < rows.n; i++) {
        uint32_t row = rows.touched[i] + lo;
        scored x = {rows.acc[rows.touched[i]], s->row_ids[row]};
        /* The filter reads the passage's row (a cache miss): only for a
         * hit that would enter the heap. */
        if ((h.len < h.cap || scored_below(h.items[0], x)) && keep_row(f, row)) topk_offer(&h, x);
    }
    for (uint32_t i = 0; i < live.n; i++)
        topk_offer(&h, (scored){live.acc[live.touched[i]], s->n + live.touched[i]});
    int n = topk_drain(&h, out);
    free(h.items);
    free(rows.acc);
    free(rows.touched);
    free(live.acc);
    free(live.touched);
    free(matches);
    free(qt.t);
    return n;
}

/* ---- fusion (fusion.c) ------------------------------------------------ */

static const char *article_of(uint32_t id, void *ctx) {
    const store_view *v = ctx;
    const snapshot *s = v->ep->snap;
    if (id < s->n) return s->strings + s->passages[id].article_id;
    return epoch_passage(v->ep, id - s->n)->article->id;
}

/* seterr's -1 is the query's fault: STORE_ERR_BAD_QUERY (store.h). */
_Static_assert(STORE_ERR_BAD_QUERY == -1, "store_search returns seterr's -1 as STORE_ERR_BAD_QUERY");

int store_query_check(const store_query *q, char *err, size_t errlen) {
    if (q->k < 1 || q->k > STORE_MAX_K)
        return seterr(err, errlen, "k must be between 1 and %d", STORE_MAX_K);
    if (q->mode != SEARCH_HYBRID && q->mode != SEARCH_VECTOR && q->mode != SEARCH_LEXICAL)
        return seterr(err, errlen, "unknown search mode %d", (int)q->mode);
    if (q->mode != SEARCH_LEXICAL && q->vector == NULL)
        return seterr(err, errlen, "this search mode needs a query vector");
    if (q->mode != SEARCH_VECTOR && q->text == NULL)
        return seterr(err, errlen, "this search mode needs query text");
    if (q->date_from != NULL && !store_valid_date(q->date_from))
        return seterr(err, errlen, "date_from must be a date YYYY-MM-DD");
    if (q->date_to != NULL && !store_valid_date(q->date_to))
        return seterr(err, errlen, "date_to must be a date YYYY-MM-DD");
    if (q->date_from != NULL && q->date_to != NULL && strcmp(q->date_from, q->date_to) > 0)
        return seterr(err, errlen, "date_from is after date_to");
    if (q->max_per_article < 0) return seterr(err, errlen, "max_per_article must be 0 or more");
    return 0;
}

int embedded_search(const store_view *v, const store_query *q, search_hit *hits, char *err,
                    size_t errlen) {
    if (store_query_check(q, err, errlen) != 0) return STORE_ERR_BAD_QUERY;
    bool need_vec = q->mode != SEARCH_LEXICAL, need_text = q->mode != SEARCH_VECTOR;
    keep f = {v, q->date_from, q->date_to, -1};
    int st = -2; /* every snapshot topic */
    if (q->topic != NULL) {
        int t = view_find_topic(v, q->topic);
        if (t < 0) return 0;
        f.gtopic = v->topic_gidx[t];
        st = snap_find_topic(v->ep->snap, q->topic); /* -1: a topic of live passages only */
    }
    if (v->n_passages == 0) return 0;

    int depth = fusion_depth(q);
    scored *va = xmalloc((size_t)depth * sizeof *va), *la = xmalloc((size_t)depth * sizeof *la);
    int nv = need_vec ? vector_ids(v, q, st, &f, depth, va) : 0;
    int nl = need_text ? lexical_ids(v, q, st, &f, depth, la) : 0;
    int n = STORE_ERR_ANALYZER;
    if (nl < 0) {
        seterr(err, errlen, "cannot make the BM25 analyzer (libstemmer without English?)");
        goto done;
    }
    /* View ids tie in id order (fusion's default). */
    n = fusion_run(q, va, nv, la, nl, &(fusion_keys){.article = article_of, .ctx = (void *)v}, hits);
done:
    free(va);
    free(la);
    return n;
}
