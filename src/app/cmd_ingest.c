/* cmd_ingest — `ragd ingest`: the CSV corpus into the store (ingest.h), with
 * a progress bar on a terminal and a one-line summary on stdout. Running it
 * again is cheap (nothing is re-encoded); an interrupted run resumes.
 * With --url it pushes the CSV to a running server's POST /documents
 * instead (ingest_push.h): no model and no data directory here. With
 * --store-url it loads a PostgreSQL database instead of a data directory
 * (pg_ingest.h), as idempotent and resumable. */
#include <stdio.h>

#include "app/commands.h"
#include "app/ingest_push.h"
#include "app/pg_ingest.h"
#include "app/store_open.h"
#include "app/role.h"
#include "ingest/ingest.h"
#include "model/encoder.h"
#include "obs/log.h"
#include "util/util.h"

/* `ragd ingest --url`: the exit status. */
static int push(const char *csv, const char *url, const char *api_key, int batch_documents,
                bool progress, double timeout_s) {
    ingest_push_options o = {.csv_path = csv, .url = url, .api_key = api_key,
                             .batch_documents = batch_documents, .progress = progress,
                             .timeout_s = timeout_s};
    ingest_push_summary sum;
    char err[1024];
    int rc = ingest_push(&o, &sum, err, sizeof err);
    printf("%ld articles (%ld duplicate texts skipped, %ld malformed rows) -> %ld stored by %s "
           "(%ld new, %ld passages); %.1f s\n",
           sum.articles, sum.duplicates, sum.malformed, sum.sent, url, sum.created, sum.passages,
           sum.seconds);
    if (rc < 0) {
        fprintf(stderr, "ragd ingest: %s (run it again to resume: writes are idempotent)\n", err);
        return 1;
    }
    return 0;
}

/* `ragd ingest --store-url`: the exit status. From the CSV with enc, or
 * (enc NULL) from the embedded store in from_dir. */
static int into_database(const store_opts *so, const char *csv, const char *from_dir, encoder *enc,
                         int batch, bool progress) {
    char err[1024];
    int status = 1;
    const char *model = NULL;
    store *src = NULL;
    if (enc) {
        model = encoder_identity(encoder_get_info(enc));
    } else { /* the data directory's model is the database's */
        if (!(src = store_open(from_dir, NULL, err, sizeof err))) {
            fprintf(stderr, "ragd ingest: %s\n", err);
            return 1;
        }
        model = store_model_of(src);
    }
    store *st = store_opts_open(so, model, true, err, sizeof err, &status);
    store_close(src);
    if (!st) {
        fprintf(stderr, "ragd ingest: %s\n", err);
        return status;
    }
    pg_ingest_summary sum;
    pg_ingest_options o = {.csv_path = csv, .batch_size = batch, .progress = progress,
                           .summary = &sum};
    int rc = enc ? pg_ingest_run(&o, enc, st, err, sizeof err)
                 : pg_ingest_copy(from_dir, st, progress, &sum, err, sizeof err);
    store_close(st);
    if (rc < 0) {
        fprintf(stderr, "ragd ingest: %s (run it again to resume: what was loaded stays)\n", err);
        return 1;
    }
    char where[300];
    store_opts_where(so, where, sizeof where);
    if (!enc) {
        printf("%ld articles in %s -> %ld already in the %s, %ld copied; it holds %ld passages; "
               "%.1f s\n",
               sum.articles, from_dir, sum.present, where, sum.loaded, sum.store_total, sum.seconds);
        return 0;
    }
    printf("%ld articles (%ld duplicate texts skipped, %ld malformed rows) -> %ld already in the "
           "%s, %ld loaded (%ld passages encoded); it holds %ld passages; %.1f s (encoding %.1f s",
           sum.articles, sum.duplicates, sum.malformed, sum.present, where, sum.loaded, sum.encoded,
           sum.store_total, sum.seconds, sum.encode_seconds);
    if (sum.encoded && sum.encode_seconds > 0)
        printf(", %.1f passages/s", (double)sum.encoded / sum.encode_seconds);
    printf(")\n");
    return 0;
}

