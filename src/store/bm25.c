/* bm25 — building and querying the BM25F inverted index; see bm25.h.
 *
 * Building interns every term in an open-addressing hash table (FNV-1a) and
 * keeps one growable posting list per term; a document's terms are sorted by
 * term id and run-length counted per field, so postings come out already
 * row-ordered.
 * Querying accumulates scores in a dense array over the row range (cheap
 * for the range sizes of a passage store) and keeps the top k with a heap. */
#include "store/bm25.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "util/util.h"

#define BM25_MAGIC 0x46324d42u /* "BM2F" */
#define BM25_HEADER_WORDS 8
#define TF_BODY_MASK 0xFFFFFFu
#define TF_HEADING_SHIFT 24
#define TF_HEADING_MAX 255u

typedef struct posting {
    uint32_t doc, tf;
} posting;

typedef struct term_list {
    posting *p;
    uint32_t len, cap;
    uint32_t off, wlen; /* the word in the builder's chars */
} term_list;

struct bm25_builder {
    analyzer *an;
    bm25_params params;
    bm25_field field; /* of the text being added */
    buf chars;
    term_list *terms;
    uint32_t n_terms, terms_cap;
    uint32_t *slots; /* hash table of term index + 1; 0 = empty */
    uint32_t slots_cap;
    uint32_t *doc_terms; /* term id << 1 | is_heading, for the open document */
    uint32_t doc_len, doc_cap;
    uint32_t body_len;   /* body terms of the open document */
    uint32_t *doclen;
    uint32_t n_docs, docs_cap;
    uint64_t total_len;
};

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

bm25_builder *bm25_builder_new(bm25_params params) {
    analyzer *an = analyzer_new();
    if (an == NULL) return NULL;
    bm25_builder *b = xcalloc(1, sizeof *b);
    b->an = an;
    b->params = params;
    b->slots_cap = 1024;
    b->slots = xcalloc(b->slots_cap, sizeof *b->slots);
    return b;
}

