/* csv_reader — see csv_reader.h. */
#include "ingest/csv_reader.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ingest/cp1252.h"
#include "util/buf.h"
#include "util/util.h"

enum { COL_ARTICLE, COL_DATE, COL_HEADING, COL_TOPIC, NCOLS };
static const char *const column_names[NCOLS] = {"Article", "Date", "Heading", "NewsType"};

typedef struct reader {
    buf *fields; /* the current record's fields */
    int nfields, cap;
    bool have_header;
    int header_fields; /* fields every record must have */
    int col[NCOLS];    /* field index of each needed column */
    bool in_record;    /* a record has started and not ended */
    long record_line, line, index;
    csv_row_fn on_row;
    csv_bad_row_fn on_bad;
    void *ctx;
    csv_stats stats;
    bool fatal;
    char *err;
    size_t errlen;
} reader;

static void bad_row(reader *r, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad_row(reader *r, long line, const char *fmt, ...) {
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    r->stats.bad_rows++;
    r->index++;
    if (r->on_bad) r->on_bad(line, reason, r->ctx);
}

static void on_field(void *data, size_t len, void *ctx) {
    reader *r = ctx;
    if (r->nfields == r->cap) {
        int ncap = r->cap ? r->cap * 2 : 8;
        r->fields = xrealloc(r->fields, (size_t)ncap * sizeof *r->fields);
        for (int i = r->cap; i < ncap; i++) r->fields[i] = (buf)BUF_INIT;
        r->cap = ncap;
    }
    buf *f = &r->fields[r->nfields++];
    buf_clear(f);
    buf_append(f, data ? data : "", data ? len : 0);
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

static void take_header(reader *r) {
    for (int c = 0; c < NCOLS; c++) r->col[c] = -1;
    for (int i = 0; i < r->nfields; i++) {
        const char *name = r->fields[i].data;
        size_t n = r->fields[i].len;
        trim(&name, &n);
        for (int c = 0; c < NCOLS; c++)
            if (r->col[c] < 0 && strlen(column_names[c]) == n && !strncasecmp(name, column_names[c], n))
                r->col[c] = i;
    }
    for (int c = 0; c < NCOLS; c++) {
        if (r->col[c] >= 0) continue;
        buf found = BUF_INIT;
        for (int i = 0; i < r->nfields; i++) {
            if (i) buf_puts(&found, ", ");
            buf_append(&found, r->fields[i].data, r->fields[i].len);
        }
        seterr(r->err, r->errlen,
               "CSV header (line %ld) has no column '%s'; it needs Article, Date, Heading and "
               "NewsType, found: %s",
               r->record_line, column_names[c], found.len ? found.data : "(nothing)");
        buf_free(&found);
        r->fatal = true;
        return;
    }
    r->header_fields = r->nfields;
    r->have_header = true;
}

static void on_record(int term, void *ctx) {
    (void)term;
    reader *r = ctx;
    r->in_record = false;
    int n = r->nfields;
    r->nfields = 0;
    if (r->fatal) return;
    /* A whitespace-only line reaches here as one empty field: it is not a record. */
    if (n == 1 && r->fields[0].len == 0) return;
    if (!r->have_header) {
        r->nfields = n;
        take_header(r);
        r->nfields = 0;
        return;
    }
    if (n != r->header_fields) {
        bad_row(r, r->record_line, "expected %d fields as in the header, found %d", r->header_fields,
                n);
        return;
    }
    csv_row row = {.line = r->record_line, .index = r->index++};
    buf *f = r->fields;
    row.article = f[r->col[COL_ARTICLE]].data ? f[r->col[COL_ARTICLE]].data : "";
    row.article_len = f[r->col[COL_ARTICLE]].len;
    row.date = f[r->col[COL_DATE]].data ? f[r->col[COL_DATE]].data : "";
    row.date_len = f[r->col[COL_DATE]].len;
    row.heading = f[r->col[COL_HEADING]].data ? f[r->col[COL_HEADING]].data : "";
    row.heading_len = f[r->col[COL_HEADING]].len;
    row.topic = f[r->col[COL_TOPIC]].data ? f[r->col[COL_TOPIC]].data : "";
    row.topic_len = f[r->col[COL_TOPIC]].len;
    r->stats.rows++;
    if (r->on_row) r->on_row(&row, r->ctx);
}

static bool blank_line(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n' && s[i] != ' ' && s[i] != '\t') return false;
    return true;
}

static int parse_utf8(reader *r, const char *data, size_t len) {
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return seterr(r->err, r->errlen, "libcsv: cannot initialise the parser");
    size_t pos = 0;
    while (pos < len && !r->fatal) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) + 1 : len;
        const char *lp = data + pos;
        size_t ln = end - pos;
        r->line++;
        if (!r->in_record && !blank_line(lp, ln)) {
            r->in_record = true;
            r->record_line = r->line;
        }
        if (csv_parse(&p, lp, ln, on_field, on_record, r) != ln) {
            /* Strict mode stopped at bad quoting: report the record, restart
             * the parser on the next line. */
            bad_row(r, r->record_line, "bad quoting (%s) on line %ld", csv_strerror(csv_error(&p)),
                    r->line);
            csv_free(&p);
            csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
            r->nfields = 0;
            r->in_record = false;
        }
        pos = end;
    }
    if (!r->fatal && csv_fini(&p, on_field, on_record, r) != 0) {
        bad_row(r, r->record_line, "quoted field opened here is never closed (runs to end of file)");
        r->nfields = 0;
    }
    csv_free(&p);
    r->stats.lines = r->line;
    if (!r->fatal && !r->have_header)
        return seterr(r->err, r->errlen, "CSV is empty: no header line");
    return r->fatal ? -1 : 0;
}

int csv_read_buffer(const char *data, size_t len, csv_row_fn on_row, csv_bad_row_fn on_bad,
                    void *ctx, csv_stats *stats, char *err, size_t errlen) {
    reader r = {.on_row = on_row, .on_bad = on_bad, .ctx = ctx, .err = err, .errlen = errlen};
    int rc;
    /* A byte-order mark is dropped; it does not vouch for the bytes after it
     * (parse_utf8 passes them through), so they are checked like any file. */
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) data += 3, len -= 3;
    if (utf8_valid(data, len)) {
        r.stats.was_utf8 = true;
        rc = parse_utf8(&r, data, len);
    } else {
        char *utf8 = xmalloc(3 * len + 1);
        size_t n = cp1252_to_utf8(data, len, utf8);
        rc = parse_utf8(&r, utf8, n);
        free(utf8);
    }
    for (int i = 0; i < r.cap; i++) buf_free(&r.fields[i]);
    free(r.fields);
    if (stats) *stats = r.stats;
    return rc;
}

int csv_read_file(const char *path, csv_row_fn on_row, csv_bad_row_fn on_bad, void *ctx,
                  csv_stats *stats, char *err, size_t errlen) {
    size_t len;
    char *data = read_file(path, &len, err, errlen);
    if (!data) return -1;
    int rc = csv_read_buffer(data, len, on_row, on_bad, ctx, stats, err, errlen);
    free(data);
    return rc;
}
