/* pg_cluster — a throwaway PostgreSQL 15 cluster for the tests of the
 * PostgreSQL store: initdb into a temp dir, the postmaster on a free loopback
 * port (unix socket in the same temp dir), CREATE EXTENSION vector, and at the
 * end stop it and remove the dir.
 *
 * The postmaster runs in the foreground as a child the integration harness
 * tracks (harness_fork), so a failed assertion (atexit) and the harness's
 * watchdog (RAGD_TEST_DEADLINE_S) both kill it: no cluster outlives its test.
 * Run as root (CI's chroot), initdb and the postmaster — which refuse root —
 * run as the `postgres` user that Debian's package creates.
 *
 * The server binaries come from RAGD_PG_BINDIR (environment) or the build's
 * default (PostgreSQL 15's bindir). A machine without PostgreSQL or pgvector
 * makes pg_cluster_start fail with a message naming scripts/deps.sh: a test
 * that needs PostgreSQL fails there, it never skips. */
#ifndef RAGD_TESTS_PG_CLUSTER_H
#define RAGD_TESTS_PG_CLUSTER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct pg_cluster {
    char dir[256];       /* temp dir: data/ and the unix socket */
    int port;
    pid_t postmaster;    /* 0 while stopped */
    char conninfo[512];  /* key=value connection string for libpq */
    char url[512];       /* the same as a postgres:// URL (loopback TCP) */
} pg_cluster;

/* initdb, start, wait until it accepts connections, CREATE EXTENSION vector.
 * 0, or -1 with the reason on stderr (and nothing left behind). */
int pg_cluster_start(pg_cluster *c);
/* A streaming standby of primary (pg_basebackup -R) in its own temp dir on
 * its own port, started and accepting read-only connections. 0, or -1. */
int pg_cluster_start_standby(const pg_cluster *primary, pg_cluster *standby);
/* Stop the postmaster (fast shutdown), keep the data. 0, or -1. */
int pg_cluster_stop(pg_cluster *c);
/* Start a stopped cluster again on the same port. 0, or -1. */
int pg_cluster_restart(pg_cluster *c);
/* Stop (if running) and remove the temp dir. */
void pg_cluster_destroy(pg_cluster *c);
/* Freeze (SIGSTOP) or thaw (SIGCONT) the postmaster and every process it
 * started: a server that accepts bytes but never answers. 0, or -1. */
int pg_cluster_freeze(pg_cluster *c, bool frozen);
/* Run one SQL statement on the cluster; 0, or -1 with the error on stderr. */
int pg_cluster_exec(const pg_cluster *c, const char *sql);

#endif
