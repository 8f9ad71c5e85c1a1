/* corpus — see corpus.h. */
#include "ingest/corpus.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ingest/clean_text.h"
#include "ingest/csv_reader.h"
#include "ingest/news_date.h"
#include "obs/log.h"
#include "util/util.h"

typedef struct loader {
    corpus *c;
    size_t cap, problems_cap;
    /* open-addressing set of article indices keyed by a hash of the text */
    long *slots;
    size_t nslots;
} loader;

static uint64_t hash_text(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void add_problem(loader *l, long line, const char *reason) {
    corpus *c = l->c;
    if (c->nproblems == l->problems_cap) {
        l->problems_cap = l->problems_cap ? l->problems_cap * 2 : 8;
        c->problems = xrealloc(c->problems, l->problems_cap * sizeof *c->problems);
    }
    c->problems[c->nproblems++] = (corpus_problem){line, xstrdup(reason)};
    log_fields(LOG_WARN, "malformed CSV row skipped",
               (log_field[]){LOG_INT("line", line), LOG_STR("reason", reason)}, 2);
}

static void on_bad(long line, const char *reason, void *ctx) { add_problem(ctx, line, reason); }

static void grow_slots(loader *l) {
    size_t n = l->nslots ? l->nslots * 2 : 4096;
    long *slots = xmalloc(n * sizeof *slots);
    for (size_t i = 0; i < n; i++) slots[i] = -1;
    for (size_t i = 0; i < l->nslots; i++) {
        long a = l->slots[i];
        if (a < 0) continue;
        const article *art = &l->c->articles[a];
        size_t h = (size_t)hash_text(art->text, art->text_len) & (n - 1);
        while (slots[h] >= 0) h = (h + 1) & (n - 1);
        slots[h] = a;
    }
    free(l->slots);
    l->slots = slots;
    l->nslots = n;
}

/* The index of an earlier article with this text, or -1 after recording idx. */
static long find_or_insert(loader *l, long idx) {
    if ((size_t)(l->c->count) * 2 >= l->nslots) grow_slots(l);
    const article *art = &l->c->articles[idx];
    size_t h = (size_t)hash_text(art->text, art->text_len) & (l->nslots - 1);
    while (l->slots[h] >= 0) {
        const article *o = &l->c->articles[l->slots[h]];
        if (o->text_len == art->text_len && !memcmp(o->text, art->text, art->text_len))
            return l->slots[h];
        h = (h + 1) & (l->nslots - 1);
    }
    l->slots[h] = idx;
    return -1;
}

static void on_row(const csv_row *row, void *ctx) {
    loader *l = ctx;
    corpus *c = l->c;
    char reason[300];
    char iso[11];
    if (news_date_parse(row->date, row->date_len, iso, reason, sizeof reason) < 0) {
        add_problem(l, row->line, reason);
        return;
    }
    const char *t = row->topic;
    size_t tn = row->topic_len;
    while (tn && (*t == ' ' || *t == '\t')) t++, tn--;
    while (tn && (t[tn - 1] == ' ' || t[tn - 1] == '\t')) tn--;
    if (!tn) {
        add_problem(l, row->line, "empty NewsType");
        return;
    }
    if (memchr(t, '\0', tn)) { /* the topic is kept as a C string: it would be cut short */
        add_problem(l, row->line, "NewsType contains a NUL byte");
        return;
    }
    size_t text_len;
    char *text = clean_text(row->article, row->article_len, &text_len);
    if (!text_len) {
        free(text);
        add_problem(l, row->line, "no article text (empty after removing markup)");
        return;
    }
    if (c->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        c->articles = xrealloc(c->articles, l->cap * sizeof *c->articles);
    }
    article *a = &c->articles[c->count];
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%ld", row->index);
    a->line = row->line;
    a->text = text;
    a->text_len = text_len;
    a->heading = clean_text(row->heading, row->heading_len, NULL);
    memcpy(a->date, iso, sizeof a->date);
    a->topic = xstrndup(t, tn);
    for (char *p = a->topic; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    a->duplicate_of = -1;
    long idx = (long)c->count++;
    long first = find_or_insert(l, idx);
    if (first >= 0) {
        a->duplicate_of = first;
        c->duplicates++;
    }
}

static int load(corpus *c, const char *path, const char *data, size_t len, char *err,
                size_t errlen) {
    memset(c, 0, sizeof *c);
    loader l = {.c = c};
    int rc = path ? csv_read_file(path, on_row, on_bad, &l, NULL, err, errlen)
                  : csv_read_buffer(data, len, on_row, on_bad, &l, NULL, err, errlen);
    free(l.slots);
    return rc;
}

int corpus_load(const char *path, corpus *c, char *err, size_t errlen) {
    return load(c, path, NULL, 0, err, errlen);
}

int corpus_load_buffer(const char *data, size_t len, corpus *c, char *err, size_t errlen) {
    return load(c, NULL, data, len, err, errlen);
}

void corpus_free(corpus *c) {
    for (size_t i = 0; i < c->count; i++) {
        free(c->articles[i].text);
        free(c->articles[i].heading);
        free(c->articles[i].topic);
    }
    free(c->articles);
    for (size_t i = 0; i < c->nproblems; i++) free(c->problems[i].reason);
    free(c->problems);
    memset(c, 0, sizeof *c);
}
