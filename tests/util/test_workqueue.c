/* test_workqueue — the bounded pool: every accepted job runs exactly once,
 * a full queue refuses at once (the 429 path), stop runs what was queued
 * before it joins, and a stopped queue refuses. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/util.h"
#include "util/workqueue.h"

enum { JOBS = 5000 };

static atomic_int runs[JOBS];

static void count_run(void *arg) { atomic_fetch_add(&runs[(intptr_t)arg], 1); }

static void every_job_runs_once(void **state) {
    workqueue *q = workqueue_start("test-wq", 4, JOBS);
    assert_non_null(q);
    for (intptr_t i = 0; i < JOBS; i++) atomic_store(&runs[i], 0);
    for (intptr_t i = 0; i < JOBS; i++) assert_int_equal(workqueue_push(q, count_run, (void *)i), 0);
    workqueue_stop(q); /* drains, then joins */
    for (int i = 0; i < JOBS; i++) assert_int_equal(atomic_load(&runs[i]), 1);
}

/* A job that blocks its worker until the test opens the gate. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int entered;
} gate;

static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static void wait_at_gate(void *arg) {
    pthread_mutex_lock(&the_gate.mu);
    the_gate.entered++;
    pthread_cond_broadcast(&the_gate.cv);
    while (!the_gate.open) pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    count_run(arg);
}

static void full_queue_refuses_at_once(void **state) {
    atomic_store(&runs[0], 0);
    workqueue *q = workqueue_start("test-wq", 1, 2);
    assert_non_null(q);
    assert_int_equal(workqueue_push(q, wait_at_gate, (void *)0), 0);
    /* Wait until the one worker holds that job: the queue is then empty. */
    pthread_mutex_lock(&the_gate.mu);
    while (the_gate.entered < 1) pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    assert_int_equal(workqueue_push(q, count_run, (void *)0), 0);
    assert_int_equal(workqueue_push(q, count_run, (void *)0), 0);
    assert_int_equal(workqueue_depth(q), 2);
    assert_int_equal(workqueue_push(q, count_run, (void *)0), -1); /* full: refused, not queued */
    pthread_mutex_lock(&the_gate.mu);
    the_gate.open = true;
    pthread_cond_broadcast(&the_gate.cv);
    pthread_mutex_unlock(&the_gate.mu);
    workqueue_stop(q);
    assert_int_equal(atomic_load(&runs[0]), 3); /* the gate job and the two queued */
}

static void stop_of_nothing_is_fine(void **state) {
    workqueue_stop(NULL);
    workqueue *q = workqueue_start("test-wq", 3, 0); /* 0: the default capacity */
    assert_non_null(q);
    assert_int_equal(workqueue_depth(q), 0);
    workqueue_stop(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_job_runs_once),
        cmocka_unit_test(full_queue_refuses_at_once),
        cmocka_unit_test(stop_of_nothing_is_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
