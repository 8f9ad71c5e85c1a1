/* server_internal — the request object shared by the files of src/http/.
 *
 * Lifetime: a request is reference counted. libmicrohttpd holds one
 * reference from the first callback until the "request completed"
 * notification; http_request_hold() adds one for a handler that answers
 * later; a streaming response holds one until libmicrohttpd frees it. The
 * mutex guards everything that two threads can touch: the pending response,
 * the stream buffer and the suspended flags.
 */
#ifndef RAGD_HTTP_SERVER_INTERNAL_H
#define RAGD_HTTP_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "http/http.h"
#include "util/buf.h"

struct http_server {
    struct MHD_Daemon *daemon;
    http_config cfg;
    http_route *routes;
    int nroutes;
    int port;
    char *role;
    char *host;
    char *api_key;
    char *cors_origin;
    pthread_mutex_t live_mu;   /* guards the list of live requests */
    http_request *live;        /* for cancelling parked requests at stop */
    atomic_bool stopping;
};

struct http_request {
    http_server *server;
    struct MHD_Connection *conn;  /* NULL once libmicrohttpd is done with it */
    const http_route *route;
    char method[16];
    char *path;
    char id[40];
    uint64_t start_ns;
    size_t max_body;
    buf body;
    bool body_too_large;
    bool dispatched;
    bool in_handler;
    json_t *parsed;               /* body parsed by http_request_json, owned */

    pthread_mutex_t mu;
    atomic_int refs;
    atomic_bool cancelled;
    bool held;                    /* a hold is active (released by the answer) */
    bool ever_held;               /* the handler chose to answer later */
    bool answered;                /* a response (or stream) was created */
    bool suspended;               /* parked waiting for the answer */
    struct MHD_Response *response;
    int status;
    buf headers;                  /* "name\0value\0" pairs added to the response */
    size_t response_bytes;

    bool streaming;
    bool stream_ended;
    bool reader_suspended;        /* parked waiting for stream data */
    buf stream;
    size_t stream_off;

    http_request *live_prev, *live_next;
};

void http_request_release(http_request *r);
/* Queue r->response on the connection if one is pending (called with r->mu held,
 * from a libmicrohttpd callback). */
void http_queue_pending(http_request *r);
/* Hand a finished response to the connection: queue it now if we are inside
 * its callback, or resume the parked connection so the callback queues it. */
void http_set_response(http_request *r, struct MHD_Response *resp, int status);

#endif
