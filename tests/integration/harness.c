/* harness — see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* ---- children: tracked, killed at exit and by the watchdog ---- */

#define TRACKED_MAX 64
/* Written by the test's own thread, read by the SIGALRM handler and at exit. */
static volatile sig_atomic_t tracked[TRACKED_MAX];
/* The log of a tracked ragd (empty for other children): the watchdog shows
 * its tail, since a hang is usually explained by what the server said last. */
static char tracked_log[TRACKED_MAX][256];
/* What the test was doing, for the watchdog's message (best effort). */
static char activity[256] = "starting";
static volatile sig_atomic_t deadline_s;

static void track(pid_t pid) {
    for (int i = 0; i < TRACKED_MAX; i++)
        if (!tracked[i]) {
            tracked[i] = pid;
            return;
        }
    fprintf(stderr, "harness: more than %d children at once\n", TRACKED_MAX);
    abort();
}

static void untrack(pid_t pid) {
    for (int i = 0; i < TRACKED_MAX; i++)
        if (tracked[i] == pid) tracked[i] = 0, tracked_log[i][0] = '\0';
}

static void track_log(pid_t pid, const char *path) {
    for (int i = 0; i < TRACKED_MAX; i++)
        if (tracked[i] == pid) snprintf(tracked_log[i], sizeof tracked_log[i], "%s", path);
}

/* Continue (a paused child ignores everything but SIGKILL until then) and kill. */
static void kill_tracked(void) {
    for (int i = 0; i < TRACKED_MAX; i++) {
        pid_t pid = tracked[i];
        if (pid <= 0) continue;
        /* Only a child still running: one a test reaped itself is gone, and
         * its pid may already belong to someone else's process. */
        if (waitpid(pid, NULL, WNOHANG) != 0) {
            tracked[i] = 0;
            continue;
        }
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        tracked[i] = 0;
        tracked_log[i][0] = '\0';
    }
}

static void write_str(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

/* The last bytes of each tracked ragd's log (async-signal-safe: open, lseek, read, write). */
static void write_log_tails(void) {
    enum { TAIL = 3000 };
    for (int i = 0; i < TRACKED_MAX; i++) {
        if (!tracked[i] || !tracked_log[i][0]) continue;
        int fd = open(tracked_log[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        write_str("harness: the end of ");
        write_str(tracked_log[i]);
        write_str(":\n");
        if (lseek(fd, -TAIL, SEEK_END) < 0) lseek(fd, 0, SEEK_SET);
        char chunk[512];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) > 0)
            if (write(STDERR_FILENO, chunk, (size_t)n) < 0) break;
        close(fd);
    }
}

/* Async-signal-safe: only open, read, write, kill, waitpid and _exit. */
static void on_deadline(int sig) {
    (void)sig;
    char secs[16];
    int k = 0, d = deadline_s;
    char rev[16];
    do rev[k++] = (char)('0' + d % 10), d /= 10;
    while (d && k < 15);
    for (int i = 0; i < k; i++) secs[i] = rev[k - 1 - i];
    secs[k] = '\0';
    write_str("\nharness: TEST DEADLINE of ");
    write_str(secs);
    write_str(" s passed (RAGD_TEST_DEADLINE_S); it hung while: ");
    write_str(activity);
    write_str("\n");
    write_log_tails();
    write_str("harness: killing every child it started and failing\n");
    kill_tracked();
    _exit(124);
}

static void kill_leftovers(void) {
    bool any = false;
    for (int i = 0; i < TRACKED_MAX; i++) any |= tracked[i] > 0;
    if (!any) return;
    fprintf(stderr, "harness: children left running at exit (a failed test's); killing them\n");
    kill_tracked();
}

__attribute__((constructor)) static void harness_init(void) {
    const char *env = getenv("RAGD_TEST_DEADLINE_S");
    int d = env ? atoi(env) : HARNESS_DEADLINE_S;
    deadline_s = d > 0 ? d : HARNESS_DEADLINE_S;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_deadline;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)deadline_s);
    atexit(kill_leftovers);
}

static void note_activity(const char *what, const char *detail) {
    snprintf(activity, sizeof activity, "%.60s %.180s", what, detail ? detail : "");
}

/* In the child, before exec: die with the test, even if it is SIGKILLed. */
static void child_dies_with_parent(pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* the parent died before prctl */
}

pid_t harness_fork(void) {
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) child_dies_with_parent(parent);
    else if (pid > 0) track(pid);
    return pid;
}

int harness_wait(pid_t pid) {
    note_activity("waiting for child", NULL);
    int status;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    untrack(pid);
    if (got != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *ragd_log(const ragd_proc *p) {
    size_t len;
    char *text = read_file(p->log_path, &len, NULL, 0);
    return text ? text : xstrdup("");
}

static int find_port(const char *log) {
    const char *line = strstr(log, "\"msg\":\"listening\"");
    if (!line) return 0;
    const char *port = strstr(line, "\"port\":");
    return port ? atoi(port + 7) : 0;
}

int ragd_start(ragd_proc *p, const char *const *args, double timeout_s) {
    return ragd_start_at(p, args, 0, timeout_s);
}

int ragd_start_at(ragd_proc *p, const char *const *args, int port, double timeout_s) {
    const char *bin = getenv("RAGD_BIN");
    if (!bin) {
        fprintf(stderr, "harness: RAGD_BIN is not set (run through ctest)\n");
        return -1;
    }
    snprintf(p->log_path, sizeof p->log_path, "/tmp/ragd-test-%d-%ld.log", (int)getpid(),
             (long)(now_ns() % 1000000000));
    p->paused = false;
    note_activity("starting ragd", args[0]);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 58; i++) argv[n++] = args[i];
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = port_s;
    argv[n] = NULL;
    pid_t pid = harness_fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* stdout too: nothing the child holds may keep ctest's pipe open */
        int fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "harness: exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    track_log(pid, p->log_path);
    double deadline = now_seconds() + timeout_s;
    while (now_seconds() < deadline) {
        char *log = ragd_log(p);
        p->port = find_port(log);
        free(log);
        if (p->port) return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            untrack(pid);
            p->pid = 0;
            break;
        }
        usleep(20 * 1000);
    }
    char *log = ragd_log(p);
    fprintf(stderr, "harness: ragd did not start listening; its log:\n%s\n", log);
    free(log);
    if (p->pid) ragd_stop(p);
    return -1;
}

