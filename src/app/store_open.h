/* store_open — "open the store the options name", the same for every command
 * that opens one (serve, gateway, ingest, search, eval): the embedded store of
 * a data directory (--data-dir, the default) or a PostgreSQL database
 * (--store-url, a libpq connection string: postgres:// URL or key=value, so
 * several hosts, TLS and passwords work as PostgreSQL users expect), with
 * reads optionally from a standby (--store-read-url), a bounded connection
 * pool (--store-pool) and a statement timeout (--store-timeout-ms).
 *
 * A failure to open a database at start — a malformed connection string, a
 * server that cannot be reached, a database of another model or a newer
 * schema — is one error line and exit status 2 (a configuration to fix, not
 * a crash); the embedded store's refusals keep their status 1.
 *
 * Connection strings are never printed: they may hold a password. Messages
 * name the database by host, port and dbname (store_opts_where). */
#ifndef RAGD_APP_STORE_OPEN_H
#define RAGD_APP_STORE_OPEN_H

#include <stdbool.h>
#include <stddef.h>

#include "app/options.h"
#include "store/documents.h"

#define STORE_OPEN_EXIT_DATABASE 2 /* exit status when a database cannot be opened */
#define STORE_RETRY_AFTER_S 2      /* Retry-After of a 503 for a store that cannot be reached */

typedef struct store_opts {
    const char *data_dir;   /* --data-dir: the embedded store */
    const char *url;        /* --store-url: PostgreSQL instead (NULL or "": embedded) */
    const char *read_url;   /* --store-read-url: where searches go (NULL: url's hosts) */
    int pool;               /* --store-pool: connections per pool (reads, writes) */
    int timeout_ms;         /* --store-timeout-ms: statement timeout */
} store_opts;

/* Set o's defaults and append --data-dir (described by data_dir_help) and
 * the --store-* options. */
void store_opts_add(option_list *l, store_opts *o, const char *data_dir_help);

/* True when the options name a PostgreSQL database. */
bool store_opts_on_server(const store_opts *o);

/* The flags' consistency, without I/O (a malformed connection string, a
 * read URL without a URL). 0, or -1 after printing "ragd <cmd>: …". */
int store_opts_check(const store_opts *o, const char *cmd);

/* Where the store is, for messages: "data directory ./data" or
 * "PostgreSQL database postgres on 127.0.0.1:5432" (no password). */
void store_opts_where(const store_opts *o, char *out, size_t outlen);

/* Open the store. model: the identity its vectors must have (the encoder's),
 * or NULL to take the store's own (a gateway, search, eval: the database must
 * then already hold a store). writable: the embedded store's writer lock
 * (serve, gateway); a database is always shared. NULL with err set and
 * *exit_status (may be NULL) the status to exit with. */
store *store_opts_open(const store_opts *o, const char *model, bool writable, char *err,
                       size_t errlen, int *exit_status);

#endif