int cmd_ingest(int argc, char **argv) {
    const char *csv = "../shared/data/news-articles/Articles.csv";
    const char *model_dir = NULL;
    int batch = INGEST_DEFAULT_BATCH, threads = 0;
    bool progress = true;
    const char *url = NULL, *api_key = NULL, *from_dir = NULL;
    int batch_documents = INGEST_PUSH_DEFAULT_BATCH;
    double timeout_s = 300;
    const option_spec specs[] = {
        {"csv", "RAGD_CSV", OPT_STRING, &csv, "the news corpus CSV", 0, 0},
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &model_dir,
         "all-MiniLM-L6-v2 folder (default: ./models, then ../shared/models)", 0, 0},
        {"batch", "RAGD_INGEST_BATCH", OPT_INT, &batch, "passages per encoder call", 1, 4096},
        {"threads", "RAGD_THREADS", OPT_INT, &threads, "encoder threads (0: one per core)", 0, 1024},
        {"progress", NULL, OPT_BOOL, &progress, "progress bar on a terminal (--no-progress: off)", 0, 0},
        {"url", "RAGD_INGEST_URL", OPT_STRING, &url,
         "push the CSV to a running server (http://host:8000) through POST /documents instead", 0, 0},
        {"api-key", "RAGD_API_KEY", OPT_STRING, &api_key, "with --url: sent as 'Authorization: Bearer KEY'", 0, 0},
        {"batch-documents", "RAGD_INGEST_BATCH_DOCUMENTS", OPT_INT, &batch_documents,
         "with --url: articles per POST /documents", 1, 100000},
        {"timeout", "RAGD_INGEST_TIMEOUT", OPT_DOUBLE, &timeout_s,
         "with --url: seconds one POST may take (0: no limit)", 0, 0},
        {"from-data-dir", NULL, OPT_STRING, &from_dir,
         "with --store-url: copy this embedded store's articles, passages and vectors into the "
         "database instead of reading the CSV (nothing is encoded)", 0, 0},
    };
    role r;
    role_init(&r, "ingest", "",
              "Read the CSV corpus, split it into passages, encode them and load the store. "
              "Idempotent and resumable.");
    options_add_all(&r.options, specs, ARRAY_LEN(specs));
    store_opts so;
    store_opts_add(&r.options, &so, "store directory");
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
    if (store_opts_check(&so, "ingest") < 0) return role_end(&r, 2);
    if (from_dir && *from_dir) {
        if (!store_opts_on_server(&so)) {
            fprintf(stderr, "ragd ingest: --from-data-dir copies into a database: give --store-url\n");
            return role_end(&r, 2);
        }
        return role_end(&r, into_database(&so, NULL, from_dir, NULL, batch, progress));
    }
    if (!file_exists(csv)) { /* before the model loads: fail fast */
        fprintf(stderr, "ragd ingest: no CSV at %s (give --csv PATH or RAGD_CSV)\n", csv);
        return role_end(&r, 1);
    }
    char err[1024];
    if (url && *url) return role_end(&r, push(csv, url, api_key, batch_documents, progress, timeout_s));
    encoder *enc = encoder_open(model_dir, threads, err, sizeof err);
    if (!enc) {
        fprintf(stderr, "ragd ingest: %s\n", err);
        return role_end(&r, 1);
    }
    if (store_opts_on_server(&so)) {
        int status = into_database(&so, csv, NULL, enc, batch, progress);
        encoder_close(enc);
        return role_end(&r, status);
    }
    ingest_summary sum;
    ingest_options o = {.csv_path = csv, .data_dir = so.data_dir, .batch_size = batch,
                        .progress = progress, .summary = &sum};
    int rc = ingest_run(&o, enc, err, sizeof err);
    encoder_close(enc);
    if (rc < 0) {
        fprintf(stderr, "ragd ingest: %s\n", err);
        return role_end(&r, 1);
    }
    printf("%ld articles (%ld duplicate texts skipped, %ld malformed rows) -> %ld passages: "
           "%ld encoded, %ld already stored; store holds %ld passages; %.1f s (encoding %.1f s",
           sum.articles, sum.duplicates, sum.malformed, sum.passages, sum.encoded, sum.already,
           sum.store_total, sum.seconds, sum.encode_seconds);
    if (sum.encoded && sum.encode_seconds > 0)
        printf(", %.1f passages/s", (double)sum.encoded / sum.encode_seconds);
    printf(")\n");
    return role_end(&r, 0);
}
