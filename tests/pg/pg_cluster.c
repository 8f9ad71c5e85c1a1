/* pg_cluster — see pg_cluster.h. */
#include "pg_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef RAGD_PG_BINDIR_DEFAULT
#define RAGD_PG_BINDIR_DEFAULT "/usr/lib/postgresql/15/bin"
#endif
#define START_TIMEOUT_S 60

static const char *deps_hint = "install PostgreSQL 15 and pgvector with scripts/deps.sh";

static const char *bindir(void) {
    const char *env = getenv("RAGD_PG_BINDIR");
    return env && *env ? env : RAGD_PG_BINDIR_DEFAULT;
}

/* The clusters started and not yet destroyed, for the atexit cleanup. */
#define LIVE_MAX 8
static pg_cluster *live[LIVE_MAX];

static void destroy_live(void) {
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i]) pg_cluster_destroy(live[i]);
}

static void remember(pg_cluster *c) {
    static bool registered;
    if (!registered) atexit(destroy_live);
    registered = true;
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == NULL || live[i] == c) {
            live[i] = c;
            return;
        }
}

static void forget(pg_cluster *c) {
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == c) live[i] = NULL;
}

/* The postgres user's ids when running as root (initdb refuses root); -1 otherwise. */
static int server_user(uid_t *uid, gid_t *gid) {
    if (geteuid() != 0) return 0;
    struct passwd *pw = getpwnam("postgres");
    if (pw == NULL) {
        fprintf(stderr, "pg_cluster: running as root and there is no `postgres` user; %s\n",
                deps_hint);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 1;
}

/* In a forked child: become the server user (if root) and exec argv with
 * output to log_path. Never returns. */
static void exec_as_server(char *const *argv, const char *log_path) {
    uid_t uid;
    gid_t gid;
    int who = server_user(&uid, &gid);
    if (who < 0) _exit(127);
    if (who == 1 && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
        fprintf(stderr, "pg_cluster: cannot become postgres: %s\n", strerror(errno));
        _exit(127);
    }
    /* Changing credentials cleared harness_fork's parent-death signal. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execv(argv[0], argv);
    fprintf(stderr, "pg_cluster: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void print_log(const pg_cluster *c) {
    char path[300];
    snprintf(path, sizeof path, "%s/server.log", c->dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    fprintf(stderr, "---- %s ----\n", path);
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int run_initdb(pg_cluster *c) {
    char exe[300], data[300], log[300];
    snprintf(exe, sizeof exe, "%s/initdb", bindir());
    if (access(exe, X_OK) != 0) {
        fprintf(stderr, "pg_cluster: %s not found: %s\n", exe, deps_hint);
        return -1;
    }
    snprintf(data, sizeof data, "%s/data", c->dir);
    snprintf(log, sizeof log, "%s/server.log", c->dir);
    char *argv[] = {exe, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--locale=C", NULL};
    pid_t pid = harness_fork();
    if (pid < 0) return -1;
    if (pid == 0) exec_as_server(argv, log);
    int rc = harness_wait(pid);
    if (rc != 0) {
        fprintf(stderr, "pg_cluster: initdb exited with %d\n", rc);
        print_log(c);
        return -1;
    }
    return 0;
}

static int spawn_postmaster(pg_cluster *c) {
    char exe[300], data[300], log[300], port[16];
    snprintf(exe, sizeof exe, "%s/postgres", bindir());
    snprintf(data, sizeof data, "%s/data", c->dir);
    snprintf(log, sizeof log, "%s/server.log", c->dir);
    snprintf(port, sizeof port, "%d", c->port);
    /* Small and durable: fsync stays on, as in production. */
    char *argv[] = {exe, "-D", data, "-p", port, "-k", c->dir,
                    "-c", "listen_addresses=127.0.0.1", "-c", "shared_buffers=32MB",
                    "-c", "max_connections=30", "-c", "fsync=on",
                    "-c", "max_wal_senders=4", "-c", "wal_level=replica", NULL};
    pid_t pid = harness_fork();
    if (pid < 0) return -1;
    if (pid == 0) exec_as_server(argv, log);
    c->postmaster = pid;
    struct timespec pause = {0, 50 * 1000 * 1000};
    for (int i = 0; i < START_TIMEOUT_S * 20; i++) {
        if (PQping(c->conninfo) == PQPING_OK) return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            harness_wait(pid); /* already reaped: just untrack */
            c->postmaster = 0;
            fprintf(stderr, "pg_cluster: postgres exited during start\n");
            print_log(c);
            return -1;
        }
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "pg_cluster: postgres did not accept connections within %d s\n",
            START_TIMEOUT_S);
    print_log(c);
    return -1;
}

