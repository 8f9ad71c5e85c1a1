/* snapshot — the store's internal view of one mapped, verified store.bin:
 * what the views (store.c) and the writers share. Reference counted: the
 * store holds one reference to its current snapshot, every view one more. */
#ifndef RAGD_STORE_SNAPSHOT_H
#define RAGD_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/format.h"
#include "store/store.h"

typedef struct snapshot snapshot;

/* Map and verify data_dir/store.bin (store_open's checks and messages); the
 * result holds one reference. */
snapshot *snap_open(const char *data_dir, const char *expected_model, char *err, size_t errlen);
void snap_ref(snapshot *s);
/* Drop a reference; the last one unmaps the file. */
void snap_unref(snapshot *s);
void snap_close(snapshot *s);

const char *snap_model(const snapshot *s);
int snap_dim(const snapshot *s);
size_t snap_count(const snapshot *s, const char *topic);
int snap_topics(const snapshot *s, const char *const **names);
bool snap_has_topic(const snapshot *s, const char *topic);
int snap_get(const snapshot *s, uint32_t id, store_passage *out);
const float *snap_vector(const snapshot *s, uint32_t id);
int snap_search(const snapshot *s, const store_query *q, search_hit *hits, char *err,
                size_t errlen);
store_bm25_params snap_bm25(const snapshot *s);
const disk_header *snap_header(const snapshot *s);

#endif
