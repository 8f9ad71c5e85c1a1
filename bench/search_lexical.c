/* bench_search_lexical — lexical (BM25) search throughput of the store on
 * real questions, one query at a time on one thread:
 *
 *   bench_search_lexical DIR QUESTIONS.jsonl [ROUNDS]
 *
 * DIR is a store of the corpus (bench_lexical_store or `ragd ingest`), the
 * file any JSONL with a "question" field (the eval set). Every question is
 * searched ROUNDS times (default 20) for its top 10, no article cap, so the
 * figure is the inverted index alone. Prints queries per CPU second (CPU
 * time of this process, so other load on the machine does not count) and
 * the mean microseconds per query. bench/retrieval.sh runs it on this
 * build and on a build of an older commit for a before/after ratio. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/documents.h"
#include "store/store.h"
#include "util/util.h"

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: bench_search_lexical DIR QUESTIONS.jsonl [ROUNDS]\n");
        return 2;
    }
    int rounds = argc == 4 ? atoi(argv[3]) : 20;
    if (rounds < 1) rounds = 1;
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char **qs = NULL, *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *q = json_string_value(json_object_get(o, "question"));
        if (q) {
            qs = xrealloc(qs, (size_t)(n + 1) * sizeof *qs);
            qs[n++] = xstrdup(q);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    char err[1024];
    store *st = store_open(argv[1], NULL, err, sizeof err);
    const store_view *s = st ? store_acquire(st) : NULL;
    if (!s) {
        fprintf(stderr, "bench_search_lexical: %s\n", err);
        return 1;
    }
    search_hit hits[10];
    long hits_total = 0;
    double t0 = cpu_seconds();
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            store_query q = {.text = qs[i], .text_len = strlen(qs[i]), .k = 10,
                             .mode = SEARCH_LEXICAL};
            int got = store_search(s, &q, hits, err, sizeof err);
            if (got < 0) {
                fprintf(stderr, "bench_search_lexical: %s\n", err);
                return 1;
            }
            hits_total += got;
        }
    double cpu = cpu_seconds() - t0;
    long queries = (long)rounds * n;
    printf("{\"queries\": %ld, \"cpu_seconds\": %.3f, \"qps_per_cpu\": %.1f, \"us_per_query\": %.1f, "
           "\"mean_hits\": %.2f}\n",
           queries, cpu, queries / cpu, cpu / queries * 1e6, (double)hits_total / queries);
    store_release(s);
    store_close(st);
    for (int i = 0; i < n; i++) free(qs[i]);
    free(qs);
    return 0;
}
