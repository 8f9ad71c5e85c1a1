/* format — the on-disk layout of store.bin and ingest.log, shared by the
 * writer (writer.c) and the reader (store.c).
 *
 * store.bin: a fixed header, then sections at 64-byte aligned offsets. The
 * header lists every section with its offset, size and CRC32; the header has
 * its own CRC32 over everything before it. Numbers are little-endian (the
 * file is mapped and used in place; a big-endian machine is refused by the
 * magic check).
 *
 * ingest.log: a fixed header (magic, version, model, dim, CRC), then records
 * of {magic, payload length, payload CRC32} + payload. A record whose header
 * or CRC does not check marks the end of the log (a torn write from kill -9).
 */
#ifndef RAGD_STORE_FORMAT_H
#define RAGD_STORE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define STORE_FILE "store.bin"
#define STORE_TMP_FILE "store.bin.tmp"
#define LOG_FILE "ingest.log"
#define DOC_LOG_FILE "documents.log"   /* article records: puts and deletes (doclog.h) */
#define DOC_LOG_TMP_FILE "documents.log.tmp"
#define STORE_LOCK_FILE "writer.lock" /* flock of the one writer; holds "pid N: its command line" */

#define STORE_MAGIC "RAGDSTOR"
#define LOG_MAGIC "RAGDILOG"
#define LOG_RECORD_MAGIC 0x31434552u /* "REC1" */
#define MODEL_ID_MAX 64              /* model identity, NUL-padded */
#define ANALYZER_ID_MAX 32           /* BM25 analyzer identity (analyzer.h), NUL-padded */
/* ingest.log keeps its own version: its records did not change when the
 * snapshot's did, so a log of an older store rebuilds the new snapshot
 * without encoding anything again. */
#define LOG_FORMAT_VERSION 1
#define SECTION_ALIGN 64

enum store_section_kind {
    SEC_TOPICS,   /* disk_topic[n_topics] */
    SEC_PASSAGES, /* disk_passage[n_passages], in id order */
    SEC_STRINGS,  /* NUL-terminated strings the two tables point into */
    SEC_ROW_IDS,  /* uint32 id of each row (rows are grouped by topic) */
    SEC_VECTORS,  /* float[n_passages][dim], in row order */
    SEC_BM25,     /* bm25.c's serialised index over rows */
    SEC_HNSW,     /* uint64 offsets[n_topics] then one hnsw.c graph per topic */
    SEC_ARTICLES, /* disk_article[n_articles], sorted by id (bytewise) */
    SEC_COUNT
};

typedef struct disk_section {
    uint64_t offset;
    uint64_t size;
    uint32_t crc;
    uint32_t reserved;
} disk_section;

typedef struct disk_header {
    char magic[8];
    uint32_t version;
    uint32_t dim;
    char model[MODEL_ID_MAX];
    char analyzer[ANALYZER_ID_MAX]; /* the analyzer SEC_BM25 was built with */
    uint32_t n_passages;
    uint32_t n_topics;
    uint64_t log_records; /* how much of ingest.log this snapshot covers */
    uint64_t log_bytes;
    uint64_t doc_log_id;    /* the documents.log generation it covers … */
    uint64_t doc_log_bytes; /* … up to this offset (replay starts there) */
    uint32_t n_articles;
    uint32_t reserved0;
    uint32_t hnsw_m;
    uint32_t hnsw_ef_construction;
    disk_section sections[SEC_COUNT];
    uint32_t header_crc; /* CRC32 of every byte above */
    uint32_t reserved;
} disk_header;

typedef struct disk_topic {
    uint64_t name;      /* offset into SEC_STRINGS */
    uint32_t row_start; /* the topic's rows are [row_start, row_start + rows) */
    uint32_t rows;
} disk_topic;

typedef struct disk_passage {
    uint64_t article_id, heading, date, text; /* offsets into SEC_STRINGS */
    uint32_t text_len;
    uint32_t row;
    uint32_t topic;
    int32_t passage_index;
} disk_passage;

typedef struct disk_article {
    uint64_t id, heading, date, topic; /* offsets into SEC_STRINGS */
    uint64_t text;                     /* offset, or UINT64_MAX: not kept */
    uint32_t first_passage, n_passages;
} disk_article;

typedef struct disk_log_header {
    char magic[8];
    uint32_t version;
    uint32_t dim;
    char model[MODEL_ID_MAX];
    uint32_t crc; /* CRC32 of the bytes above */
    uint32_t reserved;
} disk_log_header;

typedef struct disk_log_record {
    uint32_t magic;
    uint32_t payload_len;
    uint32_t payload_crc;
    uint32_t header_crc; /* CRC32 of the three fields above: a torn length is caught */
} disk_log_record;

/* Payload: uint32 lengths of key, article_id, heading, date, topic, text;
 * int32 passage_index; the six strings back to back (no NULs); dim floats. */
#define LOG_FIELDS 6
/* A record of passage index TEXT_RECORD is not a passage: it keeps the whole
 * text of its article (LF_TEXT; heading, date and topic empty, a zero
 * vector), so ingest.log's articles have their text without a new log format. */
#define TEXT_RECORD (-1)
enum { LF_KEY, LF_ARTICLE, LF_HEADING, LF_DATE, LF_TOPIC, LF_TEXT };

uint32_t store_crc32(const void *data, size_t len);
uint32_t store_crc32_update(uint32_t crc, const void *data, size_t len);

#endif
