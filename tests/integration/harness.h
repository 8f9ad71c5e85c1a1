/* harness — integration tests' view of a running ragd: start the real binary
 * (RAGD_BIN) on a free loopback port, talk real HTTP to it with libcurl, stop
 * it and check that it exited cleanly. */
#ifndef RAGD_TESTS_HARNESS_H
#define RAGD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

typedef struct ragd_proc {
    pid_t pid;
    int port;
    char log_path[256];
} ragd_proc;

/* Start `ragd <args…>` with --host 127.0.0.1 --port 0 appended; waits until it
 * logs "listening" (up to timeout_s). Returns 0, or -1 (and prints its log). */
int ragd_start(ragd_proc *p, const char *const *args, double timeout_s);
/* SIGTERM, wait; returns the exit status (or 128+signal). */
int ragd_stop(ragd_proc *p);
bool ragd_alive(const ragd_proc *p);
/* The process's log so far (the caller frees). */
char *ragd_log(const ragd_proc *p);

typedef struct http_reply {
    long status;
    buf body;
    buf headers;
} http_reply;

/* One request; headers is a NULL-terminated list of "Name: value" or NULL.
 * Returns 0 when an HTTP answer came back (any status). */
int http_call(const char *method, const char *url, const char *content_type, const char *body,
              size_t len, const char *const *headers, http_reply *out);
void http_reply_free(http_reply *r);
/* The value of a response header (case-insensitive), or NULL; the caller frees. */
char *http_reply_header(const http_reply *r, const char *name);

/* "http://127.0.0.1:<port><path>" in a static buffer per call site's needs. */
void ragd_url(const ragd_proc *p, const char *path, char *out, size_t outlen);

#endif
