/* model_stack — see model_stack.h. */
#include "app/model_stack.h"

#include <stdio.h>
#include <string.h>

#include "obs/log.h"
#include "util/util.h"

static void encoder_opts_defaults(encoder_opts *o) {
    *o = (encoder_opts){.model_dir = NULL, .threads = 0, .max_batch_tokens = 8192,
                        .bulk_batch_tokens = 1024,
                        .batch_wait_us = 0, .max_queue = 4096, .max_texts = 256,
                        .max_text_kb = 64, .llm_workers = 32, .query_precision = "auto"};
}

static void encoder_opts_add(option_list *l, encoder_opts *o) {
    const option_spec specs[] = {
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &o->model_dir, "model folder (default: ./models/all-MiniLM-L6-v2, then ../shared/models/…)", 0, 0},
        {"threads", "RAGD_THREADS", OPT_INT, &o->threads, "encoder threads (0: one per core)", 0, 256},
        {"max-batch-tokens", "RAGD_MAX_BATCH_TOKENS", OPT_INT, &o->max_batch_tokens, "padded tokens per encoder call", 256, 1 << 20},
        {"bulk-batch-tokens", "RAGD_BULK_BATCH_TOKENS", OPT_INT, &o->bulk_batch_tokens, "padded tokens per encoder call for /documents passages (small, so a question waits little behind a write)", 256, 1 << 20},
        {"batch-wait-us", "RAGD_BATCH_WAIT_US", OPT_INT, &o->batch_wait_us, "wait this long to gather a batch (0: batch only what queued meanwhile)", 0, 1000000},
        {"max-queue", "RAGD_MAX_QUEUE", OPT_INT, &o->max_queue, "texts waiting for the encoder before 429", 1, 1 << 20},
        {"max-texts", "RAGD_MAX_TEXTS", OPT_INT, &o->max_texts, "texts per /encode or /v1/embeddings request (413 past it)", 1, 65536},
        {"max-text-kb", "RAGD_MAX_TEXT_KB", OPT_INT, &o->max_text_kb, "KiB per text (413 past it)", 1, 1 << 16},
        {"llm-workers", "RAGD_LLM_WORKERS", OPT_INT, &o->llm_workers, "threads answering /llm_ask", 1, 1024},
        {"query-precision", "RAGD_QUERY_PRECISION", OPT_STRING, &o->query_precision, "precision of the question vector in ragd serve's /ask: auto (int16 on AVX2 CPUs without AVX-512, else fp32), fp32, int16 or int8 (AVX-512 VNNI); /encode, /v1/embeddings and stored passages are always fp32", 0, 0},
    };
    options_add_all(l, specs, ARRAY_LEN(specs));
}

void model_opts_add(option_list *l, model_opts *o) {
    encoder_opts_defaults(&o->encoder);
    llm_opts_defaults(&o->llm);
    encoder_opts_add(l, &o->encoder);
    llm_opts_add(l, &o->llm);
}

int model_stack_open(model_stack *m, const model_opts *o, const char *cmd) {
    const encoder_opts *eo = &o->encoder;
    const llm_opts *lo = &o->llm;
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
                          .max_queued_texts = eo->max_queue, .max_wait_us = eo->batch_wait_us,
                          .bulk_batch_tokens = eo->bulk_batch_tokens};
    m->batcher = batcher_start(m->encoder, &bo, err, sizeof err);
    m->llm_workers = m->batcher ? workqueue_start("ragd-llm", eo->llm_workers, 4096) : NULL;
    if (!m->llm_workers) {
        log_error("ragd %s: %s", cmd, m->batcher ? "cannot start the LLM worker threads" : err);
        model_stack_close(m);
        return -1;
    }
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

void model_stack_describe(const model_stack *m, json_t *health) {
    const encoder_info *info = encoder_get_info(m->encoder);
    json_object_set_new(health, "model", json_string(info->model_name));
    json_object_set_new(health, "weights", json_string(info->real_weights ? "real" : "random twin"));
    json_object_set_new(health, "llm", json_string(llm_name(m->llm)));
}