static void rehash(bm25_builder *b) {
    uint32_t cap = b->slots_cap * 2;
    uint32_t *slots = xcalloc(cap, sizeof *slots);
    for (uint32_t t = 0; t < b->n_terms; t++) {
        uint64_t h = fnv1a(b->chars.data + b->terms[t].off, b->terms[t].wlen);
        uint32_t i = (uint32_t)h & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = t + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->slots_cap = cap;
}

static uint32_t intern(bm25_builder *b, const char *w, size_t n) {
    uint64_t h = fnv1a(w, n);
    uint32_t i = (uint32_t)h & (b->slots_cap - 1);
    while (b->slots[i]) {
        term_list *t = &b->terms[b->slots[i] - 1];
        if (t->wlen == n && memcmp(b->chars.data + t->off, w, n) == 0) return b->slots[i] - 1;
        i = (i + 1) & (b->slots_cap - 1);
    }
    if (b->n_terms == b->terms_cap) {
        b->terms_cap = b->terms_cap ? b->terms_cap * 2 : 1024;
        b->terms = xrealloc(b->terms, (size_t)b->terms_cap * sizeof *b->terms);
    }
    uint32_t id = b->n_terms++;
    b->terms[id] = (term_list){.off = (uint32_t)b->chars.len, .wlen = (uint32_t)n};
    buf_append(&b->chars, w, n);
    b->slots[i] = id + 1;
    if ((uint64_t)b->n_terms * 2 > b->slots_cap) rehash(b);
    return id;
}

static void on_term(const char *w, size_t n, void *ctx) {
    bm25_builder *b = ctx;
    assert(n > 0 && n <= ANALYZER_MAX_TERM);
    uint32_t id = intern(b, w, n);
    if (b->doc_len == b->doc_cap) {
        b->doc_cap = b->doc_cap ? b->doc_cap * 2 : 256;
        b->doc_terms = xrealloc(b->doc_terms, (size_t)b->doc_cap * sizeof *b->doc_terms);
    }
    b->doc_terms[b->doc_len++] = id << 1 | (b->field == BM25_HEADING);
    if (b->field == BM25_BODY) b->body_len++;
}

void bm25_builder_add_text(bm25_builder *b, bm25_field field, const char *text, size_t len) {
    b->field = field;
    if (text != NULL && len > 0) analyzer_terms(b->an, text, len, on_term, b);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void bm25_builder_end_doc(bm25_builder *b) {
    uint32_t doc = b->n_docs;
    if (b->n_docs == b->docs_cap) {
        b->docs_cap = b->docs_cap ? b->docs_cap * 2 : 1024;
        b->doclen = xrealloc(b->doclen, (size_t)b->docs_cap * sizeof *b->doclen);
    }
    b->doclen[b->n_docs++] = b->body_len;
    b->total_len += b->body_len;
    /* Sorted, a term's body entries (low bit 0) come just before its heading ones. */
    if (b->doc_len > 1) qsort(b->doc_terms, b->doc_len, sizeof *b->doc_terms, cmp_u32);
    for (uint32_t i = 0; i < b->doc_len;) {
        uint32_t term = b->doc_terms[i] >> 1, body = 0, heading = 0, j = i;
        for (; j < b->doc_len && b->doc_terms[j] >> 1 == term; j++) {
            if (b->doc_terms[j] & 1) heading++;
            else body++;
        }
        if (body > TF_BODY_MASK) body = TF_BODY_MASK;
        if (heading > TF_HEADING_MAX) heading = TF_HEADING_MAX;
        term_list *t = &b->terms[term];
        if (t->len == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 4;
            t->p = xrealloc(t->p, (size_t)t->cap * sizeof *t->p);
        }
        t->p[t->len++] = (posting){doc, body | heading << TF_HEADING_SHIFT};
        i = j;
    }
    b->doc_len = 0;
    b->body_len = 0;
}

/* Stores merge on their own threads: the sort takes its builder as qsort_r's context. */
static int cmp_term(const void *a, const void *b, void *ctx) {
    const bm25_builder *sort_ctx = ctx;
    const term_list *x = &sort_ctx->terms[*(const uint32_t *)a];
    const term_list *y = &sort_ctx->terms[*(const uint32_t *)b];
    uint32_t n = x->wlen < y->wlen ? x->wlen : y->wlen;
    int c = memcmp(sort_ctx->chars.data + x->off, sort_ctx->chars.data + y->off, n);
    if (c != 0) return c;
    return (x->wlen > y->wlen) - (x->wlen < y->wlen);
}

static void put_u32(buf *out, uint32_t x) { buf_append(out, &x, 4); }

static void put_f32(buf *out, float x) { buf_append(out, &x, 4); }

void bm25_builder_finish(bm25_builder *b, buf *out) {
    uint32_t *order = xmalloc(((size_t)b->n_terms + 1) * sizeof *order);
    for (uint32_t i = 0; i < b->n_terms; i++) order[i] = i;
    qsort_r(order, b->n_terms, sizeof *order, cmp_term, b);

    uint64_t n_post = 0;
    for (uint32_t i = 0; i < b->n_terms; i++) n_post += b->terms[i].len;

    put_u32(out, BM25_MAGIC);
    put_u32(out, b->n_docs);
    put_u32(out, b->n_terms);
    put_u32(out, (uint32_t)n_post);
    put_f32(out, b->n_docs ? (float)((double)b->total_len / b->n_docs) : 0.0f);
    put_f32(out, b->params.k1);
    put_f32(out, b->params.b);
    put_f32(out, b->params.w_heading);
    uint32_t off = 0;
    for (uint32_t i = 0; i < b->n_terms; i++) {
        put_u32(out, off);
        off += b->terms[order[i]].wlen;
    }
    put_u32(out, off);
    off = 0;
    for (uint32_t i = 0; i < b->n_terms; i++) {
        put_u32(out, off);
        off += b->terms[order[i]].len;
    }
    put_u32(out, off);
    if (b->n_docs > 0) buf_append(out, b->doclen, (size_t)b->n_docs * 4);
    for (uint32_t i = 0; i < b->n_terms; i++) {
        const term_list *t = &b->terms[order[i]];
        for (uint32_t j = 0; j < t->len; j++) put_u32(out, t->p[j].doc);
    }
    for (uint32_t i = 0; i < b->n_terms; i++) {
        const term_list *t = &b->terms[order[i]];
        for (uint32_t j = 0; j < t->len; j++) put_u32(out, t->p[j].tf);
    }
    size_t chars_start = out->len;
    for (uint32_t i = 0; i < b->n_terms; i++)
        buf_append(out, b->chars.data + b->terms[order[i]].off, b->terms[order[i]].wlen);
    while ((out->len - chars_start) % 4) buf_putc(out, 0);

    free(order);
    for (uint32_t i = 0; i < b->n_terms; i++) free(b->terms[i].p);
    free(b->terms);
    free(b->slots);
    free(b->doc_terms);
    free(b->doclen);
    buf_free(&b->chars);
    analyzer_free(b->an);
    free(b);
}

int bm25_view_open(bm25_view *v, const void *blob, size_t len, uint32_t n_docs, char *err,
                   size_t errlen) {
    const uint32_t *w = blob;
    if (len < BM25_HEADER_WORDS * 4 || w[0] != BM25_MAGIC)
        return seterr(err, errlen, "BM25 index: bad header");
    v->n_docs = w[1];
    v->n_terms = w[2];
    v->n_postings = w[3];
    memcpy(&v->avgdl, &w[4], 4);
    memcpy(&v->params.k1, &w[5], 4);
    memcpy(&v->params.b, &w[6], 4);
    memcpy(&v->params.w_heading, &w[7], 4);
    if (v->n_docs != n_docs) return seterr(err, errlen, "BM25 index: document count mismatch");
    /* The scoring divides by k1 + tf and by 1 - b + b * len / avgdl. */
    const bm25_params *p = &v->params;
    if (!(p->k1 > 0 && p->k1 < 100) || !(p->b >= 0 && p->b <= 1) ||
        !(p->w_heading >= 0 && p->w_heading < 1000) || !(v->avgdl >= 0 && isfinite(v->avgdl)))
        return seterr(err, errlen, "BM25 index: bad scoring parameters");
    size_t words = BM25_HEADER_WORDS + 2 * ((size_t)v->n_terms + 1) + v->n_docs +
                   2 * (size_t)v->n_postings;
    if (words * 4 > len) return seterr(err, errlen, "BM25 index: truncated");
    v->term_off = w + BM25_HEADER_WORDS;
    v->post_off = v->term_off + v->n_terms + 1;
    v->doclen = v->post_off + v->n_terms + 1;
    v->post_doc = v->doclen + v->n_docs;
    v->post_tf = v->post_doc + v->n_postings;
    v->chars = (const char *)(v->post_tf + v->n_postings);
    size_t chars_len = len - words * 4;
    if (v->term_off[v->n_terms] > chars_len || v->post_off[v->n_terms] != v->n_postings)
        return seterr(err, errlen, "BM25 index: inconsistent offsets");
    for (uint32_t t = 0; t < v->n_terms; t++)
        if (v->term_off[t] > v->term_off[t + 1] || v->post_off[t] > v->post_off[t + 1])
            return seterr(err, errlen, "BM25 index: inconsistent offsets");
    for (uint32_t i = 0; i < v->n_postings; i++)
        if (v->post_doc[i] >= v->n_docs) return seterr(err, errlen, "BM25 index: bad posting");
    /* bm25_search bisects each term's postings for a topic's first row and
     * indexes its accumulator by row - first: unsorted postings would send
     * it below the topic's rows. */
    for (uint32_t t = 0; t < v->n_terms; t++)
        for (uint32_t i = v->post_off[t] + 1; i < v->post_off[t + 1]; i++)
            if (v->post_doc[i] <= v->post_doc[i - 1])
                return seterr(err, errlen, "BM25 index: postings out of order");
    return 0;
}

int64_t bm25_find_term(const bm25_view *v, const char *w, size_t n) {
    uint32_t lo = 0, hi = v->n_terms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *t = v->chars + v->term_off[mid];
        size_t tn = v->term_off[mid + 1] - v->term_off[mid];
        int c = memcmp(t, w, tn < n ? tn : n);
        if (c == 0) c = (tn > n) - (tn < n);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

typedef struct query_terms {
    const bm25_view *v;
    uint32_t *ids;
    int n, cap;
} query_terms;

static void on_query_term(const char *w, size_t n, void *ctx) {
    query_terms *q = ctx;
    int64_t t = bm25_find_term(q->v, w, n);
    if (t < 0) return;
    for (int i = 0; i < q->n; i++)
        if (q->ids[i] == (uint32_t)t) return;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->ids = xrealloc(q->ids, (size_t)q->cap * sizeof *q->ids);
    }
    q->ids[q->n++] = (uint32_t)t;
}

int bm25_search(const bm25_view *v, const bm25_params *params, analyzer *an, const char *text,
                size_t len, uint32_t lo, uint32_t hi, bm25_row_filter keep, const void *keep_ctx,
                int k, scored *out) {
    if (hi > v->n_docs) hi = v->n_docs;
    if (lo >= hi || k <= 0 || text == NULL) return 0;
    const bm25_params *pr = params ? params : &v->params;
    query_terms q = {.v = v};
    analyzer_terms(an, text, len, on_query_term, &q);
    if (q.n == 0) {
        free(q.ids);
        return 0;
    }
    uint32_t span = hi - lo;
    float *acc = xcalloc(span, sizeof *acc);
    uint32_t *touched = NULL;
    uint32_t n_touched = 0, touched_cap = 0;
    float n_docs = (float)v->n_docs;
    float avgdl = v->avgdl > 0 ? v->avgdl : 1.0f;
    float k1 = pr->k1, bb = pr->b, wh = pr->w_heading;
    for (int i = 0; i < q.n; i++) {
        uint32_t t = q.ids[i], a = v->post_off[t], z = v->post_off[t + 1];
        float df = (float)(z - a);
        float idf = logf(1.0f + (n_docs - df + 0.5f) / (df + 0.5f));
        /* First posting at or after lo. */
        uint32_t l = a, r = z;
        while (l < r) {
            uint32_t mid = l + (r - l) / 2;
            if (v->post_doc[mid] < lo)
                l = mid + 1;
            else
                r = mid;
        }
        for (uint32_t p = l; p < z && v->post_doc[p] < hi; p++) {
            uint32_t d = v->post_doc[p];
            uint32_t packed = v->post_tf[p];
            uint32_t body = packed & TF_BODY_MASK;
            float tf = wh * (float)(packed >> TF_HEADING_SHIFT);
            if (body) tf += (float)body / (1.0f - bb + bb * (float)v->doclen[d] / avgdl);
            if (tf <= 0.0f) continue; /* heading-only posting with w_heading 0 */
            float s = idf * tf * (k1 + 1.0f) / (tf + k1);
            if (acc[d - lo] == 0.0f) {
                if (n_touched == touched_cap) {
                    touched_cap = touched_cap ? touched_cap * 2 : 256;
                    touched = xrealloc(touched, (size_t)touched_cap * sizeof *touched);
                }
                touched[n_touched++] = d;
            }
            acc[d - lo] += s;
        }
    }
    heap h = {.items = xmalloc((size_t)k * sizeof(scored)), .len = 0, .cap = k};
    for (uint32_t i = 0; i < n_touched; i++)
        if (keep == NULL || keep(touched[i], keep_ctx))
            topk_offer(&h, (scored){acc[touched[i] - lo], touched[i]});
    int n = topk_drain(&h, out);
    free(h.items);
    free(acc);
    free(touched);
    free(q.ids);
    return n;
}
