/* pool — see pool.h.
 *
 * One 64-bit atomic `ticket` holds the region's generation (high half) and
 * the number of its tasks not yet claimed (low half). A region is published
 * by storing a new generation with all its tasks unclaimed (under the mutex,
 * so a sleeping worker cannot miss it); participants claim a task by
 * compare-and-swap of the whole word, which fails for a worker still holding
 * an older generation, so a straggler from the last region can never run a
 * task of this one with the wrong function or count.
 *
 * The invariant that makes this true: whether a task is left to claim is
 * decided from the ticket word alone. The region's fn, ctx and ntasks are
 * plain fields written before the ticket is published and read only after a
 * claim of that generation succeeded (the CAS acquires the publishing store).
 * An earlier version kept "next task" in the ticket and compared it with a
 * separate ntasks field before the CAS: a worker that had just seen every
 * task of region g claimed could read the ntasks the caller had already
 * written for region g+1 — before g+1's ticket was out — find "a task left",
 * win the CAS on g's unchanged ticket, and run task ntasks(g) with g+1's
 * function and context. That task then ran twice, and its extra `done` let
 * the caller return while a task was still writing the activations: wrong
 * vectors under load (test_pool reproduces it).
 *
 * `done` counts finished tasks, and the caller returns once done == ntasks,
 * so no task is still running when the buffers it writes are read. */
#include "model/pool.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "util/util.h"

/* How long an idle worker polls before sleeping: long enough to bridge the
 * gap between two regions of one forward pass (a few microseconds), short
 * enough not to steal a shared core from other processes. */
#define SPIN_ROUNDS 4000

struct pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_ullong ticket; /* generation << 32 | tasks not yet claimed */
    atomic_int done;
    unsigned generation; /* the caller's count of regions */
    /* the region: written before its ticket, read only after a claim of it */
    pool_fn fn;
    void *ctx;
    int ntasks;
    bool stop;
    atomic_bool running; /* a pool_run is under way: there is one caller at a time */
};

typedef struct worker_arg {
    pool *p;
    int index;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline unsigned generation_of(unsigned long long ticket) { return (unsigned)(ticket >> 32); }

static void work(pool *p, unsigned generation, int thread) {
    unsigned long long v = atomic_load_explicit(&p->ticket, memory_order_acquire);
    for (;;) {
        if (generation_of(v) != generation) return;
        unsigned unclaimed = (unsigned)v;
        if (unclaimed == 0) return; /* from the ticket alone: see the top of this file */
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &v, v - 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        /* claimed: this generation's fields are visible now, and stay put
         * until its last task is done */
        int t = p->ntasks - (int)unclaimed;
        assert(t >= 0 && t < p->ntasks);
        p->fn(p->ctx, t, thread);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        v = atomic_load_explicit(&p->ticket, memory_order_acquire);
    }
}

static void *worker_main(void *argp) {
    worker_arg *arg = argp;
    pool *p = arg->p;
    int index = arg->index;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned g = generation_of(atomic_load_explicit(&p->ticket, memory_order_acquire));
        for (int i = 0; g == seen && i < SPIN_ROUNDS; i++) {
            cpu_relax();
            g = generation_of(atomic_load_explicit(&p->ticket, memory_order_acquire));
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = generation_of(atomic_load_explicit(&p->ticket, memory_order_acquire))) ==
                       seen &&
                   !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = g;
        work(p, g, index);
    }
}

pool *pool_create(int nthreads) {
    pool *p = xcalloc(1, sizeof *p);
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = xcalloc((size_t)p->nthreads, sizeof *p->threads);
    for (int i = 1; i < p->nthreads; i++) {
        worker_arg *arg = xmalloc(sizeof *arg);
        arg->p = p;
        arg->index = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, arg)) {
            free(arg);
            p->nthreads = i; /* run with the threads we got */
            break;
        }
    }
    return p;
}

void pool_destroy(pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int pool_threads(const pool *p) { return p->nthreads; }

void pool_run(pool *p, int ntasks, pool_fn fn, void *ctx) {
    if (ntasks <= 0) return;
    bool already_running = atomic_exchange_explicit(&p->running, true, memory_order_acquire);
    assert(!already_running && "pool_run has one caller at a time (pool.h)");
    (void)already_running;
    if (p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        atomic_store_explicit(&p->running, false, memory_order_release);
        return;
    }
    /* every task of the last region was claimed (it returned): no claim
     * can succeed until the new ticket is out, so these plain writes race
     * with no reader */
    assert((unsigned)atomic_load_explicit(&p->ticket, memory_order_relaxed) == 0);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    unsigned g = ++p->generation;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->ticket, (unsigned long long)g << 32 | (unsigned)ntasks,
                          memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, g, 0);
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < ntasks; i++) {
        if (i < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield(); /* a worker was descheduled mid-task: let it run */
    }
    atomic_store_explicit(&p->running, false, memory_order_release);
}
