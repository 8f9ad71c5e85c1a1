/* documents_input — see documents_input.h. */
#include "app/documents_input.h"

#include <string.h>

#include "ingest/clean_text.h"
#include "store/documents.h"
#include "store/store.h"
#include "util/util.h"

static const char *const known_fields[] = {"id", "heading", "text", "date", "topic"};

/* A required string field: NULL after filling p when it is absent or not a string. */
static json_t *required_string(json_t *obj, const char *key, request_problem *p) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        request_reject_field(p, 422, key, "'%s' is required", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        request_reject_field(p, 400, key, "'%s' must be a string", key);
        return NULL;
    }
    return v;
}

static bool check_fields_known(json_t *obj, request_problem *p) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        (void)v;
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(known_fields); i++) known |= !strcmp(key, known_fields[i]);
        if (!known)
            return request_reject_field(p, 422, key,
                                        "unknown field '%.60s' (an article has id, heading, text, date, topic)",
                                        key);
    }
    return true;
}

static bool check_id(json_t *obj, const char *path_id, request_problem *p) {
    json_t *given = json_object_get(obj, "id");
    if (given && !json_is_string(given)) return request_reject_field(p, 400, "id", "'id' must be a string");
    if (path_id) {
        if (given && strcmp(json_string_value(given), path_id))
            return request_reject_field(p, 422, "id", "'id' in the body (%.60s) differs from the URL's (%.60s)",
                                        json_string_value(given), path_id);
    } else if (!given) {
        return request_reject_field(p, 422, "id", "'id' is required");
    }
    const char *id = path_id ? path_id : json_string_value(given);
    size_t n = path_id ? strlen(path_id) : json_string_length(given);
    if (!store_valid_article_id(id, n)) {
        if (n == 0 || n > STORE_ARTICLE_ID_MAX)
            return request_reject_field(p, 422, "id", "'id' must be 1 to %d bytes (it is %zu)",
                                        STORE_ARTICLE_ID_MAX, n);
        return request_reject_field(p, 422, "id",
                                    "'id' may hold only letters, digits and . _ : - (got '%.60s')", id);
    }
    return true;
}

char *document_topic_clean(const char *t, size_t n, request_problem *p) {
    while (n && (*t == ' ' || *t == '\t')) t++, n--;
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    if (!n) {
        request_reject_field(p, 422, "topic", "'topic' must not be empty");
        return NULL;
    }
    if (n > DOCUMENT_TOPIC_MAX) {
        request_reject_field(p, 422, "topic", "'topic' is %zu bytes; the limit is %d", n, DOCUMENT_TOPIC_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f) {
            request_reject_field(p, 422, "topic", "'topic' must not contain control characters");
            return NULL;
        }
    }
    char *topic = xstrndup(t, n);
    for (char *c = topic; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return topic;
}

bool document_input_parse(json_t *obj, const char *path_id, document_input *out,
                          request_problem *p) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj)) return request_reject(p, 400, "an article must be a JSON object");
    if (!check_fields_known(obj, p) || !check_id(obj, path_id, p)) return false;
    json_t *heading = required_string(obj, "heading", p);
    if (!heading) return false;
    json_t *text = required_string(obj, "text", p);
    if (!text) return false;
    json_t *date = required_string(obj, "date", p);
    if (!date) return false;
    if (!store_valid_date(json_string_value(date)))
        return request_reject_field(p, 422, "date", "'date' must be a calendar date YYYY-MM-DD (got '%.40s')",
                                    json_string_value(date));
    json_t *topic = required_string(obj, "topic", p);
    if (!topic) return false;
    char *clean_topic_name = document_topic_clean(json_string_value(topic), json_string_length(topic), p);
    if (!clean_topic_name) return false;
    size_t heading_len;
    char *clean_heading = clean_text(json_string_value(heading), json_string_length(heading), &heading_len);
    size_t text_len;
    char *cleaned = clean_text(json_string_value(text), json_string_length(text), &text_len);
    if (!heading_len || !text_len) {
        const char *field = heading_len ? "text" : "heading";
        free(clean_topic_name);
        free(clean_heading);
        free(cleaned);
        return request_reject_field(p, 422, field, "'%s' is empty (after removing markup and whitespace)", field);
    }
    *out = (document_input){.id = xstrdup(path_id ? path_id : json_string_value(json_object_get(obj, "id"))),
                            .heading = clean_heading, .text = cleaned, .text_len = text_len,
                            .topic = clean_topic_name};
    memcpy(out->date, json_string_value(date), sizeof out->date);
    return true;
}

void document_input_free(document_input *d) {
    free(d->id);
    free(d->heading);
    free(d->text);
    free(d->topic);
    *d = (document_input){0};
}
