/* util — allocation that cannot fail, time, and small helpers every
 * subsystem uses. Out of memory is fatal by design (a server that cannot
 * allocate a few bytes cannot answer an error either), so x* functions abort
 * with a message instead of returning NULL. */
#ifndef RAGD_UTIL_UTIL_H
#define RAGD_UTIL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Monotonic clock in nanoseconds / seconds. */
uint64_t now_ns(void);
double now_seconds(void);
/* Wall clock, for logs: "2026-11-25T01:23:58.123Z" into out (>= 32 bytes). */
void wall_time_iso8601(char *out, size_t outlen);

/* Set err (may be NULL) to a formatted message; returns -1 for `return seterr(...)`. */
int seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read a whole file; NULL with err set on failure. The caller frees. */
char *read_file(const char *path, size_t *len, char *err, size_t errlen);
bool file_exists(const char *path);

/* Room for one more element in a growable array of n used of *cap: returns
 * items, reallocated (capacity doubled, from 16) when n == *cap. */
void *xgrow(void *items, int n, int *cap, size_t elem_size);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
