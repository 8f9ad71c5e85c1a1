/* eval_metrics — R@n, MRR@10 and nDCG@10 for one relevant article; see eval_metrics.h. */
#include "app/eval_metrics.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int eval_first_rank(const char *const *ids, int n, const char *target) {
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], target) == 0) return i + 1;
    return 0;
}

void eval_add(eval_totals *t, int rank) {
    assert(rank >= 0);
    t->n++;
    if (rank == 0) return;
    t->r1 += rank <= 1;
    t->r5 += rank <= 5;
    t->r10 += rank <= 10;
    if (rank <= 10) {
        t->mrr10 += 1.0 / rank;
        t->ndcg10 += 1.0 / log2(rank + 1.0);
    }
}

eval_totals eval_mean(const eval_totals *t) {
    eval_totals m = {.n = t->n};
    if (t->n == 0) return m;
    m.r1 = t->r1 / t->n;
    m.r5 = t->r5 / t->n;
    m.r10 = t->r10 / t->n;
    m.mrr10 = t->mrr10 / t->n;
    m.ndcg10 = t->ndcg10 / t->n;
    return m;
}
