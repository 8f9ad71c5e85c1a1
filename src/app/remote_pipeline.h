/* remote_pipeline — the pipeline (pipeline.h) of `ragd gateway`: encoding
 * and the LLM are asked of `ragd model` replicas over HTTP, through a
 * model_client (round-robin, health checks, retry, keep-alive).
 *
 *   embed    POST /encode {"texts":[question]} → the one vector of the answer
 *   generate POST /llm_ask {"prompts":[{"question","context"}],"seed"}, read
 *            as Server-Sent Events while they arrive: each `token` event's text
 *            goes to emit at once; `done` ends the answer, `error` fails it.
 */
#ifndef RAGD_APP_REMOTE_PIPELINE_H
#define RAGD_APP_REMOTE_PIPELINE_H

#include "app/model_client.h"
#include "app/pipeline.h"

/* Point p's calls at client (which must outlive p). */
void remote_pipeline_init(pipeline *p, model_client *client);

#endif
