/* cmd_ingest — `ragd ingest`: the CSV corpus into the store (ingest.h), with
 * a progress bar on a terminal and a one-line summary on stdout. Running it
 * again is cheap (nothing is re-encoded); an interrupted run resumes. */
#include <stdio.h>

#include "app/commands.h"
#include "app/options.h"
#include "ingest/ingest.h"
#include "model/encoder.h"
#include "obs/log.h"
#include "util/util.h"

int cmd_ingest(int argc, char **argv) {
    const char *csv = "../shared/data/news-articles/Articles.csv";
    const char *data_dir = "./data";
    const char *model_dir = NULL;
    const char *level_name = "info";
    int batch = INGEST_DEFAULT_BATCH, threads = 0;
    bool progress = true;
    const option_spec specs[] = {
        {"csv", "RAGD_CSV", OPT_STRING, &csv, "the news corpus CSV", 0, 0},
        {"data-dir", "RAGD_DATA_DIR", OPT_STRING, &data_dir, "store directory", 0, 0},
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &model_dir,
         "all-MiniLM-L6-v2 folder (default: ./models, then ../shared/models)", 0, 0},
        {"batch", "RAGD_INGEST_BATCH", OPT_INT, &batch, "passages per encoder call", 1, 4096},
        {"threads", "RAGD_THREADS", OPT_INT, &threads, "encoder threads (0: one per core)", 0, 1024},
        {"log-level", "RAGD_LOG_LEVEL", OPT_STRING, &level_name, "debug, info, warn or error", 0, 0},
        {"progress", NULL, OPT_BOOL, &progress, "progress bar on a terminal (--no-progress: off)", 0, 0},
    };
    const command_info info = {"ingest", "",
                               "Read the CSV corpus, split it into passages, encode them and load "
                               "the store. Idempotent and resumable."};
    int npos;
    int rc = options_parse(&info, specs, (int)ARRAY_LEN(specs), argc, argv, &npos);
    if (rc != OPTIONS_OK) return rc == OPTIONS_HELP ? 0 : 2;
    log_level level;
    if (log_parse_level(level_name, &level) < 0) {
        fprintf(stderr, "ragd ingest: --log-level must be debug, info, warn or error, got '%s'\n",
                level_name);
        return 2;
    }
    log_set_level(level);
    if (npos) {
        fprintf(stderr, "ragd ingest: unexpected argument '%s' (see 'ragd ingest --help')\n", argv[1]);
        return 2;
    }
    if (!file_exists(csv)) { /* before the model loads: fail fast */
        fprintf(stderr, "ragd ingest: no CSV at %s (give --csv PATH or RAGD_CSV)\n", csv);
        return 1;
    }
    char err[1024];
    encoder *enc = encoder_open(model_dir, threads, err, sizeof err);
    if (!enc) {
        fprintf(stderr, "ragd ingest: %s\n", err);
        return 1;
    }
    ingest_summary sum;
    ingest_options o = {.csv_path = csv, .data_dir = data_dir, .batch_size = batch,
                        .progress = progress, .summary = &sum};
    rc = ingest_run(&o, enc, err, sizeof err);
    encoder_close(enc);
    if (rc < 0) {
        fprintf(stderr, "ragd ingest: %s\n", err);
        return 1;
    }
    printf("%ld articles (%ld duplicate texts skipped, %ld malformed rows) -> %ld passages: "
           "%ld encoded, %ld already stored; store holds %ld passages; %.1f s (encoding %.1f s",
           sum.articles, sum.duplicates, sum.malformed, sum.passages, sum.encoded, sum.already,
           sum.store_total, sum.seconds, sum.encode_seconds);
    if (sum.encoded && sum.encode_seconds > 0)
        printf(", %.1f passages/s", (double)sum.encoded / sum.encode_seconds);
    printf(")\n");
    return 0;
}
