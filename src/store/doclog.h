/* doclog — documents.log, the durable record of every live write: a header
 * (magic, version, model, dim, generation id, CRC) and checksummed records
 * (format.h's disk_log_record framing) whose payload store.c encodes (a batch
 * of puts, or a delete). A torn or corrupt tail (kill -9 mid-write) marks
 * the end and is cut off when opened for writing.
 *
 * Group commit: appends are serialised and cheap (one write(2)); making them
 * durable is doclog_sync(upto). The first writer to need an fsync becomes
 * the leader and fsyncs everything appended before it started; writers that
 * arrive meanwhile wait and are covered by the next leader — so N concurrent
 * writers share far fewer than N fsyncs.
 *
 * Rotation (after a merge, the snapshot covering this log up to its end):
 * a new empty log of the next generation is written beside, fsynced and
 * renamed over documents.log. The snapshot header records (generation, end
 * offset) it covers: replay starts there in the same generation, and at the
 * start of a newer one. */
#ifndef RAGD_STORE_DOCLOG_H
#define RAGD_STORE_DOCLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct doclog doclog;

/* Called for each record to replay, in order; non-zero stops with an error. */
typedef int (*doclog_replay_fn)(void *ctx, const uint8_t *payload, size_t len, char *err,
                                size_t errlen);

/* Open data_dir/documents.log, replaying the records the snapshot does not
 * cover (snap_id, snap_bytes: its header's doc_log_id and doc_log_bytes).
 * writable: create it if missing (generation snap_id + 1) and cut a torn
 * tail; read-only: a missing log replays nothing. */
doclog *doclog_open(const char *data_dir, const char *model, int dim, uint64_t snap_id,
                    uint64_t snap_bytes, bool writable, doclog_replay_fn fn, void *ctx,
                    char *err, size_t errlen);
void doclog_close(doclog *l);

/* Append one record (not yet durable): 0 and *end (the log's end after it),
 * or -1 with err set (the log is cut back to before it). */
int doclog_append(doclog *l, const void *payload, size_t len, uint64_t *end, char *err,
                  size_t errlen);
/* Make everything up to offset upto durable (group commit): the number of
 * fsyncs this call ran as the leader (0 when another writer's covered it),
 * or -1 with err set. */
int doclog_sync(doclog *l, uint64_t upto, char *err, size_t errlen);

uint64_t doclog_id(const doclog *l);
uint64_t doclog_end(doclog *l);
uint64_t doclog_fsyncs(doclog *l);
/* Replace the log with an empty one of the next generation (no append may
 * run meanwhile). 0 or -1 with err set (the old log stays). */
int doclog_rotate(doclog *l, char *err, size_t errlen);

#endif
