/* metrics — the Prometheus registry (see metrics.h).
 *
 * Design:
 * - The registry is a list of families in registration order (the order
 *   /metrics shows them in), guarded by one mutex that only registration,
 *   rendering and reset take.
 * - A family keeps its series in a fixed table of SERIES_SLOTS chains. Chains
 *   are append-only and every link is published with a release store, so
 *   metric_with() walks them without a lock; only creating a series takes the
 *   family's mutex (and re-checks the chain under it). A request path that
 *   looks up its series each time therefore costs a hash and a few compares,
 *   never a lock, once its label combination exists.
 * - Values are doubles kept as their bit patterns in atomic 64-bit words and
 *   updated with compare-and-swap; bucket and observation counts are plain
 *   atomic integers. A histogram keeps per-bucket (not cumulative) counts and
 *   renders the running sum, with _count taken as the +Inf bucket so the two
 *   always agree within one scrape.
 * - Series are never freed before metrics_reset(), so pointers handed out
 *   stay valid for the life of the process.
 * Numbers are written the way the Python client writes them ("1.0", "0.25",
 * "+Inf"), so dashboards built against the Python system see the same le
 * labels.
 */
#include "obs/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define SERIES_SLOTS 64

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_SUMMARY } metric_kind;

static const char *const kind_names[] = {"counter", "gauge", "histogram", "summary"};

struct metric_series {
    metric *family;
    uint64_t hash;
    char **label_values;
    _Atomic uint64_t value_bits; /* counter/gauge value, or histogram/summary sum */
    _Atomic uint64_t count;      /* summary observations */
    _Atomic uint64_t *buckets;   /* histogram: nbuckets + 1 (the last is +Inf) */
    metric_series *_Atomic next_in_slot;
    metric_series *next_in_order; /* creation order, for rendering */
};

struct metric {
    char *name;
    char *help;
    metric_kind kind;
    int nlabels;
    char **label_names;
    double *bounds;
    int nbounds;
    pthread_mutex_t lock; /* creation of series; rendering */
    metric_series *_Atomic slots[SERIES_SLOTS];
    metric_series *first, *last;
    metric *next;
};

typedef struct collector {
    metrics_collector_fn fn;
    void *ctx;
    struct collector *next;
} collector;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static metric *families_first, *families_last;
static collector *collectors_first, *collectors_last;