bool ragd_alive(const ragd_proc *p) {
    int status;
    return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

int ragd_stop(ragd_proc *p) {
    if (p->pid <= 0) return -1;
    note_activity("stopping ragd", p->log_path);
    kill(p->pid, SIGCONT); /* a paused process would not act on SIGTERM */
    p->paused = false;
    kill(p->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; i++) { /* up to 10 s, then SIGKILL */
        pid_t got = waitpid(p->pid, &status, WNOHANG);
        if (got == p->pid || (got < 0 && errno == ECHILD)) break; /* ECHILD: ragd_alive reaped it */
        if (i == 999) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
        }
        usleep(10 * 1000);
    }
    untrack(p->pid);
    p->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* The test will fail on this status: keep the why (the log is removed next). */
        char *log = ragd_log(p);
        size_t len = strlen(log), tail = len > 4096 ? len - 4096 : 0;
        fprintf(stderr, "harness: ragd ended with %s %d; the end of its log:\n%s\n",
                WIFEXITED(status) ? "status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log + tail);
        free(log);
    }
    unlink(p->log_path);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int ragd_wait(ragd_proc *p, char **log) {
    if (p->pid <= 0) return -1;
    note_activity("waiting for ragd to exit by itself", p->log_path);
    int status;
    pid_t got;
    while ((got = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR) {}
    untrack(p->pid);
    p->pid = 0;
    if (log) *log = ragd_log(p);
    unlink(p->log_path);
    if (got < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ragd_kill(ragd_proc *p) {
    if (p->pid <= 0) return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    untrack(p->pid);
    p->pid = 0;
    p->paused = false;
    unlink(p->log_path);
}

int ragd_pause(ragd_proc *p) {
    if (p->pid <= 0 || kill(p->pid, SIGSTOP) != 0) return -1;
    p->paused = true;
    int status;
    pid_t got;
    /* WUNTRACED reports the child only once the group stop is complete,
     * i.e. when its last thread has stopped. */
    while ((got = waitpid(p->pid, &status, WUNTRACED)) < 0 && errno == EINTR) {}
    return got == p->pid && WIFSTOPPED(status) ? 0 : -1;
}

int ragd_resume(ragd_proc *p) {
    if (p->pid <= 0 || kill(p->pid, SIGCONT) != 0) return -1;
    p->paused = false;
    int status;
    pid_t got;
    while ((got = waitpid(p->pid, &status, WCONTINUED)) < 0 && errno == EINTR) {}
    return got == p->pid && WIFCONTINUED(status) ? 0 : -1;
}

void ragd_url(const ragd_proc *p, const char *path, char *out, size_t outlen) {
    snprintf(out, outlen, "http://127.0.0.1:%d%s", p->port, path);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
    buf_append(userdata, ptr, size * nmemb);
    return size * nmemb;
}

int http_call(const char *method, const char *url, const char *content_type, const char *body,
              size_t len, const char *const *headers, http_reply *out) {
    memset(out, 0, sizeof *out);
    note_activity(method, url);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    struct curl_slist *hl = NULL;
    char ct[256];
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hl = curl_slist_append(hl, ct);
    }
    for (int i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    /* Small bodies go at once (no 100-continue round trip). Bodies over
     * 1 MiB announce themselves with Expect: 100-continue, as curl does by
     * default: a body over a route's limit is answered 413 at header time
     * and the connection closed, and a client still pushing megabytes at
     * that moment can have the answer lost to the peer's reset. */
    if (!body || len <= (1u << 20)) hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!out->body.data) buf_append(&out->body, "", 0);
    if (rc != CURLE_OK) {
        fprintf(stderr, "harness: %s %s: %s\n", method, url, curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

void http_reply_free(http_reply *r) {
    buf_free(&r->body);
    buf_free(&r->headers);
}

char *http_reply_header(const http_reply *r, const char *name) {
    size_t n = strlen(name);
    const char *h = r->headers.data;
    while (h && *h) {
        const char *eol = strstr(h, "\r\n");
        if (!eol) break;
        if ((size_t)(eol - h) > n + 1 && !strncasecmp(h, name, n) && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ') v++;
            return xstrndup(v, (size_t)(eol - v));
        }
        h = eol + 2;
    }
    return NULL;
}

int raw_exchange(int port, const char *request, size_t len, double wait_s, buf *out) {
    char what[64];
    snprintf(what, sizeof what, "127.0.0.1:%d", port);
    note_activity("raw exchange with", what);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    int rc = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)(wait_s * 1e3));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break; /* nothing more within wait_s: still open */
        char chunk[4096];
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) { /* closed (or reset) by the server */
            rc = 1;
            break;
        }
        buf_append(out, chunk, (size_t)got);
    }
    if (!out->data) buf_append(out, "", 0);
    close(fd);
    return rc;
}
