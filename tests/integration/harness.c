/* harness — see harness.h. */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

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
    const char *bin = getenv("RAGD_BIN");
    if (!bin) {
        fprintf(stderr, "harness: RAGD_BIN is not set (run through ctest)\n");
        return -1;
    }
    snprintf(p->log_path, sizeof p->log_path, "/tmp/ragd-test-%d-%ld.log", (int)getpid(),
             (long)(now_ns() % 1000000000));
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 58; i++) argv[n++] = args[i];
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "harness: exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    double deadline = now_seconds() + timeout_s;
    while (now_seconds() < deadline) {
        char *log = ragd_log(p);
        p->port = find_port(log);
        free(log);
        if (p->port) return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
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
    kill(p->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; i++) { /* up to 10 s, then SIGKILL */
        pid_t got = waitpid(p->pid, &status, WNOHANG);
        if (got == p->pid) break;
        if (i == 999) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
        }
        usleep(10 * 1000);
    }
    p->pid = 0;
    unlink(p->log_path);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
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
    CURL *c = curl_easy_init();
    if (!c) return -1;
    struct curl_slist *hl = NULL;
    char ct[256];
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hl = curl_slist_append(hl, ct);
    }
    for (int i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
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
