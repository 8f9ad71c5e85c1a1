/* curl_global — libcurl's process-wide initialisation, done once for every
 * part that talks HTTP as a client (the Loki push, the OpenAI-compatible LLM,
 * the gateway's model client, `ragd ask`). curl_global_init is not
 * thread-safe, so it runs under pthread_once; it is never undone
 * (curl_global_cleanup is not thread-safe either, and exit frees it). */
#ifndef RAGD_OBS_CURL_GLOBAL_H
#define RAGD_OBS_CURL_GLOBAL_H

#include <stddef.h>

/* 0 once libcurl is initialised, or -1 with err set ("who: libcurl …"). */
int curl_global_ready(const char *who, char *err, size_t errlen);

#endif
