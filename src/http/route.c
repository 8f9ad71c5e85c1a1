/* route — which route a request path belongs to: exact paths, and prefix
 * routes ("/v1/models/\*", see http.h) that carry a path parameter in their tail. Kept
 * apart from the server so the matching rules are unit-tested on their own
 * (tests/http/test_route_match.c). */
#include <string.h>

#include "http/server_internal.h"

static bool is_prefix_route(const char *route_path, size_t *stem_len) {
    size_t n = strlen(route_path);
    if (n < 2 || strcmp(route_path + n - 2, "/*")) return false;
    *stem_len = n - 1; /* keeps the '/' before the '*' */
    return true;
}

const char *http_route_tail(const char *route_path, const char *path) {
    size_t stem;
    if (!is_prefix_route(route_path, &stem)) return NULL;
    if (strncmp(route_path, path, stem)) return NULL;
    /* An empty tail ("/v1/models/") names nothing: it is not a match. */
    return path[stem] ? path + stem : NULL;
}

int http_route_match(const char *route_path, const char *path) {
    if (!strcmp(route_path, path)) return HTTP_MATCH_EXACT;
    return http_route_tail(route_path, path) ? HTTP_MATCH_PREFIX : HTTP_MATCH_NONE;
}

const char *http_request_path_tail(const http_request *r) {
    if (!r->route) return "";
    const char *tail = http_route_tail(r->route->path, r->path);
    return tail ? tail : "";
}
