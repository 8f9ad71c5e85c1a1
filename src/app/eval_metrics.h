/* eval_metrics — the retrieval metrics of `ragd eval` (cmd_eval.c), for
 * questions that each have one relevant article: a question's rank is the
 * 1-based position of the first source from its article among the top k
 * (0: not found), and
 *   R@n      share of questions with 0 < rank <= n
 *   MRR@10   mean of 1/rank over questions with rank <= 10 (0 otherwise)
 *   nDCG@10  mean of 1/log2(rank + 1) over rank <= 10: with one relevant
 *            article the ideal DCG is 1, and later sources of the same
 *            article gain nothing (binary relevance, counted once). */
#ifndef RAGD_APP_EVAL_METRICS_H
#define RAGD_APP_EVAL_METRICS_H

typedef struct eval_totals {
    int n;
    double r1, r5, r10, mrr10, ndcg10; /* sums; divide by n (eval_mean) */
} eval_totals;

/* The first position (1-based) of target among ids[0..n), 0 if absent. */
int eval_first_rank(const char *const *ids, int n, const char *target);
/* Count one question whose relevant article came at rank (0: absent). */
void eval_add(eval_totals *t, int rank);
/* Means over the questions added; all 0 when none were. */
eval_totals eval_mean(const eval_totals *t);

#endif
