/* sse — Server-Sent Events: an incremental parser (the writer is the HTTP
 * layer's: http/sse_writer.h).
 *
 * The parser follows the WHATWG "event stream interpretation" rules: bytes
 * arrive in chunks of any size (a chunk may end inside a line, inside a CRLF,
 * inside a UTF-8 sequence); lines end with CRLF, LF or CR; a line starting
 * with ':' is a comment; "field: value" loses one space after the colon;
 * `data:` lines are joined with '\n'; an empty line dispatches the event, but
 * only if it had data; `event:` names it (default "message"); `id:` sets the
 * last event id, which persists across events; `retry:` takes digits only;
 * unknown fields are ignored; a leading UTF-8 BOM is skipped; an event that is
 * not terminated by an empty line before the end of the stream is discarded.
 *
 * Used by the OpenAI-compatible LLM backend (reading a chat-completions
 * stream) and by the gateway (reading a model service's /llm_ask stream).
 *
 */
#ifndef RAGD_MODEL_SSE_H
#define RAGD_MODEL_SSE_H

#include <stddef.h>

#include "util/buf.h"

typedef struct sse_event {
    const char *event; /* the event type: "message" when no `event:` line */
    const char *data;  /* NUL-terminated; data_len excludes the NUL */
    size_t data_len;
    const char *id;    /* the last event id seen so far in the stream ("" if none) */
    long retry_ms;     /* the last valid `retry:` value, -1 if none */
} sse_event;

/* Called once per dispatched event; the event and its strings are valid only
 * during the call. Return non-zero to stop parsing. */
typedef int (*sse_event_fn)(const sse_event *ev, void *ctx);

/* The default bound on one event's size (field lines plus data), which stops
 * a misbehaving upstream from growing a buffer without end. */
#define SSE_DEFAULT_MAX_EVENT (8u << 20)

typedef struct sse_parser {
    sse_event_fn on_event;
    void *ctx;
    size_t max_event;     /* bytes; set after sse_parser_init to change it */
    buf line;             /* the current, unfinished line */
    buf data;             /* data lines of the current event, each followed by '\n' */
    buf event;            /* event type of the current event ("" = message) */
    buf id;               /* last event id */
    long retry_ms;
    int after_cr;         /* last byte seen was CR: a following LF belongs to it */
    int bom_checked;      /* 0 until the first 3 bytes were checked for a BOM */
    int stopped;          /* the callback asked to stop, or a limit was hit */
} sse_parser;

void sse_parser_init(sse_parser *p, sse_event_fn on_event, void *ctx);

/* Feed the next chunk. Returns 0 to go on, 1 if the callback stopped the
 * parser (now or before), -1 if an event exceeded max_event (err set). */
int sse_parser_feed(sse_parser *p, const char *bytes, size_t len, char *err, size_t errlen);

/* Release the buffers (an unterminated last event is discarded). The parser
 * may be initialised again afterwards. */
void sse_parser_free(sse_parser *p);

#endif
