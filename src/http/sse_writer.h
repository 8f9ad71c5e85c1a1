/* sse_writer — the one Server-Sent Events writer: every stream ragd sends
 * (/ask, /llm_ask, and any later one) is formatted here, through
 * http_stream_event.
 *
 * Multi-line data becomes several `data:` lines whatever the line ends (LF,
 * CRLF or a lone CR: a client splits on all three, so a lone CR left inside a
 * data line would cut it), and any text round-trips through an SSE parser
 * except that CRLF and CR inside data come back as LF, as the format defines.
 */
#ifndef RAGD_HTTP_SSE_WRITER_H
#define RAGD_HTTP_SSE_WRITER_H

#include <stddef.h>

#include "util/buf.h"

/* Append one event to out. event and id may be NULL (omitted); CR and LF in
 * them are dropped, since they cannot be represented. data may be NULL only
 * when data_len is 0; an empty data still produces one `data:` line so the
 * event is dispatched. */
void sse_write_event(buf *out, const char *event, const char *id, const char *data,
                     size_t data_len);

/* Append a comment line (": text\n"), the usual keep-alive. CR/LF dropped. */
void sse_write_comment(buf *out, const char *text);

/* Append a `retry:` line plus the blank line that ends it. */
void sse_write_retry(buf *out, long retry_ms);

#endif
