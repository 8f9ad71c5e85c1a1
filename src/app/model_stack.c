/* model_stack — see model_stack.h. */
#include "app/model_stack.h"

#include <stdio.h>
#include <string.h>

#include "obs/log.h"

void encoder_opts_defaults(encoder_opts *o) {
    *o = (encoder_opts){.model_dir = NULL, .threads = 0, .max_batch_tokens = 8192,
                        .batch_wait_us = 0, .max_queue = 4096, .max_texts = 256,
                        .max_text_kb = 64, .llm_workers = 32, .query_precision = "auto"};
}

void encoder_opts_specs(encoder_opts *o, option_spec *s) {
    s[0] = (option_spec){"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &o->model_dir, "model folder (default: ./models/all-MiniLM-L6-v2, then ../shared/models/…)", 0, 0};
    s[1] = (option_spec){"threads", "RAGD_THREADS", OPT_INT, &o->threads, "encoder threads (0: one per core)", 0, 256};
    s[2] = (option_spec){"max-batch-tokens", "RAGD_MAX_BATCH_TOKENS", OPT_INT, &o->max_batch_tokens, "padded tokens per encoder call", 256, 1 << 20};
    s[3] = (option_spec){"batch-wait-us", "RAGD_BATCH_WAIT_US", OPT_INT, &o->batch_wait_us, "wait this long to gather a batch (0: batch only what queued meanwhile)", 0, 1000000};
    s[4] = (option_spec){"max-queue", "RAGD_MAX_QUEUE", OPT_INT, &o->max_queue, "texts waiting for the encoder before 429", 1, 1 << 20};
    s[5] = (option_spec){"max-texts", "RAGD_MAX_TEXTS", OPT_INT, &o->max_texts, "texts per /encode request (413 past it)", 1, 65536};
    s[6] = (option_spec){"max-text-kb", "RAGD_MAX_TEXT_KB", OPT_INT, &o->max_text_kb, "KiB per text (413 past it)", 1, 1 << 16};
    s[7] = (option_spec){"llm-workers", "RAGD_LLM_WORKERS", OPT_INT, &o->llm_workers, "threads answering /llm_ask", 1, 1024};
    s[8] = (option_spec){"query-precision", "RAGD_QUERY_PRECISION", OPT_STRING, &o->query_precision, "precision of the question vector in ragd serve's /ask: auto (int16 on AVX2 CPUs without AVX-512, else fp32), fp32, int16 or int8 (AVX-512 VNNI); /encode and stored passages are always fp32", 0, 0};
}

int model_stack_open(model_stack *m, const encoder_opts *eo, const llm_opts *lo, const char *cmd) {
    memset(m, 0, sizeof *m);
    char err[512];
    if (encoder_precision_parse(eo->query_precision, &m->query_precision)) {
        log_error("ragd %s: --query-precision must be auto, fp32, int16 or int8, not '%s'", cmd,
                  eo->query_precision ? eo->query_precision : "");
        return -1;
    }
    m->encoder = encoder_open(eo->model_dir, eo->threads, err, sizeof err);
    if (!m->encoder) {
        log_error("ragd %s: %s", cmd, err);
        return -1;
    }
    if (encoder_enable_precision(m->encoder, m->query_precision, err, sizeof err)) {
        log_error("ragd %s: --query-precision: %s", cmd, err);
        encoder_close(m->encoder);
        return -1;
    }
    m->llm = llm_opts_create(lo, cmd);
    if (!m->llm) {
        encoder_close(m->encoder);
        return -1;
    }
    batcher_options bo = {.max_batch_tokens = eo->max_batch_tokens,
                          .max_queued_texts = eo->max_queue, .max_wait_us = eo->batch_wait_us};
    m->batcher = batcher_start(m->encoder, &bo);
    m->llm_workers = workqueue_start("ragd-llm", eo->llm_workers, 4096);
    m->service = (model_service){.batcher = m->batcher, .llm = m->llm,
                                 .llm_workers = m->llm_workers, .max_texts = eo->max_texts,
                                 .max_text_bytes = (size_t)eo->max_text_kb * 1024};
    const encoder_info *info = encoder_get_info(m->encoder);
    log_fields(LOG_INFO, "model ready",
               (log_field[]){LOG_STR("model", info->model_name), LOG_STR("dir", info->model_dir),
                             LOG_STR("weights", info->real_weights ? "real" : "random twin"),
                             LOG_INT("threads", info->threads), LOG_STR("llm", llm_name(m->llm)),
                             LOG_STR("query_precision", encoder_precision_name(m->query_precision))},
               6);
    return 0;
}

void model_stack_close(model_stack *m) {
    workqueue_stop(m->llm_workers);
    batcher_stop(m->batcher);
    llm_free(m->llm);
    encoder_close(m->encoder);
    memset(m, 0, sizeof *m);
}
