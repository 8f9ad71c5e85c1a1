/* log_setup — the one reading of --log-level (and --loki-url) for every
 * command: the level, and the Loki push client when a URL is given. */
#ifndef RAGD_APP_LOG_SETUP_H
#define RAGD_APP_LOG_SETUP_H

/* 0, or -1 after a message naming the flag (a bad level, a bad Loki URL).
 * loki_url may be NULL or "" (no push). role labels the pushed lines. */
int log_setup(const char *command, const char *level_name, const char *loki_url, const char *role);
/* Flush and stop the Loki client, if one was started. */
void log_teardown(void);

#endif
