/* workqueue — see workqueue.h. A ring buffer of jobs under one mutex; the
 * jobs here are milliseconds long, so one lock is never the bottleneck. */
#include "util/workqueue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

typedef struct job {
    work_fn fn;
    void *arg;
} job;

struct workqueue {
    pthread_mutex_t mu;
    pthread_cond_t ready;
    job *ring;
    int cap, head, count;
    bool stopping;
    int nthreads;
    pthread_t *threads;
    char name[16];
};

static void *worker(void *arg) {
    workqueue *q = arg;
    pthread_setname_np(pthread_self(), q->name);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->count && !q->stopping) pthread_cond_wait(&q->ready, &q->mu);
        if (!q->count) break; /* stopping and drained */
        job j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_mutex_unlock(&q->mu);
        j.fn(j.arg);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

workqueue *workqueue_start(const char *name, int threads, int max_queued) {
    workqueue *q = xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->cap = max_queued > 0 ? max_queued : 1024;
    q->ring = xcalloc((size_t)q->cap, sizeof *q->ring);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->nthreads = threads > 0 ? threads : 1;
    q->threads = xcalloc((size_t)q->nthreads, sizeof *q->threads);
    for (int i = 0; i < q->nthreads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0) {
            q->nthreads = i; /* join the ones that did start */
            workqueue_stop(q);
            return NULL;
        }
    }
    return q;
}

int workqueue_push(workqueue *q, work_fn fn, void *arg) {
    pthread_mutex_lock(&q->mu);
    if (q->stopping || q->count == q->cap) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    q->ring[(q->head + q->count) % q->cap] = (job){fn, arg};
    q->count++;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int workqueue_depth(workqueue *q) {
    pthread_mutex_lock(&q->mu);
    int n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void workqueue_stop(workqueue *q) {
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++) pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->mu);
    free(q->threads);
    free(q->ring);
    free(q);
}
