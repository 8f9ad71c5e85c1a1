/* documents_client — see documents_client.h. */
#include "documents_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

int doc_call(const ragd_proc *p, const char *key, const char *method, const char *path,
             const char *body, http_reply *out) {
    char url[512], auth[256];
    ragd_url(p, path, url, sizeof url);
    const char *headers[2] = {NULL, NULL};
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        headers[0] = auth;
    }
    return http_call(method, url, body ? "application/json" : NULL, body, body ? strlen(body) : 0,
                     headers, out);
}

json_t *doc_call_json(const ragd_proc *p, const char *key, const char *method, const char *path,
                      json_t *body, long want) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    http_reply r;
    assert_int_equal(doc_call(p, key, method, path, text, &r), 0);
    if (r.status != want) fail_msg("%s %s → %ld (want %ld): %s", method, path, r.status, want, r.body.data);
    json_t *doc = json_loads(r.body.data ? r.body.data : "", 0, NULL);
    if (!doc) fail_msg("%s %s: the answer is not JSON: %s", method, path, r.body.data);
    free(text);
    http_reply_free(&r);
    return doc;
}

json_t *doc_put(const ragd_proc *p, const char *key, const char *id, const char *heading,
                const char *text, const char *date, const char *topic) {
    char path[256];
    snprintf(path, sizeof path, "/documents/%s", id);
    return doc_call_json(p, key, "PUT", path,
                         json_pack("{s:s, s:s, s:s, s:s}", "heading", heading, "text", text, "date", date,
                                   "topic", topic),
                         200);
}

int doc_ask_rank(const ragd_proc *p, const char *key, const char *question, const char *mode,
                 const char *topic, int top_k, const char *article_id) {
    json_t *q = json_pack("{s:s, s:s, s:i, s:i}", "question", question, "mode", mode, "top_k", top_k,
                          "max_per_article", 0);
    if (topic) json_object_set_new(q, "topic", json_string(topic));
    json_t *a = doc_call_json(p, key, "POST", "/ask", q, 200);
    json_t *sources = json_object_get(a, "sources");
    assert_true(json_is_array(sources));
    int rank = 0;
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        const char *aid = json_string_value(json_object_get(s, "article_id"));
        if (aid && !strcmp(aid, article_id)) {
            rank = (int)i + 1;
            break;
        }
    }
    json_decref(a);
    return rank;
}
