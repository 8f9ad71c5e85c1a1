/* store_internal — what the reader (store.c) shares with the writer
 * (writer.c) beyond the public API. */
#ifndef RAGD_STORE_STORE_INTERNAL_H
#define RAGD_STORE_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/format.h"

/* Check magic, format version, header CRC and (if given) model and dim of a
 * store.bin header; 0, or -1 with a message naming path and the fix. */
int store_check_header(const disk_header *h, size_t file_size, const char *path,
                       const char *expected_model, int expected_dim, char *err, size_t errlen);

/* Take data_dir's writer lock (STORE_LOCK_FILE): *fd holds it until closed.
 * -1 with a message naming the holder when another process has it. */
int store_lock_dir(const char *data_dir, int *fd, char *err, size_t errlen);

/* The visible articles of v as the snapshot builder's input, snapshot
 * articles first in passage-id order (so a rebuild keeps their ids), then
 * live ones in the order they were written. Pointers into v; the caller
 * frees the two arrays. */
typedef struct build_article build_article;
typedef struct build_passage build_passage;
typedef struct store_view store_view;
build_article *store_view_articles(const store_view *v, build_passage **ps, size_t *n);

/* The documents.log generation and end offset of an open store (what a
 * snapshot built now from its current view covers). */
typedef struct store store;
void store_log_position(store *s, uint64_t *id, uint64_t *end);

/* store_search of the embedded backend (search.c), for its ops (store.c). */
typedef struct search_hit search_hit;
typedef struct store_query store_query;
int embedded_search(const store_view *v, const store_query *q, search_hit *hits, char *err,
                    size_t errlen);

#endif
