/* doclog — documents.log: append, group commit, replay, rotation; see doclog.h. */
#include "store/doclog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obs/log.h"
#include "store/builder.h"
#include "store/format.h"
#include "util/util.h"

#define DOC_LOG_MAGIC "RAGDDLOG"
#define DOC_LOG_VERSION 1

typedef struct disk_doclog_header {
    char magic[8];
    uint32_t version;
    uint32_t dim;
    char model[MODEL_ID_MAX];
    uint64_t log_id;
    uint32_t crc; /* CRC32 of the bytes above */
    uint32_t reserved;
} disk_doclog_header;

struct doclog {
    char *dir;
    char path[PATH_MAX];
    int fd;
    char model[MODEL_ID_MAX + 1];
    int dim;
    uint64_t id;
    pthread_mutex_t lock; /* appends and the group-commit state */
    pthread_cond_t synced_cond;
    uint64_t end, synced; /* bytes written / bytes known durable */
    bool syncing;         /* a leader is in fsync */
    int sync_error;       /* errno of a failed fsync: the log is unusable for writes */
    uint64_t fsyncs;
};

static int write_header(int fd, const char *model, int dim, uint64_t id) {
    disk_doclog_header h = {0};
    memcpy(h.magic, DOC_LOG_MAGIC, 8);
    h.version = DOC_LOG_VERSION;
    h.dim = (uint32_t)dim;
    memcpy(h.model, model, strlen(model));
    h.log_id = id;
    h.crc = store_crc32(&h, offsetof(disk_doclog_header, crc));
    if (ftruncate(fd, 0) != 0 || pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || fsync(fd) != 0)
        return -1;
    return 0;
}

/* A new log of generation id at path (via a .tmp and rename): its fd, or -1. */
static int create_log(doclog *l, uint64_t id, char *err, size_t errlen) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s", l->dir, DOC_LOG_TMP_FILE);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write_header(fd, l->model, l->dim, id) != 0 || rename(tmp, l->path) != 0) {
        seterr(err, errlen, "cannot create %s: %s", l->path, strerror(errno));
        if (fd >= 0) close(fd);
        unlink(tmp);
        return -1;
    }
    if (store_fsync_dir(l->dir, err, errlen) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Length of the intact record at off, or 0 (torn, corrupt, or the end). */
static size_t record_at(const uint8_t *m, size_t size, size_t off, const uint8_t **payload,
                        size_t *plen) {
    disk_log_record h;
    if (size - off < sizeof h) return 0;
    memcpy(&h, m + off, sizeof h);
    if (h.magic != LOG_RECORD_MAGIC ||
        store_crc32(&h, offsetof(disk_log_record, header_crc)) != h.header_crc ||
        h.payload_len > size - off - sizeof h ||
        store_crc32(m + off + sizeof h, h.payload_len) != h.payload_crc)
        return 0;
    *payload = m + off + sizeof h;
    *plen = h.payload_len;
    return sizeof h + h.payload_len;
}

doclog *doclog_open(const char *data_dir, const char *model, int dim, uint64_t snap_id,
                    uint64_t snap_bytes, bool writable, doclog_replay_fn fn, void *ctx,
                    char *err, size_t errlen) {
    doclog *l = xcalloc(1, sizeof *l);
    l->dir = xstrdup(data_dir);
    snprintf(l->path, sizeof l->path, "%s/%s", data_dir, DOC_LOG_FILE);
    snprintf(l->model, sizeof l->model, "%s", model);
    l->dim = dim;
    l->fd = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->synced_cond, NULL);
    l->fd = open(l->path, (writable ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC);
    if (l->fd < 0 && errno != ENOENT) {
        seterr(err, errlen, "cannot open %s: %s", l->path, strerror(errno));
        goto fail;
    }
    if (l->fd < 0) {
        l->id = snap_id + 1;
        l->end = l->synced = sizeof(disk_doclog_header);
        if (writable && (l->fd = create_log(l, l->id, err, errlen)) < 0) goto fail;
        return l;
    }
    struct stat st;
    if (fstat(l->fd, &st) != 0) {
        seterr(err, errlen, "cannot stat %s: %s", l->path, strerror(errno));
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    disk_doclog_header h;
    if (size < sizeof h || pread(l->fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, DOC_LOG_MAGIC, 8) != 0 ||
        store_crc32(&h, offsetof(disk_doclog_header, crc)) != h.crc) {
        if (size < sizeof h && writable) {
            /* Torn while being created: nothing was ever acknowledged from it. */
            close(l->fd);
            l->id = snap_id + 1;
            l->end = l->synced = sizeof h;
            if ((l->fd = create_log(l, l->id, err, errlen)) < 0) goto fail;
            return l;
        }
        seterr(err, errlen, "%s is not a ragd documents log or its header is corrupted", l->path);
        goto fail;
    }
    char hmodel[MODEL_ID_MAX + 1];
    memcpy(hmodel, h.model, MODEL_ID_MAX);
    hmodel[MODEL_ID_MAX] = '\0';
    if (h.version != DOC_LOG_VERSION || (int)h.dim != dim || strcmp(hmodel, model) != 0) {
        seterr(err, errlen, "%s was written for model \"%s\" (dim %u, version %u), not this store's",
               l->path, hmodel, h.dim, h.version);
        goto fail;
    }
    l->id = h.log_id;
    size_t off = sizeof h;
    if (h.log_id == snap_id) off = snap_bytes;
    else if (h.log_id < snap_id) off = size; /* older than the snapshot: all covered */
    if (off < sizeof h || off > size) {
        seterr(err, errlen, "%s is shorter than the snapshot says it covered", l->path);
        goto fail;
    }
    if (size > off) {
        void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, l->fd, 0);
        if (map == MAP_FAILED) {
            seterr(err, errlen, "cannot map %s: %s", l->path, strerror(errno));
            goto fail;
        }
        const uint8_t *payload;
        size_t plen, len;
        int rc = 0;
        while (rc == 0 && (len = record_at(map, size, off, &payload, &plen)) > 0) {
            rc = fn(ctx, payload, plen, err, errlen);
            if (rc == 0) off += len;
        }
        munmap(map, size);
        if (rc != 0) goto fail;
    }
    if (off < size) {
        log_warn("%s: discarding %zu bytes of a torn or corrupt tail (an interrupted write, "
                 "never acknowledged)", l->path, size - off);
        if (writable && (ftruncate(l->fd, (off_t)off) != 0 || fsync(l->fd) != 0)) {
            seterr(err, errlen, "cannot truncate %s: %s", l->path, strerror(errno));
            goto fail;
        }
    }
    l->end = l->synced = off;
    return l;
fail:
    doclog_close(l);
    return NULL;
}

void doclog_close(doclog *l) {
    if (l == NULL) return;
    if (l->fd >= 0) close(l->fd);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->synced_cond);
    free(l->dir);
    free(l);
}

