/* csv_reader — the news corpus CSV as UTF-8 rows, on libcsv.
 *
 * The file is read whole (5 MB), converted to UTF-8 first (a UTF-8 byte-order
 * mark is dropped; then cp1252 unless the text is valid UTF-8 throughout —
 * cp1252 text with any byte >= 0x80 practically never is), then fed to libcsv one
 * physical line at a time so that every record knows the line it starts on:
 * quoted fields may hold line breaks, and a malformed record is reported with
 * that line number.
 *
 * Columns are found by their header name (case-insensitive, any order; extra
 * columns are ignored). A record with the wrong number of fields, bad quoting
 * (libcsv strict mode: a quote inside an unquoted field or after a closing
 * quote) or an unterminated quote is handed to the bad-row callback, counted,
 * and skipped; the parser is restarted at the next line. Reading never stops
 * at a bad row. Only a missing file or a header without the needed columns is
 * fatal.
 */
#ifndef RAGD_INGEST_CSV_READER_H
#define RAGD_INGEST_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct csv_row {
    long line;  /* physical line (1-based; the header is line 1) where the record starts */
    long index; /* 0-based data record number, header excluded; bad rows take a number too */
    const char *article, *date, *heading, *topic; /* UTF-8, NUL-terminated, owned by the reader */
    size_t article_len, date_len, heading_len, topic_len;
} csv_row;

/* Called for each good row; the strings are valid only during the call. */
typedef void (*csv_row_fn)(const csv_row *row, void *ctx);
/* Called for each malformed record with the line it starts on and why. */
typedef void (*csv_bad_row_fn)(long line, const char *reason, void *ctx);

typedef struct csv_stats {
    long rows;      /* good rows handed to on_row */
    long bad_rows;  /* records handed to on_bad */
    long lines;     /* physical lines in the input */
    bool was_utf8;  /* input was already UTF-8 (no conversion) */
} csv_stats;

/* Parse len bytes of CSV text. Returns 0, or -1 with err set if the header
 * lacks a needed column. stats may be NULL. */
int csv_read_buffer(const char *data, size_t len, csv_row_fn on_row, csv_bad_row_fn on_bad,
                    void *ctx, csv_stats *stats, char *err, size_t errlen);

/* The same for a file. -1 with err set if it cannot be read. */
int csv_read_file(const char *path, csv_row_fn on_row, csv_bad_row_fn on_bad, void *ctx,
                  csv_stats *stats, char *err, size_t errlen);

#endif
