/* curl_global — see curl_global.h. */
#include "obs/curl_global.h"

#include <curl/curl.h>
#include <pthread.h>

#include "util/util.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_result;

static void init_curl(void) { init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

int curl_global_ready(const char *who, char *err, size_t errlen) {
    pthread_once(&once, init_curl);
    if (init_result == CURLE_OK) return 0;
    return seterr(err, errlen, "%s: libcurl failed to initialise: %s", who,
                  curl_easy_strerror(init_result));
}
