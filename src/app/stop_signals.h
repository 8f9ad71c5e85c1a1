/* stop_signals — SIGINT and SIGTERM for a server process: before it serves,
 * a stop signal ends the process at once (loading the model and a first
 * ingest are safe to kill: ingest resumes); once it serves, the signal wakes
 * stop_signals_wait() so the server stops cleanly. SIGPIPE is ignored. */
#ifndef RAGD_APP_STOP_SIGNALS_H
#define RAGD_APP_STOP_SIGNALS_H

/* Take over the signals; call before any thread that might get them
 * matters. 0, or -1 when the wake-up pipe cannot be made. */
int stop_signals_take(void);
/* Block until a stop signal; returns its number. */
int stop_signals_wait(void);

#endif
