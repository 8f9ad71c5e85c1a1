/* harness — integration tests' view of a running ragd: start the real binary
 * (RAGD_BIN) on a loopback port, talk real HTTP to it with libcurl (or raw
 * bytes over a socket), stop it and check that it exited cleanly.
 *
 * No test can hang and no process can outlive its test: every child the
 * harness starts is tracked, dies with the test (PR_SET_PDEATHSIG), is
 * continued and killed at exit if a failed assertion left it behind, and a
 * watchdog (alarm) kills every tracked child and fails the test loudly once
 * the test's deadline passes — RAGD_TEST_DEADLINE_S seconds, default
 * HARNESS_DEADLINE_S, well under ctest's 300 s timeout. */
#ifndef RAGD_TESTS_HARNESS_H
#define RAGD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

#define HARNESS_DEADLINE_S 150

typedef struct ragd_proc {
    pid_t pid;
    int port;
    bool paused;  /* SIGSTOP'd by ragd_pause */
    char log_path[256];
} ragd_proc;

/* Start `ragd <args…>` with --host 127.0.0.1 --port 0 appended; waits until it
 * logs "listening" (up to timeout_s). Returns 0, or -1 (and prints its log). */
int ragd_start(ragd_proc *p, const char *const *args, double timeout_s);
/* The same on a given port (0: any free one). */
int ragd_start_at(ragd_proc *p, const char *const *args, int port, double timeout_s);
/* SIGCONT (if paused), SIGTERM, wait (SIGKILL after 10 s); returns the exit
 * status (or 128+signal) and removes the log. */
int ragd_stop(ragd_proc *p);
/* Wait (no signal sent) until it exits by itself; returns the exit status
 * (or 128+signal) and, if log is not NULL, its log (the caller frees). */
int ragd_wait(ragd_proc *p, char **log);
/* SIGKILL and reap, as a crash would end it. */
void ragd_kill(ragd_proc *p);
/* Stop every thread of the process (SIGSTOP) and return only once all of
 * them have stopped: kill() alone returns while the kernel has woken just
 * one thread to begin the group stop, and the others keep running (and
 * answering requests) until that thread is scheduled. 0, or -1. */
int ragd_pause(ragd_proc *p);
/* SIGCONT and wait until it runs again. 0, or -1. */
int ragd_resume(ragd_proc *p);
bool ragd_alive(const ragd_proc *p);
/* The process's log so far (the caller frees). */
char *ragd_log(const ragd_proc *p);

/* fork() for tests that run a child of their own: the child dies with the
 * test, and the parent tracks it until harness_wait. */
pid_t harness_fork(void);
/* waitpid and stop tracking; the exit status, 128+signal, or -1. */
int harness_wait(pid_t pid);

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

/* Raw HTTP: connect to 127.0.0.1:port, send request[0..len), then read into
 * out until the server closes the connection or wait_s passes with nothing
 * more to read. Returns 1 if the server closed, 0 if it was still open at
 * the end of the wait, -1 if the connection or the send failed. */
int raw_exchange(int port, const char *request, size_t len, double wait_s, buf *out);

/* "http://127.0.0.1:<port><path>" in a static buffer per call site's needs. */
void ragd_url(const ragd_proc *p, const char *path, char *out, size_t outlen);

#endif
