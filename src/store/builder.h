/* builder — the snapshot builder: one store.bin from a list of articles,
 * shared by `ragd ingest`'s commit (articles grouped from ingest.log) and the
 * merge (the live articles of a view). Writes store.bin.tmp, fsyncs it,
 * renames it over store.bin and fsyncs the directory: a crash leaves the old
 * snapshot or the new one. */
#ifndef RAGD_STORE_BUILDER_H
#define RAGD_STORE_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/hnsw.h"

/* A string with its length (log fields are not NUL-terminated). */
typedef struct bstr {
    const char *p;
    size_t n;
} bstr;

typedef struct build_passage {
    bstr text;
    int32_t index;   /* position within its article */
    const void *vec; /* dim floats, possibly unaligned */
    bstr topic;      /* p NULL: the article's (ingest.log passages may differ) */
} build_passage;

typedef struct build_article {
    bstr id, heading, date, topic;
    bstr text;       /* the whole article; p NULL: not kept */
    size_t n;        /* passages, >= 1 */
    const build_passage *passages;
} build_article;

/* What the snapshot covers of the two logs (disk_header fields). */
typedef struct build_coverage {
    uint64_t log_records, log_bytes;    /* ingest.log */
    uint64_t doc_log_id, doc_log_bytes; /* documents.log */
} build_coverage;

/* Passage ids follow the articles' order, each article's passages in a row.
 * Article ids must be distinct. 0, or -1 with err set (the old store.bin stays). */
int snapshot_build(const char *dir, const char *model, int dim, const hnsw_params *hnsw,
                   const build_article *arts, size_t n_arts, const build_coverage *cov,
                   char *err, size_t errlen);

/* fsync a directory; 0, or -1 with err set. */
int store_fsync_dir(const char *dir, char *err, size_t errlen);
/* write(2) all of data, retrying on EINTR; 0 or -1 (errno set). */
int store_write_all(int fd, const void *data, size_t len);

#endif
