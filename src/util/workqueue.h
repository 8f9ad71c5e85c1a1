/* workqueue — a fixed pool of threads running jobs from a bounded FIFO.
 *
 * Bounded on purpose: when the queue is full workqueue_push() fails at once
 * and the caller answers 429 with Retry-After, instead of letting latency grow
 * without limit under overload (the queue depth is a metric too). */
#ifndef RAGD_UTIL_WORKQUEUE_H
#define RAGD_UTIL_WORKQUEUE_H

typedef struct workqueue workqueue;
typedef void (*work_fn)(void *arg);

/* name is for logs and thread names (<= 15 chars). NULL if a thread cannot
 * be started (the ones that did are joined). */
workqueue *workqueue_start(const char *name, int threads, int max_queued);
/* 0 queued, -1 queue full (or stopping). */
int workqueue_push(workqueue *q, work_fn fn, void *arg);
int workqueue_depth(workqueue *q);
/* Run what is queued, then join the threads and free the pool. */
void workqueue_stop(workqueue *q);

#endif
