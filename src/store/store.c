/* store — the store as its callers see it: the data directory, its current
 * view, and the read API of store.h over views (documents.h).
 *
 * A view pins one snapshot (and, with live documents, one state of the live
 * segment and tombstones). Taking a view locks view_lock only long enough to
 * copy the current pointer and count a reference, and no writer ever holds
 * view_lock across I/O, so searches never wait for a write's fsync.
 */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/documents.h"
#include "store/snapshot.h"
#include "store/store_internal.h"
#include "obs/log.h"
#include "util/util.h"

struct store_view {
    atomic_int refs;
    snapshot *snap;
};

struct store {
    char *dir;
    char model[MODEL_ID_MAX + 1];
    pthread_mutex_t view_lock; /* guards cur; never held across I/O */
    store_view *cur;
    int lock_fd; /* writer.lock, held by a writable store; -1 otherwise */
    char read_only_why[512]; /* why writes are refused (lock_fd < 0) */
};

static store_view *view_new(snapshot *snap) {
    store_view *v = xcalloc(1, sizeof *v);
    atomic_init(&v->refs, 1);
    v->snap = snap;
    return v;
}

const store_view *store_acquire(store *s) {
    pthread_mutex_lock(&s->view_lock);
    store_view *v = s->cur;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&s->view_lock);
    return v;
}

void store_release(const store_view *cv) {
    if (cv == NULL) return;
    store_view *v = (store_view *)cv; /* the count is the one mutable part */
    if (atomic_fetch_sub(&v->refs, 1) != 1) return;
    snap_unref(v->snap);
    free(v);
}

/* Take data_dir's writer lock: 0, or -1 naming the process that holds it. */
int store_lock_dir(const char *data_dir, int *fd_out, char *err, size_t errlen) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", data_dir, STORE_LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        return seterr(err, errlen, "%s is being written by another process (%s); stop it first",
                      data_dir, holder[0] ? holder : "unknown");
    }
    /* Who holds it, for the next one's message: "pid N: ragd serve …". */
    char who[256];
    int len = snprintf(who, sizeof who, "pid %ld: ", (long)getpid());
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (f) {
        size_t got = fread(who + len, 1, sizeof who - (size_t)len - 2, f);
        fclose(f);
        for (size_t i = 0; i < got; i++)
            if (who[len + (int)i] == '\0') who[len + (int)i] = ' ';
        len += (int)got;
    }
    who[len++] = '\n';
    if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)len, 0) != len) {
        /* The lock holds without the note; only the next message is vaguer. */
    }
    *fd_out = fd;
    return 0;
}

static store *open_store(const char *data_dir, const char *expected_model, bool writable,
                         char *err, size_t errlen) {
    int lock_fd = -1;
    char why[512] = "";
    if (writable && store_exists(data_dir) &&
        store_lock_dir(data_dir, &lock_fd, why, sizeof why) != 0)
        /* A second server on the same directory still answers searches; its
         * writes are refused (store_put says who holds the lock). */
        log_warn("store: %s; serving it read-only", why);
    snapshot *snap = snap_open(data_dir, expected_model, err, errlen);
    if (snap == NULL) {
        if (lock_fd >= 0) close(lock_fd);
        return NULL;
    }
    store *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(data_dir);
    s->lock_fd = lock_fd;
    snprintf(s->read_only_why, sizeof s->read_only_why, "%s",
             !writable ? "the store was opened read-only" : why);
    snprintf(s->model, sizeof s->model, "%s", snap_model(snap));
    pthread_mutex_init(&s->view_lock, NULL);
    s->cur = view_new(snap);
    return s;
}

store *store_open(const char *data_dir, const char *expected_model, char *err, size_t errlen) {
    return open_store(data_dir, expected_model, false, err, errlen);
}

store *store_open_writable(const char *data_dir, const char *expected_model, char *err,
                           size_t errlen) {
    return open_store(data_dir, expected_model, true, err, errlen);
}

void store_close(store *s) {
    if (s == NULL) return;
    store_release(s->cur);
    pthread_mutex_destroy(&s->view_lock);
    if (s->lock_fd >= 0) close(s->lock_fd); /* closing drops the flock */
    free(s->dir);
    free(s);
}

const char *store_model(const store_view *v) { return snap_model(v->snap); }
const char *store_model_of(const store *s) { return s->model; }
size_t store_passages_now(store *s) {
    const store_view *v = store_acquire(s);
    size_t n = store_count(v, NULL);
    store_release(v);
    return n;
}
int store_dim(const store_view *v) { return snap_dim(v->snap); }
size_t store_count(const store_view *v, const char *topic) { return snap_count(v->snap, topic); }
int store_topics(const store_view *v, const char *const **names) {
    return snap_topics(v->snap, names);
}
bool store_has_topic(const store_view *v, const char *topic) {
    return snap_has_topic(v->snap, topic);
}
int store_get(const store_view *v, uint32_t id, store_passage *out) {
    return snap_get(v->snap, id, out);
}
const float *store_vector(const store_view *v, uint32_t id) { return snap_vector(v->snap, id); }
int store_search(const store_view *v, const store_query *q, search_hit *hits, char *err,
                 size_t errlen) {
    return snap_search(v->snap, q, hits, err, errlen);
}
store_bm25_params store_bm25(const store_view *v) { return snap_bm25(v->snap); }
