/* test_pool — the encoder's thread pool runs every task of a region exactly
 * once, with that region's function and context, and returns only when all
 * of them have finished.
 *
 * The regression this guards: a worker that saw the last task of one region
 * claimed could read the *next* region's task count (written by the caller
 * before it published the new generation) and claim a task of the old
 * generation that did not exist, then run it with the new region's function
 * or context — and its extra `done` made the caller return while a task was
 * still running. Under load that gave wrong encoder vectors (cosine 0.2).
 * Here many tiny back-to-back regions of growing task counts make exactly
 * that hand-over frequent; every region keeps its own counters until the end,
 * so a task run late, twice, out of range or in the wrong region is counted
 * whenever it happens. No timing is measured: the checks are exact counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "model/pool.h"

#define REGIONS 1000000
#define SLOTS 1024 /* regions are kept this long before their slot is reused */
#define MAX_TASKS 12
#define THREADS 4

typedef struct region {
    int ntasks;
    atomic_int open;            /* 1 while its pool_run is under way */
    atomic_int runs[MAX_TASKS]; /* how many times each task ran */
    bool wrong_on_return;       /* already counted when its pool_run returned */
} region;

static atomic_int strays; /* tasks run outside their region's pool_run or range */
static atomic_int bad_threads;

static void spin_a_little(int t) {
    volatile unsigned x = (unsigned)t;
    for (int i = 0; i < 50; i++) x = x * 1664525u + 1013904223u;
}

static void region_task(void *ctx, int task, int thread) {
    region *r = ctx;
    if (thread < 0 || thread >= THREADS) atomic_fetch_add(&bad_threads, 1);
    if (task < 0 || task >= r->ntasks || !atomic_load(&r->open)) {
        atomic_fetch_add(&strays, 1);
        return;
    }
    atomic_fetch_add(&r->runs[task], 1);
    spin_a_little(task);
}

/* Tasks of r that did not run exactly once. */
static int wrong_runs(region *r) {
    int wrong = 0;
    for (int t = 0; t < MAX_TASKS; t++)
        wrong += atomic_load(&r->runs[t]) != (t < r->ntasks);
    return wrong;
}

static void test_every_task_once_in_its_region(void **state) {
    (void)state;
    static region slots[SLOTS];
    pool *p = pool_create(THREADS);
    assert_int_equal(pool_threads(p), THREADS);
    int wrong_on_return = 0, wrong_later = 0;
    for (int i = 0; i < REGIONS; i++) {
        region *r = &slots[i % SLOTS];
        /* a task that ran (again) after its pool_run returned */
        if (i >= SLOTS) wrong_later += !r->wrong_on_return && wrong_runs(r) > 0;
        /* growing counts within a cycle (2..12, never 1, which runs inline):
         * the new count exceeds the old one, which is what let a straggler
         * claim a task that did not exist */
        r->ntasks = 2 + i % (MAX_TASKS - 1);
        for (int t = 0; t < MAX_TASKS; t++) atomic_store(&r->runs[t], 0);
        atomic_store(&r->open, 1);
        pool_run(p, r->ntasks, region_task, r);
        atomic_store(&r->open, 0);
        r->wrong_on_return = wrong_runs(r) > 0;
        wrong_on_return += r->wrong_on_return;
    }
    pool_destroy(p); /* joins the workers: nothing runs after this */
    for (int s = 0; s < SLOTS; s++)
        wrong_later += !slots[s].wrong_on_return && wrong_runs(&slots[s]) > 0;
    printf("%d regions on %d threads: %d regions wrong when pool_run returned, %d changed "
           "later, %d tasks run outside their region\n",
           REGIONS, THREADS, wrong_on_return, wrong_later, atomic_load(&strays));
    assert_int_equal(atomic_load(&bad_threads), 0);
    assert_int_equal(atomic_load(&strays), 0);
    assert_int_equal(wrong_on_return, 0);
    assert_int_equal(wrong_later, 0);
}

/* One thread, or one task: run inline, in order, on thread 0. */
static int inline_order[8], inline_count;
static void record_task(void *ctx, int task, int thread) {
    (void)ctx;
    assert_int_equal(thread, 0);
    inline_order[inline_count++] = task;
}

static void test_single_thread_runs_inline(void **state) {
    (void)state;
    pool *p = pool_create(1);
    assert_int_equal(pool_threads(p), 1);
    inline_count = 0;
    pool_run(p, 5, record_task, NULL);
    assert_int_equal(inline_count, 5);
    for (int t = 0; t < 5; t++) assert_int_equal(inline_order[t], t);
    pool_run(p, 0, record_task, NULL); /* nothing to do */
    assert_int_equal(inline_count, 5);
    pool_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_task_once_in_its_region),
        cmocka_unit_test(test_single_thread_runs_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