int doclog_append(doclog *l, const void *payload, size_t len, uint64_t *end, char *err,
                  size_t errlen) {
    if (len > UINT32_MAX - sizeof(disk_log_record))
        return seterr(err, errlen, "record too large for %s", l->path);
    disk_log_record h = {.magic = LOG_RECORD_MAGIC, .payload_len = (uint32_t)len,
                         .payload_crc = store_crc32(payload, len)};
    h.header_crc = store_crc32(&h, offsetof(disk_log_record, header_crc));
    pthread_mutex_lock(&l->lock);
    int rc = 0;
    if (l->sync_error) {
        rc = seterr(err, errlen, "%s failed to sync earlier (%s); restart to recover", l->path,
                    strerror(l->sync_error));
    } else {
        struct iovec_like { const void *p; size_t n; } parts[2] = {{&h, sizeof h}, {payload, len}};
        for (int i = 0; i < 2 && rc == 0; i++)
            if (store_write_all(l->fd, parts[i].p, parts[i].n) != 0) rc = -1;
        if (rc != 0) {
            int e = errno;
            if (ftruncate(l->fd, (off_t)l->end) != 0) log_error("cannot cut %s back: %s", l->path, strerror(errno));
            seterr(err, errlen, "cannot append to %s: %s", l->path, strerror(e));
        } else {
            l->end += sizeof h + len;
            *end = l->end;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int doclog_sync(doclog *l, uint64_t upto, char *err, size_t errlen) {
    int led = 0;
    pthread_mutex_lock(&l->lock);
    while (l->synced < upto && !l->sync_error) {
        if (l->syncing) {
            pthread_cond_wait(&l->synced_cond, &l->lock);
            continue;
        }
        /* Leader: everything appended so far becomes durable with this fsync. */
        l->syncing = true;
        uint64_t target = l->end;
        pthread_mutex_unlock(&l->lock);
        int rc = fdatasync(l->fd);
        int e = errno;
        pthread_mutex_lock(&l->lock);
        l->syncing = false;
        l->fsyncs++;
        led++;
        if (rc != 0) l->sync_error = e ? e : EIO;
        else if (target > l->synced) l->synced = target;
        pthread_cond_broadcast(&l->synced_cond);
    }
    int rc = led;
    if (l->synced < upto)
        rc = seterr(err, errlen, "cannot fsync %s: %s", l->path, strerror(l->sync_error));
    pthread_mutex_unlock(&l->lock);
    return rc;
}

uint64_t doclog_id(const doclog *l) { return l->id; }

uint64_t doclog_end(doclog *l) {
    pthread_mutex_lock(&l->lock);
    uint64_t e = l->end;
    pthread_mutex_unlock(&l->lock);
    return e;
}

uint64_t doclog_fsyncs(doclog *l) {
    pthread_mutex_lock(&l->lock);
    uint64_t n = l->fsyncs;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int doclog_rotate(doclog *l, char *err, size_t errlen) {
    int fd = create_log(l, l->id + 1, err, errlen);
    if (fd < 0) return -1;
    pthread_mutex_lock(&l->lock);
    close(l->fd);
    l->fd = fd;
    l->id++;
    l->end = l->synced = sizeof(disk_doclog_header);
    pthread_mutex_unlock(&l->lock);
    return 0;
}
