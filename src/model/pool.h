/* pool — a small persistent thread pool for data-parallel loops.
 *
 * The forward pass runs ~40 parallel regions per call (one per matrix
 * product, attention and normalisation), so a region must start and end in
 * microseconds: the workers exist for the pool's lifetime, the caller works
 * too, tasks are handed out by one atomic counter, and idle workers spin
 * briefly before sleeping on a condition variable (the machine is shared, so
 * they never spin for long).
 *
 * pool_run() is for one caller at a time (the encoder is not reentrant).
 */
#ifndef RAGD_MODEL_POOL_H
#define RAGD_MODEL_POOL_H

typedef struct pool pool;

/* fn(ctx, task, thread) for task in [0, ntasks); thread in [0, nthreads). */
typedef void (*pool_fn)(void *ctx, int task, int thread);

/* nthreads counts the caller: 1 means no extra thread. */
pool *pool_create(int nthreads);
void pool_destroy(pool *p);
int pool_threads(const pool *p);

/* Run all tasks and return when every one has finished. */
void pool_run(pool *p, int ntasks, pool_fn fn, void *ctx);

#endif