int pg_cluster_exec(const pg_cluster *c, const char *sql) {
    PGconn *conn = PQconnectdb(c->conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pg_cluster: connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return -1;
    }
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "pg_cluster: %s: %s", sql, PQerrorMessage(conn));
    PQclear(r);
    PQfinish(conn);
    return ok ? 0 : -1;
}

/* A fresh temp dir owned by the server user, a free port, the strings. */
static int prepare(pg_cluster *c) {
    memset(c, 0, sizeof *c);
    const char *base = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/ragd-pg-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(c->dir) == NULL) {
        fprintf(stderr, "pg_cluster: mkdtemp: %s\n", strerror(errno));
        c->dir[0] = '\0';
        return -1;
    }
    remember(c);
    uid_t uid;
    gid_t gid;
    int who = server_user(&uid, &gid);
    if (who < 0 || (who == 1 && chown(c->dir, uid, gid) != 0)) return -1;
    c->port = free_port();
    if (c->port <= 0) return -1;
    snprintf(c->conninfo, sizeof c->conninfo,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=5", c->port);
    snprintf(c->url, sizeof c->url, "postgres://postgres@127.0.0.1:%d/postgres", c->port);
    return 0;
}

int pg_cluster_start(pg_cluster *c) {
    if (prepare(c) != 0 || run_initdb(c) != 0 || spawn_postmaster(c) != 0) goto fail;
    if (pg_cluster_exec(c, "CREATE EXTENSION vector") != 0) {
        fprintf(stderr, "pg_cluster: the pgvector extension is missing: %s\n", deps_hint);
        goto fail;
    }
    return 0;
fail:
    pg_cluster_destroy(c);
    return -1;
}

int pg_cluster_start_standby(const pg_cluster *primary, pg_cluster *c) {
    if (prepare(c) != 0) goto fail;
    char exe[300], data[300], log[300], port[16];
    snprintf(exe, sizeof exe, "%s/pg_basebackup", bindir());
    snprintf(data, sizeof data, "%s/data", c->dir);
    snprintf(log, sizeof log, "%s/server.log", c->dir);
    snprintf(port, sizeof port, "%d", primary->port);
    /* -R: standby.signal + primary_conninfo, so it starts as a streaming replica. */
    char *argv[] = {exe, "-D", data, "-h", "127.0.0.1", "-p", port, "-U", "postgres",
                    "-X", "stream", "-R", "-c", "fast", NULL};
    pid_t pid = harness_fork();
    if (pid < 0) goto fail;
    if (pid == 0) exec_as_server(argv, log);
    int rc = harness_wait(pid);
    if (rc != 0) {
        fprintf(stderr, "pg_cluster: pg_basebackup exited with %d\n", rc);
        print_log(c);
        goto fail;
    }
    if (spawn_postmaster(c) != 0) goto fail;
    return 0;
fail:
    pg_cluster_destroy(c);
    return -1;
}

int pg_cluster_stop(pg_cluster *c) {
    if (c->postmaster <= 0) return 0;
    kill(c->postmaster, SIGINT); /* fast shutdown: roll back sessions, checkpoint */
    int rc = harness_wait(c->postmaster);
    c->postmaster = 0;
    return rc == 0 ? 0 : -1;
}

int pg_cluster_restart(pg_cluster *c) {
    if (c->postmaster > 0) return 0;
    return spawn_postmaster(c);
}

void pg_cluster_destroy(pg_cluster *c) {
    if (c->postmaster > 0) {
        kill(c->postmaster, SIGQUIT); /* immediate: the data is thrown away */
        harness_wait(c->postmaster);
        c->postmaster = 0;
    }
    if (c->dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
        if (system(cmd) != 0) fprintf(stderr, "pg_cluster: could not remove %s\n", c->dir);
        c->dir[0] = '\0';
    }
    forget(c);
}

/* The parent pid of a process (from /proc/PID/stat), or -1. */
static pid_t parent_of(pid_t pid) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    pid_t ppid = -1;
    if (fgets(line, sizeof line, f)) {
        const char *close_paren = strrchr(line, ')'); /* the name may hold spaces */
        if (close_paren) sscanf(close_paren + 1, " %*c %d", &ppid);
    }
    fclose(f);
    return ppid;
}

int pg_cluster_freeze(pg_cluster *c, bool frozen) {
    if (c->postmaster <= 0) return -1;
    int sig = frozen ? SIGSTOP : SIGCONT;
    DIR *d = opendir("/proc");
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && parent_of(pid) == c->postmaster) kill(pid, sig);
    }
    closedir(d);
    return kill(c->postmaster, sig) == 0 ? 0 : -1;
}