static uint64_t double_bits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double bits_double(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void atomic_add_double(_Atomic uint64_t *cell, double v) {
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old, double_bits(bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

static void fatal_misuse(const char *what, const char *name) {
    fprintf(stderr, "metrics: %s: %s\n", what, name);
    abort();
}

static int valid_name(const char *s, int allow_colon) {
    if (!s || !*s) return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

/* FNV-1a over the label values, each terminated by a NUL so ("ab","c") and
 * ("a","bc") differ. */
static uint64_t hash_values(int n, const char *const *values) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        for (const unsigned char *p = (const unsigned char *)v;; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
            if (!*p) break;
        }
    }
    return h;
}

static int same_values(const metric_series *s, int n, const char *const *values) {
    for (int i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        if (strcmp(s->label_values[i], v) != 0) return 0;
    }
    return 1;
}

static metric_series *find_in_slot(metric_series *s, uint64_t h, int n, const char *const *values) {
    for (; s; s = atomic_load_explicit(&s->next_in_slot, memory_order_acquire))
        if (s->hash == h && same_values(s, n, values)) return s;
    return NULL;
}

static metric_series *series_new(metric *m, uint64_t h, const char *const *values) {
    metric_series *s = xcalloc(1, sizeof *s);
    s->family = m;
    s->hash = h;
    if (m->nlabels > 0) {
        s->label_values = xcalloc((size_t)m->nlabels, sizeof(char *));
        for (int i = 0; i < m->nlabels; i++) s->label_values[i] = xstrdup(values[i] ? values[i] : "");
    }
    atomic_init(&s->value_bits, double_bits(0.0));
    atomic_init(&s->count, 0);
    if (m->kind == KIND_HISTOGRAM) {
        s->buckets = xcalloc((size_t)m->nbounds + 1, sizeof *s->buckets);
        for (int i = 0; i <= m->nbounds; i++) atomic_init(&s->buckets[i], 0);
    }
    atomic_init(&s->next_in_slot, NULL);
    return s;
}

metric_series *metric_with(metric *m, const char *const *label_values) {
    static const char *const none[1] = {""};
    const char *const *values = m->nlabels > 0 ? label_values : none;
    if (m->nlabels > 0 && !label_values) fatal_misuse("label values missing for", m->name);
    uint64_t h = hash_values(m->nlabels, values);
    metric_series *_Atomic *slot = &m->slots[h % SERIES_SLOTS];
    metric_series *s = find_in_slot(atomic_load_explicit(slot, memory_order_acquire), h,
                                    m->nlabels, values);
    if (s) return s;

    pthread_mutex_lock(&m->lock);
    metric_series *head = atomic_load_explicit(slot, memory_order_acquire);
    s = find_in_slot(head, h, m->nlabels, values);
    if (!s) {
        s = series_new(m, h, values);
        atomic_store_explicit(&s->next_in_slot, head, memory_order_relaxed);
        if (m->last) m->last->next_in_order = s;
        else m->first = s;
        m->last = s;
        atomic_store_explicit(slot, s, memory_order_release);
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

static metric *family_find(const char *name) {
    for (metric *m = families_first; m; m = m->next)
        if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

static metric *family_register(metric_kind kind, const char *name, const char *help,
                               const double *bounds, int nbounds, int nlabels,
                               const char *const *label_names) {
    if (!valid_name(name, 1)) fatal_misuse("invalid metric name", name ? name : "(null)");
    if (nlabels < 0 || (nlabels > 0 && !label_names)) fatal_misuse("bad label list for", name);
    for (int i = 0; i < nlabels; i++) {
        const char *l = label_names[i];
        if (!valid_name(l, 0) || strncmp(l, "__", 2) == 0 ||
            (kind == KIND_HISTOGRAM && strcmp(l, "le") == 0) ||
            (kind == KIND_SUMMARY && strcmp(l, "quantile") == 0))
            fatal_misuse("invalid label name", l ? l : "(null)");
    }
    for (int i = 0; i < nbounds; i++)
        if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            fatal_misuse("histogram buckets must ascend", name);

    pthread_mutex_lock(&registry_lock);
    metric *m = family_find(name);
    if (m) {
        pthread_mutex_unlock(&registry_lock);
        if (m->kind != kind || m->nlabels != nlabels)
            fatal_misuse("registered again with another type or labels", name);
        return m;
    }
    m = xcalloc(1, sizeof *m);
    m->name = xstrdup(name);
    m->help = xstrdup(help ? help : "");
    m->kind = kind;
    m->nlabels = nlabels;
    if (nlabels > 0) {
        m->label_names = xcalloc((size_t)nlabels, sizeof(char *));
        for (int i = 0; i < nlabels; i++) m->label_names[i] = xstrdup(label_names[i]);
    }
    /* +Inf is implied; drop it if the caller listed it. */
    if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0) nbounds--;
    if (nbounds > 0) {
        m->bounds = xmalloc((size_t)nbounds * sizeof *m->bounds);
        memcpy(m->bounds, bounds, (size_t)nbounds * sizeof *m->bounds);
    }
    m->nbounds = nbounds;
    pthread_mutex_init(&m->lock, NULL);
    for (int i = 0; i < SERIES_SLOTS; i++) atomic_init(&m->slots[i], NULL);
    if (families_last) families_last->next = m;
    else families_first = m;
    families_last = m;
    pthread_mutex_unlock(&registry_lock);
    /* An unlabelled metric has its one series from the start (it shows as 0). */
    if (nlabels == 0) metric_with(m, NULL);
    return m;
}

metric *metric_counter(const char *name, const char *help, int nlabels,
                       const char *const *label_names) {
    return family_register(KIND_COUNTER, name, help, NULL, 0, nlabels, label_names);
}

metric *metric_gauge(const char *name, const char *help, int nlabels,
                     const char *const *label_names) {
    return family_register(KIND_GAUGE, name, help, NULL, 0, nlabels, label_names);
}

metric *metric_histogram(const char *name, const char *help, const double *buckets,
                         int nbuckets, int nlabels, const char *const *label_names) {
    return family_register(KIND_HISTOGRAM, name, help, buckets, nbuckets, nlabels, label_names);
}

metric *metric_summary(const char *name, const char *help, int nlabels,
                       const char *const *label_names) {
    return family_register(KIND_SUMMARY, name, help, NULL, 0, nlabels, label_names);
}

void metric_add(metric_series *s, double v) {
    metric_kind k = s->family->kind;
    if (k != KIND_COUNTER && k != KIND_GAUGE) fatal_misuse("metric_add on", s->family->name);
    /* A counter only goes up; a negative increment is a caller bug that would
     * look like a restart to rate(), so it is ignored. */
    if (k == KIND_COUNTER && !(v >= 0)) return;
    atomic_add_double(&s->value_bits, v);
}

void metric_inc(metric_series *s) { metric_add(s, 1.0); }

void metric_set(metric_series *s, double v) {
    if (s->family->kind != KIND_GAUGE) fatal_misuse("metric_set on", s->family->name);
    atomic_store_explicit(&s->value_bits, double_bits(v), memory_order_relaxed);
}

void metric_observe(metric_series *s, double v) {
    metric *m = s->family;
    if (m->kind == KIND_HISTOGRAM) {
        /* Buckets are few (at most a few dozen): a linear scan beats a
         * binary search's branch mispredictions at this size. */
        int i = 0;
        while (i < m->nbounds && !(v <= m->bounds[i])) i++;
        atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
        atomic_add_double(&s->value_bits, v);
    } else if (m->kind == KIND_SUMMARY) {
        atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
        atomic_add_double(&s->value_bits, v);
    } else {
        fatal_misuse("metric_observe on", m->name);
    }
}

double metric_value(const metric_series *s) {
    return bits_double(atomic_load_explicit(&s->value_bits, memory_order_relaxed));
}

uint64_t metric_count(const metric_series *s) {
    const metric *m = s->family;
    if (m->kind == KIND_SUMMARY) return atomic_load_explicit(&s->count, memory_order_relaxed);
    if (m->kind != KIND_HISTOGRAM) return 0;
    uint64_t n = 0;
    for (int i = 0; i <= m->nbounds; i++)
        n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return n;
}

void metrics_add_collector(metrics_collector_fn fn, void *ctx) {
    pthread_mutex_lock(&registry_lock);
    /* Registering the same collector twice would print its families twice,
     * which Prometheus rejects: the second registration is a no-op. */
    for (collector *c = collectors_first; c; c = c->next) {
        if (c->fn == fn && c->ctx == ctx) {
            pthread_mutex_unlock(&registry_lock);
            return;
        }
    }
    collector *c = xcalloc(1, sizeof *c);
    c->fn = fn;
    c->ctx = ctx;
    if (collectors_last) collectors_last->next = c;
    else collectors_first = c;
    collectors_last = c;
    pthread_mutex_unlock(&registry_lock);
}

/* ---- exposition ---- */

void metrics_write_value(buf *out, double v) {
    if (isnan(v)) {
        buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        buf_puts(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The shortest digits that read back as v, laid out like Python's repr:
     * positional for 1e-4 <= |v| < 1e16, otherwise with an exponent. */
    char tmp[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    int exp10 = atoi(strchr(tmp, 'e') + 1);
    if (v != 0 && (exp10 < -4 || exp10 >= 16)) {
        buf_puts(out, tmp);
        return;
    }
    int decimals = prec - 1 - exp10;
    if (decimals < 1) decimals = 1;
    buf_printf(out, "%.*f", decimals, v);
}

void metrics_write_label_value(buf *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_puts(out, "\\\\"); break;
        case '"': buf_puts(out, "\\\""); break;
        case '\n': buf_puts(out, "\\n"); break;
        default: buf_putc(out, *s);
        }
    }
}

void metrics_write_header(buf *out, const char *name, const char *type, const char *help) {
    buf_printf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\') buf_puts(out, "\\\\");
        else if (*p == '\n') buf_puts(out, "\\n");
        else buf_putc(out, *p);
    }
    buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{labels[,le="bound"]} value */
static void write_sample(buf *out, const metric *m, const metric_series *s, const char *suffix,
                         const double *le, double value) {
    buf_puts(out, m->name);
    buf_puts(out, suffix);
    if (m->nlabels > 0 || le) {
        buf_putc(out, '{');
        for (int i = 0; i < m->nlabels; i++) {
            if (i) buf_putc(out, ',');
            buf_printf(out, "%s=\"", m->label_names[i]);
            metrics_write_label_value(out, s->label_values[i]);
            buf_putc(out, '"');
        }
        if (le) {
            buf_puts(out, m->nlabels > 0 ? ",le=\"" : "le=\"");
            metrics_write_value(out, *le);
            buf_putc(out, '"');
        }
        buf_putc(out, '}');
    }
    buf_putc(out, ' ');
    metrics_write_value(out, value);
    buf_putc(out, '\n');
}

static void render_series(buf *out, const metric *m, metric_series *s) {
    double sum = bits_double(atomic_load_explicit(&s->value_bits, memory_order_relaxed));
    switch (m->kind) {
    case KIND_COUNTER:
    case KIND_GAUGE: write_sample(out, m, s, "", NULL, sum); break;
    case KIND_SUMMARY:
        write_sample(out, m, s, "_count", NULL,
                     (double)atomic_load_explicit(&s->count, memory_order_relaxed));
        write_sample(out, m, s, "_sum", NULL, sum);
        break;
    case KIND_HISTOGRAM: {
        uint64_t cumulative = 0;
        for (int i = 0; i <= m->nbounds; i++) {
            cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            double le = i < m->nbounds ? m->bounds[i] : INFINITY;
            write_sample(out, m, s, "_bucket", &le, (double)cumulative);
        }
        write_sample(out, m, s, "_count", NULL, (double)cumulative);
        write_sample(out, m, s, "_sum", NULL, sum);
        break;
    }
    }
}

void metrics_render(buf *out) {
    pthread_mutex_lock(&registry_lock);
    for (metric *m = families_first; m; m = m->next) {
        metrics_write_header(out, m->name, kind_names[m->kind], m->help);
        pthread_mutex_lock(&m->lock);
        for (metric_series *s = m->first; s; s = s->next_in_order) render_series(out, m, s);
        pthread_mutex_unlock(&m->lock);
    }
    /* Collectors run under the registry lock: they must not register metrics. */
    for (collector *c = collectors_first; c; c = c->next) c->fn(out, c->ctx);
    pthread_mutex_unlock(&registry_lock);
}

static void family_free(metric *m) {
    metric_series *s = m->first;
    while (s) {
        metric_series *next = s->next_in_order;
        for (int i = 0; i < m->nlabels; i++) free(s->label_values[i]);
        free(s->label_values);
        free((void *)s->buckets);
        free(s);
        s = next;
    }
    for (int i = 0; i < m->nlabels; i++) free(m->label_names[i]);
    free(m->label_names);
    free(m->bounds);
    free(m->name);
    free(m->help);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_reset(void) {
    pthread_mutex_lock(&registry_lock);
    metric *m = families_first;
    collector *c = collectors_first;
    families_first = families_last = NULL;
    collectors_first = collectors_last = NULL;
    pthread_mutex_unlock(&registry_lock);
    while (m) {
        metric *next = m->next;
        family_free(m);
        m = next;
    }
    while (c) {
        collector *next = c->next;
        free(c);
        c = next;
    }
}
